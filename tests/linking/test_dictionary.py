"""Dictionary linker: exact then normalised look-up, majority id for ambiguous terms, pseudo ids, accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.formats.documents import Annotation, Document, Passage, Relation, assemble
from biotune.linking import DictionaryLinker, LinkCounts, linking_accuracy, normalise, pseudo_id, read_dictionary


def doc(doc_id: str, text: str, mentions: list[tuple[str, str, str | None]],
        relations: list[Relation] | None = None) -> Document:
    """A one-passage document with the first occurrence of each `(surface, type, concept id)` annotated."""
    located = []
    for surface, type_, concept in mentions:
        start = text.index(surface)
        located.append(("t", Annotation(start, start + len(surface), type_, surface, concept_id=concept)))
    return assemble(doc_id, [Passage("abstract", text)], located, "t", [("t", r) for r in relations or []])


def training() -> list[Document]:
    # "cold" is D003139 twice and D009999 once: the majority wins
    return [
        doc("a", "Alpha-Methyldopa and cold.", [("Alpha-Methyldopa", "Chemical", "D008750"),
                                                ("cold", "Disease", "D003139")]),
        doc("b", "cold again, cold.", [("cold", "Disease", "D009999")]),
        doc("c", "A cold; nalozone -1.", [("cold", "Disease", "D003139"), ("nalozone", "Chemical", "-1")]),
    ]


def test_linking_normalise_folds_case_punctuation_and_spaces() -> None:
    assert normalise("  Alpha-METHYLdopa ") == "alpha methyldopa"
    assert normalise("[3H]-naloxone") == "3h naloxone"
    assert pseudo_id("Nalo-Zone", "Chemical") == "text:Chemical:nalo zone"
    assert pseudo_id("+", "Chemical") == "text:Chemical:+"
    # one surface text, two types: two entities, never one id shared by a Chemical and a Disease
    assert pseudo_id("PAN", "Chemical") != pseudo_id("pan", "Disease")
    assert pseudo_id("PAN", "Disease") == pseudo_id("pan", "Disease")


def test_linking_exact_then_normalised_then_unlinked() -> None:
    linker = DictionaryLinker.from_documents(training())
    assert linker.lookup("Alpha-Methyldopa") == ("D008750", "exact")
    assert linker.lookup("alpha methyldopa") == ("D008750", "normalised")
    assert linker.lookup("cold") == ("D003139", "exact")  # 2 votes against 1
    assert linker.lookup("nalozone") == (None, "unlinked")  # a -1 mention teaches nothing
    assert len(linker) == 2


def test_linking_ambiguous_tie_goes_to_smallest_id() -> None:
    linker = DictionaryLinker([("cold", "D2"), ("cold", "D1"), ("Cold", "D3"), ("Cold", "D3")])
    assert linker.lookup("cold") == ("D1", "exact")
    assert linker.lookup("COLD") == ("D3", "normalised")  # normalised votes: D3 twice, D1 and D2 once


def test_linking_user_dictionary_adds_terms_and_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "mesh.tsv"
    path.write_text("Naloxone\tD009270\n\nnalozone\tD009270\n", encoding="utf-8")
    linker = DictionaryLinker.from_documents(training(), path)
    assert linker.lookup("NALOZONE") == ("D009270", "normalised")
    assert read_dictionary(path) == [("Naloxone", "D009270"), ("nalozone", "D009270")]
    path.write_text("Naloxone\tD009270\nclonidine D003000\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match=rf"^{path}:2: expected 'term<TAB>id'"):
        DictionaryLinker.from_documents(training(), path)
    path.write_text("clonidine\t-1\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match=rf"^{path}:1: expected 'term<TAB>id'"):
        read_dictionary(path)


def test_linking_missing_dictionary_is_named_as_a_dictionary(tmp_path: Path) -> None:
    with pytest.raises(BiotuneError, match=rf"^link dictionary {tmp_path / 'none.tsv'} does not exist$"):
        read_dictionary(tmp_path / "none.tsv")


def test_linking_link_fills_ids_pseudo_ids_and_counts() -> None:
    linker = DictionaryLinker.from_documents(training())
    predicted = doc("p", "ALPHA-METHYLDOPA gave a cold and Fever-X; nalozone.", [
        ("ALPHA-METHYLDOPA", "Chemical", None), ("cold", "Disease", None), ("Fever-X", "Disease", None),
        ("nalozone", "Chemical", "D009270")])
    counts = LinkCounts()
    (linked,) = linker.link([predicted], counts)
    assert [a.concept_id for a in linked.annotations] == ["D008750", "D003139", "text:Disease:fever x", "D009270"]
    assert counts.to_dict() == {"exact": 1, "normalised": 1, "unlinked": 1, "kept": 1}


def test_linking_keeps_gold_ids_and_relations() -> None:
    gold = doc("g", "cold after Alpha-Methyldopa and Fever-X.", [
        ("cold", "Disease", "D003139"), ("Alpha-Methyldopa", "Chemical", "D008750"), ("Fever-X", "Disease", None)],
        [Relation("CID", "D008750", "D003139")])
    (linked,) = DictionaryLinker.from_documents(training()).link([gold])
    assert [a.concept_id for a in linked.annotations] == ["D003139", "D008750", "text:Disease:fever x"]
    assert linked.relations == gold.relations == [Relation("CID", "D008750", "D003139", "concept", "Chemical",
                                                           "Disease")]


def test_linking_accuracy_counts_each_route() -> None:
    linker = DictionaryLinker.from_documents(training())
    gold = [doc("t", "alpha methyldopa, cold, Cold, nalozone, heat.", [
        ("alpha methyldopa", "Chemical", "D008750"),  # normalised, right
        ("cold", "Disease", "D009999"),  # exact, wrong (the majority id is D003139)
        ("Cold", "Disease", "D003139"),  # normalised, right
        ("nalozone", "Chemical", "-1"),  # no gold id: left out
        ("heat", "Disease", "D006358"),  # unlinked: wrong
    ])]
    result = linking_accuracy(gold, linker)
    assert (result.mentions, result.correct, result.exact, result.exact_correct) == (4, 2, 1, 0)
    assert (result.normalised, result.normalised_correct, result.unlinked) == (2, 2, 1)
    assert result.to_dict()["accuracy"] == 0.5


def test_linking_without_any_pair_is_an_error() -> None:
    with pytest.raises(BiotuneError, match="no \\(mention, concept id\\) pairs"):
        DictionaryLinker.from_documents([doc("x", "cold", [("cold", "Disease", None)])])
