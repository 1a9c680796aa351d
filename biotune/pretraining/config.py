"""Pretraining configs: continued masked-LM pretraining of an encoder on unlabelled text.

Same contract as the experiment configs (`biotune.config`): YAML is read only by
`biotune.config.read_yaml` (so `extends:` works), then validated once into typed pydantic
objects with `extra="forbid"`; an unknown key is a one-line error that names it with the
closest valid key. Every key has a default documented in `Field(description=...)`, except the
sources themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from biotune.config import apply_overrides, read_yaml, validate_model
from biotune.registry import did_you_mean

SOURCE_FORMATS = ("text", "jsonl", "pubtator", "bioc", "bioc-xml", "bioc-json")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextSource(_Section):
    """One collection of unlabelled text: a file or folder in a document format, or a corpus split."""

    path: str | None = Field(None, description="a file, or a folder whose files are all read (sorted by name)")
    corpus: str | None = Field(None, description="<corpus>:<split> of a registry corpus or corpus folder (e.g. "
                               "bc5cdr:train): the text of its examples (NER sentences, RE sentences, QA contexts)")
    format: str | None = Field(None, description="text (one document a line) | jsonl | pubtator | bioc (bioc-xml "
                               "or bioc-json by extension); default: from the file extension")
    text_field: str | None = Field(None, description="jsonl: the field holding each line's text (default: biotune "
                                   "document records: text, title/abstract or passages)")
    data_dir: str | None = Field(None, description="corpus: the folder holding its corpus folder (default: the "
                                 "config's data_dir)")
    name: str | None = Field(None, description="name in the record (default: the path or corpus split)")

    @model_validator(mode="after")
    def _one_location(self) -> TextSource:
        if (self.path is None) == (self.corpus is None):
            raise ValueError("give exactly one of path and corpus")
        if self.corpus is not None and (self.format is not None or self.text_field is not None):
            raise ValueError("format and text_field are for path sources; a corpus split is read by its task")
        if self.corpus is None and self.data_dir is not None:
            raise ValueError("data_dir is for corpus sources")
        if self.corpus is not None and ":" not in self.corpus:
            raise ValueError(f"corpus {self.corpus!r} must be <corpus>:<split>, e.g. {self.corpus}:train")
        if self.format is not None and self.format not in SOURCE_FORMATS:
            raise ValueError(f"unknown format {self.format!r}{did_you_mean(self.format, SOURCE_FORMATS)}; "
                             f"choose one of: {', '.join(SOURCE_FORMATS)}")
        if self.text_field is not None and self.format not in (None, "jsonl"):
            raise ValueError("text_field is read only from jsonl files")
        return self

    @property
    def label(self) -> str:
        return self.name or self.corpus or str(self.path)


class DevConfig(_Section):
    """Held-out text for the masked-LM loss and perplexity measured before and after pretraining."""

    sources: list[TextSource] = Field(default_factory=list, description="held-out text (e.g. a dev split); empty = "
                                      "no held-out measure")
    max_sequences: int = Field(1000, ge=1, description="measure on the first N packed sequences of the dev text")
    batch_size: int = Field(64, ge=1, description="sequences per batch when measuring")


class PretrainingTrainingConfig(_Section):
    epochs: float = Field(1.0, gt=0, allow_inf_nan=False, description="passes over the sources (ignored when "
                          "max_steps is set)")
    max_steps: int | None = Field(None, ge=1, description="optimizer steps; null = epochs x sequences / batch_size")
    learning_rate: float = Field(5e-5, gt=0, allow_inf_nan=False, description="peak AdamW learning rate (linear decay)")
    batch_size: int = Field(32, ge=1, description="sequences per step")
    warmup: float = Field(0.06, ge=0, lt=1, allow_inf_nan=False, description="fraction of steps with linear warm-up "
                          "(RoBERTa's 6%)")
    head_warmup_steps: int = Field(0, ge=0, description="train only the masked-LM head (encoder and embeddings "
                                   "frozen) for the first N steps: a fresh head first learns to read the encoder, "
                                   "so its random gradients do not move the encoder; counted in max_steps")
    weight_decay: float = Field(0.01, ge=0, allow_inf_nan=False, description="AdamW weight decay")
    max_grad_norm: float = Field(1.0, gt=0, allow_inf_nan=False, description="gradient clipping")
    seed: int = Field(42, ge=0, description="random seed: head init, data order, masks, dropout")
    bf16: Literal["auto", True, False] = Field("auto", description="bf16 autocast: auto = where the CPU/GPU supports it")
    checkpoint_steps: int = Field(500, ge=1, description="save a resumable checkpoint every N steps; a killed run "
                                  "rerun with the same command continues from the last one")
    logging_steps: int = Field(50, ge=1, description="log loss and tokens/s every N steps")
    shuffle_buffer: int = Field(1000, ge=1, description="packed sequences held for the seeded shuffle (bounded "
                                "memory: the collection is streamed, never loaded whole)")


class PretrainingConfig(_Section):
    name: str = Field("pretrain", description="run name: the model goes to <output_dir>/<name>")
    output_dir: str = Field("outputs/pretrain", description="root of pretraining runs")
    backbone: str = Field("minilm", description="hub id or local folder of the encoder; 'minilm' = the bundled MiniLM-L6")
    data_dir: str | None = Field(None, description="folder holding corpus folders for corpus sources (else "
                                 "$BIOTUNE_DATA_DIR, then the download cache)")
    sources: list[TextSource] = Field(..., min_length=1, description="the pretraining text")
    dev: DevConfig = Field(default_factory=DevConfig)
    exclude_test_of: list[str] = Field(default_factory=list, description="experiment configs (e.g. the ones the "
                                       "pretrained model will be fine-tuned with) whose data.test splits are refused "
                                       "as sources too, besides every registered corpus's test split found locally")
    max_length: int = Field(128, ge=8, description="sequence window in subwords incl. special tokens; a longer "
                            "document becomes several sequences")
    mlm_probability: float = Field(0.15, gt=0, lt=1, allow_inf_nan=False, description="fraction of words masked")
    whole_word_mask: bool = Field(True, description="mask every subword of a chosen word together (false: subwords "
                                  "are chosen one by one)")
    training: PretrainingTrainingConfig = Field(default_factory=PretrainingTrainingConfig)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not value or "/" in value or value.startswith("."):
            raise ValueError("must be a plain folder name")
        return value

    @model_validator(mode="after")
    def _head_warmup_within_steps(self) -> PretrainingConfig:
        t = self.training
        if t.max_steps is not None and t.head_warmup_steps >= t.max_steps:
            raise ValueError(f"training.head_warmup_steps ({t.head_warmup_steps}) must be below training.max_steps "
                             f"({t.max_steps}): the encoder would never train")
        return self

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def validate_pretraining(data: dict[str, Any], origin: str) -> PretrainingConfig:
    """Validate a raw mapping; one line naming every bad key and the file."""
    return validate_model(PretrainingConfig, data, origin, "pretraining config")


def load_pretraining_config(path: str | Path, overrides: dict[str, Any] | None = None) -> PretrainingConfig:
    """Load (with `extends:`), apply dotted overrides, validate. `name` defaults to the file stem."""
    path = Path(path)
    data = read_yaml(path)
    data.setdefault("name", path.stem)
    return validate_pretraining(apply_overrides(data, overrides or {}), str(path))
