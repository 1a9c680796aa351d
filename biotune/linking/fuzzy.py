"""The fuzzy stage: character 3-gram TF-IDF nearest neighbours among a type's normalised names.

What scispaCy's candidate generator does for UMLS (`TfidfVectorizer(analyzer="char_wb",
ngram_range=(3, 3))`, cosine nearest neighbours), here with an exact sparse product instead of
an approximate index: a type's vocabulary holds at most a few hundred thousand names, and one
sparse matrix product per batch of mentions finds their neighbours in milliseconds. It finds
what exact and normalised look-up cannot: spelling variants (``haemorrhage`` / ``hemorrhage``),
word-order changes and inflections (``tumor of the kidney`` / ``kidney tumors``). The score is the
cosine of the two TF-IDF vectors, 1.0 for identical n-gram profiles.

Fitting the vectoriser over MEDIC or MeSH takes seconds; a saved index (`save` / `load`: the
n-grams in column order, their idf weights and the matrix as plain ``.npy`` arrays, memory-mapped)
loads in a fraction of that and gives the same scores, so a linker folder is fitted once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

NGRAM = 3
NGRAMS_FILE = "fuzzy_ngrams.json"
ARRAYS = ("idf", "data", "indices", "indptr")  # saved as fuzzy_<name>.npy


def _vectorizer(vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(NGRAM, NGRAM), dtype=np.float32, vocabulary=vocabulary)


class FuzzyIndex:
    """Cosine nearest neighbours of texts among the names whose TF-IDF vectors are the columns of `matrix`."""

    def __init__(self, vectorizer: TfidfVectorizer, matrix: sparse.csr_matrix) -> None:
        self.vectorizer = vectorizer
        self.matrix = matrix  # (n-grams, names), CSR

    @classmethod
    def fit(cls, names: Sequence[str]) -> FuzzyIndex:
        """The index of `names` (already `normalise`d, distinct); a name's column is its position."""
        vectorizer = _vectorizer()
        return cls(vectorizer, vectorizer.fit_transform(list(names)).T.tocsr())

    def nearest(self, texts: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        """For each (normalised) text, up to `k` ``(name index, cosine)`` pairs, best first; none share no n-gram."""
        if not texts:
            return []
        scores = (self.vectorizer.transform(texts) @ self.matrix).tocsr()  # (texts, names), sparse
        found = []
        for row in range(scores.shape[0]):
            start, end = scores.indptr[row], scores.indptr[row + 1]
            columns, values = scores.indices[start:end], scores.data[start:end]
            top = np.argsort(-values, kind="stable")[:k] if len(values) <= 4 * k else _top(values, k)
            found.append([(int(columns[i]), float(values[i])) for i in top])
        return found

    def save(self, folder: Path) -> None:
        """The fitted n-grams, idf weights and matrix into `folder` (which exists)."""
        vocabulary: dict[str, int] = self.vectorizer.vocabulary_
        ngrams = sorted(vocabulary, key=vocabulary.__getitem__)
        (folder / NGRAMS_FILE).write_text(json.dumps(ngrams, ensure_ascii=False), encoding="utf-8")
        arrays = {"idf": self.vectorizer.idf_.astype(np.float32), "data": self.matrix.data,
                  "indices": self.matrix.indices, "indptr": self.matrix.indptr}
        for name in ARRAYS:
            np.save(folder / f"fuzzy_{name}.npy", arrays[name])

    @classmethod
    def load(cls, folder: Path, names: int) -> FuzzyIndex:
        """The index `save` wrote for `names` names; its arrays memory-mapped, nothing refitted."""
        ngrams = json.loads((folder / NGRAMS_FILE).read_text(encoding="utf-8"))
        vectorizer = _vectorizer({ngram: column for column, ngram in enumerate(ngrams)})
        idf, data, indices, indptr = (np.load(folder / f"fuzzy_{name}.npy", mmap_mode="r") for name in ARRAYS)
        vectorizer.idf_ = np.asarray(idf)
        return cls(vectorizer, sparse.csr_matrix((data, indices, indptr), shape=(len(ngrams), names)))


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` largest values, largest first (ties by position)."""
    part = np.argpartition(-values, k - 1)[:k]
    return part[np.lexsort((part, -values[part]))]
