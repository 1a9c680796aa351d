"""What every task's checkpoint must hold before it loads, checked in one place.

A task's model folder is a standard Hugging Face folder; these checks run before any weights
load, so a missing tokenizer or truncated weights is one error naming the folder rather than a
model that silently tags with an empty vocabulary.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors import SafetensorError

from biotune.errors import BiotuneError

if TYPE_CHECKING:
    from transformers import PretrainedConfig

# Config attributes that the classification heads of transformers read for the dropout in
# front of the classifier (BERT/RoBERTa/ELECTRA/DeBERTa use the first, ALBERT the second).
DROPOUT_KEYS = ("classifier_dropout", "classifier_dropout_prob")
# Config attributes holding the dropout on attention probabilities (BERT/RoBERTa/ELECTRA/DeBERTa,
# then DistilBERT/ModernBERT); see `set_attention_dropout`.
ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout")

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model",
                   "sentencepiece.bpe.model")
# What a damaged weights file raises while loading (truncated safetensors, a cut-off pickle or zip).
BROKEN_WEIGHTS = (OSError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError, SafetensorError)


def check_checkpoint(checkpoint: str | Path) -> Path:
    """The checkpoint folder, or a `BiotuneError` naming it and what it lacks.

    Checked before anything loads: a folder, with `config.json`, a weights file and the
    tokenizer files it was trained with (without them transformers would silently build an
    empty-vocabulary tokenizer from the model type, and every word would become [UNK]).
    """
    folder = Path(checkpoint)
    if not folder.exists():
        raise BiotuneError(f"checkpoint {folder} does not exist")
    if not folder.is_dir():
        raise BiotuneError(f"checkpoint {folder} is a file; pass the model folder (a run's best_model/)")
    if not (folder / "config.json").is_file():
        raise BiotuneError(f"checkpoint {folder} has no config.json: not a model folder "
                           "(a run's model is checkpoints/<name>/seed_<seed>/best_model/)")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise BiotuneError(f"checkpoint {folder} has no weights file ({' or '.join(WEIGHT_FILES[::2])})")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise BiotuneError(f"checkpoint {folder} has no tokenizer (tokenizer.json / tokenizer_config.json); "
                           "save the tokenizer it was trained with into the folder")
    return folder


def set_attention_dropout(config: PretrainedConfig, probability: float) -> None:
    """Set the encoder's dropout on attention probabilities (`model.attention_dropout`) before it is built.

    Why it is its own setting: PyTorch's scaled-dot-product attention runs the fused (flash) kernel,
    which never holds the (batch, heads, length, length) score matrix, only without dropout; with any
    attention dropout it falls back to the matrix path. Measured on this project's CPU for the bundled
    MiniLM at 32 windows of 512 subwords: one training step peaked at 10.1 GiB with the checkpoint's 0.1
    and at 2.7 GiB with 0, and took about 3.7 times as long."""
    for key in ATTENTION_DROPOUT_KEYS:
        if hasattr(config, key):
            setattr(config, key, probability)
