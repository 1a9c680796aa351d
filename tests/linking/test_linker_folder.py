"""A linker saved as a folder: save -> load gives the same links and fingerprint, a changed vocabulary is
refused, a save is all or nothing, linked documents carry stage and score into the writers, and the preferred
namespace recorded in the folder names the ids the tag job and service write."""

from __future__ import annotations

import json
import mmap
from pathlib import Path

import numpy as np
import pytest

from biotune.errors import BiotuneError
from biotune.formats.documents import iter_jsonl_documents
from biotune.formats.writers import write_jsonl
from biotune.linking import Linker, make_vocabulary
from biotune.linking.lexicon import Lexicon
from biotune.serving.linking_stage import LinkingStage
from tests.linking.test_linker import CHEMICALS, DISEASES, OMIM_FIRST, doc, vocab

MENTIONS = [("Kidney Failure", "Disease"), ("kidney-failure", "Disease"), ("kidney failures", "Disease"),
            ("Cold", "Disease"), ("Wilson Disease", "SpecificDisease"), ("Naloxone", "Chemical"),
            ("naloxon", "Chemical"), ("Naloxone", "Disease"), ("xyzzy", "Disease")]


def built(**options: object) -> Linker:
    return Linker.from_vocabularies({"Disease": [DISEASES], "Chemical": [CHEMICALS]}, fuzzy_threshold=0.5,
                                    type_map={"SpecificDisease": "Disease"}, **options)  # type: ignore[arg-type]


def candidates(linker: Linker, k: int) -> list[list[tuple[str, str, float, str, tuple[str, ...]]]]:
    return [[(c.id, c.stage, round(c.score, 6), c.name, c.alternatives) for c in link.candidates]
            for link in linker.link(MENTIONS, k=k)]


def mapped(array: np.ndarray) -> bool:
    """Whether `array` is a view of a memory-mapped file (loaded without a copy)."""
    while isinstance(array, np.ndarray) and not array.flags.owndata:
        array = array.base  # type: ignore[assignment]
    return isinstance(array, mmap.mmap)


def test_save_load_gives_the_same_links_and_fingerprint(tmp_path: Path) -> None:
    linker = built()
    folder = linker.save(tmp_path / "linker")
    loaded = Linker.load(folder)
    assert candidates(loaded, 3) == candidates(linker, 3)
    assert [link.stage for link in loaded.link(MENTIONS)] == ["exact", "normalised", "fuzzy", "exact", "exact",
                                                              "exact", "fuzzy", "unlinked", "unlinked"]
    assert candidates(loaded, 1)[4] == [("D006527", "exact", 1.0, "Wilson Disease", ("OMIM:277900",))]
    assert loaded.fingerprint == linker.fingerprint == json.loads((folder / "linker.json").read_text())["fingerprint"]
    assert (loaded.type_map, loaded.fuzzy_threshold, loaded.abbreviations) == ({"SpecificDisease": "Disease"}, 0.5, True)
    matrix = loaded.lexicons["Disease"].fuzzy.matrix  # type: ignore[union-attr]
    assert all(mapped(a) for a in (matrix.data, matrix.indices, matrix.indptr, loaded.lexicons["Disease"].exact.ids))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["linker"]  # no temporary left beside it


def test_linked_documents_carry_stage_and_score_into_the_output(tmp_path: Path) -> None:
    loaded = built().save(tmp_path / "linker")
    document = doc("d", "Renal failure (RF) after naloxon and xyzzy.", [
        ("Renal failure", "Disease", None), ("RF", "Disease", None), ("naloxon", "Chemical", None),
        ("xyzzy", "Disease", None)])
    (linked,) = Linker.load(loaded).link_documents([document])
    write_jsonl([linked.document], tmp_path / "out.jsonl")
    (back,) = iter_jsonl_documents(tmp_path / "out.jsonl")
    fuzzy = linked.links[2].score  # type: ignore[union-attr]
    assert [(a.concept_id, a.link_stage, a.link_score) for a in back.annotations] == [
        ("D051437", "normalised", 1.0), ("D051437", "abbreviation", 1.0), ("D009270", "fuzzy", round(fuzzy, 4)),
        ("text:Disease:xyzzy", "unlinked", None)]
    assert 0.5 <= fuzzy < 1.0


