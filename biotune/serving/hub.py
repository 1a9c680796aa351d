"""`biotune push`: a trained model folder to the Hugging Face Hub, as its model card describes it.

Training already writes everything the Hub page shows into `best_model/`: the weights, the
tokenizer, the labels and biotune's settings in `config.json`, and the model card `README.md`
with its `model-index` front matter (`biotune.experiments.model_card`). Pushing is one
`create_repo` and one `upload_folder` commit; what this module adds is what the Hub would not
refuse on its own:

- a folder that is not a biotune checkpoint (no `config.json` with a ``biotune`` record, or no
  card) is a one-line error before anything is sent, since its page would have no card or its
  model no labels that biotune's loaders understand;
- the Trainer's intermediate files (optimizer, scheduler and RNG state, `trainer_state.json`,
  the pickled `training_args.bin`, `checkpoint-*/` folders) are left out: they are no part of the
  model, the optimizer state is twice the weights' size, and a pickle is code a user would have
  to trust;
- an unreachable Hub, offline mode, a missing token or a refused request is one line, so the CLI
  prints it without a traceback.

It sits in serving/, beside the ONNX export: both take a finished model out of biotune.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.errors import HFValidationError, HTTPError, LocalTokenNotFoundError
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects, validate_repo_id

from biotune.errors import BiotuneError
from biotune.experiments.model_card import CARD_FILE

# What transformers' Trainer writes beside a model in a checkpoint folder, at the top or one level down.
TRAINER_NAMES = ("optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state*.pth", "trainer_state.json",
                 "training_args.bin")
TRAINER_FILES = [*TRAINER_NAMES, *(f"*/{name}" for name in TRAINER_NAMES), "checkpoint-*/", "trainer/"]


@dataclass(frozen=True)
class Pushed:
    """A finished push: the commit's URL, the files it holds and the trainer files it left out."""

    url: str
    files: list[str]
    left_out: list[str]


def push_model(model_dir: str | Path, repo_id: str, *, private: bool = False, revision: str | None = None,
               commit_message: str | None = None) -> Pushed:
    """Upload a biotune model folder to the Hub repo `repo_id` (created if missing) in one commit.

    `private` applies when the repo is created (an existing repo keeps its visibility);
    `revision` is a branch, created from main if missing, so a model can go to a branch for
    review first. The token is huggingface_hub's (`hf auth login` or `HF_TOKEN`).
    """
    folder = check_model_folder(model_dir)
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise BiotuneError(f"repo id {repo_id!r}: {_first_line(error)}") from None
    files = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
    kept = list(filter_repo_objects(files, ignore_patterns=[*TRAINER_FILES, *DEFAULT_IGNORE_PATTERNS]))
    left_out = sorted(set(filter_repo_objects(files, ignore_patterns=DEFAULT_IGNORE_PATTERNS)) - set(kept))
    api = HfApi()
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        if revision is not None:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, folder_path=folder, revision=revision, ignore_patterns=TRAINER_FILES,
                                   commit_message=commit_message or f"Upload {folder.name} with biotune")
    except (OSError, HTTPError) as error:  # offline, unreachable, no token, refused, an unknown revision
        unauthorised = isinstance(error, LocalTokenNotFoundError) or getattr(
            getattr(error, "response", None), "status_code", None) == 401
        hint = " (log in with `hf auth login` or set HF_TOKEN)" if unauthorised else ""
        raise BiotuneError(f"cannot push {folder} to the Hub repo {repo_id}: {_first_line(error)}{hint}") from None
    return Pushed(str(commit.commit_url), kept, left_out)


def check_model_folder(model_dir: str | Path) -> Path:
    """The folder, or a one-line `BiotuneError` naming it when it is no biotune checkpoint with its card."""
    folder = Path(model_dir)
    what = "a biotune model folder (a run's checkpoints/<name>/seed_<seed>/best_model/)"
    if not folder.is_dir():
        raise BiotuneError(f"{folder}: not a folder; pass {what}")
    try:
        record = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("biotune")
    except (OSError, ValueError, AttributeError):
        record = None
    if not isinstance(record, dict):
        raise BiotuneError(f"{folder}: no config.json with a biotune record; pass {what}")
    if not (folder / CARD_FILE).is_file():
        raise BiotuneError(f"{folder}: no model card ({CARD_FILE}); biotune writes it when training ends, pass {what}")
    return folder


def _first_line(error: Exception) -> str:
    """An exception's first line: huggingface_hub's messages run to several (request ids, hints)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
