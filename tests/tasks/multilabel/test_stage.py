"""The multilabel task as a stage of the tag job (`stage.DocumentLabelStage`): a document's labels are the
union of its sentences' predicted labels, each at its highest score (BLURB's abstract rule), written by
`biotune tag` alone or beside NER, kept through BioC, and refused by a format with no place for them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from biotune.cli import app
from biotune.formats.bioc_io import read_bioc_xml
from biotune.formats.text import split_sentences
from biotune.tasks import get_task
from biotune.tasks.multilabel.predict import MultiLabelPredictor
from tests.tasks.test_prediction_contract import tiny_checkpoint

runner = CliRunner()
TASK = get_task("multilabel")

DOCUMENTS = [
    {"id": "d1", "text": "Aspirin and severe tremor was given. The patient developed acute bleeding after heparin. "
                         "Lithium and asthma."},
    {"id": "d2", "title": "Cisplatin and nephrotoxicity.",
     "abstract": "The patient was given warfarin. Severe seizures developed after naloxone."},
    {"id": "d3", "text": "Heparin and hypotension. Tremor after lithium. The patient was given aspirin."},
    {"id": "d4", "text": "Treatment with naloxone."},
]


def sentences(record: dict[str, Any]) -> list[str]:
    """The record's sentences, passage by passage, cut by the splitter the NER path uses."""
    passages = [record["text"]] if "text" in record else [record["title"], record["abstract"]]
    return [text[start:end] for text in passages for start, end in split_sentences(text)]


def predictor(folder: Path) -> MultiLabelPredictor:
    return TASK.predictor(TASK.load(folder), precision="fp32", batch_size=32)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> Path:
    """A random multilabel model (labels a, b) whose recorded threshold is the median of label a's probability
    over the test's sentences: about half the sentences have label a, so documents differ."""
    folder = tiny_checkpoint("multilabel", word_backbone, tmp_path_factory.mktemp("multilabel_stage") / "model")
    texts = [text for record in DOCUMENTS for text in sentences(record)]
    ranked = sorted(predictor(folder).probabilities(texts)[:, 0])
    middle = len(ranked) // 2
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["biotune"]["threshold"] = (ranked[middle - 1] + ranked[middle]) / 2
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def expected_labels(folder: Path) -> list[dict[str, float]]:
    """Per document: the union of the labels the predictor gives its sentences one by one, each at its maximum."""
    model = predictor(folder)
    out = []
    for record in DOCUMENTS:
        found: dict[str, float] = {}
        for prediction in model.predict(sentences(record)):
            for label in prediction.labels:
                found[label] = max(found.get(label, 0.0), prediction.scores[label])
        out.append({label: found[label] for label in model.labels if label in found})
    return out


def tag(tmp_path: Path, *checkpoints: Path, output_format: str = "jsonl") -> Any:
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in DOCUMENTS), encoding="utf-8")
    options = [option for folder in checkpoints for option in ("--checkpoint", str(folder))]
    return runner.invoke(app, ["tag", *options, "--input", str(source), "--output-dir", str(tmp_path / "out"),
                               "--output-format", output_format, "--precision", "fp32"], env={"COLUMNS": "1000"})


def written(tmp_path: Path) -> list[dict[str, Any]]:
    [shard] = (tmp_path / "out").glob("*.jsonl")
    return [json.loads(line) for line in shard.read_text(encoding="utf-8").splitlines()]


def same(found: list[dict[str, float]], expected: list[dict[str, float]]) -> bool:
    """The same labels in the same order, scores equal to 1e-5 (batch composition may move a float's last digits)."""
    return [list(labels) for labels in found] == [list(labels) for labels in expected] and all(
        math.isclose(a[label], b[label], abs_tol=1e-5) for a, b in zip(found, expected) for label in a)


