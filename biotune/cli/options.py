"""Options more than one command takes, defined once so that one idea has one name and one help:
configs, checkpoints, precision, batch size, overwriting, seeds, and the Ray options of `tag`,
`benchmark` and `search` (`--ray`, `--ray-address`, `--workers`, `--cpus-per-worker`,
`--gpus-per-worker`: a worker is a Ray actor or task running a model replica, a run or trials).
The Ray options' older names (`--gpus-per-run`, `--cpus-per-run`, `--gpus-per-trial`,
`--cpus-per-trial`) are accepted beside them, so scripts written for them still run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from biotune.errors import BiotuneError

ConfigArg = Annotated[Path, typer.Argument(help="experiment config (YAML)")]
CheckpointOption = Annotated[Path, typer.Option(help="a best_model/ folder")]
RelationsOption = Annotated[Path | None, typer.Option(
    help="a relation model's best_model/ folder (trained on documents, re.pairs): relations between entities")]
LinkOption = Annotated[Path | None, typer.Option(
    "--link", "--link-dictionary",
    help="link the entities to concept ids (else relations group mentions by their text): a linker folder of "
         "`biotune link build` (abbreviations, per-type vocabularies, fuzzy and dense stages), or a term<TAB>id "
         "dictionary file (exact and normalised look-up for every entity type); --link-dictionary is its older name")]
BatchSizeOption = Annotated[int, typer.Option(min=1, help="windows per batch")]
OverwriteOutputOption = Annotated[bool, typer.Option(help="replace existing output files")]
PrecisionOption = Annotated[str, typer.Option(help="auto (bf16 weights where supported, else fp32) | bf16 | int8 | fp32 | autocast")]
OutputDirOverride = Annotated[str | None, typer.Option(help="override output_dir")]
DataDirOverride = Annotated[str | None, typer.Option(help="override data.data_dir")]

RayOption = Annotated[bool, typer.Option("--ray", help="run on Ray")]
RayAddressOption = Annotated[str | None, typer.Option(
    help="an existing Ray cluster (e.g. auto, ray://head:10001); default: a private local Ray")]
WorkersOption = Annotated[int, typer.Option(min=1, help="Ray workers at once (local Ray: its size)")]
CpusPerWorkerOption = Annotated[float, typer.Option(
    "--cpus-per-worker", "--cpus-per-run", "--cpus-per-trial", min=0.01,
    help="CPUs per Ray worker (its torch threads)")]
GpusPerWorkerOption = Annotated[float, typer.Option(
    "--gpus-per-worker", "--gpus-per-run", "--gpus-per-trial", min=0.0, help="GPUs per Ray worker")]

SeedsOption = Annotated[list[int] | None, typer.Option(
    "--seeds", help="seeds to run: --seeds 42 1337 2024 (default: the config's seed)")]
SEEDS_CONTEXT = {"allow_extra_args": True}  # `--seeds 42 1337 2024`: the values after the first arrive as extra args


def all_seeds(first: list[int] | None, ctx: typer.Context, default: int) -> list[int]:
    """All seeds of `--seeds A B C` (typer takes A; B and C are extra arguments)."""
    rest = []
    for arg in ctx.args:
        if not arg.lstrip("-").isdigit():
            raise BiotuneError(f"unexpected argument {arg!r} (seeds are integers: --seeds 42 1337 2024)")
        rest.append(int(arg))
    return list(dict.fromkeys([*(first or []), *rest] or [default]))
