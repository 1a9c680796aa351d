"""The Tagger: one object that turns token lists into tags and scored spans.

Training-time evaluation, `biotune evaluate`, `biotune predict` and the library API all go
through it, so they share the training alignment exactly (`biotune.tasks.ner.align`): a word's
prediction is its first subword's, later subwords never override it, long sentences are
windowed, never truncated.

Speed comes from inputs sorted by length, so a batch carries almost no padding, batches run
under `torch.inference_mode`, and the numeric precision (`biotune.models.precision`): bf16
autocast by default, bf16 weights (`Tagger.from_checkpoint`'s default where the hardware has
bf16) or int8 on request.

Document context: a checkpoint trained with `ner.context` records it, and the tagger adds the
same context by default: given each sentence's document (`documents`), a sentence's input also
holds its neighbours in the list from the same document, built by the very function training
used (`biotune.tasks.ner.context.model_inputs`). Its prediction then depends on those
neighbours, never on the batch size or on sentences of other documents.

Decoding (`biotune.tasks.ner.decode.decode_batch`) runs batched in torch on the model's device:
on a GPU the scores are decoded where they are, and on CPU it is faster than the per-sentence
numpy reference (same tags; 3x for a softmax head, 10x with CRF marginals, on 3000 sentences of
5-60 words at one thread), so CPU uses it too.

Span score: the mean, over the span's words, of the probability the model gave to the tag
that decoding chose for the word (softmax head: the word's softmax probability; CRF head: the
tag's marginal probability under the chain).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from biotune.errors import BiotuneError
from biotune.formats.schemes import tags_to_spans
from biotune.formats.sentence import Span
from biotune.models.precision import place
from biotune.tasks.ner.align import Aligner, Window
from biotune.tasks.ner.context import check_context, model_inputs
from biotune.tasks.ner.decode import LearnedScores, decode_batch, transition_mask

log = logging.getLogger("biotune")


def labels_of(model: PreTrainedModel) -> list[str]:
    """The model's label list in id order (from its self-describing config)."""
    id2label = model.config.id2label
    return [id2label[i] for i in range(len(id2label))]


def spans_from_tags(tags: Sequence[str], probs: Sequence[float]) -> list[Span]:
    """Spans of a BIO sequence, scored by the mean of the words' tag probabilities."""
    return [Span(s.start, s.end, s.type, float(np.mean(probs[s.start : s.end]))) for s in tags_to_spans(tags)]


class Tagger:
    """Batched, length-bucketed, windowed token classification with constrained decoding."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        max_length: int | None = None,
        batch_size: int = 32,
        precision: str = "autocast",
        device: torch.device | str | None = None,
        context: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise BiotuneError(f"batch size must be at least 1, got {batch_size}")
        crf = getattr(model, "crf", None)  # read in full precision, before `place` may cast the model
        self.learned = LearnedScores.from_mapping(crf.scores()) if crf is not None else None
        self.model, self.device, self.precision, self.bf16 = place(model, precision, device)
        self.labels = labels_of(model)
        recorded = getattr(model.config, "biotune", None) or {}
        window = max_length or recorded.get("max_length", 128)
        self.context = check_context(recorded.get("context", 0) if context is None else context)
        if recorded.get("pack") and context is None:
            log.warning("this checkpoint was trained with sentence packing, which biotune no longer has; "
                        "it is tagged one sentence at a time (pass context= to add document context)")
        self.aligner = Aligner(tokenizer, window)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.batch_size = batch_size
        self.allowed, self.start = transition_mask(self.labels)

    @classmethod
    def from_checkpoint(cls, path: str | Path, precision: str = "auto", **options: object) -> Tagger:
        """Load a checkpoint folder written by `biotune train` (model + its own tokenizer).

        The Tagger owns the loaded model, so `precision` defaults to `auto` (bf16 weights where
        the hardware has bf16). A folder that is not a usable biotune model is a `BiotuneError`
        naming it and what is wrong (`biotune.tasks.ner.factory.load_model`).
        """
        from biotune.models.backbones import load_tokenizer
        from biotune.tasks.ner.factory import load_model

        return cls(load_model(str(path)), load_tokenizer(str(path)), precision=precision, **options)  # type: ignore[arg-type]

    def _forward(self, batch: Sequence[Window]) -> list[np.ndarray]:
        """Log-probabilities at the owned words' first subwords: one (owned words, labels) array per window."""
        width = max(len(w.input_ids) for w in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        rows: list[int] = []
        cols: list[int] = []
        for row, w in enumerate(batch):
            ids[row, : len(w.input_ids)] = torch.tensor(w.input_ids)
            mask[row, : len(w.input_ids)] = 1
            rows.extend([row] * len(w.positions))
            cols.extend(w.positions)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
        index = (torch.tensor(rows, device=self.device), torch.tensor(cols, device=self.device))
        picked = torch.log_softmax(logits[index].float(), dim=-1).cpu().numpy()  # (owned words, labels)
        bounds = np.cumsum([0] + [len(w.positions) for w in batch])
        return [picked[bounds[k] : bounds[k + 1]] for k in range(len(batch))]

    def word_log_probs(self, token_lists: Sequence[Sequence[str]],
                       documents: Sequence[Hashable | None] | None = None) -> list[np.ndarray]:
        """(words, labels) log-probabilities for every sentence; inputs batched by length.

        `documents[i]` names sentence i's document (None: none); with the tagger's `context`,
        consecutive sentences of one document lend each other context. Without `documents`
        every sentence stands alone.
        """
        windows = model_inputs(token_lists, documents, self.aligner, self.context)
        result = [np.zeros((len(tokens), len(self.labels)), dtype=np.float32) for tokens in token_lists]
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
        for b in range(0, len(order), self.batch_size):
            batch = [windows[i] for i in order[b : b + self.batch_size]]
            for window, lp in zip(batch, self._forward(batch)):
                result[window.sentence_index][window.own_start : window.own_end] = lp
        return result

    def predict(
        self, token_lists: Sequence[Sequence[str]], documents: Sequence[Hashable | None] | None = None
    ) -> list[tuple[list[str], list[Span]]]:
        """Valid BIO tags and scored spans for each sentence (`documents`: see `word_log_probs`)."""
        decoded = decode_batch(self.word_log_probs(token_lists, documents), self.allowed, self.start, self.learned,
                               with_marginals=self.learned is not None, device=self.device)
        out = []
        for path, probs in decoded:
            tags = [self.labels[j] for j in path]
            out.append((tags, spans_from_tags(tags, probs)))
        return out

    def predict_tags(self, token_lists: Iterable[Sequence[str]],
                     documents: Sequence[Hashable | None] | None = None) -> list[list[str]]:
        return [tags for tags, _ in self.predict(list(token_lists), documents)]
