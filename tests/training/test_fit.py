"""The fit loop alone: one phase fitted in a work folder, with no run folder, evaluation or card."""

from __future__ import annotations

from pathlib import Path

import torch

from biotune.tasks import get_task
from biotune.training.fit import fit_phase, precision_name
from biotune.training.preflight import check_inputs
from biotune.training.strategies import plan_phases
from tests.conftest import tiny_experiment

NER = get_task("ner")


def test_a_phase_is_fitted_in_its_work_folder_alone_and_returns_the_best_dev_epoch(
        word_backbone: Path, toy_corpus: Path, tmp_path: Path) -> None:
    config = tiny_experiment(word_backbone, toy_corpus, tmp_path / "outputs", epochs=2)
    inputs = check_inputs(NER, config)
    labels = NER.label_space(inputs.sources, inputs.dev)
    (phase,) = plan_phases(config.training.strategy, inputs.sources, config.training)
    work = tmp_path / "work"
    fitted = fit_phase(NER, config, phase, config.model.backbone, labels, inputs.dev, False, work, True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"], "no run folder: only the Trainer's work folder"
    assert all(p.name.startswith("checkpoint-") for p in work.iterdir()), "the caller decides when they go"
    record = fitted.record
    assert [h["epoch"] for h in record["dev_history"]] == [1.0, 2.0]  # type: ignore[index]
    assert record["best_dev_score"] == max(h["dev_score"] for h in record["dev_history"])  # type: ignore[union-attr]
    assert record["train_examples"] == 64 and record["resumed_from_step"] == 0 and record["epochs_run"] == 2.0
    assert fitted.bundle.model.config.id2label == dict(enumerate(labels))
    batch = fitted.bundle.tokenizer(["aspirin"], return_tensors="pt")
    with torch.no_grad():
        assert fitted.bundle.model(**batch).logits.shape[-1] == len(labels)
    assert precision_name(False) == "fp32" and precision_name(True) == "autocast"


def _fit(config, tmp_path: Path):
    inputs = check_inputs(NER, config)
    labels = NER.label_space(inputs.sources, inputs.dev)
    (phase,) = plan_phases(config.training.strategy, inputs.sources, config.training)
    return fit_phase(NER, config, phase, config.model.backbone, labels, inputs.dev, False, tmp_path / "work", True)


def test_max_steps_stops_early_and_the_record_reports_subwords_per_second_and_padding(
        word_backbone: Path, toy_corpus: Path, tmp_path: Path) -> None:
    """64 sentences at 8 rows a batch are 8 steps an epoch: 3 steps are 3/8 of one; the dev split is still
    evaluated (the end of training ends the epoch)."""
    config = tiny_experiment(word_backbone, toy_corpus, tmp_path / "outputs", epochs=2, max_steps=3, batch_tokens=4096)
    record = _fit(config, tmp_path).record
    assert record["epochs_run"] == 3 / 8
    assert len(record["dev_history"]) == 1  # type: ignore[arg-type]
    assert record["train_subwords_per_second"] > 0  # type: ignore[operator]
    assert 0 <= record["train_padding_share"] < 0.5  # type: ignore[operator]  # length-sorted batches


def test_a_token_budget_shrinks_the_batches_of_long_windows(word_backbone: Path, toy_corpus: Path,
                                                            tmp_path: Path) -> None:
    """A budget below 8 rows of the toy sentences' lengths makes more, smaller batches: more steps an epoch."""
    config = tiny_experiment(word_backbone, toy_corpus, tmp_path / "outputs", epochs=1, batch_tokens=24)
    fitted = _fit(config, tmp_path)
    assert fitted.record["epochs_run"] == 1.0
    steps = max(int(p.name.removeprefix("checkpoint-")) for p in (tmp_path / "work").iterdir())
    assert steps > 64 // 8  # without the budget: 8 batches of 8 rows
