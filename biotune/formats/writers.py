"""Writers from tagged documents to the formats a knowledge-graph pipeline or annotator reads.

Every writer takes `(documents, path)`, writes atomically (a crash leaves no half file) and
returns the number of documents written; `WRITERS` maps a format name to one, so a config or
CLI string picks the output. `brat` (`biotune.formats.brat`) writes a folder of `<id>.txt` +
`<id>.ann` pairs, relations and concept ids included; every other format writes one file.
Offsets stay document-level characters in every format. Document labels go to JSONL (`labels`) and
BioC (document infons); PubTator, brat and CoNLL have no place for them and refuse a labelled document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from biotune.formats.bioc_io import write_bioc_json, write_bioc_xml
from biotune.formats.brat import write_brat
from biotune.formats.documents import Document, document_json, refuse_labels, tagged_sentences
from biotune.formats.pubtator import write_pubtator
from biotune.formats.readers import DOCSTART
from biotune.io import atomic_open
from biotune.registry import Registry

Writer = Callable[[Iterable[Document], str | Path], int]


def write_jsonl(documents: Iterable[Document], path: str | Path) -> int:
    """One `document_record` per line, relations included (read back with `documents.iter_jsonl_documents`)."""
    count = 0
    with atomic_open(path) as out:
        for doc in documents:
            out.write(document_json(doc) + "\n")
            count += 1
    return count


def write_conll(documents: Iterable[Document], path: str | Path) -> int:
    """`token<TAB>BIO tag`, a blank line after each sentence (re-read with `readers.iter_tsv`).

    Each document starts with a `-DOCSTART-<TAB>O` line and a blank line (the CoNLL-2003
    separator), so a re-read keeps which sentences belong together (`Sentence.document`), as
    document context needs. Tags come from `documents.tagged_sentences` (overlapping
    annotations: the earlier, then longer, one is kept, since BIO tags cannot nest). A document
    with labels is refused: CoNLL has no place for them (`documents.refuse_labels`).
    """
    count = 0
    with atomic_open(path) as out:
        for doc in documents:
            refuse_labels(doc, "CoNLL")
            out.write(f"{DOCSTART}\tO\n\n")
            for sentence in tagged_sentences(doc):
                out.writelines(f"{token}\t{tag}\n" for token, tag in zip(sentence.tokens, sentence.tags or []))
                out.write("\n")
            count += 1
    return count


WRITERS: Registry[Writer] = Registry("output format", {
    "jsonl": write_jsonl,
    "pubtator": write_pubtator,
    "bioc-xml": write_bioc_xml,
    "bioc-json": write_bioc_json,
    "conll": write_conll,
    "brat": write_brat,
})
