"""Candidate pairs from annotated documents: counts per scope, labels, marked text, mapping predictions back."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.formats.documents import Annotation, Document, Passage, Relation, assemble
from biotune.formats.pubtator import iter_pubtator, write_pubtator
from biotune.tasks.re.candidates import CandidateCounts, document_candidates, to_relations
from biotune.tasks.re.markers import MarkerScheme, mark

TITLE = "Cisplatin causes nephrotoxicity."
ABSTRACT = "Rats given cisplatin and heparin developed fever. Heparin did not help."
BASE = len(TITLE) + 1
PAIRS = [["Chemical", "Disease"]]
SCHEME = MarkerScheme(("Chemical", "Disease", "Drug"))


def annotated(doc_id: str, passages: list[Passage], mentions: list[tuple[int, str, str, str | None, str | None]],
              relations: list[Relation]) -> Document:
    """`mentions` are (start, surface, type, concept id, annotation id) in document coordinates."""
    located = [("t", Annotation(start, start + len(surface), type_, surface, concept_id=concept, id=ref))
               for start, surface, type_, concept, ref in mentions]
    return assemble(doc_id, passages, located, "t", [("t", r) for r in relations])


def cdr_document(relations: tuple[Relation, ...] = (Relation("CID", "D002945", "D007674"),)) -> Document:
    """Cisplatin-nephrotoxicity in the title (a CID pair), heparin in two sentences, fever without an id."""
    at = ABSTRACT.index
    return annotated("1", [Passage("title", TITLE), Passage("abstract", ABSTRACT, BASE)], [
        (0, "Cisplatin", "Chemical", "D002945", None),
        (17, "nephrotoxicity", "Disease", "D007674", None),
        (BASE + at("cisplatin"), "cisplatin", "Chemical", "D002945", None),
        (BASE + at("heparin"), "heparin", "Chemical", "D006493", None),
        (BASE + at("fever"), "fever", "Disease", "-1", None),
        (BASE + at("Heparin"), "Heparin", "Chemical", "D006493", None),
    ], list(relations))


def summary(candidates) -> list[tuple[str, str, str | None, tuple[str, ...], tuple[str, ...]]]:
    """(head text, tail text, label, head concepts, tail concepts) of each candidate."""
    def words(c, entity) -> str:
        return c.example.text[entity.start:entity.end]

    return [(words(c, c.example.head), words(c, c.example.tail), c.example.label, c.head_concepts, c.tail_concepts)
            for c in candidates]


def test_candidates_sentence_scope_pairs_mentions_of_one_sentence() -> None:
    candidates = document_candidates(cdr_document(), PAIRS, "sentence", negative="0")
    assert summary(candidates) == [
        ("Cisplatin", "nephrotoxicity", "CID", ("D002945",), ("D007674",)),
        ("cisplatin", "fever", "0", ("D002945",), ("text:Disease:fever",)),
        ("heparin", "fever", "0", ("D006493",), ("text:Disease:fever",)),
    ]
    assert [c.example.text for c in candidates] == [TITLE, ABSTRACT[:49], ABSTRACT[:49]]
    assert all(c.by == "concept" and c.document == "1" for c in candidates)


def test_candidates_document_scope_one_per_concept_pair_closest_mentions() -> None:
    candidates = document_candidates(cdr_document(), PAIRS, "document", negative="0")
    assert summary(candidates) == [
        ("Cisplatin", "nephrotoxicity", "CID", ("D002945",), ("D007674",)),
        ("heparin", "nephrotoxicity", "0", ("D006493",), ("D007674",)),  # the first heparin is the closer
        ("cisplatin", "fever", "0", ("D002945",), ("text:Disease:fever",)),  # the abstract's cisplatin is the closer
        # one sentence beats fewer characters across a sentence end ("fever. Heparin")
        ("heparin", "fever", "0", ("D006493",), ("text:Disease:fever",)),
    ]
    # the text runs from the sentence of the first mention to the end of the sentence of the second
    assert candidates[1].example.text == TITLE + " " + ABSTRACT[:49]
    assert candidates[3].example.text == ABSTRACT[:49]
    assert [c.example.id for c in candidates][:2] == ["1:D002945:D007674", "1:D006493:D007674"]


def test_candidates_max_sentences_leaves_out_far_pairs_and_counts_them() -> None:
    counts = CandidateCounts()
    near = document_candidates(cdr_document(), PAIRS, "document", "0", max_sentences=0, counts=counts)
    assert [c.example.id for c in near] == ["1:D002945:D007674", "1:D002945:text:Disease:fever", "1:D006493:text:Disease:fever"]
    assert counts.to_dict() == {"built": 3, "too_far": 1, "too_far_related": 0}
    related = cdr_document((Relation("CID", "D006493", "D007674"),))
    document_candidates(related, PAIRS, "document", "0", max_sentences=0, counts=counts)
    assert counts.to_dict() == {"built": 6, "too_far": 2, "too_far_related": 1}
    assert len(document_candidates(related, PAIRS, "document", "0", max_sentences=1)) == 4
    with pytest.raises(BiotuneError, match="max_sentences applies to the document scope"):
        document_candidates(related, PAIRS, "sentence", "0", max_sentences=1)


def test_candidates_marked_text_wraps_the_right_mentions() -> None:
    candidates = document_candidates(cdr_document(), PAIRS, "document", negative="0")
    assert mark(candidates[1].example, SCHEME) == (
        "Cisplatin causes  [E2:Disease] nephrotoxicity [/E2:Disease] . Rats given cisplatin and  [E1:Chemical] "
        "heparin [/E1:Chemical]  developed fever.")
    assert mark(candidates[2].example, SCHEME) == (
        "Rats given  [E1:Chemical] cisplatin [/E1:Chemical]  and heparin developed  [E2:Disease] fever "
        "[/E2:Disease] .")


def test_candidates_unlabelled_for_prediction_over_documents() -> None:
    docs = [cdr_document(), annotated("2", [Passage("text", "Nothing here.")], [], [])]
    candidates = [c for doc in docs for c in document_candidates(doc, PAIRS, "document", negative="0", labelled=False)]
    assert len(candidates) == 4 and {c.example.label for c in candidates} == {None}


def test_candidates_to_relations_maps_predictions_back(tmp_path: Path) -> None:
    doc = cdr_document()
    candidates = document_candidates(doc, PAIRS, "document", negative="0", labelled=False)
    predicted = to_relations(doc, candidates, ["CID", "0", "0", "CID"], negative="0")
    assert predicted.relations == [Relation("CID", "D002945", "D007674", "concept", "Chemical", "Disease"),
                                   Relation("CID", "D006493", "text:Disease:fever", "concept", "Chemical", "Disease")]
    # the grouped mention now carries its pseudo id, so the relation names an entity of the document
    assert [a.concept_id for a in predicted.annotations if a.text == "fever"] == ["text:Disease:fever"]
    write_pubtator([predicted], tmp_path / "p.txt")
    assert list(iter_pubtator(tmp_path / "p.txt")) == [predicted]
    # sentence scope: two candidates of one concept pair give one relation
    sentence = document_candidates(doc, PAIRS, "sentence", negative="0")
    assert len(to_relations(doc, sentence, ["CID", "CID", "0"], "0").relations) == 2
    with pytest.raises(ValueError, match="3 candidates but 2 predicted labels"):
        to_relations(doc, sentence, ["CID", "0"], "0")


def test_candidates_same_text_of_two_types_are_two_entities() -> None:
    """Without ids, a Chemical and a Disease mention of one text must not share a pseudo id (issue 19)."""
    text = "PAN caused PAN in rats."
    doc = annotated("4", [Passage("text", text)], [(0, "PAN", "Chemical", None, None),
                                                   (11, "PAN", "Disease", None, None)], [])
    (candidate,) = document_candidates(doc, PAIRS, "sentence", negative="0", labelled=False)
    assert (candidate.head_concepts, candidate.tail_concepts) == (("text:Chemical:pan",), ("text:Disease:pan",))
    predicted = to_relations(doc, [candidate], ["CID"], negative="0")
    assert predicted.relations == [Relation("CID", "text:Chemical:pan", "text:Disease:pan", "concept",
                                            "Chemical", "Disease")]
    assert [a.concept_id for a in predicted.annotations] == ["text:Chemical:pan", "text:Disease:pan"]


def test_candidates_by_annotation_id_use_annotation_relations() -> None:
    text = "Aspirin caused ulcers; aspirin also caused ulcers."
    doc = annotated("3", [Passage("text", text)], [
        (0, "Aspirin", "Chemical", "D001241", "T1"), (15, "ulcers", "Disease", "D014456", "T2"),
        (23, "aspirin", "Chemical", "D001241", "T3"), (43, "ulcers", "Disease", "D014456", "T4"),
    ], [Relation("CID", "T1", "T2", "annotation")])
    candidates = document_candidates(doc, PAIRS, "sentence", negative="0")
    # one sentence, 2 x 2 mention pairs; only the pair the relation names is positive
    assert [(c.head_annotation, c.tail_annotation, c.example.label) for c in candidates] == [
        ("T1", "T2", "CID"), ("T1", "T4", "0"), ("T3", "T2", "0"), ("T3", "T4", "0")]
    back = to_relations(doc, candidates, ["0", "0", "0", "CID"], "0")
    assert back.relations == [Relation("CID", "T3", "T4", "annotation", "Chemical", "Disease")]
    # document scope: the annotation relation counts for its concepts
    (pair,) = document_candidates(doc, PAIRS, "document", negative="0")
    assert (pair.head_concepts, pair.tail_concepts, pair.example.label) == (("D001241",), ("D014456",), "CID")


def test_candidates_composite_mention_counts_for_each_concept() -> None:
    text = "Cisplatin caused ocular and auditory toxicity."
    doc = annotated("4", [Passage("text", text)], [
        (0, "Cisplatin", "Chemical", "D002945", None),
        (17, "ocular and auditory toxicity", "Disease", "D014786|D006311", None),
    ], [Relation("CID", "D002945", "D006311")])
    by_doc = document_candidates(doc, PAIRS, "document", negative="0")
    assert [(c.tail_concepts, c.example.label) for c in by_doc] == [(("D006311",), "CID"), (("D014786",), "0")]
    (by_sentence,) = document_candidates(doc, PAIRS, "sentence", negative="0")
    assert by_sentence.example.label == "CID"
    assert {(r.head, r.tail) for r in to_relations(doc, [by_sentence], ["CID"], "0").relations} == {
        ("D002945", "D014786"), ("D002945", "D006311")}


def test_candidates_same_type_pairs_once_either_direction() -> None:
    text = "Aspirin and warfarin and heparin interact."
    doc = annotated("5", [Passage("text", text)], [
        (0, "Aspirin", "Drug", "A", None), (12, "warfarin", "Drug", "W", None), (25, "heparin", "Drug", "H", None),
    ], [Relation("DDI", "W", "A")])
    for scope in ("sentence", "document"):
        candidates = document_candidates(doc, [["Drug", "Drug"]], scope, negative="none")
        assert [(c.head_concepts[0], c.tail_concepts[0], c.example.label) for c in candidates] == [
            ("A", "W", "DDI"), ("A", "H", "none"), ("W", "H", "none")], scope


def test_candidates_overlapping_mentions_are_not_paired() -> None:
    text = "Lidocaine-induced asystole."
    doc = annotated("6", [Passage("text", text)], [
        (0, "Lidocaine", "Chemical", "D008012", None), (0, "Lidocaine-induced asystole", "Disease", "D006323", None),
    ], [])
    assert document_candidates(doc, PAIRS, "sentence", "0") == []
    assert document_candidates(doc, PAIRS, "document", "0") == []


@pytest.mark.parametrize(("pairs", "scope", "message"), [
    (PAIRS, "paragraph", "unknown candidate scope 'paragraph'; choose one of sentence, document"),
    ([["Chemical"]], "sentence", "an entity-type pair is two type names"),
    (["Chemical", "Disease"], "sentence", "an entity-type pair is two type names"),
    ([], "document", "no entity-type pairs given"),
])
def test_candidates_bad_configuration_is_named(pairs, scope: str, message: str) -> None:
    with pytest.raises(BiotuneError, match=message):
        document_candidates(cdr_document(), pairs, scope, "0")
