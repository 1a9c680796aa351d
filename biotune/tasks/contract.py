"""The task contract: what a task supplies so that one training loop, one experiment layer and
one serving layer work for every task.

After spaCy's trainable pipes (one `predict / get_loss / update / score` contract under one
training loop), flair's `Model.forward_loss / evaluate -> Result(main_score)` and AllenNLP's
`Registrable` + `Predictor`. The shared machinery calls only what is here:

    read_split / read_source  ->  examples (a task's own type: `Sentence`, `RelationExample`, ...)
    label_space               ->  the model's labels, from every training source and dev
    check_inputs              ->  what training would otherwise meet only after its run folder
                                  exists (run by training's preflight and by `check-data`)
    texts                     ->  a split's raw text, for pretraining a backbone (`biotune.pretraining`)
    build_model               ->  a `Bundle` (model + tokenizer; a task may add tokens, e.g. RE markers)
    featurise                 ->  one feature dict per model input; each carries `weight`
                                  (per-source loss weight) and the task's partial-label mask
    collator                  ->  a batch of tensors; `weight` stays a (batch,) tensor
    loss(model, batch, weight)->  the task's loss, reduced the task's way
    tune(bundle, dev)         ->  settings learned on dev after training (QA's list threshold)
    predictor                 ->  the one object the CLI, library API, service and tag job call
    read_records / predict_records / write_records (prediction_chunks)
                              ->  prediction on new data, records in and records out
    endpoint(settings)        ->  the HTTP endpoint the service mounts for a saved model
                                  (`biotune.tasks.endpoints.Endpoint`; default: its records at /<task>)
    document_stage(predictor) ->  what the model adds to documents (entities, relations) in the
                                  tag job and the service's document endpoint
                                  (`biotune.tasks.stages.DocumentStage`; default: none)
    score(predictor, split)   ->  a `Result` with one `headline` under `headline_key`
    render(results)           ->  the result files' Markdown
    pipeline_tag, label_counts, card_usage
                              ->  the model card (`biotune.experiments.model_card`): the Hub's
                                  pipeline tag, a split's label distribution, a usage snippet
    gold_records / gold_features
                              ->  a split's gold as plain rows and their `datasets` schema
                                  (`biotune corpora export`: `biotune.tasks.gold_datasets`)

`training/` never imports a task's predictor or model code directly, and `config` never
imports model code: they reach a task only through this contract and `biotune.tasks.get_task`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from biotune.errors import BiotuneError
from biotune.tasks.endpoints import Endpoint, records_endpoint

if TYPE_CHECKING:
    import datasets
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from biotune.config import ExperimentConfig, SourceConfig
    from biotune.corpora.splits import Split
    from biotune.tasks.stages import DocumentStage


class Result(Protocol):
    """What scoring a split gives: the JSON contract (`to_dict`) and the one number selection,
    aggregation and sweeps read (`headline`, found in `to_dict()` under the dotted `headline_key`)."""

    @property
    def headline(self) -> float: ...

    @property
    def headline_key(self) -> str: ...

    @property
    def collapse(self) -> str | None:
        """None, or in words what the predictions collapsed to where they are all one class of a split
        whose gold holds several (`all 500 questions predicted 'yes'`, `no entity predicted in 940
        sentences (all O)`): such a model learned nothing, whatever its headline. Training says so in
        the console, its summary and model card, and aggregation in its table."""
        ...

    def to_dict(self) -> dict[str, Any]: ...


class Predictor(Protocol):
    """A loaded model ready to predict; `precision` is what its forward pass really computes in.

    Every task's predictor has the same outer shape (`Task.predict_records`): input records in,
    output records out, in order, batched `batch_size` model inputs at a time."""

    precision: str
    batch_size: int


@dataclass
class Bundle:
    """A model with the tokenizer it reads (which may hold tokens the task added)."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase


@dataclass(frozen=True)
class SourceExamples:
    """A training source read by its task: its examples and the labels or types it annotates."""

    examples: list[Any]
    types: tuple[str, ...]


