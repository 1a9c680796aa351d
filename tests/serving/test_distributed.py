"""The Ray Data job writes exactly what the single-process job writes, and resumes the same way."""

from __future__ import annotations

import json

import pytest
import torch

from biotune.formats.bioc_io import write_bioc_xml
from biotune.formats.documents import Document, Passage
from biotune.errors import BiotuneError
from biotune.serving.tag_job import MANIFEST, TagSettings, plan_shards, run_tag

ray = pytest.importorskip("ray")

from biotune.serving.distributed import run_tag_ray, use_assigned_cpus  # noqa: E402

LINES = [
    "The patient developed acute bleeding after heparin.",
    "Cisplatin and severe nephrotoxicity were given. Lithium-induced tremor followed.",
    "Naloxone and asthma.",
    "Warfarin was given and the patient developed seizures.",
]


@pytest.fixture(scope="module")
def local_ray():
    """One private 2-CPU Ray for the module (starting Ray is the slow part); the job reuses it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_with_two_workers_equals_single_process_and_resumes(tmp_path, trained_run, local_ray) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "one.txt").write_text("\n".join(LINES * 3) + "\n", encoding="utf-8")
    (source / "two.jsonl").write_text("".join(json.dumps({"id": f"d{i}", "title": line, "abstract": LINES[i - 1]}) + "\n"
                                              for i, line in enumerate(LINES)), encoding="utf-8")
    write_bioc_xml([Document(f"x{i}", [Passage("abstract", line)]) for i, line in enumerate(LINES)], source / "three.xml")
    single = TagSettings(input=source, output_dir=tmp_path / "single", checkpoints=(trained_run.paths.best_model,),
                         precision="fp32", shard_size=3)
    distributed = TagSettings(input=source, output_dir=tmp_path / "ray", checkpoints=(trained_run.paths.best_model,),
                              precision="fp32", shard_size=3)
    assert [(s.relative, s.index, s.size) for s in plan_shards(single)] == [
        ("one.txt", 0, 3), ("one.txt", 1, 3), ("one.txt", 2, 3), ("one.txt", 3, 3), ("three.xml", 0, 3),
        ("three.xml", 1, 1), ("two.jsonl", 0, 3), ("two.jsonl", 1, 1)]
    assert [s.span.start for s in plan_shards(single) if s.relative == "one.txt"] == [
        0, *(sum(len(line) + 1 for line in (LINES * 3)[:k]) for k in (3, 6, 9))], "one.txt's shards start at byte offsets"
    run_tag(single)
    first = tmp_path / "ray" / "one.txt.00002.jsonl"
    progress: list[int] = []
    summary = run_tag_ray(distributed, workers=2, on_progress=progress.append)
    assert (summary.documents, summary.shards_written, summary.shards_skipped) == (20, 8, 0)
    assert sum(progress) == 20

    def files(folder):
        return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != MANIFEST}

    assert files(tmp_path / "ray") == files(tmp_path / "single")
    assert len(files(tmp_path / "single")) == 8

    first.unlink()  # an interrupted run: the Ray job redoes only the missing shards (one from BioC)
    (tmp_path / "ray" / "three.xml.00001.jsonl").unlink()
    again = run_tag_ray(distributed, workers=2)
    assert (again.shards_written, again.shards_skipped) == (2, 6)
    assert files(tmp_path / "ray") == files(tmp_path / "single")
    manifest = json.loads((tmp_path / "ray" / MANIFEST).read_text())
    assert manifest["complete"] and manifest["files"]["one.txt"] == {"documents": 12, "shards": 4}


def test_ray_with_relations_equals_single_process(tmp_path, trained_run, relation_checkpoint, local_ray) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "one.txt").write_text("\n".join(LINES * 2) + "\n", encoding="utf-8")
    jobs = {name: TagSettings(input=source, output_dir=tmp_path / name, checkpoints=(trained_run.paths.best_model, relation_checkpoint),
                              precision="fp32", shard_size=3, output_format="bioc-xml")
            for name in ("single", "ray")}
    run_tag(jobs["single"])
    assert run_tag_ray(jobs["ray"], workers=2).shards_written == 3

    def files(folder):
        return {p.name: p.read_bytes().replace(b"\n", b"") for p in folder.iterdir() if p.name != MANIFEST}

    single = files(tmp_path / "single")
    assert b"<relation" in b"".join(single.values()), "the shards hold relations"
    assert _without_dates(files(tmp_path / "ray")) == _without_dates(single)


def _without_dates(files: dict[str, bytes]) -> dict[str, bytes]:
    """BioC collections carry the day they were written; a run across midnight would differ there only."""
    import re

    return {name: re.sub(rb"<date>\d+</date>", b"", data) for name, data in files.items()}


def test_an_actor_sets_torch_threads_to_its_cpus(local_ray) -> None:
    @ray.remote(num_cpus=2)
    def threads_in_an_actor_of_two_cpus() -> tuple[int, int]:
        torch.set_num_threads(7)  # whatever the process had
        return use_assigned_cpus(), torch.get_num_threads()

    assert ray.get(threads_in_an_actor_of_two_cpus.remote()) == (2, 2)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("workers", 0, "workers must be at least 1, not 0"),
    ("cpus_per_worker", 0, "cpus per worker must be at least 0.01, not 0"),
    ("gpus_per_worker", -1.0, "gpus per worker must be at least 0, not -1.0"),
    ("gpus_per_worker", float("nan"), "gpus per worker must be at least 0, not nan"),
])
def test_a_pool_that_cannot_exist_is_refused_before_anything_is_written(tmp_path, trained_run, option, value,
                                                                        message) -> None:
    (tmp_path / "a.txt").write_text("Aspirin.\n", encoding="utf-8")
    job = TagSettings(input=tmp_path / "a.txt", output_dir=tmp_path / "out", checkpoints=(trained_run.paths.best_model,))
    with pytest.raises(BiotuneError, match=f"^{message}$"):
        run_tag_ray(job, **{option: value})
    assert not job.output_dir.exists()