def test_fingerprint_follows_vocabularies_and_options() -> None:
    base = built().fingerprint
    assert built().fingerprint == base
    assert built(abbreviations=False).fingerprint != base
    other = Linker.from_vocabularies({"Disease": [vocab("medic", [("Cold", "D003139")])], "Chemical": [CHEMICALS]},
                                     fuzzy_threshold=0.5, type_map={"SpecificDisease": "Disease"})
    assert other.fingerprint != base


def test_load_refuses_vocabularies_it_was_not_built_from(tmp_path: Path) -> None:
    folder = built().save(tmp_path / "linker")
    Linker.load(folder, {"Disease": [DISEASES], "Chemical": [CHEMICALS]})  # the same: accepted
    changed = make_vocabulary("medic", [*zip(DISEASES.terms, DISEASES.ids, [()] * len(DISEASES)), ("Flu", "D1", ())])
    with pytest.raises(BiotuneError, match=rf"^linker folder {folder} was built for Disease from medic "
                                           rf"\({DISEASES.fingerprint}\), not from medic \({changed.fingerprint}\): "
                                           r"a vocabulary changed; rebuild the folder with `biotune link build`$"):
        Linker.load(folder, {"Disease": [changed], "Chemical": [CHEMICALS]})
    with pytest.raises(BiotuneError, match=r"built for Chemical from mesh \(\w+\), not from none"):
        Linker.load(folder, {"Disease": [DISEASES]})


def test_save_refuses_an_existing_folder_and_leaves_nothing_when_it_fails(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    linker = built()
    (tmp_path / "taken").mkdir()
    with pytest.raises(BiotuneError, match="already exists"):
        linker.save(tmp_path / "taken")

    def broken(self: Lexicon, folder: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Lexicon, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        linker.save(tmp_path / "linker")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_load_names_what_is_wrong_with_a_folder(tmp_path: Path) -> None:
    with pytest.raises(BiotuneError, match=rf"^{tmp_path} is not a linker folder \(no linker.json\)"):
        Linker.load(tmp_path)
    folder = built().save(tmp_path / "linker")
    (folder / "types" / "1" / "exact_ids.npy").unlink()
    with pytest.raises(BiotuneError, match=rf"^linker folder {folder} is incomplete or damaged \(FileNotFoundError"):
        Linker.load(folder)
    (folder / "linker.json").write_text('{"kind": "linker", "format": 99}')
    with pytest.raises(BiotuneError, match=r"linker format 99, this biotune reads 1"):
        Linker.load(folder)


def test_a_linker_without_fuzzy_index_saves_and_loads_without_it(tmp_path: Path) -> None:
    loaded = Linker.load(built(fuzzy=False).save(tmp_path / "linker"))
    assert all(lexicon.fuzzy is None for lexicon in loaded.lexicons.values())
    assert not list((tmp_path / "linker").rglob("fuzzy_*"))
    assert loaded.link([("naloxon", "Chemical")])[0].stage == "unlinked"



def test_the_preferred_namespace_is_kept_in_the_folder_and_written_by_the_linking_stage(tmp_path: Path) -> None:
    plain = Linker.from_vocabularies({"Disease": [OMIM_FIRST]}, fuzzy=False)
    preferring = Linker.from_vocabularies({"Disease": [OMIM_FIRST]}, fuzzy=False, prefer="MESH")
    assert preferring.fingerprint != plain.fingerprint  # a resumed tag job refuses the other one
    plain.save(tmp_path / "plain")
    assert "prefer" not in json.loads((tmp_path / "plain" / "linker.json").read_text())["options"]  # fingerprints
    # of folders built before the option stay as they were
    loaded = Linker.load(preferring.save(tmp_path / "linker"))
    assert (loaded.prefer, loaded.fingerprint) == ("MESH", preferring.fingerprint)
    document = doc("d", "Cardiomyopathy, Dilated (CD) and PD.", [
        ("Cardiomyopathy, Dilated", "Disease", None), ("CD", "Disease", None), ("PD", "Disease", None)])
    (tagged,) = LinkingStage(loaded, str(tmp_path / "linker")).annotate([document])
    assert [(a.concept_id, a.link_stage) for a in tagged.annotations] == [
        ("D002311", "exact"), ("D002311", "abbreviation"), ("OMIM:168600", "exact")]
