"""Prediction through the task contract, for every task that predicts: records in, records out.

Each task's tiny checkpoint (a random model on the shared word-level backbone, saved by the task
itself: no training needed, the predictions only have to be deterministic) goes through the
generic job (`biotune predict`, `biotune.serving.predict_job`) and through the library
(`biotune.load(folder).predict(records)`), which must give the same records; bad input is a
one-line error naming file and line before any model loads.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import biotune
from biotune.cli import app
from biotune.errors import BiotuneError
from biotune.serving.predict_job import plan_prediction, run_prediction
from biotune.tasks import TASKS, get_task
from biotune.tasks.contract import Task
from tests.tasks.re.toy import TOY_LABELS, TOY_ROWS

runner = CliRunner()


@dataclass(frozen=True)
class Case:
    """A task's prediction input (`file`: name, content, records it holds) and a bad one (defect on line 2)."""

    labels: tuple[str, ...]
    file: str
    content: str
    records: int
    bad_file: str
    bad: str
    bad_message: str  # what the error says after ``<file>:2:``


CASES = {
    "ner": Case(("O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"), "in.txt",
                "The patient developed acute bleeding after heparin.\n\n  Cisplatin and severe nephrotoxicity.\n", 2,
                "bad.jsonl", '{"tokens": ["aspirin"]}\n{not json\n', "invalid JSON"),
    "re": Case(TOY_LABELS, "rows.tsv", "".join(f"{text}\n" for text, _ in TOY_ROWS), len(TOY_ROWS), "bad.tsv",
               "@CHEMICAL$ and @DISEASE$ .\naspirin and asthma .\n", "no entity mask"),
    "qa": Case((), "questions.jsonl",
               json.dumps({"id": "q1", "question": "patient developed",
                           "contexts": ["the patient developed acute tremor after aspirin .", "the patient was given"]})
               + "\n" + json.dumps({"question": "patient given", "contexts": ["heparin and lithium ."],
                                    "type": "list"}) + "\n", 2, "bad.jsonl",
               '{"question": "patient", "contexts": ["x"]}\n{"question": "patient", "contexts": []}\n',
               "'contexts' must be a non-empty list"),
    "yesno": Case(("yes", "no"), "questions.jsonl",
                  json.dumps({"id": "y1", "question": "patient developed tremor",
                              "context": "the patient developed acute tremor ."}) + "\n"
                  + json.dumps({"question": "patient given", "context": "heparin was given ."}) + "\n", 2,
                  "bad.jsonl", '{"question": "a", "context": "b"}\n{"question": "a"}\n', "'context' must be a non-empty string"),
    "similarity": Case((), "pairs.jsonl",
                       json.dumps({"id": "p1", "sentence1": "aspirin and tremor .", "sentence2": "the patient ."}) + "\n"
                       + json.dumps({"sentence1": "heparin was given .", "sentence2": "lithium ."}) + "\n", 2,
                       "bad.jsonl", '{"sentence1": "a", "sentence2": "b"}\n{"sentence1": "a"}\n',
                       "missing field 'sentence2'"),
    "multilabel": Case(("a", "b"), "texts.txt", "aspirin and severe tremor .\n\nthe patient was given heparin .\n", 2,
                       "bad.jsonl", '{"text": "a"}\n{"text": ""}\n', "'text' must be a non-empty string"),
}


def predicting_tasks() -> list[str]:
    """The registered tasks whose class implements prediction on new data."""
    return [name for name in TASKS if type(get_task(name)).read_records is not Task.read_records]


def tiny_checkpoint(name: str, backbone: Path, folder: Path) -> Path:
    """A random model of task `name` built, recorded and saved by the task itself, as training would."""
    import torch

    from biotune.config import validate
    from biotune.tasks.re.examples import row_example

    task = get_task(name)
    config = validate({"task": name, "name": "tiny", "model": {"backbone": str(backbone), "max_length": 32},
                       "data": {"corpus": "toy"}, **({name: {"stride": 8}} if name in ("qa", "yesno") else {})}, "tiny")
    examples = [row_example(Path("toy.tsv"), k + 1, text, None, str(k)) for k, (text, _) in enumerate(TOY_ROWS)]
    torch.manual_seed(0)
    bundle = task.build_model(str(backbone), list(CASES[name].labels), config, examples if name == "re" else [])
    task.record(bundle, config, "fp32")
    task.save(bundle, folder)
    return folder


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("prediction_checkpoints")
    return {name: tiny_checkpoint(name, word_backbone, root / name) for name in CASES}


