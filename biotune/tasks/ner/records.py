"""NER prediction on new data, records in and records out (the task contract's prediction steps).

Input records: ``{"id"?, "text"}`` (raw text, split into words here with character offsets kept;
a plain string is the same), or ``{"id"?, "tokens": [...]}`` (pre-tokenised), each with an
optional ``"document"`` (a string or an integer): consecutive records of one document lend each
other context when the model was trained with `ner.context`, as in training.

Input files (`read_records`, by the readers of `biotune.formats.readers`): ``jsonl`` (one
``{"id", "tokens", "document"}`` object a line; a tag field is not read), ``text`` (one sentence
a line, blank lines skipped), ``tsv`` / ``conll`` (``token<TAB>tag`` rows, the tags read past, a
``-DOCSTART-`` line starting a document), ``brat`` (a folder of ``<id>.txt`` + ``<id>.ann`` pairs, or
one ``.ann`` or ``.txt`` file of it: `biotune.formats.brat`; its annotations are read past). Default:
a folder holding ``.ann`` files or an ``.ann`` file is brat, else by the file's extension, else text.

A brat document is split into sentences as training splits documents
(`biotune.formats.documents.document_sentences`): each becomes a record with its ``text``, its
``document`` (the document id: sentences of a document lend each other context) and ``offset``
(where its text starts in the document's ``.txt``), so ``offset + start_char`` is an entity's
brat offset, and the id ``<document>:<offset>``.

Output record, one per input record, in order (written as JSON Lines):
    {"sentence_id", "tokens", "predictions": [{"entity", "type", "start_token", "end_token",
     "score", ["start_char", "end_char"]}], ["text"], ["document"], ["offset"]}
`sentence_id` is the input's `id` (left out when it has none); `end_token` is exclusive (Python
slicing: tokens[start_token:end_token] is the entity); character offsets (also end-exclusive)
and `text` are present when the input was raw text, with ``text[start_char:end_char] == entity``;
``offset`` is passed through from the input (brat: where the text starts in its document).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from biotune.errors import BiotuneError
from biotune.formats.brat import is_brat_folder, iter_brat
from biotune.formats.documents import document_sentences
from biotune.formats.readers import EXTENSIONS, iter_corpus_file
from biotune.formats.sentence import Sentence, Span
from biotune.formats.text import tokenize
from biotune.tasks.ner.context import document_keys
from biotune.tasks.ner.tagger import Tagger

INPUT_FORMATS = ("jsonl", "text", "tsv", "conll", "brat")
BRAT = "brat"


def read_records(path: str | Path, format: str | None = None) -> Iterator[dict[str, Any]]:
    """The input records of a file, lazily; errors name the file and line (the corpus readers')."""
    path = Path(path)
    if format == BRAT or (format is None and (is_brat_folder(path) or path.suffix.lower() == ".ann")):
        yield from _brat_records(path)
        return
    fmt = format or EXTENSIONS.get(path.suffix.lower(), "text")
    options = {"tag_field": None} if fmt == "jsonl" else {}
    for sentence in iter_corpus_file(path, fmt, **options):
        record: dict[str, Any] = {"id": sentence.id}
        if sentence.text is not None:
            record["text"] = sentence.text
        else:
            record["tokens"] = sentence.tokens
        if sentence.document is not None:
            record["document"] = sentence.document
        yield record


def _brat_records(path: Path) -> Iterator[dict[str, Any]]:
    """One record per sentence of each brat document (see the module docstring)."""
    for doc in iter_brat(path):
        for sentence in document_sentences(doc):
            if not sentence.offsets or sentence.text is None:
                continue  # no word to tag
            start, end = sentence.offsets[0][0], sentence.offsets[-1][1]
            yield {"id": f"{doc.id}:{start}", "text": sentence.text[start:end], "document": doc.id, "offset": start}


def predict_records(tagger: Tagger, records: Sequence[Mapping[str, Any] | str]) -> list[dict[str, Any]]:
    """Each record with its entities (see the module docstring), tagged together: records of one
    document read each other as context."""
    given = [{"text": record} if isinstance(record, str) else record for record in records]
    sentences = [_sentence(k, record) for k, record in enumerate(given)]
    tagged = tagger.predict([s.tokens for s in sentences], document_keys(sentences))
    return [output_record(record, sentence, spans) for record, sentence, (_, spans) in zip(given, sentences, tagged)]


def output_record(record: Mapping[str, Any], sentence: Sentence, spans: Sequence[Span]) -> dict[str, Any]:
    """The output record of one input record, tagged as `sentence` with `spans`."""
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
    out: dict[str, Any] = {} if record.get("id") is None else {"sentence_id": record["id"]}
    out |= {"tokens": sentence.tokens, "predictions": predictions}
    if sentence.text is not None:
        out["text"] = sentence.text
    if record.get("document") is not None:
        out["document"] = record["document"]
    if record.get("offset") is not None:
        out["offset"] = record["offset"]
    return out


def document_chunks(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Lists of at least `size` records (the last may hold fewer) that never cut a document, so
    with document context every sentence reads the same neighbours as if the file were one chunk."""
    chunk: list[dict[str, Any]] = []
    for record in records:
        document = record.get("document")
        if len(chunk) >= size and (document is None or document != chunk[-1].get("document")):
            yield chunk
            chunk = []
        chunk.append(record)
    if chunk:
        yield chunk


def _sentence(index: int, record: Mapping[str, Any]) -> Sentence:
    """The sentence of one input record; a record that is not one is a `BiotuneError` naming its position (and id)."""
    if not isinstance(record, Mapping):
        raise BiotuneError(f"record {index}: expected a text or an object with 'text' or 'tokens', "
                           f"found {type(record).__name__}")
    where = f"record {record['id']!r}" if record.get("id") is not None else f"record {index}"
    text, tokens = record.get("text"), record.get("tokens")
    if (text is None) == (tokens is None):
        raise BiotuneError(f"{where}: give one of 'text' (raw text) or 'tokens' (a list of words)")
    document = record.get("document")
    if document is not None and (isinstance(document, bool) or not isinstance(document, (str, int))):
        raise BiotuneError(f"{where}: 'document' must be a string or an integer, not {type(document).__name__}")
    document = None if document is None else str(document)
    if text is not None:
        if not isinstance(text, str):
            raise BiotuneError(f"{where}: 'text' must be a string, not {type(text).__name__}")
        words = tokenize(text)
        return Sentence([w for w, _, _ in words], text=text, offsets=[(s, e) for _, s, e in words],
                        document=document)
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t.strip() for t in tokens):
        raise BiotuneError(f"{where}: 'tokens' must be a list of non-empty strings")
    return Sentence(list(tokens), document=document)
