"""Vocabulary files: header, alternatives, canonical ids, fingerprints, and one-line errors naming file and line;
CTD's diseases vocabulary read as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.formats.documents import Annotation, Passage, assemble
from biotune.linking import mention_vocabulary, read_vocabulary
from biotune.linking.terms import namespace

CTD_DISEASES = Path(__file__).resolve().parents[3] / "shared" / "data" / "linking" / "ctd_diseases_2017-06-06.tsv"


def write(tmp_path: Path, text: str | bytes, name: str = "vocab.tsv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_header_alternatives_and_canonical_ids(tmp_path: Path) -> None:
    vocab = read_vocabulary(write(tmp_path, "term\tidentifier\talt_identifiers\nWilson Disease\tMESH:D006527\t"
                                            "OMIM:277900|MESH:D006527\nWD\tD006527\t\n\nAspirin\tMESH:C000001\n"))
    assert vocab.terms == ("Wilson Disease", "WD", "Aspirin")
    assert vocab.ids == ("D006527", "D006527", "C000001")
    assert vocab.alternatives == {"D006527": ("OMIM:277900",)}  # its own id is no alternative of itself
    assert vocab.concepts == frozenset({"D006527", "C000001"})


def test_an_id_prefix_ends_at_the_first_colon(tmp_path: Path) -> None:
    # CTD's diseases vocabulary (line 18 of ctd_diseases_2017-06-06.tsv): a Disease Ontology alternative id
    # whose local id, DOID:0060395, holds a colon of its own
    vocab = read_vocabulary(write(tmp_path, "term\tidentifier\talt_identifiers\n"
                                            "15q24 Microdeletion\tMESH:C579849\tDO:DOID:0060395\n"
                                            "17 Beta-hydroxysteroid dehydrogenase deficiency\tMESH:C537805\t"
                                            "OMIM:264300|DO:DOID:0050818\n"))
    assert vocab.ids == ("C579849", "C537805")
    assert vocab.alternatives == {"C579849": ("DO:DOID:0060395",), "C537805": ("OMIM:264300", "DO:DOID:0050818")}
    assert [namespace(i) for i in ("DO:DOID:0060395", "omim:264300", "C579849")] == ["DO", "OMIM", "MESH"]


@pytest.mark.skipif(not CTD_DISEASES.is_file(), reason="shared linking vocabularies not present")
def test_the_shared_ctd_diseases_vocabulary_reads_as_it_is() -> None:
    vocab = read_vocabulary(CTD_DISEASES)
    assert (len(vocab), len(vocab.concepts)) == (77_994, 11_865)  # the counts of ../shared/data/README.md
    assert vocab.alternatives["C579849"] == ("DO:DOID:0060395",)
    assert vocab.terms[16:18] == ("15q24 Microdeletion", "15q24 Deletion")  # file line 18 is row 17


def test_fingerprint_follows_content_not_bytes(tmp_path: Path) -> None:
    one = read_vocabulary(write(tmp_path, "cold\tD1\nheat\tD2\n", "a.tsv"))
    same = read_vocabulary(write(tmp_path, "term\tidentifier\r\ncold\tMESH:D1\r\nheat\tD2\r\n", "b.tsv"))
    other = read_vocabulary(write(tmp_path, "cold\tD1\nheat\tD3\n", "c.tsv"))
    assert one.fingerprint == same.fingerprint != other.fingerprint


@pytest.mark.parametrize(("content", "line", "message"), [
    ("cold\tD1\nheat D2\n", 2, "found no tab"),
    ("cold\tD1\n\t\tD2\n", 2, "empty term"),
    ("cold\t\n", 1, "empty id for term 'cold'"),
    ("cold\t-1\n", 1, "empty id for term 'cold'"),
    ("cold\tD 1\n", 1, "id 'D 1' of term 'cold' is in no known form"),
    ("cold\tD1\tOMIM:1|not an id\n", 1, "id 'not an id' of term 'cold' is in no known form"),
    ("cold\tD1\tx\ty\n", 1, "at most 3 tab-separated cells"),
    ("cold\tMESH:\n", 1, "id 'MESH:' of term 'cold' is in no known form"),
    ("cold\tD1\tDO:DOID:\n", 1, "id 'DO:DOID:' of term 'cold' is in no known form"),
    ("cold\tD1\tDO::0060395\n", 1, "id 'DO::0060395' of term 'cold' is in no known form"),
])
def test_bad_lines_name_file_and_line(tmp_path: Path, content: str, line: int, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(BiotuneError, match=rf"^{path}:{line}: .*{message}") as error:
        read_vocabulary(path)
    assert "\n" not in str(error.value)


def test_not_utf8_empty_and_missing(tmp_path: Path) -> None:
    path = write(tmp_path, b"cold\tD1\nfi\xe8vre\tD2\n")
    with pytest.raises(BiotuneError, match=rf"^{path}:2: not valid UTF-8"):
        read_vocabulary(path)
    with pytest.raises(BiotuneError, match="holds no 'term<TAB>id' lines"):
        read_vocabulary(write(tmp_path, "term\tidentifier\n"))
    with pytest.raises(BiotuneError, match=r"^vocabulary .*none\.tsv does not exist$"):
        read_vocabulary(tmp_path / "none.tsv")


def test_mention_vocabulary_keeps_single_ids_of_its_types() -> None:
    text = "cold, aspirin, flu and fever, heat"
    mentions = [("cold", "Disease", "D1"), ("aspirin", "Chemical", "D9"), ("flu and fever", "Disease", "D2|D3"),
                ("heat", "Modifier", "MESH:D4")]
    located = [("t", Annotation(text.index(s), text.index(s) + len(s), t, s, concept_id=c)) for s, t, c in mentions]
    doc = assemble("d", [Passage("abstract", text)], located, "t")
    vocab = mention_vocabulary([doc], "Disease", "train", frozenset({"Disease", "Modifier"}))
    assert list(zip(vocab.terms, vocab.ids)) == [("cold", "D1"), ("heat", "D4")]  # composite and Chemical left out
    with pytest.raises(BiotuneError, match="^train: no Gene mention carries a concept id"):
        mention_vocabulary([doc], "Gene", "train")
