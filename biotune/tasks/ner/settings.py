"""The `ner:` config section: what only NER reads (validated by `biotune.config` through `TaskSpec.settings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from biotune.config import Section


class NerSettings(Section):
    """The `ner:` section (task ner): document context, the CRF's learning rate, partial-label O."""

    context: int = Field(0, ge=0, description="subwords of document context on each side (FLERT): a sentence's "
                         "window also holds its neighbours in the same document (-DOCSTART- blocks, a JSONL "
                         "'document' field, PubTator/BioC documents), unlabelled, never across documents; the "
                         "checkpoint records it and prediction uses it. 0 = the sentence alone")
    crf_learning_rate: float = Field(1e-2, gt=0, allow_inf_nan=False, description="learning rate of a CRF head's "
                                     "transition scores (they start at zero)")
    unannotated_o: Literal["marginal", "o"] = Field(
        "marginal", description="loss on an O tag of a source that does not annotate every type: marginal = the "
        "word is O or an entity of a type the source does not annotate (partial-label loss); o = plain O")
