"""End to end on a tiny random BERT: the loss drops, a killed run resumes to the same model, the
folder is a backbone for NER, finished runs are kept, the record says what was trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback
from typer.testing import CliRunner

from biotune.cli import app
from biotune.errors import BiotuneError
from biotune.pretraining.run import CHECKPOINTS, RECORD, pretrain
from tests.conftest import tiny_experiment
from tests.pretraining.conftest import tiny_config, write_documents


class Killed(Exception):
    """Stands for kill -9: the process stops right after a checkpoint, leaving the folder as it is."""


class KillAfterSave(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args, state, control, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if state.global_step >= self.step:
            raise Killed


@pytest.fixture(scope="module")
def finished(word_backbone: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("pretrain")
    texts = write_documents(root / "texts.txt", 40, seed=1)
    dev = write_documents(root / "dev.txt", 10, seed=2)
    config = tiny_config(word_backbone, texts, root / "out", dev=dev, max_steps=40, logging_steps=5)
    return config, pretrain(config), texts


def test_the_training_loss_and_the_held_out_loss_drop(finished) -> None:
    _, result, _ = finished
    losses = [entry["loss"] for entry in result.record["loss_history"]]
    assert len(losses) == 8
    assert losses[-1] < losses[0] - 0.5
    dev = result.record["dev"]
    assert dev["after"]["loss"] < dev["before"]["loss"] - 0.3
    assert dev["after"]["targets"] == dev["before"]["targets"] > 0  # the same fixed targets before and after


def test_the_record_and_the_folder(finished) -> None:
    config, result, texts = finished
    record = json.loads((result.folder / RECORD).read_text())
    assert record["fresh_head"] is True and any(k.startswith("cls.predictions") for k in record["missing_weights"])
    assert record["sources"][0]["documents"] == 40
    assert record["steps"] == 40
    assert record["tokens_seen"] > 40 * 8 * 3
    assert all(entry["tokens_per_s"] > 0 for entry in record["loss_history"])
    assert (result.folder / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert not (result.folder / CHECKPOINTS).exists()
    assert (result.folder / "tokenizer.json").is_file() and (result.folder / "config.json").is_file()


def test_the_fresh_head_is_tied_to_the_input_embeddings(finished) -> None:
    from transformers import AutoModelForMaskedLM

    _, result, _ = finished
    model = AutoModelForMaskedLM.from_pretrained(result.folder)
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert model.config.vocab_size == json.loads((Path(result.record["backbone_path"]) / "config.json").read_text())["vocab_size"]


def test_the_folder_is_a_backbone_for_ner(finished, toy_corpus: Path, tmp_path: Path) -> None:
    from biotune.tasks import get_task

    _, result, _ = finished
    experiment = tiny_experiment(result.folder, toy_corpus, tmp_path)
    bundle = get_task("ner").build_model(str(result.folder), ["O", "B-Chemical", "I-Chemical"], experiment, [])
    saved = load_file(str(result.folder / "model.safetensors"))
    state = bundle.model.state_dict()
    key = "bert.embeddings.word_embeddings.weight"
    assert torch.equal(state[key], saved[key])
    layer = "bert.encoder.layer.1.output.dense.weight"
    assert torch.equal(state[layer], saved[layer])
    assert len(bundle.tokenizer) == saved[key].shape[0]


def test_a_finished_run_is_not_overwritten_without_overwrite(finished) -> None:
    config, result, _ = finished
    with pytest.raises(BiotuneError, match="holds a finished pretraining run; pass --overwrite"):
        pretrain(config)


def test_resume_after_a_kill_gives_the_same_model(word_backbone: Path, tmp_path: Path) -> None:
    texts = write_documents(tmp_path / "texts.txt", 30, seed=4)
    whole = pretrain(tiny_config(word_backbone, texts, tmp_path / "whole", max_steps=12, checkpoint_steps=4))
    config = tiny_config(word_backbone, texts, tmp_path / "killed", max_steps=12, checkpoint_steps=4)
    with pytest.raises(Killed):
        pretrain(config, callbacks=[KillAfterSave(8)])
    work = config.run_dir / CHECKPOINTS
    assert sorted(p.name for p in work.iterdir()) == ["checkpoint-4", "checkpoint-8"]
    (work / "checkpoint-12").mkdir()  # killed while writing the next checkpoint
    (work / "checkpoint-12" / "model.safetensors").write_bytes(b"half")
    resumed = pretrain(config)
    assert resumed.record["resumed_from_step"] == 8 and resumed.record["steps"] == 12
    a, b = load_file(str(whole.folder / "model.safetensors")), load_file(str(resumed.folder / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.record["tokens_seen"] == whole.record["tokens_seen"]
    assert [e["loss"] for e in resumed.record["loss_history"]] == pytest.approx(
        [e["loss"] for e in whole.record["loss_history"]], abs=1e-6)


def test_an_unfinished_run_of_another_config_is_refused(word_backbone: Path, tmp_path: Path) -> None:
    texts = write_documents(tmp_path / "texts.txt", 20, seed=5)
    config = tiny_config(word_backbone, texts, tmp_path / "out", max_steps=8, checkpoint_steps=4)
    with pytest.raises(Killed):
        pretrain(config, callbacks=[KillAfterSave(4)])
    other = tiny_config(word_backbone, texts, tmp_path / "out", max_steps=8, checkpoint_steps=4, learning_rate=1e-3)
    with pytest.raises(BiotuneError, match=r"unfinished run of another config \(differs in: training.learning_rate\)"):
        pretrain(other)
    assert pretrain(other, overwrite=True).record["resumed_from_step"] == 0


def test_the_cli_reports_a_bad_source_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "toy"
    folder.mkdir()
    for name in ("train.tsv", "test.tsv"):
        (folder / name).write_text("aspirin\tB-Chemical\n\n", encoding="utf-8")
    config = tmp_path / "p.yaml"
    config.write_text(f"sources: [{{corpus: '{folder}:test'}}]\noutput_dir: {tmp_path / 'out'}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["pretrain", str(config)])
    assert result.exit_code == 2
    assert "is the test split of the corpus folder" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_the_targets_only_loss_equals_the_models_own(word_backbone: Path) -> None:
    from biotune.pretraining.model import load_masked_lm, masked_lm_loss

    model = load_masked_lm(str(word_backbone)).model.eval()
    torch.manual_seed(0)
    ids = torch.randint(5, 40, (3, 9))
    labels = torch.where(torch.rand(3, 9) < 0.3, ids, torch.full_like(ids, -100))
    labels[0, 1] = ids[0, 1]
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    with torch.no_grad():
        assert float(masked_lm_loss(model, batch)) == pytest.approx(float(model(**batch).loss), abs=1e-5)


KILLABLE_RUN = """
import sys, time
from transformers import TrainerCallback
from biotune.pretraining.config import load_pretraining_config
from biotune.pretraining.run import pretrain

