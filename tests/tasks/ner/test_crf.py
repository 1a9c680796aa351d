"""The CRF head: its likelihood, decoding and marginals equal brute-force enumeration; it trains,
saves its transitions in the config, reloads identically and still loads in a pipeline."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from biotune.config import validate
from biotune.errors import BiotuneError
from biotune.tasks.ner.decode import LearnedScores, marginals, transition_mask, viterbi
from biotune.tasks.ner.tagger import Tagger
from biotune.tasks.ner.crf import CRF
from biotune.tasks.ner.loss import weighted_crf_loss
from tests.conftest import _sentences, tiny_experiment

LABELS = ["O", "B-X", "I-X"]


def random_crf(seed: int, n: int = 3) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(n)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def path_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> float:
    score = crf.start[path[0]] + emissions[0, path[0]] + crf.end[path[-1]]
    for t in range(1, len(path)):
        score = score + crf.transitions[path[t - 1], path[t]] + emissions[t, path[t]]
    return float(score.detach())


def brute_log_sum(crf: CRF, emissions: torch.Tensor, allowed: list[set[int]] | None = None) -> float:
    n = emissions.shape[1]
    scores = [path_score(crf, emissions, p) for p in itertools.product(range(n), repeat=emissions.shape[0])
              if allowed is None or all(j in allowed[t] for t, j in enumerate(p))]
    return float(np.logaddexp.reduce(scores))


def test_crf_nll_equals_brute_force_with_full_and_partial_labels() -> None:
    crf = random_crf(0)
    torch.manual_seed(1)
    logits = torch.randn(2, 6, 3)  # subwords; labelled positions below
    labels = torch.tensor([[-100, 1, 2, -100, 0, -100], [-100, 0, -100, -100, -100, -100]])
    partial = {(0, 4): {0, 1}}  # window 0, subword 4: an O that may also be B-X (partial label)
    allowed = torch.nn.functional.one_hot(labels.clamp(min=0), 3).bool()
    allowed[0, 4, 1] = True
    nll = crf.nll(logits, labels, allowed).detach()
    for row in range(2):
        positions = [t for t in range(6) if labels[row, t] != -100]
        emissions = logits[row, positions]
        sets = [partial.get((row, t), {int(labels[row, t])}) for t in positions]
        expected = brute_log_sum(crf, emissions) - brute_log_sum(crf, emissions, sets)
        assert float(nll[row]) == pytest.approx(expected, abs=1e-4)


def test_crf_nll_is_zero_for_a_window_without_labels_and_gradients_are_finite() -> None:
    crf = random_crf(2)
    logits = torch.randn(2, 4, 3, requires_grad=True)
    labels = torch.tensor([[-100] * 4, [0, 1, 2, 0]])
    allowed = torch.nn.functional.one_hot(labels.clamp(min=0), 3).bool()
    nll = crf.nll(logits, labels, allowed)
    assert float(nll[0].detach()) == 0.0 and float(nll[1].detach()) > 0.0
    nll.sum().backward()
    assert torch.isfinite(logits.grad).all() and torch.isfinite(crf.transitions.grad).all()


def test_weighted_crf_loss_weights_windows_and_divides_by_labelled_words() -> None:
    crf = random_crf(3).requires_grad_(False)
    logits = torch.randn(2, 5, 3)
    labels = torch.tensor([[0, 1, 2, -100, 0], [1, -100, 0, -100, -100]])
    allowed = torch.nn.functional.one_hot(labels.clamp(min=0), 3).bool()
    per_window = crf.nll(logits, labels, allowed).detach()
    loss = weighted_crf_loss(crf, logits, labels, torch.tensor([1.0, 0.25]))
    assert float(loss) == pytest.approx(float(per_window[0] + 0.25 * per_window[1]) / 6, rel=1e-5)
    assert float(weighted_crf_loss(crf, logits, labels, torch.zeros(2))) == 0.0
    # an O of a source that does not annotate X may be B-X/I-X: the loss can only go down
    o_allowed = torch.tensor([[True, True, True], [True, False, False]])
    assert float(weighted_crf_loss(crf, logits, labels, torch.ones(2), o_allowed)) < float(
        weighted_crf_loss(crf, logits, labels, torch.ones(2)))


@pytest.mark.parametrize("seed", range(20))
def test_learned_viterbi_and_marginals_equal_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    learned = LearnedScores(rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=3))
    allowed, start = transition_mask(LABELS)
    scores = rng.normal(size=(1 + seed % 5, 3)) * 2
    paths, weights = [], []
    for path in itertools.product(range(3), repeat=scores.shape[0]):
        if not start[path[0]] or not all(allowed[a, b] for a, b in zip(path, path[1:])):
            continue
        total = learned.start[path[0]] + learned.end[path[-1]] + sum(scores[t, j] for t, j in enumerate(path))
        total += sum(learned.transitions[a, b] for a, b in zip(path, path[1:]))
        paths.append(path)
        weights.append(total)
    assert tuple(viterbi(scores, allowed, start, learned)) == paths[int(np.argmax(weights))]
    probs = np.exp(np.array(weights) - np.logaddexp.reduce(weights))
    expected = np.zeros_like(scores)
    for path, p in zip(paths, probs):
        expected[np.arange(len(path)), list(path)] += p
    np.testing.assert_allclose(marginals(scores, allowed, start, learned), expected, atol=1e-10)
    # a per-word shift (log-softmax vs raw logits) changes neither
    shifted = scores + rng.normal(size=(scores.shape[0], 1))
    assert viterbi(shifted, allowed, start, learned) == viterbi(scores, allowed, start, learned)
    np.testing.assert_allclose(marginals(shifted, allowed, start, learned), expected, atol=1e-10)


def test_unknown_head_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(BiotuneError, match=r"model\.head.*did you mean 'crf'"):
        validate({"data": {"corpus": "x"}, "model": {"head": "crff"}}, "test")


@pytest.fixture(scope="module")
def crf_run(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path, toy_corpus: Path):
    from biotune.experiments.run import train

    config = tiny_experiment(word_backbone, toy_corpus, tmp_path_factory.mktemp("crf_run"))
    return train(config.model_copy(update={"model": config.model.model_copy(update={"head": "crf"})}))


def test_crf_head_learns_the_toy_task_and_its_transitions(crf_run) -> None:
    assert crf_run.results["test"].micro.f1 > 0.9
    config = json.loads((crf_run.paths.best_model / "config.json").read_text())
    labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    trans = np.array(config["biotune"]["crf"]["transitions"])
    # the toy data never has O -> I-Disease, always B-Disease -> I-Disease
    assert trans[labels.index("B-Disease"), labels.index("I-Disease")] > trans[labels.index("O"), labels.index("I-Disease")]


def test_crf_checkpoint_reloads_identically_and_batches_do_not_matter(crf_run) -> None:
    from safetensors.torch import load_file

    assert not [k for k in load_file(str(crf_run.paths.best_model / "model.safetensors")) if k.startswith("crf.")]
    tagger = Tagger.from_checkpoint(crf_run.paths.best_model, precision="fp32")
    assert tagger.learned is not None
    texts = [tokens for tokens, _ in _sentences(12, seed=5)]
    together = tagger.predict(texts)
    tagger.batch_size = 1
    assert [tagger.predict([t])[0] for t in texts] == together
    again = Tagger.from_checkpoint(crf_run.paths.best_model, precision="fp32").predict(texts)
    assert again == together
    assert all(0.0 < span.score <= 1.0 for _, spans in together for span in spans)
    bf16 = Tagger.from_checkpoint(crf_run.paths.best_model, precision="bf16")
    np.testing.assert_array_equal(bf16.learned.transitions, tagger.learned.transitions)  # not rounded to bf16


def test_crf_checkpoint_loads_in_a_transformers_pipeline(crf_run) -> None:
    from transformers import pipeline

    nlp = pipeline("token-classification", model=str(crf_run.paths.best_model), device=-1)
    out = nlp("the patient developed acute bleeding after heparin .")
    assert {item["entity"] for item in out} <= {"B-Chemical", "I-Chemical", "B-Disease", "I-Disease"}
    assert any(item["word"] == "heparin" for item in out)


def test_trainer_checkpoints_keep_the_crf_so_the_best_epoch_restores_it(word_backbone: Path, tmp_path: Path) -> None:
    """The Trainer saves epoch checkpoints with `save_pretrained` and restores the best one with a
    non-strict `load_state_dict`: the CRF's scores must be in that file, or restoring would
    silently keep the last epoch's transitions."""
    from safetensors.torch import load_file

    from biotune.tasks.ner.factory import build_model

    model = build_model(str(word_backbone), ["O", "B-X", "I-X"], "crf", 0.1)
    with torch.no_grad():
        model.crf.transitions.fill_(3.0)
    model.save_pretrained(tmp_path)
    fresh = build_model(str(word_backbone), ["O", "B-X", "I-X"], "crf", 0.1)
    result = fresh.load_state_dict(load_file(str(tmp_path / "model.safetensors")), False)
    assert not result.missing_keys and float(fresh.crf.transitions[1, 2].detach()) == 3.0


def test_a_next_phase_starts_from_the_previous_phase_crf(word_backbone: Path, tmp_path: Path) -> None:
    from biotune.tasks.ner.factory import build_model, save_model

    labels = ["O", "B-X", "I-X"]
    first = build_model(str(word_backbone), labels, "crf", 0.1)
    assert not first.crf.transitions.detach().any(), "a CRF on a plain backbone starts at zero"
    with torch.no_grad():
        first.crf.transitions.fill_(2.0)
    save_model(first, tmp_path / "phase_1")
    second = build_model(str(tmp_path / "phase_1"), labels, "crf", 0.1)
    assert torch.equal(second.crf.transitions.detach(), torch.full((3, 3), 2.0))
