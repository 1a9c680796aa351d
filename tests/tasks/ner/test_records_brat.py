"""NER prediction reads brat: a folder of .txt + .ann pairs (or one .ann file) as sentence records whose
`offset` places each predicted entity in its document's .txt, with document ids for context."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import biotune
from biotune.tasks.ner.records import read_records

TEXTS = {
    "doc1": "Heparin and bleeding.\nCisplatin caused nephrotoxicity after heparin.\n",
    "doc2": "Aspirin was given.\n",
}
ANNOTATIONS = {  # read past: prediction tags the text, whatever the .ann holds
    "doc1": "T1\tChemical 0 7\tHeparin\nT2\tDisease 12 20\tbleeding\nR1\tCause Arg1:T1 Arg2:T2\n",
    "doc2": "",
}


@pytest.fixture()
def brat_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "brat"
    folder.mkdir()
    for doc, text in TEXTS.items():
        (folder / f"{doc}.txt").write_text(text, encoding="utf-8")
        (folder / f"{doc}.ann").write_text(ANNOTATIONS[doc], encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def model(trained_run) -> biotune.Model:
    return biotune.load(trained_run.paths.best_model, precision="fp32")


def test_a_brat_folder_reads_as_one_record_per_sentence_with_its_place_in_the_document(brat_folder: Path) -> None:
    records = list(read_records(brat_folder))
    assert records == [
        {"id": "doc1:0", "text": "Heparin and bleeding.", "document": "doc1", "offset": 0},
        {"id": "doc1:22", "text": "Cisplatin caused nephrotoxicity after heparin.", "document": "doc1", "offset": 22},
        {"id": "doc2:0", "text": "Aspirin was given.", "document": "doc2", "offset": 0},
    ]
    assert list(read_records(brat_folder / "doc1.ann")) == records[:2]  # one file of the folder, by its extension
    assert list(read_records(brat_folder / "doc2.txt", format="brat")) == records[2:]  # a .txt is text unless named


def test_predicted_entities_map_to_brat_offsets(model: biotune.Model, brat_folder: Path, tmp_path: Path) -> None:
    n = model.predict_file(brat_folder / "doc1.ann", tmp_path / "out.jsonl")
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert n == len(out) == 2
    assert [(o["sentence_id"], o["document"], o["offset"]) for o in out] == [("doc1:0", "doc1", 0),
                                                                            ("doc1:22", "doc1", 22)]
    found = [(o["offset"] + p["start_char"], o["offset"] + p["end_char"], p["entity"])
             for o in out for p in o["predictions"]]
    assert found, "the toy model tags chemicals in these sentences"
    assert all(TEXTS["doc1"][start:end] == entity for start, end, entity in found)
    assert model.predict(list(read_records(brat_folder)))[:2] == out  # a folder's records: the same predictions
