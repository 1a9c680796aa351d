"""Sentence-pair readers: BIOSSES TSV and JSONL, prediction records, and bad rows as one-line errors naming file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.tasks.similarity.reading import iter_records, read_pairs

HEADER = "sentence1\tsentence2\tscore"


def test_biosses_tsv_with_its_header_gives_pairs_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "train.tsv"
    path.write_text(f"{HEADER}\nA b.\tC d.\t2.2\n\nE f.\tG h.\t0\n", encoding="utf-8")
    pairs = list(read_pairs(path))
    assert [(p.id, p.sentence1, p.sentence2, p.score) for p in pairs] == [
        ("train.tsv:2", "A b.", "C d.", 2.2), ("train.tsv:4", "E f.", "G h.", 0.0)]
    assert pairs[1].where == f"{path}:4"


def test_a_file_without_header_and_jsonl_are_read_too(tmp_path: Path) -> None:
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("A b.\tC d.\t4\n", encoding="utf-8")
    assert [p.score for p in read_pairs(tsv)] == [4.0]
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text(json.dumps({"id": "p7", "sentence1": "A", "sentence2": "B", "score": 3.5}) + "\n"
                     + json.dumps({"sentence1": "C", "sentence2": "D", "score": 1}) + "\n", encoding="utf-8")
    assert [(p.id, p.score) for p in read_pairs(jsonl)] == [("p7", 3.5), ("pairs.jsonl:2", 1.0)]


@pytest.mark.parametrize(("body", "line", "message"), [
    ("A\tB\n", 2, r"expected sentence1<TAB>sentence2<TAB>score, found 2 columns"),
    ("A b.\n", 2, r"found 1 column: 'A b.'"),
    ("A\tB\t1\t2\n", 2, r"found 4 columns"),
    ("A\tB\thigh\n", 2, r"score 'high' is not a number"),
    ("A\tB\tnan\n", 2, r"score 'nan' is not a number"),
    ("A\tB\t4.5\n", 2, r"score '4.5' is outside the 0-4 range"),
    ("A\tB\t-0.2\n", 2, r"score '-0.2' is outside the 0-4 range"),
    ("A\tB\tinf\n", 2, r"score 'inf' is outside the 0-4 range"),
    ("A\tB\t1\n \tB\t1\n", 3, r"'sentence1' must be a non-empty string"),
])
def test_bad_tsv_rows_are_one_line_errors_naming_file_and_line(tmp_path: Path, body: str, line: int,
                                                              message: str) -> None:
    path = tmp_path / "dev.tsv"
    path.write_text(f"{HEADER}\n{body}", encoding="utf-8")
    with pytest.raises(BiotuneError, match=message) as error:
        list(read_pairs(path))
    assert str(error.value).startswith(f"{path}:{line}: ") and "\n" not in str(error.value)


@pytest.mark.parametrize(("record", "message"), [
    ({"sentence1": "A", "score": 1}, r"missing field 'sentence2' \(fields present: 'sentence1', 'score'\)"),
    ({"sentence1": "A", "sentence2": "B"}, r"missing field 'score'"),
    ({"sentence1": "A", "sentence2": "B", "score": "two"}, r"score 'two' is not a number"),
    ({"sentence1": "A", "sentence2": "B", "score": True}, r"score True is not a number"),
    ({"sentence1": "A", "sentence2": ["B"], "score": 1}, r"'sentence2' must be a non-empty string"),
    ({"id": 1.5, "sentence1": "A", "sentence2": "B", "score": 1}, r"'id' must be a string or an integer"),
])
def test_bad_jsonl_records_are_one_line_errors_naming_file_and_line(tmp_path: Path, record: dict,
                                                                    message: str) -> None:
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps({"sentence1": "A", "sentence2": "B", "score": 1}) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(BiotuneError, match=message) as error:
        list(read_pairs(path))
    assert str(error.value).startswith(f"{path}:2: ") and "\n" not in str(error.value)


def test_prediction_records_need_no_score_and_keep_jsonl_objects_as_they_are(tmp_path: Path) -> None:
    tsv = tmp_path / "in.tsv"
    tsv.write_text(f"{HEADER}\nA\tB\t1.0\nC\tD\n", encoding="utf-8")  # a score cell is ignored, none is needed
    assert list(iter_records(tsv)) == [{"id": "in.tsv:2", "sentence1": "A", "sentence2": "B"},
                                       {"id": "in.tsv:3", "sentence1": "C", "sentence2": "D"}]
    jsonl = tmp_path / "in.jsonl"
    record = {"sentence1": "A", "sentence2": "B", "source": "pmid:1"}
    jsonl.write_text(json.dumps(record) + "\n")
    assert list(iter_records(jsonl)) == [{**record, "id": "in.jsonl:1"}]
    (tmp_path / "in.txt").write_text("A\tB\n")
    with pytest.raises(BiotuneError, match=r"in.txt: extension '.txt' is not a sentence-pair format; task similarity "
                                           r"reads tsv or jsonl"):
        list(iter_records(tmp_path / "in.txt"))
    assert list(iter_records(tmp_path / "in.txt", format="tsv")) == [{"id": "in.txt:1", "sentence1": "A",
                                                                     "sentence2": "B"}]


def test_awkward_texts_survive_both_readers(tmp_path: Path) -> None:
    from tests.awkward import AWKWARD_TEXTS

    texts = [text for text in AWKWARD_TEXTS if text.strip()]
    jsonl = tmp_path / "awkward.jsonl"
    jsonl.write_text("".join(json.dumps({"sentence1": t, "sentence2": "tremor", "score": 1}) + "\n" for t in texts))
    assert [p.sentence1 for p in read_pairs(jsonl)] == texts
    cells = [text for text in texts if "\t" not in text and "\n" not in text]  # what a TSV cell can hold
    tsv = tmp_path / "awkward.tsv"
    tsv.write_text("".join(f"{t}\ttremor\t1\n" for t in cells), encoding="utf-8")
    assert [p.sentence1 for p in read_pairs(tsv)] == cells
