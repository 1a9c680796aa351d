"""Configs: `extends:` merging, validation errors that name the key, overrides; run folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.config import apply_overrides, load_config, validate
from biotune.errors import BiotuneError
from biotune.experiments.run_folder import RunPaths

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_extends_merges_section_by_section(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "model: {dropout: 0.2, max_length: 64}\ntraining: {epochs: 5, seed: 1}\n")
    child = write(tmp_path / "sub" / "child.yaml",
                  "extends: ../base.yaml\ndata: {corpus: bc5cdr}\ntraining: {epochs: 2}\n")
    cfg = load_config(child)
    assert cfg.name == "child"
    assert (cfg.model.dropout, cfg.model.max_length) == (0.2, 64)
    assert (cfg.training.epochs, cfg.training.seed) == (2, 1)
    assert cfg.training.learning_rate == 5e-5 and cfg.model.backbone == "minilm"


def test_overrides_win_and_none_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "data: {corpus: x}\ntraining: {seed: 3}\n")
    cfg = load_config(path, {"training.seed": 9, "output_dir": None, "training.learning_rate": 1e-3})
    assert cfg.training.seed == 9 and cfg.output_dir == "outputs" and cfg.training.learning_rate == 1e-3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data: {corpus: x}\ntraining: {learning_rat: 1}\n", r"unknown key 'training.learning_rat'.*'training.learning_rate'"),
        ("data: {corpus: x}\nmodle: {}\n", r"unknown key 'modle'.*'model'"),
        ("training: {epochs: 1}\n", r"data: Field required"),
        ("data: {corpus: x}\nmodel: {dropout: 1.5}\n", r"model.dropout"),
        ("data: {corpus: x}\ntraining: {batch_size: many}\n", r"training.batch_size"),
        ("- a\n- b\n", r"mapping"),
        ("data: {corpus: x\n", r"invalid YAML"),
    ],
)
def test_invalid_configs_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(BiotuneError, match=message) as info:
        load_config(path)
    assert "bad.yaml" in str(info.value)


def test_extends_cycles_and_missing_parents_are_errors(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(BiotuneError, match="cycle"):
        load_config(tmp_path / "a.yaml")
    write(tmp_path / "c.yaml", "extends: nowhere.yaml\n")
    with pytest.raises(BiotuneError, match="nowhere.yaml"):
        load_config(tmp_path / "c.yaml")


# configs/ folders of other config kinds, validated by their own tests; presets are bases a config extends
NOT_EXPERIMENTS = ("pretrain", "search", "suites", "presets")


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "configs").rglob("*.yaml") if p.name != "base.yaml"
                                        and p.relative_to(ROOT / "configs").parts[0] not in NOT_EXPERIMENTS),
                         ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_shipped_configs_validate(path: Path) -> None:
    load_config(path)


def test_the_bert_base_preset_is_a_base_a_config_extends(tmp_path: Path) -> None:
    """configs/presets/bert_base.yaml: BERT-base's recipe under the shipped defaults (base.yaml is MiniLM's)."""
    folder = tmp_path / "configs" / "mine"
    folder.mkdir(parents=True)
    (folder / "exp.yaml").write_text(f"extends: {ROOT / 'configs' / 'presets' / 'bert_base.yaml'}\n"
                                     "data: {corpus: bc5cdr}\n", encoding="utf-8")
    config, shipped = load_config(folder / "exp.yaml"), load_config(ROOT / "configs" / "bc5cdr.yaml")
    assert (config.training.learning_rate, config.training.batch_size, config.model.backbone) == (
        5e-5, 32, "bert-base-uncased")
    assert (shipped.training.learning_rate, shipped.model.backbone) == (3e-4, "minilm")
    assert config.training.epochs == shipped.training.epochs == 3


def test_run_paths_refuse_an_existing_run(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path, "exp", 42)
    paths.prepare(overwrite=False)
    (paths.results / "eval_test.json").write_text("{}")
    with pytest.raises(BiotuneError, match="--overwrite"):
        paths.prepare(overwrite=False)
    assert (paths.results / "eval_test.json").exists()
    paths.prepare(overwrite=True)
    assert not (paths.results / "eval_test.json").exists()
    assert paths.best_model == tmp_path / "checkpoints" / "exp" / "seed_42" / "best_model"
    RunPaths(tmp_path, "exp", 7).prepare(overwrite=False)  # another seed is another run


def test_run_paths_tell_unfinished_from_finished_and_resume_keeps_an_unfinished_run(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path, "exp", 42)
    assert paths.status() == "empty"
    paths.prepare(overwrite=False)
    assert paths.status() == "empty", "empty folders hold no run"
    (paths.trainer_dir / "checkpoint-4").mkdir(parents=True)
    assert paths.status() == "unfinished"
    paths.prepare(overwrite=False, resume=True)
    assert (paths.trainer_dir / "checkpoint-4").is_dir(), "resuming keeps the checkpoints"
    paths.summary.write_text("{}")
    assert paths.status() == "finished"
    with pytest.raises(BiotuneError, match="--overwrite"):
        paths.prepare(overwrite=False, resume=True)


def test_non_finite_numbers_are_refused(tmp_path: Path) -> None:
    base = {"data": {"corpus": "x"}}
    for key, value in [("training.epochs", float("inf")), ("training.learning_rate", float("nan")),
                       ("training.warmup", float("nan")), ("sources.0.weight", float("inf"))]:
        data = apply_overrides({**base, "sources": [{"name": "a", "split": "train"}]}, {key: value})
        with pytest.raises(BiotuneError, match=key.replace(".", r"\.")):
            validate(data, "cfg")
