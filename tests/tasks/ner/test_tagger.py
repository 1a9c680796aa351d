"""The Tagger: batching never changes a prediction, checkpoints reload exactly, pipeline loads them."""

from __future__ import annotations

import numpy as np
import pytest

from biotune.formats.schemes import tags_to_spans
from biotune.tasks.ner.tagger import Tagger
from tests.conftest import _sentences


@pytest.fixture(scope="module")
def tagger(trained_run) -> Tagger:
    return Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32")


def sentences() -> list[list[str]]:
    long = [w for tokens, _ in _sentences(12, seed=9) for w in tokens]  # ~90 words: several 32-subword windows
    return [tokens for tokens, _ in _sentences(20, seed=5)] + [long, ["aspirin"], ["unseen", "words", "here"]]


def test_batching_and_order_do_not_change_predictions(tagger: Tagger) -> None:
    texts = sentences()
    together = tagger.word_log_probs(texts)
    tagger.batch_size = 1
    one_by_one = [tagger.word_log_probs([t])[0] for t in texts]
    tagger.batch_size = 64
    for a, b in zip(together, one_by_one):
        np.testing.assert_allclose(a, b, atol=1e-4)
    reversed_out = tagger.word_log_probs(texts[::-1])[::-1]
    for a, b in zip(together, reversed_out):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_every_word_of_a_long_sentence_gets_a_valid_prediction(tagger: Tagger) -> None:
    long = sentences()[20]
    assert tagger.aligner.subword_length(long) > 32
    (tags, spans), = tagger.predict([long])
    assert len(tags) == len(long)
    for i, tag in enumerate(tags):
        if tag.startswith("I-"):
            assert tags[i - 1][2:] == tag[2:] and tags[i - 1] != "O"
    assert [(s.start, s.end, s.type) for s in spans] == [(s.start, s.end, s.type) for s in tags_to_spans(tags)]
    assert all(0.0 < s.score <= 1.0 for s in spans)


def test_span_score_is_the_mean_word_probability(tagger: Tagger) -> None:
    tokens = ["the", "patient", "developed", "acute", "bleeding", "after", "heparin", "."]
    (tags, spans), = tagger.predict([tokens])
    lp = tagger.word_log_probs([tokens])[0]
    for span in spans:
        ids = [tagger.labels.index(t) for t in tags[span.start : span.end]]
        expected = np.mean([np.exp(lp[span.start + k, j]) for k, j in enumerate(ids)])
        assert span.score == pytest.approx(expected, rel=1e-5)


def test_reloaded_checkpoint_predicts_identically(trained_run, tagger: Tagger) -> None:
    again = Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32")
    texts = sentences()
    assert again.predict_tags(texts) == tagger.predict_tags(texts)
    assert again.aligner.max_length == 32, "the window size travels with the checkpoint"


def test_bf16_and_fp32_agree_on_tags(trained_run, tagger: Tagger) -> None:
    import torch

    from biotune.hardware import bf16_supported

    if not bf16_supported(torch.device("cpu")):
        pytest.skip("no bf16 on this machine")
    half = Tagger.from_checkpoint(trained_run.paths.best_model, precision="bf16")
    texts = sentences()[:20]
    agree = np.mean([a == b for x, y in zip(half.predict_tags(texts), tagger.predict_tags(texts)) for a, b in zip(x, y)])
    assert agree > 0.95
    assert torch.get_default_dtype() == torch.float32


def test_int8_agrees_with_fp32_and_leaves_no_float_linear(trained_run, tagger: Tagger) -> None:
    import torch

    small = Tagger.from_checkpoint(trained_run.paths.best_model, precision="int8")
    assert not any(type(m) is torch.nn.Linear for m in small.model.modules()), "every linear layer is quantised"
    texts = sentences()[:20]
    agree = np.mean([a == b for x, y in zip(small.predict_tags(texts), tagger.predict_tags(texts)) for a, b in zip(x, y)])
    assert agree > 0.95


def test_unknown_precision_is_a_clear_error(trained_run) -> None:
    from biotune.errors import BiotuneError

    with pytest.raises(BiotuneError, match="unknown precision 'fp8'.*int8"):
        Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp8")


def test_best_model_loads_in_a_transformers_pipeline(trained_run, tagger: Tagger) -> None:
    from transformers import pipeline

    nlp = pipeline("token-classification", model=str(trained_run.paths.best_model), device=-1)
    tokens = ["the", "patient", "developed", "acute", "bleeding", "after", "heparin", "."]
    out = nlp(" ".join(tokens))
    labels = {item["entity"] for item in out}
    assert labels <= set(tagger.labels) - {"O"}
    # the pipeline's first-subword tags for whole-word tokens equal the Tagger's argmax tags
    ours = [tagger.labels[i] for i in tagger.word_log_probs([tokens])[0].argmax(-1)]
    by_word = {item["word"]: item["entity"] for item in out}
    for word, tag in zip(tokens, ours):
        if tag != "O":
            assert by_word.get(word) == tag


@pytest.mark.parametrize("crf", [False, True], ids=["softmax", "crf"])
def test_batched_decoding_gives_the_numpy_reference_tags_and_scores(tagger: Tagger, crf: bool) -> None:
    """The Tagger decodes in torch; its tags and span scores are those of the per-sentence numpy reference."""
    from dataclasses import replace

    from biotune.tasks.ner.decode import LearnedScores, marginals, viterbi

    rng = np.random.default_rng(3)
    n = len(tagger.labels)
    learned = LearnedScores(rng.normal(size=(n, n)), rng.normal(size=n), rng.normal(size=n)) if crf else None
    saved = tagger.learned
    tagger.learned = learned  # a CRF head's decoding, over this model's word scores
    try:
        texts = sentences() + [[]]
        got = tagger.predict(texts)
        for log_probs, (tags, spans) in zip(tagger.word_log_probs(texts), got):
            path = viterbi(log_probs, tagger.allowed, tagger.start, learned)
            assert tags == [tagger.labels[j] for j in path]
            chosen = (np.arange(len(path)), path)
            probs = (marginals(log_probs, tagger.allowed, tagger.start, learned) if crf else np.exp(log_probs))[chosen]
            want = [replace(s, score=float(np.mean(probs[s.start : s.end]))) for s in tags_to_spans(tags)]
            assert [(s.start, s.end, s.type) for s in spans] == [(s.start, s.end, s.type) for s in want]
            np.testing.assert_allclose([s.score for s in spans], [s.score for s in want], rtol=1e-6)
    finally:
        tagger.learned = saved
    assert sum(len(spans) for _, spans in got) > 3, "the toy model tags spans to compare"
