"""Yes/no with `model.head: mean` (mean pooling under the classifier) through `biotune train` on a tiny random
BERT: it fits a few questions, a long context's windows are still averaged, the folder reloads to the same
probabilities in every precision, and its card shows biotune's predictor."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from biotune.cli import app
from biotune.config import load_config
from biotune.models.mean_classifier import MeanPoolClassifier
from biotune.tasks import get_task
from biotune.tasks.qa.predict import collate_windows
from biotune.tasks.qa.windows import cut_windows
from tests.tasks.qa.toy import toy_context

runner = CliRunner()
TASK = get_task("yesno")


def write_questions(path: Path) -> Path:
    """16 questions: yes where the context's patient developed tremor, no where asthma; each context is 2 filler
    sentences and the answer sentence (over one window of 24 subwords: read in several)."""
    lines = []
    for k in range(16):
        disease = ["tremor", "asthma"][k % 2]
        lines.append(f"question: patient developed tremor context: {toy_context(disease, 'aspirin', k % 3, 2)}\t"
                     f"{'yes' if disease == 'tremor' else 'no'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def mean_fit(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> tuple[Path, Path]:
    """(best_model, config) of one `biotune train` with `model.head: mean` that scores its own training file."""
    root = tmp_path_factory.mktemp("yesno_mean")
    questions = write_questions(root / "train.tsv")
    config = root / "toy.yaml"
    config.write_text(yaml.safe_dump({
        "task": "yesno", "name": "toy_yesno", "output_dir": str(root / "outputs"),
        "model": {"backbone": str(word_backbone), "head": "mean", "max_length": 24, "dropout": 0.0},
        "data": {"corpus": "toy", "train": str(questions), "dev": None, "test": [str(questions)],
                 "allow_test_as_train": True},
        "training": {"epochs": 20, "learning_rate": 3e-3, "batch_size": 8, "warmup": 0.0, "seed": 7, "bf16": False,
                     "logging_steps": 1000},
        "yesno": {"stride": 8}}), encoding="utf-8")
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 0, result.output
    return root / "outputs" / "checkpoints" / "toy_yesno" / "seed_7" / "best_model", config


def examples(config_path: Path) -> list:
    config = load_config(config_path)
    return TASK.read_split(str(config.data.train), config).examples


def test_training_lowers_the_loss_and_answers_every_question(mean_fit, word_backbone: Path) -> None:
    best, config_path = mean_fit
    config, questions = load_config(config_path), examples(config_path)
    torch.manual_seed(7)
    losses = []
    for bundle in (TASK.build_model(str(word_backbone), ["yes", "no"], config, questions), TASK.load(best)):
        assert isinstance(bundle.model, MeanPoolClassifier)
        batch = TASK.collator(bundle, ["yes", "no"])(TASK.featurise(questions, bundle, ["yes", "no"], config))
        with torch.no_grad():
            losses.append(float(TASK.loss(bundle.model.eval(), batch, batch.pop("weight"))[0]))
    # from log 2 shared by a question's two windows; a window cut off the answer sentence is trained on its
    # question's label all the same, so the loss keeps a floor (the [CLS] head, same run: 0.35 -> 0.15)
    assert losses[0] > 0.3 and losses[1] < 0.3 * losses[0]
    scored = json.loads((best.parents[3] / "results" / "toy_yesno" / "seed_7" / "eval_train.json").read_text())
    assert scored["train"]["accuracy"] == 1.0


def test_a_long_contexts_probabilities_are_the_mean_over_its_windows(mean_fit) -> None:
    best, config_path = mean_fit
    questions = examples(config_path)
    predictor = TASK.predictor(TASK.load(best), precision="fp32", batch_size=4)
    windows = cut_windows([e.question for e in questions], [e.context for e in questions], predictor.bundle.tokenizer,
                          24, 8)
    assert len(windows) > len(questions)  # the contexts were read in several windows
    with torch.no_grad():
        per_window = predictor.bundle.model(**collate_windows(windows, 0)).logits.softmax(dim=-1).numpy()
    by_hand = np.stack([per_window[[i for i, w in enumerate(windows) if w.example == k]].mean(axis=0)
                        for k in range(len(questions))])
    assert np.allclose(predictor.probabilities(questions), by_hand, atol=1e-6)


def test_save_then_load_gives_identical_probabilities_in_every_precision(mean_fit, tmp_path: Path) -> None:
    best, config_path = mean_fit
    questions = examples(config_path)
    before = TASK.predictor(TASK.load(best), precision="fp32", batch_size=4).probabilities(questions)
    TASK.save(TASK.load(best), tmp_path / "again")
    # the same batches on both sides: a different batch size pads differently, which moves the last bit
    assert np.array_equal(TASK.predictor(TASK.load(tmp_path / "again"), "fp32", 4).probabilities(questions), before)
    config = json.loads((tmp_path / "again" / "config.json").read_text())
    assert (config["biotune"]["task"], config["biotune"]["head"]) == ("yesno", "mean")
    assert config["id2label"] == {"0": "yes", "1": "no"} and config["label2id"] == {"yes": 0, "no": 1}
    for precision in ("bf16", "int8"):
        predictor = TASK.predictor(TASK.load(best), precision=precision, batch_size=4)
        assert predictor.precision == precision
        assert np.allclose(predictor.probabilities(questions), before, atol=0.05)


def test_the_card_shows_biotunes_predictor_and_its_snippet_runs(mean_fit, capsys: pytest.CaptureFixture[str]) -> None:
    best, _ = mean_fit
    card = (best / "README.md").read_text()
    assert "MeanPoolClassifier" in card and "from transformers import pipeline" not in card
    [snippet] = [block.split("```")[0] for block in card.split("```python\n")[1:]]
    exec(snippet, {})  # noqa: S102 (the card's own code, as a reader would run it)
    assert set(ast.literal_eval(capsys.readouterr().out)) == {"yes", "no"}  # the printed scores, by label
