"""Training sources: read each configured source, mark what it annotates, weight and subsample it.

Every sentence leaves here carrying its source's `weight` and `annotated_types`, so the
features, the loss and the label space can honour them without knowing where a sentence came
from. A source that annotates fewer types than the label space (a dictionary-labelled Gene
corpus next to a Chemical/Disease gold corpus) must not teach that the other types are O:
`annotated_types` is what lets the loss know (see `features.o_alternatives`).

Subsampling (`sample_ratio`) is relative to the reference source, the first one without a
`sample_ratio` (e.g. silver:gold = 2:1 is `sample_ratio: 2` on the silver source), drawn with
`random.Random(seed)`, so the same seed always trains on the same sample.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from biotune.config import ExperimentConfig, SourceConfig
from biotune.corpora.splits import read_split
from biotune.formats.sentence import Sentence
from biotune.errors import BiotuneError

log = logging.getLogger("biotune")


@dataclass(frozen=True)
class Source:
    """A read training source: its config and its (sampled, weighted, marked) sentences."""

    config: SourceConfig
    sentences: list[Sentence]
    types: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.config.name


def source_configs(config: ExperimentConfig) -> list[SourceConfig]:
    """The configured sources, or `data.train` as the single source `train`."""
    return list(config.sources) or [SourceConfig(name="train", split=config.data.train)]


def read_sources(config: ExperimentConfig) -> list[Source]:
    """Read, mark and subsample every source (errors name the source)."""
    sources: list[Source] = []
    for spec in source_configs(config):
        updates = {k: v for k, v in (("format", spec.format), ("tag_field", spec.tag_field)) if v is not None}
        split = read_split(spec.split, config.data.model_copy(update=updates))
        untagged = next((s.id for s in split.sentences if s.tags is None), None)
        if untagged is not None:
            raise BiotuneError(f"source {spec.name!r}: sentence {untagged} has no tags; training data must be tagged")
        types = tuple(spec.types) if spec.types is not None else split.annotated_types
        tagged = sorted({t[2:] for s in split.sentences for t in s.tags or [] if t != "O"} - set(types))
        if tagged:
            raise BiotuneError(f"source {spec.name!r}: tags of types {tagged} but `types` says it annotates {list(types)}")
        sentences = [s for s in split.sentences if any(t != "O" for t in s.tags or [])] if spec.only_labelled else split.sentences
        if not sentences:
            raise BiotuneError(f"source {spec.name!r}: no sentence has an entity (only_labelled)")
        for s in sentences:
            s.weight = spec.weight
            s.annotated_types = frozenset(types)
        sources.append(Source(spec, sentences, types))
    reference = next((s for s in sources if s.config.sample_ratio is None), None)
    sampled = []
    for source in sources:
        ratio = source.config.sample_ratio
        if ratio is not None:
            if reference is None:
                raise BiotuneError("sample_ratio is relative to a source without one; every source has one")
            source = Source(source.config, _sample(source.sentences, round(ratio * len(reference.sentences)),
                                                   config.training.seed), source.types)
        log.info("source %s: %d sentences, types %s, weight %g", source.name, len(source.sentences),
                 list(source.types), source.config.weight)
        sampled.append(source)
    return sampled


def _sample(sentences: list[Sentence], n: int, seed: int) -> list[Sentence]:
    """`n` sentences drawn without replacement (all of them if there are fewer), in file order."""
    if n >= len(sentences):
        return sentences
    keep = sorted(random.Random(seed).sample(range(len(sentences)), n))
    return [sentences[i] for i in keep]
