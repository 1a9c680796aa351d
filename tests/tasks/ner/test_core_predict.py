"""`predict_file`: JSONL records, character offsets that round-trip, streaming, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.tasks.ner.predict import predict_file
from biotune.tasks.ner.tagger import Tagger


@pytest.fixture(scope="module")
def tagger(trained_run) -> Tagger:
    return Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32")


def test_text_input_gets_character_offsets_that_round_trip(tagger: Tagger, tmp_path: Path) -> None:
    lines = ["The patient developed acute bleeding after heparin.",
             "  Cisplatin and severe nephrotoxicity  were  given.",
             "Naloxone (and) asthma; lithium-induced tremor."]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    n = predict_file(tagger, src, tmp_path / "out.jsonl")
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert n == len(records) == 3
    found = 0
    for rec in records:
        assert set(rec) >= {"sentence_id", "tokens", "predictions", "text"}
        for p in rec["predictions"]:
            found += 1
            assert rec["text"][p["start_char"]:p["end_char"]] == p["entity"]
            assert set(p) == {"entity", "type", "start_token", "end_token", "score", "start_char", "end_char"}
            assert 0 <= p["start_token"] < p["end_token"] <= len(rec["tokens"])
    assert found > 0


def test_jsonl_input_keeps_ids_and_tokens(tagger: Tagger, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    rows = [{"id": "doc1-s1", "tokens": ["heparin", "and", "severe", "bleeding", "."]},
            {"id": "doc1-s2", "tokens": ["the", "patient", "was", "given", "aspirin", "."]}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    predict_file(tagger, src, tmp_path / "out.jsonl")
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [o["sentence_id"] for o in out] == ["doc1-s1", "doc1-s2"]
    assert [o["tokens"] for o in out] == [r["tokens"] for r in rows]
    for o in out:
        for p in o["predictions"]:
            assert p["entity"] == " ".join(o["tokens"][p["start_token"]:p["end_token"]])
            assert "start_char" not in p


def test_streams_in_chunks_and_keeps_order(tagger: Tagger, tmp_path: Path) -> None:
    src = tmp_path / "many.txt"
    src.write_text("".join(f"sentence {i} with heparin .\n" for i in range(50)))
    ticks: list[int] = []
    n = predict_file(tagger, src, tmp_path / "out.jsonl", chunk_size=7, on_progress=ticks.append)
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert n == 50 and sum(ticks) == 50
    assert [o["tokens"][1] for o in out] == [str(i) for i in range(50)]


def test_bad_input_leaves_no_output(tagger: Tagger, tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"tokens": ["a", "b"]}\n' * 5 + "{not json\n")
    out = tmp_path / "out.jsonl"
    with pytest.raises(BiotuneError, match=r"bad.jsonl.*6"):
        predict_file(tagger, src, out, chunk_size=2)
    assert not out.exists()
    assert not list(tmp_path.glob(".out.jsonl*"))


def test_existing_output_survives_a_failed_run(tagger: Tagger, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("previous results\n")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(BiotuneError, match="empty"):
        predict_file(tagger, tmp_path / "empty.txt", out, overwrite=True)
    assert out.read_text() == "previous results\n"


@pytest.mark.parametrize("alias", ["same", "relative", "symlink", "hardlink"])
def test_output_that_is_the_input_is_refused_and_the_input_survives(
    tagger: Tagger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alias: str
) -> None:
    src = tmp_path / "in.txt"
    src.write_text("Aspirin and severe tremor.\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out = {"same": src, "relative": Path("in.txt"), "symlink": tmp_path / "link.txt",
           "hardlink": tmp_path / "hard.txt"}[alias]
    if alias == "symlink":
        out.symlink_to(src)
    elif alias == "hardlink":
        out.hardlink_to(src)
    with pytest.raises(BiotuneError, match="is the input"):
        predict_file(tagger, src, out, overwrite=True)
    assert src.read_text(encoding="utf-8") == "Aspirin and severe tremor.\n"


def test_existing_output_is_replaced_only_with_overwrite(tagger: Tagger, tmp_path: Path) -> None:
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("Aspirin and severe tremor.\n", encoding="utf-8")
    out.write_text("previous results\n")
    with pytest.raises(BiotuneError, match=r"out.jsonl already exists; pass --overwrite"):
        predict_file(tagger, src, out)
    assert out.read_text() == "previous results\n"
    assert predict_file(tagger, src, out, overwrite=True) == 1
    assert json.loads(out.read_text())["tokens"] == ["Aspirin", "and", "severe", "tremor", "."]


def test_output_that_is_a_folder_or_under_a_file_is_refused(tagger: Tagger, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("Aspirin.\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match="is a folder"):
        predict_file(tagger, src, tmp_path, overwrite=True)
    with pytest.raises(BiotuneError, match=r"in.txt is a file, not a folder"):
        predict_file(tagger, src, src / "sub" / "out.jsonl")
