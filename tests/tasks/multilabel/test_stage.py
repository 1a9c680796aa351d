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
from biotune.formats.documents import Document, Passage
from biotune.formats.text import split_sentences
from biotune.tasks import get_task
from biotune.tasks.multilabel.predict import LabelPrediction, MultiLabelPredictor
from biotune.tasks.multilabel.stage import DocumentLabelStage
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
    """A random multilabel model (labels a, b) whose recorded threshold lets exactly the three sentences with
    the highest probability of a have it: four documents of ten sentences, so some document has no label."""
    folder = tiny_checkpoint("multilabel", word_backbone, tmp_path_factory.mktemp("multilabel_stage") / "model")
    ranked = sorted(predictor(folder).probabilities(all_sentences()).max(axis=1), reverse=True)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["biotune"]["threshold"] = (ranked[2] + ranked[3]) / 2
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def all_sentences() -> list[str]:
    return [text for record in DOCUMENTS for text in sentences(record)]


def per_sentence(folder: Path) -> list[list[LabelPrediction]]:
    """Per document, the predictor's predictions of its sentences, all sentences predicted in one call as the
    stage does (the same batches: the random model's probabilities differ only in their fifth digit)."""
    predictions = iter(predictor(folder).predict(all_sentences()))
    return [[next(predictions) for _ in sentences(record)] for record in DOCUMENTS]


def expected_labels(folder: Path) -> list[dict[str, float]]:
    """Per document: the union of the labels the predictor gives its sentences, each at its maximum."""
    out = []
    for predictions in per_sentence(folder):
        found: dict[str, float] = {}
        for prediction in predictions:
            for label in prediction.labels:
                found[label] = max(found.get(label, 0.0), prediction.scores[label])
        out.append({label: found[label] for label in ("a", "b") if label in found})
    return out


def tag(tmp_path: Path, *checkpoints: Path, output_format: str = "jsonl", link: Path | None = None) -> Any:
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in DOCUMENTS), encoding="utf-8")
    options = [option for folder in checkpoints for option in ("--checkpoint", str(folder))]
    options += ["--link", str(link)] if link is not None else []
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
    expected = expected_labels(checkpoint)
    assert {} in expected and any(expected)
    assert sum(len(p.labels) for predictions in per_sentence(checkpoint) for p in predictions) == 3
    assert any(len({p.labels for p in predictions}) > 1 for predictions in per_sentence(checkpoint))


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
    """Labels first on the command line: the entity and linking stages after them rebuild each document
    and must keep its labels."""
    ner = tiny_checkpoint("ner", word_backbone, tmp_path / "ner")
    terms = tmp_path / "terms.tsv"
    terms.write_text("heparin\tD006493\naspirin\tD001241\n", encoding="utf-8")
    alone = tmp_path / "alone"
    alone.mkdir()
    assert tag(alone, ner, link=terms).exit_code == 0
    result = tag(tmp_path, checkpoint, ner, link=terms)
    assert result.exit_code == 0, result.output
    documents = written(tmp_path)
    assert same([doc.get("labels", {}) for doc in documents], expected_labels(checkpoint))
    assert [doc["entities"] for doc in documents] == [doc["entities"] for doc in written(alone)]
    assert any(doc["entities"] for doc in documents)
    assert all("link_stage" in entity for doc in documents for entity in doc["entities"])


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
    [line] = [line for line in result.output.splitlines() if line.startswith("error:")]  # after the model's loading
    assert result.output.strip().splitlines()[-1] == line
    assert line.startswith(f"error: what checkpoint {checkpoint} adds (labels) cannot be written as") and line.endswith(
        f" cannot be written as {output_format}: document 'probe' has document labels, which {name} has no place "
        "for; write jsonl, bioc-xml or bioc-json")
    assert not (tmp_path / "out").exists()


class CuePredictor:
    """A stand-in predictor whose scores a test chooses: a sentence scores each label by the number after
    its cue word (``a0.75`` scores a 0.75), labels reaching `threshold` are predicted. It records the texts
    it was given, to show the stage asks for every sentence of every document in one call."""

    labels = ("a", "b")
    threshold = recorded_threshold = 0.5

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def predict(self, texts: list[str]) -> list[LabelPrediction]:
        self.calls.append(list(texts))
        out = []
        for text in texts:
            scores = {label: 0.0 for label in self.labels}
            scores |= {word[0]: float(word[1:].rstrip(".")) for word in text.split() if word[0] in scores}
            out.append(LabelPrediction(tuple(label for label in self.labels if scores[label] >= self.threshold),
                                       scores))
        return out


def test_a_document_has_every_label_of_a_sentence_at_its_highest_score() -> None:
    documents = [
        Document("mixed", [Passage("title", "Nothing here."),
                           Passage("abstract", "Then b0.9 a0.2. And a0.6 b0.7.", 14)]),
        Document("none", [Passage("text", "Low a0.4. Lower b0.1.")], labels={"gold": None}),
        Document("empty", [Passage("text", " ")]),
        Document("one", [Passage("text", "Only b0.5 here.")]),
    ]
    cues = CuePredictor()
    stage = DocumentLabelStage(cues)  # type: ignore[arg-type]
    labelled = stage.annotate(documents)
    assert [doc.labels for doc in labelled] == [{"a": 0.6, "b": 0.9}, {}, {}, {"b": 0.5}]
    assert list(labelled[0].labels) == ["a", "b"]  # in the model's label order, whichever sentence came first
    assert [doc.passages for doc in labelled] == [doc.passages for doc in documents]
    assert cues.calls == [["Nothing here.", "Then b0.9 a0.2.", "And a0.6 b0.7.", "Low a0.4.", "Lower b0.1.",
                           "Only b0.5 here."]]
    assert stage.counts() == {"documents_labelled": 2, "documents_unlabelled": 2, "label:a": 1, "label:b": 2}
    stage.annotate(documents[:1])
    assert stage.counts()["documents_labelled"] == 3 and stage.counts()["label:a"] == 2


def test_the_probe_holds_every_label() -> None:
    [probe] = DocumentLabelStage(CuePredictor()).probe()  # type: ignore[arg-type]
    assert list(probe.labels) == ["a", "b"]


def test_describe_gives_the_labels_and_the_recorded_threshold(checkpoint: Path) -> None:
    model = predictor(checkpoint)
    stage = TASK.document_stage(model, str(checkpoint))
    assert stage.provides == "labels" and not stage.needs
    assert stage.describe() == {"types": ["a", "b"], "threshold": model.threshold, "threshold_recorded": True}
