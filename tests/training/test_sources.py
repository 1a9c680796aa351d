"""Gold + silver training: sources, weights that provably reach the loss, the partial-label remedy, strategies."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from biotune.errors import BiotuneError
from biotune.tasks.ner.features import label_space, o_alternatives
from biotune.tasks import get_task
from biotune.tasks.ner.loss import weighted_token_loss
from biotune.training.sources import read_sources
from biotune.experiments.run import train
from tests.conftest import _sentences, tiny_experiment, write_tsv

NER = get_task("ner")


def chemical_only(sentences):
    """The same sentences annotated for Chemical only (diseases left O, as a dictionary would)."""
    return [(tokens, [t if t.endswith("Chemical") else "O" for t in tags]) for tokens, tags in sentences]


def experiment(backbone: Path, corpus: Path, out: Path, sources: list[dict], **training: object):
    return tiny_experiment(backbone, corpus, out, sources, **{"epochs": 2, "weight_decay": 0.0, **training})


@pytest.fixture(scope="module")
def mix_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mix")
    write_tsv(folder / "train.tsv", _sentences(24, seed=1))
    write_tsv(folder / "devel.tsv", _sentences(8, seed=2))
    write_tsv(folder / "test.tsv", _sentences(8, seed=3))
    write_tsv(folder / "silver.tsv", chemical_only(_sentences(24, seed=4)))
    garbage = [(tokens, random.Random(i).choice([["O"] * len(tokens), ["B-Chemical"] * len(tokens)]))
               for i, (tokens, _) in enumerate(_sentences(24, seed=4))]
    write_tsv(folder / "silver_garbage.tsv", garbage)
    return folder


def weights(run) -> dict[str, torch.Tensor]:
    return load_file(str(run.paths.best_model / "model.safetensors"))


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_zero_weight_source_has_no_effect(word_backbone: Path, mix_corpus: Path, tmp_path: Path) -> None:
    """Weights 1.0 and 0.0: the 0.0 source's labels cannot change the model; at 1.0 they do.

    The reference implementation dropped its weight column inside the Trainer, so its weighted
    runs trained the unweighted objective; then the second source's labels would matter here.
    """
    def run(silver: str, weight: float, out: str):
        sources = [{"name": "gold", "split": "train"},
                   {"name": "silver", "split": str(mix_corpus / silver), "types": ["Chemical"], "weight": weight}]
        return train(experiment(word_backbone, mix_corpus, tmp_path / out, sources, strategy="joint", epochs=1))

    zero_a, zero_b = run("silver.tsv", 0.0, "za"), run("silver_garbage.tsv", 0.0, "zb")
    assert same(weights(zero_a), weights(zero_b))
    one_a, one_b = run("silver.tsv", 1.0, "oa"), run("silver_garbage.tsv", 1.0, "ob")
    assert not same(weights(one_a), weights(one_b))


def test_marginal_loss_on_o_of_a_partial_source() -> None:
    labels = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]
    label2id = {label: i for i, label in enumerate(labels)}
    assert o_alternatives(frozenset({"Chemical"}), label2id, marginal=True) == [0, 3, 4]
    assert o_alternatives(frozenset({"Chemical", "Disease"}), label2id, marginal=True) == [0]
    assert o_alternatives(None, label2id, marginal=True) == [0]
    assert o_alternatives(frozenset({"Chemical"}), label2id, marginal=False) == [0]

    torch.manual_seed(0)
    logits = torch.randn(1, 3, 5)
    target = torch.tensor([[0, 1, -100]])
    allowed = torch.zeros(1, 5, dtype=torch.bool)
    allowed[0, [0, 3, 4]] = True
    p = torch.softmax(logits, -1)
    expected = -(torch.log(p[0, 0, [0, 3, 4]].sum()) + torch.log(p[0, 1, 1])) / 2
    got = weighted_token_loss(logits, target, torch.ones(1), allowed)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    only_o = torch.zeros(1, 5, dtype=torch.bool)
    only_o[0, 0] = True
    plain = torch.nn.functional.cross_entropy(logits[0, :2], target[0, :2])
    assert weighted_token_loss(logits, target, torch.ones(1), only_o).item() == pytest.approx(plain.item(), rel=1e-5)


def test_marginal_loss_does_not_push_unannotated_types_down() -> None:
    """Gradient of an O token of a Chemical-only source: Disease logits are not pushed below O's."""
    logits = torch.zeros(1, 1, 5, requires_grad=True)
    allowed = torch.tensor([[True, False, False, True, True]])
    weighted_token_loss(logits, torch.tensor([[0]]), torch.ones(1), allowed).backward()
    grad = logits.grad[0, 0]
    assert grad[0] == pytest.approx(grad[3].item()) == pytest.approx(grad[4].item())
    assert grad[1] > 0 and grad[0] < 0  # Chemical is pushed down, the allowed set up


