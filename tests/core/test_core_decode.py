"""Constrained BIO decoding (biotune.inference.decode)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from biotune.inference.decode import transition_mask, viterbi

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
