"""Fine-tuning an encoder so that a mention and its concept's names embed close (SapBERT's idea).

Training data are pairs of texts that name one concept: two names of a concept from the
vocabularies (its synonym set) and a corpus's training mention with one name of its gold
concept. The loss is InfoNCE with in-batch negatives, both directions (anchor -> positive and
back), at temperature `temperature`: each anchor must find its own positive among the batch's
positives. Pairs in the batch that name the same concept as the anchor are masked rather than
counted as negatives (they are right answers too). SapBERT uses a multi-similarity loss over
the same in-batch structure; InfoNCE needs no mining thresholds and trains to the same kind of
space. Texts are `normalise`d, as `DenseLinker` embeds them.

A bounded number of optimisation `steps` (not epochs) sets the cost: vocabularies hold hundreds
of thousands of names, and the useful signal arrives long before one pass over all pairs.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch

from biotune.errors import BiotuneError
from biotune.linking.dense import DenseLinker, Encoder
from biotune.linking.terms import normalise
from biotune.linking.vocabulary import Vocabulary

log = logging.getLogger("biotune")

WARMUP_SHARE = 0.05  # of the steps, with the learning rate rising linearly before decaying linearly to 0


@dataclass(frozen=True, slots=True)
class Pair:
    """Two texts naming `concept`."""

    anchor: str
    positive: str
    concept: str


@dataclass(frozen=True)
class TrainingSettings:
    steps: int
    batch_size: int = 64
    learning_rate: float = 2e-5
    temperature: float = 0.05
    synonym_pairs_per_concept: int = 2
    seed: int = 42


def training_pairs(vocabularies: Mapping[str, Sequence[Vocabulary]], mentions: Iterable[tuple[str, str, str]],
                   synonym_pairs_per_concept: int, seed: int) -> list[Pair]:
    """Synonym pairs of each type's concepts plus (mention, a name of its concept) pairs, shuffled.

    `mentions` are ``(text, type, concept id)`` of training documents; one whose concept has no
    vocabulary name of its type pairs with another mention of that concept, if any.
    """
    rng = random.Random(seed)
    names: dict[tuple[str, str], list[str]] = defaultdict(list)
    for type_, vocabs in vocabularies.items():
        for vocabulary in vocabs:
            for term, concept in zip(vocabulary.terms, vocabulary.ids):
                key = normalise(term)
                if key and key not in names[type_, concept]:
                    names[type_, concept].append(key)
    pairs: list[Pair] = []
    for (_, concept), synonyms in sorted(names.items()):
        if len(synonyms) > 1:
            for _ in range(synonym_pairs_per_concept):
                anchor, positive = rng.sample(synonyms, 2)
                pairs.append(Pair(anchor, positive, concept))
    by_concept: dict[tuple[str, str], list[str]] = defaultdict(list)
    for text, type_, concept in mentions:
        if normalise(text):
            by_concept[type_, concept].append(normalise(text))
    for key, texts in sorted(by_concept.items()):
        partners = names.get(key) or texts
        for text in texts:
            others = [p for p in partners if p != text] or partners
            pairs.append(Pair(text, rng.choice(others), key[1]))
    rng.shuffle(pairs)
    return pairs


def train_dense_linker(encoder: Encoder, vocabularies: Mapping[str, Sequence[Vocabulary]],
                       mentions: Iterable[tuple[str, str, str]], settings: TrainingSettings
                       ) -> tuple[DenseLinker, list[float]]:
    """Fine-tune `encoder` on the synonym pairs of `vocabularies` plus the ``(text, type, id)`` training
    `mentions` (`training_pairs`), then index every name of `vocabularies`: the linker and the loss per step."""
    pairs = training_pairs(vocabularies, mentions, settings.synonym_pairs_per_concept, settings.seed)
    if not pairs:
        raise BiotuneError("no training pairs: the vocabularies name no concept twice and no mention was given")
    losses = train_encoder(encoder, pairs, settings)
    return DenseLinker.build(encoder, vocabularies), losses


def info_nce(anchors: torch.Tensor, positives: torch.Tensor, concepts: Sequence[str], temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE of (batch, hidden) unit vectors; other pairs of the same concept are masked out."""
    logits = anchors @ positives.T / temperature  # (batch, batch)
    same = torch.tensor([[a == b for b in concepts] for a in concepts], device=logits.device)
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(concepts), device=logits.device)
    return (torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target)) / 2


def train_encoder(encoder: Encoder, pairs: Sequence[Pair], settings: TrainingSettings) -> list[float]:
    """Fine-tune `encoder` in place for `settings.steps` batches (cycling over `pairs`); returns the loss per step."""
    torch.manual_seed(settings.seed)
    order = list(range(len(pairs)))
    random.Random(settings.seed).shuffle(order)
    model = encoder.model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    warmup = max(1, math.ceil(settings.steps * WARMUP_SHARE))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (settings.steps - step) / (settings.steps - warmup + 1))))
    losses: list[float] = []
    started = time.perf_counter()
    for step in range(settings.steps):
        start = step * settings.batch_size
        batch = [pairs[order[(start + j) % len(order)]] for j in range(settings.batch_size)]
        loss = info_nce(encoder.forward([p.anchor for p in batch]), encoder.forward([p.positive for p in batch]),
                        [p.concept for p in batch], settings.temperature)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if (step + 1) % max(1, settings.steps // 20) == 0:
            log.info("dense linker: step %d/%d, loss %.4f, %.0f s", step + 1, settings.steps,
                     sum(losses[-20:]) / len(losses[-20:]), time.perf_counter() - started)
    model.eval()
    return losses
