"""brat standoff in and out: T/R/N lines, notes, a discontinuous entity, overlapping entities, the round trip, and
one-line errors naming file and line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.formats.brat import iter_brat, write_brat
from biotune.formats.document_formats import document_format, input_files, iter_documents
from biotune.formats.documents import BY_ANNOTATION, tagged_sentences

TEXT = "IL-2 gene binds NF-kappa B.\nT cells express IL-2 receptor alpha.\n"
ANN = "\n".join([
    "T1\tDNA 0 9\tIL-2 gene",
    "T2\tprotein 16 26\tNF-kappa B",
    "R1\tBinds Arg1:T1 Arg2:T2",
    "N1\tReference T2 UniProt:Q04206\tNF-kappa B",
    "N2\tReference T2 UniProt:P19838\tNF-kappa B",
    "T3\tcell_type 28 35\tT cells",
    "T4\tprotein 44 63\tIL-2 receptor alpha",  # overlaps T5: both kept
    "T5\tprotein 44 48\tIL-2",
    "T6\tDNA 0 4;5 9\tIL-2 gene",  # discontinuous (two fragments), read as its covering range
    "#1\tAnnotatorNotes T3\tscore=0.75 checked by hand",
    "A1\tNegated T3",  # attributes are skipped
    "",
])


def write_pair(folder: Path, doc_id: str, text: str, ann: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    if ann is not None:
        (folder / f"{doc_id}.ann").write_text(ann, encoding="utf-8")
    return folder


def test_t_r_n_lines_and_notes_become_one_document(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = write_pair(tmp_path / "corpus", "42", TEXT, ANN)
    with caplog.at_level(logging.WARNING, logger="biotune"):
        [doc] = list(iter_brat(folder))
    assert doc.id == "42" and doc.text == TEXT  # the whole .txt, line breaks included
    by_id = {a.id: a for a in doc.annotations}
    assert [(a.id, a.type, a.start_char, a.end_char, a.text) for a in doc.annotations] == [
        ("T1", "DNA", 0, 9, "IL-2 gene"), ("T6", "DNA", 0, 9, "IL-2 gene"),
        ("T2", "protein", 16, 26, "NF-kappa B"), ("T3", "cell_type", 28, 35, "T cells"),
        ("T5", "protein", 44, 48, "IL-2"), ("T4", "protein", 44, 63, "IL-2 receptor alpha")]
    assert by_id["T2"].concept_id == "UniProt:Q04206|UniProt:P19838"  # two N lines: a composite mention
    assert by_id["T2"].concept_ids == ("UniProt:Q04206", "UniProt:P19838")
    assert by_id["T3"].score == 0.75 and by_id["T1"].score is None
    [relation] = doc.relations
    assert (relation.type, relation.head, relation.tail, relation.by, relation.head_role, relation.tail_role,
            relation.id) == ("Binds", "T1", "T2", BY_ANNOTATION, "Arg1", "Arg2", "R1")
    warnings = [r.getMessage() for r in caplog.records]
    assert any(f"{folder / '42.ann'}:9: 1 discontinuous entities" in m for m in warnings)
    assert any(f"{folder / '42.ann'}:9: T6 overlaps T1 (2 overlaps in this file)" in m for m in warnings)


def test_overlapping_entities_keep_the_earlier_longer_one_in_bio_tags(tmp_path: Path) -> None:
    [doc] = list(iter_brat(write_pair(tmp_path / "c", "42", TEXT, ANN)))
    second = tagged_sentences(doc)[1]
    assert list(zip(second.tokens, second.tags or [])) == [
        ("T", "B-cell_type"), ("cells", "I-cell_type"), ("express", "O"), ("IL", "B-protein"), ("-", "I-protein"),
        ("2", "I-protein"), ("receptor", "I-protein"), ("alpha", "I-protein"), (".", "O")]


def test_write_then_read_keeps_entities_ids_relations_and_concepts(tmp_path: Path) -> None:
    [doc] = list(iter_brat(write_pair(tmp_path / "in", "42", TEXT, ANN)))
    assert write_brat([doc], tmp_path / "out") == 1
    written = (tmp_path / "out" / "42.ann").read_text(encoding="utf-8").splitlines()
    assert "R1\tBinds Arg1:T1 Arg2:T2" in written
    assert "N1\tReference T2 UniProt:Q04206\tNF-kappa B" in written and "N2\tReference T2 UniProt:P19838\tNF-kappa B" in written
    assert "#1\tAnnotatorNotes T3\tscore=0.75" in written
    assert (tmp_path / "out" / "42.txt").read_text(encoding="utf-8") == TEXT
    [again] = list(iter_brat(tmp_path / "out"))
    assert again == doc


def test_concept_relations_are_written_between_first_mentions(tmp_path: Path) -> None:
    """A PubTator-style relation between concept ids goes to brat between the first mention of each concept."""
    from biotune.formats.documents import Annotation, Passage, Relation, assemble

    text = "Aspirin caused bleeding; aspirin again."
    doc = assemble("7", [Passage("text", text)], [
        ("t", Annotation(0, 7, "Chemical", "Aspirin", concept_id="D001241")),
        ("t", Annotation(15, 23, "Disease", "bleeding", concept_id="D006470")),
        ("t", Annotation(25, 32, "Chemical", "aspirin", concept_id="D001241"))],
        "t", [("t", Relation("CID", "D001241", "D006470"))])
    write_brat([doc], tmp_path)
    lines = (tmp_path / "7.ann").read_text(encoding="utf-8").splitlines()
    assert "R1\tCID Chemical:T1 Disease:T2" in lines
    [again] = list(iter_brat(tmp_path / "7.ann"))
    assert [(r.type, r.head, r.tail) for r in again.relations] == [("CID", "T1", "T2")]


def test_a_folder_is_one_brat_input_and_text_without_ann_has_no_annotations(tmp_path: Path) -> None:
    folder = write_pair(tmp_path / "corpus", "1", "Some text.", "T1\tX 0 4\tSome\n")
    write_pair(folder, "2", "Other text.", None)
    assert document_format(folder) == "brat"
    assert input_files(tmp_path) == [(folder, "corpus")]  # its .txt files are not read again as plain text
    docs = list(iter_documents(folder))
    assert [(d.id, len(d.annotations)) for d in docs] == [("1", 1), ("2", 0)]


@pytest.mark.parametrize(("ann", "message"), [
    ("T1\tDNA 0 4\tIL-3\n", r"42\.ann:1: offsets 0 4 hold 'IL-2', not the mention 'IL-3'"),
    ("T1\tDNA 0 x\tIL-2\n", r"42\.ann:1: offsets must be '<start> <end>'"),
    ("T1\tDNA 0 4\tIL-2\nT1\tDNA 5 9\tgene\n", r"42\.ann:2: entity id T1 is used twice"),
    ("T1\tDNA 0 4\tIL-2\nR1\tBinds Arg1:T1 Arg2:T9\n", r"42\.ann:2: .*names annotation 'T9'"),
    ("T1\tDNA 0 4\tIL-2\nX1\tfoo\n", r"42\.ann:2: not a brat annotation line"),
    ("T1\tDNA 0 999\tIL-2\n", r"42\.ann:1: offsets 0-999 run past the end"),
    ("T1\tDNA 5 9;0 4\tgene IL-2\n", r"42\.ann:1: fragments '5 9;0 4' are empty or out of order"),
])
def test_bad_lines_are_one_line_errors_naming_file_and_line(tmp_path: Path, ann: str, message: str) -> None:
    folder = write_pair(tmp_path / "c", "42", TEXT, ann)
    with pytest.raises(BiotuneError, match=message):
        list(iter_brat(folder))


def test_an_ann_without_its_text_is_refused(tmp_path: Path) -> None:
    (tmp_path / "9.ann").write_text("T1\tX 0 1\ta\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match=r"9\.ann: its text 9\.txt is missing"):
        list(iter_brat(tmp_path))


def test_offsets_count_carriage_returns_as_brat_does(tmp_path: Path) -> None:
    """A CRLF file is read without newline translation, so offsets after a line break stay right."""
    folder = write_pair(tmp_path / "c", "5", "", "T1\tX 7 12\tworld\n")
    (folder / "5.txt").write_bytes(b"hello\r\nworld\r\n")
    [doc] = list(iter_brat(folder))
    assert doc.annotations[0].text == "world" and doc.text == "hello\r\nworld\r\n"
