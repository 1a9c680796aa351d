"""Readers of the multilabel task: BLURB's HoC TSV as published, JSONL, prediction records; bad rows are
one-line errors naming file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.tasks.multilabel.examples import document_of
from biotune.tasks.multilabel.reading import HOC_LABELS, read_labelled, read_records
from tests.awkward import AWKWARD_TEXTS
from tests.tasks.multilabel.toy import HOC_HEADER

NONE = ",".join(f"{k}_0" for k in range(10))
TWO = "0_0,1_0,2_0,3_0,4_0,5_1,6_0,7_0,8_1,9_0"  # genomic instability, sustaining proliferative signaling


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_a_hoc_file_reads_as_blurb_wrote_it(tmp_path: Path) -> None:
    path = write(tmp_path / "train.tsv", [HOC_HEADER, f"{NONE}\tHypoxic events occur .\t22239943_s0",
                                          f"{TWO}\tp53 loss drives growth .\t22239943_s1", "",
                                          f"{NONE}\tAnother abstract .\t1234_s0"])
    examples, names = read_labelled(path)
    assert names == HOC_LABELS and len(names) == 10
    assert [(e.id, e.document, e.text, e.labels, e.line) for e in examples] == [
        ("22239943_s0", "22239943", "Hypoxic events occur .", (), 2),
        ("22239943_s1", "22239943", "p53 loss drives growth .", ("genomic instability and mutation",
                                                                 "sustaining proliferative signaling"), 3),
        ("1234_s0", "1234", "Another abstract .", (), 5)]


def test_the_abstract_is_the_pmid_before_s() -> None:
    assert [document_of(i) for i in ("22239943_s12", "a_b_s3", "x_s", "plain", "_s1", "p_sx")] == \
           ["22239943", "a_b", "x_s", "plain", "_s1", "p_sx"]


# Each defect on line 3 (line 1 the header, line 2 a good row); what the message names beside file:line.
HOC_DEFECTS = {
    "too few columns": (f"{NONE}\tonly a sentence", "2 tab-separated columns, expected 3"),
    "too many columns": (f"{NONE}\ta\tb\t1_s1", "4 tab-separated columns, expected 3"),
    "short label vector": (",".join(f"{k}_0" for k in range(9)) + "\tx .\t1_s1", "9 label cells, expected 10"),
    "a value other than 0/1": (NONE.replace("3_0", "3_2") + "\tx .\t1_s1", "label cell 4 is '3_2', expected '3_0' or '3_1'"),
    "a label of another position": (NONE.replace("3_0", "4_1") + "\tx .\t1_s1", "label cell 4 is '4_1'"),
    "an unknown label name": (NONE.replace("9_0", "hallmark_1") + "\tx .\t1_s1", "label cell 10 is 'hallmark_1'"),
    "an empty sentence": (f"{NONE}\t \t1_s1", "the sentence is empty"),
    "no index": (f"{NONE}\tx .\t", "the index (third column, <PMID>_s<n>) is empty"),
    "an index given twice": (f"{NONE}\tx .\t1_s0", "id '1_s0' is also on line 2"),
}


@pytest.mark.parametrize("defect", HOC_DEFECTS)
def test_a_bad_hoc_row_is_one_line_naming_file_and_line(tmp_path: Path, defect: str) -> None:
    row, what = HOC_DEFECTS[defect]
    path = write(tmp_path / "train.tsv", [HOC_HEADER, f"{NONE}\tfine .\t1_s0", row])
    with pytest.raises(BiotuneError) as error:
        read_labelled(path)
    message = str(error.value)
    assert message.startswith(f"{path}:3: ") and what in message and "\n" not in message


def test_jsonl_splits_name_their_labels(tmp_path: Path) -> None:
    path = write(tmp_path / "dev.jsonl", [json.dumps({"id": "9_s0", "text": "a .", "labels": ["b", "a"]}),
                                          json.dumps({"text": "c .", "labels": [], "document": "doc"})])
    examples, names = read_labelled(path)
    assert names == ("a", "b")
    assert [(e.id, e.document, e.labels) for e in examples] == [("9_s0", "9", ("b", "a")), ("dev.jsonl:2", "doc", ())]


JSONL_DEFECTS = {
    "not JSON": ("{text", "not JSON"),
    "not an object": ('["a"]', "expected a JSON object"),
    "no labels": ('{"text": "a ."}', "'labels' must be a list of label names"),
    "labels not names": ('{"text": "a .", "labels": [1]}', "'labels' must be a list of label names"),
    "a label twice": ('{"text": "a .", "labels": ["x", "x"]}', "label 'x' is listed twice"),
    "empty text": ('{"text": " ", "labels": []}', "'text' must be a non-empty string"),
    "id not a string": ('{"id": 3, "text": "a .", "labels": []}', "'id' must be a non-empty string"),
}


@pytest.mark.parametrize("defect", JSONL_DEFECTS)
def test_a_bad_jsonl_line_is_one_line_naming_file_and_line(tmp_path: Path, defect: str) -> None:
    line, what = JSONL_DEFECTS[defect]
    path = write(tmp_path / "train.jsonl", ['{"text": "fine .", "labels": []}', "", line])
    with pytest.raises(BiotuneError) as error:
        read_labelled(path)
    assert str(error.value).startswith(f"{path}:3: ") and what in str(error.value)


def test_an_unknown_format_is_refused_naming_what_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "train.csv", ["a,b"])
    with pytest.raises(BiotuneError, match=r"train\.csv: extension '\.csv' is not one the multilabel task reads \(tsv"):
        read_labelled(path)
    with pytest.raises(BiotuneError, match="format 'text' is not one"):
        read_labelled(path, "text")  # plain text has no labels: prediction input only


def test_prediction_records_from_every_input_format(tmp_path: Path) -> None:
    hoc = write(tmp_path / "in.tsv", [HOC_HEADER, f"{TWO}\tp53 loss .\t7_s0"])
    jsonl = write(tmp_path / "in.jsonl", [json.dumps({"text": "a .", "source": "x"}), "",
                                          json.dumps({"id": "n2", "text": "b .", "labels": ["gold"]})])
    text = write(tmp_path / "in.txt", ["first text", "", "second text"])
    assert list(read_records(hoc)) == [{"id": "7_s0", "text": "p53 loss ."}]  # gold is not read into the record
    assert list(read_records(jsonl)) == [{"id": "in.jsonl:1", "text": "a .", "source": "x"},
                                         {"id": "n2", "text": "b .", "labels": ["gold"]}]
    assert list(read_records(text)) == [{"id": "in.txt:1", "text": "first text"}, {"id": "in.txt:3", "text": "second text"}]
    assert list(read_records(text, "text")) == list(read_records(tmp_path / "in.txt"))
    bad = write(tmp_path / "bad.jsonl", ['{"text": "a ."}', '{"id": "x"}'])
    with pytest.raises(BiotuneError, match=r"bad\.jsonl:2: 'text' must be a non-empty string"):
        list(read_records(bad))


def test_awkward_texts_survive_the_text_reader(tmp_path: Path) -> None:
    lines = [text for text in AWKWARD_TEXTS if "\n" not in text]
    path = write(tmp_path / "awkward.txt", lines)
    assert [r["text"] for r in read_records(path)] == [text for text in lines if text.strip()]