def test_sources_are_marked_weighted_and_sampled_reproducibly(mix_corpus: Path, word_backbone: Path, tmp_path: Path) -> None:
    sources = [{"name": "gold", "split": "train"},
               {"name": "silver", "split": str(mix_corpus / "silver.tsv"), "types": ["Chemical"], "weight": 0.5,
                "sample_ratio": 0.5}]
    cfg = experiment(word_backbone, mix_corpus, tmp_path, sources, strategy="joint")
    gold, silver = read_sources(NER, cfg)
    assert len(gold.examples) == 24 and len(silver.examples) == 12
    assert {s.weight for s in silver.examples} == {0.5} and {s.weight for s in gold.examples} == {1.0}
    assert silver.examples[0].annotated_types == frozenset({"Chemical"})
    assert gold.types == ("Chemical", "Disease")
    again = read_sources(NER, cfg)[1]
    assert [s.id for s in again.examples] == [s.id for s in silver.examples]
    other = read_sources(NER, experiment(word_backbone, mix_corpus, tmp_path, sources, strategy="joint", seed=7))[1]
    assert [s.id for s in other.examples] != [s.id for s in silver.examples]
    assert label_space([gold.examples], extra_types=["Gene"])[-2:] == ["B-Gene", "I-Gene"]


def test_only_labelled_keeps_sentences_with_an_entity(mix_corpus: Path, word_backbone: Path, tmp_path: Path) -> None:
    write_tsv(tmp_path / "sparse.tsv", [(["aspirin", "."], ["B-Chemical", "O"]), (["the", "."], ["O", "O"])] * 3)
    sources = [{"name": "gold", "split": "train"},
               {"name": "silver", "split": str(tmp_path / "sparse.tsv"), "types": ["Chemical"], "only_labelled": True}]
    silver = read_sources(NER, experiment(word_backbone, mix_corpus, tmp_path, sources, strategy="joint"))[1]
    assert [s.tokens for s in silver.examples] == [["aspirin", "."]] * 3


def test_a_source_whose_tags_exceed_its_declared_types_is_refused(mix_corpus: Path, word_backbone: Path, tmp_path: Path) -> None:
    sources = [{"name": "gold", "split": "train", "types": ["Chemical"]}]
    with pytest.raises(BiotuneError, match=r"source 'gold'.*Disease"):
        read_sources(NER, experiment(word_backbone, mix_corpus, tmp_path, sources))


@pytest.mark.parametrize(
    ("strategy", "n", "message"),
    [("single", 2, "one source"), ("joint", 1, "at least two"), ("sequential", 1, "at least two")],
)
def test_strategy_needs_the_right_number_of_sources(mix_corpus: Path, word_backbone: Path, tmp_path: Path,
                                                    strategy: str, n: int, message: str) -> None:
    sources = [{"name": f"s{i}", "split": "train"} for i in range(n)]
    with pytest.raises(BiotuneError, match=message):
        experiment(word_backbone, mix_corpus, tmp_path, sources, strategy=strategy)


