"""Featurisation for relation extraction: typed entity markers, token ids, windows, batches.

Marker scheme (Zhou & Chen 2021, "An Improved Baseline for Sentence-level Relation
Extraction", typed entity markers): each argument is wrapped in a start and an end marker
that name its role and its type, ``[E1:CHEMICAL] … [/E1:CHEMICAL]`` for the head (E1, the
first entity in the text) and ``[E2:GENE] … [/E2:GENE]`` for the tail. The markers are added
to the tokenizer as special tokens, so they are one token each and are never normalised
(lower-cased) or split; the `entity_start` head reads the hidden states at the two start
markers. The role is part of the marker so that two entities of one type (DDI's two drugs)
stay apart, and the type is part of it because Zhou & Chen found typed markers the strongest
of their variants.

Pre-masked data: the mask word *is* the entity, so it is wrapped like any mention:
``[E1:GENE] @GENE$ [/E1:GENE]``. The masks seen in training are added as special tokens too
(one token, never ``@ gene $``). Keeping the mask inside the markers, rather than replacing it
by one marker token, keeps a single scheme for masked rows and for real mentions from
documents, where the text between the markers is the entity's words. A combined mask
(``@CHEM-GENE$``: both entities are one mention) gets both marker pairs, nested with E1 outside:
``[E1:CHEMICAL] [E2:GENE] @CHEM-GENE$ [/E2:GENE] [/E1:CHEMICAL]``.

The marked text is a plain string, so a saved `cls` model given that string by
`transformers.pipeline` sees exactly the ids that `featurise` builds.

Windows: nothing is silently truncated. A marked text longer than `max_length` tokens gets
a window of `max_length` tokens centred on the pair (from the first start marker to the last
end marker); `Featurised.centred` lists those examples so the caller can report how many.
A pair that cannot fit in any window is a `BiotuneError` naming the first such file and line,
how many pairs do not fit, and what can be done with this backbone: the max_length that fits
them all when the backbone has that many positions, else that no window of this model reads
them whole (`re.too_wide: skip` leaves such training pairs out; a dev or test pair must be
removed, or a backbone with more positions used). Cutting the text between two entities would
change what the model reads without anyone asking for it. With `skip_too_wide` the pairs are
left out and listed instead (`Featurised.skipped`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from tokenizers import Encoding, Tokenizer
from transformers import PreTrainedTokenizerBase

from biotune.errors import BiotuneError
from biotune.tasks.re.examples import MASK, RelationExample

ROLES = ("E1", "E2")


@dataclass(frozen=True, slots=True)
class MarkerScheme:
    """The entity types and mask words a model was trained with: what its added tokens are.

    Stored in a checkpoint's `config.biotune["markers"]` (`to_dict`), so that prediction
    marks text with exactly the tokens the model learned.
    """

    types: tuple[str, ...]
    masks: tuple[str, ...] = ()

    @classmethod
    def from_examples(cls, examples: Iterable[RelationExample]) -> MarkerScheme:
        """The types of every argument and the mask words used as entity text in `examples`."""
        types: set[str] = set()
        masks: set[str] = set()
        for example in examples:
            for entity in (example.head, example.tail):
                types.add(entity.type)
                words = example.text[entity.start:entity.end]
                if MASK.fullmatch(words):
                    masks.add(words)
        return cls(tuple(sorted(types)), tuple(sorted(masks)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[str]]) -> MarkerScheme:
        return cls(tuple(data["types"]), tuple(data.get("masks", ())))

    def to_dict(self) -> dict[str, list[str]]:
        return {"types": list(self.types), "masks": list(self.masks)}

    def tokens(self) -> list[str]:
        """Every token this scheme adds to a tokenizer: 4 markers per type, then the masks."""
        return [marker for type_ in self.types for role in ROLES for marker in markers(role, type_)] + list(self.masks)


def markers(role: str, type_: str) -> tuple[str, str]:
    """The start and end marker of an argument: ``[E1:GENE]``, ``[/E1:GENE]``."""
    return f"[{role}:{type_}]", f"[/{role}:{type_}]"


def add_marker_tokens(tokenizer: PreTrainedTokenizerBase, scheme: MarkerScheme) -> int:
    """Add the scheme's markers and masks as special tokens (never split, never lower-cased); returns how many were new.

    The caller resizes the model's embeddings to `len(tokenizer)` afterwards.
    """
    return tokenizer.add_tokens(scheme.tokens(), special_tokens=True)


def mark(example: RelationExample, scheme: MarkerScheme) -> str:
    """The example's text with typed start/end markers around its two arguments.

    Markers are inserted with a space on each side, so they never glue onto a word. At one
    character position end markers come before start markers, and a combined mask nests
    E2 inside E1.
    """
    for entity in (example.head, example.tail):
        if entity.type not in scheme.types:
            raise BiotuneError(f"{example.where}: entity type {entity.type!r} is unknown to "
                               f"this model (its marker types: {', '.join(scheme.types)})")
    inserts = []  # (character position, order at that position, marker)
    for rank, (role, entity) in enumerate(zip(ROLES, (example.head, example.tail))):
        start, end = markers(role, entity.type)
        inserts.append((entity.start, 1 + rank, start))
        inserts.append((entity.end, -rank, end))
    text, position, parts = example.text, 0, []
    for offset, _, marker in sorted(inserts):
        parts += [text[position:offset], f" {marker} "]
        position = offset
    parts.append(text[position:])
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class RelationFeature:
    """Model input for one example: token ids and the positions of its two start markers.

    `label` is the class id (None for prediction input); `example_id` links back to the example.
    """

    input_ids: list[int]
    entity_starts: tuple[int, int]
    label: int | None
    example_id: str


@dataclass(slots=True)
class Featurised:
    """The features of a list of examples, in order, the ids of those that needed a centred window,
    and the indices of those left out because no window holds their pair (`skip_too_wide` only)."""

    features: list[RelationFeature]
    centred: list[str] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def featurise(
    examples: Sequence[RelationExample],
    tokenizer: PreTrainedTokenizerBase,
    scheme: MarkerScheme,
    max_length: int,
    label2id: Mapping[str, int] | None = None,
    positions: int | None = None,
    skip_too_wide: bool = False,
) -> Featurised:
    """Mark and tokenise `examples` in one batch; windows centred on the pair where the text is too long.

    `tokenizer` must already hold the scheme's tokens (`add_marker_tokens`). `label2id` maps
    gold labels to class ids; without it features carry no label (prediction). `positions` is the
    most tokens the backbone can read (`training.preflight.position_limit`), so that the advice
    for pairs that do not fit never names a max_length the model cannot take.
    """
    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())  # a copy without the caller's truncation/padding
    backend.no_truncation()
    backend.no_padding()
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    start_ids = {(role, type_): _token_id(tokenizer, markers(role, type_)[0]) for role in ROLES for type_ in scheme.types}
    end_ids = {_token_id(tokenizer, markers(role, type_)[1]) for role in ROLES for type_ in scheme.types}
    encodings = backend.encode_batch([mark(example, scheme) for example in examples], add_special_tokens=False)
    result = Featurised([])
    too_wide: list[tuple[RelationExample, int]] = []  # (example, tokens its marked pair spans)
    for index, (example, encoding) in enumerate(zip(examples, encodings)):
        starts = (start_ids[("E1", example.head.type)], start_ids[("E2", example.tail.type)])
        if len(encoding.ids) > budget:
            width = _centre(encoding, starts, end_ids, budget)
            if width:
                too_wide.append((example, width))
                result.skipped.append(index)
                continue
            result.centred.append(example.id)
        ids = backend.post_process(encoding, None, add_special_tokens=True).ids
        label = None if label2id is None or example.label is None else _label_id(example, label2id)
        result.features.append(RelationFeature(ids, (ids.index(starts[0]), ids.index(starts[1])), label, example.id))
    if too_wide and not skip_too_wide:
        raise BiotuneError(too_wide_message(too_wide, len(examples), max_length, max_length - budget, positions))
    return result


def too_wide_message(too_wide: Sequence[tuple[RelationExample, int]], total: int, max_length: int, specials: int,
                     positions: int | None) -> str:
    """Why pairs do not fit and what can be done with this backbone (never a max_length above `positions`)."""
    example, width = too_wide[0]
    needed = max(w for _, w in too_wide) + specials
    head = (f"{example.where}: the marked pair spans {width} tokens, more than max_length "
            f"{max_length} holds besides special tokens; {len(too_wide)} of {total} pairs do not fit")
    if positions is None or needed <= positions:
        return f"{head}: max_length {needed} fits them all, raise model.max_length"
    unreadable = sum(w + specials > positions for _, w in too_wide)
    raise_first = (f"max_length {positions} (this backbone's most) fits {len(too_wide) - unreadable} of them; "
                   if unreadable < len(too_wide) else "")
    return (f"{head}: {raise_first}{unreadable} span more than the {positions} positions this backbone reads, so no "
            "window of this model holds them whole: leave such training pairs out with re.too_wide: skip, "
            "remove such rows from dev and test files, or use a backbone with more positions")


def collate(features: Sequence[RelationFeature], pad_token_id: int, entity_starts: bool) -> dict[str, torch.Tensor]:
    """Right-pad a batch: `input_ids`, `attention_mask`, `entity_starts` (if the head reads them), `labels` (if all have one).

    Right padding keeps every marker position valid as stored in the feature.
    """
    width = max(len(feature.input_ids) for feature in features)
    input_ids = torch.full((len(features), width), pad_token_id, dtype=torch.long)  # (batch, tokens)
    attention_mask = torch.zeros((len(features), width), dtype=torch.long)  # (batch, tokens)
    for row, feature in enumerate(features):
        input_ids[row, :len(feature.input_ids)] = torch.tensor(feature.input_ids)
        attention_mask[row, :len(feature.input_ids)] = 1
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    if entity_starts:
        batch["entity_starts"] = torch.tensor([feature.entity_starts for feature in features])  # (batch, 2)
    if all(feature.label is not None for feature in features):
        batch["labels"] = torch.tensor([feature.label for feature in features])  # (batch,)
    return batch


def _centre(encoding: Encoding, starts: tuple[int, int], end_ids: set[int], budget: int) -> int:
    """Cut `encoding` (no special tokens yet) in place to `budget` tokens centred on the marked pair.

    Returns 0 when done, or the pair's width in tokens when it is wider than `budget` (left uncut).
    """
    ids = encoding.ids
    first = min(ids.index(starts[0]), ids.index(starts[1]))
    last = max(index for index, token in enumerate(ids) if token in end_ids)
    if last - first + 1 > budget:
        return last - first + 1
    window_start = min(max((first + last + 1 - budget) // 2, 0, last - budget + 1), first, len(ids) - budget)
    encoding.truncate(window_start + budget)
    encoding.truncate(budget, direction="left")
    return 0


def _token_id(tokenizer: PreTrainedTokenizerBase, token: str) -> int:
    ids = tokenizer.convert_tokens_to_ids([token])
    if ids[0] is None or ids[0] == tokenizer.unk_token_id:
        raise BiotuneError(f"the tokenizer lacks the marker token {token!r}: add the scheme's tokens "
                           "(add_marker_tokens) before featurising, or load the model's own tokenizer")
    return ids[0]


def _label_id(example: RelationExample, label2id: Mapping[str, int]) -> int:
    if example.label not in label2id:
        raise BiotuneError(f"{example.where}: label {example.label!r} is not one of the model's "
                           f"labels ({', '.join(label2id)})")
    return label2id[example.label]

