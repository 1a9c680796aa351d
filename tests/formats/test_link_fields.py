"""A linker's stage and score on each entity (`Annotation.link_stage`, `link_score`) survive every writer
whose format has room for them, and PubTator keeps the concept id while dropping them."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.formats.bioc_io import read_bioc_json, read_bioc_xml
from biotune.formats.brat import iter_brat
from biotune.formats.documents import Annotation, Document, Passage, assemble, document_record, iter_jsonl_documents
from biotune.formats.pubtator import iter_pubtator
from biotune.formats.writers import WRITERS

TEXT = "Renal failure (RF) after cisplatin and Fever-X."
READERS = {"jsonl": iter_jsonl_documents, "bioc-xml": read_bioc_xml, "bioc-json": read_bioc_json, "brat": iter_brat}


def linked_document() -> Document:
    """Mentions linked by several stages, one unlinked (stand-in id), one with a gold id and no link."""
    def at(surface: str, type_: str, **fields: object) -> tuple[str, Annotation]:
        start = TEXT.index(surface)
        return "test", Annotation(start, start + len(surface), type_, surface, **fields)  # type: ignore[arg-type]

    return assemble("doc-1", [Passage("title", TEXT)], [
        at("Renal failure", "Disease", score=0.97, concept_id="D051437", link_stage="fuzzy", link_score=0.8123),
        at("RF", "Disease", concept_id="D051437", link_stage="abbreviation", link_score=1.0),
        at("cisplatin", "Chemical", concept_id="D002945"),
        at("Fever-X", "Disease", concept_id="text:Disease:fever x", link_stage="unlinked"),
    ], "test")


def links_of(doc: Document) -> list[tuple[str, str | None, str | None, float | None, float | None]]:
    return [(a.text, a.concept_id, a.link_stage, a.link_score, a.score) for a in doc.annotations]


EXPECTED = [("Renal failure", "D051437", "fuzzy", 0.8123, 0.97), ("RF", "D051437", "abbreviation", 1.0, None),
            ("cisplatin", "D002945", None, None, None), ("Fever-X", "text:Disease:fever x", "unlinked", None, None)]


@pytest.mark.parametrize("name", sorted(READERS))
def test_write_read_keeps_id_stage_and_score(tmp_path: Path, name: str) -> None:
    WRITERS[name]([linked_document()], tmp_path / "out")
    (back,) = READERS[name](tmp_path / "out")
    assert links_of(back) == EXPECTED


def test_jsonl_fields_sit_on_each_entity_and_only_where_set() -> None:
    entities = document_record(linked_document())["entities"]
    assert {key: entities[0][key] for key in ("concept_id", "link_stage", "link_score")} == {
        "concept_id": "D051437", "link_stage": "fuzzy", "link_score": 0.8123}
    assert "link_stage" not in entities[2] and "link_score" not in entities[2]
    assert entities[3]["link_stage"] == "unlinked" and "link_score" not in entities[3]


def test_brat_writes_stage_and_score_in_the_entity_note_and_escapes_ids(tmp_path: Path) -> None:
    WRITERS["brat"]([linked_document()], tmp_path)
    lines = (tmp_path / "doc-1.ann").read_text().splitlines()
    # brat splits an N line at spaces: the stand-in id's space is escaped (and read back, above)
    assert [line for line in lines if line.startswith("N")][-1] == "N4\tReference T4 text:Disease:fever%20x\tFever-X"
    notes = [line for line in lines if line.startswith("#")]
    assert notes == ["#1\tAnnotatorNotes T1\tscore=0.97 link_stage=fuzzy link_score=0.8123",
                     "#2\tAnnotatorNotes T2\tlink_stage=abbreviation link_score=1.0",
                     "#3\tAnnotatorNotes T4\tlink_stage=unlinked"]


def test_pubtator_keeps_the_id_and_has_no_column_for_the_link(tmp_path: Path) -> None:
    WRITERS["pubtator"]([linked_document()], tmp_path / "out.pubtator")
    (back,) = iter_pubtator(tmp_path / "out.pubtator")
    assert links_of(back) == [(text, concept, None, None, None) for text, concept, *_ in EXPECTED]


def test_a_link_score_that_is_no_number_names_its_place(tmp_path: Path) -> None:
    WRITERS["brat"]([linked_document()], tmp_path)
    ann = tmp_path / "doc-1.ann"
    ann.write_text(ann.read_text().replace("link_score=0.8123", "link_score=high"))
    with pytest.raises(BiotuneError, match=rf"^{ann}:\d+: link_score 'high' is not a number$"):
        list(iter_brat(tmp_path))
    WRITERS["bioc-xml"]([linked_document()], tmp_path / "out.xml")
    xml = tmp_path / "out.xml"
    xml.write_text(xml.read_text().replace(">0.8123<", ">high<"))
    with pytest.raises(BiotuneError, match=r"annotation 'T1': link_score infon 'high' is not a number$"):
        read_bioc_xml(xml)
