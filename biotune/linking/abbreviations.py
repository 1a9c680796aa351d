"""Abbreviations defined in a document: Schwartz & Hearst's long form / short form pairs.

Biomedical abstracts define a short form once ("familial adenomatous polyposis (FAP)") and then
use it alone; "FAP" on its own is ambiguous across documents (and "CT" is a copper toxicosis in
one abstract and a computed tomography in the next), so a short form links as its long form
within its own document only.

The algorithm (Schwartz and Hearst 2003, "A simple algorithm for identifying abbreviation
definitions in biomedical text"): for each parenthesis, the short form is the parenthetical up
to its first ``;`` or ``,`` when it has at most two words, 2-10 characters, a letter and an
alphanumeric first character (otherwise, when the parenthetical has more words, the word just
before the parenthesis is tried as the short form of the parenthetical: "FAP (familial
adenomatous polyposis)"). The long form is the shortest stretch before it, at most
min(|A| + 5, 2|A|) words, in which every letter and digit of the short form is found right to
left, the first one at the start of a word. Nested parentheses are matched by depth.

Written here rather than taken from the PyPI `abbreviations` package (0.2.5, the same
algorithm): it calls `logging.basicConfig` when imported, reconfiguring the host program's
logging, and drops every pair of a line (an abstract) that holds one unbalanced parenthesis.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import regex

MAX_SHORT_CHARS = 10
MIN_SHORT_CHARS = 2
MAX_SHORT_WORDS = 2
_SENTENCE_END = regex.compile(r"[.!?]\s+(?=\p{Lu}|\d)")
_LETTER = regex.compile(r"\p{L}")


@dataclass(frozen=True, slots=True)
class Abbreviation:
    """A short form defined by a long form, with the character offset of each in the text searched."""

    short: str
    long: str
    short_start: int
    long_start: int


def find_abbreviations(text: str) -> list[Abbreviation]:
    """Every long form / short form pair defined in `text`, in text order."""
    return list(_pairs(text))


def abbreviation_map(text: str) -> dict[str, str]:
    """Short form -> long form for `text`; a short form defined twice keeps its first definition."""
    found: dict[str, str] = {}
    for pair in _pairs(text):
        found.setdefault(pair.short, pair.long)
    return found


def _pairs(text: str) -> Iterator[Abbreviation]:
    for open_at, close_at in _parentheses(text):
        inner_start, inner = _clipped(text, open_at + 1, close_at)
        window_start = _window_start(text, open_at)
        before = text[window_start:open_at].rstrip()
        if _is_short_form(inner):
            long = _long_form(inner, before)
            if long is not None:
                yield Abbreviation(inner, long, inner_start, window_start + len(before) - len(long))
        elif len(inner.split()) > MAX_SHORT_WORDS:
            words = list(regex.finditer(r"\S+", before))
            if words and _is_short_form(words[-1].group()):
                short = words[-1].group()
                long = _long_form(short, inner)
                if long is not None and len(long) == len(inner):  # the whole parenthetical is the definition
                    yield Abbreviation(short, long, window_start + words[-1].start(), inner_start)


def _parentheses(text: str) -> Iterator[tuple[int, int]]:
    """``(open, close)`` offsets of each outermost parenthesis pair that closes; an unclosed one is skipped."""
    depth, open_at = 0, -1
    for position, char in enumerate(text):
        if char == "(":
            if depth == 0:
                open_at = position
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                yield open_at, position


def _clipped(text: str, start: int, end: int) -> tuple[int, str]:
    """The parenthetical up to its first ';', ',' or nested parenthesis, stripped, with its offset:
    "(NICC (a rare disease))" gives "NICC"."""
    for position in range(start, end):
        if text[position] in ";,(":
            end = position
            break
    inner = text[start:end]
    return start + len(inner) - len(inner.lstrip()), inner.strip()


def _window_start(text: str, open_at: int) -> int:
    """Where the sentence holding the parenthesis begins: a long form never reaches into the previous sentence."""
    starts = [m.end() for m in _SENTENCE_END.finditer(text, 0, open_at)]
    return starts[-1] if starts else 0


def _is_short_form(candidate: str) -> bool:
    return (MIN_SHORT_CHARS <= len(candidate) <= MAX_SHORT_CHARS and len(candidate.split()) <= MAX_SHORT_WORDS
            and _LETTER.search(candidate) is not None and candidate[0].isalnum())


def _long_form(short: str, before: str) -> str | None:
    """The shortest end of `before` that defines `short` (the module docstring's rule), or None."""
    words = before.split()
    limit = min(len(short) + 5, 2 * len(short))
    window = " ".join(words[-limit:])
    s, l = len(short) - 1, len(window) - 1
    while s >= 0:
        char = short[s].lower()
        if not char.isalnum():
            s -= 1
            continue
        while l >= 0 and (window[l].lower() != char or (s == 0 and l > 0 and window[l - 1].isalnum())):
            l -= 1
        if l < 0:
            return None
        l -= 1
        s -= 1
    long = window[window.rfind(" ", 0, l + 1) + 1:]
    if len(long) <= len(short) or short in long.split() or long.count("(") != long.count(")"):
        return None
    # the long form is cut from the window as written, so it ends where `before` ends
    return before[len(before) - len(long):] if before.endswith(long) else None
