"""The multi-label model, by head (`biotune.models.mean_classifier`), one sigmoid score per label
(``problem_type="multi_label_classification"``) and the label names in `config.id2label`:

- ``sigmoid``: a standard `AutoModelForSequenceClassification` folder over the [CLS] state, which
  `pipeline("text-classification", top_k=None)` loads, applying the sigmoid itself;
- ``mean``: mean pooling over every real token under the classifier (`MeanPoolClassifier`), what a
  sentence-embedding backbone such as the bundled MiniLM was trained to give; biotune's predictor loads it.

`config.biotune` records the task, the head and what prediction must reproduce: the window
(`max_length`, `stride`) and the decision threshold tuned on dev (`Task.tune`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from biotune.models.head_models import save_head_model
from biotune.models.mean_classifier import build_classifier, load_classifier
from biotune.tasks import require_checkpoint_task
from biotune.tasks.contract import Bundle

TASK = "multilabel"
PROBLEM_TYPE = "multi_label_classification"


def build_model(backbone: str, head: str, labels: Sequence[str], dropout: float,
                attention_dropout: float = 0.0) -> Bundle:
    """A multi-label model of `head` on `backbone` (the classifier new, the encoder pre-trained)."""
    return Bundle(*build_classifier(TASK, backbone, head, labels, dropout, attention_dropout, problem_type=PROBLEM_TYPE))


def save_model(bundle: Bundle, folder: str | Path) -> None:
    save_head_model(bundle.model, bundle.tokenizer, folder)


def load_model(folder: str | Path) -> Bundle:
    """Load a folder written by `save_model` (either head) in eval mode; a `BiotuneError` names what is wrong."""
    require_checkpoint_task(folder, TASK)
    return Bundle(*load_classifier(folder, TASK, lambda config: None if config.problem_type == PROBLEM_TYPE
                                   else f"problem_type {PROBLEM_TYPE!r}"))
