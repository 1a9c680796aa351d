"""`label_corpus` end to end on tiny files: gold kept, O regions labelled, outputs read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biotune.formats.readers import iter_jsonl, iter_tsv
from biotune.formats.sentence import Sentence
from biotune.errors import BiotuneError
from biotune.silver.dictionary import load_dictionary
from biotune.silver.label import label_corpus, label_sentence
from biotune.silver.matcher import Matcher
from biotune.silver.spec import DictionarySpec

GENES = "term\ttype\tcategory\nBRCA1\tGene\tprotein_coding\nIL-2\tGene\tprotein_coding\nTNF-α\tGene\tprotein_coding\n"
CORPUS = [
    (["BRCA1", "and", "IL", "-", "2", "rise"], ["B-Gene", "O", "O", "O", "O", "O"]),
    (["TNF", "-", "α", "in", "brca1", "mice"], ["O", "O", "O", "O", "O", "O"]),
    (["aspirin", "lowers", "IL", "-", "2"], ["B-Chemical", "O", "B-Disease", "I-Disease", "O"]),
]


def write_tsv(path: Path, sentences: list[tuple[list[str], list[str]]]) -> Path:
    path.write_text("".join("".join(f"{t}\t{g}\n" for t, g in zip(*s)) + "\n" for s in sentences), encoding="utf-8")
    return path


@pytest.fixture
def genes(tmp_path: Path) -> DictionarySpec:
    path = tmp_path / "genes.tsv"
    path.write_text(GENES, encoding="utf-8")
    return DictionarySpec(path=path)


def test_label_sentence_keeps_tags_and_labels_only_o_regions(genes: DictionarySpec) -> None:
    matcher = Matcher([load_dictionary(genes)])
    sentence = Sentence(*CORPUS[2])
    labelled = label_sentence(sentence, matcher)
    assert labelled.tags == ["B-Chemical", "O", "B-Disease", "I-Disease", "O"]
    assert labelled.added == [] and [(m.start, m.end) for m in labelled.found] == [(2, 5)]
    dropped = label_sentence(sentence, matcher, drop_tags=True)
    assert dropped.tags == ["O", "O", "B-Gene", "I-Gene", "I-Gene"] and sentence.tags == CORPUS[2][1]


def test_tsv_to_jsonl_round_trip(tmp_path: Path, genes: DictionarySpec) -> None:
    source = write_tsv(tmp_path / "corpus.tsv", CORPUS)
    result = label_corpus(source, tmp_path / "out" / "silver.jsonl", [genes])
    silver = list(iter_jsonl(result.output, tag_field="silver_tags"))
    assert [s.tags for s in silver] == [
        ["B-Gene", "O", "B-Gene", "I-Gene", "I-Gene", "O"],
        ["B-Gene", "I-Gene", "I-Gene", "O", "B-Gene", "O"],
        ["B-Chemical", "O", "B-Disease", "I-Disease", "O"],
    ]
    assert [s.tokens for s in silver] == [tokens for tokens, _ in CORPUS]
    assert [s.tags for s in iter_jsonl(result.output)] == [tags for _, tags in CORPUS]
    first = json.loads(result.output.read_text(encoding="utf-8").splitlines()[1])
    assert first["id"] == "corpus.tsv:8" and first["tokens"][2] == "α" and "annotated_types" not in first
    assert result.report_json == tmp_path / "out" / "silver.report.json" and result.report_markdown.is_file()


def test_tsv_output_and_drop_tags(tmp_path: Path, genes: DictionarySpec) -> None:
    source = write_tsv(tmp_path / "corpus.tsv", CORPUS)
    result = label_corpus(source, tmp_path / "silver.conll", [genes], drop_tags=True, report_dir=tmp_path / "rep")
    assert [s.tags for s in iter_tsv(result.output)] == [
        ["B-Gene", "O", "B-Gene", "I-Gene", "I-Gene", "O"],
        ["B-Gene", "I-Gene", "I-Gene", "O", "B-Gene", "O"],
        ["O", "O", "B-Gene", "I-Gene", "I-Gene"],
    ]
    assert (tmp_path / "rep" / "silver.report.md").is_file()


def test_text_and_untagged_jsonl_input_get_dictionary_annotated_types(tmp_path: Path, genes: DictionarySpec) -> None:
    text = tmp_path / "abstracts.txt"
    text.write_text("BRCA1 and IL-2.\n\nNothing here.\n", encoding="utf-8")
    result = label_corpus(text, tmp_path / "silver.jsonl", [genes], tag_field="tags")
    records = [json.loads(line) for line in result.output.read_text(encoding="utf-8").splitlines()]
    assert records[0] == {"id": "abstracts.txt:1", "tokens": ["BRCA1", "and", "IL", "-", "2", "."],
                          "tags": ["B-Gene", "O", "B-Gene", "I-Gene", "I-Gene", "O"], "annotated_types": ["Gene"]}
    sentences = list(iter_jsonl(result.output))
    assert sentences[1].annotated_types == {"Gene"} and sentences[1].tags == ["O", "O", "O"]

    untagged = tmp_path / "untagged.jsonl"
    untagged.write_text(json.dumps({"tokens": ["IL", "-", "2"]}) + "\n", encoding="utf-8")
    out = label_corpus(untagged, tmp_path / "u.jsonl", [genes], input_options={"tag_field": None}).output
    assert json.loads(out.read_text())["silver_tags"] == ["B-Gene", "I-Gene", "I-Gene"]


def test_partially_annotated_input_adds_the_dictionary_types(tmp_path: Path, genes: DictionarySpec) -> None:
    source = tmp_path / "chem.jsonl"
    record = {"id": "s1", "tokens": ["aspirin", "and", "BRCA1"], "tags": ["B-Chemical", "O", "O"],
              "annotated_types": ["Chemical"]}
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    out = label_corpus(source, tmp_path / "silver.jsonl", [genes]).output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["annotated_types"] == ["Chemical", "Gene"]
    assert written["tags"] == record["tags"] and written["silver_tags"] == ["B-Chemical", "O", "B-Gene"]


def test_errors_leave_no_output(tmp_path: Path, genes: DictionarySpec) -> None:
    source = tmp_path / "corpus.tsv"
    source.write_text("BRCA1\tB-Gene\n\nIL\tO\n-\tO\n2\tX-Gene\n", encoding="utf-8")
    output = tmp_path / "out" / "silver.jsonl"
    with pytest.raises(BiotuneError, match="corpus.tsv:5: unknown tag"):
        label_corpus(source, output, [genes])
    assert not output.exists() and list(output.parent.iterdir()) == []

    good = write_tsv(tmp_path / "good.tsv", CORPUS)
    with pytest.raises(BiotuneError, match="input tags are kept in field 'tags'"):
        label_corpus(good, output, [genes], tag_field="tags")
    with pytest.raises(BiotuneError, match="silver output is jsonl or tsv"):
        label_corpus(good, tmp_path / "silver.txt", [genes])
    with pytest.raises(BiotuneError, match="reserved"):
        label_corpus(good, output, [genes], tag_field="tokens")
    with pytest.raises(BiotuneError, match="no dictionary"):
        label_corpus(good, output, [])
    assert not output.exists()


def test_tsv_output_refuses_tokens_it_cannot_hold(tmp_path: Path, genes: DictionarySpec) -> None:
    source = tmp_path / "odd.jsonl"
    source.write_text(json.dumps({"tokens": ["a\tb", "BRCA1"], "tags": ["O", "O"]}) + "\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match="tab or line break"):
        label_corpus(source, tmp_path / "odd.tsv", [genes])
    assert not (tmp_path / "odd.tsv").exists()
