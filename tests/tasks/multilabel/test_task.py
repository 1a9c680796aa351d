"""The multilabel task end to end through `biotune train` with a tiny random BERT: overfitting, save/load,
batching, the threshold tuned on dev, prediction records, eval files, check-data, refusals."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from biotune.cli import app
from biotune.config import load_config, validate
from biotune.errors import BiotuneError
from biotune.tasks import get_task
from biotune.tasks.multilabel.predict import MultiLabelPredictor
from tests.awkward import AWKWARD_TEXTS
from tests.tasks.multilabel.toy import JSONL_TEXTS, jsonl_labels, write_config, write_corpus, write_jsonl

runner = CliRunner()
TASK = get_task("multilabel")


@pytest.fixture(scope="module")
def overfit(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> tuple[Path, Path, Path]:
    """(run results folder, best_model, dev file) of one `biotune train` run that overfits the JSONL texts:
    dev holds them once (one document each), test holds them as documents of two sentences."""
    root = tmp_path_factory.mktemp("multilabel")
    train_file = write_jsonl(root / "train.jsonl", JSONL_TEXTS * 16)
    dev = write_jsonl(root / "dev.jsonl", JSONL_TEXTS, prefix="d")
    test = write_jsonl(root / "test.jsonl", JSONL_TEXTS, sentences_per_document=2, prefix="e")
    config = write_config(root / "toy.yaml", word_backbone, root / "outputs",
                          {"corpus": "toy", "train": str(train_file), "dev": str(dev), "test": [str(test)],
                           "allow_test_as_train": True, "allow_test_as_dev": True},  # train, dev and test: the same texts
                          epochs=40)
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 0, result.output
    assert "headline abstract-level micro-F1 = 100.00" in result.output  # the printed summary is the test's
    outputs = root / "outputs"
    return outputs / "results" / "toy_hoc" / "seed_7", outputs / "checkpoints" / "toy_hoc" / "seed_7" / "best_model", dev


def predictor(folder: Path, batch_size: int = 8) -> MultiLabelPredictor:
    return TASK.predictor(TASK.load(folder), precision="fp32", batch_size=batch_size)


def test_overfit_predicts_every_label_set_exactly(overfit) -> None:
    _, best, _ = overfit
    predictions = predictor(best).predict(JSONL_TEXTS)
    assert [list(p.labels) for p in predictions] == [jsonl_labels(text) for text in JSONL_TEXTS]
    assert [list(p.labels) for p in predictions] == [[], ["inducing angiogenesis"], ["resisting cell death"],
                                                     ["inducing angiogenesis", "resisting cell death"]]


def test_save_then_load_gives_identical_predictions(overfit, tmp_path: Path) -> None:
    _, best, _ = overfit
    bundle = TASK.load(best)
    before = TASK.predictor(bundle, precision="fp32", batch_size=8).probabilities(JSONL_TEXTS)
    TASK.save(bundle, tmp_path / "again")
    after = predictor(tmp_path / "again").probabilities(JSONL_TEXTS)
    assert np.array_equal(before, after)
    config = json.loads((tmp_path / "again" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert list(config["id2label"].values()) == ["inducing angiogenesis", "resisting cell death"]


def test_batched_equals_one_at_a_time(overfit) -> None:
    _, best, _ = overfit
    texts = [*JSONL_TEXTS, "tremor heparin aspirin", " ".join(["bleeding"] * 50 + ["tremor"])]  # the last: 3 windows
    batched = predictor(best, batch_size=16).predict(texts)
    single = [predictor(best, batch_size=1).predict([text])[0] for text in texts]
    assert [(p.labels, {k: round(v, 5) for k, v in p.scores.items()}) for p in batched] == \
           [(p.labels, {k: round(v, 5) for k, v in p.scores.items()}) for p in single]


def test_a_long_text_scores_each_label_at_its_best_window(overfit) -> None:
    _, best, _ = overfit
    model = predictor(best)
    text = " ".join(["bleeding"] * 40 + ["tremor"] * 4)
    pieces = [model.bundle.tokenizer.decode(ids, skip_special_tokens=True)
              for ids in model.bundle.tokenizer([text], truncation=True, max_length=32, stride=model.stride,
                                                return_overflowing_tokens=True)["input_ids"]]
    assert len(pieces) > 1 and pieces[-1].endswith("tremor")
    assert np.allclose(model.probabilities([text])[0], model.probabilities(pieces).max(axis=0))


def test_the_threshold_is_tuned_on_dev_and_recorded_in_the_model(overfit) -> None:
    results, best, dev = overfit
    summary = json.loads((results / "train_summary.json").read_text())
    recorded = json.loads((best / "config.json").read_text())["biotune"]
    assert summary["tuned"]["threshold"] == recorded["threshold"] and summary["tuned"]["dev_abstract_micro_f1"] == 1.0
    assert (recorded["max_length"], recorded["stride"]) == (32, 7)
    config = validate({"task": "multilabel", "data": {"corpus": "toy"}}, "test")
    split = TASK.read_split(str(dev), config)
    scored = TASK.score(predictor(best), split)
    assert scored.threshold == recorded["threshold"] and scored.threshold_from == "the model's" and scored.headline == 1.0
    bundle = TASK.load(best)
    assert TASK.tune(bundle, None, config) == {"threshold": 0.5, "dev_abstract_micro_f1": None}  # no dev: the default
    assert bundle.model.config.biotune["threshold"] == 0.5
    bundle.model.config.biotune.pop("threshold")
    again = TASK.tune(bundle, split, config)
    assert again == summary["tuned"] and bundle.model.config.biotune["threshold"] == recorded["threshold"]


def test_the_eval_files_and_the_model_card(overfit) -> None:
    results, best, _ = overfit
    data = json.loads((results / "eval_test.json").read_text())["test"]
    assert data["headline_key"] == "abstract_micro.f1" and data["abstract_micro"]["f1"] == 1.0
    assert data["n_abstracts"] == 2 and data["n_sentences"] == 4 and data["sentence_micro"]["support"] == 4
    assert "headline abstract-level micro-F1 = 100.00" in (results / "eval_test.md").read_text()
    card = (best / "README.md").read_text()
    assert "pipeline_tag: text-classification" in card and 'problem_type="multi_label_classification"' in card
    train_counts = json.loads((results / "train_summary.json").read_text())["data"][0]["counts"]
    assert train_counts == {"sentences": 64, "abstracts": 64, "sentences without a label": 16,
                            "inducing angiogenesis": 32, "resisting cell death": 32}


def test_cli_evaluate_reproduces_the_runs_scores(overfit, tmp_path: Path) -> None:
    results, best, _ = overfit
    test = best.parents[4] / "test.jsonl"
    result = runner.invoke(app, ["evaluate", "--checkpoint", str(best), "--test", str(test), "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "eval_test.json").read_text()) == json.loads((results / "eval_test.json").read_text())


def test_the_cards_usage_snippets_run_and_agree(overfit, capsys: pytest.CaptureFixture[str]) -> None:
    _, best, _ = overfit
    settings = json.loads((best / "config.json").read_text())["biotune"]
    usage = TASK.card_usage(str(best), settings)
    snippets = [block.split("\n", 1)[1] for block in usage.split("```python")[1:]]
    for snippet in snippets:
        exec(snippet.split("```")[0], {})  # noqa: S102 (the card's own code, as a reader would run it)
    printed = capsys.readouterr().out.splitlines()
    text = "VEGF expression promoted tumour angiogenesis and metastasis ."
    by_transformers = ast.literal_eval(printed[0])  # the labels at the recorded threshold, best first
    assert sorted(by_transformers) == sorted(predictor(best).predict([text])[0].labels)
    assert printed[1].startswith("s1 [")


def test_prediction_records_in_and_out(overfit, tmp_path: Path) -> None:
    _, best, _ = overfit
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(json.dumps({"text": text, "source": "note"}) + "\n" for text in JSONL_TEXTS), encoding="utf-8")
    records = list(TASK.read_records(path))
    out = TASK.predict_records(predictor(best), records)
    assert [r["id"] for r in out] == [f"texts.jsonl:{k}" for k in range(1, 5)] and all(r["source"] == "note" for r in out)
    assert [r["labels"] for r in out] == [jsonl_labels(text) for text in JSONL_TEXTS]
    assert all(set(r["scores"]) == {"inducing angiogenesis", "resisting cell death"} for r in out)
    written = tmp_path / "out.jsonl"
    with written.open("w", encoding="utf-8") as handle:
        assert TASK.write_records(out, handle) == 4
    assert [json.loads(line) for line in written.read_text().splitlines()] == out
    awkward = [{"text": text} for text in AWKWARD_TEXTS if text.strip()]
    assert len(TASK.predict_records(predictor(best), awkward)) == len(awkward)
    with pytest.raises(BiotuneError, match=r"record 'x': 'text' must be a non-empty string"):
        TASK.predict_records(predictor(best), [{"text": "tremor"}, {"id": "x", "text": ""}])
    with pytest.raises(BiotuneError, match=r"record 1: 'text' must be a non-empty string"):
        TASK.predict_records(predictor(best), ["tremor", {"text": 3}])
    assert TASK.predict_records(predictor(best), JSONL_TEXTS[1:2]) == [{"text": JSONL_TEXTS[1], **{
        key: value for key, value in out[1].items() if key in ("labels", "scores")}}]  # a string stands for a record


def test_a_folder_of_another_kind_is_refused_by_name(word_backbone: Path) -> None:
    with pytest.raises(BiotuneError, match="is not a biotune multilabel model"):
        TASK.load(word_backbone)


# ---- the CLI on BLURB's HoC format ----------------------------------------------------------

def hoc_config(root: Path, backbone: Path, **data: object) -> Path:
    return write_config(root / "hoc.yaml", backbone, root / "outputs", {"corpus": str(write_corpus(root / "hoc")), **data})


def test_cli_train_on_hoc_files_writes_the_eval_files_with_the_headline(tmp_path: Path, word_backbone: Path) -> None:
    result = runner.invoke(app, ["train", str(hoc_config(tmp_path, word_backbone)), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "headline abstract-level micro-F1 = " in result.output
    data = json.loads((tmp_path / "outputs" / "results" / "toy_hoc" / "seed_3" / "eval_test.json").read_text())["test"]
    assert data["headline_key"] == "abstract_micro.f1" and (data["n_sentences"], data["n_abstracts"]) == (7, 3)
    assert len(data["abstract_labels"]) == 10 and 0.0 <= data["abstract_micro"]["f1"] <= 1.0
    summary = json.loads((tmp_path / "outputs" / "results" / "toy_hoc" / "seed_3" / "train_summary.json").read_text())
    assert summary["test"]["test"] == data["abstract_micro"]["f1"]
    assert summary["labels"][0] == "activating invasion and metastasis" and len(summary["labels"]) == 10


def test_cli_check_data_reports_counts_and_labels(tmp_path: Path, word_backbone: Path) -> None:
    result = runner.invoke(app, ["check-data", str(hoc_config(tmp_path, word_backbone))])
    assert result.exit_code == 0, result.output
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
            for line in result.output.splitlines() if line.startswith("| ")}
    # sentences, abstracts, without a label, longest, over one window, in train (sentences / abstracts)
    assert rows["train"] == ["14", "7", "3", "4", "0", "-"]
    assert rows["dev"] == ["7", "4", "1", "4", "0", "7 / 0"] and rows["test"] == ["7", "3", "2", "4", "0", "7 / 0"]
    assert rows["inducing angiogenesis"] == ["2", "0", "2"]  # its cue word "nephrotoxicity": two texts, both odd
    assert "dev: 7 sentences and 0 abstracts also occur in train" in result.output


def test_cli_train_refuses_a_bad_row_in_one_line_before_any_folder(tmp_path: Path, word_backbone: Path) -> None:
    config = hoc_config(tmp_path, word_backbone)
    train_file = tmp_path / "hoc" / "train.tsv"
    lines = train_file.read_text().splitlines()
    lines[2] = lines[2].replace("\t", " ", 1)  # line 3: the labels cell and the sentence run together
    train_file.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["train", str(config)])
    error = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(error) == 1 and "Traceback" not in result.output
    assert error[0].startswith("error:") and f"{train_file}:3: 2 tab-separated columns, expected 3" in error[0]
    assert not (tmp_path / "outputs").exists()


def test_a_dev_label_training_lacks_is_refused_naming_file_and_line(tmp_path: Path, word_backbone: Path) -> None:
    dev = tmp_path / "dev.jsonl"
    dev.write_text(json.dumps({"text": "tremor", "labels": []}) + "\n"
                   + json.dumps({"text": "aspirin", "labels": ["avoiding apoptosis"]}) + "\n")
    config = hoc_config(tmp_path, word_backbone, dev=str(dev))
    for command in (["check-data", str(config)], ["train", str(config)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert f"{dev}:2: label 'avoiding apoptosis' of the dev split is not one of the labels training has" in result.output
    assert not (tmp_path / "outputs").exists()


def test_the_task_registers_its_defaults() -> None:
    config = validate({"task": "multilabel", "data": {"corpus": "x"}}, "test")
    assert (config.model.head, config.model.max_length) == ("sigmoid", 256)
    with pytest.raises(BiotuneError, match="unknown multilabel head 'softmax'"):
        validate({"task": "multilabel", "data": {"corpus": "x"}, "model": {"head": "softmax"}}, "test")


def test_the_shipped_hoc_config_reads_blurbs_files(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).parents[3]
    if not (root.parent / "shared" / "data" / "blurb" / "hoc" / "dev.tsv").is_file():
        pytest.skip("the shared BLURB HoC files are not here")
    monkeypatch.chdir(root)  # the config names the corpus folder relative to the repository root
    config = load_config(root / "configs" / "multilabel" / "hoc.yaml", {})
    split = TASK.read_split("dev", config)
    assert (config.task, config.model.max_length, split.facts) == ("multilabel", 256, {"sentences": 1798, "abstracts": 186})
    assert sum(not e.labels for e in split.examples) == 1337 and split.annotated_types[6] == "inducing angiogenesis"


def test_its_text_for_pretraining_is_each_distinct_sentence_the_contract_default(tmp_path: Path) -> None:
    from tests.tasks.multilabel.toy import hoc_texts

    folder = write_corpus(tmp_path / "hoc")
    config = validate({"task": "multilabel", "data": {"corpus": str(folder)}}, "test")
    assert list(TASK.texts("dev", config)) == hoc_texts()[::2]
