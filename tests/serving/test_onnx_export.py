"""ONNX export of every kind of head, checked against PyTorch, on tiny models built here (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from biotune.cli import app
from biotune.errors import BiotuneError
from biotune.serving.onnx_export import INT8_FILE, MODEL_FILE, REPORT_FILE, export_onnx, onnx_session

LABELS = ["0", "CPR:3", "CPR:4"]


@pytest.fixture(scope="module")
def ner_folder(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> Path:
    from transformers import AutoTokenizer

    from biotune.tasks.ner.factory import build_model, save_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ner_model")
    save_model(build_model(str(word_backbone), ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]), folder)
    AutoTokenizer.from_pretrained(word_backbone).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def relation_folder(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> Path:
    from biotune.tasks.re.heads import build_relation_model, save_relation_model
    from biotune.tasks.re.markers import MarkerScheme

    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("re_model")
    save_relation_model(build_relation_model(str(word_backbone), "entity_start", LABELS,
                                             MarkerScheme(("CHEMICAL", "GENE"))), folder)
    return folder


@pytest.fixture(scope="module")
def multilabel_folder(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> Path:
    from biotune.tasks.multilabel.model import build_model, save_model

    torch.manual_seed(2)
    folder = tmp_path_factory.mktemp("multilabel_model")
    save_model(build_model(str(word_backbone), "sigmoid", ["a", "b", "c"], 0.1), folder)
    return folder


@pytest.fixture(scope="module")
def mean_folder(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> Path:
    from biotune.tasks.qa.models import build_qa_model, save_qa_model

    torch.manual_seed(4)
    folder = tmp_path_factory.mktemp("yesno_mean_model")
    bundle = build_qa_model("yesno", str(word_backbone), "mean", ["yes", "no", "maybe"], 0.1)
    with torch.no_grad():
        bundle.model.classifier.weight.mul_(50)  # logits far enough apart that the argmax says something
    save_qa_model(bundle, folder)
    return folder


@pytest.fixture(scope="module")
def biencoder_folder(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> Path:
    from biotune.tasks.similarity.model import build_similarity_model, save_similarity_model

    torch.manual_seed(3)
    folder = tmp_path_factory.mktemp("biencoder_model")
    save_similarity_model(build_similarity_model(str(word_backbone), "biencoder", 0.1, 0.0, [0.4, 3.6]), folder)
    return folder


def test_ner_export_agrees_with_torch_and_tags_the_same(ner_folder: Path, tmp_path: Path) -> None:
    """A tiny tagger: every real token's tag agrees, fp32 logits within float error, int8 further off."""
    from transformers import AutoTokenizer

    from biotune.tasks.ner.factory import load_model

    best = ner_folder
    done = export_onnx(best, tmp_path / "onnx", int8=True)
    assert done.task == "ner"
    fp32, int8 = done.checks[MODEL_FILE], done.checks[INT8_FILE]
    assert [c.output for c in fp32] == ["logits"]
    assert fp32[0].agreement == 1.0 and fp32[0].max_abs_diff < 1e-4
    assert fp32[0].decisions > 6  # every real token of the sample, padding excluded
    assert int8[0].decisions == fp32[0].decisions and int8[0].max_abs_diff > fp32[0].max_abs_diff
    report = json.loads(done.report.read_text())
    assert report["checks"][MODEL_FILE][0]["agreement"] == 1.0 and report["task"] == "ner"
    config = json.loads((done.folder / "config.json").read_text())
    assert config["id2label"] == json.loads((best / "config.json").read_text())["id2label"]

    tokenizer = AutoTokenizer.from_pretrained(done.folder)  # the folder is self-describing
    encoded = tokenizer(["the patient developed acute tremor after lithium ."], return_tensors="np")
    session = onnx_session(done.folder / MODEL_FILE)
    names = [i.name for i in session.get_inputs()]
    logits = session.run(None, {name: encoded[name] for name in names})[0]
    with torch.inference_mode():
        expected = load_model(best)(**{name: torch.from_numpy(encoded[name]) for name in names}).logits.numpy()
    assert (logits.argmax(-1) == expected.argmax(-1)).all()
    assert np.abs(logits - expected).max() < 1e-4


def test_relation_entity_start_head_exports_its_marker_positions(relation_folder: Path, tmp_path: Path) -> None:
    done = export_onnx(relation_folder, tmp_path / "re")
    session = onnx_session(done.folder / MODEL_FILE)
    assert [i.name for i in session.get_inputs()][-1] == "entity_starts"
    (check,) = done.checks[MODEL_FILE]
    assert (check.decisions, check.agreement) == (6, 1.0)  # one decision per sample input
    assert check.max_abs_diff < 1e-4
    assert json.loads((done.folder / "config.json").read_text())["biotune"]["markers"]["types"] == ["CHEMICAL", "GENE"]


