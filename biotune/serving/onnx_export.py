"""A saved model of any task as an ONNX folder, checked against the PyTorch model it came from.

`biotune export MODEL_DIR --format onnx [--int8]` writes, into one new folder:

- ``model.onnx``: the task's network from token ids to its logits (NER's per-token tag scores,
  RE's and the text classifiers' per-input class scores, over [CLS] or the mean-pooling head's
  masked mean, QA's start/end scores, similarity's score), batch and sequence length dynamic, exported with torch's dynamo exporter
  (``torch.onnx.export(..., dynamo=True)``; the TorchScript tracer bakes the sample's padding into
  BERT's attention mask, and its logits then differ wherever a batch is padded);
- ``model.int8.onnx`` with ``--int8``: onnxruntime's dynamic quantisation (int8 weights of every
  MatMul, activations quantised per batch), the ONNX twin of biotune's ``--precision int8``;
- ``config.json`` (labels in ``id2label``, and ``biotune``: the task, its head, a CRF's scores,
  RE's markers) and the tokenizer, so the folder is self-describing, as a Hugging Face folder is;
- ``onnx_report.json``: the check below.

The check runs the PyTorch model and each ONNX file on the same sample (built-in sentences, or a
text file) and reports, per output, the largest absolute logit difference and the share of
decisions that agree: the argmax per real token (token-level outputs) or per input (sequence
outputs), the sign per label for a multi-label model; a single-score output (similarity) has
no decision, only the difference. The check compares two implementations of one function, so
the inputs need not be meaningful: RE's `entity_start` head reads its two marker positions
from `entity_starts`, which the sample points at its first and last word pieces, and the similarity
`biencoder` head reads a second sentence alone (`input_ids_2`, ...), for which the sample, rotated
by one, serves again.

What the graph leaves out is what biotune does around the network: word-to-subword alignment,
windows, BIO repair, a CRF's Viterbi decoding (its scores are in ``config.json``), RE's marking
of entities, QA's answer search. A runtime that reads the folder reproduces biotune's
predictions by doing those steps itself, as `bench/onnx_speed.py` does for NER tagging.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biotune.io import check_output_folder
from biotune.errors import BiotuneError
from biotune.models.checkpoints import check_checkpoint
from biotune.tasks import checkpoint_task, get_task

MODEL_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
REPORT_FILE = "onnx_report.json"
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # what a tokenizer gives and an encoder reads
ENTITY_STARTS = "entity_starts"  # RE's entity_start head: (batch, 2) marker positions
SECOND_TEXT = "_2"  # suffix of the token inputs of a second text read alone (the similarity bi-encoder's sentence2)
TOKEN_SCORES = ("start_logits", "end_logits")  # one score per token (extractive QA): an input's decision is its best token
OPSET = 18  # the dynamo exporter's own default; onnxruntime's quantiser and CPU kernels take it
# The sample the check runs when none is given: plain and awkward text (unicode, a long word,
# a one-word line), lengths far apart so that the batch is padded.
SAMPLE_TEXTS = (
    "Cisplatin-induced nephrotoxicity was reduced by co-administration of amifostine in rats.",
    "The patient developed severe hypotension after naloxone.",
    "Warfarin",
    "Mutations in BRCA1 and BRCA2 increase the risk of breast and ovarian cancer (\u223C10-fold).",
    "Lithium\u200b treatment caused tremor \U0001F9EA and polyuria in 12 of 40 patients "
    "(pneumonoultramicroscopicsilicovolcanoconiosis excluded).",
    "Heparin",
)

log = logging.getLogger("biotune")


@dataclass(frozen=True)
class OutputCheck:
    """One ONNX output against PyTorch's on the sample: `decisions` compared, the share that
    agree (None: a single-score output has no decision), and the largest absolute difference."""

    output: str
    decisions: int
    agreement: float | None
    max_abs_diff: float


@dataclass(frozen=True)
class OnnxExport:
    """What `export_onnx` wrote: the folder, the task, each ONNX file's checks by file name, the report."""

    folder: Path
    task: str
    checks: dict[str, list[OutputCheck]]
    report: Path


