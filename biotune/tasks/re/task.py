"""Relation extraction on the task contract: one label for each marked pair of entities.

The map between the shared machinery and the RE building blocks: `examples` (readers, label
space), `markers` (typed entity markers, centred windows), `heads` (``entity_start``,
``cls``), `metrics` (micro-F1 over the relation labels, the negative excluded), `records`
(prediction on new data: pre-masked sentences in, labels and probabilities out).

Partial labels, as NER's unannotated O: a source that annotates only some relation labels
(`sources[].types`) does not know that its negative pairs hold none of the others, so a
negative pair of such a source scores -log P(negative or any label it does not annotate).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from biotune.config import ExperimentConfig, SourceConfig
from biotune.corpora.registry import CORPORA
from biotune.corpora.splits import Split, locate
from biotune.errors import BiotuneError
from biotune.models.backbones import backbone_config, position_limit
from biotune.models.precision import place
from biotune.tasks.contract import Bundle, SourceExamples, Task, refuse_unknown_labels
from biotune.tasks.endpoints import Endpoint
from biotune.tasks.re.checks import check_relations
from biotune.tasks.re.documents import (DocumentRelationResult, is_document_file, read_document_split,
                                        render_document_result, score_document_split)
from biotune.tasks.re.examples import MASK, Entity, LabelSpace, RelationExample, read_examples, read_label2id
from biotune.tasks.re.heads import (RelationModel, build_relation_model, load_relation_model, predict_probabilities,
                                    save_relation_model)
from biotune.tasks.re.markers import MarkerScheme, add_marker_tokens, featurise, mark
from biotune.tasks.re.metrics import RelationResult, render_markdown, score_relations
from biotune.tasks.re.records import INPUT_FORMATS, predict_records, read_records
from biotune.tasks.re.settings import RelationSettings
from biotune.tasks.stages import DocumentStage

if TYPE_CHECKING:
    import datasets

LABEL2ID_FILE = "label2id.tsv"
log = logging.getLogger("biotune")


@dataclass(frozen=True, slots=True)
class RelationPrediction:
    """One pair's predicted label and the probability of every label."""

    example_id: str
    label: str
    scores: dict[str, float]


class RelationPredictor:
    """Batched relation classification of `RelationExample`s with a trained model.

    `precision` as for NER's tagger (`biotune.models.precision`); `max_length` defaults to the
    window training used (recorded in the model's config).
    """

    def __init__(self, relation_model: RelationModel, precision: str = "autocast", batch_size: int = 64,
                 device: torch.device | str | None = None, max_length: int | None = None) -> None:
        model, self.device, self.precision, self.bf16 = place(relation_model.model, precision, device)
        self.relation_model = RelationModel(model, relation_model.tokenizer, relation_model.scheme)
        recorded = getattr(model.config, "biotune", None) or {}
        self.max_length = max_length or recorded.get("max_length", 512)
        self.batch_size = batch_size
        self.batch_tokens: int | None = recorded.get("eval_batch_tokens")  # `training.eval_batch_tokens`
        self.labels = self.relation_model.labels
        self.seconds = 0.0  # time spent in the model, for throughput reports

    @classmethod
    def from_checkpoint(cls, path: str | Path, precision: str = "auto", **options: Any) -> RelationPredictor:
        return cls(load_relation_model(path), precision=precision, **options)

    def probabilities(self, examples: Sequence[RelationExample]) -> torch.Tensor:
        """(examples, labels) probabilities, in input order."""
        started = time.perf_counter()
        featurised = featurise(examples, self.relation_model.tokenizer, self.relation_model.scheme, self.max_length)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            probabilities = predict_probabilities(self.relation_model, featurised.features, self.batch_size,
                                                  self.batch_tokens)
        self.seconds += time.perf_counter() - started
        return probabilities

    def predict(self, examples: Sequence[RelationExample]) -> list[RelationPrediction]:
        probabilities = self.probabilities(examples)
        best = probabilities.argmax(dim=-1).tolist()
        return [RelationPrediction(example.id, self.labels[k], {label: round(float(p), 6) for label, p in zip(self.labels, row)})
                for example, k, row in zip(examples, best, probabilities.tolist())]


