"""Tiny QA data built from the shared toy vocabulary (`tests.conftest`): every word is one subword
of the word-level test backbone, so window arithmetic in the tests is exact."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests.conftest import CHEMICALS, DISEASES

FILLER_SENTENCE = "the patient was given treatment ."


def toy_context(disease: str, chemical: str, position: int, filler: int) -> str:
    """`filler` filler sentences with the answer sentence at `position` among them."""
    sentences = [FILLER_SENTENCE] * filler
    sentences.insert(position, f"the patient developed acute {disease} after {chemical} .")
    return " ".join(sentences)


def squad_items(n: int, seed: int, filler: int = 4) -> list[dict]:
    """SQuAD items asking what the patient developed; the answer is ``acute <disease>`` (two subwords,
    so a window boundary can fall inside it)."""
    rng = random.Random(seed)
    items = []
    for k in range(n):
        disease, chemical = rng.choice(DISEASES), rng.choice(CHEMICALS)
        context = toy_context(disease, chemical, rng.randrange(filler + 1), filler)
        start = context.index(f"acute {disease}")
        items.append({"context": context, "qas": [{"id": f"q{seed}x{k}_001", "question": "patient developed",
                                                   "answers": [{"text": f"acute {disease}", "answer_start": start}]}]})
    return items


def write_squad(path: Path, paragraphs: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "toy", "data": [{"title": "toy", "paragraphs": paragraphs}]}), encoding="utf-8")
    return path


def write_gold(path: Path, questions: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"questions": questions}), encoding="utf-8")
    return path


def list_questions(n: int, seed: int) -> list[dict]:
    """BioASQ gold list questions: which drugs were given; two or three answers spread over two snippets."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        drugs = rng.sample(CHEMICALS, rng.choice((2, 3)))
        snippets = [f"the patient was given {drugs[0]} and {drugs[1]} .",
                    f"the patient developed acute {rng.choice(DISEASES)} after {drugs[-1]} ."]
        out.append({"id": f"l{seed}x{k}", "type": "list", "body": "patient given", "exact_answer": [[d] for d in drugs],
                    "snippets": [{"text": s} for s in snippets]})
    return out
