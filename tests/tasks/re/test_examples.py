"""Readers of pre-masked relation files: BLURB rows, label2id ids, BioBERT's CV layout, and their errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.corpora.folds import cv_folds
from biotune.tasks.re.examples import Entity, LabelSpace, read_examples, read_label2id

Write = Callable[[str, list[str]], Path]


def test_re_label2id_ids_are_decoded_to_names_and_masks_become_entities(toy_split: tuple[Path, Path]) -> None:
    train, label2id = toy_split
    labels = read_label2id(label2id)
    examples = read_examples(train, labels)
    assert labels.names == ("0", "CID", "TREAT")
    assert [e.label for e in examples] == ["CID", "CID", "TREAT", "TREAT", "0", "0"]
    first = examples[0]
    assert first.head == Entity(22, 31, "DISEASE") and first.text[22:31] == "@DISEASE$"
    assert first.tail == Entity(38, 48, "CHEMICAL") and first.text[38:48] == "@CHEMICAL$"
    assert (first.id, first.source, first.line) == ("train.tsv:1", str(train), 1)
    assert examples[2].head.type == "CHEMICAL"  # E1 is the entity that comes first in the text


def test_re_label_names_without_label2id_and_their_space_in_numeric_order(write_file: Write) -> None:
    rows = [f"@GENE$ in @DISEASE$ .\t{label}" for label in ("10", "1", "9", "0")]
    examples = read_examples(write_file("gad.tsv", rows))
    assert [e.label for e in examples] == ["10", "1", "9", "0"]
    assert LabelSpace.from_examples(examples).names == ("0", "1", "9", "10")


def test_re_label_names_accepted_beside_ids_when_label2id_is_given(toy_split: tuple[Path, Path], write_file: Write) -> None:
    _, label2id = toy_split
    path = write_file("named.tsv", ["@CHEMICAL$ and @DISEASE$\tTREAT", "@CHEMICAL$ and @DISEASE$\t1"])
    assert [e.label for e in read_examples(path, read_label2id(label2id))] == ["TREAT", "CID"]


def test_re_indexed_test_file_uses_its_index_as_id(write_file: Write) -> None:
    path = write_file("1/test.tsv", ["index\tsentence\tlabel", "0\t@GENE$ causes @DISEASE$ .\t1",
                                      "7\t@DISEASE$ without @GENE$ .\t0"])
    examples = read_examples(path)
    assert [(e.id, e.line, e.label) for e in examples] == [("0", 2, "1"), ("7", 3, "0")]
    assert (examples[1].head.type, examples[1].tail.type) == ("DISEASE", "GENE")


def test_re_combined_mask_is_both_entities_on_one_span(write_file: Write) -> None:
    example = read_examples(write_file("chemprot.tsv", ["the @CHEM-GENE$ binds .\t0"]))[0]
    assert example.head == Entity(4, 15, "CHEMICAL")  # ChemProt's CHEM is the CHEMICAL of its single masks
    assert example.tail == Entity(4, 15, "GENE")


def test_re_cv_folds_are_listed_in_numeric_order(write_file: Write, tmp_path: Path) -> None:
    for k in ("1", "2", "10"):
        write_file(f"folds/{k}/train.tsv", ["@GENE$ and @DISEASE$\t1"])
        write_file(f"folds/{k}/test.tsv", ["index\tsentence\tlabel", "0\t@GENE$ and @DISEASE$\t0"])
    with pytest.raises(BiotuneError, match=r"folds 1, 2, 10 found, fold\(s\) 3, 4, 5, 6, 7, 8, 9 missing"):
        cv_folds(tmp_path / "folds")
    folds = cv_folds(tmp_path / "folds", allow_gaps=True)
    assert [f.name for f in folds] == ["1", "2", "10"]
    assert folds[2].train == tmp_path / "folds/10/train.tsv" and folds[2].test == tmp_path / "folds/10/test.tsv"


def test_re_cv_fold_without_test_file_is_named(write_file: Write, tmp_path: Path) -> None:
    write_file("folds/1/train.tsv", ["x"])
    write_file("folds/1/test.tsv", ["x"])
    write_file("folds/2/train.tsv", ["x"])
    with pytest.raises(BiotuneError, match=r"fold .*folds/2 lacks test.tsv"):
        cv_folds(tmp_path / "folds")


@pytest.mark.parametrize(("row", "message"), [
    ("@GENE$ and @DISEASE$", "row has no label"),
    ("@GENE$ and @DISEASE$\t ", "row has no label"),
    ("@GENE$ and @DISEASE$\tCPR:7", "unknown label 'CPR:7'"),
    ("@GENE$ and @DISEASE$\t3", "label id 3 is not in .*label2id.tsv"),
    ("no masks here\t1", "no entity mask"),
    ("only @GENE$ here\t1", "masks for 1 entity"),
    ("@GENE$ @GENE$ and @DISEASE$\t1", "masks for 3 entities"),
    ("@GENE$ and @DISEASE$\t1\textra", "3 tab-separated columns, expected 2"),
])
def test_re_reader_errors_name_file_and_line(toy_split: tuple[Path, Path], write_file: Write, row: str,
                                             message: str) -> None:
    _, label2id = toy_split
    path = write_file("bad.tsv", ["@GENE$ and @DISEASE$\t0", row])
    with pytest.raises(BiotuneError, match=message) as caught:
        read_examples(path, read_label2id(label2id))
    text = str(caught.value)
    assert text.startswith(f"{path}:2: ") and "\n" not in text


@pytest.mark.parametrize(("lines", "message"), [
    (["0\t0", "A\t2"], r"ids must be 0..n-1 without gaps, got \[0, 2\]"),
    (["0\t0", "A\t0"], r"label2id.tsv:2: duplicate id"),
    (["0\t0", "0\t1"], r"label2id.tsv:2: duplicate label"),
    (["0\tzero"], r"label2id.tsv:1: expected 'name<TAB>id'"),
])
def test_re_bad_label2id_is_named(write_file: Write, lines: list[str], message: str) -> None:
    with pytest.raises(BiotuneError, match=message):
        read_label2id(write_file("label2id.tsv", lines))


def test_re_empty_file_is_an_error(write_file: Write) -> None:
    with pytest.raises(BiotuneError, match="contains no examples"):
        read_examples(write_file("empty.tsv", [""]))