class RelationTask(Task):
    name = "re"

    def texts(self, spec: str, config: ExperimentConfig) -> Iterator[str]:
        """Each sentence as written, entity masks included (any label, none checked)."""
        return (example.text for example in read_examples(locate(spec, config.data)[1]))

    def read_split(self, spec: str, config: ExperimentConfig) -> Split:
        name, path, corpus = locate(spec, config.data)
        info = CORPORA.get(corpus) if corpus else None
        format = config.data.format or (info.format if info else None)
        if is_document_file(path, format):
            units, counts = read_document_split(path, config.data.model_copy(update={"format": format}), config,
                                                config.data.limit)
            examples = [c.example for unit in units for c in unit.candidates]
            negative = config.section(RelationSettings).negative_label
            names = dict.fromkeys([negative, *sorted({e.label for e in examples})])  # checked by the reader
            return Split(name, path, examples, tuple(names), documents=units, facts=counts.to_dict())
        _refuse_document_keys(path, config)
        labels = _label_space(path, config)
        examples = list(islice(read_examples(path, labels), config.data.limit))
        names = labels.names if labels is not None else LabelSpace.from_examples(examples).names
        return Split(name, path, examples, tuple(names))

    def check_data(self, splits: Mapping[str, Split], tokenizer: Any, config: ExperimentConfig) -> str:
        return check_relations(splits, tokenizer, config.model.max_length)

    def check_inputs(self, train: Sequence[Any], evaluated: Mapping[str, Split], labels: Sequence[str],
                     tokenizer: Any, config: ExperimentConfig) -> None:
        """Every dev/test label is one the model will have, every type one it has markers for, and
        every pair fits a window (training pairs may be skipped with `re.too_wide: skip`)."""
        refuse_unknown_labels(evaluated, labels, lambda e: f"{e.source}:{e.line}", "pairs")
        scheme = MarkerScheme.from_examples(train)
        tokenizer = copy.deepcopy(tokenizer)  # the markers go into a copy: the caller's tokenizer stays as it was
        add_marker_tokens(tokenizer, scheme)
        positions = position_limit(backbone_config(config.model.backbone))
        featurise(train, tokenizer, scheme, config.model.max_length, positions=positions,
                  skip_too_wide=config.section(RelationSettings).too_wide == "skip")
        for split in evaluated.values():
            featurise(split.examples, tokenizer, scheme, config.model.max_length, positions=positions)

    def read_source(self, source: SourceConfig, config: ExperimentConfig) -> SourceExamples:
        split = self.read_split(source.split, config)
        types = tuple(source.types) if source.types is not None else split.annotated_types
        negative = config.section(RelationSettings).negative_label
        unknown = sorted({e.label for e in split.examples} - set(types) - {negative})
        if unknown:
            raise BiotuneError(f"source {source.name!r}: labels {unknown} but `types` says it annotates {list(types)}")
        annotated = frozenset(types)
        examples = [dataclasses.replace(e, weight=source.weight, annotated=annotated) for e in split.examples]
        return SourceExamples(examples, types)

    def label_space(self, sources: Sequence[SourceExamples], dev: Split | None) -> list[str]:
        """Every source's and dev's labels, in the order of the first that names them (a label2id's id order)."""
        ordered: dict[str, None] = {}
        for names in [s.types for s in sources] + ([dev.annotated_types] if dev else []):
            ordered.update(dict.fromkeys(names))
        for source in sources:
            ordered.update(dict.fromkeys(e.label for e in source.examples))
        return list(ordered)

    def build_model(self, init: str, labels: Sequence[str], config: ExperimentConfig,
                    train_examples: Sequence[Any]) -> Bundle:
        scheme = MarkerScheme.from_examples(train_examples)
        relation_model = build_relation_model(init, config.model.head, labels, scheme, config.model.dropout,
                                              config.model.attention_dropout)
        return Bundle(relation_model.model, relation_model.tokenizer)

    def featurise(self, examples: Sequence[Any], bundle: Bundle, labels: Sequence[str],
                  config: ExperimentConfig) -> list[dict[str, Any]]:
        relation_model = _relation_model(bundle)
        label2id = {label: i for i, label in enumerate(labels)}
        featurised = featurise(examples, bundle.tokenizer, relation_model.scheme, config.model.max_length, label2id,
                               skip_too_wide=config.section(RelationSettings).too_wide == "skip")
        if featurised.skipped:
            log.warning("re.too_wide skip: %d of %d training pairs span more tokens than max_length %d and "
                        "are left out (the first: %s:%d)", len(featurised.skipped), len(examples),
                        config.model.max_length, examples[featurised.skipped[0]].source,
                        examples[featurised.skipped[0]].line)
        skipped = set(featurised.skipped)
        kept = [example for index, example in enumerate(examples) if index not in skipped]
        negative = config.section(RelationSettings).negative_label
        out = []
        for example, feature in zip(kept, featurised.features):
            allowed = [feature.label]
            if example.label == negative and example.annotated is not None:
                allowed += [label2id[label] for label in labels if label != negative and label not in example.annotated]
            out.append({"input_ids": feature.input_ids, "feature": feature, "weight": example.weight, "allowed": allowed})
        return out

    def collator(self, bundle: Bundle, labels: Sequence[str]) -> Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]]:
        relation_model = _relation_model(bundle)
        n_labels = len(labels)

        def collate(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
            tensors = relation_model.collate([item["feature"] for item in batch])
            allowed = torch.zeros((len(batch), n_labels), dtype=torch.bool)  # (batch, labels)
            for row, item in enumerate(batch):
                allowed[row, item["allowed"]] = True
            return {**tensors, "allowed": allowed, "weight": torch.tensor([float(item["weight"]) for item in batch])}

        return collate

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], weight: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Mean over pairs of weight * -log P(an allowed label) (the gold label alone, unless partial)."""
        batch.pop("labels")
        allowed = batch.pop("allowed")
        outputs = model(**batch)
        log_probs = torch.log_softmax(outputs.logits.float(), dim=-1)  # (batch, labels)
        nll = -torch.logsumexp(log_probs.masked_fill(~allowed, float("-inf")), dim=-1)  # (batch,)
        return (nll * weight.to(nll.dtype)).sum() / max(len(nll), 1), outputs

    def record(self, bundle: Bundle, config: ExperimentConfig, precision: str) -> None:
        """Also what prediction on documents needs: the candidate pairs the model was trained on."""
        super().record(bundle, config, precision)
        relation = config.section(RelationSettings)
        bundle.model.config.biotune.update({"max_length": config.model.max_length, "negative_label": relation.negative_label,
                                            "pairs": [list(p) for p in relation.pairs], "scope": relation.scope,
                                            "max_sentences": relation.max_sentences})

    def save(self, bundle: Bundle, folder: Path) -> None:
        save_relation_model(_relation_model(bundle), folder)

    def load(self, folder: str | Path) -> Bundle:
        relation_model = load_relation_model(folder)
        return Bundle(relation_model.model, relation_model.tokenizer)

    def predictor(self, bundle: Bundle, precision: str, batch_size: int,
                  device: torch.device | str | None = None) -> RelationPredictor:
        return RelationPredictor(_relation_model(bundle), precision=precision, batch_size=batch_size, device=device)

    prediction_inputs = INPUT_FORMATS

    def read_records(self, path: Path, format: str | None = None) -> Iterator[dict[str, Any]]:
        if format not in (None, *INPUT_FORMATS):
            raise BiotuneError(f"format {format!r}: a relation model reads {', '.join(INPUT_FORMATS)} "
                               "(pre-masked sentence[<TAB>label] rows)")
        return read_records(path)

    def predict_records(self, predictor: Any, records: Sequence[Mapping[str, Any] | str]) -> list[dict[str, Any]]:
        return predict_records(predictor, records)

    def gold_records(self, split: Split) -> Iterator[dict[str, Any]]:
        """``{"id", "text", "label"}`` per pair: the pre-masked sentence `read_records` reads, with its label.
        A split of candidate pairs built from documents has no such sentences (its gold is the documents')."""
        if split.documents is not None:
            raise BiotuneError(f"{split.path}: pairs built from documents have no pre-masked sentence rows; "
                               "their gold is the documents' relations")
        return ({"id": e.id, "text": e.text, "label": e.label} for e in split.examples)

    def gold_features(self, labels: Sequence[str]) -> datasets.Features:
        import datasets

        return datasets.Features({"id": datasets.Value("string"), "text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=list(labels))})

    def endpoint(self, settings: Mapping[str, Any]) -> Endpoint | None:
        """A model trained on documents (it records the candidate `pairs`) relates an NER model's
        entities, so it is served beside one (`--relations`), not on its own; one trained on
        pre-masked sentences answers their records at /re."""
        return None if settings.get("pairs") else super().endpoint(settings)

    def document_stage(self, predictor: Any, source: str, by_mention: bool = False) -> DocumentStage:
        """Relations between the entities of documents (`biotune.tasks.re.stage`), for a model trained on
        documents; one trained on pre-masked sentences records no pairs to build candidates with (an error)."""
        from biotune.tasks.re.stage import RelationStage  # it imports this module's predictor

        return RelationStage(predictor, source, by_mention)

    def score(self, predictor: Any, split: Split, scope: tuple[str, ...] = ()) -> RelationResult | DocumentRelationResult:
        predicted = [p.label for p in predictor.predict(split.examples)] if split.examples else []
        gold = [e.label for e in split.examples]
        negative = (getattr(predictor.relation_model.model.config, "biotune", None) or {}).get("negative_label")
        negative = negative if negative in predictor.labels else None
        pairs = score_relations(gold, predicted, predictor.labels, negative)
        if split.documents is None:
            return pairs
        return score_document_split(split.documents, predicted, pairs, negative or "", split.facts or {})

    def render(self, results: Mapping[str, Mapping[str, Any]], title: str) -> str:
        blocks = [f"# {title}"] if title else []
        blocks += [render_document_result(result, title=name) if "documents" in result
                   else render_markdown(result, title=name) for name, result in results.items()]
        return "\n\n".join(block.rstrip() for block in blocks) + "\n"

    pipeline_tag = "text-classification"

    def label_counts(self, examples: Sequence[Any]) -> dict[str, int]:
        """Candidate pairs, then pairs per relation label (the negative one included)."""
        return {"pairs": len(examples), **dict(sorted(Counter(e.label for e in examples).items()))}

    def card_usage(self, model: str, settings: Mapping[str, Any]) -> str:
        """A marked example built by `markers.mark` from the model's own marker types and masks."""
        scheme = MarkerScheme.from_dict(settings["markers"])
        first, second = scheme.types[0], scheme.types[-1]
        words = [f"@{t}$" if f"@{t}$" in scheme.masks else t.lower() for t in (first, second)]
        text = f"{words[0]} was associated with {words[1]} ."
        head, tail = text.index(words[0]), text.rindex(words[1])
        marked = mark(RelationExample(text, Entity(head, head + len(words[0]), first),
                                      Entity(tail, tail + len(words[1]), second), None, "card", "card", 0), scheme)
        how = (f"Mark the pair as training did: E1 (the first entity in the text) between `[E1:TYPE]` and `[/E1:TYPE]`, "
               f"E2 between `[E2:TYPE]` and `[/E2:TYPE]`, a space on each side of a marker (types: "
               f"{', '.join(f'`{t}`' for t in scheme.types)}"
               + (f"; masked entities are written as the masks {', '.join(f'`{m}`' for m in scheme.masks)}" if scheme.masks else "")
               + "). `biotune.tasks.re.markers.mark` does it for a `RelationExample`.")
        if settings.get("head") == "cls":
            transformers_part = f"""The folder is a standard sequence-classification model (labels in `config.id2label`).
{how}

```python
from transformers import pipeline

classify = pipeline("text-classification", model="{model}", top_k=None)
print(classify("{marked}"))
```
"""
        else:
            transformers_part = f"""The `entity_start` head reads the hidden states at the two start markers, which no
`transformers` pipeline does: predict with biotune. {how} Marked text: `{marked}`
"""
        if not all(MASK.fullmatch(f"@{t}$") for t in (first, second)):  # types of documents' entities, not masks
            return f"""{transformers_part}
With biotune, on the entities an NER model finds in documents (candidate pairs as in training):

```bash
biotune tag --checkpoint NER_MODEL --relations {model} --input abstracts.txt --output-dir tagged/
```
"""
        return f"""{transformers_part}
With biotune (records in, records out: pre-masked sentences, as in training):

```python
import biotune

relations = biotune.load("{model}")
for record in relations.predict(["@{first}$ was associated with @{second}$ ."]):
    print(record["label"], record["scores"])
```

```bash
biotune predict --checkpoint {model} --input rows.tsv --output relations.jsonl
```
"""


def _relation_model(bundle: Bundle) -> RelationModel:
    scheme = MarkerScheme.from_dict(bundle.model.config.biotune["markers"])
    return RelationModel(bundle.model, bundle.tokenizer, scheme)


def _refuse_document_keys(path: Path, config: ExperimentConfig) -> None:
    """The candidate-building keys apply to document splits only: on pre-masked rows they would be ignored."""
    relation = config.section(RelationSettings)
    set_keys = [key for key, value in (("pairs", relation.pairs), ("scope", relation.scope != "sentence"),
                                       ("max_sentences", relation.max_sentences is not None)) if value]
    if set_keys:
        raise BiotuneError(f"{path} holds pre-masked sentence rows, which name their pair already; "
                           f"{', '.join('re.' + key for key in set_keys)} build candidates from documents "
                           "(PubTator, BioC) only and cannot apply: remove them")


def _label_space(path: Path, config: ExperimentConfig) -> LabelSpace | None:
    """The configured label2id, else a `label2id.tsv` beside the split's file, else None (labels as written)."""
    if (label2id := config.section(RelationSettings).label2id):
        return read_label2id(label2id)
    beside = path.parent / LABEL2ID_FILE
    return read_label2id(beside) if beside.is_file() else None
