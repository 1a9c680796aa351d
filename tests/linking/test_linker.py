"""The composed `Linker`: each look-up stage, type constraints, abbreviations, top-k filling, documents, and the
preferred id namespace."""

from __future__ import annotations

import pytest

from biotune.errors import BiotuneError
from biotune.formats.documents import Annotation, Document, Passage, Relation, assemble
from biotune.linking import Linker, StageCounts, Vocabulary, make_vocabulary
from biotune.linking.evaluation import accuracy_at_k, gold_mentions


def vocab(source: str, rows: list[tuple[str, str]], alternatives: dict[str, tuple[str, ...]] | None = None) -> Vocabulary:
    return make_vocabulary(source, [(term, concept, (alternatives or {}).get(concept, ())) for term, concept in rows])


DISEASES = vocab("medic", [("Kidney Failure", "MESH:D051437"), ("Renal Failure", "D051437"), ("Hypotension", "D007022"),
                           ("Wilson Disease", "D006527"), ("Cold", "D003139"), ("Cold", "D009999"),
                           ("Common Cold", "D003139"), ("Heart Failure", "D006333")], {"D006527": ("OMIM:277900",)})
CHEMICALS = vocab("mesh", [("Naloxone", "D009270"), ("Lithium", "D008094"), ("Hypotension", "D000000")])


def doc(doc_id: str, text: str, mentions: list[tuple[str, str, str | None]], relations: list[Relation] | None = None
        ) -> Document:
    """One passage; each `(surface, type, id)` annotated at its first occurrence after the previous mention."""
    located, position = [], 0
    for surface, type_, concept in mentions:
        start = text.index(surface, position)
        position = start + len(surface)
        located.append(("t", Annotation(start, position, type_, surface, concept_id=concept)))
    return assemble(doc_id, [Passage("abstract", text)], located, "t", [("t", r) for r in relations or []])


def test_exact_then_normalised_then_fuzzy_with_threshold() -> None:
    linker = Linker.from_vocabularies({"Disease": [DISEASES]}, fuzzy_threshold=0.5)
    links = linker.link([("Kidney Failure", "Disease"), ("kidney-failure", "Disease"), ("kidney failures", "Disease"),
                         ("xyzzy", "Disease")])
    assert [(link.id, link.stage) for link in links] == [("D051437", "exact"), ("D051437", "normalised"),
                                                         ("D051437", "fuzzy"), (None, "unlinked")]
    assert links[0].score == links[1].score == 1.0 and 0.5 <= links[2].score < 1.0 and links[3].score is None
    strict = Linker.from_vocabularies({"Disease": [DISEASES]}, fuzzy_threshold=0.99)
    assert strict.link([("kidney failures", "Disease")])[0].stage == "unlinked"
    without = Linker.from_vocabularies({"Disease": [DISEASES]}, fuzzy=False)
    assert without.link([("kidney failures", "Disease")])[0].stage == "unlinked"


def test_majority_id_and_first_vocabulary_takes_precedence() -> None:
    training = vocab("train", [("cold", "D009999")])
    assert Linker.from_vocabularies({"Disease": [DISEASES]}).link([("Cold", "Disease")])[0].id == "D003139"  # tie: smallest id
    assert Linker.from_vocabularies({"Disease": [training, DISEASES]}).link([("cold", "Disease")])[0].id == "D009999"
    assert Linker.from_vocabularies({"Disease": [training, DISEASES]}).link([("Cold", "Disease")])[0].id == "D003139"  # exact beats normalised


