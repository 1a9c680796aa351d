"""Benchmark suites end to end on two tiny backbones, two tiny corpora (two families) and two seeds.

The suite runs once (through the CLI) for the module; the tests that rerun it work on a copy of
its output folder, so each sees the suite as the first run left it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import biotune.experiments.run as train_module
from biotune.cli import app
from biotune.errors import BiotuneError
from biotune.experiments.suite import entries, load_suite, plan_suite, restrict, run_suite
from tests.conftest import _sentences, build_word_backbone, write_tsv

SEEDS = [1, 2]
TRAINING = {"epochs": 1, "learning_rate": 5e-3, "batch_size": 8, "warmup": 0.0, "bf16": False, "logging_steps": 1000}


def _corpus(folder: Path, seed: int, broken_test: bool = False) -> Path:
    write_tsv(folder / "train.tsv", _sentences(24, seed))
    write_tsv(folder / "devel.tsv", _sentences(8, seed + 1))
    write_tsv(folder / "test.tsv", _sentences(8, seed + 2))
    if broken_test:  # read only when its runs train: the suite's checks (configs only) pass
        (folder / "test.tsv").write_text("aspirin\tB-Chemical\nnot a token line\n\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def tiny_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A suite file: backbones `small` and `other` (same shape, other random weights), datasets `chem` (NER),
    `disease` and `broken` (family `Other`; `broken` fails at train time), seeds 1 and 2."""
    import torch
    from transformers import BertModel

    root = tmp_path_factory.mktemp("suite")
    small = build_word_backbone(root / "backbones" / "small")
    other = root / "backbones" / "other"
    shutil.copytree(small, other)
    torch.manual_seed(1)
    BertModel(BertModel.from_pretrained(small).config).save_pretrained(other)
    data = root / "data"
    _corpus(data / "chem", 10)
    _corpus(data / "disease", 20)
    _corpus(data / "broken", 30, broken_test=True)
    (root / "ner.yaml").write_text(yaml.safe_dump({"model": {"max_length": 32, "dropout": 0.1}, "training": TRAINING}))
    suite = {"output_dir": str(root / "out"), "seeds": SEEDS,
             "backbones": [str(small), {"name": "other", "backbone": str(other)}],
             "datasets": {"chem": {"config": "ner.yaml", "settings": {"data": {"corpus": str(data / "chem")}}},
                          "disease": {"config": "ner.yaml", "settings": {"data": {"corpus": str(data / "disease")}},
                                      "family": "Other", "overrides": {"training.learning_rate": 1e-2}},
                          "broken": {"config": "ner.yaml", "settings": {"data": {"corpus": str(data / "broken")}},
                                     "family": "Other"}}}
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def finished(tiny_suite: Path) -> dict:
    """The CLI's run of the tiny suite: exit code, output, leaderboard JSON, output folder."""
    result = CliRunner().invoke(app, ["benchmark", str(tiny_suite)])
    out = tiny_suite.parent / "out"
    board = json.loads((out / "results" / "tiny" / "leaderboard.json").read_text())
    return {"code": result.exit_code, "output": result.output, "board": board, "out": out}


def _seed_f1(out: Path, run: str, seed: int) -> float:
    return json.loads((out / "results" / run / f"seed_{seed}" / "eval_test.json").read_text())["test"]["micro"]["f1"]


