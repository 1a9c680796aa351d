"""The task-free prediction job (`biotune predict`): streaming in chunks, order, atomic output, and the
output and format checks made before a model loads. Run with the toy NER model; every task goes
through the same job (tests/tasks/test_prediction_contract.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from biotune.errors import BiotuneError
from biotune.serving.predict_job import load_predictor, plan_prediction, resolve_format, run_prediction
from biotune.tasks import get_task

NER = get_task("ner")


@pytest.fixture(scope="module")
def tagger(trained_run) -> Any:
    task, predictor = load_predictor(trained_run.paths.best_model, precision="fp32")
    assert task is NER
    return predictor


def predict(tagger: Any, source: Path, out: Path, overwrite: bool = False, **options: Any) -> int:
    return run_prediction(plan_prediction(NER, source, out, overwrite=overwrite), tagger, **options)


def test_streams_in_chunks_and_keeps_order(tagger: Any, tmp_path: Path) -> None:
    src = tmp_path / "many.txt"
    src.write_text("".join(f"sentence {i} with heparin .\n" for i in range(50)))
    ticks: list[int] = []
    n = predict(tagger, src, tmp_path / "out.jsonl", chunk_size=7, on_progress=ticks.append)
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert n == 50 and ticks == [7] * 7 + [1]
    assert [o["tokens"][1] for o in out] == [str(i) for i in range(50)]


def test_the_plan_reads_and_counts_the_whole_input_before_any_model(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"tokens": ["a", "b"]}\n' * 5 + "{not json\n")
    with pytest.raises(BiotuneError, match=r"bad.jsonl:6: invalid JSON"):
        plan_prediction(NER, src, tmp_path / "out.jsonl")
    src.write_text('{"tokens": ["a", "b"]}\n' * 5)
    plan = plan_prediction(NER, src, tmp_path / "out.jsonl")
    assert (plan.records, plan.input_format, plan.output_format) == (5, None, "jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_a_failure_while_predicting_leaves_no_output_and_no_temporary(tagger: Any, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("Aspirin and severe tremor.\n" * 6)
    out.write_text("previous results\n")
    calls = []

    def failing(predictor: Any, records: Any) -> list[dict[str, Any]]:
        calls.append(len(records))
        if len(calls) == 2:
            raise BiotuneError("the second chunk fails")
        return type(NER).predict_records(NER, predictor, records)

    monkeypatch.setattr(NER, "predict_records", failing)
    with pytest.raises(BiotuneError, match="the second chunk fails"):
        predict(tagger, src, out, overwrite=True, chunk_size=2)
    assert out.read_text() == "previous results\n" and calls == [2, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.jsonl"]


def test_an_empty_input_is_refused_and_an_existing_output_survives(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("previous results\n")
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(BiotuneError, match="empty.txt contains no sentences"):
        plan_prediction(NER, tmp_path / "empty.txt", out, overwrite=True)
    assert out.read_text() == "previous results\n"


@pytest.mark.parametrize("alias", ["same", "relative", "symlink", "hardlink"])
def test_output_that_is_the_input_is_refused_and_the_input_survives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   alias: str) -> None:
    src = tmp_path / "in.txt"
    src.write_text("Aspirin and severe tremor.\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out = {"same": src, "relative": Path("in.txt"), "symlink": tmp_path / "link.txt",
           "hardlink": tmp_path / "hard.txt"}[alias]
    if alias == "symlink":
        out.symlink_to(src)
    elif alias == "hardlink":
        out.hardlink_to(src)
    with pytest.raises(BiotuneError, match="is the input"):
        plan_prediction(NER, src, out, overwrite=True)
    assert src.read_text(encoding="utf-8") == "Aspirin and severe tremor.\n"


def test_existing_output_is_replaced_only_with_overwrite(tagger: Any, tmp_path: Path) -> None:
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("Aspirin and severe tremor.\n", encoding="utf-8")
    out.write_text("previous results\n")
    with pytest.raises(BiotuneError, match=r"output .*out.jsonl already exists; pass --overwrite"):
        predict(tagger, src, out)
    assert out.read_text() == "previous results\n"
    assert predict(tagger, src, out, overwrite=True) == 1
    assert json.loads(out.read_text())["tokens"] == ["Aspirin", "and", "severe", "tremor", "."]


def test_an_input_or_output_that_is_no_file_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("Aspirin.\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match="is a folder"):
        plan_prediction(NER, src, tmp_path, overwrite=True)
    with pytest.raises(BiotuneError, match=r"in.txt is a file, not a folder"):
        plan_prediction(NER, src, src / "sub" / "out.jsonl")
    with pytest.raises(BiotuneError, match=r"^input file .*missing.txt not found$"):
        plan_prediction(NER, tmp_path / "missing.txt", tmp_path / "out.jsonl")
    with pytest.raises(BiotuneError, match=r"^input file .* is a folder, not a file$"):
        plan_prediction(get_task("re"), tmp_path, tmp_path.parent / "out.jsonl")  # RE reads files only
    with pytest.raises(BiotuneError, match=r"is a folder, not a file"):
        plan_prediction(NER, tmp_path, tmp_path.parent / "out.jsonl")  # NER reads a folder only as brat


def test_a_brat_folder_is_predicted_as_one_input(tagger: Any, tmp_path: Path) -> None:
    brat = tmp_path / "brat"
    brat.mkdir()
    (brat / "d1.txt").write_text("Aspirin and severe tremor.\nHeparin helps.\n", encoding="utf-8")
    (brat / "d1.ann").write_text("T1\tChemical 0 7\tAspirin\n", encoding="utf-8")
    (brat / "d2.txt").write_text("Tremor again.\n", encoding="utf-8")
    (brat / "d2.ann").write_text("", encoding="utf-8")
    with pytest.raises(BiotuneError, match=r"lies inside the input folder"):
        plan_prediction(NER, brat, brat / "out.jsonl")
    plan = plan_prediction(NER, brat, tmp_path / "out.jsonl")
    assert (plan.records, plan.input_format) == (3, None)
    assert run_prediction(plan, tagger) == 3
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(o["sentence_id"], o["document"], o["offset"], o["text"]) for o in out] == [
        ("d1:0", "d1", 0, "Aspirin and severe tremor."), ("d1:27", "d1", 27, "Heparin helps."),
        ("d2:0", "d2", 0, "Tremor again.")]
    assert all(isinstance(o["predictions"], list) for o in out)
    assert sorted(p.name for p in brat.iterdir()) == ["d1.ann", "d1.txt", "d2.ann", "d2.txt"]  # inputs untouched


@pytest.mark.parametrize(("task", "format", "expected"), [
    ("ner", None, (None, "jsonl")),
    ("ner", "tsv", ("tsv", "jsonl")),
    ("ner", "jsonl", ("jsonl", "jsonl")),  # an input format first: NER's JSONL input
    ("re", "jsonl", (None, "jsonl")),  # not an input of RE: its output
    ("qa", "bioasq", (None, "bioasq")),
    ("qa", None, (None, "jsonl")),
])
def test_format_is_an_input_format_first_then_an_output_format(task: str, format: str | None,
                                                               expected: tuple[str | None, str]) -> None:
    assert resolve_format(get_task(task), format) == expected


def test_an_unknown_format_names_the_option_and_what_the_task_has() -> None:
    with pytest.raises(BiotuneError, match=r"^--format 'xml': a re model reads tsv and writes jsonl$"):
        resolve_format(get_task("re"), "xml", option="--format")


def test_chunk_size_below_one_is_refused(tagger: Any, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("Aspirin.\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match="chunk size must be at least 1, got 0"):
        predict(tagger, src, tmp_path / "out.jsonl", chunk_size=0)
