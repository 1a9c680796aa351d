"""Question answering on the task contract: ``qa`` (extractive: BioASQ factoid and list) and
``yesno`` (BioASQ yes/no, PubMedQA's yes/no/maybe).

The map between the shared machinery and the QA building blocks: `reading` (SQuAD-form files,
BioASQ gold, BLURB TSV, PubMedQA JSON), `lists` (list training pairs from gold snippets),
`windows` (stride windows, offsets), `models` (the two heads), `predict` (predictors,
n-best and merging in `postprocess`), `records` (prediction on new data, JSON Lines or a BioASQ
submission out), `metrics` (BioASQ's official measures), `checks`.

Extractive training loss: a window's gold answers (every occurrence it holds whole; a list
snippet can hold several) are alternatives, so a window scores
-log sum_k P(start_k) P(end_k), halved as Hugging Face's start + end mean is; with one answer
that is exactly the usual loss. A window without an answer targets the first token, as SQuAD
v1 training does. Yes/no: each window of a long context is trained on the example's label with
the example's weight shared among its windows, so a long context counts once, and (with
`yesno.class_weights: balanced`, the default) multiplied by `balanced_weights` of its answer.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import torch

from biotune.config import ExperimentConfig, SourceConfig
from biotune.corpora.registry import GLOB_CHARACTERS
from biotune.corpora.splits import Split, locate
from biotune.errors import BiotuneError
from biotune.models.backbones import backbone_config, position_limit
from biotune.models.mean_classifier import MEAN_HEAD, MEAN_HEAD_FOLDER
from biotune.tasks.contract import Bundle, SourceExamples, Task, distinct, refuse_unknown_labels
from biotune.tasks.endpoints import Endpoint
from biotune.tasks.qa.checks import check_qa
from biotune.tasks.qa.endpoint import qa_endpoint
from biotune.tasks.qa.examples import DecisionExample, QaExample, QaQuestion
from biotune.tasks.qa.lists import list_training_pairs
from biotune.tasks.qa.metrics import (DecisionResult, FactoidResult, ListResult, best_list_threshold,
                                      render_markdown, score_decisions, score_factoid, score_list)
from biotune.tasks.qa.models import build_qa_model, load_qa_model, save_qa_model
from biotune.tasks.qa.predict import DecisionPredictor, QaPredictor, collate_windows
from biotune.tasks.qa.settings import QaSettings
from biotune.tasks.qa.reading import (decisions_from_gold, default_gold_files, expand, gold_index, read_decisions_tsv,
                                      read_gold, read_pubmedqa_json, read_squad, sniff)
from biotune.tasks.qa.records import (OUTPUT_FORMATS, answer_submission, decision_submission, gold_questions,
                                      predict_answers, predict_decisions, read_decision_questions, read_questions,
                                      write_submission)
from biotune.tasks.qa.windows import check_room, cut_windows

if TYPE_CHECKING:
    import datasets

DECISION_ORDER = ("yes", "no", "maybe")


def _locate(spec: str, config: ExperimentConfig) -> tuple[str, Path]:
    """A split spec as `locate` reads it; a glob pattern of files is a split too (BioASQ batches)."""
    if GLOB_CHARACTERS.search(spec) and ":" not in spec:
        return Path(spec).stem.strip("*?[]") or "files", Path(spec)
    name, path, _ = locate(spec, config.data)
    return name, path


class _WindowTask(Task):
    """What both QA tasks share: (question, context) windows, Hugging Face heads, save and load."""

    def texts(self, spec: str, config: ExperimentConfig) -> Iterator[str]:
        """Each distinct context (several questions share one), questions and answers left out."""
        return distinct(example.context for example in self.read_split(spec, config).examples)

    def build_model(self, init: str, labels: Sequence[str], config: ExperimentConfig,
                    train_examples: Sequence[Any]) -> Bundle:
        return build_qa_model(self.name, init, config.model.head, labels, config.model.dropout,
                              config.model.attention_dropout)

    def check_inputs(self, train: Sequence[Any], evaluated: Mapping[str, Split], labels: Sequence[str],
                     tokenizer: Any, config: ExperimentConfig) -> None:
        """Every question leaves room for context in a window; a yes/no dev or test label is one training has."""
        if labels:
            refuse_unknown_labels(evaluated, labels, lambda e: f"{e.file}: item {e.item or e.id}", "questions")
        positions = position_limit(backbone_config(config.model.backbone))
        stride = config.section(QaSettings).stride
        for examples in (train, *(split.examples for split in evaluated.values())):
            if examples:
                check_room([e.question for e in examples], tokenizer, config.model.max_length, stride,
                           [e.id for e in examples], positions)

    def _windows(self, examples: Sequence[QaExample | DecisionExample], bundle: Bundle, config: ExperimentConfig,
                 with_answers: bool = False) -> list[Any]:
        answers = [[(a.start, a.end) for a in e.answers] for e in examples] if with_answers else None  # type: ignore[union-attr]
        return cut_windows([e.question for e in examples], [e.context for e in examples], bundle.tokenizer,
                           config.model.max_length, config.section(QaSettings).stride, answers,
                           names=[e.id for e in examples])

    def record(self, bundle: Bundle, config: ExperimentConfig, precision: str) -> None:
        super().record(bundle, config, precision)
        qa = config.section(QaSettings)
        bundle.model.config.biotune.update({"max_length": config.model.max_length, "stride": qa.stride})

    def save(self, bundle: Bundle, folder: Path) -> None:
        save_qa_model(bundle, folder)

    def load(self, folder: str | Path) -> Bundle:
        return load_qa_model(folder, self.name)

    def check_data(self, splits: Mapping[str, Split], tokenizer: Any, config: ExperimentConfig) -> str:
        return check_qa(splits, tokenizer, config.model.max_length, config.section(QaSettings).stride)

    def render(self, results: Mapping[str, Mapping[str, Any]], title: str) -> str:
        blocks = [f"# {title}"] if title else []
        blocks += [render_markdown(result, title=name if len(results) > 1 or not title else "")
                   for name, result in results.items()]
        return "\n\n".join(block.rstrip() for block in blocks) + "\n"

    # Prediction inputs are told apart by extension and content (`records`), so `prediction_inputs`
    # stays empty and `--format` names the output: JSON Lines or a BioASQ submission.
    prediction_formats = OUTPUT_FORMATS
    submission_entry: Callable[[Mapping[str, Any]], dict[str, Any]]  # an output record's BioASQ submission entry

    def _refuse_input_format(self, format: str | None) -> None:
        if format is not None:
            raise BiotuneError(f"format {format!r}: a {self.name} model tells its inputs apart by extension and "
                               "content; there is no input format to choose")

    def write_records(self, records: Iterable[Mapping[str, Any]], out: IO[str], format: str | None = None) -> int:
        if format in (None, "jsonl"):
            return super().write_records(records, out)
        if format == "bioasq":
            return write_submission(map(self.submission_entry, records), out)
        raise BiotuneError(f"format {format!r}: a {self.name} model writes {' or '.join(OUTPUT_FORMATS)}")


class QaTask(_WindowTask):
    name = "qa"

    def read_split(self, spec: str, config: ExperimentConfig) -> Split:
        """SQuAD-form items (a test file's gold from BioASQ gold files) or BioASQ gold questions of `qa.type`."""
        name, path = _locate(spec, config)
        files = expand(path)
        kind = sniff(files[0])
        examples: list[QaExample] = []
        questions: dict[str, QaQuestion] = {}
        if kind == "squad":
            for file in files:
                read, found = read_squad(file, need_gold=False)
                if len(found) < len({e.question_id for e in read}):  # a test file: its gold is in BioASQ gold files
                    gold_files = config.section(QaSettings).gold or default_gold_files(file)
                    read, found = read_squad(file, gold_index(gold_files) if gold_files else None)
                examples += read
                questions.update(found)
        elif kind == "gold":
            examples, questions = read_gold(files, config.section(QaSettings).type)
        else:
            raise BiotuneError(f"{files[0]}: a {kind} file is for task yesno; task qa reads SQuAD-form JSON or "
                               "BioASQ gold JSON (*_golden.json)")
        if config.data.limit:
            examples = list(islice(examples, config.data.limit))
            kept = {e.question_id for e in examples}
            questions = {q: question for q, question in questions.items() if q in kept}
        return Split(name, path, examples, (), documents=list(questions.values()),
                     facts={"questions": len(questions), "pairs": len(examples)})

    def read_source(self, source: SourceConfig, config: ExperimentConfig) -> SourceExamples:
        """Training pairs: SQuAD items as given; gold snippets with their exact answers found in them (`lists`)."""
        split = self.read_split(source.split, config)
        if any(not e.answers for e in split.examples):
            examples, _ = list_training_pairs(split.examples, {q.id: q for q in split.documents or []})
        else:
            examples = split.examples
        if not examples:
            raise BiotuneError(f"source {source.name!r} ({split.path}): no pair with an answer span to train on")
        return SourceExamples([dataclasses.replace(e, weight=source.weight) for e in examples], ())

    def label_space(self, sources: Sequence[SourceExamples], dev: Split | None) -> list[str]:
        return []  # spans, not labels

    def featurise(self, examples: Sequence[Any], bundle: Bundle, labels: Sequence[str],
                  config: ExperimentConfig) -> list[dict[str, Any]]:
        windows = self._windows(examples, bundle, config, with_answers=True)
        return [{"input_ids": w.input_ids, "window": w, "weight": examples[w.example].weight} for w in windows]

    def collator(self, bundle: Bundle, labels: Sequence[str]) -> Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]]:
        pad = bundle.tokenizer.pad_token_id or 0

        def collate(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
            windows = [item["window"] for item in batch]
            most = max(len(w.starts) for w in windows)
            starts = torch.full((len(batch), most), -1, dtype=torch.long)  # (batch, answers); -1 = none
            ends = torch.full((len(batch), most), -1, dtype=torch.long)
            for row, w in enumerate(windows):
                starts[row, :len(w.starts)] = torch.tensor(w.starts)
                ends[row, :len(w.ends)] = torch.tensor(w.ends)
            return {**collate_windows(windows, pad), "starts": starts, "ends": ends,
                    "weight": torch.tensor([float(item["weight"]) for item in batch])}

        return collate

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], weight: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Mean over windows of weight * -log sum_k P(start_k) P(end_k) / 2 (see the module docstring)."""
        starts, ends = batch.pop("starts"), batch.pop("ends")
        outputs = model(**batch)
        padding = batch["attention_mask"] == 0  # (batch, subwords)
        log_start = torch.log_softmax(outputs.start_logits.float().masked_fill(padding, float("-inf")), dim=-1)
        log_end = torch.log_softmax(outputs.end_logits.float().masked_fill(padding, float("-inf")), dim=-1)
        joint = log_start.gather(1, starts.clamp(min=0)) + log_end.gather(1, ends.clamp(min=0))  # (batch, answers)
        joint = joint.masked_fill(starts < 0, float("-inf"))
        nll = -torch.logsumexp(joint, dim=-1) / 2  # (batch,)
        return (nll * weight.to(nll.dtype)).sum() / max(len(nll), 1), outputs

    def record(self, bundle: Bundle, config: ExperimentConfig, precision: str) -> None:
        """Also the answer search and how answers are cut (a fixed list threshold, else `tune` sets it)."""
        super().record(bundle, config, precision)
        qa = config.section(QaSettings)
        bundle.model.config.biotune.update({"type": qa.type, "n_best": qa.n_best, "max_answer_length": qa.max_answer_length,
                                            "top_k": qa.top_k, "list_threshold": qa.list_threshold})

    def tune(self, bundle: Bundle, dev: Split | None, config: ExperimentConfig) -> dict[str, Any]:
        """List questions: the merged-score threshold with the best mean F1 on dev (`best_list_threshold`)."""
        qa = config.section(QaSettings)
        if qa.type != "list" or qa.list_threshold is not None or dev is None:
            return {}
        predictor = self.predictor(bundle, precision=bundle.model.config.biotune["precision"],
                                   batch_size=config.training.eval_batch_size)
        threshold, result = _best_threshold(predictor, dev)
        bundle.model.config.biotune["list_threshold"] = threshold
        return {"list_threshold": threshold, "dev_list_f1": result.f1}

    def predictor(self, bundle: Bundle, precision: str, batch_size: int,
                  device: torch.device | str | None = None) -> QaPredictor:
        return QaPredictor(bundle, precision=precision, batch_size=batch_size, device=device)

    submission_entry = staticmethod(answer_submission)

    def read_records(self, path: Path, format: str | None = None) -> Iterator[dict[str, Any]]:
        self._refuse_input_format(format)
        return read_questions(path)

    def predict_records(self, predictor: Any, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return predict_answers(predictor, records)

    def gold_records(self, split: Split) -> Iterator[dict[str, Any]]:
        """One row per question: its contexts and type, its exact answers, the spans the file marks (`gold_questions`)."""
        return gold_questions(split.examples, {q.id: q for q in split.documents or []})

    def gold_features(self, labels: Sequence[str]) -> datasets.Features:
        import datasets

        string = datasets.Value("string")
        span = {name: datasets.Value("int32") for name in ("context", "start", "end")}
        return datasets.Features({"id": string, "question": string, "contexts": datasets.List(string), "type": string,
                                  "exact_answer": datasets.List(datasets.List(string)), "spans": datasets.List(span)})

    def endpoint(self, settings: Mapping[str, Any]) -> Endpoint:
        """POST /qa: a question and its contexts in, the ranked answers out (`biotune.tasks.qa.endpoint`)."""
        return qa_endpoint()

    def score(self, predictor: Any, split: Split, scope: tuple[str, ...] = ()) -> FactoidResult | ListResult:
        """Factoid: the top k of each question's merged answers. List: the answers at the model's
        threshold; a model without one yet (dev evaluation during training) at the split's best."""
        questions = split.documents or []
        if predictor.type == "factoid":
            ranked = predictor.answer_examples(split.examples)
            return score_factoid(questions, {q: [a.text for a in answers] for q, answers in ranked.items()},
                                 top_k=predictor.settings["top_k"])
        if predictor.list_threshold is None:
            return _best_threshold(predictor, split)[1]
        answers = predictor.answer_examples(split.examples)
        return score_list(questions, {q: [a.text for a in found] for q, found in answers.items()},
                          threshold=predictor.list_threshold)

    pipeline_tag = "question-answering"

    def label_counts(self, examples: Sequence[Any]) -> dict[str, int]:
        """Questions and (question, context) pairs; for training pairs also those with an answer and
        the answer spans (a test split's gold answers are per question, not in its pairs)."""
        counts = {"questions": len({e.question_id for e in examples}), "(question, context) pairs": len(examples)}
        if any(e.answers for e in examples):
            counts |= {"pairs with an answer": sum(1 for e in examples if e.answers),
                       "answer spans": sum(len(e.answers) for e in examples)}
        return counts

    def card_usage(self, model: str, settings: Mapping[str, Any]) -> str:
        return f"""The folder is a standard `AutoModelForQuestionAnswering` one (start and end scores per
subword). transformers 5 has no question-answering pipeline; biotune cuts the windows
(`max_length` {settings.get("max_length")}, stride {settings.get("stride")}), pairs start and end scores (n-best)
and merges a question's answers over its contexts, as the evaluation above did:

```python
from transformers import AutoModelForQuestionAnswering

model = AutoModelForQuestionAnswering.from_pretrained("{model}")  # start_logits, end_logits
```

```python
import biotune

qa = biotune.load("{model}")
[record] = qa.predict([{{"id": "q1", "question": "Which drug causes tremor?",
                         "contexts": ["Lithium causes tremor.", "Tremor after lithium."]}}])
for answer in record["answers"]:  # "occurrences": the context (index), start, end of each reading
    print(answer["text"], answer["score"], answer["occurrences"])
```

```bash
biotune predict --checkpoint {model} --input questions.jsonl --output answers.jsonl   # {{"id", "question", "contexts"}} per line
```
"""


