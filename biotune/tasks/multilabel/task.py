"""Multi-label text classification on the task contract (HoC: sentences labelled with any of the
ten hallmarks of cancer, scored per abstract).

The map between the shared machinery and the building blocks here: `reading` (BLURB's HoC TSV,
JSONL, prediction records), `windows` (long texts in overlapping windows, never cut), `model`
(a standard sequence-classification folder with one sigmoid per label), `predict` (the
predictor), `metrics` (abstract-level micro-F1 as BLURB scores HoC, sentence-level scores, the
threshold sweep), `checks` (`check-data`, the preflight's label check), `stage` (documents labelled
for `biotune tag`: the union of their sentences' labels, as BLURB scores abstracts).

Loss: binary cross-entropy of each label's sigmoid, averaged over the labels the example's
source annotates (`sources[].types`; every label by default: a label a source does not
annotate is unknown for its texts, not absent), times the example's weight shared among its
windows, averaged over the batch. With one source and unit weights that is Hugging Face's
``multi_label_classification`` loss.

Threshold: a label is predicted when its probability reaches the model's threshold. `tune`
sets it on dev after training (the best abstract-level micro-F1, `metrics.best_threshold`) and
records it in the model's config; without dev it records `DEFAULT_THRESHOLD`. Training's dev
evaluation, before any threshold is recorded, scores each epoch at dev's best threshold, so
the epoch is chosen on the number `tune` will reach.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from biotune.config import ExperimentConfig, SourceConfig
from biotune.corpora.splits import Split, locate
from biotune.errors import BiotuneError
from biotune.models.backbones import backbone_config, position_limit
from biotune.models.mean_classifier import MEAN_HEAD, MEAN_HEAD_FOLDER
from biotune.tasks.contract import Bundle, SourceExamples, Task
from biotune.tasks.multilabel.checks import check_multilabel, refuse_unknown_labels
from biotune.tasks.multilabel.examples import TextExample
from biotune.tasks.multilabel.metrics import (DEFAULT_THRESHOLD, MultiLabelResult, best_threshold, decide,
                                              render_markdown, score_sets)
from biotune.tasks.multilabel.model import build_model, load_model, save_model
from biotune.tasks.multilabel.predict import MultiLabelPredictor, pad_windows
from biotune.tasks.multilabel.reading import RECORD_FORMATS, read_labelled, read_records
from biotune.tasks.multilabel.stage import DocumentLabelStage
from biotune.tasks.multilabel.windows import cut_windows, default_stride

if TYPE_CHECKING:
    import datasets


class MultiLabelTask(Task):
    name = "multilabel"
    pipeline_tag = "text-classification"
    prediction_inputs = RECORD_FORMATS  # BLURB's HoC TSV, JSONL records, plain text one a line

    # ---- data ---------------------------------------------------------------------------------
    def read_split(self, spec: str, config: ExperimentConfig) -> Split:
        return self._read(spec, config, config.data.format)

    def _read(self, spec: str, config: ExperimentConfig, format: str | None) -> Split:
        name, path, _ = locate(spec, config.data)
        examples, names = read_labelled(path, format)
        examples = list(islice(examples, config.data.limit))
        return Split(name, path, examples, names, facts={"sentences": len(examples),
                                                         "abstracts": len({e.document for e in examples})})

    def read_source(self, source: SourceConfig, config: ExperimentConfig) -> SourceExamples:
        """The source's texts with its weight; `types` narrows what it annotates (the rest is masked out of its loss)."""
        split = self._read(source.split, config, source.format or config.data.format)
        types = tuple(source.types) if source.types is not None else split.annotated_types
        unknown = sorted({label for e in split.examples for label in e.labels} - set(types))
        if unknown:
            raise BiotuneError(f"source {source.name!r} ({split.path}): labels {unknown} but `types` says it "
                               f"annotates {list(types)}")
        examples = [e for e in split.examples if e.labels] if source.only_labelled else split.examples
        if not examples:
            raise BiotuneError(f"source {source.name!r} ({split.path}): no text has a label (only_labelled)")
        annotated = frozenset(types) if source.types is not None else None
        return SourceExamples([dataclasses.replace(e, weight=source.weight, annotated=annotated) for e in examples],
                              types)

    def label_space(self, sources: Sequence[SourceExamples], dev: Split | None) -> list[str]:
        """The training sources' labels in the order they first name them (HoC: its ten hallmarks in BLURB's
        order). Not dev's: a label no training text can show is never learnt, so `check_inputs` refuses it."""
        return list(dict.fromkeys(label for s in sources for label in s.types))

    def check_data(self, splits: Mapping[str, Split], tokenizer: Any, config: ExperimentConfig) -> str:
        return check_multilabel(splits, tokenizer, config.model.max_length,
                                position_limit(backbone_config(config.model.backbone)))

    def check_inputs(self, train: Sequence[Any], evaluated: Mapping[str, Split], labels: Sequence[str],
                     tokenizer: Any, config: ExperimentConfig) -> None:
        """Training has labels, and every dev/test label is one of them (long texts are windowed, never refused)."""
        if not labels:
            first = train[0] if train else None
            raise BiotuneError(f"{first.file if first else 'the training data'}: no text of the training data has a "
                               "label and no label is declared: there is nothing to learn")
        refuse_unknown_labels(evaluated, labels)

    # ---- model and training ---------------------------------------------------------------------
    def build_model(self, init: str, labels: Sequence[str], config: ExperimentConfig,
                    train_examples: Sequence[Any]) -> Bundle:
        return build_model(init, config.model.head, labels, config.model.dropout, config.model.attention_dropout)

    def featurise(self, examples: Sequence[Any], bundle: Bundle, labels: Sequence[str],
                  config: ExperimentConfig) -> list[dict[str, Any]]:
        """One feature per window: its subwords, the text's 0/1 targets, the mask of annotated labels, the weight share."""
        max_length = config.model.max_length
        windows = cut_windows([e.text for e in examples], bundle.tokenizer, max_length,
                              default_stride(max_length, bundle.tokenizer))
        per_example = Counter(w.example for w in windows)
        features = []
        for w in windows:
            example: TextExample = examples[w.example]
            features.append({"input_ids": w.input_ids,
                             "targets": [float(label in example.labels) for label in labels],
                             "mask": [float(example.annotated is None or label in example.annotated) for label in labels],
                             "weight": example.weight / per_example[w.example]})
        return features

    def collator(self, bundle: Bundle, labels: Sequence[str]) -> Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]]:
        pad = bundle.tokenizer.pad_token_id or 0

        def collate(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
            return {**pad_windows([item["input_ids"] for item in batch], pad),
                    "targets": torch.tensor([item["targets"] for item in batch], dtype=torch.float),  # (batch, labels)
                    "mask": torch.tensor([item["mask"] for item in batch], dtype=torch.float),  # (batch, labels)
                    "weight": torch.tensor([float(item["weight"]) for item in batch])}

        return collate

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], weight: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Mean over windows of weight * the mean binary cross-entropy over annotated labels (module docstring)."""
        targets, mask = batch.pop("targets"), batch.pop("mask")
        outputs = model(**batch)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(outputs.logits.float(), targets,
                                                                   reduction="none")  # (batch, labels)
        per_window = (bce * mask).sum(dim=-1) / mask.sum(dim=-1).clamp(min=1.0)  # (batch,)
        return (per_window * weight.to(per_window.dtype)).sum() / max(len(per_window), 1), outputs

    def record(self, bundle: Bundle, config: ExperimentConfig, precision: str) -> None:
        """Also the window prediction reads texts with."""
        super().record(bundle, config, precision)
        max_length = config.model.max_length
        bundle.model.config.biotune.update({"max_length": max_length,
                                            "stride": default_stride(max_length, bundle.tokenizer)})

    def tune(self, bundle: Bundle, dev: Split | None, config: ExperimentConfig) -> dict[str, Any]:
        """The decision threshold with dev's best abstract-level micro-F1; `DEFAULT_THRESHOLD` without dev."""
        if dev is None or not dev.examples:
            bundle.model.config.biotune["threshold"] = DEFAULT_THRESHOLD
            return {"threshold": DEFAULT_THRESHOLD, "dev_abstract_micro_f1": None}
        predictor = self.predictor(bundle, precision=bundle.model.config.biotune["precision"],
                                   batch_size=config.training.eval_batch_size)
        probabilities = predictor.probabilities([e.text for e in dev.examples])
        threshold, f1 = best_threshold([e.document for e in dev.examples], [set(e.labels) for e in dev.examples],
                                       probabilities, predictor.labels)
        bundle.model.config.biotune["threshold"] = threshold
        return {"threshold": threshold, "dev_abstract_micro_f1": f1}

    def save(self, bundle: Bundle, folder: Path) -> None:
        save_model(bundle, folder)

    def load(self, folder: str | Path) -> Bundle:
        return load_model(folder)

    # ---- prediction and scoring -----------------------------------------------------------------
    def predictor(self, bundle: Bundle, precision: str, batch_size: int,
                  device: torch.device | str | None = None) -> MultiLabelPredictor:
        return MultiLabelPredictor(bundle, precision=precision, batch_size=batch_size, device=device)

    def document_stage(self, predictor: Any, source: str, by_mention: bool = False) -> DocumentLabelStage:
        """Documents labelled with the union of their sentences' labels (BLURB's abstract rule; `stage`)."""
        return DocumentLabelStage(predictor)

    def read_records(self, path: Path, format: str | None = None) -> Iterator[dict[str, Any]]:
        """JSONL ``{"id"?, "text", ...}``, BLURB's HoC TSV or plain text (one text a line); see `reading`."""
        return read_records(path, format)

    def predict_records(self, predictor: Any, records: Sequence[Mapping[str, Any] | str]) -> list[dict[str, Any]]:
        """Each record with ``labels`` (the predicted labels, in label order) and ``scores`` (every
        label's probability) added; a ``labels`` or ``scores`` field of the input is replaced. A
        string stands for the record ``{"text": string}``."""
        given = [{"text": record} if isinstance(record, str) else record for record in records]
        for k, record in enumerate(given):
            text = record.get("text") if isinstance(record, Mapping) else None
            if not isinstance(text, str) or not text.strip():
                name = record.get("id", k) if isinstance(record, Mapping) else k
                raise BiotuneError(f"record {name!r}: 'text' must be a non-empty string")
        predictions = predictor.predict([record["text"] for record in given])
        return [{**record, "labels": list(p.labels), "scores": p.scores} for record, p in zip(given, predictions)]

    def gold_records(self, split: Split) -> Iterator[dict[str, Any]]:
        """``{"id", "text", "document", "labels"}`` per text: the record `read_records` reads, the abstract it is
        scored with and its gold labels (in the file's label order): a labelled JSONL line of `reading`."""
        return ({"id": e.id, "text": e.text, "document": e.document, "labels": list(e.labels)} for e in split.examples)

    def gold_features(self, labels: Sequence[str]) -> datasets.Features:
        import datasets

        return datasets.Features({"id": datasets.Value("string"), "text": datasets.Value("string"),
                                  "document": datasets.Value("string"),
                                  "labels": datasets.List(datasets.ClassLabel(names=list(labels)))})

    def score(self, predictor: Any, split: Split, scope: tuple[str, ...] = ()) -> MultiLabelResult:
        """At the model's threshold; a model without one yet (training's dev evaluation) at the split's best."""
        labels = predictor.labels
        refuse_unknown_labels({split.name: split}, labels)
        examples: list[TextExample] = split.examples
        documents, gold = [e.document for e in examples], [set(e.labels) for e in examples]
        probabilities = predictor.probabilities([e.text for e in examples]) if examples else np.zeros((0, len(labels)))
        if predictor.recorded_threshold is None:
            threshold, source = best_threshold(documents, gold, probabilities, labels)[0], "best on this split"
        else:
            threshold, source = predictor.recorded_threshold, "the model's"
        predicted = [set(found) for found in decide(probabilities, labels, threshold)]
        return score_sets(documents, gold, predicted, labels, threshold, source)

    def render(self, results: Mapping[str, Mapping[str, Any]], title: str) -> str:
        blocks = [f"# {title}"] if title else []
        blocks += [render_markdown(result, title=name if len(results) > 1 or not title else "")
                   for name, result in results.items()]
        return "\n\n".join(block.rstrip() for block in blocks) + "\n"

    # ---- model card -----------------------------------------------------------------------------
    def label_counts(self, examples: Sequence[Any]) -> dict[str, int]:
        """Sentences, abstracts, sentences without a label, then sentences per label."""
        counts = Counter(label for e in examples for label in e.labels)
        return {"sentences": len(examples), "abstracts": len({e.document for e in examples}),
                "sentences without a label": sum(not e.labels for e in examples),
                **{label: counts[label] for label in sorted(counts)}}

    def card_usage(self, model: str, settings: Mapping[str, Any]) -> str:
        """transformers' pipeline where the head is the stock one, then biotune's predictor and CLI."""
        threshold = settings.get("threshold", DEFAULT_THRESHOLD)
        outside = (_mean_usage(threshold) if settings.get("head") == MEAN_HEAD
                   else _pipeline_usage(model, threshold))
        return f"""{outside}
biotune's predictor reads a text longer than `max_length` {settings.get("max_length")} subwords in
overlapping windows (stride {settings.get("stride")}), each label's probability the highest over
them, and applies the recorded threshold, as the evaluation above did:

```python
import biotune

model = biotune.load("{model}", precision="fp32")
for record in model.predict([{{"id": "s1", "text": "VEGF promoted angiogenesis ."}}]):
    print(record["id"], record["labels"], record["scores"])
```

```bash
biotune predict --checkpoint {model} --input sentences.jsonl --output labels.jsonl   # {{"id", "text"}} per line
```
"""


