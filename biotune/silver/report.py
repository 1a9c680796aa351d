"""What a silver-labelling run did, counted while it streams, and its JSON/Markdown report.

Counts: sentences, tokens, labels added per type and the most frequent terms per type. When
the input has gold tags, the dictionary's own labels (what the matcher finds with the input
tags ignored, see `label.Labelled.found`) are scored against the gold spans of the
dictionary's types: strict span match, spans read by `schemes.tags_to_spans` (seqeval's
conlleval semantics) and ratios by `metrics.Scores`, exactly as `metrics.evaluate_tags` scores
them per type, but summed sentence by sentence so a corpus of any size streams through. A
type is scored when the gold has at least one span of it; a sentence whose
`annotated_types` excludes a type does not count for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from biotune.formats.schemes import tags_to_spans
from biotune.scores import Scores
from biotune.io import write_json, write_text
from biotune.silver.dictionary import Dictionary
from biotune.silver.matcher import Match
from biotune.tables import markdown_table

_COUNTS = ("rows", "kept", "other category", "too short", "stop word", "duplicate")
_COUNT_ALIGN = ("left", "right")  # a name, then how many


@dataclass
class DictionaryInfo:
    """One dictionary of the run: its file, types, case handling and row counts (see `Dictionary`)."""

    name: str
    types: list[str]
    case_sensitive: bool
    counts: dict[str, int]


@dataclass
class SilverReport:
    """The result of `label.label_corpus`; `to_dict` is the JSON form.

    `labels` and `top_terms` count the labels written to the output (those the input tags left
    room for); `scores` rate the dictionary's own labels against gold, per scored type.
    """

    input: str
    output: str
    tag_field: str
    dictionaries: list[DictionaryInfo]
    sentences: int
    tokens: int
    labelled_sentences: int
    labels: dict[str, int]
    top_terms: dict[str, list[tuple[str, int]]]
    gold_sentences: int
    gold_types: dict[str, int]
    scores: dict[str, Scores]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["top_terms"] = {type_: [list(pair) for pair in terms] for type_, terms in self.top_terms.items()}
        data["scores"] = {type_: scores.to_dict() for type_, scores in self.scores.items()}
        return data

    def render_markdown(self) -> str:
        total = [str(n) for n in (self.sentences, self.tokens, self.labelled_sentences, sum(self.labels.values()))]
        dictionaries = [
            [f"`{info.name}`", ", ".join(info.types), "exact" if info.case_sensitive else "ignored",
             *(str(info.counts.get(key, 0)) for key in _COUNTS)]
            for info in self.dictionaries
        ]
        labels = [[type_, str(n)] for type_, n in self.labels.items()] or [["(none)", "0"]]
        lines = [
            "# Silver labels",
            "",
            f"`{self.input}` → `{self.output}` (tag field `{self.tag_field}`)",
            "",
            markdown_table(("sentences", "tokens", "sentences labelled", "labels"), [total], ["right"] * 4),
            "",
            "## Dictionaries",
            "",
            markdown_table(("dictionary", "types", "case", *_COUNTS), dictionaries,
                           ["left"] * 3 + ["right"] * len(_COUNTS)),
            "",
            "## Labels per type",
            "",
            markdown_table(("type", "labels"), labels, _COUNT_ALIGN),
        ]
        for type_, terms in self.top_terms.items():
            lines += ["", f"### Most frequent terms: {_escape(type_)}", "",
                      markdown_table(("term", "labels"), [[f"`{term}`", str(n)] for term, n in terms], _COUNT_ALIGN)]
        if self.scores:
            scores = [[type_, *(f"{100 * value:.2f}" for value in (s.precision, s.recall, s.f1)),
                       str(s.support), str(s.predicted), str(s.tp)] for type_, s in self.scores.items()]
            lines += [
                "",
                "## Dictionary labels against gold",
                "",
                f"The dictionary's own labels (input tags ignored), strict span match, {self.gold_sentences} "
                "sentences with gold tags.",
                "",
                markdown_table(("type", "P", "R", "F1", "gold spans", "dictionary spans", "correct"), scores,
                               ["left"] + ["right"] * 6),
            ]
        if self.notes:
            lines += ["", "## Notes", "", *(f"- {note}" for note in self.notes)]
        return "\n".join(lines) + "\n"


@dataclass
class SilverStats:
    """Running counts of one labelling run; `add` takes one sentence, `report` sums up."""

    types: frozenset[str]
    sentences: int = 0
    tokens: int = 0
    labelled_sentences: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    terms: dict[str, Counter[str]] = field(default_factory=dict)
    gold_sentences: int = 0
    gold_types: Counter[str] = field(default_factory=Counter)
    support: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    correct: Counter[str] = field(default_factory=Counter)

    def add(
        self,
        n_tokens: int,
        added: Sequence[Match],
        found: Sequence[Match],
        gold: Sequence[str] | None,
        annotated_types: frozenset[str] | None = None,
    ) -> None:
        """Count one sentence: `added` labels written, `found` dictionary labels, `gold` input tags."""
        self.sentences += 1
        self.tokens += n_tokens
        self.labelled_sentences += bool(added)
        for match in added:
            self.labels[match.type] += 1
            self.terms.setdefault(match.type, Counter())[match.term] += 1
        if gold is not None:
            self._score(found, gold, self.types if annotated_types is None else self.types & annotated_types)

    def _score(self, found: Sequence[Match], gold: Sequence[str], types: frozenset[str]) -> None:
        self.gold_sentences += 1
        gold_spans = set(tags_to_spans(gold)) if gold.count("O") != len(gold) else set()
        self.gold_types.update(span.type for span in gold_spans)
        gold_keys = {(span.start, span.end, span.type) for span in gold_spans if span.type in types}
        found_keys = {(match.start, match.end, match.type) for match in found if match.type in types}
        self.support.update(key[2] for key in gold_keys)
        self.predicted.update(key[2] for key in found_keys)
        self.correct.update(key[2] for key in gold_keys & found_keys)

    def report(
        self, input: str, output: str, tag_field: str, dictionaries: Sequence[Dictionary], top: int
    ) -> SilverReport:
        """The final report; `top` terms per type, most frequent first (ties alphabetical)."""
        scored = sorted(type_ for type_ in self.types if self.support[type_])
        notes = []
        unscored = sorted(self.types - set(scored))
        if self.gold_sentences and unscored:
            gold = ", ".join(sorted(self.gold_types)) or "none"
            notes.append(
                f"not scored against gold: {', '.join(unscored)}, a type the gold has no span of (gold span types: "
                f"{gold}); name a dictionary's type as the gold does (type=...) to score it"
            )
        return SilverReport(
            input=input,
            output=output,
            tag_field=tag_field,
            dictionaries=[DictionaryInfo(d.name, d.types, d.case_sensitive, d.counts) for d in dictionaries],
            sentences=self.sentences,
            tokens=self.tokens,
            labelled_sentences=self.labelled_sentences,
            labels=dict(sorted(self.labels.items())),
            top_terms={
                type_: sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
                for type_, counts in sorted(self.terms.items())
            },
            gold_sentences=self.gold_sentences,
            gold_types=dict(sorted(self.gold_types.items())),
            scores={
                type_: Scores.from_counts(self.correct[type_], self.support[type_], self.predicted[type_])
                for type_ in scored
            },
            notes=notes,
        )


def report_paths(folder: str | Path, stem: str) -> tuple[Path, Path]:
    """`<folder>/<stem>.json` and `<folder>/<stem>.md`: where a report goes."""
    folder = Path(folder)
    return folder / f"{stem}.json", folder / f"{stem}.md"


def write_report(report: SilverReport, json_path: Path, md_path: Path) -> None:
    """Write `report` as JSON and Markdown, atomically."""
    write_json(json_path, report.to_dict())
    write_text(md_path, report.render_markdown())


def _escape(text: str) -> str:
    return text.replace("|", "\\|")