@pytest.fixture(scope="module")
def models(checkpoints: dict[str, Path]) -> dict[str, biotune.Model]:
    return {name: biotune.load(folder, precision="fp32", batch_size=4) for name, folder in checkpoints.items()}


def write_input(case: Case, folder: Path) -> Path:
    path = folder / case.file
    path.write_text(case.content, encoding="utf-8")
    return path


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def close(a: Any, b: Any) -> bool:
    """Equal records, scores equal to 1e-5 (batch composition may move a float's last digits)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, abs_tol=1e-5)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b


def test_every_task_that_predicts_has_a_case_here() -> None:
    missing = sorted(set(predicting_tasks()) - set(CASES))
    assert not missing, f"tasks {missing} predict records but have no Case (tiny checkpoint and input) in this file"
    assert {"ner", "re", "qa", "yesno"} <= set(predicting_tasks())


@pytest.mark.parametrize("name", CASES)
def test_the_file_job_and_the_library_give_the_same_records(name: str, models: dict[str, biotune.Model],
                                                           tmp_path: Path) -> None:
    case, model = CASES[name], models[name]
    source = write_input(case, tmp_path)
    assert model.task == name
    written = model.predict_file(source, tmp_path / "out.jsonl")
    records = list(get_task(name).read_records(source))
    assert written == len(records) == case.records
    assert lines(tmp_path / "out.jsonl") == model.predict(records)


@pytest.mark.parametrize("name", CASES)
def test_batched_equals_one_at_a_time_and_chunked(name: str, models: dict[str, biotune.Model], tmp_path: Path) -> None:
    case, model = CASES[name], models[name]
    source = write_input(case, tmp_path)
    records = list(get_task(name).read_records(source))
    together = model.predict(records)
    assert close(together, [model.predict([record])[0] for record in records])
    ticks: list[int] = []
    plan = plan_prediction(get_task(name), source, tmp_path / "chunked.jsonl")
    assert plan.records == case.records
    assert run_prediction(plan, model.predictor, chunk_size=1, on_progress=ticks.append) == case.records
    assert ticks == [1] * case.records and close(lines(tmp_path / "chunked.jsonl"), together)


@pytest.mark.parametrize("name", CASES)
def test_cli_predict_writes_what_the_library_predicts(name: str, checkpoints: dict[str, Path],
                                                      models: dict[str, biotune.Model], tmp_path: Path) -> None:
    case = CASES[name]
    source, out = write_input(case, tmp_path), tmp_path / "out.jsonl"
    result = runner.invoke(app, ["predict", "--checkpoint", str(checkpoints[name]), "--input", str(source),
                                 "--output", str(out), "--precision", "fp32"], env={"COLUMNS": "1000"})
    assert result.exit_code == 0, result.output
    assert f"{case.records} records predicted -> {out}" in result.output
    assert close(lines(out), models[name].predict(list(get_task(name).read_records(source))))


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_line_naming_file_and_line_before_the_model_loads(name: str, checkpoints: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    case = CASES[name]
    config_only = tmp_path / "config_only"  # the task is known, but no model could load from it
    config_only.mkdir()
    shutil.copy(checkpoints[name] / "config.json", config_only / "config.json")
    source = tmp_path / case.bad_file
    source.write_text(case.bad, encoding="utf-8")
    result = runner.invoke(app, ["predict", "--checkpoint", str(config_only), "--input", str(source),
                                 "--output", str(tmp_path / "out.jsonl")], env={"COLUMNS": "1000"})
    assert result.exit_code == 2, result.output
    [line] = [line for line in result.output.splitlines() if line.strip()]
    assert line.startswith(f"error: {source}:2: {case.bad_message}"), line
    assert not (tmp_path / "out.jsonl").exists() and not list(tmp_path.glob(".out.jsonl*"))


@pytest.mark.parametrize("name", CASES)
def test_an_unknown_format_names_the_option_and_the_tasks_formats(name: str, checkpoints: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    source = write_input(CASES[name], tmp_path)
    result = runner.invoke(app, ["predict", "--checkpoint", str(checkpoints[name]), "--input", str(source),
                                 "--output", str(tmp_path / "out.jsonl"), "--format", "bogus"], env={"COLUMNS": "1000"})
    task = get_task(name)
    reads = ", ".join(task.prediction_inputs) or "its inputs by extension and content"
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: --format 'bogus': a {name} model reads {reads} "
                                     f"and writes {', '.join(task.prediction_formats)}")


@pytest.mark.parametrize("name", ["qa", "yesno"])
def test_format_bioasq_writes_a_submission(name: str, checkpoints: dict[str, Path], models: dict[str, biotune.Model],
                                           tmp_path: Path) -> None:
    source, out = write_input(CASES[name], tmp_path), tmp_path / "submission.json"
    result = runner.invoke(app, ["predict", "--checkpoint", str(checkpoints[name]), "--input", str(source),
                                 "--output", str(out), "--format", "bioasq", "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    predicted = models[name].predict(list(get_task(name).read_records(source)))
    expected = [{"id": r["id"], "exact_answer": [[a["text"]] for a in r["answers"]] if name == "qa" else r["label"]}
                for r in predicted]
    assert json.loads(out.read_text(encoding="utf-8")) == {"questions": expected}


def test_qa_cuts_each_question_by_its_type(models: dict[str, biotune.Model]) -> None:
    """A list question of a model without a list threshold gets the top k, as a factoid does; `type` is kept."""
    qa = models["qa"]
    contexts = ["the patient developed acute tremor after aspirin and lithium and heparin ."]
    factoid, listed = qa.predict([{"question": "patient developed", "contexts": contexts},
                                  {"question": "patient developed", "contexts": contexts, "type": "list"}])
    assert "type" not in factoid and listed["type"] == "list" and listed["answers"] == factoid["answers"]
    assert len(factoid["answers"]) == qa.predictor.settings["top_k"]


@pytest.mark.parametrize(("name", "record", "message"), [
    ("ner", {"id": "s1"}, r"^record 's1': give one of 'text' \(raw text\) or 'tokens'"),
    ("ner", {"tokens": ["a", " "]}, r"^record 0: 'tokens' must be a list of non-empty strings"),
    ("re", "aspirin and asthma .", r"^record 0: no entity mask"),
    ("qa", "what?", r"^record 0: expected an object with 'question' and 'contexts'"),
    ("yesno", {"id": 7, "question": "q"}, r"^record 7: 'context' must be a non-empty string"),
])
def test_a_bad_record_names_its_id_or_position(name: str, record: Any, message: str,
                                               models: dict[str, biotune.Model]) -> None:
    with pytest.raises(BiotuneError, match=message):
        models[name].predict([record])


def test_texts_stand_for_records_where_the_task_reads_text(models: dict[str, biotune.Model]) -> None:
    [entities] = models["ner"].predict(["Aspirin and tremor."])
    assert entities["tokens"] == ["Aspirin", "and", "tremor", "."] and "sentence_id" not in entities
    [relation] = models["re"].predict(["@CHEMICAL$ and @DISEASE$ ."])
    assert set(relation) == {"text", "label", "scores"} and list(relation["scores"]) == list(TOY_LABELS)
    with pytest.raises(BiotuneError, match=r"predict takes a list of records; for one, write predict\(\[record\]\)"):
        models["ner"].predict("Aspirin and tremor.")


def test_ner_records_keep_their_document_and_a_chunk_never_cuts_one(models: dict[str, biotune.Model]) -> None:
    records = [{"id": f"s{k}", "tokens": ["aspirin", "and", "tremor"], "document": k // 3} for k in range(7)]
    out = models["ner"].predict(records)
    assert [r["document"] for r in out] == [r["document"] for r in records]
    chunks = list(get_task("ner").prediction_chunks(records, 2))
    assert [[r["id"] for r in chunk] for chunk in chunks] == [["s0", "s1", "s2"], ["s3", "s4", "s5"], ["s6"]]


@pytest.mark.parametrize("name", ["ner", "re", "qa", "yesno"])
def test_the_model_cards_biotune_snippet_runs(name: str, checkpoints: dict[str, Path],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = checkpoints[name]
    settings = json.loads((folder / "config.json").read_text(encoding="utf-8"))["biotune"]
    usage = get_task(name).card_usage(str(folder), settings)
    [snippet] = [block for block in usage.split("```python\n")[1:] if "biotune.load(" in block]
    exec(snippet.split("```")[0], {})
    assert capsys.readouterr().out.strip()


def test_import_biotune_loads_no_model_code() -> None:
    code = ("import sys, biotune; heavy = [m for m in ('torch', 'transformers', 'biotune.api') if m in sys.modules]; "
            "print(heavy, callable(biotune.load), 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "True", "False"]


def test_train_takes_a_path_or_a_config_with_dotted_or_double_underscore_overrides(
        tmp_path: Path, word_backbone: Path, toy_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import biotune.experiments.run as run

    seen: list[Any] = []
    monkeypatch.setattr(run, "train", lambda config, overwrite=False: seen.append((config, overwrite)) or "result")
    path = tmp_path / "toy.yaml"
    path.write_text(f"model: {{backbone: {word_backbone}, max_length: 32}}\ndata: {{corpus: {toy_corpus}}}\n"
                    "training: {epochs: 2, seed: 1}\n", encoding="utf-8")
    assert biotune.train(path, {"training.epochs": 1}, training__seed=5, data__dev=None, overwrite=True) == "result"
    config, overwrite = seen[-1]
    assert (config.name, config.training.epochs, config.training.seed, config.data.dev, overwrite) == \
           ("toy", 1.0, 5, None, True)
    biotune.train(config, sources=[{"name": "gold", "split": "train"}], sources__0__weight=0.5)
    assert seen[-1][0].sources[0].weight == 0.5 and seen[-1][0].training.seed == 5
    with pytest.raises(BiotuneError, match=r"unknown key 'training.sed'.*did you mean"):
        biotune.train(path, training__sed=3)


def test_train_load_predict_evaluate_end_to_end(tmp_path: Path, word_backbone: Path, toy_corpus: Path) -> None:
    """The README's Python section, on the toy corpus."""
    path = tmp_path / "toy.yaml"
    path.write_text(f"model: {{backbone: {word_backbone}, max_length: 32, dropout: 0.1}}\n"
                    f"data: {{corpus: {toy_corpus}}}\n"
                    "training: {epochs: 2, learning_rate: 5.0e-3, batch_size: 8, warmup: 0.0, bf16: false}\n",
                    encoding="utf-8")
    result = biotune.train(path, output_dir=str(tmp_path / "outputs"), training__seed=3)
    model = biotune.load(result.paths.best_model)
    assert model.task == "ner"
    [record] = model.predict(["The patient developed acute bleeding after heparin."])
    assert record["tokens"][-1] == "." and all(p["type"] in ("Chemical", "Disease") for p in record["predictions"])
    results = biotune.evaluate(result.paths.best_model, tests=[str(toy_corpus / "test.tsv")])
    assert results["test"].headline == result.results["test"].headline


