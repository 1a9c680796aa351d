"""Human- and machine-readable reports of evaluation results.

The JSON file is the contract that aggregation reads back (`EvalResult.to_dict` per test
set); the Markdown file is for people. `render_markdown` accepts either form of a result so
a report can be rebuilt from a saved JSON file without rerunning evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from biotune.io import write_json, write_text
from biotune.tables import markdown_table
from biotune.tasks.ner.metrics import EvalResult

_HEADERS = ("type", "P", "R", "F1", "support", "predicted")
_ALIGN = ("left", "right", "right", "right", "right", "right")
_SUMMARY_ROWS = (("micro", "**micro**"), ("macro", "**macro**"), ("token", "**token (word-level)**"))


def render_markdown(results: Mapping[str, EvalResult | dict[str, Any]], title: str = "") -> str:
    """One Markdown table per test set: a row per scored type, then micro, macro, token-level.

    P, R and F1 are percentages with two decimals. Predictions of types a test set does not
    annotate are listed under its table, since they are excluded from its scores.
    """
    blocks = [f"# {title}"] if title else []
    for name, result in results.items():
        blocks.append(_render_set(name, result.to_dict() if isinstance(result, EvalResult) else result))
    return "\n\n".join(blocks) + "\n"


def write_report(
    results: Mapping[str, EvalResult], json_path: str | Path, md_path: str | Path, title: str = "",
    precision: str | None = None,
) -> None:
    """Write `results` as JSON (``{test set: EvalResult.to_dict()}``) and as Markdown, atomically.

    `precision`, the numeric precision the model computed in (`Tagger.precision`), is recorded
    in each test set's entry, since results differ slightly between precisions.
    """
    extra = {} if precision is None else {"precision": precision}
    data = {name: {**result.to_dict(), **extra} for name, result in results.items()}
    write_json(json_path, data)
    write_text(md_path, render_markdown(data, title))


def _render_set(name: str, result: Mapping[str, Any]) -> str:
    rows = [_row(type_, scores) for type_, scores in result["per_type"].items()]
    rows += [_row(label, result[key]) for key, label in _SUMMARY_ROWS]
    computed = f" Precision: {result['precision']}." if "precision" in result else ""
    lines = [
        f"## {name}",
        "",
        f"{result['n_sentences']} sentences, {result['n_words']} words.{computed}",
        "",
        markdown_table(_HEADERS, rows, _ALIGN),
    ]
    unannotated = result["unannotated_predictions"]
    if unannotated:
        listed = ", ".join(f"{_escape(type_)} {count}" for type_, count in unannotated.items())
        lines += ["", f"Unannotated predictions (types this set does not annotate, not scored): {listed}"]
    return "\n".join(lines)


def _row(label: str, scores: Mapping[str, float | int]) -> list[str]:
    cells = [label, *(f"{100 * scores[key]:.2f}" for key in ("precision", "recall", "f1"))]
    return cells + [str(scores["support"]), str(scores["predicted"])]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")
