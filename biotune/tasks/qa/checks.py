"""`check-data` for question answering: what is worth knowing about QA files before training.

Per split: questions, (question, context) pairs, the windows they make at `max_length` and
`stride` (a pair over one window is read in several, never cut), the most windows of one pair,
the longest question in subwords; for pairs with answer spans, answers that no window holds
whole (such an answer cannot be learnt at this window size); for yes/no splits, the labels;
and questions of dev/test whose text also occurs in train (BioASQ's batches repeat questions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from transformers import PreTrainedTokenizerBase

from biotune.corpora.splits import Split
from biotune.errors import BiotuneError
from biotune.tables import markdown_table
from biotune.tasks.qa.examples import QaExample
from biotune.tasks.qa.windows import Window, cut_windows

TRAIN = "train"


def check_qa(splits: Mapping[str, Split], tokenizer: PreTrainedTokenizerBase, max_length: int, stride: int) -> str:
    """The Markdown report: one table of counts, one of labels (yes/no splits), then warnings."""
    train_questions = {_key(e.question) for e in splits[TRAIN].examples} if TRAIN in splits else set()
    rows, labels, warnings = [], {}, []
    for name, split in splits.items():
        examples = split.examples
        questions = {e.question_id if isinstance(e, QaExample) else e.id: e.question for e in examples}
        try:
            windows = cut_windows([e.question for e in examples], [e.context for e in examples], tokenizer, max_length,
                                  stride, [[(a.start, a.end) for a in getattr(e, "answers", ())] for e in examples],
                                  names=[e.id for e in examples])
        except BiotuneError as error:
            warnings.append(f"{name}: {error}")
            windows = []
        per_pair = Counter(w.example for w in windows)
        lengths = tokenizer([e.question for e in examples], add_special_tokens=False)["input_ids"] if examples else []
        missed = _answers_missed(examples, windows)
        overlap = sum(_key(q) in train_questions for q in questions.values()) if name != TRAIN and train_questions else None
        rows.append([name, str(len(questions)), str(len(examples)), str(len(windows)),
                     str(sum(n > 1 for n in per_pair.values())), str(max(per_pair.values(), default=0)),
                     str(max((len(ids) for ids in lengths), default=0)), "-" if missed is None else str(missed),
                     "-" if overlap is None else str(overlap)])
        if missed:
            warnings.append(f"{name}: {missed} answer spans are in no window whole (longer than a window's context "
                            "part); raise model.max_length or qa.stride")
        if overlap:
            warnings.append(f"{name}: {overlap} questions are also in train")
        if examples and hasattr(examples[0], "label"):
            labels[name] = Counter(e.label for e in examples)
    lines = ["# Question-answering data check", "", f"max_length {max_length}; stride {stride}", "",
             markdown_table(["split", "questions", "pairs", "windows", "pairs over one window", "most windows",
                             "longest question (subwords)", "answers in no window", "questions in train"], rows,
                            ["left", *["right"] * 8])]
    if labels:
        names = sorted({label for counts in labels.values() for label in counts})
        lines += ["", markdown_table(["label", *labels], [[label, *(str(labels[s][label]) for s in labels)]
                                                          for label in names], ["left", *["right"] * len(labels)])]
    if warnings:
        lines += ["", "## Warnings", "", *(f"- {w}" for w in warnings)]
    return "\n".join(lines) + "\n"


def _answers_missed(examples: list[Any], windows: list[Window]) -> int | None:
    """Answer spans of pairs with answers that none of the pair's windows holds as a target; None without answers."""
    with_answers = [k for k, e in enumerate(examples) if getattr(e, "answers", ())]
    if not with_answers:
        return None
    held: dict[int, set[tuple[int, int]]] = {}  # pair -> the answer spans (as whole subwords) some window targets
    for w in windows:
        if w.starts != (0,):
            held.setdefault(w.example, set()).update((w.offsets[s][0], w.offsets[e][1]) for s, e in zip(w.starts, w.ends))
    return sum(max(len(examples[k].answers) - len(held.get(k, ())), 0) for k in with_answers)

def _key(question: str) -> str:
    return " ".join(question.lower().split())
