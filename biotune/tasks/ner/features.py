"""Sentences -> training features (windows with first-subword labels and a loss weight)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from biotune.errors import BiotuneError
from biotune.formats.sentence import Sentence
from biotune.tasks.ner.align import Aligner
from biotune.tasks.ner.context import document_keys, model_inputs


def label_space(splits: Sequence[Sequence[Sentence]], extra_types: Sequence[str] = ()) -> list[str]:
    """`O` then `B-X`, `I-X` for every entity type seen in the splits or in `extra_types`, types sorted.

    `extra_types` are the types the sources declare: a declared type with no span in the data
    still gets labels, so sources with different schemas share one label space.
    """
    types = sorted({tag[2:] for split in splits for s in split for tag in (s.tags or []) if tag != "O"} | set(extra_types))
    return ["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")]


def o_alternatives(annotated: frozenset[str] | None, label2id: Mapping[str, int], marginal: bool) -> list[int]:
    """Label ids a word tagged O may truly carry, given the types its source annotates.

    A source that does not annotate type X says nothing about X: its O means "O or some X".
    With `marginal`, the loss maximises the probability of that whole set (a partial-label
    loss), so a silver Gene corpus does not teach that every chemical is O. Without it, or for
    a source that annotates every type, the set is just O (plain cross-entropy).
    """
    if not marginal or annotated is None:
        return [label2id["O"]]
    return [i for label, i in label2id.items() if label == "O" or label[2:] not in annotated]


def encode(sentences: Sequence[Sentence], aligner: Aligner, label2id: Mapping[str, int],
           marginal_o: bool = True, context: int = 0) -> list[dict[str, object]]:
    """One feature dict per model input: `input_ids`, `labels` (first subword of owned words), `weight`, `o_allowed`.

    With `context`, each input also holds up to that many subwords of the sentence's document
    neighbours on each side, unlabelled (`biotune.tasks.ner.context`, the rule the tagger uses).

    `weight` and `o_allowed` travel with every example into the loss (see `NerTrainer.compute_loss`).
    """
    for s in sentences:
        if s.tags is None:
            raise BiotuneError(f"sentence {s.id}: training data must be tagged")
        unknown = {t for t in s.tags if t not in label2id}
        if unknown:
            raise BiotuneError(f"sentence {s.id}: tags {sorted(unknown)} are not in the label space {list(label2id)}")
    features: list[dict[str, object]] = []
    for window in model_inputs([s.tokens for s in sentences], document_keys(sentences), aligner, context):
        s = sentences[window.sentence_index]
        features.append(
            {
                "input_ids": window.input_ids,
                "labels": window.labels([label2id[t] for t in s.tags or []]),
                "weight": float(s.weight),
                "o_allowed": o_alternatives(s.annotated_types, label2id, marginal_o),
            }
        )
    return features


class PaddingCollator:
    """Pads a batch to its longest window (dynamic padding), stacks weights and O alternatives."""

    def __init__(self, pad_id: int, num_labels: int) -> None:
        self.pad_id = pad_id
        self.num_labels = num_labels

    def __call__(self, batch: Sequence[Mapping[str, object]]) -> dict[str, object]:
        import torch

        width = max(len(f["input_ids"]) for f in batch)  # type: ignore[arg-type]
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, f in enumerate(batch):
            n = len(f["input_ids"])  # type: ignore[arg-type]
            ids[row, :n] = torch.tensor(f["input_ids"])
            labels[row, :n] = torch.tensor(f["labels"])
            mask[row, :n] = 1
        weight = torch.tensor([float(f["weight"]) for f in batch])  # type: ignore[arg-type]
        o_allowed = torch.zeros((len(batch), self.num_labels), dtype=torch.bool)  # (batch, labels)
        for row, f in enumerate(batch):
            o_allowed[row, f["o_allowed"]] = True  # type: ignore[index]
        return {"input_ids": ids, "attention_mask": mask, "labels": labels, "weight": weight, "o_allowed": o_allowed}
