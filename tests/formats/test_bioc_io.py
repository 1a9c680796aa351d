"""BioC XML and JSON through the `bioc` package: round trips, hand-written input, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biotune.formats.bioc_io import read_bioc_json, read_bioc_xml, write_bioc_json, write_bioc_xml
from biotune.formats.documents import Annotation, Document
from biotune.errors import BiotuneError

FORMATS = [(write_bioc_xml, read_bioc_xml), (write_bioc_json, read_bioc_json)]

XML = """<?xml version='1.0' encoding='utf-8'?>
<collection><source>PubTator</source><date>2024</date><key>k</key>
<document><id>42</id>
<passage><infon key="type">title</infon><offset>0</offset><text>TNF-α and 💊 aspirin</text>
<annotation id="1"><infon key="type">Gene</infon><infon key="identifier">7124</infon>
<location offset="0" length="5"/><text>TNF-α</text></annotation></passage>
<passage><infon key="type">abstract</infon><offset>21</offset><text>β-catenin rose.</text></passage>
<annotation id="2"><infon key="type">Gene</infon><location offset="21" length="9"/><text>β-catenin</text></annotation>
<annotation id="3"><infon key="type">Chemical</infon><infon key="score">0.5</infon>
<location offset="12" length="7"/><text>aspirin</text></annotation>
</document></collection>
"""


@pytest.mark.parametrize(("write", "read"), FORMATS, ids=["xml", "json"])
def test_formats_bioc_round_trip(tmp_path: Path, documents: list[Document], write, read) -> None:
    assert write(documents, tmp_path / "a") == 2
    first = read(tmp_path / "a")
    assert first == documents
    write(first, tmp_path / "b")
    assert read(tmp_path / "b") == first


def test_formats_bioc_xml_reads_passage_and_document_annotations(tmp_path: Path) -> None:
    path = tmp_path / "c.xml"
    path.write_text(XML, encoding="utf-8")
    (doc,) = read_bioc_xml(path)
    assert doc.id == "42" and [p.type for p in doc.passages] == ["title", "abstract"]
    assert doc.passages[0].annotations == [
        Annotation(0, 5, "Gene", "TNF-α", concept_id="7124"), Annotation(12, 19, "Chemical", "aspirin", score=0.5)
    ]
    assert doc.passages[1].annotations == [Annotation(21, 30, "Gene", "β-catenin")]
    assert all(doc.text[a.start_char : a.end_char] == a.text for a in doc.annotations)
    write_bioc_json([doc], tmp_path / "c.json")
    assert read_bioc_json(tmp_path / "c.json") == [doc]


def test_formats_bioc_xml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(XML.replace("</passage>\n<annotation", "</pasage>\n<annotation"), encoding="utf-8")
    with pytest.raises(BiotuneError, match=rf"{path}:7: invalid XML"):
        read_bioc_xml(path)


def test_formats_bioc_json_syntax_error_names_line(tmp_path: Path, documents: list[Document]) -> None:
    write_bioc_json(documents, tmp_path / "d.json")
    lines = (tmp_path / "d.json").read_text(encoding="utf-8").splitlines()
    lines[4] += ","
    (tmp_path / "d.json").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(BiotuneError, match=rf"{tmp_path / 'd.json'}:5: invalid JSON"):
        read_bioc_json(tmp_path / "d.json")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('offset="0" length="5"', 'offset="0" length="6"', "annotation '1': document '42': offsets 0-6 hold 'TNF-α '"),
        ('<location offset="21" length="9"/>', '<location offset="21" length="2"/><location offset="24" length="6"/>',
         "annotation '2': expected one location, found 2"),
        ('<infon key="score">0.5</infon>', '<infon key="score">high</infon>', "score infon 'high' is not a number"),
        ('<infon key="type">Chemical</infon>', "", "annotation '3': no 'type' infon"),
    ],
)
def test_formats_bioc_xml_bad_annotations_name_file_document_and_annotation(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = tmp_path / "e.xml"
    path.write_text(XML.replace(old, new), encoding="utf-8")
    with pytest.raises(BiotuneError, match=message) as error:
        read_bioc_xml(path)
    assert str(error.value).startswith(f"{path}: document '42'")


def test_formats_bioc_json_missing_field_is_named(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"source": "s", "date": "d", "key": "k", "infons": {}}), encoding="utf-8")
    with pytest.raises(BiotuneError, match="missing field 'documents'"):
        read_bioc_json(path)


def test_formats_bioc_json_bad_location_is_named(tmp_path: Path, documents: list[Document]) -> None:
    write_bioc_json(documents[1:], tmp_path / "g.json")
    text = (tmp_path / "g.json").read_text(encoding="utf-8").replace('"offset": 17', '"offset": "x17"')
    (tmp_path / "g.json").write_text(text, encoding="utf-8")
    with pytest.raises(BiotuneError, match="document 'doc-2', annotation 'T2': location 'x17'"):
        read_bioc_json(tmp_path / "g.json")
