"""Word tokenizer and sentence splitter for raw text, both keeping character offsets.

The tokenisation matches the MTL-Bioinformatics-2016 corpora (BC5CDR, NCBI-disease, BC2GM)
that models are trained on: a token is a maximal run of letters and digits, and every other
visible character is a token of its own (`IL-2` -> `IL`, `-`, `2`; `Parkinson's` ->
`Parkinson`, `'`, `s`; `2.5` -> `2`, `.`, `5`).

Tokens are whole grapheme clusters (`regex`'s `\\X`), so combining accents stay on their
letter and emoji ZWJ sequences stay one token. Whitespace (including NBSP and tabs), control
characters and invisible format characters such as U+200B ZERO WIDTH SPACE separate tokens
and never become tokens. The contract is `text[start:end] == token` for every token.
"""

from __future__ import annotations

import regex

# A run of grapheme clusters that start with a letter or digit, or one cluster that does not
# start with whitespace, a control or a format character.
_TOKEN = regex.compile(r"(?:(?=[\p{L}\p{N}])\X)+|(?![\s\p{Cc}\p{Cf}])\X")

# A sentence ends at `.`, `!` or `?` (plus closing quotes/brackets) followed by whitespace and
# an upper-case letter, digit or opening bracket/quote; a blank line always ends one.
_BOUNDARY = regex.compile(
    r"""(?<=[.!?][\p{Pf}\p{Pe}"']*)\s+(?=[\p{Lu}\p{N}\p{Ps}\p{Pi}"'])|\n[^\S\n]*\n\s*"""
)

# Words whose final period does not end a sentence: common abbreviations of biomedical text
# and single capital initials (`J. Smith`).
_ABBREVIATIONS = frozenset(
    "al e.g i.e vs cf fig figs eq ref refs approx ca dr mr mrs ms prof no nos vol pp st sp spp".split()
)
_LAST_WORD = regex.compile(r"([\p{L}\p{N}.]+)\.[\p{Pf}\p{Pe}\"']*$")


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """`(token, start, end)` for each token of `text`, with `text[start:end] == token`."""
    return [(match.group(), match.start(), match.end()) for match in _TOKEN.finditer(text)]


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character ranges `(start, end)` of the sentences of `text`, without outer whitespace.

    Rule-based and conservative: it splits after sentence-final punctuation followed by what
    looks like a sentence start, not after abbreviations (`et al.`, `e.g.`, `Fig.`) or
    initials, and always at blank lines. Ranges that would hold only whitespace or invisible
    characters are dropped, so every range contains at least one token.
    """
    ranges: list[tuple[int, int]] = []
    start = 0
    for boundary in _BOUNDARY.finditer(text):
        if boundary.group().count("\n") < 2 and _ends_with_abbreviation(text[start : boundary.start()]):
            continue
        ranges.append((start, boundary.start()))
        start = boundary.end()
    ranges.append((start, len(text)))
    trimmed = (_trim(text, start, end) for start, end in ranges)
    return [r for r in trimmed if r is not None]


def _ends_with_abbreviation(sentence: str) -> bool:
    match = _LAST_WORD.search(sentence)
    if match is None:
        return False
    word = match.group(1)
    return word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper())


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    """`(start, end)` shrunk to its first and last token, or None if it has no token."""
    tokens = tokenize(text[start:end])
    if not tokens:
        return None
    return start + tokens[0][1], start + tokens[-1][2]
