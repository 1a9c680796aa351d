"""Integration: the bundled MiniLM trains for a few steps and its checkpoint loads in `pipeline`."""

from __future__ import annotations

from pathlib import Path

from biotune.config import validate
from biotune.training.train import train


def test_minilm_trains_a_few_steps_and_loads_in_a_pipeline(toy_corpus: Path, tmp_path: Path) -> None:
    from transformers import pipeline

    config = validate({"name": "minilm_smoke", "output_dir": str(tmp_path),
                       "data": {"corpus": str(toy_corpus)},
                       "training": {"epochs": 1, "batch_size": 16, "learning_rate": 1e-3, "logging_steps": 1}},
                      "test")
    result = train(config)
    assert result.summary["train_sentences"] == 64 and result.summary["epochs_run"] == 1
    assert 0.0 <= result.results["test"].micro.f1 <= 1.0
    nlp = pipeline("token-classification", model=str(result.paths.best_model), device=-1)
    out = nlp("The patient developed acute bleeding after heparin.")
    assert isinstance(out, list)
    assert {item["entity"] for item in out} <= {"B-Chemical", "I-Chemical", "B-Disease", "I-Disease"}
