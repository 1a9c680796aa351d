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
from biotune.linking import pseudo_id
from biotune.serving.tag_job import MANIFEST, TagSettings, run_tag
from biotune.tasks.ner.stage import EntityStage
from biotune.tasks.ner.tagger import Tagger
from biotune.tasks.stages import DocumentPipeline, Step

LINES = [
    "The patient developed acute bleeding after heparin.",
    "Cisplatin and severe nephrotoxicity were given.",
    "Naloxone and asthma; lithium-induced tremor.",
    "Warfarin was given and the patient developed seizures.",
    "Aspirin and severe hypotension.",
]


@pytest.fixture(scope="module")
def annotator(trained_run) -> DocumentPipeline:
    """The toy NER model alone, as the job's document pipeline."""
    return DocumentPipeline([Step(EntityStage(Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32")),
                                  "the toy tagger")])


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
                       checkpoints=(trained_run.paths.best_model,), precision="fp32", **options)


def entities(documents: list, scores: bool = True) -> list:
    """What a KG reads from tagged documents; scores rounded, as batch composition moves them by ~1e-7."""
    return [(d.id, [(a.start_char, a.end_char, a.type, a.text, round(a.score, 4) if scores else None)
                            for a in d.annotations]) for d in documents]


def read_output(folder: Path) -> list:
    return [doc for path in sorted(folder.glob("*.jsonl")) for doc in iter_jsonl_documents(path)]


def test_tag_job_writes_shards_in_input_order_with_the_tagger_entities(tmp_path, trained_run, annotator) -> None:
    job = settings(tmp_path, trained_run, shard_size=3)
    summary = run_tag(job, annotator)
    names = sorted(p.name for p in job.output_dir.iterdir())
    assert names == ["a.txt.00000.jsonl", "a.txt.00001.jsonl", "a.txt.00002.jsonl", "b.txt.00000.jsonl",
                     "sub__c.pubtator.00000.jsonl", MANIFEST]
    assert (summary.documents, summary.shards_written, summary.shards_skipped) == (11, 5, 0)
    documents = read_output(job.output_dir)
    expected = [doc for name in ("a.txt", "b.txt", "sub/c.pubtator") for doc in iter_documents(job.input / name)]
    assert [d.id for d in documents] == [d.id for d in expected]
    assert entities(documents) == entities(tag_documents(annotator.steps[0].stage.tagger, expected))
    assert any(d.annotations for d in documents), "the toy model finds entities"
    for doc in documents:
        assert all(doc.text[a.start_char : a.end_char] == a.text for a in doc.annotations)
    manifest = json.loads((job.output_dir / MANIFEST).read_text())
    assert manifest["complete"] is True
    assert manifest["files"] == {"a.txt": {"documents": 7, "shards": 3}, "b.txt": {"documents": 3, "shards": 1},
                                 "sub/c.pubtator": {"documents": 1, "shards": 1}}


def test_tag_job_resumes_without_losing_or_duplicating(tmp_path, trained_run, annotator) -> None:
    job = settings(tmp_path, trained_run, shard_size=2)
    run_tag(job, annotator)
    complete = {p.name: p.read_bytes() for p in job.output_dir.glob("*.jsonl")}
    lost = sorted(complete)[1:4]
    for name in lost:  # as if the job had been killed before writing these shards
        (job.output_dir / name).unlink()
    (job.output_dir / ".a.txt.00003.jsonl.tmp").write_text("half a shard", encoding="utf-8")
    calls = []
    summary = run_tag(job, annotator, on_progress=calls.append)
    assert (summary.shards_written, summary.shards_skipped) == (len(lost), len(complete) - len(lost))
    assert sum(calls) == summary.documents == 11
    assert {p.name: p.read_bytes() for p in job.output_dir.glob("*.jsonl")} == complete


