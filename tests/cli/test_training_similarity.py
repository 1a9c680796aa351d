"""The CLI on sentence similarity: train (dev selection, eval files, model card), evaluate, check-data;
bad input exits 2 with one line naming file and line; the `biencoder` head trained, carded, checked and
resumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from biotune.cli import app
from biotune.config import load_config
from biotune.tasks import get_task
from tests.resume import crashed_then_resumed, same_weights
from tests.tasks.similarity.test_task import config_file
from tests.tasks.similarity.toy import toy_pairs, write_corpus, write_pairs

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> tuple[Path, Path, Path]:
    """(run folder root, corpus folder, config) of one `biotune train` on a toy corpus folder with dev and test."""
    root = tmp_path_factory.mktemp("similarity_cli")
    corpus = write_corpus(root / "corpus")
    config = config_file(root, word_backbone, f"{{corpus: {corpus}}}", epochs=3)
    result = runner.invoke(app, ["train", str(config), "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "4 sentence pairs; headline pearson = " in result.output  # the printed summary is the test headline
    return root / "outputs", corpus, config


def test_train_writes_the_eval_files_with_the_pearson_headline_and_a_card(trained) -> None:
    outputs, _, _ = trained
    results = outputs / "results" / "toy_similarity" / "seed_5"
    test = json.loads((results / "eval_test.json").read_text())["test"]
    assert test["headline_key"] == "pearson" and test["kind"] == "similarity" and test["n_pairs"] == 4
    assert -1.0 <= test["pearson"] <= 1.0 and test["mse"] >= 0.0
    assert "headline pearson = " in (results / "eval_test.md").read_text()
    summary = json.loads((results / "train_summary.json").read_text())
    assert [h["epoch"] for h in summary["dev_history"]] == [1.0, 2.0, 3.0]  # dev selected the epoch
    assert summary["test"]["test"] == test["pearson"]
    train_counts = next(row["counts"] for row in summary["data"] if row["role"] == "train")
    assert train_counts == {"pairs": 8, "score 0-1": 2, "score 1-2": 1, "score 2-3": 2, "score 3-4": 3}
    card = (outputs / "checkpoints" / "toy_similarity" / "seed_5" / "best_model" / "README.md").read_text()
    assert "pipeline_tag: text-classification" in card and 'pipeline("text-classification"' in card
    assert "compare models over several seeds" in card


def test_evaluate_reproduces_the_runs_scores(trained, tmp_path: Path) -> None:
    outputs, corpus, _ = trained
    best = outputs / "checkpoints" / "toy_similarity" / "seed_5" / "best_model"
    result = runner.invoke(app, ["evaluate", "--checkpoint", str(best), "--test", str(corpus / "test.tsv"),
                                 "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run_eval = outputs / "results" / "toy_similarity" / "seed_5" / "eval_test.json"
    assert json.loads((tmp_path / "eval_test.json").read_text()) == json.loads(run_eval.read_text())


def test_check_data_reports_counts_lengths_scores_and_overlap(trained) -> None:
    _, corpus, config = trained
    result = runner.invoke(app, ["check-data", str(config)])
    assert result.exit_code == 0, result.output
    assert "# Sentence-similarity data check" in result.output
    table = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
             for line in result.output.splitlines() if line.startswith("| train") or line.startswith("| dev")}
    assert table["train"][:2] == ["8", "2.10"] and table["train"][3:] == ["18", "0", "-"]
    assert table["dev"][-1] == "0"  # no dev pair is also in train
    assert "dev: 4 pairs select the epoch" in result.output


def test_check_data_and_train_refuse_a_bad_row_or_a_pair_too_long_with_one_line(tmp_path: Path,
                                                                              word_backbone: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "dev.tsv").write_text("sentence1\tsentence2\tscore\ntremor\tasthma\t5\n", encoding="utf-8")
    config = config_file(tmp_path, word_backbone, f"{{corpus: {corpus}}}")
    for command in (["check-data", str(config)], ["train", str(config)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert f"{corpus / 'dev.tsv'}:2: score '5' is outside the 0-4 range" in " ".join(result.output.split())
    write_pairs(corpus / "dev.tsv", [(" ".join(["tremor"] * 20), " ".join(["asthma"] * 20), 1.0)])
    result = runner.invoke(app, ["check-data", str(config)])
    assert result.exit_code == 2
    assert (f"{corpus / 'dev.tsv'}:2: the sentence pair is 43 subwords with its special tokens, more than "
            "max_length 32") in " ".join(result.output.split())
    assert not (tmp_path / "outputs").exists()  # refused before any run folder


def test_predict_writes_a_score_per_pair_as_predict_records_does(trained, tmp_path: Path) -> None:
    outputs, corpus, _ = trained
    best = outputs / "checkpoints" / "toy_similarity" / "seed_5" / "best_model"
    task = get_task("similarity")
    expected = task.predict_records(task.predictor(task.load(best), precision="fp32", batch_size=32),
                                    list(task.read_records(corpus / "test.tsv")))
    out = tmp_path / "scores.jsonl"
    result = runner.invoke(app, ["predict", "--checkpoint", str(best), "--input", str(corpus / "test.tsv"),
                                 "--output", str(out), "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in written] == ["test.tsv:2", "test.tsv:3", "test.tsv:4", "test.tsv:5"]
    assert written == [{**r, "score": pytest.approx(r["score"], abs=1e-5)} for r in expected]


def test_predict_refuses_a_bad_row_before_the_model_loads(trained, tmp_path: Path) -> None:
    outputs, _, _ = trained
    best = outputs / "checkpoints" / "toy_similarity" / "seed_5" / "best_model"
    source = tmp_path / "pairs.tsv"
    source.write_text("tremor\tasthma\nonly one column\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", "--checkpoint", str(best), "--input", str(source),
                                 "--output", str(tmp_path / "out.jsonl")], env={"COLUMNS": "1000"})
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: {source}:2: expected sentence1<TAB>sentence2[<TAB>score], found 1 "
                                     "column: 'only one column'")
    assert not (tmp_path / "out.jsonl").exists()


@pytest.fixture(scope="module")
def biencoder_fit(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> tuple[Path, Path, Path]:
    """(best_model, train file, config) of one `biotune train` with `model.head: biencoder` on 8 pairs."""
    root = tmp_path_factory.mktemp("biencoder_cli")
    train_file = write_pairs(root / "train.tsv", toy_pairs(8))
    config = config_file(root, word_backbone, f"{{corpus: toy, train: {train_file}, dev: null, test: [{train_file}], "
                                              "allow_test_as_train: true}", head="biencoder", epochs=40)
    result = runner.invoke(app, ["train", str(config), "--seed", "3"])
    assert result.exit_code == 0, result.output
    return root / "outputs" / "checkpoints" / "toy_similarity" / "seed_3" / "best_model", train_file, config


def test_training_the_biencoder_fits_the_pairs(biencoder_fit, word_backbone: Path) -> None:
    best, train_file, config_path = biencoder_fit
    task, config = get_task("similarity"), load_config(config_path)
    pairs = task.read_split(str(train_file), config).examples
    torch.manual_seed(3)
    losses = []
    for bundle in (task.build_model(str(word_backbone), [], config, pairs), task.load(best)):
        batch = task.collator(bundle, [])(task.featurise(pairs, bundle, [], config))
        with torch.no_grad():
            losses.append(float(task.loss(bundle.model.eval(), batch, batch.pop("weight"))[0]))
    assert losses[1] < 0.1 * losses[0]  # from the untrained encoder's cosines, mapped to 0-4
    result = task.score(task.predictor(task.load(best), precision="fp32", batch_size=8), task.read_split(str(train_file), config))
    assert result.pearson > 0.95 and result.mse == pytest.approx(losses[1], rel=1e-4)


def test_the_biencoder_card_shows_sentence_transformers_and_check_data_the_longest_sentence(biencoder_fit) -> None:
    best, _, config = biencoder_fit
    card = (best / "README.md").read_text()
    scale = json.loads((best / "config.json").read_text())["biotune"]["scale"]
    assert 'SentenceTransformer("' in card and f"{scale:.6g} * cosine" in card
    assert 'pipeline("text-classification"' not in card and "SimilarityPredictor.from_checkpoint" in card
    result = runner.invoke(app, ["check-data", str(config)])
    assert result.exit_code == 0, result.output
    assert "subwords of a sentence with its special tokens" in result.output
    row = next(line for line in result.output.splitlines() if line.startswith("| train"))
    assert [c.strip() for c in row.split("|")[5:7]] == ["10", "0"]  # the longest sentence alone, not the pair's 18


def test_predict_with_a_biencoder_writes_what_predict_records_gives(biencoder_fit, tmp_path: Path) -> None:
    best, train_file, _ = biencoder_fit
    task = get_task("similarity")
    expected = task.predict_records(task.predictor(task.load(best), precision="fp32", batch_size=32),
                                    list(task.read_records(train_file)))
    out = tmp_path / "scores.jsonl"
    result = runner.invoke(app, ["predict", "--checkpoint", str(best), "--input", str(train_file), "--output", str(out),
                                 "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert written == [{**r, "score": pytest.approx(r["score"], abs=1e-5)} for r in expected]
    assert [r["id"] for r in written] == [f"train.tsv:{k}" for k in range(2, 10)]


def test_a_crashed_biencoder_run_resumes_from_its_checkpoint_to_the_same_model(
        tmp_path: Path, word_backbone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Trainer's checkpoints hold the whole bi-encoder (encoder, scale, shift): resumed after a crash in
    epoch 2, with dev selecting the epoch, the run saves exactly the model of a run that never stopped."""
    corpus = write_corpus(tmp_path / "corpus")
    config = config_file(tmp_path, word_backbone, f"{{corpus: {corpus}}}", head="biencoder", epochs=3)
    resumed, reference = crashed_then_resumed(config, 3, tmp_path / "reference", monkeypatch)
    assert resumed.summary["resumed_from_step"] == 2 and reference.summary["resumed_from_step"] == 0
    assert same_weights(resumed.paths.best_model, reference.paths.best_model)
    affine = [{k: v for k, v in json.loads((run.paths.best_model / "config.json").read_text())["biotune"].items()
               if k in ("scale", "shift")} for run in (resumed, reference)]
    assert affine[0] == affine[1] and len(affine[0]) == 2
    assert resumed.summary["dev_history"] == reference.summary["dev_history"]
    assert (resumed.paths.results / "eval_test.json").read_text() == (reference.paths.results / "eval_test.json").read_text()
