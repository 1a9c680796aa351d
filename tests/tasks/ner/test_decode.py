"""Constrained BIO decoding (biotune.tasks.ner.decode): the numpy reference, and the batched torch path against it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from biotune.tasks.ner.decode import LearnedScores, decode_batch, marginals, transition_mask, viterbi

LABELS = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]


def is_valid_bio(tags: list[str]) -> bool:
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            return False
        previous = tag
    return True


def path_score(log_probs: np.ndarray, path: tuple[int, ...] | list[int]) -> float:
    return float(sum(log_probs[t, j] for t, j in enumerate(path)))


def brute_force(log_probs: np.ndarray, labels: list[str]) -> tuple[int, ...]:
    best, best_score = None, -np.inf
    for path in itertools.product(range(len(labels)), repeat=log_probs.shape[0]):
        if is_valid_bio([labels[j] for j in path]):
            score = path_score(log_probs, path)
            if score > best_score:
                best, best_score = path, score
    assert best is not None
    return best


def random_log_probs(rng: np.random.Generator, words: int, labels: int, sharpness: float) -> np.ndarray:
    logits = rng.normal(size=(words, labels)) * sharpness
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def test_transition_mask_values() -> None:
    allowed, start = transition_mask(LABELS)
    assert start.tolist() == [True, True, False, True, False]
    # rows: previous label, columns: current label
    assert allowed.tolist() == [
        [True, True, False, True, False],
        [True, True, True, True, False],
        [True, True, True, True, False],
        [True, True, False, True, True],
        [True, True, False, True, True],
    ]


@pytest.mark.parametrize("labels", [LABELS, ["O", "B-X", "I-X"], ["B-A", "I-A", "O", "I-B", "B-B"]])
def test_viterbi_equals_brute_force(labels: list[str]) -> None:
    rng = np.random.default_rng(0)
    allowed, start = transition_mask(labels)
    for case in range(150):
        words = 1 + case % 5
        lp = random_log_probs(rng, words, len(labels), sharpness=[0.5, 2.0, 6.0][case % 3])
        path = viterbi(lp, allowed, start)
        expected = brute_force(lp, labels)
        assert path_score(lp, path) == pytest.approx(path_score(lp, expected), abs=1e-12)
        assert tuple(path) == expected


def test_viterbi_never_outputs_invalid_bio() -> None:
    rng = np.random.default_rng(1)
    allowed, start = transition_mask(LABELS)
    for _ in range(300):
        lp = random_log_probs(rng, int(rng.integers(1, 30)), len(LABELS), sharpness=3.0)
        # push probability towards I- tags so that argmax is often invalid
        lp[:, [2, 4]] += rng.uniform(0, 4)
        tags = [LABELS[j] for j in viterbi(lp, allowed, start)]
        assert len(tags) == lp.shape[0]
        assert not tags[0].startswith("I-")
        assert is_valid_bio(tags), tags


def test_viterbi_equals_argmax_when_argmax_is_valid() -> None:
    rng = np.random.default_rng(2)
    allowed, start = transition_mask(LABELS)
    checked = 0
    for _ in range(2000):
        lp = random_log_probs(rng, int(rng.integers(1, 12)), len(LABELS), sharpness=2.0)
        argmax = lp.argmax(axis=1).tolist()
        if is_valid_bio([LABELS[j] for j in argmax]):
            assert viterbi(lp, allowed, start) == argmax
            checked += 1
    assert checked > 100


def test_viterbi_repairs_specific_invalid_sequences() -> None:
    allowed, start = transition_mask(LABELS)
    # I-Chemical is everyone's favourite, B-Chemical second: the best valid path opens the span with B-.
    lp = np.log(np.array([[0.1, 0.3, 0.6, 0.0, 0.0]] * 4) + 1e-12)
    assert [LABELS[j] for j in viterbi(lp, allowed, start)] == ["B-Chemical", "I-Chemical", "I-Chemical", "I-Chemical"]
    # O then I-Disease (invalid): either O->O or B-Disease; B-Disease at 0.45 beats O at 0.1
    lp = np.log(np.array([[0.9, 0.025, 0.025, 0.025, 0.025], [0.1, 0.0, 0.0, 0.45, 0.45]]) + 1e-12)
    assert [LABELS[j] for j in viterbi(lp, allowed, start)] == ["O", "B-Disease"]
    # I-Disease after B-Chemical is invalid
    lp = np.log(np.array([[0.05, 0.9, 0.0, 0.05, 0.0], [0.3, 0.0, 0.0, 0.0, 0.7]]) + 1e-12)
    assert [LABELS[j] for j in viterbi(lp, allowed, start)] == ["B-Chemical", "O"]


def test_viterbi_on_no_words() -> None:
    allowed, start = transition_mask(LABELS)
    assert viterbi(np.zeros((0, len(LABELS))), allowed, start) == []


def ragged_scores(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Log-probabilities of sentences of 0 to 40 words, as the Tagger gives them (float32)."""
    lengths = [0, 1, 40, *rng.integers(0, 41, size=count - 3)]
    return [random_log_probs(rng, int(n), len(LABELS), sharpness=3.0).astype(np.float32) for n in lengths]


