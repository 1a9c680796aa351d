"""Training pairs for BioASQ list questions, built from the gold files' snippets and exact answers.

No list question exists in SQuAD form, so (as BioBERT did) the answer spans are found in the
snippets. The rule, in full:

- every synonym of every exact answer is searched in every snippet of its question, ignoring
  case (Python's Unicode case folding of `re.IGNORECASE`), and ALL its occurrences are kept;
- an occurrence must stand at word boundaries: the character before it and the character after
  it (where there is one) are not letters or digits, so ``IL-6`` is found in ``(IL-6)`` and
  ``IL-6-induced`` but not in ``IL-6R``, and ``p53`` not in ``Trp53``;
- overlapping occurrences (``TNF`` inside ``TNF alpha``, or two answers sharing words) are
  resolved by keeping the longest, then the earliest;
- a snippet with no occurrence of any answer is dropped (a pair without an answer teaches
  nothing an extractive reader can use), and counted in `ListPairFacts`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace

from biotune.errors import BiotuneError
from biotune.tasks.qa.examples import AnswerSpan, QaExample, QaQuestion


@dataclass(frozen=True, slots=True)
class ListPairFacts:
    """What building the pairs found, for check-data and the README."""

    questions: int  # questions read
    questions_with_pairs: int  # questions with at least one occurrence in some snippet
    answers: int  # exact answers (synonym groups) over all questions
    answers_found: int  # answers with an occurrence (any synonym) in some snippet of their question
    snippets: int  # snippets read
    pairs: int  # snippets kept (with at least one occurrence)
    occurrences: int  # answer spans over all pairs

    @property
    def snippets_dropped(self) -> int:
        return self.snippets - self.pairs

    def to_dict(self) -> dict[str, int]:
        """The counts by name (a `Split.facts`), the derived ones included."""
        return {**asdict(self), "questions_without_pairs": self.questions - self.questions_with_pairs,
                "answers_not_found": self.answers - self.answers_found, "snippets_dropped": self.snippets_dropped}


def find_answers(context: str, answers: Iterable[Iterable[str]]) -> list[tuple[AnswerSpan, int]]:
    """Every occurrence of the answers in `context` by the module's rule: (span, answer index), by start.

    `answers` are synonym groups (a `QaQuestion.answers`); overlapping occurrences keep the longest.
    """
    found = [(match.start(), match.end(), index)
             for index, synonyms in enumerate(answers)
             for synonym in dict.fromkeys(synonyms) if synonym
             for match in _pattern(synonym).finditer(context)]
    kept: list[tuple[int, int, int]] = []
    for start, end, index in sorted(found, key=lambda hit: (hit[0] - hit[1], hit[0], hit[2])):
        if all(end <= other_start or start >= other_end for other_start, other_end, _ in kept):
            kept.append((start, end, index))
    return [(AnswerSpan(start, end), index) for start, end, index in sorted(kept)]


def list_training_pairs(examples: Iterable[QaExample], questions: Mapping[str, QaQuestion]
                        ) -> tuple[list[QaExample], ListPairFacts]:
    """The snippets of `examples` that contain an answer of their question, with `answers` set to every occurrence.

    `examples` and `questions` are `reading.read_gold(paths, "list")`'s (a factoid's one synonym
    group works the same way). An example whose question is missing, or is yes/no, is an error.
    """
    pairs: list[QaExample] = []
    found: dict[str, set[int]] = {}  # question id -> indices of its answers found somewhere
    snippets = occurrences = 0
    for example in examples:
        question = questions.get(example.question_id)
        if question is None or question.type == "yesno":
            problem = "has no gold question" if question is None else "is a yes/no question: it has no span to find"
            raise BiotuneError(f"{example.file}: item {example.item or example.id}: question {example.question_id} {problem}")
        snippets += 1
        hits = find_answers(example.context, question.answers)
        found.setdefault(question.id, set()).update(index for _, index in hits)
        if hits:
            pairs.append(replace(example, answers=tuple(span for span, _ in hits)))
            occurrences += len(hits)
    asked = [questions[qid] for qid in found]
    facts = ListPairFacts(questions=len(asked), questions_with_pairs=sum(1 for indices in found.values() if indices),
                          answers=sum(len(question.answers) for question in asked),
                          answers_found=sum(len(indices) for indices in found.values()),
                          snippets=snippets, pairs=len(pairs), occurrences=occurrences)
    return pairs, facts


def _pattern(synonym: str) -> re.Pattern[str]:
    """`synonym` literally, case-insensitively, not touching a letter or digit on either side."""
    return re.compile(rf"(?<![^\W_]){re.escape(synonym)}(?![^\W_])", re.IGNORECASE)
