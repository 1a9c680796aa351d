"""Start/end scores -> answer spans per window -> probabilities per context -> answers merged per question.

Per window, as Hugging Face's `utils_qa.postprocess_qa_predictions`: the `n_best` highest start
and end scores are paired; a pair is a candidate when both tokens are context subwords, the end
is not before the start and the span is at most `max_answer_length` subwords; its score is the
start + end logit. Per context, again as `utils_qa`: the candidates of all its windows share one
softmax over their scores, so a window that holds only part of an answer (trained to point at
``[CLS]``, its scores are low) does not get a whole probability of its own.

Merging over a question's contexts (BioASQ gives many snippets per question):
1. one occurrence = one character span of one context; overlapping windows that both read it
   keep the higher score (the same occurrence is not counted twice because of the stride);
2. occurrences whose texts normalise alike (`normalise_answer`, BioASQ's own comparison) are one
   answer, and its score is the sum of its occurrences' probabilities: an answer read in three
   snippets outranks one read, with the same confidence, in one;
3. answers are ranked by that score (ties: the earlier first occurrence), and each is shown in
   the surface form of its most probable occurrence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biotune.tasks.qa.examples import Occurrence, RankedAnswer
from biotune.tasks.qa.metrics import normalise_answer
from biotune.tasks.qa.windows import Window


def window_candidates(window: Window, start_logits: np.ndarray, end_logits: np.ndarray, n_best: int,
                      max_answer_length: int) -> list[tuple[int, int, float]]:
    """(start char, end char, start + end logit) of the window's candidate spans, best first."""
    offsets = window.offsets
    length = len(offsets)
    starts = np.argsort(start_logits[:length])[::-1][:n_best]
    ends = np.argsort(end_logits[:length])[::-1][:n_best]
    found = []
    for s in starts:
        if offsets[s] is None:
            continue
        for e in ends:
            if offsets[e] is None or e < s or e - s + 1 > max_answer_length:
                continue
            found.append((offsets[s][0], offsets[e][1], float(start_logits[s]) + float(end_logits[e])))
    return sorted(found, key=lambda c: -c[2])


def context_probabilities(candidates: Sequence[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """One context's candidates from all its windows -> (start, end, probability): a span read by
    several windows keeps its best score, then one softmax over the spans."""
    best: dict[tuple[int, int], float] = {}
    for start, end, score in candidates:
        if score > best.get((start, end), float("-inf")):
            best[(start, end)] = score
    if not best:
        return []
    scores = np.asarray(list(best.values()), dtype=np.float64)
    probabilities = np.exp(scores - scores.max())
    probabilities /= probabilities.sum()
    return [(start, end, float(p)) for (start, end), p in zip(best, probabilities)]


def merge_answers(contexts: Sequence[str], read: Sequence[tuple[int, int, int, float]]) -> list[RankedAnswer]:
    """Rank the answers of one question from its (context index, start, end, probability) readings."""
    best: dict[tuple[int, int, int], float] = {}
    for context, start, end, probability in read:
        key = (context, start, end)
        if probability > best.get(key, -1.0):
            best[key] = probability
    grouped: dict[str, list[Occurrence]] = {}
    for (context, start, end), probability in best.items():
        text = contexts[context][start:end]
        key = normalise_answer(text)
        if key:
            grouped.setdefault(key, []).append(Occurrence(context, start, end, probability))
    answers = []
    for occurrences in grouped.values():
        occurrences.sort(key=lambda o: (-o.probability, o.context, o.start))
        top = occurrences[0]
        answers.append(RankedAnswer(contexts[top.context][top.start:top.end],
                                    sum(o.probability for o in occurrences), tuple(occurrences)))
    answers.sort(key=lambda a: (-a.score, min((o.context, o.start) for o in a.occurrences)))
    return answers