def test_tag_job_refuses_other_settings_and_foreign_folders(tmp_path, trained_run, annotator) -> None:
    job = settings(tmp_path, trained_run, shard_size=4)
    run_tag(job, annotator)
    other = TagSettings(input=job.input, output_dir=job.output_dir, checkpoints=job.checkpoints, precision="fp32",
                        shard_size=5, output_format="pubtator")
    with pytest.raises(BiotuneError, match=r"other settings \(output_format, shard_size differ\)"):
        run_tag(other, annotator)
    assert run_tag(other, annotator, overwrite=True).shards_written == 4
    assert not list(job.output_dir.glob("*.jsonl"))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(BiotuneError, match="not empty and holds no tag_manifest.json"):
        run_tag(TagSettings(input=job.input, output_dir=foreign, checkpoints=job.checkpoints), annotator)
    assert (foreign / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("output_format", ["pubtator", "bioc-xml", "bioc-json", "conll", "brat"])
def test_tag_job_writes_every_output_format(tmp_path, trained_run, annotator, output_format: str) -> None:
    job = settings(tmp_path, trained_run, shard_size=4, output_format=output_format)
    run_tag(job, annotator)
    outputs = sorted(p for p in job.output_dir.iterdir() if p.name != MANIFEST)
    assert len(outputs) == 4 and not [p for p in job.output_dir.iterdir() if p.name.startswith(".")]
    if output_format == "brat":
        assert all(p.is_dir() for p in outputs)
        assert len(list(outputs[0].glob("*.ann"))) == 4
    elif output_format in ("pubtator", "bioc-xml", "bioc-json"):
        back = [doc for p in outputs for doc in iter_documents(p, output_format)]
        expected = tag_documents(annotator.steps[0].stage.tagger, [d for n in ("a.txt", "b.txt", "sub/c.pubtator") for d in iter_documents(job.input / n)])
        assert entities(back, scores=False) == entities(expected, scores=False)


def test_tag_job_input_errors_are_clear(tmp_path, trained_run, annotator) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BiotuneError, match="holds no files in a known document format"):
        run_tag(TagSettings(input=empty, output_dir=tmp_path / "o", checkpoints=(Path("x"),)), annotator)
    odd = tmp_path / "data.csv"
    odd.write_text("x\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match="cannot tell the document format from the extension '.csv'"):
        run_tag(TagSettings(input=odd, output_dir=tmp_path / "o", checkpoints=(Path("x"),)), annotator)
    with pytest.raises(BiotuneError, match="unknown output format 'xml'"):
        TagSettings(input=odd, output_dir=tmp_path / "o", checkpoints=(Path("x"),), output_format="xml")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "ok"}\n{"id": 2}\n', encoding="utf-8")
    with pytest.raises(BiotuneError, match=r"bad.jsonl:2: a document needs"):
        run_tag(TagSettings(input=bad, output_dir=tmp_path / "o2", checkpoints=(trained_run.paths.best_model,),
                            shard_size=1), annotator)
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


