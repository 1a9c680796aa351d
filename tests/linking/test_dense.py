"""The dense linker on a tiny random BERT: overfits a tiny vocabulary, saves and loads to the same links,
links a batch as it links one mention at a time, and refuses vocabularies its index was not built from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from biotune.errors import BiotuneError
from biotune.linking import Linker, make_vocabulary
from biotune.linking.contrastive import Pair, TrainingSettings, info_nce, train_encoder, training_pairs
from biotune.linking.dense import DenseLinker, Encoder

DISEASES = make_vocabulary("diseases.tsv", [
    ("hypotension", "D1", ()), ("low blood pressure", "D1", ()),
    ("seizures", "D2", ("OMIM:9",)), ("convulsions", "D2", ()),
    ("asthma", "D3", ()), ("wheezing disorder", "D3", ()),
    ("tremor", "D4", ()), ("shaking", "D4", ()),
])
CHEMICALS = make_vocabulary("chemicals.tsv", [("aspirin", "C1", ()), ("acetylsalicylic acid", "C1", ()),
                                              ("lithium", "C2", ()), ("lithium carbonate", "C2", ())])
VOCABULARIES = {"Disease": [DISEASES], "Chemical": [CHEMICALS]}


@pytest.fixture(scope="module")
def trained(word_backbone: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[DenseLinker, Path]:
    """A tiny encoder trained on the vocabularies' synonym pairs plus two mentions, indexed and saved."""
    encoder = Encoder.load(word_backbone, max_length=16)
    pairs = training_pairs(VOCABULARIES, [("low pressure", "Disease", "D1"), ("fits", "Disease", "D2")], 4, seed=0)
    losses = train_encoder(encoder, pairs, TrainingSettings(steps=80, batch_size=8, learning_rate=2e-3, seed=0))
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    linker = DenseLinker.build(encoder, VOCABULARIES, batch_size=3)
    folder = linker.save(tmp_path_factory.mktemp("dense") / "linker")
    return linker, folder


def test_training_pairs_cover_synonyms_and_mentions() -> None:
    pairs = training_pairs(VOCABULARIES, [("Low-Pressure", "Disease", "D1"), ("unknown", "Disease", "D9")], 1, seed=0)
    assert len(pairs) == 6 + 2  # one synonym pair per concept, each mention once
    assert Pair("low pressure", "low blood pressure", "D1") in pairs or Pair("low pressure", "hypotension", "D1") in pairs
    assert Pair("unknown", "unknown", "D9") in pairs  # a concept without names pairs its mention with itself


def test_info_nce_masks_other_pairs_of_the_same_concept() -> None:
    import torch

    anchors = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]]), dim=-1)
    positives = anchors.clone()
    masked = info_nce(anchors, positives, ["A", "A", "B"], 0.05)
    unmasked = info_nce(anchors, positives, ["A", "B", "C"], 0.05)
    assert float(masked) < 0.01 < float(unmasked)  # the near-identical rows of one concept are no negatives


def test_overfits_its_vocabulary_within_types(trained: tuple[DenseLinker, Path]) -> None:
    linker, _ = trained
    disease_terms = [t for t in DISEASES.terms]
    found = linker.search(disease_terms, "Disease", k=2)
    assert [candidates[0].id for candidates in found] == list(DISEASES.ids)
    assert all(candidates[0].stage == "dense" and candidates[0].score > candidates[1].score for candidates in found)
    assert found[2][0].alternatives == ("OMIM:9",)
    assert [c[0].id for c in linker.search(list(CHEMICALS.terms), "Chemical", k=1)] == list(CHEMICALS.ids)
    assert {c.id for c in linker.search(["aspirin"], "Disease", k=5)[0]} <= DISEASES.concepts  # types never cross
    assert linker.search(["aspirin"], "Gene", k=5) == [[]]


def test_save_load_same_links_memory_mapped(trained: tuple[DenseLinker, Path]) -> None:
    linker, folder = trained
    loaded = DenseLinker.load(folder, VOCABULARIES)
    assert isinstance(loaded.index, np.memmap) and loaded.index.dtype == np.float16
    texts = ["low pressure", "fits", "shaking", "wheezing"]
    assert loaded.search(texts, "Disease", 3) == linker.search(texts, "Disease", 3)
    composed = Linker.from_vocabularies(VOCABULARIES, dense=loaded, fuzzy=False)
    links = composed.link([("fits", "Disease"), ("hypotension", "Disease")])
    assert [(link.id, link.stage) for link in links] == [("D2", "dense"), ("D1", "exact")]
    with pytest.raises(BiotuneError, match="already exists"):
        linker.save(folder)