def _best_threshold(predictor: QaPredictor, split: Split) -> tuple[float, ListResult]:
    ranked = predictor.rank(split.examples)
    return best_list_threshold(split.documents or [], {q: [(a.text, a.score) for a in answers]
                                                       for q, answers in ranked.items()})


class DecisionTask(_WindowTask):
    name = "yesno"

    def read_split(self, spec: str, config: ExperimentConfig) -> Split:
        """BLURB TSV, PubMedQA JSON (ori_pqal.json without the official test; test_ground_truth.json), or BioASQ gold."""
        name, path = _locate(spec, config)
        files = expand(path)
        examples: list[DecisionExample] = []
        for file in files:
            kind = sniff(file)
            if kind == "tsv":
                examples += read_decisions_tsv(file)
            elif kind in ("pubmedqa", "pubmedqa_test"):
                examples += read_pubmedqa_json(file)
            elif kind == "gold":
                examples += decisions_from_gold(*read_gold([file], "yesno"))
            else:
                raise BiotuneError(f"{file}: a {kind} file is for task qa; task yesno reads 'question: ... context: "
                                   "...<TAB>label' TSV, PubMedQA JSON or BioASQ gold JSON")
        examples = list(islice(examples, config.data.limit))
        return Split(name, path, examples, _ordered({e.label for e in examples}))

    def read_source(self, source: SourceConfig, config: ExperimentConfig) -> SourceExamples:
        split = self.read_split(source.split, config)
        return SourceExamples([dataclasses.replace(e, weight=source.weight) for e in split.examples], split.annotated_types)

    def label_space(self, sources: Sequence[SourceExamples], dev: Split | None) -> list[str]:
        """yes, no, maybe (those that occur), then any other label in sorted order."""
        found = {label for s in sources for label in s.types} | set(dev.annotated_types if dev else ())
        return list(_ordered(found))

    def featurise(self, examples: Sequence[Any], bundle: Bundle, labels: Sequence[str],
                  config: ExperimentConfig) -> list[dict[str, Any]]:
        label2id = {label: i for i, label in enumerate(labels)}
        windows = self._windows(examples, bundle, config)
        per_example = [0] * len(examples)
        for w in windows:
            per_example[w.example] += 1
        balanced = config.section(QaSettings).class_weights == "balanced"
        share = balanced_weights([e.label for e in examples]) if balanced else {}
        return [{"input_ids": w.input_ids, "window": w, "label": label2id[examples[w.example].label],
                 "weight": examples[w.example].weight * share.get(examples[w.example].label, 1.0) / per_example[w.example]}
                for w in windows]

    def collator(self, bundle: Bundle, labels: Sequence[str]) -> Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]]:
        pad = bundle.tokenizer.pad_token_id or 0

        def collate(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
            return {**collate_windows([item["window"] for item in batch], pad),
                    "labels": torch.tensor([item["label"] for item in batch]),
                    "weight": torch.tensor([float(item["weight"]) for item in batch])}

        return collate

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], weight: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Sum over windows of weight * cross-entropy, over the batch size (the weights carry the per-example share)."""
        labels = batch.pop("labels")
        outputs = model(**batch)
        nll = torch.nn.functional.cross_entropy(outputs.logits.float(), labels, reduction="none")  # (batch,)
        return (nll * weight.to(nll.dtype)).sum() / max(len(nll), 1), outputs

    def predictor(self, bundle: Bundle, precision: str, batch_size: int,
                  device: torch.device | str | None = None) -> DecisionPredictor:
        return DecisionPredictor(bundle, precision=precision, batch_size=batch_size, device=device)

    submission_entry = staticmethod(decision_submission)

    def read_records(self, path: Path, format: str | None = None) -> Iterator[dict[str, Any]]:
        self._refuse_input_format(format)
        return read_decision_questions(path)

    def predict_records(self, predictor: Any, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return predict_decisions(predictor, records)

    def gold_records(self, split: Split) -> Iterator[dict[str, Any]]:
        """``{"id", "question", "context", "label"}`` per question: the record `read_records` reads, with its answer."""
        return ({"id": e.id, "question": e.question, "context": e.context, "label": e.label} for e in split.examples)

    def gold_features(self, labels: Sequence[str]) -> datasets.Features:
        import datasets

        string = datasets.Value("string")
        return datasets.Features({"id": string, "question": string, "context": string,
                                  "label": datasets.ClassLabel(names=list(labels))})

    def score(self, predictor: Any, split: Split, scope: tuple[str, ...] = ()) -> DecisionResult:
        unknown = sorted({e.label for e in split.examples} - set(predictor.labels))
        if unknown:
            raise BiotuneError(f"{split.path}: labels {unknown} are not among the model's {list(predictor.labels)}")
        predicted = [p.label for p in predictor.predict(split.examples)]
        return score_decisions([e.label for e in split.examples], predicted, predictor.labels)

    pipeline_tag = "text-classification"

    def label_counts(self, examples: Sequence[Any]) -> dict[str, int]:
        """Questions, then questions per answer (yes, no, maybe, then any other)."""
        counts = Counter(e.label for e in examples)
        return {"questions": len(examples), **{label: counts[label] for label in _ordered(set(counts))}}

    def card_usage(self, model: str, settings: Mapping[str, Any]) -> str:
        """transformers' pipeline where the head is the stock ``cls``, then biotune's predictor and CLI."""
        outside = (f"{MEAN_HEAD_FOLDER} It reads (question, context) pairs; its labels are in `config.id2label`.\n"
                   if settings.get("head") == MEAN_HEAD else _pipeline_usage(model))
        return f"""{outside}
