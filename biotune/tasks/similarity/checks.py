"""`check-data` for sentence similarity: what is worth knowing about pair files before training.

Per split: pairs, the score's mean and range, the longest input in subwords (special tokens
included: the pair read as one input for the ``cls`` head, a sentence read alone for
``biencoder``) against `max_length` and how many pairs do not fit (training would refuse them,
with the message `encoding.too_long_message` gives), and dev/test pairs that are also in train (in
either order, ignoring case and spacing). Then the score distribution per split, in bins of one
point of the scale. BIOSSES is tiny (64 / 16 / 20 pairs), so a small dev split gets a warning:
the epoch it selects, and so the test score, move with the seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from transformers import PreTrainedTokenizerBase

from biotune.corpora.splits import Split
from biotune.tables import markdown_table
from biotune.tasks.similarity.encoding import encode_pairs, too_long_message
from biotune.tasks.similarity.examples import SentencePair
from biotune.tasks.similarity.reading import SCORE_RANGE

TRAIN = "train"
SMALL_DEV = 100  # pairs: below this, the selected epoch and the test score vary with the seed


def score_bins(scores: Iterable[float]) -> dict[str, int]:
    """Pairs per one-point bin of `SCORE_RANGE` (``0-1`` holds 0 <= s < 1; the last bin holds its top)."""
    low, high = (int(bound) for bound in SCORE_RANGE)
    bins = {f"score {k}-{k + 1}": 0 for k in range(low, high)}
    for score in scores:
        k = min(int(score), high - 1)
        bins[f"score {k}-{k + 1}"] += 1
    return bins


def check_similarity(splits: Mapping[str, Split], tokenizer: PreTrainedTokenizerBase, max_length: int,
                     dev: str | None, separately: bool) -> str:
    """The Markdown report: a table of counts and lengths, the score distribution, then warnings.
    `dev` names the split that selects the epoch (None: no selection); `separately`: the head reads
    each sentence alone (`encoding.READS_SEPARATELY`), so a sentence, not the pair, must fit."""
    train_pairs = {_key(p) for p in splits[TRAIN].examples} if TRAIN in splits else set()
    rows, bins, warnings = [], {}, []
    for name, split in splits.items():
        pairs: list[SentencePair] = split.examples
        scores = [p.score for p in pairs if p.score is not None]
        longest = [item.longest() for item in encode_pairs(pairs, tokenizer, None, None, separately)]
        lengths = [n for _, n in longest]
        too_long = [(p, part, n) for p, (part, n) in zip(pairs, longest) if n > max_length]
        overlap = sum(_key(p) in train_pairs for p in pairs) if name != TRAIN and train_pairs else None
        rows.append([name, str(len(pairs)), f"{sum(scores) / len(scores):.2f}" if scores else "-",
                     f"{min(scores):g}-{max(scores):g}" if scores else "-", str(max(lengths, default=0)),
                     str(len(too_long)), "-" if overlap is None else str(overlap)])
        bins[name] = score_bins(scores)
        if too_long:
            warnings.append(f"{name}: {too_long_message(too_long, len(pairs), max_length, None)}")
        if overlap:
            warnings.append(f"{name}: {overlap} pairs are also in train")
        if name == dev and 0 < len(pairs) < SMALL_DEV:
            warnings.append(f"{name}: {len(pairs)} pairs select the epoch; with so few, the selected epoch and the "
                            "test scores move with the seed: compare settings over several seeds "
                            "(biotune run CONFIG --seeds ...)")
    unit = "sentence" if separately else "pair"
    lines = ["# Sentence-similarity data check", "", f"max_length {max_length} (subwords of a {unit} with its special "
             f"tokens; a longer {unit} is refused, never cut)", "",
             markdown_table(["split", "pairs", "mean score", "score range", f"longest {unit} (subwords)",
                             "over max_length", "pairs in train"], rows,
                            ["left", "right", "right", "right", "right", "right", "right"]), "",
             markdown_table(["", *bins], [[label, *(str(bins[s][label]) for s in bins)]
                                          for label in next(iter(bins.values()), {})],
                            ["left", *["right"] * len(bins)])]
    if warnings:
        lines += ["", "## Warnings", "", *(f"- {w}" for w in warnings)]
    return "\n".join(lines) + "\n"


def _key(pair: SentencePair) -> tuple[str, ...]:
    """The pair's sentences, case and spacing folded, in sorted order (similarity is symmetric)."""
    return tuple(sorted(" ".join(s.lower().split()) for s in (pair.sentence1, pair.sentence2)))
