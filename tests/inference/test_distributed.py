"""The Ray Data job writes exactly what the single-process job writes, and resumes the same way."""

from __future__ import annotations

import json

import pytest

from biotune.inference.tag_job import MANIFEST, TagSettings, plan_shards, run_tag

ray = pytest.importorskip("ray")

from biotune.inference.distributed import run_tag_ray, use_assigned_cpus  # noqa: E402

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
    single = TagSettings(input=source, output_dir=tmp_path / "single", checkpoint=trained_run.paths.best_model,
                         precision="fp32", shard_size=3)
    distributed = TagSettings(input=source, output_dir=tmp_path / "ray", checkpoint=trained_run.paths.best_model,
                              precision="fp32", shard_size=3)
    assert [(s.relative, s.index, s.size) for s in plan_shards(single)] == [
        ("one.txt", 0, 3), ("one.txt", 1, 3), ("one.txt", 2, 3), ("one.txt", 3, 3), ("two.jsonl", 0, 3), ("two.jsonl", 1, 1)]
    run_tag(single)
    first = tmp_path / "ray" / "one.txt.00002.jsonl"
    progress: list[int] = []
    summary = run_tag_ray(distributed, workers=2, on_progress=progress.append)
    assert (summary.documents, summary.shards_written, summary.shards_skipped) == (16, 6, 0)
    assert sum(progress) == 16

    def files(folder):
        return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != MANIFEST}

    assert files(tmp_path / "ray") == files(tmp_path / "single")
    assert len(files(tmp_path / "single")) == 6

    first.unlink()  # an interrupted run: the Ray job redoes only the missing shard
    again = run_tag_ray(distributed, workers=2)
    assert (again.shards_written, again.shards_skipped) == (1, 5)
    assert files(tmp_path / "ray") == files(tmp_path / "single")
    manifest = json.loads((tmp_path / "ray" / MANIFEST).read_text())
    assert manifest["complete"] and manifest["files"]["one.txt"] == {"documents": 12, "shards": 4}