def test_a_linker_folder_holds_its_dense_linker(trained: tuple[DenseLinker, Path], tmp_path: Path) -> None:
    _, dense_folder = trained
    composed = Linker.from_files({}, dense_folder, first=VOCABULARIES, fuzzy=False)
    folder = composed.save(tmp_path / "linker")
    loaded = Linker.load(folder)
    assert loaded.dense is not None and isinstance(loaded.dense.index, np.memmap)
    mentions = [("fits", "Disease"), ("shaking", "Disease"), ("acetylsalicylic", "Chemical"), ("tremor", "Disease")]
    assert [(link.id, link.stage, link.score) for link in loaded.link(mentions)] == \
        [(link.id, link.stage, link.score) for link in composed.link(mentions)]
    assert [link.stage for link in loaded.link(mentions)] == ["dense", "exact", "dense", "exact"]
    assert loaded.fingerprint == composed.fingerprint != Linker.from_vocabularies(VOCABULARIES, fuzzy=False).fingerprint
    with pytest.raises(BiotuneError, match=rf"^{dense_folder} is not a linker folder \(a dense linker folder: "):
        Linker.load(dense_folder)


def test_batched_equals_one_at_a_time(trained: tuple[DenseLinker, Path]) -> None:
    linker, _ = trained
    texts = ["low blood pressure", "fits", "acetylsalicylic", "shaking hands and tremor"]
    batched = linker.encoder.embed(texts, batch_size=4)
    single = np.concatenate([linker.encoder.embed([t], batch_size=1) for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert [c[0].id for c in linker.search(texts, "Disease", 1)] == \
        [linker.search([t], "Disease", 1)[0][0].id for t in texts]


def test_fingerprint_mismatch_is_refused(trained: tuple[DenseLinker, Path]) -> None:
    _, folder = trained
    changed = make_vocabulary("diseases2.tsv", [(t, "D5" if t == "tremor" else c, ()) for t, c in
                                                zip(DISEASES.terms, DISEASES.ids)])
    with pytest.raises(BiotuneError, match=rf"^linker folder {folder} was built for Disease from vocabulary "
                                           rf"diseases\.tsv \(fingerprint {DISEASES.fingerprint}\), which the "
                                           r"vocabularies given for Disease are not: diseases2\.tsv"):
        DenseLinker.load(folder, {"Disease": [changed], "Chemical": [CHEMICALS]})
    extra = make_vocabulary("train mentions", [("fits", "D2", ())])
    assert DenseLinker.load(folder, {"Disease": [extra, DISEASES], "Chemical": [CHEMICALS]}).types.keys() == \
        {"Disease", "Chemical"}  # more vocabularies than the index holds is fine
    manifest = json.loads((folder / "linker.json").read_text())
    assert manifest["types"]["Disease"]["vocabularies"] == [{"source": "diseases.tsv",
                                                             "fingerprint": DISEASES.fingerprint}]
    with pytest.raises(BiotuneError, match=r"is not a dense linker folder \(no linker\.json\)"):
        DenseLinker.load(folder / "encoder")


def test_a_linker_of_fewer_types_uses_the_index_for_its_own(trained: tuple[DenseLinker, Path]) -> None:
    """A disease-only linker (NCBI-disease) over an index of diseases and chemicals: only the disease
    vocabulary is checked, and its links stay within Disease."""
    _, folder = trained
    loaded = DenseLinker.load(folder, {"Disease": [DISEASES]})
    disease_only = Linker.from_vocabularies({"Disease": [DISEASES]}, fuzzy=False, dense=loaded)
    links = disease_only.link([("fits", "Disease"), ("hypotension", "Disease")])
    assert [(link.id, link.stage) for link in links] == [("D2", "dense"), ("D1", "exact")]
    with pytest.raises(BiotuneError, match="which the vocabularies given for Disease are not: none"):
        DenseLinker.load(folder, {"Disease": [], "Chemical": [CHEMICALS]})
