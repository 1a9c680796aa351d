"""QA on the task contract with a tiny random BERT: windows, merging, overfitting, save/load, batching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biotune.config import validate
from biotune.errors import BiotuneError
from biotune.models.backbones import load_tokenizer
from biotune.tasks import get_task
from biotune.tasks.qa.examples import QaExample
from biotune.tasks.qa.postprocess import context_probabilities, merge_answers, window_candidates
from biotune.tasks.qa.predict import QaPredictor
from biotune.tasks.qa.windows import cut_windows
from biotune.experiments.run import train
from tests.tasks.qa.toy import list_questions, squad_items, toy_context, write_gold, write_squad


def qa_config(backbone: Path, out: Path, train_file: Path, test: list[Path], dev: Path | None = None,
              task: str = "qa", qa: dict | None = None, **training: object):
    settings = {"epochs": 12, "learning_rate": 3e-3, "batch_size": 8, "warmup": 0.0, "seed": 7, "bf16": False,
                "logging_steps": 1000, **training}
    return validate({"task": task, "name": "toy_qa", "output_dir": str(out),
                     "model": {"backbone": str(backbone), "max_length": 24, "dropout": 0.0},
                     "data": {"corpus": "toy", "train": str(train_file), "dev": str(dev) if dev else None,
                              "test": [str(t) for t in test],
                              "allow_test_as_train": train_file in test},  # overfit tests score their train file
                     "training": settings, task: {"stride": 8, **(qa or {})}}, "test")


# ---- windows -------------------------------------------------------------------------------

def test_windows_cover_a_long_context_and_map_offsets_back(word_backbone: Path) -> None:
    tokenizer = load_tokenizer(str(word_backbone))
    context = toy_context("tremor", "aspirin", 3, 4)  # 36 words: more than one 24-subword window
    start = context.index("tremor")
    windows = cut_windows(["patient developed"], [context], tokenizer, max_length=24, stride=8,
                          answers=[[(start, start + len("tremor"))]])
    assert len(windows) > 1
    covered = sorted({span for w in windows for span in w.offsets if span is not None})
    assert [context[a:b] for a, b in covered] == context.split()  # every word read, none cut away
    holding = [w for w in windows if w.starts != (0,)]
    assert holding, "some window holds the answer"
    for w in holding:
        assert context[w.offsets[w.starts[0]][0]:w.offsets[w.ends[0]][1]] == "tremor"
    for w in windows:
        assert len(w.input_ids) <= 24


def test_an_answer_straddling_two_windows_is_a_target_of_the_one_holding_it_whole(word_backbone: Path) -> None:
    tokenizer = load_tokenizer(str(word_backbone))
    context = " ".join(["the"] * 18 + ["severe", "acute", "tremor"] + ["the"] * 10)
    start, end = context.index("severe"), context.index("tremor") + len("tremor")
    windows = cut_windows(["patient"], [context], tokenizer, max_length=24, stride=8, answers=[[(start, end)]])
    first = windows[0]
    context_words = [span for span in first.offsets if span is not None]
    assert context_words[-1][1] < end, "the first window ends inside the answer"
    assert first.starts == (0,) and first.ends == (0,)  # so it points at [CLS]
    second = windows[1]
    assert context[second.offsets[second.starts[0]][0]:second.offsets[second.ends[0]][1]] == "severe acute tremor"


def test_a_question_leaving_no_room_for_the_context_is_an_error_naming_the_item(word_backbone: Path) -> None:
    tokenizer = load_tokenizer(str(word_backbone))
    with pytest.raises(BiotuneError, match=r"item q7: the question is 20 subwords.*qa.stride 8"):
        cut_windows([" ".join(["the"] * 20)], ["the patient"], tokenizer, 24, 8, names=["q7"])


# ---- n-best and merging -----------------------------------------------------------------------

def test_window_candidates_respect_context_order_and_length(word_backbone: Path) -> None:
    import numpy as np

    tokenizer = load_tokenizer(str(word_backbone))
    context = "aspirin and heparin"
    window = cut_windows(["patient"], [context], tokenizer, 24, 8)[0]  # [CLS] patient [SEP] aspirin and heparin [SEP]
    start, end = np.full(7, -5.0), np.full(7, -5.0)
    start[1], end[1] = 9.0, 9.0  # the question token: never an answer
    start[5], end[3] = 4.0, 4.0  # (5, 3): end before start, not a span
    start[3], end[5] = 6.0, 6.0  # (3, 5) = 12 beats (3, 3) = (5, 5) = 10
    spans = window_candidates(window, start, end, n_best=3, max_answer_length=30)
    texts = [context[a:b] for a, b, _ in spans]
    assert texts[0] == "aspirin and heparin" and "patient" not in " ".join(texts)
    assert [score for *_, score in spans][:3] == [12.0, 10.0, 10.0]
    probabilities = context_probabilities(spans + [(0, 7, 2.0)])  # a second window reading "aspirin" lower: its best kept
    assert len(probabilities) == len(spans) and abs(sum(p for *_, p in probabilities) - 1.0) < 1e-9
    assert max(probabilities, key=lambda c: c[2])[:2] == (0, len(context))
    short = window_candidates(window, start, end, n_best=3, max_answer_length=1)
    assert all(len(context[a:b].split()) == 1 for a, b, _ in short)


def test_merge_adds_up_an_answer_over_snippets_and_counts_an_occurrence_once() -> None:
    contexts = ["aspirin helps", "Aspirin or heparin", "heparin"]
    read = [(0, 0, 7, 0.4), (0, 0, 7, 0.3),  # one occurrence read by two overlapping windows: counted once (0.4)
            (1, 0, 7, 0.35), (1, 11, 18, 0.5), (2, 0, 7, 0.2)]
    answers = merge_answers(contexts, read)
    assert [(a.text, round(a.score, 6)) for a in answers] == [("aspirin", 0.75), ("heparin", 0.7)]
    assert [(o.context, o.start, o.end) for o in answers[0].occurrences] == [(0, 0, 7), (1, 0, 7)]


# ---- training on the contract ---------------------------------------------------------------

@pytest.fixture(scope="module")
def factoid_run(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path):
    folder = tmp_path_factory.mktemp("qa_factoid")
    train_file = write_squad(folder / "train.json", squad_items(24, seed=1))
    config = qa_config(word_backbone, folder / "out", train_file, [train_file])
    return train(config), train_file


def test_overfit_factoid_gets_the_answers_back_with_exact_offsets(factoid_run) -> None:
    result, train_file = factoid_run
    test = result.results[train_file.stem].to_dict()
    assert test["kind"] == "factoid" and test["mrr"] == 1.0 and test["strict"] == 1.0
    predictor = QaPredictor.from_checkpoint(result.paths.best_model, precision="fp32")
    items = json.loads(train_file.read_text())["data"][0]["paragraphs"]
    questions = [("patient developed", [p["context"]]) for p in items[:6]]
    for (question, contexts), item, answers in zip(questions, items, predictor.answer(questions, top_k=3)):
        gold = item["qas"][0]["answers"][0]
        top = answers[0].occurrences[0]
        assert (top.start, top.end) == (gold["answer_start"], gold["answer_start"] + len(gold["text"]))
        assert contexts[top.context][top.start:top.end] == answers[0].text == gold["text"]


def test_an_answer_cut_by_a_window_boundary_is_read_whole_from_the_overlapping_window(factoid_run,
                                                                                       word_backbone: Path) -> None:
    result, _ = factoid_run
    predictor = QaPredictor.from_checkpoint(result.paths.best_model, precision="fp32")
    # 15 filler subwords, then "the patient developed": "acute" is context subword 18, the last of
    # the first window (24 - 3 special - 2 question = 19 context subwords), "tremor" the next.
    context = " ".join(["the patient was given treatment ."] * 2 + ["the patient was",
                                                                     "the patient developed acute tremor after aspirin ."])
    windows = cut_windows(["patient developed"], [context], predictor.bundle.tokenizer, 24, 8)
    first_end = max(span[1] for span in windows[0].offsets if span is not None)
    start = context.index("acute tremor")
    assert start < first_end < start + len("acute tremor"), "the first window cuts the answer"
    top = predictor.answer([("patient developed", [context])])[0][0]
    assert (top.text, top.occurrences[0].start, top.occurrences[0].end) == ("acute tremor", start, start + 12)


def test_save_load_gives_identical_predictions_and_batched_equals_one_at_a_time(factoid_run) -> None:
    result, train_file = factoid_run
    task = get_task("qa")
    loaded = task.predictor(task.load(result.paths.best_model), precision="fp32", batch_size=16)
    again = task.predictor(task.load(result.paths.best_model), precision="fp32", batch_size=1)
    questions = [("patient developed", [toy_context("asthma", "lithium", k % 4, 4), toy_context("tremor", "heparin", 0, 1)])
                 for k in range(5)]
    batched = loaded.answer(questions)
    single = [again.answer([q])[0] for q in questions]
    assert [[(a.text, round(a.score, 5)) for a in answers] for answers in batched] == \
           [[(a.text, round(a.score, 5)) for a in answers] for answers in single]


def test_the_run_records_the_window_settings_prediction_uses(factoid_run) -> None:
    result, _ = factoid_run
    config = json.loads((result.paths.best_model / "config.json").read_text())
    assert config["biotune"]["task"] == "qa"
    assert {k: config["biotune"][k] for k in ("max_length", "stride", "type", "top_k")} == \
           {"max_length": 24, "stride": 8, "type": "factoid", "top_k": 5}
    assert result.summary["test"][next(iter(result.summary["test"]))] == 1.0


def test_list_questions_train_from_gold_and_tune_the_threshold_on_dev(tmp_path: Path, word_backbone: Path) -> None:
    train_file = write_gold(tmp_path / "train_golden.json", list_questions(16, seed=1))
    dev_file = write_gold(tmp_path / "dev_golden.json", list_questions(6, seed=2))
    test_file = write_gold(tmp_path / "test_golden.json", list_questions(6, seed=3))
    config = qa_config(word_backbone, tmp_path / "out", train_file, [test_file], dev=dev_file, qa={"type": "list"},
                       epochs=20)
    result = train(config)
    tuned = result.summary["tuned"]
    recorded = json.loads((result.paths.best_model / "config.json").read_text())["biotune"]["list_threshold"]
    assert recorded == tuned["list_threshold"] and tuned["dev_list_f1"] > 0.8
    test = result.results["test_golden"].to_dict()
    assert test["kind"] == "list" and test["threshold"] == recorded and test["mean"]["f1"] > 0.8


def test_yesno_overfits_and_averages_long_contexts_over_windows(tmp_path: Path, word_backbone: Path) -> None:
    lines = []
    for k in range(16):
        disease = ["tremor", "asthma"][k % 2]
        label = "yes" if disease == "tremor" else "no"
        lines.append(f"question: patient developed tremor context: {toy_context(disease, 'aspirin', k % 3, 2)}\t{label}")
    path = tmp_path / "train.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = qa_config(word_backbone, tmp_path / "out", path, [path], task="yesno", epochs=20)
    result = train(config)
    test = result.results["train"].to_dict()
    assert test["kind"] == "decisions" and test["accuracy"] == 1.0
    split = get_task("yesno").read_split(str(path), config)
    predictor = get_task("yesno").predictor(get_task("yesno").load(result.paths.best_model), "fp32", 4)
    windows = cut_windows([e.question for e in split.examples], [e.context for e in split.examples],
                          predictor.bundle.tokenizer, 24, 8)
    assert len(windows) > len(split.examples)  # long contexts were read in several windows


def test_a_list_model_without_dev_needs_a_fixed_threshold(tmp_path: Path, word_backbone: Path) -> None:
    train_file = write_gold(tmp_path / "train_golden.json", list_questions(2, seed=1))
    with pytest.raises(BiotuneError, match="qa.type list needs data.dev"):
        qa_config(word_backbone, tmp_path / "out", train_file, [train_file], qa={"type": "list"})


def test_qa_section_is_refused_for_other_tasks(tmp_path: Path, word_backbone: Path) -> None:
    with pytest.raises(BiotuneError, match="qa: only task qa reads this section"):
        validate({"task": "ner", "data": {"corpus": "bc5cdr"}, "qa": {"stride": 64}}, "test")


def test_squad_pairs_keep_question_ids_for_merging(tmp_path: Path, word_backbone: Path) -> None:
    train_file = write_squad(tmp_path / "train.json", squad_items(3, seed=4))
    config = qa_config(word_backbone, tmp_path / "out", train_file, [train_file])
    split = get_task("qa").read_split(str(train_file), config)
    assert [e.question_id for e in split.examples] == ["q4x0", "q4x1", "q4x2"]
    assert all(isinstance(e, QaExample) for e in split.examples)


# ---- CLI ------------------------------------------------------------------------------------

def test_cli_predict_answers_jsonl_questions_with_offsets_and_a_bioasq_submission(factoid_run, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from biotune.cli import app

    result, train_file = factoid_run
    contexts = [toy_context("seizures", "warfarin", 1, 2), toy_context("bleeding", "aspirin", 0, 1)]
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"id": "n1", "question": "patient developed", "contexts": contexts}) + "\n")
    out = tmp_path / "answers.jsonl"
    run = CliRunner().invoke(app, ["predict", "--checkpoint", str(result.paths.best_model), "--input", str(questions),
                                   "--output", str(out), "--precision", "fp32"])
    assert run.exit_code == 0, run.output
    record = json.loads(out.read_text())
    assert record["id"] == "n1" and len(record["answers"]) == 5
    for answer in record["answers"]:
        for o in answer["occurrences"]:
            assert contexts[o["context"]][o["start"]:o["end"]].lower() == answer["text"].lower()
    assert record["answers"][0]["text"] in ("acute seizures", "acute bleeding")
    submission = tmp_path / "submission.json"
    run = CliRunner().invoke(app, ["predict", "--checkpoint", str(result.paths.best_model), "--input", str(train_file),
                                   "--output", str(submission), "--format", "bioasq", "--precision", "fp32"])
    assert run.exit_code == 0, run.output
    answers = json.loads(submission.read_text())["questions"]
    items = json.loads(train_file.read_text())["data"][0]["paragraphs"]
    assert [a["exact_answer"][0] for a in answers] == [[p["qas"][0]["answers"][0]["text"]] for p in items]


@pytest.mark.parametrize("line, message", [
    ("not json", "questions.jsonl:1: not JSON"),
    ('{"question": "patient developed", "contexts": []}', "questions.jsonl:1: 'contexts' must be a non-empty list"),
    ('{"question": " ", "contexts": ["x"]}', "questions.jsonl:1: 'question' must be a non-empty string"),
])
def test_cli_predict_bad_questions_exit_2_before_the_model_loads_and_write_nothing(
        factoid_run, tmp_path: Path, line: str, message: str) -> None:
    from typer.testing import CliRunner

    from biotune.cli import app

    result, _ = factoid_run
    questions = tmp_path / "questions.jsonl"
    questions.write_text(line + "\n")
    out = tmp_path / "answers.jsonl"
    run = CliRunner().invoke(app, ["predict", "--checkpoint", str(result.paths.best_model), "--input", str(questions),
                                   "--output", str(out)])
    assert run.exit_code == 2 and message in run.output and "Traceback" not in run.output
    assert not out.exists()


def test_multi_seed_runs_aggregate_list_results_with_counts_kept(tmp_path: Path, word_backbone: Path) -> None:
    from biotune.experiments.seeds import run_seeds

    train_file = write_gold(tmp_path / "train_golden.json", list_questions(8, seed=1))
    dev_file = write_gold(tmp_path / "dev_golden.json", list_questions(4, seed=2))
    config = qa_config(word_backbone, tmp_path / "out", train_file, [dev_file], dev=dev_file, qa={"type": "list"},
                       epochs=2)
    config = validate({**config.model_dump(mode="json"), "data": {**config.data.model_dump(mode="json"),
                                                                  "allow_test_as_dev": True}}, "test")
    outcome = run_seeds(config, [1, 2])
    test = outcome.aggregated["test_sets"]["dev_golden"]
    assert outcome.trained == [1, 2] and test["headline_key"] == "mean.f1"
    assert test["n_questions"] == 4  # a count of the test set, kept as it is
    per_seed = [json.loads((outcome.results_dir / f"seed_{s}" / "eval_dev_golden.json").read_text())["dev_golden"]
                for s in (1, 2)]
    assert test["mean"]["f1"]["values"] == {"1": per_seed[0]["mean"]["f1"], "2": per_seed[1]["mean"]["f1"]}
    assert test["threshold"]["values"] == {"1": per_seed[0]["threshold"], "2": per_seed[1]["threshold"]}
