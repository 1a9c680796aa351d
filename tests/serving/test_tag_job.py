"""`biotune tag`'s job: sharded output, resumption without loss or duplicates, settings, input and model guards, lock, formats."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from biotune.formats.document_formats import iter_documents
from biotune.formats.documents import iter_jsonl_documents
from biotune.errors import BiotuneError
from biotune.tasks.ner.annotate import tag_documents
from biotune.serving.job_guard import LOCK
from biotune.serving.tag_job import MANIFEST, TagSettings, run_tag
from biotune.tasks.ner.tagger import Tagger

LINES = [
    "The patient developed acute bleeding after heparin.",
    "Cisplatin and severe nephrotoxicity were given.",
    "Naloxone and asthma; lithium-induced tremor.",
    "Warfarin was given and the patient developed seizures.",
    "Aspirin and severe hypotension.",
]


@pytest.fixture(scope="module")
def tagger(trained_run) -> Tagger:
    return Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32")


def corpus(folder: Path) -> Path:
    """Two text files (7 and 3 documents) and a PubTator file in a sub-folder, plus a file to ignore."""
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("\n".join(LINES + LINES[:2]) + "\n", encoding="utf-8")
    (folder / "b.txt").write_text("\n\n".join(LINES[2:]) + "\n", encoding="utf-8")
    (folder / "sub" / "c.pubtator").write_text(
        "11|t|Heparin and bleeding.\n11|a|The patient developed tremor after lithium.\n\n", encoding="utf-8")
    (folder / "notes.md").write_text("not a corpus file\n", encoding="utf-8")
    return folder


def settings(tmp_path: Path, trained_run, **options) -> TagSettings:
    return TagSettings(input=corpus(tmp_path / "in"), output_dir=tmp_path / "out",
                       checkpoint=trained_run.paths.best_model, precision="fp32", **options)


def entities(documents: list, scores: bool = True) -> list:
    """What a KG reads from tagged documents; scores rounded, as batch composition moves them by ~1e-7."""
    return [(d.id, [(a.start_char, a.end_char, a.type, a.text, round(a.score, 4) if scores else None)
                            for a in d.annotations]) for d in documents]


def read_output(folder: Path) -> list:
    return [doc for path in sorted(folder.glob("*.jsonl")) for doc in iter_jsonl_documents(path)]


def test_tag_job_writes_shards_in_input_order_with_the_tagger_entities(tmp_path, trained_run, tagger) -> None:
    job = settings(tmp_path, trained_run, shard_size=3)
    summary = run_tag(job, tagger)
    names = sorted(p.name for p in job.output_dir.iterdir())
    assert names == ["a.txt.00000.jsonl", "a.txt.00001.jsonl", "a.txt.00002.jsonl", "b.txt.00000.jsonl",
                     "sub__c.pubtator.00000.jsonl", MANIFEST]
    assert (summary.documents, summary.shards_written, summary.shards_skipped) == (11, 5, 0)
    documents = read_output(job.output_dir)
    expected = [doc for name in ("a.txt", "b.txt", "sub/c.pubtator") for doc in iter_documents(job.input / name)]
    assert [d.id for d in documents] == [d.id for d in expected]
    assert entities(documents) == entities(tag_documents(tagger, expected))
    assert any(d.annotations for d in documents), "the toy model finds entities"
    for doc in documents:
        assert all(doc.text[a.start_char : a.end_char] == a.text for a in doc.annotations)
    manifest = json.loads((job.output_dir / MANIFEST).read_text())
    assert manifest["complete"] is True
    assert manifest["files"] == {"a.txt": {"documents": 7, "shards": 3}, "b.txt": {"documents": 3, "shards": 1},
                                 "sub/c.pubtator": {"documents": 1, "shards": 1}}


def test_tag_job_resumes_without_losing_or_duplicating(tmp_path, trained_run, tagger) -> None:
    job = settings(tmp_path, trained_run, shard_size=2)
    run_tag(job, tagger)
    complete = {p.name: p.read_bytes() for p in job.output_dir.glob("*.jsonl")}
    lost = sorted(complete)[1:4]
    for name in lost:  # as if the job had been killed before writing these shards
        (job.output_dir / name).unlink()
    (job.output_dir / ".a.txt.00003.jsonl.tmp").write_text("half a shard", encoding="utf-8")
    calls = []
    summary = run_tag(job, tagger, on_progress=calls.append)
    assert (summary.shards_written, summary.shards_skipped) == (len(lost), len(complete) - len(lost))
    assert sum(calls) == summary.documents == 11
    assert {p.name: p.read_bytes() for p in job.output_dir.glob("*.jsonl")} == complete


def test_tag_job_refuses_other_settings_and_foreign_folders(tmp_path, trained_run, tagger) -> None:
    job = settings(tmp_path, trained_run, shard_size=4)
    run_tag(job, tagger)
    other = TagSettings(input=job.input, output_dir=job.output_dir, checkpoint=job.checkpoint, precision="fp32",
                        shard_size=5, output_format="pubtator")
    with pytest.raises(BiotuneError, match=r"other settings \(output_format, shard_size differ\)"):
        run_tag(other, tagger)
    assert run_tag(other, tagger, overwrite=True).shards_written == 4
    assert not list(job.output_dir.glob("*.jsonl"))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(BiotuneError, match="not empty and holds no tag_manifest.json"):
        run_tag(TagSettings(input=job.input, output_dir=foreign, checkpoint=job.checkpoint), tagger)
    assert (foreign / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("output_format", ["pubtator", "bioc-xml", "bioc-json", "conll", "brat"])
def test_tag_job_writes_every_output_format(tmp_path, trained_run, tagger, output_format: str) -> None:
    job = settings(tmp_path, trained_run, shard_size=4, output_format=output_format)
    run_tag(job, tagger)
    outputs = sorted(p for p in job.output_dir.iterdir() if p.name != MANIFEST)
    assert len(outputs) == 4 and not [p for p in job.output_dir.iterdir() if p.name.startswith(".")]
    if output_format == "brat":
        assert all(p.is_dir() for p in outputs)
        assert len(list(outputs[0].glob("*.ann"))) == 4
    elif output_format in ("pubtator", "bioc-xml", "bioc-json"):
        back = [doc for p in outputs for doc in iter_documents(p, output_format)]
        expected = tag_documents(tagger, [d for n in ("a.txt", "b.txt", "sub/c.pubtator") for d in iter_documents(job.input / n)])
        assert entities(back, scores=False) == entities(expected, scores=False)


def test_tag_job_input_errors_are_clear(tmp_path, trained_run, tagger) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BiotuneError, match="holds no files in a known document format"):
        run_tag(TagSettings(input=empty, output_dir=tmp_path / "o", checkpoint=Path("x")), tagger)
    odd = tmp_path / "data.csv"
    odd.write_text("x\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match="cannot tell the document format from the extension '.csv'"):
        run_tag(TagSettings(input=odd, output_dir=tmp_path / "o", checkpoint=Path("x")), tagger)
    with pytest.raises(BiotuneError, match="unknown output format 'xml'"):
        TagSettings(input=odd, output_dir=tmp_path / "o", checkpoint=Path("x"), output_format="xml")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "ok"}\n{"id": 2}\n', encoding="utf-8")
    with pytest.raises(BiotuneError, match=r"bad.jsonl:2: a document needs"):
        run_tag(TagSettings(input=bad, output_dir=tmp_path / "o2", checkpoint=trained_run.paths.best_model,
                            shard_size=1), tagger)
    assert [p.name for p in (tmp_path / "o2").iterdir()] == [MANIFEST, "bad.jsonl.00000.jsonl"] or \
        sorted(p.name for p in (tmp_path / "o2").iterdir()) == ["bad.jsonl.00000.jsonl", MANIFEST]


def test_tag_command_runs_and_resumes_and_reports_errors(tmp_path, trained_run) -> None:
    from typer.testing import CliRunner

    from biotune.cli import app

    source = corpus(tmp_path / "in")
    args = ["tag", "--checkpoint", str(trained_run.paths.best_model), "--input", str(source),
            "--output-dir", str(tmp_path / "out"), "--shard-size", "4", "--precision", "fp32"]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "11 documents in 4 shards (4 written, 0 already done)" in first.output
    again = runner.invoke(app, args)
    assert "(0 written, 4 already done)" in again.output
    other = runner.invoke(app, args[:-4] + ["--shard-size", "5"])
    assert other.exit_code == 2 and "shard_size differ" in other.output


def test_a_corrupt_manifest_is_a_clear_error(tmp_path, trained_run, tagger) -> None:
    job = settings(tmp_path, trained_run)
    job.output_dir.mkdir()
    (job.output_dir / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(BiotuneError, match="tag_manifest.json: not a biotune tagging manifest"):
        run_tag(job, tagger)


def job_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_rerun_after_documents_were_appended_to_an_input_is_refused(tmp_path, trained_run, tagger) -> None:
    job = settings(tmp_path, trained_run, shard_size=4)
    run_tag(job, tagger)
    before, size = job_files(job.output_dir), (job.input / "b.txt").stat().st_size
    with open(job.input / "b.txt", "a", encoding="utf-8") as handle:
        handle.write("Heparin and new bleeding.\n")
    with pytest.raises(BiotuneError, match=rf"input b\.txt changed \(size {size} -> {size + 26} bytes\)") as error:
        run_tag(job, tagger)
    assert "a.txt" not in str(error.value) and "--overwrite" in str(error.value)
    assert job_files(job.output_dir) == before, "a refused rerun leaves the job as it was"
    (job.input / "b.txt").write_text("X" * size, encoding="utf-8")  # the first size, other bytes: still caught
    with pytest.raises(BiotuneError, match=r"input b\.txt changed \(same size, different content\)"):
        run_tag(job, tagger)
    (job.input / "sub" / "new.txt").write_text("Aspirin.\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match=r"input sub/new\.txt was added"):
        run_tag(job, tagger)
    again = run_tag(job, tagger, overwrite=True)  # b.txt is now one line: one document
    assert {name: counts["documents"] for name, counts in again.files.items()} == {
        "a.txt": 7, "b.txt": 1, "sub/c.pubtator": 1, "sub/new.txt": 1}


def test_a_touched_input_with_the_same_bytes_resumes_with_a_warning(tmp_path, trained_run, tagger, caplog) -> None:
    job = settings(tmp_path, trained_run, shard_size=4)
    run_tag(job, tagger)
    recorded = json.loads((job.output_dir / MANIFEST).read_text())["inputs"]["a.txt"]
    assert recorded["size"] == (job.input / "a.txt").stat().st_size and len(recorded["blake2b"]) == 128
    os.utime(job.input / "a.txt", ns=(1, 1))
    with caplog.at_level("WARNING", logger="biotune"):
        assert run_tag(job, tagger).shards_skipped == 4
    assert "input a.txt has a new modification time but the same content" in caplog.text
    assert json.loads((job.output_dir / MANIFEST).read_text())["inputs"]["a.txt"]["mtime_ns"] == 1


def test_a_checkpoint_retrained_in_place_is_refused(tmp_path, trained_run) -> None:
    from safetensors.torch import load_file, save_file

    checkpoint = Path(shutil.copytree(trained_run.paths.best_model, tmp_path / "model"))
    job = TagSettings(input=corpus(tmp_path / "in"), output_dir=tmp_path / "out", checkpoint=checkpoint,
                      precision="fp32", shard_size=4)
    run_tag(job)
    weights = load_file(checkpoint / "model.safetensors")
    save_file({name: tensor + 0.01 for name, tensor in weights.items()}, checkpoint / "model.safetensors")
    with pytest.raises(BiotuneError, match=rf"checkpoint {re.escape(str(checkpoint))} changed "
                                           r"\(model\.safetensors differ\)"):
        run_tag(job)


def test_a_second_job_on_the_same_output_folder_is_refused(tmp_path, trained_run, tagger) -> None:
    job = settings(tmp_path, trained_run, shard_size=4)
    job.output_dir.mkdir()
    with open(job.output_dir / LOCK, "w") as held:  # another job's lock, held as that job would hold it
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242 on elsewhere\n")
        held.flush()
        with pytest.raises(BiotuneError, match=r"another tagging job is writing this output folder "
                                               r"\(process 4242 on elsewhere"):
            run_tag(job, tagger)
    assert [p.name for p in job.output_dir.iterdir()] == [LOCK], "the refused job wrote nothing"
    assert run_tag(job, tagger).shards_written == 4
    assert not (job.output_dir / LOCK).exists(), "a finished job removes its lock file"


def test_a_killed_job_leaves_no_lock_that_blocks(tmp_path, trained_run, tagger) -> None:
    job = settings(tmp_path, trained_run, shard_size=4)
    job.output_dir.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); "
        "print('locked', flush=True); time.sleep(60)"), str(job.output_dir / LOCK)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BiotuneError, match="another tagging job"):
            run_tag(job, tagger)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (job.output_dir / LOCK).exists(), "SIGKILL left the lock file behind..."
    assert run_tag(job, tagger).shards_written == 4, "...but not the lock"


def test_bioc_inputs_are_streamed_into_the_same_shards(tmp_path, trained_run, tagger) -> None:
    from biotune.formats.bioc_io import write_bioc_xml
    from biotune.formats.documents import Document, Passage

    source = tmp_path / "in"
    source.mkdir()
    documents = [Document(f"d{i}", [Passage("abstract", line)]) for i, line in enumerate(LINES)]
    write_bioc_xml(documents, source / "c.xml")
    job = TagSettings(input=source, output_dir=tmp_path / "out", checkpoint=trained_run.paths.best_model,
                      precision="fp32", shard_size=2)
    summary = run_tag(job, tagger)
    assert (summary.documents, summary.shards_written) == (5, 3)
    assert [[d.id for d in iter_jsonl_documents(p)] for p in sorted(job.output_dir.glob("*.jsonl"))] == [
        ["d0", "d1"], ["d2", "d3"], ["d4"]]
    assert entities(read_output(job.output_dir)) == entities(tag_documents(tagger, documents))


def test_a_job_that_cannot_start_creates_nothing(tmp_path, trained_run) -> None:
    broken = Path(shutil.copytree(trained_run.paths.best_model, tmp_path / "model"))
    (broken / "model.safetensors").write_bytes((broken / "model.safetensors").read_bytes()[:100])  # truncated
    job = TagSettings(input=corpus(tmp_path / "in"), output_dir=tmp_path / "out", checkpoint=broken)
    with pytest.raises(BiotuneError, match=rf"checkpoint {re.escape(str(broken))}"):
        run_tag(job)
    assert not job.output_dir.exists()
    with pytest.raises(BiotuneError, match="batch size must be at least 1, not 0"):
        TagSettings(input=job.input, output_dir=job.output_dir, checkpoint=broken, batch_size=0)
