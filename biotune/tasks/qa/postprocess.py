"""Start/end scores -> answer spans per window -> answers merged per question.

Per window, as Hugging Face's `utils_qa.postprocess_qa_predictions`: the `n_best` highest start
and end scores are paired; a pair is a candidate when both tokens are context subwords, the end
is not before the start and the span is at most `max_answer_length` subwords; a candidate's score
is start + end logit, and its probability the softmax over the window's candidates.

Merging over a question's windows and contexts (BioASQ gives many snippets per question, and
a long snippet gives several windows):
1. one occurrence = one character span of one context; overlapping windows that both read it
   keep the higher probability (the same occurrence is not counted twice because of the stride);
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
    """(start char, end char, probability) of the window's candidate spans, most probable first."""
    offsets = window.offsets
    length = len(offsets)
    starts = np.argsort(start_logits[:length])[::-1][:n_best]
    ends = np.argsort(end_logits[:length])[::-1][:n_best]
    spans, scores = [], []
    for s in starts:
        if offsets[s] is None:
            continue
        for e in ends:
            if offsets[e] is None or e < s or e - s + 1 > max_answer_length:
                continue
            spans.append((offsets[s][0], offsets[e][1]))
            scores.append(float(start_logits[s]) + float(end_logits[e]))
    if not spans:
        return []
    values = np.asarray(scores, dtype=np.float64)
    probabilities = np.exp(values - values.max())
    probabilities /= probabilities.sum()
    order = np.argsort(-values, kind="stable")
    return [(spans[k][0], spans[k][1], float(probabilities[k])) for k in order]


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