def test_a_corrupt_manifest_is_a_clear_error(tmp_path, trained_run, annotator) -> None:
    job = settings(tmp_path, trained_run)
    job.output_dir.mkdir()
    (job.output_dir / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(BiotuneError, match="tag_manifest.json: not a biotune tagging manifest"):
        run_tag(job, annotator)


def job_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_rerun_after_documents_were_appended_to_an_input_is_refused(tmp_path, trained_run, annotator) -> None:
    job = settings(tmp_path, trained_run, shard_size=4)
    run_tag(job, annotator)
    before, size = job_files(job.output_dir), (job.input / "b.txt").stat().st_size
    with open(job.input / "b.txt", "a", encoding="utf-8") as handle:
        handle.write("Heparin and new bleeding.\n")
    with pytest.raises(BiotuneError, match=rf"input b\.txt changed \(size {size} -> {size + 26} bytes\)") as error:
        run_tag(job, annotator)
    assert "a.txt" not in str(error.value) and "--overwrite" in str(error.value)
    assert job_files(job.output_dir) == before, "a refused rerun leaves the job as it was"
    (job.input / "b.txt").write_text("X" * size, encoding="utf-8")  # the first size, other bytes: still caught
    with pytest.raises(BiotuneError, match=r"input b\.txt changed \(same size, different content\)"):
        run_tag(job, annotator)
    (job.input / "sub" / "new.txt").write_text("Aspirin.\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match=r"input sub/new\.txt was added"):
        run_tag(job, annotator)
    again = run_tag(job, annotator, overwrite=True)  # b.txt is now one line: one document
    assert {name: counts["documents"] for name, counts in again.files.items()} == {
        "a.txt": 7, "b.txt": 1, "sub/c.pubtator": 1, "sub/new.txt": 1}


def test_a_touched_input_with_the_same_bytes_resumes_with_a_warning(tmp_path, trained_run, annotator, caplog) -> None:
    job = settings(tmp_path, trained_run, shard_size=4)
    run_tag(job, annotator)
    recorded = json.loads((job.output_dir / MANIFEST).read_text())["inputs"]["a.txt"]
    assert recorded["size"] == (job.input / "a.txt").stat().st_size and len(recorded["blake2b"]) == 128
    os.utime(job.input / "a.txt", ns=(1, 1))
    with caplog.at_level("WARNING", logger="biotune"):
        assert run_tag(job, annotator).shards_skipped == 4
    assert "input a.txt has a new modification time but the same content" in caplog.text
    assert json.loads((job.output_dir / MANIFEST).read_text())["inputs"]["a.txt"]["mtime_ns"] == 1


def test_a_checkpoint_retrained_in_place_is_refused(tmp_path, trained_run) -> None:
    from safetensors.torch import load_file, save_file

    checkpoint = Path(shutil.copytree(trained_run.paths.best_model, tmp_path / "model"))
    job = TagSettings(input=corpus(tmp_path / "in"), output_dir=tmp_path / "out", checkpoints=(checkpoint,),
                      precision="fp32", shard_size=4)
    run_tag(job)
    weights = load_file(checkpoint / "model.safetensors")
    save_file({name: tensor + 0.01 for name, tensor in weights.items()}, checkpoint / "model.safetensors")
    with pytest.raises(BiotuneError, match=rf"checkpoint {re.escape(str(checkpoint))} changed "
                                           r"\(model\.safetensors differ\)"):
        run_tag(job)


def test_a_second_job_on_the_same_output_folder_is_refused(tmp_path, trained_run, annotator) -> None:
    job = settings(tmp_path, trained_run, shard_size=4)
    job.output_dir.mkdir()
    with open(job.output_dir / LOCK, "w") as held:  # another job's lock, held as that job would hold it
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242 on elsewhere\n")
        held.flush()
        with pytest.raises(BiotuneError, match=r"another tagging job is writing this output folder "
                                               r"\(process 4242 on elsewhere"):
            run_tag(job, annotator)
    assert [p.name for p in job.output_dir.iterdir()] == [LOCK], "the refused job wrote nothing"
    assert run_tag(job, annotator).shards_written == 4
    assert not (job.output_dir / LOCK).exists(), "a finished job removes its lock file"


def test_a_killed_job_leaves_no_lock_that_blocks(tmp_path, trained_run, annotator) -> None:
    job = settings(tmp_path, trained_run, shard_size=4)
    job.output_dir.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); "
        "print('locked', flush=True); time.sleep(60)"), str(job.output_dir / LOCK)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BiotuneError, match="another tagging job"):
            run_tag(job, annotator)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (job.output_dir / LOCK).exists(), "SIGKILL left the lock file behind..."
    assert run_tag(job, annotator).shards_written == 4, "...but not the lock"


def test_bioc_inputs_are_streamed_into_the_same_shards(tmp_path, trained_run, annotator) -> None:
    from biotune.formats.bioc_io import write_bioc_xml
    from biotune.formats.documents import Document, Passage

    source = tmp_path / "in"
    source.mkdir()
    documents = [Document(f"d{i}", [Passage("abstract", line)]) for i, line in enumerate(LINES)]
    write_bioc_xml(documents, source / "c.xml")
    job = TagSettings(input=source, output_dir=tmp_path / "out", checkpoints=(trained_run.paths.best_model,),
                      precision="fp32", shard_size=2)
    summary = run_tag(job, annotator)
    assert (summary.documents, summary.shards_written) == (5, 3)
    assert [[d.id for d in iter_jsonl_documents(p)] for p in sorted(job.output_dir.glob("*.jsonl"))] == [
        ["d0", "d1"], ["d2", "d3"], ["d4"]]
    assert entities(read_output(job.output_dir)) == entities(tag_documents(annotator.steps[0].stage.tagger, documents))


