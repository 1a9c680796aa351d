"""`check_data`: what is worth knowing about a corpus before training on it.

Like spaCy's `debug data`: per split counts (sentences, tokens, spans per type), tag
sequences the readers had to repair, sentences too long for the model's window, sentences
of dev/test that also occur in train, and entity types that dev/test have but train lacks.
The report is plain data (`to_dict`) plus Markdown for people; `warnings` are the lines the
CLI prints.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from biotune.formats.schemes import tags_to_spans
from biotune.formats.sentence import Sentence
from biotune.tables import markdown_table

TRAIN = "train"


@dataclass
class SplitStats:
    """Counts for one split. `long_sentences` is None when no subword counter was given."""

    sentences: int
    tokens: int
    unlabelled: int
    spans: dict[str, int]
    repaired_sentences: int
    repaired_tags: int
    long_sentences: int | None
    overlap_with_train: int | None


@dataclass
class DataReport:
    """The result of `check_data`: per split stats, cross-split findings and warnings."""

    max_length: int
    splits: dict[str, SplitStats]
    types_missing_from_train: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-serialisable data."""
        return asdict(self)

    def render_markdown(self) -> str:
        """A human-readable report: a table of counts, spans per type, then the warnings."""
        names = list(self.splits)
        rows = [
            ("sentences", [s.sentences for s in self.splits.values()]),
            ("tokens", [s.tokens for s in self.splits.values()]),
            ("unlabelled sentences", [s.unlabelled for s in self.splits.values()]),
            ("repaired sentences", [s.repaired_sentences for s in self.splits.values()]),
            (f"longer than {self.max_length} subwords", [s.long_sentences for s in self.splits.values()]),
            ("also in train", [s.overlap_with_train for s in self.splits.values()]),
        ]
        types = sorted({t for stats in self.splits.values() for t in stats.spans})
        rows += [(f"spans: {t}", [s.spans.get(t, 0) for s in self.splits.values()]) for t in types]
        cells = [[label, *("n/a" if v is None else str(v) for v in values)] for label, values in rows]
        lines = ["# Data report", "", markdown_table(["", *names], cells, ["left", *["right"] * len(names)])]
        lines += ["", "## Warnings", ""]
        lines += [f"- {warning}" for warning in self.warnings] or ["None."]
        return "\n".join(lines) + "\n"


def check_data(
    splits: dict[str, list[Sentence]],
    subword_length: Callable[[list[str]], int] | None = None,
    max_length: int = 128,
) -> DataReport:
    """Inspect `splits` (e.g. `{"train": ..., "dev": ..., "test": ...}`) and report.

    `subword_length(tokens)` counts the subwords a sentence needs in one model input, special
    tokens included (`Aligner.subword_length`); a sentence is too long when that exceeds
    `max_length`, exactly when the Aligner cuts it into windows. Without it the window check
    is skipped. Overlap and missing-type checks compare every
    other split with the split named `"train"` and are skipped when there is none.
    """
    train = splits.get(TRAIN)
    train_keys = {tuple(s.tokens) for s in train} if train is not None else None
    train_types = set(_span_counts(train)) if train is not None else set()
    report = DataReport(max_length, {})
    for name, sentences in splits.items():
        stats = _split_stats(sentences, subword_length, max_length, None if name == TRAIN else train_keys)
        report.splits[name] = stats
        missing = sorted(set(stats.spans) - train_types) if train is not None and name != TRAIN else []
        if missing:
            report.types_missing_from_train[name] = missing
        report.warnings += _warnings(name, stats, missing, max_length)
    return report


def _split_stats(
    sentences: Sequence[Sentence],
    subword_length: Callable[[list[str]], int] | None,
    max_length: int,
    train_keys: set[tuple[str, ...]] | None,
) -> SplitStats:
    repairs = [_repairs(s) for s in sentences]
    long = None
    if subword_length is not None:
        long = sum(subword_length(s.tokens) > max_length for s in sentences)
    overlap = None if train_keys is None else sum(tuple(s.tokens) in train_keys for s in sentences)
    return SplitStats(
        sentences=len(sentences),
        tokens=sum(len(s) for s in sentences),
        unlabelled=sum(s.tags is None for s in sentences),
        spans=dict(sorted(_span_counts(sentences).items())),
        repaired_sentences=sum(r > 0 for r in repairs),
        repaired_tags=sum(repairs),
        long_sentences=long,
        overlap_with_train=overlap,
    )


def _repairs(sentence: Sentence) -> int:
    """Tags the reader repaired in `sentence` (0 for sentences not made by a reader)."""
    value = sentence.meta.get("repaired", 0)
    return value if isinstance(value, int) else 0


def _span_counts(sentences: Sequence[Sentence]) -> Counter[str]:
    return Counter(span.type for s in sentences if s.tags is not None for span in tags_to_spans(s.tags))


def _warnings(name: str, stats: SplitStats, missing: list[str], max_length: int) -> list[str]:
    warnings = []
    if stats.sentences == 0:
        warnings.append(f"{name}: no sentences")
    elif stats.unlabelled == stats.sentences:
        warnings.append(f"{name}: no sentence has tags")
    elif not stats.spans:
        warnings.append(f"{name}: no entity spans at all")
    if stats.repaired_sentences:
        warnings.append(
            f"{name}: {stats.repaired_sentences} ill-formed tag sequences ({stats.repaired_tags} tags) "
            "were repaired with the conlleval convention (I-X without a preceding B-X/I-X starts a span)"
        )
    if stats.long_sentences:
        warnings.append(
            f"{name}: {stats.long_sentences} sentences exceed {max_length} subwords with special tokens; "
            "they will be split into overlapping windows, not truncated"
        )
    if stats.overlap_with_train:
        share = stats.overlap_with_train / stats.sentences
        warnings.append(f"{name}: {stats.overlap_with_train} sentences ({share:.1%}) also occur in train")
    if missing:
        warnings.append(f"{name}: entity types absent from train: {', '.join(missing)}")
    return warnings
