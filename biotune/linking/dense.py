"""The dense stage: nearest vocabulary name in a trained encoder's embedding space (SapBERT-style).

An encoder fine-tuned so that the names of one concept embed close (`biotune.linking.contrastive`)
links what no string rule reaches: ``renal failure`` -> "Kidney Failure", ``tamoxifen citrate``
-> "Tamoxifen". Every name of a type's vocabularies is embedded once (mean-pooled last layer,
L2-normalised, of its `normalise`d text: the same form on both sides, and names that differ only
in case or punctuation share one row) and a mention links to the concept of its most similar
name (score: cosine). Search is exact (one matrix product per batch of mentions, over the rows of
the mention's type only, so a Chemical never reaches a disease concept): at a few hundred
thousand names an approximate index would save milliseconds and cost recall.

A `DenseLinker` is saved as a folder:

    linker.json    format, pooling, max length, per type its row range and the fingerprints of the
                   vocabularies the rows were built from
    encoder/       the encoder and tokenizer (a standard Hugging Face folder)
    index.npy      (rows, hidden) float16 unit vectors: loaded memory-mapped, never rebuilt at start
    rows.npy       (rows,) int32: the concept of each row
    concepts.tsv   id<TAB>alternative ids, one concept a line, in concept-index order
    names.txt      the normalised name of each row (what a dense link matched)

`DenseLinker.load(folder, vocabularies)` refuses vocabularies that do not include, by fingerprint,
every vocabulary the index was built from: its rows would point at concepts the vocabulary no
longer has. A linker may hold more vocabularies than its index (training mentions it only looks up).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from biotune.errors import BiotuneError
from biotune.linking.links import DENSE, Candidate
from biotune.linking.terms import normalise
from biotune.linking.vocabulary import Vocabulary

FORMAT = 1
MANIFEST = "linker.json"
DEFAULT_MAX_LENGTH = 32  # subwords: vocabulary names and mentions are short; longer ones are cut
DEFAULT_BATCH_SIZE = 256
SEARCH_CHUNK = 16384  # index rows converted to float32 at a time while searching (25 MB at 384 dimensions)
SHORTLIST = 8  # rows kept per wanted concept before rows of one concept are merged


@dataclass
class Encoder:
    """A Hugging Face encoder and its tokenizer, embedding texts as L2-normalised mean-pooled vectors."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    max_length: int = DEFAULT_MAX_LENGTH

    @classmethod
    def load(cls, path: str | Path, max_length: int = DEFAULT_MAX_LENGTH) -> Encoder:
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path), use_fast=True, trust_remote_code=False)
            model = AutoModel.from_pretrained(str(path), trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise BiotuneError(f"cannot load an encoder from {path}: {exc}") from exc
        return cls(model.eval(), tokenizer, max_length)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """(texts, hidden) unit vectors with gradients (training) or without (under `torch.inference_mode`)."""
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt").to(self.model.device)
        hidden = self.model(**batch).last_hidden_state  # (texts, subwords, hidden)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (texts, subwords, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (texts, hidden)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def embed(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """(texts, hidden) float32 unit vectors of `texts`; batches hold texts of similar length (less padding)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chosen = order[start:start + batch_size]
                out[chosen] = self.forward([texts[i] for i in chosen]).float().cpu().numpy()
        return out


@dataclass
class TypeRows:
    """The index rows of one entity type and the vocabularies they were built from."""

    start: int
    end: int
    vocabularies: list[dict[str, str]]  # [{"source": ..., "fingerprint": ...}], in priority order


class DenseLinker:
    """Nearest-name linking over an embedded vocabulary (see the module docstring)."""

    def __init__(self, encoder: Encoder, index: np.ndarray, rows: np.ndarray, concepts: list[tuple[str, tuple[str, ...]]],
                 names: list[str], types: dict[str, TypeRows]) -> None:
        self.encoder = encoder
        self.index = index  # (rows, hidden) float16, memory-mapped once loaded
        self.rows = rows  # (rows,) concept index of each row
        self.concepts = concepts
        self.names = names
        self.types = types

    @classmethod
    def build(cls, encoder: Encoder, vocabularies: Mapping[str, Sequence[Vocabulary]],
              batch_size: int = DEFAULT_BATCH_SIZE) -> DenseLinker:
        """Embed every distinct (normalised name, concept) of each type's vocabularies."""
        concepts: list[tuple[str, tuple[str, ...]]] = []
        concept_index: dict[str, int] = {}
        names: list[str] = []
        rows: list[int] = []
        types: dict[str, TypeRows] = {}
        for type_, vocabs in vocabularies.items():
            alternatives: dict[str, tuple[str, ...]] = {}
            for vocabulary in vocabs:
                for concept, alts in vocabulary.alternatives.items():
                    alternatives[concept] = tuple(dict.fromkeys((*alternatives.get(concept, ()), *alts)))
            start = len(names)
            seen: set[tuple[str, str]] = set()
            for vocabulary in vocabs:
                for term, concept in zip(vocabulary.terms, vocabulary.ids):
                    key = (normalise(term), concept)
                    if not key[0] or key in seen:
                        continue
                    seen.add(key)
                    if concept not in concept_index:
                        concept_index[concept] = len(concepts)
                        concepts.append((concept, alternatives.get(concept, ())))
                    names.append(key[0])
                    rows.append(concept_index[concept])
            types[type_] = TypeRows(start, len(names), [{"source": v.source, "fingerprint": v.fingerprint}
                                                        for v in vocabs])
        distinct = list(dict.fromkeys(names))  # a name in several types' vocabularies is embedded once
        vectors = encoder.embed(distinct, batch_size).astype(np.float16)
        position = {name: i for i, name in enumerate(distinct)}
        index = vectors[[position[name] for name in names]] if names else vectors
        return cls(encoder, index, np.asarray(rows, dtype=np.int32), concepts, names, types)

    def search(self, texts: Sequence[str], type_: str, k: int, batch_size: int = DEFAULT_BATCH_SIZE) -> list[list[Candidate]]:
        """Up to `k` concepts per mention text of type `type_`, best first (score: cosine); none for a type without rows."""
        rows = self.types.get(type_)
        if rows is None or rows.start == rows.end or not texts:
            return [[] for _ in texts]
        queries = self.encoder.embed([normalise(t) or t for t in texts], batch_size)  # (texts, hidden)
        wanted = min(k * SHORTLIST, rows.end - rows.start)
        best_scores = np.full((len(texts), 0), -np.inf, dtype=np.float32)
        best_rows = np.zeros((len(texts), 0), dtype=np.int64)
        for start in range(rows.start, rows.end, SEARCH_CHUNK):
            end = min(start + SEARCH_CHUNK, rows.end)
            scores = queries @ np.asarray(self.index[start:end], dtype=np.float32).T  # (texts, chunk)
            scores = np.concatenate([best_scores, scores], axis=1)
            ids = np.concatenate([best_rows, np.broadcast_to(np.arange(start, end), (len(texts), end - start))], axis=1)
            keep = np.argpartition(-scores, wanted - 1, axis=1)[:, :wanted] if scores.shape[1] > wanted else \
                np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
            best_scores = np.take_along_axis(scores, keep, axis=1)
            best_rows = np.take_along_axis(ids, keep, axis=1)
        found = []
        for scores, ids in zip(best_scores, best_rows):
            ranked: dict[str, Candidate] = {}
            for position in np.lexsort((ids, -scores)):
                concept, alternatives = self.concepts[self.rows[ids[position]]]
                if concept not in ranked:
                    ranked[concept] = Candidate(concept, float(scores[position]), DENSE, self.names[ids[position]],
                                                alternatives)
            found.append(list(ranked.values())[:k])
        return found

    # ---- the folder ----------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the linker folder (to a temporary name, renamed when complete); an existing folder is refused."""
        folder = Path(folder)
        if folder.exists():
            raise BiotuneError(f"linker folder {folder} already exists: choose a new folder")
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        self.encoder.model.save_pretrained(partial / "encoder")
        self.encoder.tokenizer.save_pretrained(partial / "encoder")
        np.save(partial / "index.npy", np.ascontiguousarray(self.index, dtype=np.float16))
        np.save(partial / "rows.npy", np.asarray(self.rows, dtype=np.int32))
        (partial / "concepts.tsv").write_text("".join(f"{c}\t{'|'.join(a)}\n" for c, a in self.concepts), encoding="utf-8")
        (partial / "names.txt").write_text("".join(f"{name}\n" for name in self.names), encoding="utf-8")
        manifest = {"format": FORMAT, "pooling": "mean", "max_length": self.encoder.max_length,
                    "types": {t: {"start": r.start, "end": r.end, "vocabularies": r.vocabularies}
                              for t, r in self.types.items()}}
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, folder)
        return folder

    @classmethod
    def load(cls, folder: str | Path, vocabularies: Mapping[str, Sequence[Vocabulary]] | None = None) -> DenseLinker:
        """A saved linker, its index memory-mapped; with `vocabularies`, each type's must match the index's fingerprints."""
        folder = Path(folder)
        manifest_file = folder / MANIFEST
        if not manifest_file.is_file():
            raise BiotuneError(f"{folder} is not a dense linker folder (no {MANIFEST})")
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BiotuneError(f"{manifest_file}: not valid JSON ({exc})") from None
        if manifest.get("format") != FORMAT:
            raise BiotuneError(f"{manifest_file}: linker format {manifest.get('format')!r}, this biotune reads {FORMAT}")
        types = {t: TypeRows(r["start"], r["end"], r["vocabularies"]) for t, r in manifest["types"].items()}
        if vocabularies is not None:
            check_fingerprints(folder, types, vocabularies)
        concepts = []
        for line in (folder / "concepts.tsv").read_text(encoding="utf-8").splitlines():
            concept, _, alternatives = line.partition("\t")
            concepts.append((concept, tuple(a for a in alternatives.split("|") if a)))
        names = (folder / "names.txt").read_text(encoding="utf-8").split("\n")[:-1]
        encoder = Encoder.load(folder / "encoder", manifest["max_length"])
        return cls(encoder, np.load(folder / "index.npy", mmap_mode="r"), np.load(folder / "rows.npy", mmap_mode="r"),
                   concepts, names, types)


def check_fingerprints(folder: Path, types: Mapping[str, TypeRows], vocabularies: Mapping[str, Sequence[Vocabulary]]) -> None:
    """A `BiotuneError` naming the folder, the type and the vocabulary when the index was built from a
    vocabulary that `vocabularies` do not hold (same fingerprint). The linker may hold more
    vocabularies than the index (a corpus's training mentions, looked up but not embedded), and fewer
    types: the rows of a type it does not link (a disease-only linker over an index that also holds
    chemicals) are never searched, so they need no vocabulary."""
    for type_, rows in types.items():
        if type_ not in vocabularies:
            continue
        given = {v.fingerprint: v.source for v in vocabularies.get(type_, ())}
        for built in rows.vocabularies:
            if built["fingerprint"] not in given:
                held = ", ".join(f"{source} ({fingerprint})" for fingerprint, source in given.items()) or "none"
                raise BiotuneError(f"linker folder {folder} was built for {type_} from vocabulary {built['source']} "
                                   f"(fingerprint {built['fingerprint']}), which the vocabularies given for {type_} "
                                   f"are not: {held}; link with the vocabularies it was built from, or rebuild it")