def test_the_leaderboard_has_each_mean_and_std_the_family_averages_and_the_blurb_macro_average(finished: dict) -> None:
    assert finished["code"] == 1, finished["output"]  # the broken dataset's runs failed
    out, board = finished["out"], finished["board"]
    assert list(board["backbones"]) == ["small", "other"]
    assert board["families"] == ["NER", "Other"]
    for backbone in ("small", "other"):
        row = board["backbones"][backbone]
        means = {}
        for dataset in ("chem", "disease"):
            values = [_seed_f1(out, f"tiny__{backbone}__{dataset}", seed) for seed in SEEDS]
            cell = row["datasets"][dataset]
            assert cell["status"] == "complete" and cell["metric"] == "micro.f1"
            assert cell["values"] == {"1": values[0], "2": values[1]}
            assert cell["mean"] == pytest.approx(sum(values) / 2)
            assert cell["std"] == pytest.approx(abs(values[0] - values[1]) / 2 ** 0.5)  # sample std of two
            means[dataset] = cell["mean"]
        broken = row["datasets"]["broken"]
        assert broken["status"] == "failed" and broken["n"] == 0 and broken["mean"] is None
        assert set(broken["errors"]) == {"1", "2"} and "test.tsv:2" in broken["errors"]["1"]
        assert row["families"]["NER"] == {"mean": pytest.approx(means["chem"]), "datasets": ["chem"],
                                          "planned": ["chem"], "complete": True}
        assert row["families"]["Other"] == {"mean": pytest.approx(means["disease"]), "datasets": ["disease"],
                                            "planned": ["disease", "broken"], "complete": False}
        assert row["blurb"]["score"] == pytest.approx((means["chem"] + means["disease"]) / 2)
        assert row["blurb"]["complete"] is False
    small, other = (board["backbones"][b]["datasets"]["chem"]["values"] for b in ("small", "other"))
    assert small != other, "the two backbones are different models"
    table = (out / "results" / "tiny" / "leaderboard.md").read_text()
    assert "failed (0/2 seeds)" in table and "(incomplete: 1/2 datasets)" in table and "(incomplete)" in table
    runs = json.loads((out / "results" / "tiny" / "runs.json").read_text())["runs"]
    assert [(r["dataset"], r["status"]) for r in runs if r["backbone"] == "small"] == [
        ("chem", "trained"), ("chem", "trained"), ("disease", "trained"), ("disease", "trained"),
        ("broken", "failed"), ("broken", "failed")]
    aggregated = json.loads((out / "results" / "tiny__other__disease" / "aggregated_results.json").read_text())
    assert aggregated["test_sets"]["test"]["micro"]["f1"]["mean"] == pytest.approx(
        board["backbones"]["other"]["datasets"]["disease"]["mean"]), "ordinary runs: `aggregate` reads them"
    snapshot = yaml.safe_load((out / "results" / "tiny__other__disease" / "seed_2" / "config_snapshot.yaml").read_text())
    assert snapshot["training"]["learning_rate"] == 1e-2 and snapshot["training"]["seed"] == 2
    assert snapshot["model"]["backbone"].endswith("other")


def _copy(finished: dict, tiny_suite: Path, tmp_path: Path):
    """The suite (as loaded) pointing at a copy of the finished output folder."""
    out = tmp_path / "out"
    shutil.copytree(finished["out"], out)
    return load_suite(tiny_suite, {"output_dir": str(out)}), out


