"""The multilabel task with `model.head: mean` (mean pooling under the classifier) through `biotune train` on
a tiny random BERT: it fits a few texts, saves and reloads to the same probabilities, predicts in every
precision, carries a card that shows biotune's predictor, and a crashed run resumes to the same model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from biotune.cli import app
from biotune.config import load_config
from biotune.models.mean_classifier import MeanPoolClassifier
from biotune.tasks import get_task
from tests.resume import crashed_then_resumed, same_weights
from tests.tasks.multilabel.toy import JSONL_TEXTS, jsonl_labels, write_config, write_corpus, write_jsonl

runner = CliRunner()
TASK = get_task("multilabel")
LONG_TEXT = " ".join(["bleeding"] * 50 + ["tremor"])  # three windows of 32 subwords


@pytest.fixture(scope="module")
def mean_fit(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> tuple[Path, Path]:
    """(best_model, config) of one `biotune train` with `model.head: mean` on the four JSONL texts, without dev
    (the last epoch is kept, at the default threshold: its scores are the fit's own)."""
    root = tmp_path_factory.mktemp("multilabel_mean")
    train_file = write_jsonl(root / "train.jsonl", JSONL_TEXTS * 16)
    test = write_jsonl(root / "test.jsonl", JSONL_TEXTS, prefix="e")
    config = write_config(root / "toy.yaml", word_backbone, root / "outputs",
                          {"corpus": "toy", "train": str(train_file), "dev": None, "test": [str(test)],
                           "allow_test_as_train": True}, head="mean", epochs=15, batch_size=8)
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 0, result.output
    assert "headline abstract-level micro-F1 = 100.00" in " ".join(result.output.split())
    return root / "outputs" / "checkpoints" / "toy_hoc" / "seed_7" / "best_model", config


def probabilities(folder: Path, precision: str = "fp32", batch_size: int = 8) -> np.ndarray:
    return TASK.predictor(TASK.load(folder), precision=precision, batch_size=batch_size).probabilities(
        [*JSONL_TEXTS, LONG_TEXT])


def test_training_lowers_the_loss_and_fits_every_label_set(mean_fit, word_backbone: Path) -> None:
    best, config_path = mean_fit
    config = load_config(config_path)
    examples = TASK.read_split(str(config.data.train), config).examples
    labels = ["inducing angiogenesis", "resisting cell death"]
    torch.manual_seed(7)
    losses = []
    for bundle in (TASK.build_model(str(word_backbone), labels, config, examples), TASK.load(best)):
        assert isinstance(bundle.model, MeanPoolClassifier)
        batch = TASK.collator(bundle, labels)(TASK.featurise(examples, bundle, labels, config))
        with torch.no_grad():
            losses.append(float(TASK.loss(bundle.model.eval(), batch, batch.pop("weight"))[0]))
    assert losses[0] > 0.6 and losses[1] < 0.1 * losses[0]  # from about log 2 per label (the [CLS] head: 0.17)
    predicted = TASK.predictor(TASK.load(best), precision="fp32", batch_size=8).predict(JSONL_TEXTS)
    assert [list(p.labels) for p in predicted] == [jsonl_labels(text) for text in JSONL_TEXTS]


def test_save_then_load_gives_identical_probabilities_and_batched_equals_one_at_a_time(mean_fit,
                                                                                      tmp_path: Path) -> None:
    best, _ = mean_fit
    before = probabilities(best)
    TASK.save(TASK.load(best), tmp_path / "again")
    assert np.array_equal(probabilities(tmp_path / "again"), before)
    config = json.loads((tmp_path / "again" / "config.json").read_text())
    assert (config["biotune"]["head"], config["problem_type"]) == ("mean", "multi_label_classification")
    assert config["id2label"] == {"0": "inducing angiogenesis", "1": "resisting cell death"}
    assert config["biotune"]["threshold"] == json.loads((best / "config.json").read_text())["biotune"]["threshold"]
    one_at_a_time = TASK.predictor(TASK.load(best), precision="fp32", batch_size=1)
    assert np.allclose(np.concatenate([one_at_a_time.probabilities([text]) for text in [*JSONL_TEXTS, LONG_TEXT]]),
                       before, atol=1e-6)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_bf16_and_int8_predict_what_fp32_does(mean_fit, precision: str) -> None:
    best, _ = mean_fit
    predictor = TASK.predictor(TASK.load(best), precision=precision, batch_size=8)
    assert predictor.precision == precision
    assert np.allclose(predictor.probabilities([*JSONL_TEXTS, LONG_TEXT]), probabilities(best), atol=0.05)
    assert [p.labels for p in predictor.predict(JSONL_TEXTS)] == [tuple(jsonl_labels(text)) for text in JSONL_TEXTS]


def test_the_card_shows_biotunes_predictor_and_its_snippet_runs(mean_fit, capsys: pytest.CaptureFixture[str]) -> None:
    best, _ = mean_fit
    card = (best / "README.md").read_text()
    assert "MeanPoolClassifier" in card and "from transformers import pipeline" not in card
    [snippet] = [block.split("```")[0] for block in card.split("```python\n")[1:]]
    exec(snippet.replace('"s1", "text": "VEGF promoted angiogenesis ."', '"s1", "text": "tremor tremor aspirin aspirin"'),
         {})  # noqa: S102 (the card's own code, as a reader would run it)
    assert capsys.readouterr().out.strip().startswith("s1 ['inducing angiogenesis', 'resisting cell death'] {")


def test_a_crashed_mean_run_resumes_from_its_checkpoint_to_the_same_model(
        tmp_path: Path, word_backbone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Trainer's checkpoints hold the whole module (`encoder.*`, `classifier.*`): resumed after a crash in
    epoch 2, with dev selecting the epoch, the run saves exactly the model of a run that never stopped."""
    config = write_config(tmp_path / "hoc.yaml", word_backbone, tmp_path / "outputs",
                          {"corpus": str(write_corpus(tmp_path / "hoc"))}, head="mean", epochs=3, batch_size=4)
    resumed, reference = crashed_then_resumed(config, 6, tmp_path / "reference", monkeypatch)  # 4 steps an epoch
    assert resumed.summary["resumed_from_step"] == 4 and reference.summary["resumed_from_step"] == 0
    assert same_weights(resumed.paths.best_model, reference.paths.best_model)
    assert resumed.summary["dev_history"] == reference.summary["dev_history"]
    assert (resumed.paths.results / "eval_test.json").read_text() == (reference.paths.results / "eval_test.json").read_text()
