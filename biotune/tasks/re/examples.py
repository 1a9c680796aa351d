"""Relation-extraction examples and the readers of the sentence-level files users bring.

One `RelationExample` is one candidate pair in one text: the two entities are character
spans (`head` is E1, `tail` is E2), so the same type serves pre-masked benchmark rows (the
span is the mask word) and, later, candidate pairs built from annotated documents (the span
is the mention). Featurisation (`markers.py`) adds the entity markers from these spans.

Files read here, as BLURB and BioBERT ship them:

- ``sentence<TAB>label``, no header (BLURB ChemProt, DDI, GAD; BioBERT's ``k/train.tsv``);
- ``index<TAB>sentence<TAB>label`` with that header line (BioBERT's ``k/test.tsv``); a
  ``sentence<TAB>label`` header line is accepted too;
- the label cell holds a name (``CPR:3``, ``1``) or, when a ``label2id.tsv`` (``name<TAB>id``)
  is given, an integer id. With a label2id an integer cell is always an id: ChemProt's name
  ``0`` has id 0, and its cell ``1`` means ``CPR:3``.

Entities are pre-masked by type: ``@GENE$``, ``@CHEMICAL$``, ``@DRUG$``, ``@DISEASE$``. A
combined mask (``@CHEM-GENE$`` in ChemProt, ``@DRUG-DRUG$`` in DDI) stands for two entities
that are one mention: it yields a head and a tail on the same span, typed by its two parts
(``CHEM`` is ChemProt's short form of ``CHEMICAL``: `MASK_TYPE_ALIASES` maps it). A row
must mark exactly two entities; anything else is a `BiotuneError` naming file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from biotune.corpora.folds import natural_key
from biotune.formats.readers import existing_file, numbered_lines
from biotune.errors import BiotuneError

# `@TYPE$` or `@TYPE-TYPE$`: upper-case names, as every public pre-masked corpus writes them.
MASK = re.compile(r"@([A-Z][A-Z0-9_]*)(?:-([A-Z][A-Z0-9_]*))?\$")
# Short type names used inside combined masks, mapped to the name the single masks use, so
# `@CHEM-GENE$` gets the same CHEMICAL entity marker as `@CHEMICAL$`.
MASK_TYPE_ALIASES = {"CHEM": "CHEMICAL"}
_HEADERS = (("index", "sentence", "label"), ("sentence", "label"))


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity argument: characters `[start, end)` of the example's text, with its type."""

    start: int
    end: int
    type: str


@dataclass(frozen=True, slots=True)
class RelationExample:
    """One candidate pair: `head` (E1) and `tail` (E2) in `text`, and its gold label if known.

    `label` is None for prediction input. `id` is the file's own index where it has one,
    else ``<file name>:<line>``; `source` and `line` locate the row for error messages (`where`;
    a record given to the predictor has line 0 and `source` naming it).
    `weight` (the loss weight of its training source) and `annotated` (the labels that
    source annotates; None = all) are set when a training source is read.
    """

    text: str
    head: Entity
    tail: Entity
    label: str | None
    id: str
    source: str
    line: int
    weight: float = 1.0
    annotated: frozenset[str] | None = None

    @property
    def where(self) -> str:
        """``<file>:<line>`` of a file's row, else `source` (a prediction record)."""
        return f"{self.source}:{self.line}" if self.line else self.source


@dataclass(frozen=True, slots=True)
class LabelSpace:
    """The relation labels in id order, and the label2id file they came from (if any).

    Why the file matters: only with a label2id are integer cells read as ids.
    """

    names: tuple[str, ...]
    label2id_file: Path | None = None

    @classmethod
    def from_examples(cls, examples: Iterable[RelationExample]) -> LabelSpace:
        """The labels seen in `examples` (a file without label2id, e.g. GAD's 0/1), numbers in numeric order."""
        seen = {example.label for example in examples if example.label is not None}
        return cls(tuple(sorted(seen, key=natural_key)))

    def label_of(self, cell: str, where: str) -> str:
        """The label name a file's label cell stands for, or a `BiotuneError` naming `where`."""
        if self.label2id_file is not None and cell.lstrip("-").isdigit():
            index = int(cell)
            if not 0 <= index < len(self.names):
                raise BiotuneError(f"{where}: label id {cell} is not in {self.label2id_file} "
                                   f"(ids 0-{len(self.names) - 1})")
            return self.names[index]
        if cell not in self.names:
            raise BiotuneError(f"{where}: unknown label {cell!r} (known: {', '.join(self.names)})")
        return cell