@pytest.mark.parametrize("name", list(CASES))
def test_every_tasks_model_goes_to_the_tag_job_through_its_document_stage_or_is_refused_naming_it(
        name: str, checkpoints: dict[str, Path], models: dict[str, biotune.Model], tmp_path: Path) -> None:
    """The tag job calls only the contract (`Task.document_stage`): a model that adds to documents tags a
    corpus (NER: the same entities as its predictor's records; multilabel: a one-sentence document's labels
    are its record's, scored as there), any other is refused naming its folder."""
    from biotune.serving.tag_job import TagSettings, run_tag
    from biotune.tasks.stages import DocumentStage

    texts = ["The patient developed acute bleeding after heparin.", "Cisplatin and severe nephrotoxicity."]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    job = TagSettings(input=tmp_path / "in.txt", output_dir=tmp_path / "out", checkpoints=(checkpoints[name],),
                      precision="fp32")
    task, model = get_task(name), models[name]
    try:
        stage = task.document_stage(model.predictor, str(checkpoints[name]))
    except BiotuneError as error:  # a relation model trained on pre-masked sentences has no pairs to relate
        assert str(checkpoints[name]) in str(error)
        with pytest.raises(BiotuneError, match="records no entity-type pairs"):
            run_tag(job)
        return
    if stage is None:
        with pytest.raises(BiotuneError, match=rf"checkpoint .*{name} is a {name} model, which annotates no documents"):
            run_tag(job)
        assert not job.output_dir.exists()
        return
    assert isinstance(stage, DocumentStage) and not stage.needs, "a model tagged on its own needs nothing before it"
    assert run_tag(job).documents == 2
    written = [json.loads(line) for line in next((tmp_path / "out").glob("*.jsonl")).read_text().splitlines()]
    assert stage.provides in ("entities", "labels"), f"compare the {stage.provides} a {name} model adds here"
    if stage.provides == "labels":
        labels = [doc.get("labels", {}) for doc in written]
        assert close(labels, [{label: r["scores"][label] for label in r["labels"]} for r in model.predict(texts)])
        assert all(doc["entities"] == [] for doc in written)
        return
    entities = [[(a["start_char"], a["end_char"], a["type"]) for a in doc["entities"]] for doc in written]
    predicted = [[(e["start_char"], e["end_char"], e["type"]) for e in r["predictions"]] for r in model.predict(texts)]
    assert entities == predicted
