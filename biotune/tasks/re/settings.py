"""The `re:` config section: what only relation extraction reads (validated by `biotune.config`
through `TaskSpec.settings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from biotune.config import Section


class RelationSettings(Section):
    """The `re:` section (task re): labels, the headline, candidate pairs of document splits."""

    negative_label: str | None = Field("0", description="the no-relation label, excluded from the micro-F1 (ChemProt, "
                                       "DDI, GAD use 0); null when every label is a relation")
    label2id: str | None = Field(None, description="a name<TAB>id file: integer label cells are ids into it (default: "
                                 "label2id.tsv beside each split's file, when there is one)")
    pairs: list[tuple[str, str]] = Field(default_factory=list, description="document splits: the entity type pairs "
                                         "(head, tail) that become candidates, e.g. [[Chemical, Disease]]")
    scope: Literal["sentence", "document"] = Field("sentence", description="document splits: candidates within a "
                                                   "sentence, or one per concept pair of a document (closest mentions)")
    max_sentences: int | None = Field(None, ge=0, description="document scope: no candidate for a pair whose closest "
                                      "mentions are more sentence boundaries apart (counted in the report)")
    too_wide: Literal["error", "skip"] = Field("error", description="a training pair whose marked entities span more "
                                               "tokens than max_length: error (naming it) | skip (left out of "
                                               "training and counted); dev and test pairs must always fit")
