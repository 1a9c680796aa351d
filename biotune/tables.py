"""The one Markdown table renderer: every report, metrics file and benchmark table goes through it.

Built on `tabulate`'s ``pipe`` format (GitHub-flavoured Markdown with `:` alignment markers), so
columns are padded to one width and read as well in a terminal as on GitHub. Cells are strings
the caller has already formatted (``f"{f1:.2f}"``): a table never decides how many digits a
number gets, and ``0.850`` stays ``0.850`` (tabulate's number parsing is off). A ``|`` inside a
cell is escaped, since a raw one would split the cell in every Markdown viewer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from tabulate import tabulate

Align = Literal["left", "right", "center"]


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[str]],
                   align: Sequence[Align] | None = None) -> str:
    """`rows` under `headers` as a Markdown table, one line a row, without a trailing newline.

    `align` gives one alignment per column (default: all left); numbers are usually ``right``.
    A table without rows is its header and alignment line.
    """
    headers = [_escape(header) for header in headers]
    align = list(align) if align is not None else ["left"] * len(headers)
    if len(align) != len(headers):
        raise ValueError(f"{len(align)} alignments for {len(headers)} columns")
    body = [[_escape(cell) for cell in row] for row in rows]
    for row in body:
        if len(row) != len(headers):
            raise ValueError(f"a row of {len(row)} cells under {len(headers)} headers: {row}")
    # tabulate cannot align the columns of an empty table: render one blank row and drop it
    lines = tabulate(body or [[""] * len(headers)], headers=headers, tablefmt="pipe", colalign=align,
                     disable_numparse=True).splitlines()
    return "\n".join(lines if body else lines[:2])


def _escape(cell: str) -> str:
    if not isinstance(cell, str):
        raise TypeError(f"table cells are formatted strings, got {type(cell).__name__} {cell!r}")
    return cell.replace("|", "\\|")