def test_the_test_documents_tell_a_union_from_one_sentence(checkpoint: Path) -> None:
    """What the tests below rely on: labelled and unlabelled documents, and a document whose label some but
    not all of its sentences have (so the union, not one sentence's labels, decides)."""
    model, expected = predictor(checkpoint), expected_labels(checkpoint)
    assert model.threshold == pytest.approx(json.loads((checkpoint / "config.json").read_text())["biotune"]["threshold"])
    assert {} in expected and any(expected)
    per_sentence = [[set(p.labels) for p in model.predict(sentences(record))] for record in DOCUMENTS]
    assert any(len({frozenset(s) for s in labels}) > 1 for labels in per_sentence)


def test_tag_writes_each_documents_labels_as_the_union_of_its_sentences(checkpoint: Path, tmp_path: Path) -> None:
    result = tag(tmp_path, checkpoint)
    assert result.exit_code == 0, result.output
    documents, expected = written(tmp_path), expected_labels(checkpoint)
    assert [doc["id"] for doc in documents] == ["d1", "d2", "d3", "d4"]
    assert same([doc.get("labels", {}) for doc in documents], expected)
    assert all(doc["entities"] == [] for doc in documents)
    counts = json.loads((tmp_path / "out" / "tag_manifest.json").read_text())["annotations"]
    assert counts == {"documents_labelled": sum(map(bool, expected)), "documents_unlabelled": expected.count({}),
                      "label:a": sum("a" in labels for labels in expected),
                      "label:b": sum("b" in labels for labels in expected)}


def test_ner_and_multilabel_together_give_entities_and_labels(checkpoint: Path, word_backbone: Path,
                                                              tmp_path: Path) -> None:
    """Labels first on the command line: the entity stage after them must keep them."""
    ner = tiny_checkpoint("ner", word_backbone, tmp_path / "ner")
    alone = tmp_path / "alone"
    alone.mkdir()
    assert tag(alone, ner).exit_code == 0
    result = tag(tmp_path, checkpoint, ner)
    assert result.exit_code == 0, result.output
    documents = written(tmp_path)
    assert same([doc.get("labels", {}) for doc in documents], expected_labels(checkpoint))
    assert [doc["entities"] for doc in documents] == [doc["entities"] for doc in written(alone)]
    assert any(doc["entities"] for doc in documents)


def test_bioc_output_reads_back_with_the_labels(checkpoint: Path, tmp_path: Path) -> None:
    result = tag(tmp_path, checkpoint, output_format="bioc-xml")
    assert result.exit_code == 0, result.output
    [shard] = (tmp_path / "out").glob("*.xml")
    documents = read_bioc_xml(shard)
    assert [doc.id for doc in documents] == ["d1", "d2", "d3", "d4"]
    assert same([doc.labels for doc in documents], expected_labels(checkpoint))  # type: ignore[arg-type]


@pytest.mark.parametrize(("output_format", "name"), [("pubtator", "PubTator"), ("brat", "brat"), ("conll", "CoNLL")])
def test_a_format_without_labels_is_refused_in_one_line_before_anything_is_written(
        checkpoint: Path, tmp_path: Path, output_format: str, name: str) -> None:
    result = tag(tmp_path, checkpoint, output_format=output_format)
    assert result.exit_code == 2, result.output
    [line] = [line for line in result.output.splitlines() if line.strip()]
    assert line == (f"error: the labels labels of checkpoint {checkpoint} cannot be written as {output_format}: "
                    f"document 'probe' has document labels, which {name} has no place for; "
                    "write jsonl, bioc-xml or bioc-json")
    assert not (tmp_path / "out").exists()


def test_describe_gives_the_labels_and_the_recorded_threshold(checkpoint: Path) -> None:
    model = predictor(checkpoint)
    stage = TASK.document_stage(model, str(checkpoint))
    assert stage.provides == "labels" and not stage.needs
    assert stage.describe() == {"types": ["a", "b"], "threshold": model.threshold, "threshold_recorded": True}