def _threshold_note(threshold: float) -> str:
    """How a label is decided, as the card says for either head."""
    return (f"A label is predicted when its probability reaches **{threshold:.4g}**, the threshold tuned on the "
            'dev split and recorded as `config.biotune["threshold"]`')


def _pipeline_usage(model: str, threshold: float) -> str:
    """The stock ``sigmoid`` folder in `transformers.pipeline`: every label's sigmoid, cut at the threshold."""
    return f"""The folder is a standard `AutoModelForSequenceClassification` with
`problem_type="multi_label_classification"`: one sigmoid probability per label (the names in
`config.id2label`). {_threshold_note(threshold)}:

```python
from transformers import pipeline

classify = pipeline("text-classification", model="{model}", top_k=None)
scores = classify(["VEGF expression promoted tumour angiogenesis and metastasis ."])[0]  # every label's sigmoid
print([s["label"] for s in scores if s["score"] >= {threshold!r}])
```
"""


def _mean_usage(threshold: float) -> str:
    """The ``mean`` folder, which only biotune loads: what it holds and how it decides."""
    return f"""{MEAN_HEAD_FOLDER} Its output is one sigmoid probability per label (the names in
`config.id2label`, `problem_type="multi_label_classification"`). {_threshold_note(threshold)}.
"""
