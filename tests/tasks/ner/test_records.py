"""NER's prediction records: the files it reads, character offsets that round-trip, ids, tokens and documents kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import biotune


@pytest.fixture(scope="module")
def model(trained_run) -> biotune.Model:
    return biotune.load(trained_run.paths.best_model, precision="fp32")


def test_text_input_gets_character_offsets_that_round_trip(model: biotune.Model, tmp_path: Path) -> None:
    lines = ["The patient developed acute bleeding after heparin.",
             "  Cisplatin and severe nephrotoxicity  were  given.",
             "Naloxone (and) asthma; lithium-induced tremor."]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    n = model.predict_file(src, tmp_path / "out.jsonl")
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert n == len(records) == 3
    assert [r["sentence_id"] for r in records] == ["in.txt:1", "in.txt:2", "in.txt:3"]
    found = 0
    for rec, line in zip(records, lines):
        assert set(rec) == {"sentence_id", "tokens", "predictions", "text"} and rec["text"] == line
        for p in rec["predictions"]:
            found += 1
            assert rec["text"][p["start_char"]:p["end_char"]] == p["entity"]
            assert set(p) == {"entity", "type", "start_token", "end_token", "score", "start_char", "end_char"}
            assert 0 <= p["start_token"] < p["end_token"] <= len(rec["tokens"])
    assert found > 0


def test_jsonl_input_keeps_ids_tokens_and_documents(model: biotune.Model, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    rows = [{"id": "doc1-s1", "tokens": ["heparin", "and", "severe", "bleeding", "."], "document": "doc1"},
            {"id": "doc1-s2", "tokens": ["the", "patient", "was", "given", "aspirin", "."], "document": "doc1"},
            {"tokens": ["aspirin", "."], "tags": ["B-Chemical", "O"]}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model.predict_file(src, tmp_path / "out.jsonl")
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [o["sentence_id"] for o in out] == ["doc1-s1", "doc1-s2", "in.jsonl:3"]
    assert [o["tokens"] for o in out] == [r["tokens"] for r in rows]
    assert [o.get("document") for o in out] == ["doc1", "doc1", None]
    for o in out:
        for p in o["predictions"]:
            assert p["entity"] == " ".join(o["tokens"][p["start_token"]:p["end_token"]])
            assert "start_char" not in p


def test_tsv_input_is_tagged_by_its_tokens_with_its_documents(model: biotune.Model, tmp_path: Path) -> None:
    src = tmp_path / "in.dat"  # not an extension of a format: `format` names it
    src.write_text("-DOCSTART-\tO\n\nheparin\tB-Chemical\nand\tO\n\nbleeding\tO\n", encoding="utf-8")
    assert model.predict_file(src, tmp_path / "out.jsonl", format="tsv") == 2
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(o["sentence_id"], o["tokens"], o["document"]) for o in out] == \
           [("in.dat:3", ["heparin", "and"], "in.dat:1"), ("in.dat:6", ["bleeding"], "in.dat:1")]


def test_a_record_gives_the_same_entities_as_its_file_line(model: biotune.Model, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("Cisplatin-induced nephrotoxicity after heparin.\n", encoding="utf-8")
    model.predict_file(src, tmp_path / "out.jsonl")
    [line] = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    [record] = model.predict([{"id": "in.txt:1", "text": "Cisplatin-induced nephrotoxicity after heparin."}])
    assert record == line
