"""Document relations: kept at read, written back, in PubTator, BioC XML/JSON and JSONL; bad references."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.formats.bioc_io import read_bioc_json, read_bioc_xml, write_bioc_json, write_bioc_xml
from biotune.formats.documents import Annotation, Document, Passage, Relation, assemble, iter_jsonl_documents
from biotune.formats.pubtator import iter_pubtator, write_pubtator
from biotune.formats.writers import write_jsonl

PUBTATOR = (
    "1|t|Cisplatin causes nephrotoxicity.\n"
    "1|a|Ocular and auditory toxicity followed cisplatin.\n"
    "1\t0\t9\tCisplatin\tChemical\tD002945\n"
    "1\t17\t31\tnephrotoxicity\tDisease\tD007674\n"
    "1\t33\t61\tOcular and auditory toxicity\tDisease\tD014786|D006311\tOcular toxicity|auditory toxicity\n"
    "1\t71\t80\tcisplatin\tChemical\tD002945\n"
    "1\tCID\tD002945\tD007674\n"
    "1\tCID\tD002945\tD006311\n"
    "\n"
)

BC5CDR = Path("/work/shared/data/documents/bc5cdr_pubtator")

BIOC_XML = """<?xml version='1.0' encoding='utf-8'?>
<collection><source>BC5CDR</source><date>2015</date><key>k</key>
<document><id>1</id>
<passage><infon key="type">title</infon><offset>0</offset><text>Cisplatin causes nephrotoxicity.</text>
<annotation id="0"><infon key="type">Chemical</infon><infon key="identifier">D002945</infon>
<location offset="0" length="9"/><text>Cisplatin</text></annotation>
<annotation id="1"><infon key="type">Disease</infon><infon key="identifier">D007674</infon>
<location offset="17" length="14"/><text>nephrotoxicity</text></annotation></passage>
<relation id="R0"><infon key="relation">CID</infon><infon key="Chemical">D002945</infon>
<infon key="Disease">D007674</infon></relation>
<relation id="R1"><infon key="type">causes</infon><node refid="0" role="agent"/><node refid="1" role="effect"/></relation>
</document></collection>
"""


def related_document() -> Document:
    """One document with a concept-level and an annotation-level relation (ids only where named)."""
    text = "Cisplatin causes nephrotoxicity in rats; heparin did not."
    return assemble("d1", [Passage("abstract", text, 0)], [
        ("t", Annotation(0, 9, "Chemical", "Cisplatin", concept_id="D002945", id="T7")),
        ("t", Annotation(17, 31, "Disease", "nephrotoxicity", concept_id="D007674", id="T9")),
        ("t", Annotation(41, 48, "Chemical", "heparin", concept_id="D006493")),
    ], "t", [
        ("t", Relation("CID", "D002945", "D007674", id="R1")),
        ("t", Relation("causes", "T7", "T9", "annotation", "agent", "effect", id="R5", score=0.875)),
    ])


def test_formats_relations_pubtator_reads_relation_lines_by_concept(tmp_path: Path) -> None:
    path = tmp_path / "cdr.txt"
    path.write_text(PUBTATOR, encoding="utf-8")
    (doc,) = iter_pubtator(path)
    # roles come from the types of the annotations carrying the concepts; a composite id counts for each part
    assert doc.relations == [
        Relation("CID", "D002945", "D007674", "concept", "Chemical", "Disease"),
        Relation("CID", "D002945", "D006311", "concept", "Chemical", "Disease"),
    ]
    write_pubtator([doc], tmp_path / "out.txt")
    lines = (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()
    assert lines[-3:-1] == ["1\tCID\tD002945\tD007674", "1\tCID\tD002945\tD006311"]
    assert list(iter_pubtator(tmp_path / "out.txt")) == [doc]


def test_formats_relations_pubtator_writes_annotation_relations_by_concept(tmp_path: Path) -> None:
    write_pubtator([related_document()], tmp_path / "out.txt")
    lines = (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()
    assert lines[-3:-1] == ["d1\tCID\tD002945\tD007674", "d1\tcauses\tD002945\tD007674"]
    (back,) = iter_pubtator(tmp_path / "out.txt")
    assert back.relations[1] == Relation("causes", "D002945", "D007674", "concept", "Chemical", "Disease")


def test_formats_relations_pubtator_annotation_without_concept_cannot_be_written(tmp_path: Path) -> None:
    doc = assemble("d2", [Passage("text", "Aspirin causes ulcers.")], [
        ("t", Annotation(0, 7, "Chemical", "Aspirin", id="A")),
        ("t", Annotation(15, 21, "Disease", "ulcers", concept_id="D014456", id="B")),
    ], "t", [("t", Relation("CID", "A", "B", "annotation"))])
    with pytest.raises(BiotuneError, match="document 'd2': CID relation  names annotation 'A', which has no concept"):
        write_pubtator([doc], tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.parametrize(("write", "read"), [(write_bioc_xml, read_bioc_xml), (write_bioc_json, read_bioc_json),
                                             (write_jsonl, lambda p: list(iter_jsonl_documents(p)))],
                         ids=["bioc-xml", "bioc-json", "jsonl"])
def test_formats_relations_round_trip(tmp_path: Path, write, read) -> None:
    doc = related_document()
    write([doc], tmp_path / "a")
    first = read(tmp_path / "a")
    assert first == [doc]
    assert first[0].relations[1].score == 0.875 and first[0].annotations[2].id is None
    write(first, tmp_path / "b")
    assert read(tmp_path / "b") == first


def test_formats_relations_pubtator_to_bioc_and_back_agree(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text(PUBTATOR, encoding="utf-8")
    docs = list(iter_pubtator(tmp_path / "in.txt"))
    write_bioc_xml(docs, tmp_path / "out.xml")
    (back,) = read_bioc_xml(tmp_path / "out.xml")
    assert [r.id for r in back.relations] == ["R1", "R2"]  # BioC relations get ids where they had none
    assert [dataclasses.replace(r, id=None) for r in back.relations] == docs[0].relations
    assert back.passages == docs[0].passages


def test_formats_relations_bioc_reads_bc5cdr_infons_and_nodes(tmp_path: Path) -> None:
    path = tmp_path / "cdr.xml"
    path.write_text(BIOC_XML, encoding="utf-8")
    (doc,) = read_bioc_xml(path)
    assert doc.relations == [
        Relation("CID", "D002945", "D007674", "concept", "Chemical", "Disease", id="R0"),
        Relation("causes", "0", "1", "annotation", "agent", "effect", id="R1"),
    ]
    assert [a.id for a in doc.annotations] == ["0", "1"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('<node refid="1" role="effect"/>', '<node refid="7" role="effect"/>',
         "relation 'R1': document '1': causes relation names annotation '7', which no annotation"),
        ('<infon key="Disease">D007674</infon>', '<infon key="Disease">D000001</infon>',
         "relation 'R0': document '1': CID relation names concept 'D000001'"),
        ('<node refid="1" role="effect"/>', "", "relation 'R1': expected two nodes \\(head and tail\\), found 1"),
        ('<infon key="relation">CID</infon>', "", "relation 'R0': no 'type' or 'relation' infon"),
    ],
)
def test_formats_relations_bioc_bad_relation_names_document_and_relation(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(BIOC_XML.replace(old, new), encoding="utf-8")
    with pytest.raises(BiotuneError, match=message) as error:
        read_bioc_xml(path)
    assert str(error.value).startswith(f"{path}: document '1'")


def test_formats_relations_pubtator_unknown_concept_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(PUBTATOR.replace("1\tCID\tD002945\tD006311", "1\tCID\tD002945\tD999999"), encoding="utf-8")
    with pytest.raises(BiotuneError, match=rf"^{path}:8: document '1': CID relation names concept 'D999999', "
                                           "which no annotation of the document has$"):
        list(iter_pubtator(path))


def test_formats_relations_jsonl_unknown_annotation_names_line(tmp_path: Path) -> None:
    write_jsonl([related_document()], tmp_path / "d.jsonl")
    text = (tmp_path / "d.jsonl").read_text(encoding="utf-8").replace('"head": "T7"', '"head": "T8"')
    (tmp_path / "e.jsonl").write_text("\n" + text, encoding="utf-8")
    with pytest.raises(BiotuneError, match=rf"^{tmp_path / 'e.jsonl'}:2: relation 2: document 'd1': causes relation "
                                           "names annotation 'T8'"):
        list(iter_jsonl_documents(tmp_path / "e.jsonl"))


def test_formats_relations_duplicate_annotation_id_is_an_error() -> None:
    with pytest.raises(BiotuneError, match="two annotations have the id 'A'"):
        assemble("d", [Passage("text", "a b")], [("t", Annotation(0, 1, "X", "a", id="A")),
                                                 ("t", Annotation(2, 3, "X", "b", id="A"))], "t")


@pytest.mark.skipif(not BC5CDR.is_dir(), reason="BC5CDR (../shared/data) is not present")
@pytest.mark.parametrize(("name", "count"), [("CDR_TrainingSet", 1038), ("CDR_DevelopmentSet", 1012),
                                             ("CDR_TestSet", 1066)])
def test_formats_relations_bc5cdr_official_cid_counts(name: str, count: int) -> None:
    docs = list(iter_pubtator(BC5CDR / f"{name}.PubTator.txt"))
    assert len(docs) == 500
    assert sum(len(d.relations) for d in docs) == count
    assert {r.type for d in docs for r in d.relations} == {"CID"}
    assert {(r.head_role, r.tail_role) for d in docs for r in d.relations} == {("Chemical", "Disease")}
