"""Document-level pair scores against a hand-computed example."""

from __future__ import annotations

import pytest

from biotune.errors import BiotuneError
from biotune.formats.documents import Annotation, Document, Passage, Relation, assemble
from biotune.tasks.re.document_scores import DocumentScore, document_pairs, render_markdown, score_documents

TEXT = "A and B cause X, Y and Z."
# (surface, type, concept id, annotation id)
MENTIONS = [("A", "Chemical", "C1", "a"), ("B", "Chemical", "C2", "b"), ("X", "Disease", "D1", "x"),
            ("Y", "Disease", "D2|D3", "y"), ("Z", "Disease", "D4", "z")]


def doc(doc_id: str, relations: list[Relation]) -> Document:
    located = [("t", Annotation(TEXT.index(s), TEXT.index(s) + 1, t, s, concept_id=c, id=i)) for s, t, c, i in MENTIONS]
    return assemble(doc_id, [Passage("text", TEXT)], located, "t", [("t", r) for r in relations])


def test_document_scores_pairs_count_once_and_annotation_relations_map_to_concepts() -> None:
    d = doc("1", [Relation("CID", "C1", "D1"), Relation("CID", "C1", "D1", id="again"),
                  Relation("CID", "b", "y", "annotation"), Relation("other", "C2", "D4")])
    assert document_pairs(d, "CID") == {("C1", "D1"), ("C2", "D2"), ("C2", "D3")}


def test_document_scores_hand_computed() -> None:
    gold = [doc("1", [Relation("CID", "C1", "D1"), Relation("CID", "C2", "D4")]),
            doc("2", [Relation("CID", "C1", "D4")]),
            doc("3", [])]
    predicted = [doc("3", [Relation("CID", "C2", "D1")]),  # fp
                 doc("1", [Relation("CID", "C1", "D1"), Relation("CID", "a", "x", "annotation"),  # tp, same pair
                           Relation("CID", "C1", "D4"), Relation("other", "C2", "D4")]),  # fp; other type ignored
                 doc("2", [Relation("CID", "C1", "D4")])]  # tp
    # tp 2 (doc 1 C1-D1, doc 2 C1-D4), fp 2 (doc 1 C1-D4, doc 3 C2-D1), fn 1 (doc 1 C2-D4)
    score = score_documents(gold, predicted, "CID")
    assert (score.tp, score.fp, score.fn, score.documents) == (2, 2, 1, 3)
    assert score.precision == pytest.approx(0.5) and score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(4 / 7)
    assert score.to_dict() == {"relation_type": "CID", "documents": 3, "tp": 2, "fp": 2, "fn": 1, "precision": 0.5,
                               "recall": pytest.approx(2 / 3), "f1": pytest.approx(4 / 7)}
    table = render_markdown(score, title="BC5CDR CID").splitlines()
    assert table[0] == "# BC5CDR CID"
    assert [cell.strip() for cell in table[-1].strip("|").split("|")] == [
        "CID", "3", "3", "4", "2", "2", "1", "50.00", "66.67", "57.14"]
    assert render_markdown(score.to_dict()) == render_markdown(score)  # a saved to_dict() renders the same


def test_document_scores_empty_sides_score_zero() -> None:
    assert score_documents([doc("1", [])], [doc("1", [])], "CID") == DocumentScore("CID", 1, 0, 0, 0)
    assert DocumentScore("CID", 1, 0, 0, 0).f1 == 0.0


def test_document_scores_document_sets_must_match() -> None:
    with pytest.raises(BiotuneError, match="1 document\\(s\\) missing from the predicted documents, e.g. '2'"):
        score_documents([doc("1", []), doc("2", [])], [doc("1", [])], "CID")
    with pytest.raises(BiotuneError, match="document id '1' appears twice among the predicted documents"):
        score_documents([doc("1", [])], [doc("1", []), doc("1", [])], "CID")
