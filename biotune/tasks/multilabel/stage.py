"""Multi-label classification as a stage of the document pipeline (`biotune.tasks.stages`): it adds
``labels``, the labels of each whole document (`Document.labels`).

A model trained on sentences (HoC) labels a document the way BLURB scores HoC abstracts: each
sentence is predicted on its own and the document's labels are the union of its sentences' labels,
each scored by the highest probability any sentence gave it. The sentences are those the NER path
reads (`formats.text.split_sentences` within each passage), so a document is cut the same way for
entities and labels; a label is predicted where it reaches the threshold the model recorded (tuned
on dev, `MultiLabelPredictor.threshold`). The sentences of all documents go to the predictor in one
call, which batches them by length, so a document's labels never depend on the documents beside it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from typing import Any

from biotune.formats.documents import Document, Passage
from biotune.formats.text import split_sentences
from biotune.tasks.multilabel.predict import LabelPrediction, MultiLabelPredictor
from biotune.tasks.stages import DocumentStage

LABELLED = "documents_labelled"  # counts: documents given at least one label
UNLABELLED = "documents_unlabelled"  # ... and those given none
PER_LABEL = "label:"  # counts: `label:<name>`, the documents given that label


class DocumentLabelStage(DocumentStage):
    """A multi-label predictor's labels on documents; `labels` are the labels it can predict."""

    provides = "labels"

    def __init__(self, predictor: MultiLabelPredictor) -> None:
        self.predictor = predictor
        self.counted: Counter[str] = Counter()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.predictor.labels

    def annotate(self, documents: Sequence[Document]) -> list[Document]:
        """The documents with their labels replaced by the union of their sentences' predicted labels."""
        per_document = [sentence_texts(doc) for doc in documents]
        predictions = self.predictor.predict([text for texts in per_document for text in texts])
        out, k = [], 0
        for doc, texts in zip(documents, per_document):
            labels = union(predictions[k : k + len(texts)], self.labels)
            k += len(texts)
            self.counted[LABELLED if labels else UNLABELLED] += 1
            self.counted.update(f"{PER_LABEL}{label}" for label in labels)
            out.append(dataclasses.replace(doc, labels=labels))
        return out

    def counts(self) -> dict[str, int]:
        """Documents labelled and unlabelled, and documents per label (``label:<name>``), since it was built."""
        return {LABELLED: self.counted[LABELLED], UNLABELLED: self.counted[UNLABELLED],
                **{f"{PER_LABEL}{label}": self.counted[f"{PER_LABEL}{label}"] for label in self.labels}}

    def describe(self) -> dict[str, Any]:
        """Its labels and the probability a label must reach in a sentence (whether the model recorded it)."""
        return {"types": list(self.labels), "threshold": self.predictor.threshold,
                "threshold_recorded": self.predictor.recorded_threshold is not None}

    def probe(self) -> list[Document]:
        """One document holding every label: an output format with no place for labels refuses it."""
        return [Document("probe", [Passage("text", "a")], labels=dict.fromkeys(self.labels, 1.0))]


def sentence_texts(doc: Document) -> list[str]:
    """The texts of the document's sentences, passage by passage, as the NER path splits them."""
    return [passage.text[start:end] for passage in doc.passages for start, end in split_sentences(passage.text)]


def union(predictions: Sequence[LabelPrediction], order: Sequence[str]) -> dict[str, float | None]:
    """Every label some prediction has, in `order`, scored by its highest probability among those predictions."""
    best: dict[str, float] = {}
    for prediction in predictions:
        for label in prediction.labels:
            best[label] = max(best.get(label, 0.0), prediction.scores[label])
    return {label: best[label] for label in order if label in best}