def test_multilabel_decisions_are_sign_per_label(multilabel_folder: Path, tmp_path: Path) -> None:
    sample = tmp_path / "sample.txt"
    sample.write_text("aspirin and tremor\n\nthe patient was given heparin .\nlithium\n", encoding="utf-8")
    done = export_onnx(multilabel_folder, tmp_path / "ml", sample=sample)
    (check,) = done.checks[MODEL_FILE]
    assert (check.decisions, check.agreement) == (3 * 3, 1.0)  # 3 inputs x 3 labels
    assert json.loads(done.report.read_text())["sample_inputs"] == 3


def test_the_mean_head_exports_and_pools_over_the_real_tokens_of_a_padded_batch(mean_folder: Path,
                                                                               tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from biotune.tasks import get_task

    done = export_onnx(mean_folder, tmp_path / "mean")
    assert done.task == "yesno"
    (check,) = done.checks[MODEL_FILE]
    assert (check.output, check.decisions, check.agreement) == ("logits", 6, 1.0) and check.max_abs_diff < 1e-4
    assert json.loads((done.folder / "config.json").read_text())["biotune"]["head"] == "mean"
    tokenizer = AutoTokenizer.from_pretrained(done.folder)
    encoded = tokenizer(["patient developed tremor", "aspirin"], ["the patient developed acute tremor after lithium .",
                                                                  "heparin"], padding=True, return_tensors="np")
    logits = onnx_session(done.folder / MODEL_FILE).run(None, dict(encoded))[0]  # (2, 3)
    with torch.inference_mode():
        model = get_task("yesno").load(mean_folder).model
        expected = model(**{name: torch.from_numpy(value) for name, value in encoded.items()}).logits.numpy()
        alone = model(**{name: torch.from_numpy(value[1:, :5]) for name, value in encoded.items()}).logits.numpy()
    assert logits.shape == (2, 3) and np.abs(logits - expected).max() < 1e-4
    assert np.abs(logits[1:] - alone).max() < 1e-4  # the second pair unpadded: its 5 subwords alone


def test_the_similarity_biencoder_reads_two_sentences_each_of_its_own_length(biencoder_folder: Path,
                                                                             tmp_path: Path) -> None:
    """The second sentence's inputs (`*_2`) are inputs of their own, with a length of their own."""
    from transformers import AutoTokenizer

    from biotune.tasks import get_task

    done = export_onnx(biencoder_folder, tmp_path / "biencoder")
    (check,) = done.checks[MODEL_FILE]
    assert (check.output, check.decisions, check.agreement) == ("logits", 0, None) and check.max_abs_diff < 1e-4
    session = onnx_session(done.folder / MODEL_FILE)
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask", "token_type_ids", "input_ids_2",
                                                      "attention_mask_2", "token_type_ids_2"]
    tokenizer = AutoTokenizer.from_pretrained(done.folder)
    first = tokenizer(["the patient developed acute tremor after lithium .", "aspirin"], padding=True, return_tensors="np")
    second = tokenizer(["heparin", "asthma and tremor"], padding=True, return_tensors="np")  # shorter than the first
    feed = {**{name: first[name] for name in first}, **{f"{name}_2": second[name] for name in second}}
    scores = session.run(None, feed)[0]  # (2, 1)
    with torch.inference_mode():
        expected = get_task("similarity").load(biencoder_folder).model(
            **{name: torch.from_numpy(value) for name, value in feed.items()}).logits.numpy()
    assert scores.shape == (2, 1) and np.abs(scores - expected).max() < 1e-4


def test_bad_input_is_one_line(word_backbone: Path, relation_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(BiotuneError, match=r"checkpoint .* has no weights file|is not a biotune"):
        export_onnx(word_backbone, tmp_path / "x")  # a bare backbone: not a model of any task
    (tmp_path / "taken").mkdir()
    with pytest.raises(BiotuneError, match=r"^--out .*taken exists; pass --overwrite"):
        export_onnx(relation_folder, tmp_path / "taken")
    one = tmp_path / "one.txt"
    one.write_text("aspirin\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match=r"^--sample .*one.txt: needs at least 2 non-blank lines"):
        export_onnx(relation_folder, tmp_path / "y", sample=one)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    before = sorted(p.name for p in relation_folder.iterdir())
    for inside in (relation_folder, relation_folder / "onnx", relation_folder.parent):  # even with --overwrite
        with pytest.raises(BiotuneError, match=r"^--out .* is, holds or lies inside the input .*; writing it would destroy the input"):
            export_onnx(relation_folder, inside, overwrite=True)
    assert sorted(p.name for p in relation_folder.iterdir()) == before and not (relation_folder / "onnx").exists()


def test_cli_export_prints_the_check_and_refuses_other_formats(relation_folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["export", str(relation_folder), "--format", "onnx", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / REPORT_FILE).is_file() and "100.00%" in result.output
    result = runner.invoke(app, ["export", str(relation_folder), "--format", "tflite", "--out", str(tmp_path / "t")])
    assert result.exit_code == 2 and "--format" in result.output and "Traceback" not in result.output
