"""Sentence similarity on the task contract: a score for a pair of sentences, learnt by regression.

BLURB's BIOSSES (100 pairs from biomedical papers, each the mean of five annotators' 0-4
scores; 64 / 16 / 20 pairs) is the dataset it is built for. The map between the shared
machinery and the building blocks: `reading` (BIOSSES TSV, JSON Lines), `encoding` (the pair
as one text-pair input, or each sentence alone, never cut), `model` (the heads: ``cls``, a
standard regression folder; ``biencoder`` in `biencoder`, a sentence-transformers folder),
`predict`, `metrics` (Pearson, the headline; Spearman; MSE), `checks`.

Loss: the squared error of the predicted score, weighted per pair by its source's weight,
summed over the batch and divided by the batch size, as the other tasks reduce theirs. Scores
are learnt on the gold scale (no rescaling), so the saved model's output is the score itself
(the cross-encoder's in `transformers.pipeline` too; the bi-encoder's cosine in sentence-transformers
maps to it by the scale and shift its config.json records). There is no label space: `label_space` is empty.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from biotune.config import ExperimentConfig, SourceConfig
from biotune.corpora.splits import Split, locate
from biotune.errors import BiotuneError
from biotune.models.backbones import backbone_config, position_limit
from biotune.tasks.contract import Bundle, SourceExamples, Task, distinct
from biotune.tasks.similarity.biencoder import HEAD as BIENCODER
from biotune.tasks.similarity.checks import check_similarity, score_bins
from biotune.tasks.similarity.encoding import READS_SEPARATELY, encode_pairs
from biotune.tasks.similarity.examples import SentencePair
from biotune.tasks.similarity.metrics import SimilarityResult, render_markdown, score_similarity
from biotune.tasks.similarity.model import (build_similarity_model, load_similarity_model, model_head,
                                            save_similarity_model)
from biotune.tasks.similarity.predict import SimilarityPredictor, pad
from biotune.tasks.similarity.reading import FORMATS, iter_records, read_pairs, record_pair

if TYPE_CHECKING:
    import datasets


class SimilarityTask(Task):
    name = "similarity"
    pipeline_tag = "text-classification"
    prediction_inputs = FORMATS  # BIOSSES TSV, JSONL records

    # ---- data -----------------------------------------------------------------------------
    def read_split(self, spec: str, config: ExperimentConfig) -> Split:
        """A scored split: BIOSSES TSV or JSONL (`data.format`, else the file's extension)."""
        return self._read(spec, config, config.data.format)

    def read_source(self, source: SourceConfig, config: ExperimentConfig) -> SourceExamples:
        split = self._read(source.split, config, source.format or config.data.format)
        return SourceExamples([dataclasses.replace(p, weight=source.weight) for p in split.examples], ())

    def texts(self, spec: str, config: ExperimentConfig) -> Iterator[str]:
        """Each distinct sentence of the split's pairs, scores left out."""
        return distinct(s for pair in self.read_split(spec, config).examples for s in (pair.sentence1, pair.sentence2))

    def _read(self, spec: str, config: ExperimentConfig, format: str | None) -> Split:
        name, path, _ = locate(spec, config.data)
        pairs = list(islice(read_pairs(path, format), config.data.limit))
        if not pairs:
            raise BiotuneError(f"file {path} contains no sentence pairs")
        return Split(name, path, pairs, ())

    def label_space(self, sources: Sequence[SourceExamples], dev: Split | None) -> list[str]:
        return []  # one regression output, no labels

    def check_data(self, splits: Mapping[str, Split], tokenizer: Any, config: ExperimentConfig) -> str:
        dev = locate(config.data.dev, config.data)[0] if config.data.dev else None
        return check_similarity(splits, tokenizer, config.model.max_length, dev, READS_SEPARATELY[config.model.head])

    def check_inputs(self, train: Sequence[Any], evaluated: Mapping[str, Split], labels: Sequence[str],
                     tokenizer: Any, config: ExperimentConfig) -> None:
        """Every training, dev and test pair fits `model.max_length` whole, as the head reads it
        (`encoding.too_long_message` otherwise)."""
        positions = position_limit(backbone_config(config.model.backbone))
        for pairs in (train, *(split.examples for split in evaluated.values())):
            encode_pairs(pairs, tokenizer, config.model.max_length, positions, READS_SEPARATELY[config.model.head])

    # ---- model and training -----------------------------------------------------------------
    def build_model(self, init: str, labels: Sequence[str], config: ExperimentConfig,
                    train_examples: Sequence[Any]) -> Bundle:
        return build_similarity_model(init, config.model.head, config.model.dropout, config.model.attention_dropout,
                                      [p.score for p in train_examples if p.score is not None])

    def featurise(self, examples: Sequence[Any], bundle: Bundle, labels: Sequence[str],
                  config: ExperimentConfig) -> list[dict[str, Any]]:
        """Each pair's input as the model's head reads it; `input_ids` (both sentences' for the bi-encoder)
        is what the trainer sorts and budgets batches by."""
        inputs = encode_pairs(examples, bundle.tokenizer, config.model.max_length, position_limit(bundle.model.config),
                              READS_SEPARATELY[model_head(bundle.model)])
        return [{"input_ids": item.input_ids, "pair": item, "score": pair.score, "weight": pair.weight}
                for pair, item in zip(examples, inputs)]

    def collator(self, bundle: Bundle, labels: Sequence[str]) -> Callable[[Sequence[Mapping[str, Any]]], dict[str, Any]]:
        def collate(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
            return {**pad([item["pair"] for item in batch], bundle),
                    "labels": torch.tensor([float(item["score"]) for item in batch]),  # (batch,)
                    "weight": torch.tensor([float(item["weight"]) for item in batch])}

        return collate

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], weight: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Sum over pairs of weight * (predicted - gold)^2, over the batch size."""
        gold = batch.pop("labels")
        outputs = model(**batch)
        squared = (outputs.logits.float()[:, 0] - gold.float()) ** 2  # (batch,)
        return (squared * weight.to(squared.dtype)).sum() / max(len(squared), 1), outputs

    def save(self, bundle: Bundle, folder: Path) -> None:
        save_similarity_model(bundle, folder)

    def load(self, folder: str | Path) -> Bundle:
        return load_similarity_model(folder)

    # ---- prediction and scoring ---------------------------------------------------------------
    def predictor(self, bundle: Bundle, precision: str, batch_size: int,
                  device: torch.device | str | None = None) -> SimilarityPredictor:
        return SimilarityPredictor(bundle, precision=precision, batch_size=batch_size, device=device)

    def read_records(self, path: Path, format: str | None = None) -> Iterator[dict[str, Any]]:
        """JSONL ``{"id"?, "sentence1", "sentence2"}`` lines, or BIOSSES TSV rows (a score column is ignored)."""
        return iter_records(path, format)

    def predict_records(self, predictor: Any, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Each record with its predicted `score` (rounded to 6 decimals) added; a bad record is named
        ``record <id>``, or ``record <position from 0>`` without an id."""
        pairs = []
        for k, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise BiotuneError(f"record {k}: expected an object with 'sentence1' and 'sentence2', "
                                   f"got {type(record).__name__}")
            where = f"record {record['id']!r}" if record.get("id") is not None else f"record {k}"
            pairs.append(record_pair(record, where, need_score=False, default_id=str(k)))
        scores = predictor.predict(pairs)
        return [{**record, "score": round(score, 6)} for record, score in zip(records, scores)]

    def gold_records(self, split: Split) -> Iterator[dict[str, Any]]:
        """``{"id", "sentence1", "sentence2", "score"}`` per pair: the record `read_records` reads, and its gold score."""
        return ({"id": p.id, "sentence1": p.sentence1, "sentence2": p.sentence2, "score": p.score}
                for p in split.examples)

    def gold_features(self, labels: Sequence[str]) -> datasets.Features:
        """The score a float64, so a gold score reads back as written (BIOSSES's 2.2, not 2.2000000477)."""
        import datasets

        return datasets.Features({"id": datasets.Value("string"), "sentence1": datasets.Value("string"),
                                  "sentence2": datasets.Value("string"), "score": datasets.Value("float64")})

    def score(self, predictor: Any, split: Split, scope: tuple[str, ...] = ()) -> SimilarityResult:
        """Pearson, Spearman and MSE of the split's pairs (`read_split` gives every pair its gold score)."""
        return score_similarity([p.score for p in split.examples], predictor.predict(split.examples))

    def render(self, results: Mapping[str, Mapping[str, Any]], title: str) -> str:
        blocks = [f"# {title}"] if title else []
        blocks += [render_markdown(result, title=name if len(results) > 1 or not title else "")
                   for name, result in results.items()]
        return "\n\n".join(block.rstrip() for block in blocks) + "\n"

    # ---- model card -----------------------------------------------------------------------------
    def label_counts(self, examples: Sequence[SentencePair]) -> dict[str, int]:
        """Pairs, then pairs per one-point bin of the score scale."""
        return {"pairs": len(examples), **score_bins(p.score for p in examples if p.score is not None)}

    def card_usage(self, model: str, settings: Mapping[str, Any]) -> str:
        """How the head's folder is used outside biotune (transformers for ``cls``, sentence-transformers for
        ``biencoder``), then with biotune, then what the data's size means for its scores."""
        outside = (_biencoder_usage(model, settings["scale"], settings["shift"]) if settings.get("head") == BIENCODER
                   else _cross_encoder_usage(model))
        return f"""{outside}
With biotune (records in, records out; a sentence or pair is never cut, and one longer than the
model's positions is refused):

```python
from biotune.tasks import get_task
from biotune.tasks.similarity.predict import SimilarityPredictor

task = get_task("similarity")
predictor = SimilarityPredictor.from_checkpoint("{model}")
print(task.predict_records(predictor, [{{"id": "p1", "sentence1": "...", "sentence2": "..."}}]))
```

```bash
biotune evaluate --checkpoint {model} --test pairs.tsv   # sentence1<TAB>sentence2<TAB>score (BIOSSES)
```

Sentence-similarity sets are small (BIOSSES: 64 training, 16 dev, 20 test pairs): the dev split
that selected the epoch holds a handful of pairs, and a Pearson correlation over 20 test pairs
moves by points from one seed to the next. Read a single run's scores with that in mind, and
compare models over several seeds (`biotune run CONFIG --seeds ...`; the card of such a run shows
the seeds' mean and standard deviation).
"""


EXAMPLE_PAIR = ("Oncogenic KRAS mutations are common in cancer.",
                "The oncogenic activity of mutant Kras appears dependent on functional Craf.")


def _cross_encoder_usage(model: str) -> str:
    """The ``cls`` folder in `transformers.pipeline`: the score itself, the pair as one input."""
    return f"""The folder is a standard `AutoModelForSequenceClassification` regression model (one output,
`problem_type: regression`): its output is the similarity score on the training data's scale
(BIOSSES: 0 unrelated ... 4 equivalent), not a probability, and transformers gives it as it is:

```python
from transformers import pipeline

similarity = pipeline("text-classification", model="{model}")
print(similarity({{"text": "{EXAMPLE_PAIR[0]}",
                  "text_pair": "{EXAMPLE_PAIR[1]}"}}))
# {{'label': 'similarity', 'score': ...}}
```
"""


def _biencoder_usage(model: str, scale: float, shift: float) -> str:
    """The ``biencoder`` folder in sentence-transformers: the cosine of two embeddings, mapped to the scale."""
    return f"""The folder is a sentence-transformers bi-encoder (the encoder, then mean pooling; a standard
`AutoModel` folder too): each sentence is embedded alone, and the similarity score on the training
data's scale (BIOSSES: 0 unrelated ... 4 equivalent) is `shift + scale * cosine` of the two
embeddings, with the trained `scale` {scale:.6g} and `shift` {shift:.6g} (`biotune` in config.json).
sentence-transformers cuts a sentence longer than the model's positions, where biotune refuses it.

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("{model}")
embeddings = model.encode(["{EXAMPLE_PAIR[0]}",
                           "{EXAMPLE_PAIR[1]}"])
cosine = float(model.similarity(embeddings[0], embeddings[1]))  # its default: cosine
print({shift:.6g} + {scale:.6g} * cosine)
```
"""
