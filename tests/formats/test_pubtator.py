"""PubTator: streaming read, exact character offsets over non-ASCII text, round trips, errors."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from biotune.formats.documents import Annotation, Document, Passage
from biotune.formats.pubtator import iter_pubtator, write_pubtator
from biotune.errors import BiotuneError
from tests.formats.conftest import make_document

SAMPLE = (
    "227508|t|Naloxone reverses the antihypertensive effect of clonidine.\n"
    "227508|a|In rats, TNF-α and β-catenin 💊 rose.\n"
    "227508\t0\t8\tNaloxone\tChemical\tD009270\n"
    "227508\t26\t38\thypertensive\tDisease\tD006973\n"
    "227508\t49\t58\tclonidine\tChemical\tD003000\n"
    "227508\t69\t74\tTNF-α\tGene\n"
    "227508\t79\t88\tβ-catenin\tGene\t1499\tβ-catenin\n"
    "227508\tCID\tD003000\tD006973\n"
    "\n"
    "354896|t|Lidocaine-induced cardiac asystole.\n"
    "354896|a|\n"
    "354896\t0\t9\tLidocaine\tChemical\tD008012\n"
)


def test_formats_pubtator_reads_documents_with_character_offsets(tmp_path: Path) -> None:
    path = tmp_path / "cdr.pubtator"
    path.write_text(SAMPLE, encoding="utf-8")
    stream = iter_pubtator(path)
    assert isinstance(stream, types.GeneratorType)
    first, second = stream
    assert first.id == "227508"
    assert [p.type for p in first.passages] == ["title", "abstract"]
    assert first.passages[1].offset == len(first.passages[0].text) + 1
    assert [a.text for a in first.passages[1].annotations] == ["TNF-α", "β-catenin"]
    assert first.annotations[0] == Annotation(0, 8, "Chemical", "Naloxone", concept_id="D009270")
    for doc in (first, second):
        for a in doc.annotations:
            assert doc.text[a.start_char : a.end_char] == a.text
    assert second.passages[1] == Passage("abstract", "", len("Lidocaine-induced cardiac asystole.") + 1)


def test_formats_pubtator_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text(SAMPLE, encoding="utf-8")
    documents = list(iter_pubtator(path))
    assert write_pubtator(documents, tmp_path / "out.txt") == 2
    again = list(iter_pubtator(tmp_path / "out.txt"))
    assert again == documents
    write_pubtator(again, tmp_path / "again.txt")
    assert (tmp_path / "again.txt").read_bytes() == (tmp_path / "out.txt").read_bytes()


def test_formats_pubtator_round_trip_keeps_built_document(tmp_path: Path) -> None:
    doc = make_document()
    write_pubtator([doc], tmp_path / "d.txt")
    assert list(iter_pubtator(tmp_path / "d.txt")) == [doc]


def test_formats_pubtator_writer_rebases_extra_passages_and_flattens_line_breaks(tmp_path: Path) -> None:
    doc = Document("9", [
        Passage("title", "A\ttitle", 0),
        Passage("abstract", "Aspirin\nhelps.", 20, [Annotation(20, 34, "Chemical", "Aspirin\nhelps.")]),
        Passage("results", "IL-2 rose.", 40, [Annotation(40, 44, "Gene", "IL-2")]),
    ])
    write_pubtator([doc], tmp_path / "d.txt")
    (back,) = iter_pubtator(tmp_path / "d.txt")
    assert back.passages[0].text == "A title"
    assert back.passages[1].text == "Aspirin helps. IL-2 rose."
    assert [(a.text, a.start_char) for a in back.annotations] == [("Aspirin helps.", 8), ("IL-2", 23)]
    assert all(back.text[a.start_char : a.end_char] == a.text for a in back.annotations)


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("1|t|Aspirin.\n1|a|x\n1\t0\tseven\tAspirin\tChemical\n", 3, "offsets must be integers"),
        ("1|t|Aspirin.\n1|a|x\n1\t0\t7\tAspirin\n", 3, "expected 'PMID<TAB>start"),
        ("1|t|TNF-α up.\n1|a|x\n1\t0\t6\tTNF-α\tGene\n", 3, "hold 'TNF-α ', not the mention 'TNF-α'"),
        ("1|t|Aspirin.\n1|a|x\n1\t0\t90\tAspirin\tChemical\n", 3, "not inside one passage"),
        ("1|t|Aspirin.\n1|a|x\n2\t0\t7\tAspirin\tChemical\n", 3, "line of document '2' inside document '1'"),
        ("1|a|abstract first\n", 1, "does not follow its title"),
        ("1\t0\t7\tAspirin\tChemical\n", 1, "expected a 'PMID|t|title' line"),
        ("1|t|A.\n1|a|x\n\n2|t|B.\n2|a|y\n2|a|z\n", 6, "does not follow its title"),
    ],
)
def test_formats_pubtator_errors_name_file_and_line(tmp_path: Path, content: str, line: int, message: str) -> None:
    path = tmp_path / "bad.pubtator"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BiotuneError, match=message) as error:
        list(iter_pubtator(path))
    assert str(error.value).startswith(f"{path}:{line}:")


def test_formats_pubtator_invalid_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.pubtator"
    path.write_bytes("1|t|ok\n1|a|\n\n2|t|caf\xe9\n".encode("latin-1"))
    with pytest.raises(BiotuneError, match=f"{path}:4: not valid UTF-8"):
        list(iter_pubtator(path))


def test_formats_pubtator_streams_documents_before_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("1|t|A.\n1|a|\n\n2|t|B.\n2|a|\n2\tx\n", encoding="utf-8")
    stream = iter_pubtator(path)
    assert next(stream).id == "1"
    with pytest.raises(BiotuneError, match=f"{path}:6:"):
        next(stream)


def test_formats_pubtator_refuses_missing_file_and_bad_ids(tmp_path: Path) -> None:
    with pytest.raises(BiotuneError, match="does not exist"):
        iter_pubtator(tmp_path / "none.txt")
    with pytest.raises(BiotuneError, match="cannot be written to PubTator"):
        write_pubtator([Document("a|b", [])], tmp_path / "out.txt")
    assert list(tmp_path.iterdir()) == []