def test_types_never_cross_and_type_map() -> None:
    linker = Linker.from_vocabularies({"Disease": [DISEASES], "Chemical": [CHEMICALS]}, type_map={"SpecificDisease": "Disease"})
    links = linker.link([("Hypotension", "Disease"), ("Hypotension", "Chemical"), ("Naloxone", "Disease"),
                         ("Hypotension", "SpecificDisease"), ("Naloxone", "Gene")])
    assert [link.id for link in links] == ["D007022", "D000000", None, "D007022", None]
    assert links[3].type == "SpecificDisease"  # the mention keeps its own type
    with pytest.raises(BiotuneError, match=r"^type map: 'Modifier' -> 'Disese' names a type without vocabularies "
                                           r"\(types with vocabularies: Chemical, Disease\)$"):
        Linker.from_vocabularies({"Disease": [DISEASES], "Chemical": [CHEMICALS]}, type_map={"Modifier": "Disese"})


def test_abbreviation_links_as_its_long_form_in_its_document_only() -> None:
    linker = Linker.from_vocabularies({"Disease": [DISEASES, vocab("train", [("RF", "D000001")])]})
    text = "Renal failure (RF) was seen; RF recurred."
    first = doc("a", text, [("Renal failure", "Disease", None), ("RF", "Disease", None), ("RF", "Disease", None)])
    other = doc("b", "RF again.", [("RF", "Disease", None)])
    linked = list(linker.link_documents([first, other]))
    assert [[(link.id, link.stage, link.expanded) for link in d.links] for d in linked] == [
        [("D051437", "normalised", None), ("D051437", "abbreviation", "Renal failure"),
         ("D051437", "abbreviation", "Renal failure")],
        [("D000001", "exact", None)]]
    off = Linker.from_vocabularies({"Disease": [DISEASES, vocab("train", [("RF", "D000001")])]}, abbreviations=False)
    assert [link.id for link in next(off.link_documents([first])).links] == ["D051437", "D000001", "D000001"]


def test_link_documents_sets_ids_pseudo_ids_keeps_gold_and_counts() -> None:
    linker = Linker.from_vocabularies({"Disease": [DISEASES], "Chemical": [CHEMICALS]}, fuzzy=False)
    gold = doc("g", "Lithium gave hypotension and Fever-X after naloxone.", [
        ("Lithium", "Chemical", "D008094"), ("hypotension", "Disease", None), ("Fever-X", "Disease", None),
        ("naloxone", "Chemical", None)], [Relation("CID", "D008094", "D008094")])
    counts = StageCounts()
    (linked,) = linker.link_documents([gold], counts)
    assert [a.concept_id for a in linked.document.annotations] == ["D008094", "D007022", "text:Disease:fever x",
                                                                   "D009270"]
    assert [None if link is None else link.to_dict() for link in linked.links] == [
        None, {"id": "D007022", "stage": "normalised", "score": 1.0},
        {"id": None, "stage": "unlinked", "score": None}, {"id": "D009270", "stage": "normalised", "score": 1.0}]
    assert [(a.link_stage, a.link_score) for a in linked.document.annotations] == [
        (None, None), ("normalised", 1.0), ("unlinked", None), ("normalised", 1.0)]  # the gold id's annotation is kept
    assert linked.document.relations == gold.relations
    assert counts.to_dict() == {"abbreviation": 0, "exact": 0, "normalised": 2, "fuzzy": 0, "dense": 0,
                                "unlinked": 1, "kept": 1}
    assert counts.unlinked_texts == {("Disease", "Fever-X"): 1}


def test_top_k_fills_from_later_stages_and_accuracy_rule() -> None:
    linker = Linker.from_vocabularies({"Disease": [DISEASES]}, fuzzy_threshold=0.1)
    (link,) = linker.link([("Renal Failure", "Disease")], k=3)
    # kidney failure (fuzzy) is the same concept: not repeated; heart failure fills the second place
    assert [(c.id, c.stage) for c in link.candidates] == [("D051437", "exact"), ("D006333", "fuzzy")]
    assert link.stage == "exact" and link.score == 1.0
    text = "Wilson Disease, common cold, renal failure."
    gold = [doc("t", text, [("Wilson Disease", "Disease", "OMIM:277900"),  # right through the concept's alternative id
                            ("common cold", "Disease", "D000001|D003139"),  # composite: any part counts
                            ("renal failure", "Disease", "D007022")])]  # wrong
    result = accuracy_at_k(Linker.from_vocabularies({"Disease": [DISEASES]}, fuzzy=False), gold_mentions(gold), ks=(1, 5))
    assert (result.mentions, result.right) == (3, {1: 2, 5: 2})
    assert result.stages == {"exact": 1, "normalised": 2} and result.stages_right == {"exact": 1, "normalised": 1}


