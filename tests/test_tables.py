"""The Markdown table renderer: exact output, alignment markers, escaping and shape checks."""

from __future__ import annotations

import pytest

from biotune.tables import markdown_table


def test_numeric_columns_are_right_aligned_and_cells_kept_as_formatted() -> None:
    table = markdown_table(["type", "F1", "support"], [["Chemical", "91.50", "5385"], ["Disease", "0.850", "42"]],
                           align=["left", "right", "right"])
    assert table == (
        "| type     |    F1 |   support |\n"
        "|:---------|------:|----------:|\n"
        "| Chemical | 91.50 |      5385 |\n"
        "| Disease  | 0.850 |        42 |"
    )


def test_pipes_in_cells_are_escaped_and_default_alignment_is_left() -> None:
    assert markdown_table(["term", "n"], [["a|b", "3"]]) == "| term   | n   |\n|:-------|:----|\n| a\\|b   | 3   |"


def test_a_table_without_rows_keeps_its_header_and_alignment() -> None:
    assert markdown_table(["type", "labels"], [], align=["left", "right"]) == "| type   |   labels |\n|:-------|---------:|"


def test_cells_must_be_strings_and_rows_match_the_header() -> None:
    with pytest.raises(TypeError, match="formatted strings"):
        markdown_table(["n"], [[3]])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="a row of 1 cells under 2 headers"):
        markdown_table(["a", "b"], [["x"]])
    with pytest.raises(ValueError, match="1 alignments for 2 columns"):
        markdown_table(["a", "b"], [["x", "y"]], align=["left"])
