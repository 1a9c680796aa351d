"""Integration: the bundled MiniLM learns a small synthetic corpus well, and its checkpoint loads in `pipeline`.

The corpus is learnable only through the words themselves: entities (one-word chemicals, one- or
two-word diseases) sit at random positions among random filler, so neither position nor sentence
shape gives the answer. A broken word-to-subword alignment, a loss that ignores the labels, or
labels that do not reach the model all keep test F1 far below the threshold (training tags shuffled
within each sentence: F1 0.0), while the real pipeline reaches 1.0 in two epochs (0.94 in one).
"""

from __future__ import annotations

import random
from pathlib import Path

from biotune.config import validate
from biotune.experiments.run import train
from tests.conftest import write_tsv

CHEMICALS = ["cisplatin", "heparin", "lithium", "warfarin", "naloxone", "aspirin", "ibuprofen", "tamoxifen"]
DISEASES = [["asthma"], ["seizures"], ["tremor"], ["kidney", "failure"], ["liver", "injury"], ["heart", "attack"]]
FILLER = ["the", "patient", "was", "given", "after", "a", "week", "of", "treatment", "with", "and", "then",
          "developed", "in", "our", "study", "no", "sign", "group", "daily", "dose", "reported"]
# Measured: 1.0 for corpus seeds 1-3 after 2 epochs (0.94 after 1); shuffled tags: 0.0.
MIN_F1 = 0.9


def sentences(n: int, rng: random.Random) -> list[tuple[list[str], list[str]]]:
    """`n` sentences of 4-9 filler words with one chemical and one disease inserted at random places."""
    out = []
    for _ in range(n):
        words = [[word] for word in rng.choices(FILLER, k=rng.randint(4, 9))]
        tags = [["O"] for _ in words]
        for mention, kind in ((rng.choice(DISEASES), "Disease"), ([rng.choice(CHEMICALS)], "Chemical")):
            at = rng.randint(0, len(words))
            words.insert(at, mention)
            tags.insert(at, [f"B-{kind}"] + [f"I-{kind}"] * (len(mention) - 1))
        out.append(([w for ws in words for w in ws] + ["."], [t for ts in tags for t in ts] + ["O"]))
    return out


def corpus(folder: Path, seed: int) -> Path:
    rng = random.Random(seed)
    for split, n in (("train", 96), ("devel", 16), ("test", 48)):
        write_tsv(folder / f"{split}.tsv", sentences(n, rng))
    return folder


def test_minilm_learns_a_synthetic_corpus_and_loads_in_a_pipeline(tmp_path: Path) -> None:
    from transformers import pipeline

    config = validate({"name": "minilm_synthetic", "output_dir": str(tmp_path / "out"),
                       "data": {"corpus": str(corpus(tmp_path / "corpus", seed=1))},
                       "model": {"max_length": 32},
                       "training": {"epochs": 2, "batch_size": 16, "learning_rate": 5e-4, "warmup": 0.0,
                                    "logging_steps": 1000, "bf16": False}},
                      "test")
    result = train(config)
    assert (result.summary["train_examples"], result.summary["epochs_run"]) == (96, 2)
    scores = result.results["test"]
    assert scores.micro.f1 >= MIN_F1, scores.micro
    nlp = pipeline("token-classification", model=str(result.paths.best_model), device=-1,
                   aggregation_strategy="first")
    out = nlp("in our study the patient was given tamoxifen and then developed liver injury .")
    assert [(item["entity_group"], item["word"]) for item in out] == [("Chemical", "tamoxifen"),
                                                                       ("Disease", "liver injury")]