def test_sequential_keeps_both_phases_and_starts_phase_two_from_phase_one(word_backbone: Path, mix_corpus: Path,
                                                                           tmp_path: Path) -> None:
    sources = [{"name": "silver", "split": str(mix_corpus / "silver.tsv"), "types": ["Chemical"], "epochs": 2},
               {"name": "gold", "split": "train", "epochs": 1, "learning_rate": 1e-12}]
    run = train(experiment(word_backbone, mix_corpus, tmp_path, sources, strategy="sequential"))
    phase1 = run.paths.for_phase("phase_1_silver")
    assert (phase1.best_model / "model.safetensors").is_file() and (phase1.results / "eval_test.json").is_file()
    first, final = load_file(str(phase1.best_model / "model.safetensors")), weights(run)
    key = "bert.encoder.layer.0.attention.self.query.weight"
    assert torch.allclose(first[key], final[key], atol=1e-6), "phase 2 (lr ~0) starts from phase 1's best model"
    summary = json.loads(run.paths.summary.read_text())
    assert [p["sources"] for p in summary["phases"]] == [["silver"], ["gold"]]
    assert summary["phases"][0]["epochs_run"] == 2 and summary["phases"][1]["epochs_run"] == 1
    # selection on dev uses only the gold types the phase's sources annotate
    assert summary["phases"][0]["dev_scope"] == ["Chemical"] and summary["phases"][1]["dev_scope"] == ["Chemical", "Disease"]


def test_a_phase_without_dev_types_keeps_its_last_epoch(word_backbone: Path, mix_corpus: Path, tmp_path: Path) -> None:
    write_tsv(tmp_path / "genes.tsv", [(["the", "tremor", "."], ["O", "B-Gene", "O"])] * 8)
    sources = [{"name": "gene", "split": str(tmp_path / "genes.tsv")}]
    run = train(experiment(word_backbone, mix_corpus, tmp_path / "out", sources, epochs=1))
    assert run.summary["dev_history"] == [] and run.summary["dev_scope"] == []
    assert "B-Gene" in run.summary["labels"]


def test_a_sequential_run_that_crashed_in_phase_two_keeps_phase_one(word_backbone: Path, mix_corpus: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    import biotune.experiments.run as train_module

    sources = [{"name": "silver", "split": str(mix_corpus / "silver.tsv"), "types": ["Chemical"], "epochs": 1},
               {"name": "gold", "split": "train", "epochs": 1}]
    config = experiment(word_backbone, mix_corpus, tmp_path / "crashed", sources, strategy="sequential")
    real_fit = train_module.fit_phase

    def crash_in_gold(task, config, phase, *args, **kwargs):
        if phase.name == "gold":
            raise RuntimeError("killed in phase 2")
        return real_fit(task, config, phase, *args, **kwargs)

    monkeypatch.setattr(train_module, "fit_phase", crash_in_gold)
    with pytest.raises(RuntimeError):
        train(config)
    phase1 = train_module.RunPaths(tmp_path / "crashed", "toy", 42).for_phase("phase_1_silver")
    first_model = (phase1.best_model / "model.safetensors").read_bytes()
    monkeypatch.undo()
    with caplog.at_level("INFO", logger="biotune"):
        resumed = train(config)
    assert "phase 1 (silver) finished before: kept" in caplog.text
    assert (phase1.best_model / "model.safetensors").read_bytes() == first_model
    reference = train(experiment(word_backbone, mix_corpus, tmp_path / "reference", sources, strategy="sequential"))
    assert same(weights(resumed), weights(reference))
    assert resumed.summary["phases"][0] == reference.summary["phases"][0] | {
        k: resumed.summary["phases"][0][k]
        for k in ("train_seconds", "dev_eval_seconds", "train_examples_per_second", "train_subwords_per_second")}
