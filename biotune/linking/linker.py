"""`Linker`: the linking layers composed, for mentions and for documents.

Per mention, in order (each layer optional except the look-ups):

1. abbreviation: a mention that is a short form defined in its own document (`abbreviations`)
   is looked up as its long form; if the long form links nowhere, as itself;
2. exact, then normalised look-up in the vocabularies of the mention's type (`Lexicon`);
3. fuzzy: character 3-gram TF-IDF neighbours, accepted at or above `fuzzy_threshold`;
4. dense: nearest name in a trained encoder's space (`DenseLinker`), at or above `dense_threshold`;
5. otherwise unlinked: in documents the mention gets `pseudo_id` (mentions of one type and text
   still group into one entity) and `StageCounts` groups the unlinked texts for the caller.

With a preferred namespace (`prefer`, e.g. ``MESH``), every candidate of every stage is named by
its concept's first id in that namespace when its primary id is in another and one of its
alternative ids is in it (`Candidate.preferring`): MEDIC names some diseases by an OMIM id
(``Cardiomyopathy, Dilated`` -> ``OMIM:115200``, alternatives ``MESH:D002311|MESH:C580047``)
where BC5CDR's gold ids and CID pairs use MeSH, and a graph joins on one namespace. A concept
without such an alternative keeps its own id. Accuracy@1 does not change (a candidate names its
alternatives either way); the ids written do.

Types never cross: a mention only reaches the vocabularies (and index rows) of its type, after
`type_map` (NCBI-disease's ``SpecificDisease`` / ``DiseaseClass`` / ... -> ``Disease``); a type
with no vocabulary stays unlinked. With `k` > 1, the candidates of the stage that linked come
first and later stages fill the list up to `k` (for accuracy@k); the link itself is the first.

A linker is built once from its vocabularies (`from_files`, `from_vocabularies`) and saved as a
folder (`save`) that `Linker.load(folder)` opens in well under a second with MEDIC and MeSH
(`bench/linking.py`), which is all a tag job, the service or a user's script needs:

    linker.json     kind, format, fingerprint, options (abbreviations, thresholds, preferred namespace),
                    type map, and per type its sub-folder and the (source, fingerprint) of each
                    vocabulary, in order
    types/<n>/      one type's `Lexicon`: strings.json (concepts, alternative ids, table keys),
                    the look-up tables and the fitted TF-IDF index as .npy arrays (memory-mapped)
    dense/          a `DenseLinker` folder (encoder + memory-mapped index), when the linker has one

The folder holds the tables, not the vocabulary files: a vocabulary edited after the build does
not change the linker. `Linker.load(folder, vocabularies)` refuses vocabularies whose
fingerprints differ from the ones the folder was built from (rebuild it with `biotune link
build`), and `fingerprint` identifies the whole linker (vocabularies, options, dense index), so a
resumed tag job can refuse a different one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biotune.errors import BiotuneError
from biotune.formats.documents import Annotation, Document, assemble
from biotune.linking.abbreviations import abbreviation_map
from biotune.linking.lexicon import Lexicon
from biotune.linking.links import SCORE_DIGITS, Candidate, Link, StageCounts
from biotune.linking.terms import NAMESPACE, namespace, pseudo_id, usable_id
from biotune.linking.vocabulary import Vocabulary, read_vocabulary

if TYPE_CHECKING:  # torch and transformers load only when a dense linker does
    from biotune.linking.dense import DenseLinker

# Cosines below which a fuzzy or dense neighbour is not accepted. The fuzzy one is scispaCy's
# default for the same TF-IDF neighbours (its `threshold=0.7`); it was not tuned here. The dense
# one accepts every dense neighbour: for accuracy a wrong link costs no more than none, and a
# user building a curated graph raises it (each link carries its score).
DEFAULT_FUZZY_THRESHOLD = 0.7
DEFAULT_DENSE_THRESHOLD = 0.0
DOCUMENTS_PER_BATCH = 64  # documents whose mentions are linked together (one dense batch instead of many)
FORMAT = 1
KIND = "linker"  # a dense linker folder's manifest has the same name and no kind
MANIFEST = "linker.json"
DENSE_FOLDER = "dense"


@dataclass(frozen=True, slots=True)
class LinkedDocument:
    """A document whose annotations carry concept ids (and `link_stage` / `link_score`), and the `Link` of
    each annotation in `document.annotations` order (None where the annotation already had a usable id
    and was kept)."""

    document: Document
    links: list[Link | None]


class Linker:
    """The linking layers over per-type lexicons (see the module docstring)."""

    def __init__(self, lexicons: Mapping[str, Lexicon], *, abbreviations: bool = True,
                 fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD, dense: DenseLinker | None = None,
                 dense_threshold: float = DEFAULT_DENSE_THRESHOLD, type_map: Mapping[str, str] | None = None,
                 prefer: str | None = None, dense_digest: str | None = None) -> None:
        if not lexicons:
            raise BiotuneError("a linker needs at least one vocabulary")
        if prefer is not None and not NAMESPACE.fullmatch(prefer):
            raise BiotuneError(f"preferred namespace {prefer!r} is no id prefix (a letter, then letters, digits, "
                               "'_' or '.'; e.g. MESH)")
        for source, target in (type_map or {}).items():
            if target not in lexicons:
                raise BiotuneError(f"type map: {source!r} -> {target!r} names a type without vocabularies "
                                   f"(types with vocabularies: {', '.join(sorted(lexicons))})")
        self.lexicons = dict(lexicons)
        self.abbreviations = abbreviations
        self.fuzzy_threshold = fuzzy_threshold
        self.dense = dense
        self.dense_threshold = dense_threshold
        self.type_map = dict(type_map or {})
        self.prefer = prefer.upper() if prefer is not None else None
        self._dense_digest = dense_digest if dense is not None else None  # of `dense.index`: from a manifest,
        # or computed on first use (hashing the index takes a moment)

    @classmethod
    def from_vocabularies(cls, vocabularies: Mapping[str, Sequence[Vocabulary]], *, fuzzy: bool = True,
                          **options: Any) -> Linker:
        """A linker over ``{type: [vocabularies, in priority order]}``; `fuzzy` builds the TF-IDF indexes
        (the slow part of a build); `options` go to `Linker`. A preferred namespace that no id of the
        vocabularies is in is refused: a misspelt one (``MSH``) would silently change nothing."""
        linker = cls({type_: Lexicon.build(vocabs, fuzzy) for type_, vocabs in vocabularies.items()}, **options)
        if linker.prefer is not None:
            held = {namespace(i) for lexicon in linker.lexicons.values()
                    for i in (*lexicon.concepts, *(a for alts in lexicon.alternatives.values() for a in alts))}
            if linker.prefer not in held:
                raise BiotuneError(f"preferred namespace {linker.prefer}: no id of the vocabularies is in it "
                                   f"(their namespaces: {', '.join(sorted(held))})")
        return linker

    @classmethod
    def from_files(cls, vocabularies: Mapping[str, Sequence[str | Path]], dense_folder: str | Path | None = None,
                   *, first: Mapping[str, Sequence[Vocabulary]] | None = None, fuzzy: bool = True,
                   **options: Any) -> Linker:
        """A linker from ``{type: [vocabulary files, in priority order]}``, after the vocabularies of `first`
        (a corpus's training mentions, say) and, if given, a saved dense linker folder built from those same
        vocabularies (refused otherwise). `options` go to `Linker`."""
        first = first or {}
        vocabs = {type_: [*first.get(type_, ()), *(read_vocabulary(path) for path in vocabularies.get(type_, ()))]
                  for type_ in dict.fromkeys([*first, *vocabularies])}
        dense = None
        if dense_folder is not None:
            from biotune.linking.dense import DenseLinker

            dense = DenseLinker.load(dense_folder, vocabs)
        return cls.from_vocabularies(vocabs, fuzzy=fuzzy, dense=dense, **options)

    @property
    def types(self) -> frozenset[str]:
        """The annotation types this linker links: its vocabularies' types and those `type_map` maps to them."""
        return frozenset(self.lexicons) | frozenset(self.type_map)

    # ---- mentions ---------------------------------------------------------------------------
    def link(self, mentions: Sequence[tuple[str, str]], abbreviations: Sequence[Mapping[str, str]] | None = None,
             k: int = 1) -> list[Link]:
        """The `Link` of each ``(text, type)`` mention, in order; `abbreviations` gives each mention's
        document's short form -> long form map (`abbreviation_map`), none: no expansion."""
        expansions = [None] * len(mentions) if abbreviations is None or not self.abbreviations else \
            [found.get(text) for (text, _), found in zip(mentions, abbreviations)]
        types = [self.type_map.get(type_, type_) for _, type_ in mentions]
        expanded = [i for i, long in enumerate(expansions) if long is not None]
        direct = self._candidates([(text, types[i]) for i, (text, _) in enumerate(mentions)], k)
        via_long = self._candidates([(expansions[i], types[i]) for i in expanded], k)  # type: ignore[misc]
        links = [Link(text, type_, tuple(found)) for (text, type_), found in zip(mentions, direct)]
        for i, found in zip(expanded, via_long):
            if found:
                links[i] = Link(mentions[i][0], mentions[i][1], tuple(found), expansions[i])
        return links

    def _candidates(self, queries: Sequence[tuple[str, str]], k: int) -> list[list[Candidate]]:
        """Each query's accepted candidates, stage by stage, up to `k` (see the module docstring)."""
        found: list[list[Candidate]] = [[] for _ in queries]

        def add(i: int, candidates: Iterable[Candidate]) -> None:
            prefix = self.prefer
            _extend(found[i], candidates if prefix is None else (c.preferring(prefix) for c in candidates), k)

        by_type: dict[str, list[int]] = {}
        for i, (_, type_) in enumerate(queries):
            if type_ in self.lexicons:
                by_type.setdefault(type_, []).append(i)
        for type_, members in by_type.items():
            lexicon = self.lexicons[type_]
            for i in members:
                add(i, lexicon.exact_candidates(queries[i][0]))
                if len(found[i]) < k:
                    add(i, lexicon.normalised_candidates(queries[i][0]))
            if lexicon.fuzzy is not None:
                wanting = [i for i in members if len(found[i]) < k]
                for i, candidates in zip(wanting, lexicon.fuzzy_candidates([queries[i][0] for i in wanting], k)):
                    add(i, [c for c in candidates if c.score >= self.fuzzy_threshold])
            if self.dense is not None:
                wanting = [i for i in members if len(found[i]) < k]
                for i, candidates in zip(wanting, self.dense.search([queries[i][0] for i in wanting], type_, k)):
                    add(i, [c for c in candidates if c.score >= self.dense_threshold])
        return found

    # ---- documents -------------------------------------------------------------------------
    def link_documents(self, documents: Iterable[Document], counts: StageCounts | None = None) -> Iterator[LinkedDocument]:
        """Stream `documents` with a concept id on every annotation (its link, or a `pseudo_id`), in order.

        A linked annotation also carries its link's stage and score (`Annotation.link_stage`,
        `link_score`; ``unlinked`` and no score for a pseudo id), which every writer with room for
        them writes. Annotations with a usable id keep it and their fields (gold ids and the relations
        naming them stay valid); relations are kept. `counts`, if given, adds up each stage and the
        unlinked texts.
        """
        counts = counts if counts is not None else StageCounts()
        documents = iter(documents)
        while chunk := list(islice(documents, DOCUMENTS_PER_BATCH)):
            pending = [(d, a) for d, doc in enumerate(chunk) for a in doc.annotations if not usable_id(a.concept_id)]
            found = {d: abbreviation_map(doc.text) for d, doc in enumerate(chunk)} if self.abbreviations else {}
            links = self.link([(a.text, a.type) for _, a in pending],
                              [found.get(d, {}) for d, _ in pending] if self.abbreviations else None)
            linked = dict(zip((id(a) for _, a in pending), links))
            for doc in chunk:
                yield _linked_document(doc, linked, counts)

    # ---- the folder ----------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        """What identifies this linker's links: its vocabularies' fingerprints per type, options, type map
        and dense index (a resumed tag job compares it, as it compares models)."""
        if self.dense is not None and self._dense_digest is None:
            self._dense_digest = _dense_digest(self.dense)
        content = json.dumps({**self._description(), "dense": self._dense_digest}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]

    def _description(self) -> dict[str, Any]:
        """The manifest without fingerprint and folders: what the linker is."""
        # `prefer` is written only when set, so folders built before the option keep their fingerprints
        # (a tag job resumed with one is not refused as another linker).
        return {"kind": KIND, "format": FORMAT,
                "options": {"abbreviations": self.abbreviations, "fuzzy_threshold": self.fuzzy_threshold,
                            "dense_threshold": self.dense_threshold,
                            **({"prefer": self.prefer} if self.prefer is not None else {})},
                "type_map": self.type_map,
                "types": [{"type": type_, "fuzzy": lexicon.fuzzy is not None, "vocabularies": lexicon.vocabularies}
                          for type_, lexicon in self.lexicons.items()]}

    def save(self, folder: str | Path) -> Path:
        """Write the linker folder (see the module docstring): into a temporary sibling folder, renamed when
        complete, so a failed or interrupted save leaves nothing; an existing folder is refused."""
        folder = Path(folder)
        if folder.exists():
            raise BiotuneError(f"linker folder {folder} already exists: choose a new folder (or remove it to rebuild)")
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            manifest = self._description()
            for number, (entry, lexicon) in enumerate(zip(manifest["types"], self.lexicons.values())):
                entry["folder"] = f"types/{number}"
                (partial / entry["folder"]).mkdir(parents=True)
                lexicon.save(partial / entry["folder"])
            if self.dense is not None:
                self.dense.save(partial / DENSE_FOLDER)
            manifest["fingerprint"] = self.fingerprint
            manifest["dense"] = {"folder": DENSE_FOLDER, "digest": self._dense_digest} if self.dense is not None else None
            (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            os.replace(partial, folder)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return folder

    @classmethod
    def load(cls, folder: str | Path, vocabularies: Mapping[str, Sequence[Vocabulary]] | None = None) -> Linker:
        """The linker saved in `folder`, its arrays memory-mapped (nothing is rebuilt). With `vocabularies`,
        each type's must be, by fingerprint and in order, those the folder was built from (else refused)."""
        folder = Path(folder)
        manifest = _manifest(folder)
        if vocabularies is not None:
            check_vocabularies(folder, manifest, vocabularies)
        try:
            lexicons = {entry["type"]: Lexicon.load(folder / entry["folder"], entry["fuzzy"], entry["vocabularies"])
                        for entry in manifest["types"]}
        except (OSError, ValueError, KeyError) as exc:
            raise BiotuneError(f"linker folder {folder} is incomplete or damaged ({type(exc).__name__}: {exc}); "
                               "rebuild it with `biotune link build`") from None
        dense = None
        if manifest.get("dense"):
            from biotune.linking.dense import DenseLinker

            dense = DenseLinker.load(folder / manifest["dense"]["folder"])
        options = manifest["options"]
        return cls(lexicons, abbreviations=options["abbreviations"], fuzzy_threshold=options["fuzzy_threshold"],
                   dense=dense, dense_threshold=options["dense_threshold"], type_map=manifest["type_map"],
                   prefer=options.get("prefer"), dense_digest=manifest["dense"]["digest"] if dense is not None else None)


def _manifest(folder: Path) -> dict[str, Any]:
    """The checked `linker.json` of `folder`."""
    file = folder / MANIFEST
    if not file.is_file():
        raise BiotuneError(f"{folder} is not a linker folder (no {MANIFEST}); build one with `biotune link build`")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BiotuneError(f"{file}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        hint = " (a dense linker folder: build a linker around it with `biotune link build --dense`)" \
            if isinstance(manifest, dict) and "pooling" in manifest else ""
        raise BiotuneError(f"{folder} is not a linker folder{hint}")
    if manifest.get("format") != FORMAT:
        found = manifest.get("format")
        raise BiotuneError(f"{file}: linker format {found!r}, this biotune reads {FORMAT}; rebuild it with "
                           "`biotune link build`")
    return manifest


def check_vocabularies(folder: Path, manifest: Mapping[str, Any], vocabularies: Mapping[str, Sequence[Vocabulary]]) -> None:
    """A `BiotuneError` naming the type and both vocabulary lists when `vocabularies` are not, by fingerprint
    and in order, those the linker in `folder` was built from."""
    built = {entry["type"]: entry["vocabularies"] for entry in manifest["types"]}
    for type_ in sorted(set(built) | set(vocabularies)):
        had = [v["fingerprint"] for v in built.get(type_, [])]
        given = [v.fingerprint for v in vocabularies.get(type_, [])]
        if had != given:
            def listed(items: Iterable[tuple[str, str]]) -> str:
                return ", ".join(f"{source} ({fingerprint})" for source, fingerprint in items) or "none"

            raise BiotuneError(
                f"linker folder {folder} was built for {type_} from "
                f"{listed((v['source'], v['fingerprint']) for v in built.get(type_, []))}, not from "
                f"{listed((v.source, v.fingerprint) for v in vocabularies.get(type_, []))}: a vocabulary changed; "
                "rebuild the folder with `biotune link build`")


def _dense_digest(dense: DenseLinker) -> str:
    """A digest of a dense linker's index: two trainings on the same vocabularies link differently."""
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(dense.index).tobytes()).hexdigest()[:16]


def _linked_document(doc: Document, linked: Mapping[int, Link], counts: StageCounts) -> LinkedDocument:
    located: list[tuple[str, Annotation]] = []
    links_of: dict[int, Link | None] = {}
    for a in doc.annotations:
        link = linked.get(id(a))
        if link is None:
            counts.kept += 1
            located.append((doc.id, a))
            links_of[id(a)] = None
            continue
        counts.add(link)
        new = dataclasses.replace(a, concept_id=link.id or pseudo_id(a.text, a.type), link_stage=link.stage,
                                  link_score=None if link.score is None else round(link.score, SCORE_DIGITS))
        located.append((doc.id, new))
        links_of[id(new)] = link
    document = assemble(doc.id, doc.passages, located, doc.id, [(doc.id, r) for r in doc.relations], doc.labels)
    return LinkedDocument(document, [links_of[id(a)] for a in document.annotations])


def _extend(found: list[Candidate], candidates: Iterable[Candidate], k: int) -> None:
    """Append candidates of concepts not yet in `found`, up to `k` in all."""
    held = {c.id for c in found}
    for candidate in candidates:
        if len(found) >= k:
            return
        if candidate.id not in held:
            found.append(candidate)
            held.add(candidate.id)