class Slow(TrainerCallback):  # leaves the parent time to kill the run between two checkpoints
    def on_step_end(self, args, state, control, **kwargs):
        time.sleep(0.4)

pretrain(load_pretraining_config(sys.argv[1]), callbacks=[Slow()])
"""


def test_resume_after_kill_9_gives_the_same_model(word_backbone: Path, tmp_path: Path) -> None:
    """A real kill -9 of a run in another process, then the same call again: the uninterrupted run's weights."""
    import os
    import signal
    import subprocess
    import sys
    import time

    texts = write_documents(tmp_path / "texts.txt", 30, seed=6)
    whole = pretrain(tiny_config(word_backbone, texts, tmp_path / "whole", max_steps=12, checkpoint_steps=4))
    config = tiny_config(word_backbone, texts, tmp_path / "killed", max_steps=12, checkpoint_steps=4)
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(config.to_yaml(), encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-c", KILLABLE_RUN, str(config_file)], cwd=Path(__file__).parents[2],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = config.run_dir / CHECKPOINTS / "checkpoint-4" / "trainer_state.json"
    deadline = time.monotonic() + 120
    while not state.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL and not (config.run_dir / RECORD).exists()
    resumed = pretrain(config)
    assert resumed.record["resumed_from_step"] in (4, 8)
    a, b = load_file(str(whole.folder / "model.safetensors")), load_file(str(resumed.folder / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


class Snapshots(TrainerCallback):
    """The encoder's and the head's weights after every optimizer step."""

    def __init__(self) -> None:
        self.after: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def on_step_end(self, args, state, control, model=None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.after[state.global_step] = (model.bert.encoder.layer[0].attention.self.query.weight.detach().clone(),
                                         model.bert.embeddings.word_embeddings.weight.detach().clone(),
                                         model.cls.predictions.transform.dense.weight.detach().clone())


def test_head_warmup_trains_only_the_head_then_everything_and_resumes_alike(word_backbone: Path,
                                                                            tmp_path: Path) -> None:
    texts = write_documents(tmp_path / "texts.txt", 30, seed=6)
    seen = Snapshots()
    whole = pretrain(tiny_config(word_backbone, texts, tmp_path / "whole", max_steps=8, head_warmup_steps=3,
                                 checkpoint_steps=2), callbacks=[seen])
    start = load_file(str(word_backbone / "model.safetensors"))
    query = start["encoder.layer.0.attention.self.query.weight"]
    embeddings = start["embeddings.word_embeddings.weight"]
    for step in (1, 2, 3):  # head only: the encoder and the (tied) embeddings are the backbone's own
        assert torch.equal(seen.after[step][0], query) and torch.equal(seen.after[step][1], embeddings)
    assert not torch.equal(seen.after[1][2], seen.after[3][2])  # while the head learns
    assert not torch.equal(seen.after[4][0], query) and not torch.equal(seen.after[4][1], embeddings)
    assert whole.record["head_warmup_steps"] == 3
    config = tiny_config(word_backbone, texts, tmp_path / "killed", max_steps=8, head_warmup_steps=3,
                         checkpoint_steps=2)
    with pytest.raises(Killed):
        pretrain(config, callbacks=[KillAfterSave(2)])  # killed inside the warm-up
    resumed = pretrain(config)
    a, b = load_file(str(whole.folder / "model.safetensors")), load_file(str(resumed.folder / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_head_warmup_must_leave_steps_for_the_encoder(word_backbone: Path, tmp_path: Path) -> None:
    texts = write_documents(tmp_path / "texts.txt", 5, seed=6)
    with pytest.raises(BiotuneError, match=r"training.head_warmup_steps \(8\) must be below training.max_steps \(8\)"):
        tiny_config(word_backbone, texts, tmp_path / "out", max_steps=8, head_warmup_steps=8)
