"""Hyperparameter search: reproducible with a seeded sampler, dev only until the end, resumable from its
storage (killed and interrupted trials re-queued), pruning, the best config file, bad input and failing trials."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from optuna.pruners import BasePruner

import biotune.experiments.run as train_module
from biotune.config import apply_overrides, load_config, validate
from biotune.errors import BiotuneError
from biotune.experiments import search as search_module
from biotune.experiments.search import SearchSettings, search, trial_name
from biotune.experiments.search_space import BIOBERT_GRID, check_space, load_space, parse_space
from tests.conftest import _sentences, tiny_experiment, write_tsv

REPO = Path(__file__).resolve().parents[2]
SPACE = {"params": {"training.learning_rate": {"type": "log", "low": 1e-3, "high": 1e-2},
                    "training.batch_size": {"type": "categorical", "choices": [4, 8]}}}


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train/devel/test small enough that a trial trains in about a second."""
    folder = tmp_path_factory.mktemp("search_corpus")
    write_tsv(folder / "train.tsv", _sentences(24, seed=1))
    write_tsv(folder / "devel.tsv", _sentences(8, seed=2))
    write_tsv(folder / "test.tsv", _sentences(8, seed=3))
    return folder


def _config(backbone: Path, corpus: Path, out: Path, **training: object):
    return tiny_experiment(backbone, corpus, out, **{"epochs": 1, **training})


def _settings(**kwargs: object) -> SearchSettings:
    return SearchSettings(**{"sampler_seed": 0, "final_seeds": 0, **kwargs})  # type: ignore[arg-type]


def _study(result_folder: Path, name: str = "toy"):
    import optuna

    return optuna.load_study(study_name=name, storage=f"sqlite:///{result_folder / 'study.db'}")


def test_a_seeded_search_is_reproducible(word_backbone: Path, small_corpus: Path, tmp_path: Path) -> None:
    runs = [search(_config(word_backbone, small_corpus, tmp_path / side), parse_space(SPACE, "space"),
                   _settings(trials=3)) for side in ("a", "b")]
    a, b = ([(t["params"], t["dev_score"]) for t in run.trials] for run in runs)
    assert a == b
    assert len({json.dumps(params) for params, _ in a}) == 3, "three different points were tried"
    assert all(score is not None for _, score in a)
    for run in runs:  # each trial's score is its own run folder's best dev score
        for row in run.trials:
            summary = json.loads((Path(row["run"]) / "train_summary.json").read_text())
            assert summary["best_dev_score"] == row["dev_score"] and summary["test"] == {}
            assert Path(row["run"]).parent.name == f"toy__trial_{row['number']}"
        assert run.best is not None and run.best["dev_score"] == max(s for _, s in a)


