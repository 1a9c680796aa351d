"""Tag whole documents: split into sentences, tag them all in one length-sorted pass, map back.

This is the one path from raw text to document-level entities; `biotune tag`, the Ray job and
the HTTP service all call `tag_documents`, so a text gets the same entities from each of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from biotune.formats.documents import Document, Passage, document_sentences, with_predictions
from biotune.tasks.ner.tagger import Tagger


def text_document(doc_id: str, text: str) -> Document:
    """A one-passage document (passage type `text`) holding `text` at offset 0."""
    return Document(doc_id, [Passage("text", text)])


def tag_documents(tagger: Tagger, documents: Sequence[Document]) -> list[Document]:
    """`documents` with their annotations replaced by the tagger's predicted entities.

    The sentences of all documents go to the tagger together, so a call with many short
    documents batches as well as one with a long document. With document context (a model
    trained with `ner.context`), each sentence reads its neighbours in its own document only
    (keyed by position in `documents`, so two documents sharing an id stay apart): a document's
    entities never depend on the documents tagged with it. Entity offsets are document
    characters: `doc.text[a.start_char:a.end_char] == a.text`.
    """
    per_document = [document_sentences(doc) for doc in documents]
    flat = [sentence for sentences in per_document for sentence in sentences]
    keys = [i for i, sentences in enumerate(per_document) for _ in sentences]
    predictions = tagger.predict([sentence.tokens for sentence in flat], keys)
    out, k = [], 0
    for doc, sentences in zip(documents, per_document):
        spans = [spans for _, spans in predictions[k : k + len(sentences)]]
        out.append(with_predictions(doc, sentences, spans))
        k += len(sentences)
    return out
