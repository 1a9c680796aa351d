"""`check-data` for relation extraction: what is worth knowing about pair files before training.

Per split: pairs, pairs per label, entity type pairs, how many pairs needed a window centred on
the pair (their marked text is longer than `max_length`: nothing is cut silently, but the
ends of the sentence are outside the model's view), how many cannot fit at all (training
would refuse them, naming the `max_length` that fits), and pairs of dev/test whose text also
occurs in train.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from copy import deepcopy

from transformers import PreTrainedTokenizerBase

from biotune.corpora.splits import Split
from biotune.errors import BiotuneError
from biotune.tables import markdown_table
from biotune.tasks.re.markers import MarkerScheme, add_marker_tokens, featurise

TRAIN = "train"


def check_relations(splits: Mapping[str, Split], tokenizer: PreTrainedTokenizerBase, max_length: int) -> str:
    """The Markdown report (one table of counts, one of labels, then warnings)."""
    tokenizer = deepcopy(tokenizer)  # the markers are added to a copy: the caller's tokenizer stays as it was
    scheme = MarkerScheme.from_examples([e for split in splits.values() for e in split.examples])
    add_marker_tokens(tokenizer, scheme)
    train_texts = {e.text for e in splits[TRAIN].examples} if TRAIN in splits else set()
    rows, labels, warnings = [], {}, []
    for name, split in splits.items():
        centred, too_wide = _windows(split, tokenizer, scheme, max_length)
        overlap = sum(e.text in train_texts for e in split.examples) if name != TRAIN and train_texts else None
        types = Counter(f"{e.head.type}-{e.tail.type}" for e in split.examples)
        left_out = "-" if split.facts is None else f"{split.facts['too_far']} ({split.facts['too_far_related']} related)"
        rows.append([name, str(len(split.examples)), str(centred), too_wide or "0", left_out,
                     "-" if overlap is None else str(overlap), ", ".join(f"{t} {n}" for t, n in types.most_common())])
        labels[name] = Counter(e.label for e in split.examples)
        if too_wide:
            warnings.append(f"{name}: {too_wide}")
        if overlap:
            warnings.append(f"{name}: {overlap} pairs have a sentence that is also in train")
    names = sorted({label for counts in labels.values() for label in counts if label is not None})
    lines = ["# Relation data check", "", f"max_length {max_length}; markers {', '.join(scheme.types)}", "",
             markdown_table(["split", "pairs", "centred windows", "do not fit", "pairs left out (too far apart)",
                             "text in train", "entity types"], rows,
                            ["left", "right", "right", "left", "right", "right", "left"]), "",
             markdown_table(["label", *labels], [[label, *(str(labels[s][label]) for s in labels)] for label in names],
                            ["left", *["right"] * len(labels)])]
    if warnings:
        lines += ["", "## Warnings", "", *(f"- {w}" for w in warnings)]
    return "\n".join(lines) + "\n"


def _windows(split: Split, tokenizer: PreTrainedTokenizerBase, scheme: MarkerScheme, max_length: int) -> tuple[int, str]:
    """(pairs that needed a centred window, the refusal message when some do not fit at all)."""
    try:
        return len(featurise(split.examples, tokenizer, scheme, max_length).centred), ""
    except BiotuneError as error:
        return 0, str(error)
