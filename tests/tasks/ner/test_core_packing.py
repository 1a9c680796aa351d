"""Sentence packing: consecutive sentences share inputs, every word still owned once, same alignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biotune.tasks.ner.align import IGNORE_INDEX, Aligner
from biotune.tasks.ner.packing import pack_windows
from biotune.tasks.ner.tagger import Tagger
from biotune.models.backbones import load_tokenizer
from tests.conftest import _sentences


@pytest.fixture(scope="module")
def aligner(word_backbone: Path) -> Aligner:
    return Aligner(load_tokenizer(str(word_backbone)), max_length=32)


def corpus() -> list[list[str]]:
    long = [w for tokens, _ in _sentences(6, seed=8) for w in tokens]  # longer than one window
    return [tokens for tokens, _ in _sentences(9, seed=5)] + [long] + [tokens for tokens, _ in _sentences(4, seed=6)]


def test_packed_inputs_keep_every_word_at_its_first_subword(aligner: Aligner) -> None:
    sentences = corpus()
    windows = aligner.windows(sentences)
    packed = pack_windows(windows, aligner)
    assert len(packed) < len(windows)
    owned = {}
    for p in packed:
        assert len(p.input_ids) <= aligner.max_length
        assert p.input_ids[: len(aligner.prefix_ids)] == aligner.prefix_ids
        assert p.input_ids[len(p.input_ids) - len(aligner.suffix_ids):] == aligner.suffix_ids
        for window, positions in p.owned():
            for k, pos in enumerate(positions):
                assert p.input_ids[pos] == window.input_ids[window.positions[k]]
                word = (window.sentence_index, window.own_start + k)
                assert word not in owned
                owned[word] = pos
    assert len(owned) == sum(len(s) for s in sentences)
    members = [w.sentence_index for p in packed for w in p.members]
    assert members == sorted(members), "packing keeps input order"


def test_labels_of_a_packed_input(aligner: Aligner) -> None:
    sentences = [["aspirin", "and", "tremor"], ["heparin", "."]]
    (p,) = pack_windows(aligner.windows(sentences), aligner)
    labels = p.labels([[1, 0, 3], [1, 0]])
    assert [x for x in labels if x != IGNORE_INDEX] == [1, 0, 3, 1, 0]


def test_disabled_or_different_keys_do_not_pack(aligner: Aligner) -> None:
    windows = aligner.windows(corpus())
    assert [p.members for p in pack_windows(windows, aligner, enabled=False)] == [(w,) for w in windows]
    by_parity = pack_windows(windows, aligner, key=lambda w: w.sentence_index % 2)
    assert all(len(p.members) == 1 for p in by_parity)


def test_packed_tagger_is_batch_size_invariant_and_covers_every_word(trained_run) -> None:
    tagger = Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32", pack=True)
    sentences = corpus()
    together = tagger.word_log_probs(sentences)
    tagger.batch_size = 1
    small = tagger.word_log_probs(sentences)
    for a, b in zip(together, small):
        np.testing.assert_allclose(a, b, atol=1e-4)
        assert a.shape[0] and np.all(a < 0)  # every word got log-probabilities
    alone = Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32", pack=False).word_log_probs(sentences[:1])
    np.testing.assert_allclose(tagger.word_log_probs(sentences[:1])[0], alone[0], atol=1e-4)


def test_training_with_packing_records_it_in_the_checkpoint(word_backbone: Path, toy_corpus: Path, tmp_path: Path) -> None:
    from biotune.config import validate
    from biotune.training.train import train

    cfg = validate({"name": "packed", "output_dir": str(tmp_path),
                    "model": {"backbone": str(word_backbone), "max_length": 32, "dropout": 0.1, "pack_sentences": True},
                    "data": {"corpus": str(toy_corpus)},
                    "training": {"epochs": 3, "learning_rate": 5e-3, "batch_size": 4, "warmup": 0.0, "bf16": False}},
                   "test")
    run = train(cfg)
    assert run.summary["train_features"] < run.summary["train_examples"]
    assert Tagger.from_checkpoint(run.paths.best_model).pack is True
    assert run.results["test"].micro.f1 > 0.8


def test_packed_tagging_of_documents_never_crosses_documents(trained_run) -> None:
    from biotune.tasks.ner.annotate import tag_documents, text_document

    tagger = Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32", pack=True)
    texts = ["The patient developed acute bleeding after heparin.", "Cisplatin and severe nephrotoxicity.",
             "Naloxone and asthma. Lithium was given."]
    documents = [text_document(str(i), text) for i, text in enumerate(texts)]
    together = tagger.word_log_probs([["heparin", "."], ["asthma"], ["lithium", "."]], groups=[0, 1, 1])
    assert np.allclose(together[0], tagger.word_log_probs([["heparin", "."]])[0], atol=1e-5)
    assert not np.allclose(together[1], tagger.word_log_probs([["asthma"]])[0], atol=1e-5), "same group: packed"
    for doc, tagged in zip(documents, tag_documents(tagger, documents)):
        (alone,) = tag_documents(tagger, [doc])
        assert [(a.start_char, a.end_char, a.type) for a in tagged.annotations] == \
               [(a.start_char, a.end_char, a.type) for a in alone.annotations]
        assert [a.score for a in tagged.annotations] == pytest.approx([a.score for a in alone.annotations], abs=1e-5)
