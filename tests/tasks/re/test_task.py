"""Relation extraction through the shared training loop (`train`, `run_seeds`, `evaluate_checkpoint`) on a tiny BERT.

Each head overfits the six toy pairs (dev and test are the same file), so the scores the loop
writes are known exactly; the saved model then has to give back the same probabilities, alone
or batched, and the partial-label loss is checked against the probabilities computed by hand.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
import torch

from biotune.config import DataConfig, ExperimentConfig, validate
from biotune.experiments.evaluate import evaluate_checkpoint
from biotune.experiments.seeds import run_seeds
from biotune.tasks.re.examples import read_examples, read_label2id
from biotune.tasks.re.task import RelationPredictor, RelationTask
from biotune.experiments.run import TrainResult, train
from tests.tasks.re.toy import TOY_LABELS, TOY_ROWS, write_toy_split

HEADS = ("entity_start", "cls")


def toy_corpus(folder: Path) -> Path:
    """A corpus folder: the toy rows as train.tsv and test.tsv (label ids), with label2id.tsv beside them."""
    train_file, _ = write_toy_split(folder)
    (folder / "test.tsv").write_text(train_file.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def re_config(backbone: Path, corpus: Path, output_dir: Path, head: str, **training: Any) -> ExperimentConfig:
    """A task:re config that trains the tiny backbone in seconds, selecting on the test file (as dev)."""
    settings = {"epochs": 25, "learning_rate": 5e-3, "batch_size": 8, "warmup": 0.0, "seed": 42, "bf16": False,
                "logging_steps": 1000, **training}
    return validate({"task": "re", "name": f"toy_{head}", "output_dir": str(output_dir),
                     "model": {"backbone": str(backbone), "head": head, "max_length": 32, "dropout": 0.0},
                     "data": {"corpus": str(corpus), "dev": "test", "allow_test_as_dev": True,
                              "allow_test_as_train": True},  # overfitting: train.tsv holds test.tsv's rows
                     "training": settings, "re": {"negative_label": "0"}}, "test")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> dict[str, tuple[TrainResult, Path]]:
    """{head: (finished run, corpus folder)}: one overfit run per head."""
    runs = {}
    for head in HEADS:
        root = tmp_path_factory.mktemp(f"re_{head}")
        corpus = toy_corpus(root / "corpus")
        runs[head] = (train(re_config(word_backbone, corpus, root / "outputs", head)), corpus)
    return runs


def fp32_predictor(checkpoint: Path, batch_size: int) -> RelationPredictor:
    return RelationPredictor.from_checkpoint(checkpoint, precision="fp32", batch_size=batch_size, device="cpu")


@pytest.mark.parametrize("head", HEADS)
def test_training_overfits_and_writes_the_headline(trained: dict[str, tuple[TrainResult, Path]], head: str) -> None:
    run, _ = trained[head]
    result = run.results["test"]
    assert result.headline_key == "micro.f1" and result.headline == 1.0
    saved = json.loads((run.paths.results / "eval_test.json").read_text(encoding="utf-8"))["test"]
    assert saved["headline_key"] == "micro.f1" and saved["micro"]["f1"] == 1.0
    assert saved["labels"] == list(TOY_LABELS) and saved["negative"] == "0"
    gold = [TOY_LABELS[int(label)] for _, label in TOY_ROWS]
    assert {name: saved["per_class"][name]["support"] for name in TOY_LABELS} == {n: gold.count(n) for n in TOY_LABELS}
    assert saved["confusion"] == [[gold.count(n) if n == m else 0 for m in TOY_LABELS] for n in TOY_LABELS]
    summary = json.loads(run.paths.summary.read_text(encoding="utf-8"))
    assert summary["task"] == "re" and summary["test"] == {"test": 1.0} and summary["best_dev_score"] == 1.0


@pytest.mark.parametrize("head", HEADS)
def test_evaluate_checkpoint_reproduces_the_run(trained: dict[str, tuple[TrainResult, Path]], head: str,
                                                tmp_path: Path) -> None:
    run, corpus = trained[head]
    evaluate_checkpoint(run.paths.best_model, [str(corpus / "test.tsv")], DataConfig(corpus=str(run.paths.best_model)),
                        out_dir=tmp_path)
    assert (json.loads((tmp_path / "eval_test.json").read_text(encoding="utf-8"))
            == json.loads((run.paths.results / "eval_test.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize("head", HEADS)
def test_save_load_and_batching_give_the_same_probabilities(trained: dict[str, tuple[TrainResult, Path]], head: str,
                                                            tmp_path: Path) -> None:
    run, corpus = trained[head]
    examples = read_examples(corpus / "test.tsv", read_label2id(corpus / "label2id.tsv"))
    batched = fp32_predictor(run.paths.best_model, batch_size=8)
    probabilities = batched.probabilities(examples)
    assert [batched.labels[k] for k in probabilities.argmax(-1).tolist()] == [e.label for e in examples]

    RelationTask().save(RelationTask().load(run.paths.best_model), tmp_path / "copy")
    assert torch.equal(fp32_predictor(tmp_path / "copy", batch_size=8).probabilities(examples), probabilities)

    one_at_a_time = fp32_predictor(run.paths.best_model, batch_size=1)
    singles = torch.cat([one_at_a_time.probabilities([example]) for example in examples])
    assert torch.allclose(one_at_a_time.probabilities(examples), probabilities, atol=1e-6)
    assert torch.allclose(singles, probabilities, atol=1e-6)
    predictions = batched.predict(examples)
    assert [p.example_id for p in predictions] == [e.id for e in examples]  # input order, though batches are length-sorted
    assert [p.scores for p in predictions] == [{label: round(float(p), 6) for label, p in zip(batched.labels, row)}
                                               for row in probabilities.tolist()]


def test_partial_source_negative_pairs_score_the_labels_it_does_not_annotate(tmp_path: Path,
                                                                             word_backbone: Path) -> None:
    """A negative pair of a source annotating only REL_A: loss = weight * -log(P(0) + P(REL_B))."""
    full = tmp_path / "full" / "train.tsv"
    partial = tmp_path / "partial" / "train.tsv"
    for path, rows in ((full, [("the patient developed @DISEASE$ after @CHEMICAL$ .", "REL_A"),
                               ("@CHEMICAL$ treatment was given with @DISEASE$ .", "REL_B"),
                               ("@CHEMICAL$ and @DISEASE$ .", "0")]),
                       (partial, [("@CHEMICAL$ and severe @DISEASE$ .", "0"),
                                  ("the patient developed severe @DISEASE$ after @CHEMICAL$ .", "REL_A")])):
        path.parent.mkdir(parents=True)
        path.write_text("".join(f"{text}\t{label}\n" for text, label in rows), encoding="utf-8")
        (path.parent / "test.tsv").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    config = validate({"task": "re", "output_dir": str(tmp_path / "out"),
                       "model": {"backbone": str(word_backbone), "head": "entity_start", "max_length": 32},
                       "data": {"corpus": str(full.parent), "dev": None},
                       "training": {"strategy": "joint", "bf16": False},
                       "sources": [{"name": "full", "split": str(full)},
                                   {"name": "partial", "split": str(partial), "types": ["REL_A"], "weight": 0.5}]},
                      "test")
    task = RelationTask()
    sources = [task.read_source(source, config) for source in config.sources]
    labels = task.label_space(sources, None)
    assert labels == ["0", "REL_A", "REL_B"]  # the first source's labels, numbers first
    examples = [*sources[0].examples, *sources[1].examples]
    bundle = task.build_model(str(word_backbone), labels, config, examples)
    bundle.model.eval()  # no dropout: the hand computation sees the same logits
    features = task.featurise(examples, bundle, labels, config)
    collate = task.collator(bundle, labels)
    full_negative, partial_negative, partial_positive = features[2], features[3], features[4]

    def loss_of(items: list[dict[str, Any]]) -> torch.Tensor:
        batch = collate(items)
        with torch.no_grad():
            return task.loss(bundle.model, batch, batch.pop("weight"))[0]

    def probabilities(item: dict[str, Any]) -> dict[str, float]:
        batch = collate([item])
        batch.pop("labels"), batch.pop("allowed"), batch.pop("weight")
        with torch.no_grad():
            logits = bundle.model(**batch).logits[0].double()
        return dict(zip(labels, logits.softmax(-1).tolist()))

    p = probabilities(partial_negative)
    expected_partial = -0.5 * torch.log(torch.tensor(p["0"] + p["REL_B"], dtype=torch.float64))
    assert loss_of([partial_negative]).item() == pytest.approx(expected_partial.item(), rel=1e-5)
    assert loss_of([partial_negative]).item() != pytest.approx(-0.5 * torch.log(torch.tensor(p["0"])).item(), rel=1e-3)
    q = probabilities(full_negative)
    expected_full = -torch.log(torch.tensor(q["0"], dtype=torch.float64))  # a full source's negative: the gold label alone
    assert loss_of([full_negative]).item() == pytest.approx(expected_full.item(), rel=1e-5)
    r = probabilities(partial_positive)
    expected_positive = -0.5 * torch.log(torch.tensor(r["REL_A"], dtype=torch.float64))  # a partial source's positive: gold alone
    assert loss_of([partial_positive]).item() == pytest.approx(expected_positive.item(), rel=1e-5)
    both = loss_of([full_negative, partial_negative]).item()  # mean over the batch's pairs
    assert both == pytest.approx((expected_full + expected_partial).item() / 2, rel=1e-5)


def test_run_seeds_aggregates_the_per_seed_headlines(tmp_path: Path, word_backbone: Path) -> None:
    corpus = toy_corpus(tmp_path / "corpus")
    config = re_config(word_backbone, corpus, tmp_path / "outputs", "entity_start", epochs=2, learning_rate=1e-3)
    outcome = run_seeds(config, [1, 2, 3])
    assert outcome.trained == [1, 2, 3] and not outcome.failed
    per_seed = {seed: json.loads((outcome.results_dir / f"seed_{seed}" / "eval_test.json").read_text())["test"]
                for seed in (1, 2, 3)}
    headlines = [per_seed[seed]["micro"]["f1"] for seed in (1, 2, 3)]
    assert len(set(headlines)) > 1  # seeds differ two epochs in at a low rate, so the std below is not trivially 0
    aggregated = outcome.aggregated["test_sets"]["test"]
    assert aggregated["headline_key"] == "micro.f1"
    assert aggregated["micro"]["f1"]["values"] == {str(seed): per_seed[seed]["micro"]["f1"] for seed in (1, 2, 3)}
    assert aggregated["micro"]["f1"]["mean"] == pytest.approx(statistics.fmean(headlines))
    assert aggregated["micro"]["f1"]["std"] == pytest.approx(statistics.stdev(headlines))
    assert aggregated["per_class"]["CID"]["support"] == per_seed[1]["per_class"]["CID"]["support"]  # a count, not averaged
    saved = json.loads((outcome.results_dir / "aggregated_results.json").read_text(encoding="utf-8"))
    assert saved["test_sets"]["test"]["micro"]["f1"]["mean"] == pytest.approx(statistics.fmean(headlines))