def test_a_linker_needs_vocabularies() -> None:
    with pytest.raises(BiotuneError, match="at least one vocabulary"):
        Linker.from_vocabularies({})


# MEDIC's way: a concept named by an OMIM id with its MeSH ids among the alternatives, one with no MeSH id at all
# ("PD"), and one named by its MeSH id with an OMIM alternative
OMIM_FIRST = vocab("medic", [("Cardiomyopathy, Dilated", "OMIM:115200"), ("PD", "OMIM:168600"),
                             ("Wilson Disease", "D006527")],
                   {"OMIM:115200": ("OMIM:9", "MESH:D002311", "MESH:C580047"), "D006527": ("OMIM:277900",)})
OMIM_MENTIONS = [("Cardiomyopathy, Dilated", "Disease"), ("dilated cardiomyopathies", "Disease"), ("PD", "Disease"),
                 ("Wilson Disease", "Disease")]


def test_a_preferred_namespace_names_a_concept_by_its_alternative_id() -> None:
    plain = Linker.from_vocabularies({"Disease": [OMIM_FIRST]}, fuzzy_threshold=0.3)
    assert [link.id for link in plain.link(OMIM_MENTIONS)] == ["OMIM:115200", "OMIM:115200", "OMIM:168600", "D006527"]
    mesh = Linker.from_vocabularies({"Disease": [OMIM_FIRST]}, fuzzy_threshold=0.3, prefer="mesh")
    links = mesh.link(OMIM_MENTIONS)
    # the first MeSH alternative, at every stage (exact, fuzzy); no MeSH id: kept; already MeSH: kept
    assert [(link.id, link.stage) for link in links] == [("D002311", "exact"), ("D002311", "fuzzy"),
                                                         ("OMIM:168600", "exact"), ("D006527", "exact")]
    assert links[0].candidates[0].alternatives == ("OMIM:115200", "OMIM:9", "C580047")  # nothing lost
    omim = Linker.from_vocabularies({"Disease": [OMIM_FIRST]}, fuzzy=False, prefer="OMIM")
    assert [link.id for link in omim.link(OMIM_MENTIONS)] == ["OMIM:115200", None, "OMIM:168600", "OMIM:277900"]
    text = "Cardiomyopathy, Dilated and PD."
    document = doc("d", text, [("Cardiomyopathy, Dilated", "Disease", None), ("PD", "Disease", None)])
    (linked,) = mesh.link_documents([document])
    assert [a.concept_id for a in linked.document.annotations] == ["D002311", "OMIM:168600"]
    gold = gold_mentions([doc("g", text, [("Cardiomyopathy, Dilated", "Disease", "OMIM:115200"),
                                          ("PD", "Disease", "OMIM:168600")])])
    assert accuracy_at_k(mesh, gold, ks=(1,)).right == accuracy_at_k(plain, gold, ks=(1,)).right == {1: 2}


def test_a_preferred_namespace_must_be_a_prefix_the_vocabularies_use() -> None:
    with pytest.raises(BiotuneError, match=r"^preferred namespace MSH: no id of the vocabularies is in it "
                                           r"\(their namespaces: MESH, OMIM\)$"):
        Linker.from_vocabularies({"Disease": [OMIM_FIRST]}, prefer="MSH")
    with pytest.raises(BiotuneError, match=r"^preferred namespace 'MESH:' is no id prefix"):
        Linker.from_vocabularies({"Disease": [OMIM_FIRST]}, prefer="MESH:")

