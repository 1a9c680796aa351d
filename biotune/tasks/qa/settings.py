"""The `qa:` and `yesno:` config sections: windows over long contexts, the answer search, BioASQ
gold (validated by `biotune.config` through `TaskSpec.settings`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from biotune.config import Section

if TYPE_CHECKING:
    from biotune.config import ExperimentConfig


class QaSettings(Section):
    """The `qa:` section (task qa), also the `yesno:` section (task yesno reads `stride`)."""

    type: Literal["factoid", "list"] = Field("factoid", description="task qa: which BioASQ questions a gold file "
                                             "gives and how answers are cut and scored: factoid (top_k; strict, "
                                             "lenient, MRR) | list (merged score >= the threshold; mean P/R/F1)")
    stride: int = Field(128, ge=0, description="subwords shared by consecutive windows of a context longer than a "
                        "window (never truncated)")
    class_weights: Literal["balanced", "none"] = Field(
        "balanced", description="task yesno: balanced = each training question's loss weighed by the inverse of its "
        "answer's share (every answer carries the same total weight), so that answering the majority answer "
        "everywhere is no minimum of the loss (PubMedQA is 55% yes, BioASQ yes/no 82%); none = every question alike")
    n_best: int = Field(20, ge=1, description="task qa: start and end positions paired per window")
    max_answer_length: int = Field(30, ge=1, description="task qa: longest answer, in subwords")
    top_k: int = Field(5, ge=1, description="task qa: answers per factoid question (BioASQ scores the top 5)")
    list_threshold: float | None = Field(None, ge=0, allow_inf_nan=False, description="task qa, list: a fixed "
                                         "merged-score threshold; null = tuned on the dev split after training")
    gold: list[str] = Field(default_factory=list, description="BioASQ gold files for SQuAD-form files without answers "
                            "(default: the *_golden.json in a golden/ folder beside the file's folder)")

    def check(self, config: ExperimentConfig) -> str | None:
        if config.task == "qa" and self.type == "list" and not config.data.dev and self.list_threshold is None:
            return "qa.type list needs data.dev to tune the answer threshold on, or a fixed qa.list_threshold"
        return None
