"""Tests for the Markdown and JSON evaluation reports."""

from __future__ import annotations

import json
from pathlib import Path

from biotune.tasks.ner.metrics import EvalResult, evaluate_tags
from biotune.tasks.ner.report import render_markdown, write_report

GOLD = [["B-Chem", "I-Chem", "O", "B-Dis", "I-Dis"], ["O", "B-Chem", "O", "O"], ["B-Dis", "O"]]
PRED = [["B-Chem", "I-Chem", "O", "B-Dis", "O"], ["O", "I-Chem", "O", "B-Dis"], ["B-Chem", "O"]]


def _results() -> dict[str, EvalResult]:
    return {
        "bc5cdr": evaluate_tags(GOLD, PRED),
        "chem-only": evaluate_tags(GOLD, PRED, annotated_types={"Chem"}),
    }


def test_markdown_table_rows() -> None:
    text = render_markdown(_results(), title="Test run")
    lines = text.splitlines()

    assert lines[0] == "# Test run"
    assert "## bc5cdr" in lines and "## chem-only" in lines
    assert "3 sentences, 11 words." in lines
    start = lines.index("## bc5cdr") + 4
    assert lines[start:start + 7] == [
        "| type                   |     P |      R |    F1 |   support |   predicted |",
        "|:-----------------------|------:|-------:|------:|----------:|------------:|",
        "| Chem                   | 66.67 | 100.00 | 80.00 |         2 |           3 |",
        "| Dis                    |  0.00 |   0.00 |  0.00 |         2 |           2 |",
        "| **micro**              | 40.00 |  50.00 | 44.44 |         4 |           5 |",
        "| **macro**              | 33.33 |  50.00 | 40.00 |         4 |           5 |",
        "| **token (word-level)** | 66.67 |  66.67 | 66.67 |         6 |           6 |",
    ]


def test_unannotated_predictions_listed_only_where_present() -> None:
    text = render_markdown(_results())
    bc5cdr, chem_only = text.split("## chem-only")

    assert "Unannotated" not in bc5cdr
    assert "| Dis " not in chem_only
    assert "Unannotated predictions (types this set does not annotate, not scored): Dis 2" in chem_only


def test_markdown_from_saved_dicts_matches_results() -> None:
    results = _results()
    saved = json.loads(json.dumps({name: result.to_dict() for name, result in results.items()}))
    assert render_markdown(saved, title="t") == render_markdown(results, title="t")


def test_write_report(tmp_path: Path) -> None:
    results = _results()
    json_path, md_path = tmp_path / "out" / "metrics.json", tmp_path / "out" / "metrics.md"

    write_report(results, json_path, md_path, title="run")

    assert json.loads(json_path.read_text()) == {name: r.to_dict() for name, r in results.items()}
    assert md_path.read_text() == render_markdown(results, title="run")
    assert sorted(p.name for p in json_path.parent.iterdir()) == ["metrics.json", "metrics.md"]