biotune reads a context longer than one window (`max_length` {settings.get("max_length")},
stride {settings.get("stride")}) and averages its windows' probabilities, as the evaluation above did:

```python
import biotune

decide = biotune.load("{model}")
print(decide.predict([{{"question": "Does lithium cause tremor?",
                        "context": "Tremor is a common side effect of lithium."}}])[0]["scores"])
```

```bash
biotune predict --checkpoint {model} --input questions.tsv --output decisions.jsonl
```
"""


def _pipeline_usage(model: str) -> str:
    """The stock ``cls`` folder in `transformers.pipeline`: each label's probability for one pair."""
    return f"""The folder is a standard sequence-classification model over (question, context) pairs
(labels in `config.id2label`):

```python
from transformers import pipeline

decide = pipeline("text-classification", model="{model}", top_k=None)
print(decide({{"text": "Does lithium cause tremor?", "text_pair": "Tremor is a common side effect of lithium."}}))
```
"""


def balanced_weights(labels: Sequence[str]) -> dict[str, float]:
    """Each label's loss weight n / (k * count): every label of the k present carries the same total weight,
    and the weights average 1 over the examples (the loss keeps its scale, so the learning rate means the
    same). Why: with PubMedQA's 55% `yes` a small model first learns the prior, and a few hundred steps at a
    low rate stop there, answering `yes` to every question (BLURB's test: 55.20 accuracy)."""
    counts = Counter(labels)
    return {label: len(labels) / (len(counts) * count) for label, count in counts.items()}


def _ordered(labels: set[str]) -> tuple[str, ...]:
    return tuple([label for label in DECISION_ORDER if label in labels] + sorted(labels - set(DECISION_ORDER)))
