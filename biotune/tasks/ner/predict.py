"""Streaming prediction to KG-ready JSONL.

Input is read lazily (any reader: JSONL of pre-tokenised sentences, plain text, TSV), tagged in
chunks, and written line by line to a temporary file that is renamed onto the output only when
every sentence is done, so a file larger than memory works and a crash leaves no half file.

Output line:
    {"sentence_id", "tokens", "predictions": [{"entity", "type", "start_token", "end_token",
     "score", ["start_char", "end_char"]}], ["text"]}
`end_token` is exclusive (Python slicing: tokens[start_token:end_token] is the entity);
character offsets (also end-exclusive) are present when the input was raw text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from biotune.formats.readers import EXTENSIONS, iter_corpus_file
from biotune.formats.sentence import Sentence, Span
from biotune.tasks.ner.context import document_keys
from biotune.tasks.ner.tagger import Tagger
from biotune.io import atomic_open, check_output


def record(sentence: Sentence, spans: Sequence[Span]) -> dict[str, Any]:
    """The JSONL record of one tagged sentence."""
    predictions = []
    for span in spans:
        item: dict[str, Any] = {
            "entity": " ".join(sentence.tokens[span.start : span.end]),
            "type": span.type,
            "start_token": span.start,
            "end_token": span.end,
            "score": round(span.score, 6) if span.score is not None else None,
        }
        if sentence.offsets is not None and sentence.text is not None:
            start, end = sentence.offsets[span.start][0], sentence.offsets[span.end - 1][1]
            item.update(entity=sentence.text[start:end], start_char=start, end_char=end)
        predictions.append(item)
    out: dict[str, Any] = {"sentence_id": sentence.id, "tokens": sentence.tokens, "predictions": predictions}
    if sentence.text is not None:
        out["text"] = sentence.text
    return out


def tag_stream(tagger: Tagger, sentences: Iterable[Sentence], chunk_size: int = 2048) -> Iterator[dict[str, Any]]:
    """Tag sentences chunk by chunk (chunks are length-sorted inside the tagger).

    A chunk ends only where the document changes (`Sentence.document`), so with document
    context every sentence reads the same neighbours as if the whole file were one chunk.
    """
    for chunk in _document_chunks(sentences, chunk_size):
        for sentence, (_, spans) in zip(chunk, tagger.predict([s.tokens for s in chunk], document_keys(chunk))):
            yield record(sentence, spans)


def _document_chunks(sentences: Iterable[Sentence], size: int) -> Iterator[list[Sentence]]:
    """Lists of at least `size` sentences (the last may hold fewer) that never cut a document."""
    chunk: list[Sentence] = []
    for sentence in sentences:
        if len(chunk) >= size and (sentence.document is None or sentence.document != chunk[-1].document
                                   or sentence.source != chunk[-1].source):
            yield chunk
            chunk = []
        chunk.append(sentence)
    if chunk:
        yield chunk


def count_units(path: Path, format: str) -> int:
    """Approximate sentence count for the progress bar (lines, or blank-line blocks for TSV)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        if format in ("tsv", "conll"):
            return sum(1 for line in handle if not line.strip()) + 1
        return sum(1 for line in handle if line.strip())


def predict_file(
    tagger: Tagger,
    input_path: str | Path,
    output_path: str | Path,
    format: str | None = None,
    chunk_size: int = 2048,
    on_progress: Callable[[int], None] | None = None,
    overwrite: bool = False,
) -> int:
    """Tag every sentence of `input_path` into JSONL at `output_path`; returns the count.

    The output may not be the input, and an existing output is replaced only with
    `overwrite` (`biotune.io.check_output`); both are checked before anything is tagged.
    """
    input_path = Path(input_path)
    check_output(output_path, [input_path], overwrite)
    fmt = format or EXTENSIONS.get(input_path.suffix.lower(), "text")
    options = {"tag_field": None} if fmt == "jsonl" else {}
    sentences = iter_corpus_file(input_path, fmt, **options)
    n = 0
    with atomic_open(output_path) as out:
        for rec in tag_stream(tagger, sentences, chunk_size):
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
            if on_progress is not None:
                on_progress(1)
    return n
