"""`label_corpus`: stream a corpus through dictionaries into a silver-tagged corpus.

Sentences are read one at a time (`iter_corpus_file`: TSV, JSONL or text), matched, and
written line by line to a temporary file renamed onto the output only when every sentence is
done, so any size streams and an error leaves nothing half-written.

Input tags are kept: a dictionary label is added only where every token it covers is ``O``,
and the sentence's own tags stay as they are (`drop_tags=True` labels from the dictionaries
alone). Output tags are BIO. Formats, chosen by the output's extension or `output_format`:

- ``jsonl``: ``{"id", "tokens", ["tags"], <tag_field>, ["annotated_types"]}`` per line.
  ``tags`` holds the input tags when they are kept (so `tag_field` may be ``tags`` only when
  there are none); ``annotated_types`` the types `tag_field` annotates: the dictionaries'
  types when it holds dictionary labels only, else the input's `annotated_types` plus the
  dictionaries' types (absent when the input's was absent).
- ``tsv``: ``token<TAB>tag`` lines (the `tag_field` tags), a blank line after each sentence.

Both read back with `biotune.formats.readers` (JSONL with ``tag_field=<tag_field>``).

A silver corpus built from a test split is test text too, so an input that is one (by real path
or content, `biotune.corpora.leak_guard`: a registered corpus's test file found in
`$BIOTUNE_DATA_DIR`, the cache or a folder above the input, or the test file of the corpus folder
it sits in) is refused before anything is written, unless `allow_test`: scoring dictionaries
against a test split's gold (the report) is an evaluation, not training data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biotune.corpora.leak_guard import NEVER, leak_guard
from biotune.formats.readers import EXTENSIONS, iter_corpus_file
from biotune.formats.sentence import Sentence
from biotune.errors import BiotuneError
from biotune.io import atomic_open, check_output
from biotune.silver.dictionary import load_dictionary
from biotune.silver.matcher import Match, Matcher, longest_first
from biotune.silver.report import SilverReport, SilverStats, report_paths, write_report
from biotune.silver.spec import DictionarySpec

RESERVED_FIELDS = ("id", "tokens", "annotated_types")
SILVER_FROM_TEST = (f"a silver corpus built from it is test text too, and {NEVER}; label a train split, or pass "
                    "--allow-test (allow_test=True) only to score the dictionaries against its gold")


@dataclass(frozen=True, slots=True)
class Labelled:
    """One sentence labelled: the output `tags`, the matches `added` to them, and `found`, the
    dictionaries' own labelling with the input tags ignored (what the report scores)."""

    tags: list[str]
    added: list[Match]
    found: list[Match]


@dataclass(frozen=True)
class SilverResult:
    """What `label_corpus` wrote: the labelled corpus, and the report (also as JSON and Markdown)."""

    report: SilverReport
    output: Path
    report_json: Path
    report_markdown: Path


def label_sentence(sentence: Sentence, matcher: Matcher, drop_tags: bool = False) -> Labelled:
    """Label `sentence` with `matcher`: its tags kept (unless `drop_tags`), matches added in O regions."""
    candidates = matcher.candidates(sentence.tokens)
    found = longest_first(candidates)
    gold = None if drop_tags else sentence.tags
    if gold is None:
        return Labelled(_with_matches(["O"] * len(sentence), found), found, found)
    added = found if gold.count("O") == len(gold) else longest_first(candidates, gold)
    return Labelled(_with_matches(list(gold), added), added, found)