def test_a_job_that_cannot_start_creates_nothing(tmp_path, trained_run) -> None:
    broken = Path(shutil.copytree(trained_run.paths.best_model, tmp_path / "model"))
    (broken / "model.safetensors").write_bytes((broken / "model.safetensors").read_bytes()[:100])  # truncated
    job = TagSettings(input=corpus(tmp_path / "in"), output_dir=tmp_path / "out", checkpoints=(broken,))
    with pytest.raises(BiotuneError, match=rf"checkpoint {re.escape(str(broken))}"):
        run_tag(job)
    assert not job.output_dir.exists()
    with pytest.raises(BiotuneError, match="batch size must be at least 1, not 0"):
        TagSettings(input=job.input, output_dir=job.output_dir, checkpoints=(broken,), batch_size=0)


# --- relations: --relations RE checkpoint -------------------------------------------------------

def relation_settings(tmp_path: Path, trained_run, relation_checkpoint: Path, **options) -> TagSettings:
    return TagSettings(input=corpus(tmp_path / "in"), output_dir=tmp_path / "out",
                       checkpoints=(trained_run.paths.best_model, relation_checkpoint), precision="fp32", **options)


def expected_relations(job: TagSettings, predicted: list[str] | None = None,
                       scope: str = "sentence") -> list[tuple[str, set[tuple[str, str, str]]]]:
    """Per input document: the (type, head, tail) concept pairs the RE model predicts on the NER model's entities.

    Built from the two models directly (NER, candidates, `RelationPredictor.predict`), not through the job;
    `predicted`, if given, receives every candidate's predicted label.
    """
    from biotune.tasks.re.candidates import document_candidates
    from biotune.tasks.re.task import RelationPredictor

    tagger = Tagger.from_checkpoint(job.checkpoints[0], precision="fp32")
    predictor = RelationPredictor.from_checkpoint(job.checkpoints[1], precision="fp32")
    out = []
    for name in ("a.txt", "b.txt", "sub/c.pubtator"):
        for doc in tag_documents(tagger, list(iter_documents(job.input / name))):
            candidates = document_candidates(doc, [["Chemical", "Disease"]], scope, "0", labelled=False)
            predictions = predictor.predict([c.example for c in candidates]) if candidates else []
            if predicted is not None:
                predicted += [p.label for p in predictions]
            out.append((doc.id, {(p.label, c.head_concepts[0], c.tail_concepts[0])
                                 for c, p in zip(candidates, predictions) if p.label != "0"}))
    return out


def written_relations(documents: list) -> list[tuple[str, set[tuple[str, str, str]]]]:
    return [(d.id, {(r.type, r.head, r.tail) for r in d.relations}) for d in documents]


@pytest.mark.parametrize("output_format", ["jsonl", "pubtator", "bioc-xml", "bioc-json"])
def test_tag_job_with_relations_writes_the_predicted_relations(tmp_path, trained_run, relation_checkpoint,
                                                               output_format: str) -> None:
    job = relation_settings(tmp_path, trained_run, relation_checkpoint, shard_size=4, output_format=output_format)
    run_tag(job)
    outputs = sorted(p for p in job.output_dir.iterdir() if p.name != MANIFEST)
    back = [doc for p in outputs for doc in iter_documents(p, output_format)]
    labels: list[str] = []
    expected = expected_relations(job, labels)
    assert written_relations(back) == expected
    assert {"0", "REL"} <= set(labels), "some candidate pairs are related and some are not"
    assert sum(len(d.relations) for d in back) == sum(len(pairs) for _, pairs in expected) > 0, "each pair once"
    for doc in back:
        concepts = {a.concept_id for a in doc.annotations}
        assert all(a.concept_id == pseudo_id(a.text, a.type) for a in doc.annotations), "unlinked: pseudo ids"
        assert all(r.head in concepts and r.tail in concepts for r in doc.relations)
    if output_format in ("jsonl", "bioc-xml", "bioc-json"):  # PubTator has no score column
        assert all(0.5 < r.score <= 1 for d in back for r in d.relations)


