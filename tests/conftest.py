"""Shared fixtures: a tiny random BERT backbone (word-level vocabulary) and a tiny tagged corpus, built per session.

Everything is made here, offline, in a temporary folder: training-logic tests take seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CHEMICALS = ["aspirin", "cisplatin", "heparin", "lithium", "naloxone", "warfarin"]
DISEASES = ["hypotension", "nephrotoxicity", "bleeding", "tremor", "seizures", "asthma"]
FILLER = ["the", "patient", "developed", "after", "treatment", "with", "and", "was", "given", "severe", "acute", "."]


def _sentences(n: int, seed: int) -> list[tuple[list[str], list[str]]]:
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        chem, dis = rng.choice(CHEMICALS), rng.choice(DISEASES)
        if rng.random() < 0.5:
            tokens = ["the", "patient", "developed", "acute", dis, "after", chem, "."]
            tags = ["O", "O", "O", "B-Disease", "I-Disease", "O", "B-Chemical", "O"]
        else:
            tokens = [chem, "and", "severe", dis, "was", "given", "."]
            tags = ["B-Chemical", "O", "B-Disease", "I-Disease", "O", "O", "O"]
        out.append((tokens, tags))
    return out


def write_tsv(path: Path, sentences: list[tuple[list[str], list[str]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for tokens, tags in sentences:
            for token, tag in zip(tokens, tags):
                f.write(f"{token}\t{tag}\n")
            f.write("\n")
    return path


@pytest.fixture(scope="session")
def toy_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train/devel/test TSV files of templated Chemical/Disease sentences."""
    folder = tmp_path_factory.mktemp("toy_corpus")
    write_tsv(folder / "train.tsv", _sentences(64, seed=1))
    write_tsv(folder / "devel.tsv", _sentences(16, seed=2))
    write_tsv(folder / "test.tsv", _sentences(16, seed=3))
    return folder


# --- NER core fixtures -------------------------------------------------------------------
# Tiny models on a shared 2-core machine: one intra-op thread avoids OpenMP spin-waiting,
# which makes a 2-thread run up to 30x slower when another process holds a core.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def build_word_backbone(folder: Path) -> Path:
    """Like `tiny_backbone`, but the tokenizer really holds the vocabulary.

    transformers 5 names the vocabulary argument `vocab` (a path or a dict); `vocab_file=` is
    swallowed by **kwargs and the tokenizer keeps only its 5 special tokens, so every word
    becomes [UNK]. Here whole toy words are one subword and other words split into letters.
    """
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *CHEMICALS, *DISEASES, *FILLER,
             *"abcdefghijklmnopqrstuvwxyz0123456789", *[f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789"]]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True)
    assert len(tokenizer) == len(dict.fromkeys(vocab))
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def word_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-hidden random BERT whose word-level vocabulary covers the toy corpus."""
    return build_word_backbone(tmp_path_factory.mktemp("word_bert"))


def tiny_experiment(backbone: Path, corpus: Path, output_dir: Path, sources: list[dict] | None = None,
                    **training: object):
    """An `ExperimentConfig` that trains `backbone` on a toy corpus folder (or `sources`) in seconds."""
    from biotune.config import validate

    settings = {"epochs": 4, "learning_rate": 5e-3, "batch_size": 8, "warmup": 0.0, "seed": 42, "bf16": False,
                "logging_steps": 1000, **training}
    return validate({"name": "toy", "output_dir": str(output_dir),
                     "model": {"backbone": str(backbone), "max_length": 32, "dropout": 0.1},
                     "data": {"corpus": str(corpus)}, "training": settings, "sources": sources or []}, "test")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path, toy_corpus: Path):
    """One finished `train()` run on the toy corpus (4 epochs, tiny backbone): its TrainResult."""
    from biotune.experiments.run import train

    return train(tiny_experiment(word_backbone, toy_corpus, tmp_path_factory.mktemp("trained_run")))


@pytest.fixture()
def isolated_data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the user's data or cache folders: `$BIOTUNE_DATA_DIR` unset, the cache in `tmp_path`."""
    monkeypatch.delenv("BIOTUNE_DATA_DIR", raising=False)
    monkeypatch.setenv("BIOTUNE_CACHE_DIR", str(tmp_path / "cache"))