def test_trials_never_read_the_test_split_only_the_final_runs_do(word_backbone: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    write_tsv(corpus / "train.tsv", _sentences(24, seed=1))
    write_tsv(corpus / "devel.tsv", _sentences(8, seed=2))
    (corpus / "test.tsv").write_text("aspirin\tNOT-A-TAG\n\n")  # reading it fails: a trial that did would fail
    real_final = search_module._final_seeds

    def final_with_test(*args: object):  # the readable test file appears once every trial is over
        write_tsv(corpus / "test.tsv", _sentences(8, seed=3))
        return real_final(*args)

    monkeypatch.setattr(search_module, "_final_seeds", final_with_test)
    result = search(_config(word_backbone, corpus, tmp_path / "out"), parse_space(SPACE, "space"),
                    _settings(trials=2, final_seeds=2))
    assert [t["state"] for t in result.trials] == ["COMPLETE", "COMPLETE"], result.trials
    assert result.ok and result.final is not None
    aggregated = json.loads((tmp_path / "out" / "results" / "toy__best" / "aggregated_results.json").read_text())
    assert aggregated["seeds"] == [42, 43]
    f1 = aggregated["test_sets"]["test"]["micro"]["f1"]
    assert result.final["test"]["test"]["mean"] == f1["mean"] and result.final["seeds"] == [42, 43]
    best = load_config(result.best["config"])  # type: ignore[index]
    assert best.training.learning_rate == result.best["params"]["training.learning_rate"]  # type: ignore[index]
    summary = json.loads((result.folder / "search_summary.json").read_text())
    assert summary["final"]["test"]["test"]["mean"] == f1["mean"]


def test_a_rerun_continues_the_study_and_requeues_killed_and_interrupted_trials(
        word_backbone: Path, small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import optuna

    cfg = _config(word_backbone, small_corpus, tmp_path)
    space = parse_space(SPACE, "space")
    settings = _settings(trials=2, heartbeat_interval=1, grace_period=1)
    first = search(cfg, space, settings)
    before = {t.number: (t.params, t.value, t.datetime_start) for t in _study(first.folder).trials}
    trained: list[str] = []
    real_train = train_module.train
    monkeypatch.setattr(train_module, "train", lambda config, overwrite=False, callbacks=():
                        trained.append(config.name) or real_train(config, overwrite, callbacks))
    assert search(cfg, space, _settings(trials=4)).trials[2]["state"] == "COMPLETE"
    study = _study(first.folder)
    assert {t.number: (t.params, t.value, t.datetime_start) for t in study.trials[:2]} == before, "kept as they were"
    assert trained == ["toy__trial_2", "toy__trial_3"] and len(study.trials) == 4

    # a process killed mid-trial leaves it RUNNING with a stale heartbeat; one interrupted by Ctrl-C, FAIL
    killed = study.ask({"training.learning_rate": optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True),
                        "training.batch_size": optuna.distributions.CategoricalDistribution([4, 8])})
    study._storage.record_heartbeat(killed._trial_id)
    interrupted = study.ask({"training.learning_rate": optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True),
                             "training.batch_size": optuna.distributions.CategoricalDistribution([4, 8])})
    study.tell(interrupted, state=optuna.trial.TrialState.FAIL)
    # the killed trial had finished training before the kill: its run folder is reused, not retrained
    data = apply_overrides(cfg.model_dump(mode="json"), {**killed.params, "data.test": [],
                                                         "name": trial_name(cfg, killed.number)})
    done = real_train(validate(data, "killed trial"))
    time.sleep(2.2)  # past the grace period
    trained.clear()
    third = search(cfg, space, _settings(trials=6, heartbeat_interval=1, grace_period=1))
    rows = {row["number"]: row for row in third.trials}
    retries = [row for row in third.trials if row["retry_of"] is not None]
    assert sorted(r["retry_of"] for r in retries) == [killed.number, interrupted.number]
    assert rows[killed.number]["state"] == "FAIL" and rows[interrupted.number]["state"] == "FAIL"
    for retry in retries:
        original = killed if retry["retry_of"] == killed.number else interrupted
        assert retry["params"] == original.params and retry["state"] == "COMPLETE"
        assert Path(retry["run"]).parent.name == f"toy__trial_{original.number}"
    assert trained == [f"toy__trial_{interrupted.number}"], "the killed trial's finished run was reused"
    reused = next(r for r in retries if r["retry_of"] == killed.number)
    assert reused["dev_score"] == done.dev_score
    assert len(third.trials) == 8 and not third.failed_trials, "6 ended trials: 4 + the 2 retries"


class AlwaysPrune(BasePruner):
    """A pruner that stops every trial at its first report."""

    def prune(self, study: object, trial: object) -> bool:
        return True