def _count_training(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    trained: list[str] = []
    real = train_module.train
    monkeypatch.setattr(train_module, "train", lambda config, overwrite=False: trained.append(
        f"{config.run_name}/{config.training.seed}") or real(config, overwrite))
    return trained


def test_a_rerun_skips_every_finished_run_and_retries_only_the_failed_ones(
        finished: dict, tiny_suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite, out = _copy(finished, tiny_suite, tmp_path)
    summary = out / "results" / "tiny__small__chem" / "seed_1" / "train_summary.json"
    before = summary.stat().st_mtime_ns
    trained = _count_training(monkeypatch)
    outcome = run_suite(suite)
    assert sorted(trained) == ["tiny__other__broken/1", "tiny__other__broken/2", "tiny__small__broken/1",
                               "tiny__small__broken/2"]
    assert len(outcome.skipped) == 8 and not outcome.trained and len(outcome.failed) == 4
    assert summary.stat().st_mtime_ns == before
    assert outcome.leaderboard["backbones"] == finished["board"]["backbones"]


def test_a_changed_dataset_override_on_finished_runs_is_refused_naming_the_key(
        finished: dict, tiny_suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite, out = _copy(finished, tiny_suite, tmp_path)
    changed = suite.model_copy(update={"datasets": {**suite.datasets, "disease": suite.datasets["disease"].model_copy(
        update={"overrides": {"training.learning_rate": 2e-2}})}})
    trained = _count_training(monkeypatch)
    with pytest.raises(BiotuneError, match=r"tiny__small__disease/seed_1 holds a finished run of another config "
                                           r"\(differs in training.learning_rate\); pass --overwrite"):
        run_suite(changed)
    assert trained == []
    stale = {(e.backbone, e.dataset): dict(e.stale) for e in entries(changed, plan_suite(changed), {})}
    assert stale[("small", "disease")] == {1: "training.learning_rate", 2: "training.learning_rate"}
    assert stale[("small", "chem")] == {}  # untouched datasets keep reporting their runs
    outcome = run_suite(restrict(changed, ["disease", "small"]), overwrite=True)  # only the stale runs retrain
    assert sorted(trained) == ["tiny__small__disease/1", "tiny__small__disease/2"]
    assert outcome.trained == ["small/disease/seed_1", "small/disease/seed_2"]
    snapshot = yaml.safe_load((out / "results" / "tiny__small__disease" / "seed_1" / "config_snapshot.yaml").read_text())
    assert snapshot["training"]["learning_rate"] == 2e-2


def test_an_interrupted_suite_resumes_its_unfinished_run_and_skips_the_rest(
        finished: dict, tiny_suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite, out = _copy(finished, tiny_suite, tmp_path)
    run = out / "results" / "tiny__other__chem" / "seed_2"
    (run / "train_summary.json").unlink()  # killed after its model was saved, before the summary: unfinished
    for result in run.glob("eval_*"):
        result.unlink()
    trained = _count_training(monkeypatch)
    outcome = run_suite(restrict(suite, ["chem"]))
    assert trained == ["tiny__other__chem/2"] and outcome.trained == ["other/chem/seed_2"]
    assert sorted(outcome.skipped) == ["other/chem/seed_1", "small/chem/seed_1", "small/chem/seed_2"]
    cell = outcome.leaderboard["backbones"]["other"]["datasets"]["chem"]
    assert cell == finished["board"]["backbones"]["other"]["datasets"]["chem"], "the resumed run ends as it was"
    log = (out / "logs" / "tiny__other__chem" / "seed_2" / "train.log").read_text()
    assert "resuming it" in log


def test_ray_with_two_workers_gives_the_sequential_leaderboard(finished: dict, tiny_suite: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    suite = restrict(load_suite(tiny_suite, {"output_dir": str(tmp_path / "ray")}), ["small"])
    try:
        outcome = run_suite(suite, ray=True, workers=2)
    except (ConnectionError, RuntimeError) as exc:  # pragma: no cover - a machine where Ray cannot start
        pytest.skip(f"local Ray cannot start: {exc}")
    assert not ray.is_initialized()
    assert len(outcome.trained) == 4 and sorted(outcome.failed) == ["small/broken/seed_1", "small/broken/seed_2"]
    assert "test.tsv:2" in outcome.failed["small/broken/seed_1"]
    row, sequential = outcome.leaderboard["backbones"]["small"], finished["board"]["backbones"]["small"]
    for dataset, cell in sequential["datasets"].items():
        assert row["datasets"][dataset]["values"] == cell["values"]
    assert row["families"] == sequential["families"] and row["blurb"] == sequential["blurb"]


# --- bad input: one line, before anything runs -----------------------------------------------------------------

def _suite_file(tmp_path: Path, **changes: object) -> Path:
    (tmp_path / "ner.yaml").write_text("task: ner\ndata: {corpus: somewhere}\n")
    suite = {"output_dir": str(tmp_path / "out"), "datasets": {"a": {"config": "ner.yaml"}}, **changes}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


@pytest.mark.parametrize(("changes", "message"), [
    ({"seed": [1]}, r"unknown key 'seed' \(did you mean 'seeds'\?\)"),
    ({"datasets": {"a": {"config": "ner.yaml", "overides": {}}}}, r"unknown key 'datasets.a.overides' \(did you mean 'datasets.a.overrides'\?\)"),
    ({"datasets": {"a": {"config": "ner.yaml", "task": "nerr"}}}, r"unknown task 'nerr' \(did you mean 'ner'\?\)"),
    ({"backbones": ["minlm"]}, r"unknown backbone 'minlm': no such local folder, and not a hub id \(org/name\) "
                               r"\(did you mean 'minilm'\?\)"),
    ({"backbones": ["./models/missing"]}, r"unknown backbone './models/missing': no such local folder"),
    ({"backbones": [{"nmae": "x", "backbone": "minilm"}]},
     r"unknown key 'backbones.0.nmae' \(did you mean 'backbones.0.name'\?\)"),
    ({"datasets": {"a": {"config": "nope.yaml"}}}, r"datasets.a: config file .*nope.yaml not found"),
    ({"datasets": {"a": {"config": "ner.yaml", "overrides": {"training.epoch": 1}}}},
     r"datasets.a \(minilm\): invalid config: unknown key 'training.epoch' \(did you mean 'training.epochs'\?\)"),
    ({"datasets": {"a": {"config": "ner.yaml", "task": "re"}}}, r"datasets.a: task 're', but its config is for"),
    ({"datasets": {}}, r"datasets: Dictionary should have at least 1 item"),
])
def test_bad_input_is_one_line_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    changes: dict, message: str) -> None:
    path = _suite_file(tmp_path, **changes)
    trained = _count_training(monkeypatch)
    with pytest.raises(BiotuneError, match=message) as error:
        run_suite(load_suite(path), origin=str(path))
    assert "\n" not in str(error.value) and trained == [] and not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, ["benchmark", str(path)])
    assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output


def test_plans_take_the_default_family_of_each_task_and_hub_ids(tmp_path: Path) -> None:
    from biotune.experiments.suite import family_of

    suite = load_suite(_suite_file(tmp_path, backbones=["minilm", "org/some-bert"], seeds=[3]),
                       {"data_dir": str(tmp_path / "d")})
    runs = plan_suite(suite, overrides={"training.epochs": 2})
    assert [r.key for r in runs] == ["minilm/a/seed_3", "some-bert/a/seed_3"]
    assert runs[1].config.name == "bad__some-bert__a" and runs[1].config.model.backbone == "org/some-bert"
    assert runs[0].config.data.data_dir == str(tmp_path / "d") and runs[0].config.training.epochs == 2
    tasks = ("ner", "re", "qa", "yesno", "similarity", "multilabel")  # each task declares its family
    assert [family_of(suite.datasets["a"], task) for task in tasks] == ["NER", "RE", "QA", "QA", "Similarity",
                                                                      "Classification"]
    with pytest.raises(BiotuneError, match=r"--only 'b': no such dataset or backbone .*choose from: a, minilm"):
        restrict(suite, ["b"])


def test_cli_options_select_datasets_and_seeds_and_bad_options_are_one_line(finished: dict, tiny_suite: Path,
                                                                             tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(finished["out"], out)
    result = CliRunner().invoke(app, ["benchmark", str(tiny_suite), "--output-dir", str(out), "--only", "chem",
                                      "--seeds", "1"])
    assert result.exit_code == 0, result.output  # the failing dataset is not selected: every run finished
    assert "trained 0, skipped (finished) 2, failed 0" in result.output
    board = json.loads((out / "results" / "tiny" / "leaderboard.json").read_text())
    assert board["seeds"] == [1] and list(board["datasets"]) == ["chem"]
    assert board["backbones"]["small"]["datasets"]["chem"]["values"] == {
        "1": finished["board"]["backbones"]["small"]["datasets"]["chem"]["values"]["1"]}
    for options, message in ((["--override", "training.epoch=1"], "did you mean 'training.epochs'"),
                             (["--override", "training.epochs"], "--override 'training.epochs': write KEY=VALUE"),
                             (["--only", "chemm"], "--only 'chemm': no such dataset or backbone in suite 'tiny' "
                                                   "(did you mean 'chem'?)")):
        result = CliRunner().invoke(app, ["benchmark", str(tiny_suite), "--output-dir", str(out), *options])
        assert result.exit_code == 2 and message in result.output.replace("\n", ""), result.output


def test_the_shipped_blurb_small_suite_plans_every_dataset_backbone_and_seed() -> None:
    """configs/suites/blurb_small.yaml validates with every dataset config it names resolved."""
    repo = Path(__file__).resolve().parents[2]
    suite_file = repo / "configs" / "suites" / "blurb_small.yaml"
    runs = plan_suite(load_suite(suite_file), str(suite_file))
    datasets = {r.dataset: r.config.task for r in runs}
    assert datasets == {"bc5cdr": "ner", "ncbi_disease": "ner", "bc2gm": "ner", "chemprot": "re", "ddi": "re",
                        "gad": "re", "bioasq_factoid": "qa", "bioasq_list": "qa", "bioasq_yesno": "yesno",
                        "pubmedqa": "yesno"}
    assert len(runs) == len(datasets) * len({r.seed for r in runs}) == 30
    assert {r.config.model.backbone for r in runs} == {"minilm"}


def test_the_shipped_blurb_suite_plans_its_twelve_datasets_with_families_and_published_rows() -> None:
    suite = load_suite(Path(__file__).parents[2] / "configs" / "suites" / "blurb.yaml")
    assert suite.families == ["NER", "PICO", "Relation extraction", "Sentence similarity", "Document classification",
                              "Question answering"]
    assert suite.published is not None and list(suite.published.rows) == ["BERT-base", "BioBERT", "PubMedBERT",
                                                                          "BioLinkBERT"]
    assert suite.published.rows["BioBERT"].scores["jnlpba"] == 78.55
    runs = plan_suite(suite)
    assert len(runs) == 12 * 3
    corpora = {run.dataset: run.config.data.corpus for run in runs}
    assert corpora["chemprot"] == "blurb_chemprot" and corpora["bioasq"] == "blurb_bioasq"
    assert all(corpus.startswith("blurb_") for corpus in corpora.values())
    assert not any(suite.datasets[d].family == "PICO" for d in suite.datasets), "PICO is absent offline"


def test_published_scores_must_name_datasets_of_the_suite(tmp_path: Path) -> None:
    (tmp_path / "ner.yaml").write_text("data: {corpus: bc2gm}\n")
    (tmp_path / "paper.yaml").write_text(yaml.safe_dump({"source": "a paper", "note": "GPU", "rows": {
        "X": {"model": "x", "scores": {"bc2gn": 80.0}}}}))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"datasets": {"bc2gm": {"config": "ner.yaml"}},
                                                     "published": "paper.yaml"}))
    with pytest.raises(BiotuneError, match=r"published.rows.X.scores: no dataset 'bc2gn' in the suite "
                                           r"\(did you mean 'bc2gm'\?\)"):
        load_suite(tmp_path / "s.yaml")
