"""`biotune push` against a mocked `HfApi` (offline): what is sent where, what is refused, and the
one-line error when the Hub cannot be reached."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from huggingface_hub import constants
from huggingface_hub.errors import HTTPError, LocalTokenNotFoundError
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects
from typer.testing import CliRunner

from biotune.cli import app
from biotune.errors import BiotuneError
from biotune.serving import hub
from biotune.serving.hub import push_model

MODEL_FILES = ["README.md", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
TRAINER_FILES = ["checkpoint-12/trainer_state.json", "optimizer.pt", "rng_state.pth", "scheduler.pt",
                 "trainer_state.json", "training_args.bin"]


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    """A best_model/ as training leaves it, plus the files a Trainer checkpoint would add."""
    folder = tmp_path / "best_model"
    for name in [*MODEL_FILES, *TRAINER_FILES]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("{}", encoding="utf-8")
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "biotune": {"task": "ner", "head": "linear"}}),
                                        encoding="utf-8")
    (folder / "README.md").write_text("---\ntags:\n- biotune\n---\n# toy\n", encoding="utf-8")
    return folder


class FakeApi:
    """Records the calls `push_model` makes; `upload_folder` keeps the files the real one would send."""

    calls: list[tuple[str, dict[str, Any]]] = []
    fail_with: Exception | None = None

    def create_repo(self, repo_id: str, **options: Any) -> None:
        if FakeApi.fail_with is not None:
            raise FakeApi.fail_with
        self.calls.append(("create_repo", {"repo_id": repo_id, **options}))

    def create_branch(self, repo_id: str, **options: Any) -> None:
        self.calls.append(("create_branch", {"repo_id": repo_id, **options}))

    def upload_folder(self, **options: Any) -> SimpleNamespace:
        folder = Path(options["folder_path"])
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        sent = list(filter_repo_objects(files, ignore_patterns=[*options["ignore_patterns"], *DEFAULT_IGNORE_PATTERNS]))
        self.calls.append(("upload_folder", {**options, "sent": sent}))
        return SimpleNamespace(commit_url=f"https://huggingface.co/{options['repo_id']}/commit/abc123")


@pytest.fixture()
def fake_api(monkeypatch: pytest.MonkeyPatch) -> type[FakeApi]:
    monkeypatch.setattr(hub, "HfApi", FakeApi)
    monkeypatch.setattr(FakeApi, "calls", [])
    monkeypatch.setattr(FakeApi, "fail_with", None)
    return FakeApi


def test_push_sends_the_model_and_its_card_without_the_trainer_files(model_dir: Path, fake_api: type[FakeApi]) -> None:
    done = push_model(model_dir, "someone/toy-ner", private=True)
    (create, options), (upload, sent) = fake_api.calls
    assert (create, options) == ("create_repo", {"repo_id": "someone/toy-ner", "private": True, "exist_ok": True})
    assert upload == "upload_folder"
    assert (sent["repo_id"], Path(sent["folder_path"]), sent["revision"]) == ("someone/toy-ner", model_dir, None)
    assert sent["commit_message"] == "Upload best_model with biotune"
    assert sent["sent"] == done.files == MODEL_FILES
    assert done.left_out == TRAINER_FILES
    assert done.url == "https://huggingface.co/someone/toy-ner/commit/abc123"


def test_push_to_a_branch_creates_it_and_prints_what_it_left_out(model_dir: Path, fake_api: type[FakeApi]) -> None:
    result = CliRunner().invoke(app, ["push", str(model_dir), "someone/toy-ner", "--revision", "review",
                                      "--commit-message", "seed 42"])
    assert result.exit_code == 0, result.output
    names = [name for name, _ in fake_api.calls]
    assert names == ["create_repo", "create_branch", "upload_folder"]
    assert fake_api.calls[0][1]["private"] is False
    assert fake_api.calls[1][1] == {"repo_id": "someone/toy-ner", "branch": "review", "exist_ok": True}
    assert (fake_api.calls[2][1]["revision"], fake_api.calls[2][1]["commit_message"]) == ("review", "seed 42")
    assert f"left out the trainer's files: {', '.join(TRAINER_FILES)}" in result.output
    assert "pushed 5 files to https://huggingface.co/someone/toy-ner/commit/abc123" in result.output


@pytest.mark.parametrize(("broken", "message"), [
    ("no_config", "no config.json with a biotune record"),
    ("foreign", "no config.json with a biotune record"),
    ("no_card", "no model card (README.md)"),
])
def test_a_folder_that_is_no_biotune_checkpoint_is_refused_before_any_call(
        model_dir: Path, fake_api: type[FakeApi], broken: str, message: str) -> None:
    if broken == "no_config":
        (model_dir / "config.json").unlink()
    elif broken == "foreign":
        (model_dir / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    else:
        (model_dir / "README.md").unlink()
    with pytest.raises(BiotuneError, match=rf"^{model_dir}: {message.replace('(', '[(]').replace(')', '[)]')}"):
        push_model(model_dir, "someone/toy-ner")
    assert fake_api.calls == []


def test_a_bad_repo_id_is_refused_before_any_call(model_dir: Path, fake_api: type[FakeApi]) -> None:
    with pytest.raises(BiotuneError, match=r"^repo id 'not a repo':"):
        push_model(model_dir, "not a repo")
    assert fake_api.calls == []


@pytest.mark.parametrize(("error", "expected"), [
    (HTTPError("[Errno -2] Name or service not known"), ": [Errno -2] Name or service not known"),
    (LocalTokenNotFoundError("Token is required (`token=True`), but no token found.\nRun `hf auth login`."),
     ": Token is required (`token=True`), but no token found. (log in with `hf auth login` or set HF_TOKEN)"),
])
def test_a_connection_or_token_error_is_one_line_exit_2(model_dir: Path, fake_api: type[FakeApi], error: Exception,
                                                        expected: str) -> None:
    fake_api.fail_with = error
    result = CliRunner().invoke(app, ["push", str(model_dir), "someone/toy-ner"])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: cannot push {model_dir} to the Hub repo someone/toy-ner{expected}"
    assert "Traceback" not in result.output


def test_offline_mode_is_one_line_exit_2_with_the_real_client(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")  # so that the client reaches the request, offline
    result = CliRunner().invoke(app, ["push", str(model_dir), "someone/toy-ner"])
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and line.startswith(f"error: cannot push {model_dir} to the Hub repo someone/toy-ner: ")
    assert "offline mode is enabled" in line