def read_label2id(path: str | Path) -> LabelSpace:
    """Read a ``name<TAB>id`` file whose ids are 0..n-1 (in any row order)."""
    path = existing_file(path)
    by_id: dict[int, str] = {}
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        cells = line.split("\t")
        where = f"{path}:{number}"
        if len(cells) != 2 or not cells[0] or not cells[1].isdigit():
            raise BiotuneError(f"{where}: expected 'name<TAB>id' with an integer id, got {line[:80]!r}")
        name, index = cells[0], int(cells[1])
        if index in by_id or name in by_id.values():
            raise BiotuneError(f"{where}: duplicate {'id' if index in by_id else 'label'} in {path.name}")
        by_id[index] = name
    if sorted(by_id) != list(range(len(by_id))) or not by_id:
        raise BiotuneError(f"{path}: ids must be 0..n-1 without gaps, got {sorted(by_id)}")
    return LabelSpace(tuple(by_id[i] for i in range(len(by_id))), path)


def read_examples(path: str | Path, labels: LabelSpace | None = None) -> list[RelationExample]:
    """Read a pre-masked sentence-level file; `labels` checks (and, with a label2id, decodes) the label cells.

    Without `labels` every label name is accepted as written (build the space afterwards with
    `LabelSpace.from_examples`). A file with no rows is an error: an empty split is a mistake.
    """
    path = existing_file(path)
    examples = list(_rows(path, labels))
    if not examples:
        raise BiotuneError(f"file {path} contains no examples")
    return examples


def _rows(path: Path, labels: LabelSpace | None) -> Iterator[RelationExample]:
    columns = 2
    indexed = False
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        cells = line.split("\t")
        where = f"{path}:{number}"
        if number == 1 and tuple(cell.strip().lower() for cell in cells) in _HEADERS:
            columns, indexed = len(cells), cells[0].strip().lower() == "index"
            continue
        if len(cells) < columns or not cells[-1].strip():
            raise BiotuneError(f"{where}: row has no label (expected {columns} tab-separated columns)")
        if len(cells) > columns:
            raise BiotuneError(f"{where}: {len(cells)} tab-separated columns, expected {columns}")
        cell = cells[-1].strip()
        label = labels.label_of(cell, where) if labels is not None else cell
        yield row_example(path, number, cells[-2], label, cells[0] if indexed else f"{path.name}:{number}")


def row_example(path: Path, number: int, text: str, label: str | None, id: str) -> RelationExample:
    """The example of one file row: its two entity masks found and typed, or a `BiotuneError` naming file and line."""
    head, tail = masked_pair(text, f"{path}:{number}")
    return RelationExample(text=text, head=head, tail=tail, label=label, id=id, source=str(path), line=number)


def masked_pair(text: str, where: str) -> tuple[Entity, Entity]:
    """The two entities a pre-masked sentence marks (E1 first), or a `BiotuneError` starting with `where`."""
    entities = [entity for match in MASK.finditer(text) for entity in _mask_entities(match)]
    if len(entities) != 2:
        count = len(entities)
        found = "no entity mask" if not count else f"masks for {count} entit{'y' if count == 1 else 'ies'}"
        raise BiotuneError(f"{where}: {found} (@TYPE$) in the sentence; a row marks exactly two entities")
    return entities[0], entities[1]


def _mask_entities(match: re.Match[str]) -> list[Entity]:
    """One entity per type named in the mask: two on the same span for a combined mask."""
    return [Entity(match.start(), match.end(), MASK_TYPE_ALIASES.get(name, name))
            for name in match.groups() if name is not None]
