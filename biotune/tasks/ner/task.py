"""NER on the task contract: BIO tagging of word sequences, windows over subwords, span-F1.

Each contract step delegates to the NER module that owns it (`reading`, `features`,
`factory`, `loss`, `tagger`, `metrics`, `report`, and `records` for prediction on new data),
so this file is only the map between the shared machinery and NER.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from biotune.config import ExperimentConfig, SourceConfig
from biotune.corpora.splits import Split
from biotune.formats.schemes import tags_to_spans
from biotune.models.backbones import load_tokenizer
from biotune.tasks.contract import Bundle, SourceExamples, Task
from biotune.tasks.endpoints import Endpoint
from biotune.tasks.ner.align import Aligner
from biotune.tasks.ner.checks import check_data
from biotune.tasks.ner.endpoint import tag_endpoint
from biotune.tasks.ner.context import document_keys
from biotune.tasks.ner.factory import build_model, load_model, save_model
from biotune.tasks.ner.features import PaddingCollator, encode, label_space
from biotune.tasks.ner.loss import weighted_crf_loss, weighted_token_loss
from biotune.tasks.ner.metrics import EvalResult, evaluate_tags
from biotune.tasks.ner.reading import read_source, read_split, split_texts
from biotune.tasks.ner.settings import NerSettings
from biotune.tasks.ner.stage import EntityStage
from biotune.tasks.ner.records import INPUT_FORMATS, document_chunks, predict_records, read_records
from biotune.tasks.ner.report import render_markdown
from biotune.tasks.ner.tagger import Tagger


class NerTask(Task):
    name = "ner"

    def read_split(self, spec: str, config: ExperimentConfig) -> Split:
        return read_split(spec, config.data)

    def read_source(self, source: SourceConfig, config: ExperimentConfig) -> SourceExamples:
        return read_source(source, config)

    def texts(self, spec: str, config: ExperimentConfig) -> Iterator[str]:
        """Each sentence, its words joined by spaces, streamed."""
        return split_texts(spec, config.data)

    def check_data(self, splits: Mapping[str, Split], tokenizer: Any, config: ExperimentConfig) -> str:
        aligner = Aligner(tokenizer, config.model.max_length)
        report = check_data({name: split.examples for name, split in splits.items()},
                            subword_length=aligner.subword_length, max_length=aligner.max_length)
        return report.render_markdown()

    def label_space(self, sources: Sequence[SourceExamples], dev: Split | None) -> list[str]:
        return label_space([s.examples for s in sources] + ([dev.examples] if dev else []),
                           extra_types=[t for s in sources for t in s.types])

    def build_model(self, init: str, labels: Sequence[str], config: ExperimentConfig,
                    train_examples: Sequence[Any]) -> Bundle:
        model = build_model(init, labels, config.model.head, config.model.dropout, config.model.attention_dropout)
        return Bundle(model, load_tokenizer(config.model.backbone))

    def featurise(self, examples: Sequence[Any], bundle: Bundle, labels: Sequence[str],
                  config: ExperimentConfig) -> list[dict[str, Any]]:
        aligner = Aligner(bundle.tokenizer, config.model.max_length)
        ner = config.section(NerSettings)
        return encode(examples, aligner, {label: i for i, label in enumerate(labels)},
                      marginal_o=ner.unannotated_o == "marginal", context=ner.context)

    def collator(self, bundle: Bundle, labels: Sequence[str]) -> Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]]:
        return PaddingCollator(bundle.tokenizer.pad_token_id or 0, len(labels))

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], weight: torch.Tensor) -> tuple[torch.Tensor, Any]:
        labels = batch.pop("labels")
        o_allowed = batch.pop("o_allowed", None)
        outputs = model(**batch)
        crf = getattr(_unwrapped(model), "crf", None)
        if crf is None:
            return weighted_token_loss(outputs.logits, labels, weight, o_allowed), outputs
        return weighted_crf_loss(crf, outputs.logits, labels, weight, o_allowed), outputs

    def param_groups(self, model: torch.nn.Module, config: ExperimentConfig) -> list[dict[str, Any]]:
        """A CRF's transition scores start at zero: at the encoder's rate they would barely move."""
        crf = getattr(model, "crf", None)
        if crf is None:
            return []
        rate = config.section(NerSettings).crf_learning_rate
        return [{"params": list(crf.parameters()), "lr": rate, "weight_decay": 0.0}]

    def record(self, bundle: Bundle, config: ExperimentConfig, precision: str) -> None:
        super().record(bundle, config, precision)
        context = config.section(NerSettings).context
        bundle.model.config.biotune.update({"max_length": config.model.max_length, "context": context,
                                            "word_tokenizer": "biotune.formats.text"})

    def save(self, bundle: Bundle, folder: Path) -> None:
        save_model(bundle.model, folder)
        bundle.tokenizer.save_pretrained(str(folder))

    def load(self, folder: str | Path) -> Bundle:
        return Bundle(load_model(str(folder)), load_tokenizer(str(folder)))

    def predictor(self, bundle: Bundle, precision: str, batch_size: int,
                  device: torch.device | str | None = None) -> Tagger:
        return Tagger(bundle.model, bundle.tokenizer, batch_size=batch_size, precision=precision, device=device)

    prediction_inputs = INPUT_FORMATS
    prediction_folders = True  # a brat folder

    def read_records(self, path: Path, format: str | None = None) -> Iterator[dict[str, Any]]:
        return read_records(path, format)

    def predict_records(self, predictor: Any, records: Sequence[Mapping[str, Any] | str]) -> list[dict[str, Any]]:
        return predict_records(predictor, records)

    def prediction_chunks(self, records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
        return document_chunks(records, size)

    def endpoint(self, settings: Mapping[str, Any]) -> Endpoint:
        """POST /tag: texts in, entities out, through the document pipeline (so with the concept ids and
        relations of the dictionary and models served beside it)."""
        return tag_endpoint()

    def document_stage(self, predictor: Any, source: str, by_mention: bool = False) -> EntityStage:
        return EntityStage(predictor)

    def dev_scope(self, dev: Split, phase_types: frozenset[str]) -> tuple[str, ...] | None:
        """The dev types the phase's sources annotate: a phase cannot be selected on types it never saw."""
        scope = tuple(sorted(set(dev.annotated_types) & phase_types))
        return scope or None

    def score(self, predictor: Any, split: Split, scope: tuple[str, ...] = ()) -> EvalResult:
        gold = [s.tags or [] for s in split.examples]
        pred = predictor.predict_tags([s.tokens for s in split.examples], document_keys(split.examples))
        return evaluate_tags(gold, pred, annotated_types=scope or split.annotated_types)

    def render(self, results: Mapping[str, Mapping[str, Any]], title: str) -> str:
        return render_markdown(results, title)

    pipeline_tag = "token-classification"

    def label_counts(self, examples: Sequence[Any]) -> dict[str, int]:
        """Sentences, then entity mentions per type (spans read as scoring reads them)."""
        mentions = Counter(span.type for sentence in examples for span in tags_to_spans(sentence.tags or []))
        return {"sentences": len(examples), **dict(sorted(mentions.items()))}

    def card_usage(self, model: str, settings: Mapping[str, Any]) -> str:
        crf = ("It has a CRF head: the pipeline tags with the emissions alone, biotune adds the learned "
               "transitions (the scores above are biotune's).\n\n" if "crf" in settings else "")
        return f"""The folder is a standard token-classification model (labels in `config.id2label`):

```python
from transformers import pipeline

ner = pipeline("ner", model="{model}", aggregation_strategy="simple")  # "ner" is "token-classification"
print(ner("Cisplatin-induced nephrotoxicity was reversed."))
```

{crf}With biotune, which splits text into words, windows long sentences and decodes valid BIO tags
as the evaluation above did (records in, records out: a text, or `{{"id", "tokens"}}`):

```python
import biotune

ner = biotune.load("{model}")
for record in ner.predict(["Cisplatin-induced nephrotoxicity was reversed."]):
    print(record["predictions"])  # entity, type, token and character offsets, score
```

```bash
biotune predict --checkpoint {model} --input sentences.txt --output entities.jsonl
biotune evaluate --checkpoint {model} --test test.tsv
```
"""


def _unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    """The model under a DDP/accelerate wrapper (which does not expose the CRF attribute)."""
    return getattr(model, "module", model)
