"""Shared CLI options (`biotune.cli.options`): the Ray options have one name per idea across `tag`,
`benchmark` and `search`, and the older names still reach the same parameter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from biotune.cli import app


@pytest.mark.parametrize("command", ["tag", "benchmark", "search"])
def test_every_ray_command_names_its_options_alike(command: str) -> None:
    help_text = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "300"}).output
    for option in ("--ray-address", "--workers", "--cpus-per-worker", "--gpus-per-worker"):
        assert option in help_text, f"{command} lacks {option}"


@pytest.mark.parametrize(("options", "expected"), [
    (["--gpus-per-worker", "0.5", "--cpus-per-worker", "1.5"], (0.5, 1.5)),
    (["--gpus-per-run", "0.5", "--cpus-per-trial", "1.5"], (0.5, 1.5)),  # older names of the same options
    ([], (0.0, 1.0)),
])
def test_tag_passes_the_ray_resources_whatever_name_gave_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             options: list[str], expected: tuple[float, float]) -> None:
    from biotune.serving import distributed, tag_job

    calls: list[dict[str, Any]] = []

    def run_tag_ray(settings: Any, address: Any, workers: int, gpus_per_worker: float, overwrite: bool, advance: Any,
                    cpus_per_worker: float) -> Any:
        calls.append({"checkpoints": settings.checkpoints, "resources": (gpus_per_worker, cpus_per_worker)})
        return tag_job.TagSummary()

    monkeypatch.setattr(distributed, "run_tag_ray", run_tag_ray)
    monkeypatch.setattr(tag_job, "expected_documents", lambda settings: None)
    args = ["tag", "--checkpoint", str(tmp_path / "ner"), "--relations", str(tmp_path / "re"), "--input",
            str(tmp_path), "--output-dir", str(tmp_path / "out"), "--ray", *options]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert calls == [{"checkpoints": (tmp_path / "ner", tmp_path / "re"), "resources": expected}]
