"""Tiny multi-label data from the shared toy vocabulary (`tests.conftest`): a text's labels are the
cue words it holds, so a test knows every answer.

- BLURB's HoC format (`write_corpus`): each of the ten hallmarks has a cue word.
- JSONL (`write_jsonl`): two labels, every combination, each text its cue word repeated. What the
  tiny random backbone overfits reliably in a few hundred steps: its first token's state barely
  depends on the input at first, and cue words that fill the text give it the most to read;
  with one cue among filler words, or with labels that never occur, it stalls for many epochs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from biotune.tasks.multilabel.reading import HOC_LABELS
from tests.conftest import CHEMICALS, DISEASES

HOC_CUES = {word: k for k, word in enumerate(CHEMICALS[:5] + DISEASES[:5])}  # cue word -> hallmark index
HOC_HEADER = "labels\tsentence\tindex"

JSONL_CUES = {"tremor": "inducing angiogenesis", "aspirin": "resisting cell death"}  # cue word -> label
JSONL_TEXTS = ["heparin heparin bleeding bleeding", "tremor tremor tremor tremor", "aspirin aspirin aspirin aspirin",
               "tremor tremor aspirin aspirin"]  # no label, one, the other, both


def hallmarks(text: str) -> tuple[str, ...]:
    """The hallmarks (in label order) a toy text shows: one per cue word in it."""
    return tuple(HOC_LABELS[k] for k in sorted({HOC_CUES[word] for word in text.split() if word in HOC_CUES}))


def vector(labels: tuple[str, ...]) -> str:
    """HoC's labels cell: ``0_x,1_x,...,9_x``."""
    return ",".join(f"{k}_{int(name in labels)}" for k, name in enumerate(HOC_LABELS))


def hoc_texts() -> list[str]:
    """14 texts: two hallmarks, one (a cue beside warfarin or asthma, which cue nothing) or none."""
    rotated = CHEMICALS[1:] + CHEMICALS[:1]
    return ([f"{chemical} {disease}" for chemical, disease in zip(CHEMICALS, DISEASES)]
            + [f"{disease} {chemical}" for chemical, disease in zip(rotated, DISEASES)] + ["the patient", "treatment"])


def write_hoc(path: Path, texts: list[str], sentences_per_abstract: int = 2, first_pmid: int = 1000) -> Path:
    """A BLURB HoC file: its header, then the texts as abstracts of `sentences_per_abstract` sentences."""
    rows = [f"{vector(hallmarks(text))}\t{text}\t{first_pmid + k // sentences_per_abstract}_s{k % sentences_per_abstract}"
            for k, text in enumerate(texts)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HOC_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def write_corpus(folder: Path) -> Path:
    """A corpus folder: train.tsv, dev.tsv (abstracts of two sentences), test.tsv (of three)."""
    texts = hoc_texts()
    write_hoc(folder / "train.tsv", texts)
    write_hoc(folder / "dev.tsv", texts[::2], first_pmid=2000)
    write_hoc(folder / "test.tsv", texts[1::2], sentences_per_abstract=3, first_pmid=3000)
    return folder


def jsonl_labels(text: str) -> list[str]:
    return sorted({JSONL_CUES[word] for word in text.split() if word in JSONL_CUES})


def write_jsonl(path: Path, texts: list[str], sentences_per_document: int = 1, prefix: str = "t") -> Path:
    """``{"id", "text", "labels"}`` lines, ids ``<prefix><document>_s<sentence>``."""
    lines = [json.dumps({"id": f"{prefix}{k // sentences_per_document}_s{k % sentences_per_document}", "text": text,
                         "labels": jsonl_labels(text)}) for k, text in enumerate(texts)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_config(path: Path, backbone: Path, output_dir: Path, data: dict[str, Any], head: str = "sigmoid",
                 **training: Any) -> Path:
    """A multilabel experiment config on the word-level test backbone (`training` overrides its settings)."""
    settings = {"epochs": 2, "learning_rate": 3.0e-3, "batch_size": 16, "warmup": 0.0, "seed": 7, "bf16": False,
                "logging_steps": 1000, **training}
    config = {"task": "multilabel", "name": "toy_hoc", "output_dir": str(output_dir),
              "model": {"backbone": str(backbone), "head": head, "max_length": 32, "dropout": 0.0}, "data": data,
              "training": settings}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
