"""List training pairs: every occurrence, case-insensitive, at word boundaries, longest of overlaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.tasks.qa.examples import AnswerSpan, QaExample, QaQuestion
from biotune.tasks.qa.lists import ListPairFacts, find_answers, list_training_pairs
from biotune.tasks.qa.reading import read_gold

SHARED_GOLDEN = Path(__file__).resolve().parents[4] / "shared" / "data" / "qa" / "bioasq" / "golden"


def spans(context: str, answers: tuple[tuple[str, ...], ...]) -> list[tuple[str, int]]:
    return [(context[span.start:span.end], index) for span, index in find_answers(context, answers)]


def test_every_occurrence_case_insensitively() -> None:
    context = "BRCA1 binds brca1; Brca1 again."
    assert find_answers(context, (("brca1",),)) == [(AnswerSpan(0, 5), 0), (AnswerSpan(12, 17), 0),
                                                    (AnswerSpan(19, 24), 0)]


def test_word_boundaries_reject_matches_inside_longer_tokens() -> None:
    context = "IL-6R is not IL-6, but (IL-6) and IL-6-induced are; Trp53 is not p53, p53_x is."
    assert spans(context, (("IL-6",), ("p53",))) == [("IL-6", 0), ("IL-6", 0), ("IL-6", 0), ("p53", 1), ("p53", 1)]


def test_overlaps_keep_the_longest_then_the_earliest() -> None:
    context = "TNF alpha and TNF; nitric oxide synthase."
    answers = (("TNF",), ("TNF alpha", "alpha and"), ("nitric oxide",), ("oxide synthase",))
    # "TNF alpha" (9) beats "TNF" and "alpha and" (9, later); "oxide synthase" (14) beats "nitric oxide" (12)
    assert spans(context, answers) == [("TNF alpha", 1), ("TNF", 0), ("oxide synthase", 3)]


def test_list_training_pairs_sets_answers_drops_empty_snippets_and_counts() -> None:
    questions = {"l1": QaQuestion("l1", "list", "Which genes?", (("BRCA1",), ("BRCA2", "FANCD1"), ("TP53",))),
                 "l2": QaQuestion("l2", "list", "Which drugs?", (("aspirin",),))}
    examples = [QaExample("l1_000", "l1", "Which genes?", "brca1 and FANCD1 and BRCA1.", file="g.json", item="l1_000"),
                QaExample("l1_001", "l1", "Which genes?", "Nothing here.", file="g.json", item="l1_001"),
                QaExample("l2_000", "l2", "Which drugs?", "Aspirins are not aspirin-like.", file="g.json", item="l2_000")]
    pairs, facts = list_training_pairs(examples, questions)
    assert [(pair.id, pair.answers) for pair in pairs] == [
        ("l1_000", (AnswerSpan(0, 5), AnswerSpan(10, 16), AnswerSpan(21, 26))),
        ("l2_000", (AnswerSpan(17, 24),))]
    assert pairs[0].context == examples[0].context and pairs[0].file == "g.json"
    assert facts == ListPairFacts(questions=2, questions_with_pairs=2, answers=4, answers_found=3, snippets=3, pairs=2,
                                  occurrences=4)
    assert facts.to_dict()["answers_not_found"] == 1 and facts.to_dict()["snippets_dropped"] == 1


def test_a_question_with_no_occurrence_anywhere_is_counted() -> None:
    questions = {"l1": QaQuestion("l1", "list", "Q?", (("absent",),))}
    pairs, facts = list_training_pairs([QaExample("l1_000", "l1", "Q?", "present")], questions)
    assert pairs == [] and facts.to_dict()["questions_without_pairs"] == 1


def test_a_yes_no_or_unknown_question_is_an_error() -> None:
    example = QaExample("y1_000", "y1", "Is it?", "yes it is", file="g.json", item="y1_000")
    with pytest.raises(BiotuneError, match=r"^g\.json: item y1_000: question y1 is a yes/no question"):
        list_training_pairs([example], {"y1": QaQuestion("y1", "yesno", "Is it?", (("yes",),))})
    with pytest.raises(BiotuneError, match=r"^g\.json: item y1_000: question y1 has no gold question$"):
        list_training_pairs([example], {})


@pytest.mark.skipif(not (SHARED_GOLDEN / "7B_golden.json").is_file(), reason="QA data (../shared/data/qa) is not present")
def test_shared_4b_6b_list_pairs() -> None:
    """The README's figures for the list training data (every 4b-6b list question)."""
    _, facts = list_training_pairs(*read_gold(SHARED_GOLDEN / "[456]B*_golden.json", "list"))
    assert (facts.questions, facts.questions_with_pairs) == (246, 237)
    assert (facts.answers, facts.answers_found) == (1009, 865)
    assert (facts.snippets, facts.pairs, facts.occurrences) == (2155, 1408, 2832)
