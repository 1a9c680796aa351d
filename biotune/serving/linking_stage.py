"""Entity linking as a stage of the document pipeline (`biotune.tasks.stages`): every entity an
earlier stage found gets a concept id, the stage of the `biotune.linking.Linker` that found it
(``abbreviation``, ``exact``, ``normalised``, ``fuzzy``, ``dense``) and that stage's score, or the
pseudo id of its text (``text:<type>:<normalised text>``, stage ``unlinked``) where none does.
Linking is no task (it trains nothing here), so the stage takes the linker it is given.

`--link PATH` (`read_link`) names either of:

- a linker folder (`biotune link build`): the full `Linker` with its per-type vocabularies,
  abbreviations, fuzzy and dense stages, loaded memory-mapped (nothing rebuilt at start);
- a ``term<TAB>id[<TAB>alternative ids]`` dictionary file, which has no entity types: it becomes
  a linker that gives every entity type the model predicts the same names (`dictionary_linker`),
  looked up exactly, then normalised, and nothing more. That is what a dictionary meant before
  linker folders existed, so its links do not change; the fuzzy, abbreviation and dense stages
  come with a linker folder built from it.

Both are read before any model loads and before a tag job touches its output folder, so a path
that is neither, or a dictionary row without a tab, is refused at once naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from biotune.errors import BiotuneError
from biotune.formats.documents import Document
from biotune.linking import Linker, StageCounts, Vocabulary, read_vocabulary
from biotune.linking.lexicon import Lexicon
from biotune.linking.links import ABBREVIATION, DENSE, FUZZY, STAGES, UNLINKED
from biotune.tasks.stages import DocumentStage

COUNT_PREFIX = "mentions_"  # the stage's keys in a job's counts: mentions_exact, mentions_fuzzy, ...


def read_link(path: Path) -> Linker | Vocabulary:
    """What `path` names, read and checked: a linker folder's `Linker`, or a dictionary file's `Vocabulary`.

    Cheap (a linker folder is memory-mapped), so callers read it before loading models.
    """
    if path.is_dir():
        return Linker.load(path)
    if path.is_file():
        return read_vocabulary(path)
    raise BiotuneError(f"link {path} not found: give a linker folder (`biotune link build`) or a term<TAB>id "
                       "dictionary file")


def dictionary_linker(vocabulary: Vocabulary, types: Iterable[str]) -> Linker:
    """A typeless dictionary as a `Linker` over `types` (the entity types the models predict): each type
    looks up the same names (one shared table), exactly then normalised, without abbreviations."""
    lexicon = Lexicon.build([vocabulary], fuzzy=False)
    return Linker({type_: lexicon for type_ in types}, abbreviations=False)


class LinkingStage(DocumentStage):
    """Concept ids, link stages and scores for the entities of documents, from `linker` (read from `source`)."""

    provides = "linking"
    needs = ("entities",)

    def __init__(self, linker: Linker, source: str) -> None:
        self.linker = linker
        self.source = source
        self.stage_counts = StageCounts()

    def check(self, given: Mapping[str, Sequence[str]]) -> None:
        """Refuse a linker that links none of the entity types predicted: every mention would stay unlinked."""
        predicted = set(given["entities"])
        if predicted and not predicted & self.linker.types:
            raise BiotuneError(f"{self.source} links {', '.join(sorted(self.linker.types))} mentions, but the entities "
                               f"are {', '.join(sorted(predicted))}: none would get an id (build the linker with "
                               "vocabularies of those types, or map them with --type-map)")

    def annotate(self, documents: Sequence[Document]) -> list[Document]:
        return [linked.document for linked in self.linker.link_documents(documents, self.stage_counts)]

    def counts(self) -> dict[str, int]:
        """Mentions by the stage that linked them (``mentions_exact``, ``mentions_fuzzy``, ..., ``mentions_unlinked``,
        and ``mentions_kept`` for those that came with an id)."""
        return {f"{COUNT_PREFIX}{stage}": count for stage, count in self.stage_counts.to_dict().items()}

    @classmethod
    def report(cls, counts: Mapping[str, int]) -> str | None:
        """How many linked mentions no stage found an id for (they carry pseudo ids, and never match a real one)."""
        unlinked = counts.get(f"{COUNT_PREFIX}{UNLINKED}", 0)
        if not unlinked:
            return None
        linked = sum(counts.get(f"{COUNT_PREFIX}{stage}", 0) for stage in (*STAGES, UNLINKED))
        return (f"{unlinked} of {linked} mentions stayed unlinked: they carry the pseudo id text:<type>:<normalised "
                "text> (link_stage unlinked), which groups them by text but matches no vocabulary id")

    def describe(self) -> dict[str, Any]:
        """/health's ``linking``: the linker's fingerprint, the types it links, its stages in order and the
        mentions each has linked since the service started (no file path: the service does not show them)."""
        return {"fingerprint": self.linker.fingerprint, "types": sorted(self.linker.types),
                "stages": [stage for stage in STAGES if self._has(stage)], "mentions": self.stage_counts.to_dict()}

    def _has(self, stage: str) -> bool:
        if stage == ABBREVIATION:
            return self.linker.abbreviations
        if stage == FUZZY:
            return any(lexicon.fuzzy is not None for lexicon in self.linker.lexicons.values())
        if stage == DENSE:
            return self.linker.dense is not None
        return True
