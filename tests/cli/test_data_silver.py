"""`biotune silver` through typer's CliRunner: exit 0 with outputs, exit 2 with a named culprit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biotune.cli import app

runner = CliRunner()


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "corpus.tsv").write_text(
        "BRCA1\tO\nand\tO\naspirin\tO\nand\tO\nMIR21\tO\n\nTNF\tB-Gene\n-\tI-Gene\nα\tI-Gene\n", encoding="utf-8"
    )
    (tmp_path / "genes.tsv").write_text(
        "symbol\tcategory\nBRCA1\tprotein_coding\nMIR21\tmiRNA\nTNF-α\tprotein_coding\n", encoding="utf-8"
    )
    (tmp_path / "chemicals.txt").write_text("aspirin\n", encoding="utf-8")
    return tmp_path


def test_silver_with_two_dictionaries_and_a_report_folder(inputs: Path) -> None:
    out = inputs / "silver.jsonl"
    result = runner.invoke(app, [
        "silver", str(inputs / "corpus.tsv"), "--output", str(out),
        "--dict", str(inputs / "genes.tsv"), "--dict", f"{inputs / 'chemicals.txt'}:type=Chemical,min_length=3",
        "--term-column", "symbol", "--type", "Gene", "--category", "protein_coding", "--case-sensitive",
        "--report", str(inputs / "reports"),
    ])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records[0]["silver_tags"] == ["B-Gene", "O", "B-Chemical", "O", "O"]
    assert records[1]["silver_tags"] == records[1]["tags"] == ["B-Gene", "I-Gene", "I-Gene"]
    assert (inputs / "reports" / "silver.report.json").is_file()
    assert "| Gene | 50.00 | 100.00 | 66.67 | 1 | 2 | 1 |" in re.sub(" +", " ", result.output)  # cells, not padding


def test_silver_drop_tags_to_tsv(inputs: Path) -> None:
    out = inputs / "silver.tsv"
    result = runner.invoke(app, ["silver", str(inputs / "corpus.tsv"), "--output", str(out), "--drop-tags",
                                 "--dict", f"{inputs / 'genes.tsv'}:term_column=symbol,type=GENE"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").split("\n\n")[0].splitlines()[-1] == "MIR21\tB-GENE"
    assert (inputs / "silver.report.md").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dict", "{d}/genes.tsv"], "genes.tsv:1: no column 'term' (term_column)"),
        (["--dict", "{d}/genes.tsv:term_colum=symbol"], "unknown option 'term_colum' (did you mean 'term_column'?)"),
        (["--dict", "{d}/genes.tsv", "--term-column", "symbol", "--type", "Gene", "--category", "protein-coding gene"],
         "category 'protein-coding gene' never occurs"),
        (["--dict", "{d}/chemicals.txt"], "give its entity type"),
        (["--dict", "{d}/missing.tsv"], "missing.tsv does not exist"),
    ],
)
def test_silver_errors_exit_2_without_traceback(inputs: Path, args: list[str], message: str) -> None:
    out = inputs / "silver.jsonl"
    argv = ["silver", str(inputs / "corpus.tsv"), "--output", str(out), *(a.format(d=inputs) for a in args)]
    result = runner.invoke(app, argv, env={"COLUMNS": "1000"})
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output and not out.exists()


def test_silver_missing_input_exits_2(inputs: Path) -> None:
    result = runner.invoke(app, ["silver", str(inputs / "nope.tsv"), "--output", str(inputs / "o.jsonl"),
                                 "--dict", f"{inputs / 'chemicals.txt'}:type=Chemical"], env={"COLUMNS": "1000"})
    assert result.exit_code == 2 and "nope.tsv does not exist" in " ".join(result.output.split())


@pytest.mark.parametrize("target", ["corpus.tsv", "genes.tsv", "link.tsv"])
def test_silver_output_that_is_an_input_is_refused(inputs: Path, target: str) -> None:
    """The corpus, a dictionary, or a link to the corpus: writing there would destroy an input."""
    (inputs / "link.tsv").symlink_to(inputs / "corpus.tsv")
    before = {name: (inputs / name).read_bytes() for name in ("corpus.tsv", "genes.tsv")}
    result = runner.invoke(app, ["silver", str(inputs / "corpus.tsv"), "--output", str(inputs / target), "--overwrite",
                                 "--dict", f"{inputs / 'genes.tsv'}:term_column=symbol,type=Gene"],
                           env={"COLUMNS": "1000"})
    assert result.exit_code == 2 and "would destroy the input" in " ".join(result.output.split()), result.output
    assert {name: (inputs / name).read_bytes() for name in before} == before


def test_silver_replaces_an_output_or_report_only_with_overwrite(inputs: Path) -> None:
    out = inputs / "silver.tsv"
    argv = ["silver", str(inputs / "corpus.tsv"), "--output", str(out),
            "--dict", f"{inputs / 'genes.tsv'}:term_column=symbol,type=GENE"]
    assert runner.invoke(app, argv).exit_code == 0
    first = out.read_text(encoding="utf-8")
    out.write_text("edited by hand\n", encoding="utf-8")
    refused = runner.invoke(app, argv, env={"COLUMNS": "1000"})
    assert refused.exit_code == 2 and "silver.tsv already exists; pass --overwrite" in " ".join(refused.output.split())
    assert out.read_text(encoding="utf-8") == "edited by hand\n"
    out.unlink()  # the report is an output too
    refused = runner.invoke(app, argv, env={"COLUMNS": "1000"})
    assert refused.exit_code == 2 and "silver.report.json already exists" in " ".join(refused.output.split())
    assert not out.exists()
    assert runner.invoke(app, [*argv, "--overwrite"]).exit_code == 0
    assert out.read_text(encoding="utf-8") == first
