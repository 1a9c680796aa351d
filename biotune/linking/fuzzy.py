"""The fuzzy stage: character 3-gram TF-IDF nearest neighbours among a type's normalised names.

What scispaCy's candidate generator does for UMLS (`TfidfVectorizer(analyzer="char_wb",
ngram_range=(3, 3))`, cosine nearest neighbours), here with an exact sparse product instead of
an approximate index: a type's vocabulary holds at most a few hundred thousand names, and one
sparse matrix product per batch of mentions finds their neighbours in milliseconds. It finds
what exact and normalised look-up cannot: spelling variants (``haemorrhage`` / ``hemorrhage``),
word-order changes and inflections (``tumor of the kidney`` / ``kidney tumors``). The score is the
cosine of the two TF-IDF vectors, 1.0 for identical n-gram profiles.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

NGRAM = 3


class FuzzyIndex:
    """Cosine nearest neighbours of texts among `names` (already `normalise`d, distinct)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(NGRAM, NGRAM), dtype=np.float32)
        self.matrix = self.vectorizer.fit_transform(self.names).T.tocsr()  # (n-grams, names)

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


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` largest values, largest first (ties by position)."""
    part = np.argpartition(-values, k - 1)[:k]
    return part[np.lexsort((part, -values[part]))]