def test_a_pruned_trial_stops_after_its_first_dev_evaluation(word_backbone: Path, small_corpus: Path,
                                                             tmp_path: Path) -> None:
    pruner = AlwaysPrune()
    cfg = _config(word_backbone, small_corpus, tmp_path, epochs=3)
    result = search(cfg, parse_space(SPACE, "space"), _settings(trials=2, pruner=pruner))
    assert [t["state"] for t in result.trials] == ["PRUNED", "PRUNED"]
    for row, trial in zip(result.trials, _study(result.folder).trials):
        summary = json.loads((Path(row["run"]) / "train_summary.json").read_text())
        assert row["epochs_run"] == summary["epochs_run"] == 1.0, "one epoch of three"
        assert trial.intermediate_values == {1: summary["dev_history"][0]["dev_score"]}
    assert result.best is None and not result.ok and not (result.folder / "best_config.yaml").exists()
    assert result.summary["plots"]["history"].startswith("none")

    one_epoch = search(_config(word_backbone, small_corpus, tmp_path / "one"), parse_space(SPACE, "space"),
                       _settings(trials=1, pruner=pruner))
    assert one_epoch.trials[0]["state"] == "COMPLETE", "pruning the last evaluation would save nothing"


def test_the_best_config_extends_the_original_and_loads_to_the_best_values(word_backbone: Path, small_corpus: Path,
                                                                           tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from biotune.cli import app

    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "toy.yaml").write_text(
        f"model: {{backbone: {word_backbone}, max_length: 32, dropout: 0.1}}\ndata: {{corpus: {small_corpus}}}\n"
        "training: {epochs: 1, learning_rate: 5.0e-3, batch_size: 8, warmup: 0.0, bf16: false, logging_steps: 1000}\n")
    (configs / "space.yaml").write_text(yaml.safe_dump(SPACE, sort_keys=False))
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(app, ["search", str(configs / "toy.yaml"), "--space", str(configs / "space.yaml"),
                                      "--trials", "3", "--sampler-seed", "1", "--final-seeds", "0",
                                      "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    folder = out / "results" / "toy__search"
    best_file = folder / "best_config.yaml"
    written = yaml.safe_load(best_file.read_text())
    assert written["extends"] == os.path.relpath(configs / "toy.yaml", folder)
    trials = json.loads((folder / "trials.json").read_text())
    best = max(trials, key=lambda t: t["dev_score"])
    assert written["training"] == {"learning_rate": best["params"]["training.learning_rate"],
                                   "batch_size": best["params"]["training.batch_size"]}
    expected = apply_overrides(load_config(configs / "toy.yaml", {"output_dir": str(out)}).model_dump(mode="json"),
                               {**best["params"], "name": "toy__best"})
    assert load_config(best_file).model_dump(mode="json") == expected, "the --output-dir override is kept too"
    table = [[cell.strip() for cell in line.strip("|").split("|")] for line in
             (folder / "trials.md").read_text().splitlines() if line.startswith("|")]
    assert table[0] == ["trial", "state", "training.learning_rate", "training.batch_size", "dev score", "epochs",
                        "seconds", "error"]
    assert [row[:2] for row in table[2:]] == [[str(t["number"]), "COMPLETE"] for t in trials]
    assert [row[4] for row in table[2:]] == [f"{t['dev_score']:.4f}" for t in trials]
    from matplotlib.image import imread

    for plot in ("history.png", "importance.png"):
        image = imread(folder / plot)
        assert image.shape[0] > 100 and image.std() > 0
    summary = json.loads((folder / "search_summary.json").read_text())
    varied = {k for k in best["params"] if len({t["params"][k] for t in trials}) > 1}
    assert set(summary["importances"]) == varied and "training.learning_rate" in varied
    assert abs(sum(summary["importances"].values()) - 1) < 1e-6


def test_a_rerun_with_another_space_is_refused_naming_it(word_backbone: Path, small_corpus: Path, tmp_path: Path) -> None:
    cfg = _config(word_backbone, small_corpus, tmp_path)
    search(cfg, parse_space(SPACE, "space"), _settings(trials=1))
    other = parse_space({"params": {**SPACE["params"], "model.dropout": {"type": "float", "low": 0.1, "high": 0.3}}},
                        "space")
    with pytest.raises(BiotuneError, match=r"differs in search space params model\.dropout"):
        search(cfg, other, _settings(trials=2))
    with pytest.raises(BiotuneError, match=r"base config keys training\.weight_decay"):
        search(_config(word_backbone, small_corpus, tmp_path, weight_decay=0.1), parse_space(SPACE, "space"),
               _settings(trials=2))
    old_run = tmp_path / "results" / "toy__trial_0"
    assert old_run.is_dir()
    fresh = search(cfg, other, _settings(trials=1, overwrite=True))  # a new study: the old trials are gone
    assert [sorted(t["params"]) for t in fresh.trials] == [sorted(["model.dropout", *SPACE["params"]])]
    assert len(_study(fresh.folder).trials) == 1
    summary = json.loads((old_run / "seed_42" / "train_summary.json").read_text())
    assert "model.dropout" in json.dumps(fresh.trials) and summary["best_dev_score"] == fresh.trials[0]["dev_score"]


def test_ray_workers_run_trials_against_the_shared_study(word_backbone: Path, small_corpus: Path,
                                                         tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    result = search(_config(word_backbone, small_corpus, tmp_path), parse_space(SPACE, "space"),
                    _settings(trials=3, ray=True, workers=2))
    ended = [t for t in result.trials if t["state"] == "COMPLETE"]
    assert 3 <= len(ended) <= 4 and len(ended) == len(result.trials), "a worker may start one more as the other ends"
    assert len({t["run"] for t in ended}) == len(ended)
    workers = {t["worker"] for t in ended}
    assert f"{os.uname().nodename}:{os.getpid()}" not in workers, "trials ran in Ray worker processes"
    for row in ended:
        assert json.loads((Path(row["run"]) / "train_summary.json").read_text())["best_dev_score"] == row["dev_score"]
    assert not ray.is_initialized()


def test_the_grid_preset_is_biobert_grid_and_a_grid_tries_every_point(word_backbone: Path, small_corpus: Path,
                                                                       tmp_path: Path) -> None:
    shipped = load_space(REPO / "configs" / "search" / "biobert_grid.yaml")
    assert shipped.params == BIOBERT_GRID.params and shipped.sampler == "grid"
    assert BIOBERT_GRID.grid() == {"training.batch_size": [10, 16, 32, 64],
                                   "training.learning_rate": [5e-5, 3e-5, 1e-5]}
    check_space(load_space(REPO / "configs" / "search" / "ner_tpe.yaml"),
                load_config(REPO / "configs" / "ncbi_disease.yaml"))
    grid = parse_space({"sampler": "grid", "params": {"training.batch_size": {"type": "categorical",
                                                                              "choices": [4, 8]}}}, "grid")
    result = search(_config(word_backbone, small_corpus, tmp_path), grid, _settings())
    assert sorted(t["params"]["training.batch_size"] for t in result.trials) == [4, 8], "trials default to the grid"


@pytest.mark.parametrize(("space", "message"), [
    ({"params": {"training.learnig_rate": {"type": "log", "low": 1e-5, "high": 1e-4}}},
     "unknown key 'training.learnig_rate' (did you mean 'training.learning_rate'?)"),
    ({"params": {"trainin.epochs": {"type": "int", "low": 1, "high": 3}}}, "unknown key 'trainin' (did you mean 'training'?)"),
    ({"params": {"training.epochs": {"type": "flaot", "low": 1, "high": 3}}},
     "params.training.epochs: type: unknown parameter type 'flaot' (did you mean 'float'?)"),
    ({"params": {"training.epochs": {"type": "int", "low": 3, "high": 1}}}, "low (3) must be below high (1)"),
    ({"params": {"training.warmup": {"type": "float", "low": 0.0, "high": 1.0}}},
     "params.training.warmup=1.0: invalid config: training.warmup: Input should be less than 1"),
    ({"params": {"training.learning_rate": {"type": "log", "low": 0.0, "high": 1e-4}}}, "a log scale needs low > 0"),
    ({"params": {"training.batch_size": {"type": "categorical", "choice": [8]}}},
     "unknown field 'choice' (did you mean 'choices'?)"),
    ({"params": {"data.test": {"type": "categorical", "choices": [["dev"]]}}}, "params.data.test cannot be searched"),
    ({"sampler": "tps", "params": {"training.epochs": {"type": "int", "low": 1, "high": 3}}},
     "unknown sampler 'tps' (did you mean 'tpe'?)"),
    ({"parms": {"training.epochs": {"type": "int", "low": 1, "high": 3}}},
     "unknown key 'parms' (did you mean 'params'?)"),
])
def test_bad_spaces_are_one_line_errors_before_anything_runs(space: dict, message: str, word_backbone: Path,
                                                             small_corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(BiotuneError) as error:
        search(_config(word_backbone, small_corpus, tmp_path), parse_space(space, "space.yaml"), _settings(trials=1))
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(error.value).startswith("space.yaml")
    assert not (tmp_path / "results").exists() and not (tmp_path / "checkpoints").exists()


def test_cli_bad_options_exit_2_with_one_line_and_write_nothing(word_backbone: Path, small_corpus: Path,
                                                                tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from biotune.cli import app

    config = tmp_path / "toy.yaml"
    config.write_text(f"output_dir: {tmp_path / 'out'}\nmodel: {{backbone: {word_backbone}, max_length: 32}}\n"
                      f"data: {{corpus: {small_corpus}}}\n")
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    runner = CliRunner()
    for args, message in ((["--space", str(space), "--sampler", "tpee"], "--sampler: unknown sampler 'tpee'"),
                          (["--space", str(space), "--pruner", "medain"], "--pruner: unknown pruner 'medain' (did you mean 'median'?)"),
                          (["--space", str(tmp_path / "nope.yaml")], "search space file"),
                          (["--space", str(space), "--storage", "nosuchdb://host/x"], "--storage nosuchdb://host/x: cannot open it"),
                          ([], "give one of --space SPACE.yaml or --grid"),
                          (["--grid", "--space", str(space)], "give one of")):
        result = runner.invoke(app, ["search", str(config), *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_failing_trial_is_recorded_and_the_others_go_on(word_backbone: Path, small_corpus: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from biotune.cli import app

    real_train = train_module.train
    calls: list[str] = []

    def flaky(config, overwrite=False, callbacks=()):
        calls.append(config.name)
        if config.name == "toy__trial_1":
            raise RuntimeError("simulated out of memory")
        return real_train(config, overwrite, callbacks)

    monkeypatch.setattr(train_module, "train", flaky)
    config = tmp_path / "toy.yaml"
    config.write_text(f"output_dir: {tmp_path / 'out'}\nmodel: {{backbone: {word_backbone}, max_length: 32}}\n"
                      f"data: {{corpus: {small_corpus}}}\ntraining: {{epochs: 1, batch_size: 8, bf16: false}}\n")
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    result = CliRunner().invoke(app, ["search", str(config), "--space", str(space), "--trials", "3",
                                      "--sampler-seed", "0", "--final-seeds", "0"])
    assert result.exit_code == 1, result.output
    trials = json.loads((tmp_path / "out" / "results" / "toy__search" / "trials.json").read_text())
    assert [t["state"] for t in trials] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert trials[1]["error"] == "RuntimeError: simulated out of memory" and trials[1]["dev_score"] is None
    assert calls == ["toy__trial_0", "toy__trial_1", "toy__trial_2"]
    assert "simulated out of memory" in (tmp_path / "out" / "results" / "toy__search" / "trials.md").read_text()
    calls.clear()
    again = CliRunner().invoke(app, ["search", str(config), "--space", str(space), "--trials", "3",
                                     "--sampler-seed", "0", "--final-seeds", "0"])
    assert again.exit_code == 1 and calls == [], "a failed trial counts: the study already holds 3"