class Task(ABC):
    """One task (NER, RE, QA): every step of the data flow that differs between tasks."""

    name: str
    pipeline_tag: str  # the Hugging Face pipeline task of a saved folder (the model card's `pipeline_tag`)

    # ---- data -----------------------------------------------------------------------------
    @abstractmethod
    def read_split(self, spec: str, config: ExperimentConfig) -> Split:
        """A dev or test split (`train`/`dev`/`test`, `<corpus>:<split>` or a file) with gold labels."""

    @abstractmethod
    def read_source(self, source: SourceConfig, config: ExperimentConfig) -> SourceExamples:
        """A training source's examples, each marked with the source's weight and what it annotates."""

    @abstractmethod
    def label_space(self, sources: Sequence[SourceExamples], dev: Split | None) -> list[str]:
        """The model's labels, in id order."""

    @abstractmethod
    def check_data(self, splits: Mapping[str, Split], tokenizer: PreTrainedTokenizerBase, config: ExperimentConfig) -> str:
        """`biotune check-data`: Markdown of what is worth knowing before training (counts, long inputs, overlap)."""

    def check_inputs(self, train: Sequence[Any], evaluated: Mapping[str, Split], labels: Sequence[str],
                     tokenizer: PreTrainedTokenizerBase, config: ExperimentConfig) -> None:
        """Raise a `BiotuneError` naming the file and line of what training would meet only after its
        run folder exists: an input no window of the model holds, a dev or test label or type the
        model cannot have. `train` is every training source's examples, `evaluated` the dev and test
        splits by name, `labels` the label space training will build. Training's preflight and
        `check-data` both call it, so both refuse the same data with the same message.
        Default: nothing can fail later."""

    def texts(self, spec: str, config: ExperimentConfig) -> Iterator[str]:
        """The raw text of a split (`spec` as `read_split` takes it) for masked-language pretraining
        (`biotune.pretraining`): one string per unit of text the task reads (a sentence, a context),
        in file order, without labels or answers; a text several examples share comes once.
        Default: the distinct `text` of each example of `read_split` (a `BiotuneError` for examples
        without one)."""
        examples = self.read_split(spec, config).examples
        if examples and not isinstance(getattr(examples[0], "text", None), str):
            raise BiotuneError(f"{spec}: task {self.name} gives no text for pretraining")
        return distinct(example.text for example in examples)

    # ---- model and training -----------------------------------------------------------------
    @abstractmethod
    def build_model(self, init: str, labels: Sequence[str], config: ExperimentConfig,
                    train_examples: Sequence[Any]) -> Bundle:
        """A model to train from `init` (a backbone, or an earlier phase's saved model)."""

    @abstractmethod
    def featurise(self, examples: Sequence[Any], bundle: Bundle, labels: Sequence[str],
                  config: ExperimentConfig) -> list[dict[str, Any]]:
        """Training features; each dict holds `weight` and whatever the task's `loss` reads."""

    @abstractmethod
    def collator(self, bundle: Bundle, labels: Sequence[str]) -> Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]]:
        """Pads a list of features into a batch of tensors."""

    @abstractmethod
    def loss(self, model: torch.nn.Module, batch: dict[str, Any], weight: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """(loss, model outputs) of one batch; `weight` is the (batch,) per-example loss weight."""

    def param_groups(self, model: torch.nn.Module, config: ExperimentConfig) -> list[dict[str, Any]]:
        """Optimizer groups with their own learning rate (e.g. a CRF's scores); default none."""
        return []

    def record(self, bundle: Bundle, config: ExperimentConfig, precision: str) -> None:
        """Write into the model's config what prediction needs to reproduce training's evaluation."""
        bundle.model.config.biotune = {**(getattr(bundle.model.config, "biotune", None) or {}),
                                       "task": self.name, "precision": precision,
                                       "eval_batch_size": config.training.eval_batch_size,
                                       "eval_batch_tokens": config.training.eval_batch_tokens}

    def tune(self, bundle: Bundle, dev: Split | None, config: ExperimentConfig) -> dict[str, Any]:
        """Settings learned on the dev split once training is done (a list-answer threshold), written
        into the model's config so that the saved model predicts with them; returns them for the
        run's summary. Never sees a test split. Default: nothing to tune."""
        return {}

    @abstractmethod
    def save(self, bundle: Bundle, folder: Path) -> None:
        """Write a standard Hugging Face folder (model, tokenizer, labels in `config.id2label`)."""

    @abstractmethod
    def load(self, folder: str | Path) -> Bundle:
        """Load a folder written by `save`; a `BiotuneError` names what is wrong."""

    # ---- prediction and scoring ---------------------------------------------------------------
    @abstractmethod
    def predictor(self, bundle: Bundle, precision: str, batch_size: int,
                  device: torch.device | str | None = None) -> Predictor:
        """The object every caller predicts through."""

    # ---- prediction on new data: records in, records out ------------------------------------
    # An input record is a plain dict (JSON-ready) holding what the task reads: a text or tokens
    # (NER), a pre-masked sentence (RE), a question with contexts (QA), a sentence pair
    # (similarity), ... Its output record is the same dict plus the task's predictions. `biotune
    # predict`, the library's `biotune.load(folder).predict(records)` and the service all go
    # through these three methods, so none of them names a task.
    prediction_formats: tuple[str, ...] = ("jsonl",)  # output formats `write_records` takes; the first is the default
    # Input formats `read_records` takes by name (`biotune predict --format`); empty: it tells its
    # inputs apart itself (by extension or content). An input name never means an output format:
    # `--format` picks an input format first, else an output format (`biotune.serving.predict_job`).
    prediction_inputs: tuple[str, ...] = ()
    # Whether `read_records` also takes a folder (NER: a brat standoff folder of .txt/.ann pairs);
    # otherwise `biotune predict` refuses a folder before reading it.
    prediction_folders: bool = False

    def read_records(self, path: Path, format: str | None = None) -> Iterator[dict[str, Any]]:
        """The input records of a prediction file, lazily, in file order; a bad record is a
        `BiotuneError` naming the file and line. Cheap (no model), so callers read the file once
        to check and count it before the model loads. `format` is the input format (one of
        `prediction_inputs`; None: by extension or content)."""
        raise BiotuneError(f"task {self.name} cannot predict files yet")

    def prediction_chunks(self, records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
        """The records of a file in the lists a batch job hands to `predict_records` one at a time,
        about `size` records each. Default: `size` at a time. A task whose records read their
        neighbours (NER's document context) keeps those together, so that a record's prediction
        never depends on where a chunk ends."""
        records = iter(records)
        while chunk := list(islice(records, size)):
            yield chunk

    def predict_records(self, predictor: Predictor, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Each input record with the task's predictions added, in input order; a record that is
        not well-formed is a `BiotuneError` naming its position or id."""
        raise BiotuneError(f"task {self.name} cannot predict records yet")

    def write_records(self, records: Iterable[Mapping[str, Any]], out: IO[str], format: str | None = None) -> int:
        """Write output records to the open text file `out` in `format` (one of `prediction_formats`,
        None: the first); returns how many were written. Default: JSON Lines, one record a line."""
        n = 0
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
        return n

    def endpoint(self, settings: Mapping[str, Any]) -> Endpoint | None:
        """The HTTP endpoint `biotune serve` mounts for a saved model of the task, whose config records
        `settings` (`config.biotune`); None: such a model is not served on its own (it goes beside
        another, as `TaskSpec.takes` says). Default: `records_endpoint` at `/<task>`, the records of
        `predict_records` over HTTP."""
        return records_endpoint(self, f"/{self.name}")

    def document_stage(self, predictor: Predictor, source: str, by_mention: bool = False) -> DocumentStage | None:
        """The model as a step of the document pipeline (`biotune tag`, and the service's endpoint that
        annotates documents): what it adds to documents (entities, relations, ...), what it needs there
        first. `source` names the model in errors (its folder). With `by_mention` (the service, which
        answers one text at a time) a stage that relates entities relates the mentions of one
        sentence, each named by its offsets; without (the tag job) what the task relates at corpus
        scale. A `BiotuneError` when the model cannot annotate documents (names why).
        Default None: the task annotates no documents."""
        return None

    def dev_scope(self, dev: Split, phase_types: frozenset[str]) -> tuple[str, ...] | None:
        """What the dev split can score a phase on; None = it cannot select (keep the last epoch).

        Default: everything (the empty tuple). NER narrows it to the types both annotate.
        """
        return ()

    @abstractmethod
    def score(self, predictor: Predictor, split: Split, scope: tuple[str, ...] = ()) -> Result:
        """Predict `split` and score it against its gold labels."""

    @abstractmethod
    def render(self, results: Mapping[str, Mapping[str, Any]], title: str) -> str:
        """Markdown for the result files: `{test set: Result.to_dict() + recorded extras}`."""

    # ---- gold data out ---------------------------------------------------------------------------
    def gold_records(self, split: Split) -> Iterator[dict[str, Any]]:
        """The gold of a split `read_split` read, as plain JSON-ready rows in file order: each row the
        input record `read_records` gives for the same unit (a pair, a question, a text), same id,
        plus the gold in the fields its output records hold (`label`, `labels`, `score`; extractive QA's
        `exact_answer`, as its BioASQ submission output writes it).
        What reading adds (loss weights, file, line) stays out. Why this shape: a corpus exported as a
        `datasets` dataset (`biotune corpora export`, `biotune.tasks.gold_datasets`) is then input that
        `biotune predict` takes as it is, and gold that its output records compare with field by field.
        Default: a `BiotuneError` (NER's gold goes out as sentences or documents, not through here)."""
        raise BiotuneError(f"task {self.name} gives no gold records")

    def gold_features(self, labels: Sequence[str]) -> datasets.Features:
        """The `datasets.Features` of `gold_records`' rows. `labels` is `label_space` over every split of the
        corpus: a task with a closed label set makes its gold label a `datasets.ClassLabel` of them (a
        list of them for several labels a row), as the Hub's own datasets of the task are."""
        raise BiotuneError(f"task {self.name} gives no gold records")

    # ---- model card -----------------------------------------------------------------------------
    @abstractmethod
    def label_counts(self, examples: Sequence[Any]) -> dict[str, int]:
        """A split's label distribution for the model card, `{row: count}`: first how many examples
        it holds in the task's unit (sentences, pairs, questions), then the count of each label
        (entity mentions per type, pairs per relation label, ...)."""

    @abstractmethod
    def card_usage(self, model: str, settings: Mapping[str, Any]) -> str:
        """The model card's usage section (Markdown) for the saved folder or Hub id `model`, whose
        config records `settings` (`config.biotune`: the head, markers, windows): with transformers
        and with biotune's predictor and CLI."""


def distinct(texts: Iterable[str]) -> Iterator[str]:
    """Each text once, in first-seen order (`Task.texts`: a QA context shared by several questions)."""
    seen: set[str] = set()
    for text in texts:
        if text not in seen:
            seen.add(text)
            yield text


def refuse_unknown_labels(evaluated: Mapping[str, Split], labels: Sequence[str], where: Callable[[Any], str],
                          unit: str) -> None:
    """A `BiotuneError` when a dev or test example's `label` is not in `labels` (the model could never
    predict it, and scoring would fail after training): ``<where(first)>: label 'x' of the test split
    is not one of the labels training has (...); n of m test <unit> have such labels``."""
    for name, split in evaluated.items():
        unknown = [e for e in split.examples if e.label not in labels]
        if unknown:
            raise BiotuneError(f"{where(unknown[0])}: label {unknown[0].label!r} of the {name} split is not one of the "
                               f"labels training has ({', '.join(labels)}); {len(unknown)} of {len(split.examples)} "
                               f"{name} {unit} have such labels: the model could never predict them")