def test_relations_with_a_link_dictionary_name_the_linked_ids(tmp_path, trained_run, relation_checkpoint) -> None:
    dictionary = tmp_path / "terms.tsv"
    dictionary.write_text("heparin\tD006493\nAcute Bleeding\tD006470\n", encoding="utf-8")
    job = relation_settings(tmp_path, trained_run, relation_checkpoint, link=dictionary)
    run_tag(job)
    back = read_output(job.output_dir)
    ids = {a.text.lower(): a.concept_id for d in back for a in d.annotations}
    assert ids["heparin"] == "D006493" and ids["acute bleeding"] == "D006470", "exact, then normalised look-up"
    assert ids["cisplatin"] == "text:Chemical:cisplatin", "a term the dictionary lacks keeps its pseudo id"
    manifest = json.loads((job.output_dir / MANIFEST).read_text())
    texts = [a.text for d in back for a in d.annotations]
    exact = sum(t in ("heparin", "Acute Bleeding") for t in texts)
    normalised = sum(t.lower() in ("heparin", "acute bleeding") for t in texts) - exact
    assert exact and normalised
    assert manifest["annotations"] == {"pairs_too_wide": 0, "mentions_abbreviation": 0, "mentions_exact": exact,
                                       "mentions_normalised": normalised, "mentions_fuzzy": 0, "mentions_dense": 0,
                                       "mentions_unlinked": len(texts) - exact - normalised, "mentions_kept": 0}
    assert {(a.link_stage, a.link_score) for d in back for a in d.annotations} == {
        ("exact", 1.0), ("normalised", 1.0), ("unlinked", None)}
    renamed = {"text:Chemical:heparin": "D006493", "text:Disease:acute bleeding": "D006470"}
    assert written_relations(back) == [(doc_id, {(t, renamed.get(h, h), renamed.get(r, r)) for t, h, r in pairs})
                                       for doc_id, pairs in expected_relations(job)]
    dictionary.write_text("heparin\tD000001\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match=rf"linker {re.escape(str(dictionary))} changed \(fingerprint "
                                           rf"{manifest['linker']} -> [0-9a-f]{{16}}\)"):
        run_tag(job)


def test_a_relation_job_resumes_and_refuses_another_relation_model(tmp_path, trained_run, relation_checkpoint,
                                                                   word_backbone) -> None:
    from tests.serving.conftest import build_relation_checkpoint

    job = relation_settings(tmp_path, trained_run, relation_checkpoint, shard_size=2)
    run_tag(job)
    complete = job_files(job.output_dir)
    for name in sorted(n for n in complete if n != MANIFEST)[1:3]:
        (job.output_dir / name).unlink()
    summary = run_tag(job)
    assert (summary.shards_written, summary.shards_skipped) == (2, len(complete) - 1 - 2)
    assert {n: b for n, b in job_files(job.output_dir).items() if n != MANIFEST} == {
        n: b for n, b in complete.items() if n != MANIFEST}
    other = build_relation_checkpoint(tmp_path / "other_re", word_backbone, trained_run.paths.best_model, seed=1)
    before = job_files(job.output_dir)
    with pytest.raises(BiotuneError, match=r"other settings \(checkpoints differ\)"):
        run_tag(TagSettings(**{**vars(job), "checkpoints": (job.checkpoints[0], other)}))
    with pytest.raises(BiotuneError, match=r"other settings \(checkpoints differ\)"):
        run_tag(TagSettings(**{**vars(job), "checkpoints": job.checkpoints[:1]}))
    assert job_files(job.output_dir) == before
    moved = Path(shutil.copytree(relation_checkpoint, tmp_path / "re_in_place"))
    in_place = TagSettings(**{**vars(job), "checkpoints": (job.checkpoints[0], moved), "output_dir": tmp_path / "out2"})
    run_tag(in_place)
    shutil.copy(other / "model.safetensors", moved / "model.safetensors")  # retrained in place
    with pytest.raises(BiotuneError, match=rf"checkpoint {re.escape(str(moved))} changed \(model\.safetensors differ\)"):
        run_tag(in_place)


def test_relations_are_refused_for_formats_without_them_and_for_unusable_models(tmp_path, trained_run,
                                                                               relation_checkpoint) -> None:
    job = relation_settings(tmp_path, trained_run, relation_checkpoint)
    with pytest.raises(BiotuneError, match=rf"output format 'conll' has no relations; with checkpoint "
                                           rf"{re.escape(str(relation_checkpoint))}, which adds them, write "
                                           "jsonl, pubtator, bioc-xml, bioc-json, brat"):
        run_tag(TagSettings(**{**vars(job), "output_format": "conll"}))
    with pytest.raises(BiotuneError, match=r"checkpoint .* and checkpoint .* both add entities: give one"):
        run_tag(TagSettings(**{**vars(job), "checkpoints": (job.checkpoints[0], job.checkpoints[0])}))
    with pytest.raises(BiotuneError, match=r"checkpoint .* adds relations to documents' entities, which nothing given "
                                           "provides"):
        run_tag(TagSettings(**{**vars(job), "checkpoints": job.checkpoints[1:]}))
    assert not job.output_dir.exists(), "nothing is written for a job that cannot start"


def test_the_tag_command_takes_relations(tmp_path, trained_run, relation_checkpoint) -> None:
    from typer.testing import CliRunner

    from biotune.cli import app

    source = corpus(tmp_path / "in")
    args = ["tag", "--checkpoint", str(trained_run.paths.best_model), "--relations", str(relation_checkpoint),
            "--input", str(source), "--output-dir", str(tmp_path / "out"), "--precision", "fp32"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sum(len(d.relations) for d in read_output(tmp_path / "out")) > 0
    refused = CliRunner().invoke(app, [*args[:-4], "--output-dir", str(tmp_path / "o2"), "--output-format", "conll"])
    assert refused.exit_code == 2 and refused.output.strip().splitlines()[-1] == (  # after the models' loading
        f"error: output format 'conll' has no relations; with checkpoint {relation_checkpoint}, which adds them, write "
        "jsonl, pubtator, bioc-xml, bioc-json, brat")


def test_a_pair_too_wide_for_the_relation_model_is_counted_not_fatal(tmp_path, trained_run, relation_checkpoint,
                                                                     caplog) -> None:
    from biotune.tasks.re.candidates import document_candidates
    from biotune.tasks.re.task import RelationPredictor

    source = tmp_path / "in"
    source.mkdir()
    wide = "the patient developed acute bleeding after heparin" + " and" * 130 + " aspirin ."  # > 128 tokens apart
    (source / "wide.txt").write_text(wide + "\n" + LINES[0] + "\n", encoding="utf-8")
    job = TagSettings(input=source, output_dir=tmp_path / "out",
                      checkpoints=(trained_run.paths.best_model, relation_checkpoint), precision="fp32")
    with caplog.at_level("WARNING", logger="biotune"):
        summary = run_tag(job)
    assert summary.annotations == {"pairs_too_wide": 1}
    assert json.loads((job.output_dir / MANIFEST).read_text())["annotations"] == {"pairs_too_wide": 1}
    assert "1 candidate pairs span more tokens than the relation model's max_length" in caplog.text
    doc = read_output(job.output_dir)[0]
    candidates = document_candidates(doc, [["Chemical", "Disease"]], "sentence", "0", labelled=False)
    assert sorted(c.head_concepts[0] for c in candidates) == ["text:Chemical:aspirin", "text:Chemical:heparin"], "one pair fits"
    fitting = [c for c in candidates if c.head_concepts == ("text:Chemical:heparin",)]
    predicted = RelationPredictor.from_checkpoint(relation_checkpoint, precision="fp32").predict(
        [c.example for c in fitting])
    assert written_relations([doc])[0][1] == {(p.label, c.head_concepts[0], c.tail_concepts[0])
                                              for c, p in zip(fitting, predicted) if p.label != "0"}


def test_a_document_scope_relation_model_relates_concepts_across_sentences(tmp_path, trained_run, word_backbone) -> None:
    from tests.serving.conftest import build_relation_checkpoint

    checkpoint = build_relation_checkpoint(tmp_path / "doc_re", word_backbone, trained_run.paths.best_model,
                                           scope="document")
    job = relation_settings(tmp_path, trained_run, checkpoint, shard_size=4)
    run_tag(job)
    back = read_output(job.output_dir)
    labels: list[str] = []
    assert written_relations(back) == expected_relations(job, labels, scope="document")
    assert {"0", "REL"} <= set(labels)
    sentence_labels: list[str] = []
    expected_relations(job, sentence_labels, scope="sentence")
    assert len(sentence_labels) != len(labels), "the corpus tells the scopes apart (cross-sentence pairs)"
