"""Training: learns the toy task, is deterministic, writes the run layout, and the weight reaches the loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from biotune.errors import BiotuneError
from biotune.tasks.ner.loss import weighted_token_loss
from biotune.experiments.run import train
from tests.conftest import _sentences, tiny_experiment, write_tsv


def test_training_learns_the_toy_task(trained_run) -> None:
    assert trained_run.results["test"].micro.f1 > 0.9
    assert trained_run.dev_score is not None and trained_run.dev_score > 0.9


def test_run_layout_and_summary(trained_run) -> None:
    paths = trained_run.paths
    best = paths.best_model
    assert (best / "config.json").is_file() and (best / "model.safetensors").is_file()
    assert (best / "tokenizer.json").is_file()
    config = json.loads((best / "config.json").read_text())
    assert config["id2label"]["0"] == "O" and config["biotune"]["max_length"] == 32
    snapshot = yaml.safe_load((paths.results / "config_snapshot.yaml").read_text())
    assert snapshot["training"]["seed"] == 42 and snapshot["data"]["test"] == ["test"]
    metrics = json.loads((paths.results / "eval_test.json").read_text())
    assert metrics["test"]["micro"]["f1"] == pytest.approx(trained_run.results["test"].micro.f1)
    assert (paths.results / "eval_test.md").is_file()
    summary = json.loads(paths.summary.read_text())
    assert summary["dev_history"] and len(summary["dev_history"]) == 4
    assert summary["best_dev_score"] == max(h["dev_score"] for h in summary["dev_history"])
    assert (paths.logs / "train.log").stat().st_size > 0
    assert not (paths.checkpoint / "trainer").exists(), "intermediate Trainer checkpoints are cleaned up"
    assert not list(paths.results.glob(".*.tmp"))


def test_existing_run_is_not_overwritten(trained_run, word_backbone: Path, toy_corpus: Path) -> None:
    root = trained_run.paths.root
    before = trained_run.paths.summary.read_bytes()
    with pytest.raises(BiotuneError, match="--overwrite"):
        train(tiny_experiment(word_backbone, toy_corpus, root))
    assert trained_run.paths.summary.read_bytes() == before


def test_model_selection_never_reads_the_test_split(word_backbone: Path, tmp_path: Path) -> None:
    """Dev F1 drives selection: a test set full of nonsense labels changes nothing in training."""
    corpus = tmp_path / "corpus"
    write_tsv(corpus / "train.tsv", _sentences(32, seed=1))
    write_tsv(corpus / "devel.tsv", _sentences(8, seed=2))
    write_tsv(corpus / "test.tsv", _sentences(8, seed=3))
    a = train(tiny_experiment(word_backbone, corpus, tmp_path / "a", epochs=2))
    flipped = [(tokens, ["O"] * len(tags)) for tokens, tags in _sentences(8, seed=3)]
    write_tsv(corpus / "test.tsv", flipped)
    b = train(tiny_experiment(word_backbone, corpus, tmp_path / "b", epochs=2))
    assert a.summary["dev_history"] == b.summary["dev_history"]


def test_training_is_deterministic_for_a_seed(word_backbone: Path, toy_corpus: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    runs = [train(tiny_experiment(word_backbone, toy_corpus, tmp_path / str(i), epochs=1)) for i in range(2)]
    weights = [load_file(str(r.paths.best_model / "model.safetensors")) for r in runs]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    other = train(tiny_experiment(word_backbone, toy_corpus, tmp_path / "other", epochs=1, seed=7))
    changed = load_file(str(other.paths.best_model / "model.safetensors"))
    assert not torch.equal(changed["classifier.weight"], weights[0]["classifier.weight"])


def test_weighted_token_loss_is_a_per_token_weighted_mean() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 3)
    labels = torch.tensor([[0, 1, -100, 2], [1, -100, -100, 0]])
    weight = torch.tensor([1.0, 0.5])
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, 3), labels.reshape(-1), ignore_index=-100,
                                           reduction="none").reshape(2, 4)
    expected = (ce[0, [0, 1, 3]].sum() + 0.5 * ce[1, [0, 3]].sum()) / 5
    assert weighted_token_loss(logits, labels, weight).item() == pytest.approx(expected.item(), rel=1e-6)
    assert weighted_token_loss(logits, labels, torch.zeros(2)).item() == 0.0


def test_example_weights_reach_the_loss_through_the_trainer(word_backbone: Path, toy_corpus: Path,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """All-zero weights must freeze the model (no gradient); the column must not be dropped on the way.

    The research code this replaces lost its weight column inside the Trainer, so its weighted
    runs trained exactly the unweighted objective. Here the weight is read by `compute_loss`.
    """
    import biotune.tasks.ner.features as features
    from safetensors.torch import load_file
    from transformers import AutoModel

    original = features.encode

    def zero_weight_encode(*args, **kwargs):
        feats = original(*args, **kwargs)
        for f in feats:
            f["weight"] = 0.0
        return feats

    monkeypatch.setattr("biotune.tasks.ner.task.encode", zero_weight_encode)
    run = train(tiny_experiment(word_backbone, toy_corpus, tmp_path, epochs=1, weight_decay=0.0))
    trained = load_file(str(run.paths.best_model / "model.safetensors"))
    initial = AutoModel.from_pretrained(str(word_backbone)).state_dict()
    name = "encoder.layer.0.attention.self.query.weight"
    key = next(k for k in trained if k.endswith(name))
    assert torch.equal(trained[key], initial[name]), "weight 0 must mean no update"
    monkeypatch.setattr("biotune.tasks.ner.task.encode", original)
    moved = train(tiny_experiment(word_backbone, toy_corpus, tmp_path / "ones", epochs=1, weight_decay=0.0))
    assert not torch.equal(load_file(str(moved.paths.best_model / "model.safetensors"))[key], initial[name])


def test_training_data_must_be_tagged(word_backbone: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    write_tsv(corpus / "train.tsv", _sentences(4, seed=1))
    write_tsv(corpus / "devel.tsv", _sentences(4, seed=2))
    (corpus / "test.tsv").write_text("")
    with pytest.raises(BiotuneError, match="test.tsv"):
        train(tiny_experiment(word_backbone, corpus, tmp_path / "out"))
    assert not (tmp_path / "out").exists(), "a bad input fails before any output folder is made"