def default_output(model_dir: str | Path) -> Path:
    """`<MODEL_DIR>-onnx` beside the model folder: the run folder's `best_model/` stays as training left it."""
    folder = Path(model_dir)
    return folder.parent / f"{folder.name}-onnx"


def export_onnx(model_dir: str | Path, out: str | Path | None = None, int8: bool = False,
                sample: str | Path | None = None, overwrite: bool = False) -> OnnxExport:
    """Export the saved model folder `model_dir` (any task) to ONNX in `out` and check it.

    `out` defaults to `default_output(model_dir)`; it must not exist unless `overwrite`. `sample`
    is a text file, one input per non-blank line (at least two), that the check runs instead of
    the built-in sentences. The folder is written under a temporary name and renamed, so an
    interrupted export leaves no half folder. Raises `BiotuneError` naming the folder or file.
    """
    folder = check_checkpoint(model_dir)
    target = Path(out) if out is not None else default_output(folder)
    check_output_folder(target, [folder], "--out", overwrite)
    texts = _sample_texts(sample)
    task = checkpoint_task(folder)
    bundle = get_task(task).load(folder)
    model = bundle.model.float().eval()
    inputs = _model_inputs(model, bundle.tokenizer, texts)
    outputs = _logit_names(model, inputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _export(model, inputs, outputs, staging / MODEL_FILE)
        files = [MODEL_FILE]
        if int8:
            _quantize(staging / MODEL_FILE, staging / INT8_FILE)
            files.append(INT8_FILE)
        reference = _torch_outputs(model, inputs, outputs)
        checks = {name: _check(staging / name, inputs, reference, model.config) for name in files}
        model.config.save_pretrained(staging)
        bundle.tokenizer.save_pretrained(staging)
        report = {"model": str(folder), "task": task, "sample_inputs": len(texts), "inputs": list(inputs),
                  "outputs": outputs, "opset": OPSET,
                  "checks": {name: [asdict(check) for check in found] for name, found in checks.items()}}
        (staging / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return OnnxExport(target, task, checks, target / REPORT_FILE)


def _sample_texts(sample: str | Path | None) -> list[str]:
    if sample is None:
        return list(SAMPLE_TEXTS)
    path = Path(sample)
    if not path.is_file():
        raise BiotuneError(f"--sample {path}: no such file")
    texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(texts) < 2:
        raise BiotuneError(f"--sample {path}: needs at least 2 non-blank lines (one input each), "
                           f"so that batch size and length export as dynamic; it has {len(texts)}")
    return texts


def _model_inputs(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str]) -> dict[str, torch.Tensor]:
    """The sample as the model's own keyword inputs, in its forward's order, padded to one batch; a model that
    also reads a second text alone (inputs suffixed `SECOND_TEXT`) gets the sample rotated by one as that text."""
    accepted = inspect.signature(model.forward).parameters
    limit = getattr(model.config, "max_position_embeddings", None)

    def encode(batch: Sequence[str], suffix: str) -> dict[str, torch.Tensor]:
        encoded = tokenizer(list(batch), padding=True, truncation=limit is not None, max_length=limit,
                            return_tensors="pt")
        return {f"{name}{suffix}": encoded[name] for name in TOKEN_INPUTS if name in encoded}

    found = encode(texts, "")
    if f"input_ids{SECOND_TEXT}" in accepted:
        found |= encode([*texts[1:], texts[0]], SECOND_TEXT)
    inputs = {name: found[name] for name in accepted if name in found}
    if ENTITY_STARTS in accepted:
        last = found["attention_mask"].sum(dim=1) - 2  # the last word piece before [SEP]
        inputs[ENTITY_STARTS] = torch.stack([torch.ones_like(last), last.clamp(min=1)], dim=1)  # (batch, 2)
    return inputs


def _logit_names(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> list[str]:
    """The outputs worth exporting: every `*logits` field of the model's output, in its order."""
    with torch.inference_mode():
        found = model(**inputs)
    names = [name for name in found.keys() if name.endswith("logits")]
    if not names:
        raise BiotuneError(f"{type(model).__name__} gives no logits ({', '.join(found.keys())}): nothing to export")
    return names


class _Logits(torch.nn.Module):
    """The model as a function of positional tensors to a tuple of its logits: what ONNX exports."""

    def __init__(self, model: torch.nn.Module, inputs: Sequence[str], outputs: Sequence[str]) -> None:
        super().__init__()
        self.model, self.inputs, self.outputs = model, tuple(inputs), tuple(outputs)

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        found = self.model(**dict(zip(self.inputs, tensors)))
        return tuple(found[name] for name in self.outputs)


def _export(model: torch.nn.Module, inputs: dict[str, torch.Tensor], outputs: list[str], path: Path) -> None:
    """Batch and length dynamic, the length up to the model's positions (the exporter proves no more); a second
    text's length is its own."""
    positions = getattr(model.config, "max_position_embeddings", None)
    batch = torch.export.Dim("batch")
    lengths = {suffix: torch.export.Dim(f"sequence{suffix}", max=positions or None) for suffix in ("", SECOND_TEXT)}
    shapes = tuple({0: batch} if name == ENTITY_STARTS else
                   {0: batch, 1: lengths[SECOND_TEXT if name.endswith(SECOND_TEXT) else ""]} for name in inputs)
    quiet = io.StringIO()  # the exporter prints its progress; a failure's message carries what matters
    try:
        with contextlib.redirect_stdout(quiet):
            torch.onnx.export(_Logits(model, list(inputs), outputs).eval(), tuple(inputs.values()), str(path),
                              input_names=list(inputs), output_names=outputs, dynamo=True,
                              dynamic_shapes=(shapes,), opset_version=OPSET, verbose=False)
    except Exception as error:  # the exporter raises many types; its cause says what failed, in its first line
        cause = str(error.__cause__ or error).strip()
        raise BiotuneError(f"cannot export {type(model).__name__} to ONNX: "
                           f"{cause.splitlines()[0] if cause else type(error).__name__}") from None


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)


def _torch_outputs(model: torch.nn.Module, inputs: dict[str, torch.Tensor], outputs: list[str]) -> list[np.ndarray]:
    with torch.inference_mode():
        found = model(**inputs)
    return [found[name].float().numpy() for name in outputs]


def onnx_session(path: str | Path) -> Any:
    """An onnxruntime CPU session over `path`: what the check and the benchmark run."""
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _check(path: Path, inputs: dict[str, torch.Tensor], reference: list[np.ndarray], config: Any) -> list[OutputCheck]:
    session = onnx_session(path)
    names = [output.name for output in session.get_outputs()]
    found = session.run(None, {name: tensor.numpy() for name, tensor in inputs.items()})
    mask = inputs["attention_mask"].numpy().astype(bool)  # (batch, tokens): real tokens, padding excluded
    multi_label = getattr(config, "problem_type", None) == "multi_label_classification"
    checks = []
    for name, ours, theirs in zip(names, found, reference, strict=True):
        diff = float(np.abs(ours[mask] - theirs[mask] if ours.ndim == 3 or name in TOKEN_SCORES
                            else ours - theirs).max())
        if ours.ndim == 3:  # (batch, tokens, labels): a decision per real token
            ours, theirs = ours[mask], theirs[mask]
        elif name in TOKEN_SCORES:  # (batch, tokens): a decision per input, the best real token
            ours, theirs = np.where(mask, ours, -np.inf), np.where(mask, theirs, -np.inf)
        if multi_label:
            agree = (ours > 0) == (theirs > 0)
        elif ours.shape[-1] > 1:
            agree = ours.argmax(-1) == theirs.argmax(-1)
        else:
            checks.append(OutputCheck(name, 0, None, diff))
            continue
        checks.append(OutputCheck(name, int(agree.size), float(agree.mean()), diff))
    return checks