def reference(scores: list[np.ndarray], learned: LearnedScores | None) -> list[tuple[list[int], np.ndarray]]:
    """The per-sentence numpy decoding the Tagger did before the torch path."""
    allowed, start = transition_mask(LABELS)
    out = []
    for lp in scores:
        path = viterbi(lp, allowed, start, learned)
        chosen = (np.arange(len(path)), path)
        probs = np.exp(lp[chosen]) if learned is None else marginals(lp, allowed, start, learned)[chosen]
        out.append((path, probs))
    return out


def random_learned(rng: np.random.Generator) -> LearnedScores:
    n = len(LABELS)
    return LearnedScores(rng.normal(size=(n, n)) * 2, rng.normal(size=n), rng.normal(size=n))


@pytest.mark.parametrize("crf", [False, True], ids=["softmax", "crf"])
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))])
def test_batched_torch_decoding_equals_the_numpy_reference(crf: bool, device: str) -> None:
    rng = np.random.default_rng(7)
    learned = random_learned(rng) if crf else None
    scores = ragged_scores(rng, 300)
    allowed, start = transition_mask(LABELS)
    expected = reference(scores, learned)
    for batch_size in (1, 7, 1024):  # padding, batch boundaries and one batch for all
        got = decode_batch(scores, allowed, start, learned, with_marginals=crf, device=device, batch_size=batch_size)
        assert [path for path, _ in got] == [path for path, _ in expected]
        for (_, probs), (_, want) in zip(got, expected):
            np.testing.assert_allclose(probs, want, rtol=1e-6, atol=1e-12)
    assert any(len(set(path)) > 2 for path, _ in expected), "the random scores reach spans of both types"


def test_batched_marginals_equal_the_reference_at_every_tag() -> None:
    """All marginals, not only the chosen tags', through a one-label-per-word probe of each tag."""
    rng = np.random.default_rng(8)
    learned = random_learned(rng)
    allowed, start = transition_mask(LABELS)
    scores = ragged_scores(rng, 40)
    from biotune.tasks.ner.decode import _chain, _marginals_torch, _padded

    padded, lengths = _padded([s for s in scores if len(s)], torch.device("cpu"))
    chain = [torch.as_tensor(a, dtype=torch.float64) for a in _chain(allowed, start, learned)]
    batched = _marginals_torch(padded, lengths, *chain).numpy()
    for row, lp in enumerate(s for s in scores if len(s)):
        np.testing.assert_allclose(batched[row, : len(lp)], marginals(lp, allowed, start, learned), atol=1e-12)
        np.testing.assert_allclose(batched[row, : len(lp)].sum(axis=1), 1.0, atol=1e-12)
