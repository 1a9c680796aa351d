"""`check-data` and training's preflight for multi-label data.

Report, per split: sentences, abstracts, sentences without a label, the longest text in
subwords against `max_length` and how many texts need more than one window (read in
overlapping windows, never cut; see `windows`), and the sentences and abstracts of dev/test
that also occur in train (text, or PMID); then the sentences per label and split. Warnings
follow for windows and overlap.

Preflight (`refuse_unknown_labels`): a dev or test label that training does not have could
never be predicted, and scoring would fail only after training: refused naming file and line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from transformers import PreTrainedTokenizerBase

from biotune.corpora.splits import Split
from biotune.errors import BiotuneError
from biotune.tables import markdown_table
from biotune.tasks.multilabel.examples import TextExample

TRAIN = "train"


def check_multilabel(splits: Mapping[str, Split], tokenizer: PreTrainedTokenizerBase, max_length: int,
                     positions: int | None) -> str:
    """The Markdown report (see the module docstring); `positions` is the backbone's limit, for advice."""
    train = splits[TRAIN].examples if TRAIN in splits else []
    train_texts, train_documents = {e.text for e in train}, {e.document for e in train}
    rows, counts, warnings = [], {}, []
    for name, split in splits.items():
        examples: list[TextExample] = split.examples
        lengths = [len(ids) for ids in tokenizer([e.text for e in examples])["input_ids"]] if examples else [0]
        longest = max(lengths)
        over = sum(n > max_length for n in lengths)
        documents = {e.document for e in examples}
        shared = None if name == TRAIN or not train else (sum(e.text in train_texts for e in examples),
                                                           len(documents & train_documents))
        rows.append([name, str(len(examples)), str(len(documents)), str(sum(not e.labels for e in examples)),
                     str(longest), str(over), "-" if shared is None else f"{shared[0]} / {shared[1]}"])
        counts[name] = Counter(label for e in examples for label in e.labels)
        if over:
            warnings.append(f"{name}: {over} texts are longer than model.max_length {max_length} (the longest "
                            f"{longest} subwords): each is read in overlapping windows, every window trained on "
                            f"the text's labels{_advice(longest, positions)}")
        if shared and any(shared):
            warnings.append(f"{name}: {shared[0]} sentences and {shared[1]} abstracts also occur in train")
    labels = list(dict.fromkeys([*(label for split in splits.values() for label in split.annotated_types),
                                 *(label for c in counts.values() for label in sorted(c))]))
    lines = ["# Multi-label data check", "", f"max_length {max_length}", "",
             markdown_table(["split", "sentences", "abstracts", "without a label", "longest (subwords)",
                             "over one window", "sentences / abstracts in train"], rows,
                            ["left", *["right"] * 6]), "",
             markdown_table(["label (sentences)", *counts], [[label, *(str(counts[s][label]) for s in counts)]
                                                            for label in labels], ["left", *["right"] * len(counts)])]
    if warnings:
        lines += ["", "## Warnings", "", *(f"- {w}" for w in warnings)]
    return "\n".join(lines) + "\n"


def _advice(longest: int, positions: int | None) -> str:
    if positions is None or longest <= positions:
        return f"; model.max_length {longest} reads each whole"
    return f"; this backbone reads at most {positions} positions, so the longest cannot be read whole"


def refuse_unknown_labels(evaluated: Mapping[str, Split], labels: Sequence[str]) -> None:
    """A `BiotuneError` naming the first dev or test example with a label training does not have."""
    known = set(labels)
    for name, split in evaluated.items():
        unknown = [e for e in split.examples if not known.issuperset(e.labels)]
        if unknown:
            first = unknown[0]
            label = next(label for label in first.labels if label not in known)
            raise BiotuneError(f"{first.file}:{first.line}: label {label!r} of the {name} split is not one of the labels "
                               f"training has ({', '.join(labels)}); {len(unknown)} of {len(split.examples)} {name} "
                               "texts have such labels: the model could never predict them")