def label_corpus(
    input_path: str | Path,
    output_path: str | Path,
    dictionaries: Sequence[DictionarySpec],
    *,
    tag_field: str = "silver_tags",
    drop_tags: bool = False,
    input_format: str | None = None,
    input_options: Mapping[str, Any] | None = None,
    output_format: str | None = None,
    report_dir: str | Path | None = None,
    top: int = 20,
    overwrite: bool = False,
    allow_test: bool = False,
) -> SilverResult:
    """Label every sentence of `input_path` with `dictionaries` into `output_path`, and report.

    `input_format` / `input_options` go to `iter_corpus_file` (e.g. ``{"tag_field": None}``
    for JSONL without tags). The report, `<output stem>.report.json` and `.md`, goes into
    `report_dir` (default: the output's folder) and lists the `top` terms per type. Raises
    `BiotuneError` for bad dictionaries, input, or options; the output is then not written.
    Neither the output nor the report may be the input or a dictionary file, and existing
    ones are replaced only with `overwrite` (`biotune.io.check_output`). An input that is a test
    split is refused unless `allow_test` (see the module docstring): its output is then test text.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if not allow_test:
        leak_guard([], [input_path]).refuse(input_path, "silver input", SILVER_FROM_TEST)
    json_path, md_path = report_paths(report_dir or output_path.parent, f"{output_path.stem}.report")
    sources = [input_path, *(p for spec in dictionaries for p in (spec.path, spec.stop_list) if p is not None)]
    for path, what in ((output_path, "output"), (json_path, "report"), (md_path, "report")):
        check_output(path, sources, overwrite, what=what)
    if not dictionaries:
        raise BiotuneError("no dictionary given")
    if not tag_field.strip() or tag_field in RESERVED_FIELDS:
        raise BiotuneError(f"tag field {tag_field!r} is empty or reserved ({', '.join(RESERVED_FIELDS)})")
    write = _writer(output_path, output_format)
    loaded = [load_dictionary(spec) for spec in dictionaries]
    matcher = Matcher(loaded)
    stats = SilverStats(matcher.types)
    sentences = iter_corpus_file(input_path, input_format, **dict(input_options or {}))
    with atomic_open(output_path) as out:
        for sentence in sentences:
            labelled = label_sentence(sentence, matcher, drop_tags)
            stats.add(len(sentence), labelled.added, labelled.found, sentence.tags, sentence.annotated_types)
            out.write(write(sentence, labelled.tags, tag_field, not drop_tags, matcher.types))
    report = stats.report(str(input_path), str(output_path), tag_field, loaded, top)
    write_report(report, json_path, md_path)
    return SilverResult(report, output_path, json_path, md_path)


Writer = Callable[[Sentence, list[str], str, bool, frozenset[str]], str]


def _jsonl_line(sentence: Sentence, tags: list[str], tag_field: str, keep: bool, types: frozenset[str]) -> str:
    record: dict[str, object] = {"id": sentence.id, "tokens": sentence.tokens}
    if keep and sentence.tags is not None:
        if tag_field == "tags":
            raise BiotuneError(
                f"{sentence.source}: the input tags are kept in field 'tags': name the silver field otherwise "
                "or drop the input tags"
            )
        record["tags"] = sentence.tags
        annotated = None if sentence.annotated_types is None else sentence.annotated_types | types
    else:
        annotated = types
    record[tag_field] = tags
    if annotated is not None:
        record["annotated_types"] = sorted(annotated)
    return json.dumps(record, ensure_ascii=False) + "\n"


def _tsv_block(sentence: Sentence, tags: list[str], tag_field: str, keep: bool, types: frozenset[str]) -> str:
    block = "".join(map("{}\t{}\n".format, sentence.tokens, tags))
    if block.count("\n") != len(tags) or block.count("\t") != len(tags):
        raise BiotuneError(
            f"{sentence.source}: sentence {sentence.id!r} has a token with a tab or line break, "
            "which TSV cannot hold; write JSONL instead"
        )
    return block + "\n"


WRITERS: dict[str, Writer] = {"jsonl": _jsonl_line, "tsv": _tsv_block}


def _writer(path: Path, format: str | None) -> Writer:
    name = format or EXTENSIONS.get(path.suffix.lower())
    if name not in WRITERS:
        raise BiotuneError(
            f"cannot write {path} as {name or repr(path.suffix)}: silver output is "
            f"{' or '.join(WRITERS)} (by extension .jsonl/.tsv, or output_format=)"
        )
    return WRITERS[name]


def _with_matches(tags: list[str], matches: Sequence[Match]) -> list[str]:
    """`tags` with each match written over it in BIO (matches never overlap)."""
    for match in matches:
        tags[match.start] = f"B-{match.type}"
        tags[match.start + 1 : match.end] = [f"I-{match.type}"] * (match.end - match.start - 1)
    return tags
