"""Finding dictionary terms in tokenised sentences with an Aho-Corasick automaton.

Matching is over tokens, not characters: a sentence's tokens are joined into one string with
`SEPARATOR` before and after every token, and so is each term, so a key can only match a
whole run of tokens (``IL-2`` never matches inside ``IL-22``). pyahocorasick scans the string
once in C, whatever the number of terms; Python only runs for the (few) matches. Terms of
case-insensitive dictionaries live in a second automaton searched in the lowercased string.

`Matcher.candidates` returns every occurrence, overlaps included; `longest_first` picks the
labels: leftmost-longest, no overlaps, and (given tags) only where every token is ``O``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick

from biotune.silver.dictionary import Dictionary

# A control character: `text.tokenize` never puts one in a token. A corpus token that holds
# one anyway has it replaced before matching (see `Matcher.candidates`).
SEPARATOR = "\x1f"
_REPLACEMENT = "\ufffd"


@dataclass(frozen=True, slots=True)
class Match:
    """A term found over tokens `start` (inclusive) to `end` (exclusive).

    `term` is the dictionary's text of the term and `rank` the position of its dictionary in
    the matcher's list (an earlier dictionary wins a tie for the same tokens).
    """

    start: int
    end: int
    type: str
    term: str
    rank: int


class Matcher:
    """The terms of several dictionaries, ready to be found in token sequences.

    Of several terms with the same key (tokens, lowercased for case-insensitive dictionaries)
    the first dictionary's wins.
    """

    def __init__(self, dictionaries: Sequence[Dictionary]) -> None:
        exact: dict[str, tuple[int, str, str, int]] = {}
        folded: dict[str, tuple[int, str, str, int]] = {}
        for rank, dictionary in enumerate(dictionaries):
            keys = exact if dictionary.case_sensitive else folded
            for term in dictionary.terms:
                key = encode(term.tokens) if dictionary.case_sensitive else encode(term.tokens).lower()
                keys.setdefault(key, (len(term.tokens), term.type, term.text, rank))
        self._automata = [(_automaton(keys), fold) for keys, fold in ((exact, False), (folded, True)) if keys]
        self.types = frozenset(term.type for dictionary in dictionaries for term in dictionary.terms)

    def candidates(self, tokens: Sequence[str]) -> list[Match]:
        """Every occurrence of every term in `tokens`, overlapping ones included, unordered."""
        text = encode(tokens)
        if text.count(SEPARATOR) != len(tokens) + 1:
            text = encode([token.replace(SEPARATOR, _REPLACEMENT) for token in tokens])
        found = []
        for automaton, fold in self._automata:
            haystack = text.lower() if fold else text
            for last, (length, type_, term, rank) in automaton.iter(haystack):
                # separators up to the key's closing one, less the opening one = tokens passed
                end = haystack.count(SEPARATOR, 0, last + 1) - 1
                found.append(Match(end - length, end, type_, term, rank))
        return found


def encode(tokens: Iterable[str]) -> str:
    """`tokens` as one string with `SEPARATOR` around each, the form automaton keys take."""
    return SEPARATOR + SEPARATOR.join(tokens) + SEPARATOR


def longest_first(candidates: Iterable[Match], tags: Sequence[str] | None = None) -> list[Match]:
    """The leftmost-longest non-overlapping matches among `candidates`, in order.

    Scanning left to right, the match starting first wins, then the longest, then the one
    of the earlier dictionary. With `tags`, a match is only eligible where every token it
    covers is ``O``, so existing spans are never touched and a shorter term can still fill
    the free tokens next to them.
    """
    chosen: list[Match] = []
    free_from = 0
    for match in sorted(candidates, key=lambda m: (m.start, m.start - m.end, m.rank)):
        if match.start >= free_from and (tags is None or _outside(tags, match)):
            chosen.append(match)
            free_from = match.end
    return chosen


def _outside(tags: Sequence[str], match: Match) -> bool:
    return all(tag == "O" for tag in tags[match.start : match.end])


def _automaton(keys: dict[str, tuple[int, str, str, int]]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for key, value in keys.items():
        automaton.add_word(key, value)
    automaton.make_automaton()
    return automaton
