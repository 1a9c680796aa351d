from __future__ import annotations

import pytest

from biotune.formats.text import split_sentences, tokenize
from tests.awkward import AWKWARD_TEXTS


def words(text: str) -> list[str]:
    return [token for token, _, _ in tokenize(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IL-2 induced", ["IL", "-", "2", "induced"]),
        ("Parkinson's disease", ["Parkinson", "'", "s", "disease"]),
        ("2.5 mg/kg.", ["2", ".", "5", "mg", "/", "kg", "."]),
        ("(UKPDRG) FK506 beta4", ["(", "UKPDRG", ")", "FK506", "beta4"]),
        ("a_b", ["a", "_", "b"]),
        ("dose\u223C5", ["dose", "\u223c", "5"]),
        ("caf\u00e9 cafe\u0301", ["caf\u00e9", "cafe\u0301"]),
        ("\u00df-Stra\u00dfe", ["\u00df", "-", "Stra\u00dfe"]),
        ("x\u200by", ["x", "y"]),
        ("a\u00a0b\tc", ["a", "b", "c"]),
        ("\U0001F469\u200D\U0001F52C!", ["\U0001F469\u200D\U0001F52C", "!"]),
        ("", []),
        (" \t\n\u200b\ufeff ", []),
    ],
)
def test_tokenize_matches_corpus_tokenisation(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_tokenize_offsets() -> None:
    assert tokenize("IL-2  x") == [("IL", 0, 2), ("-", 2, 3), ("2", 3, 4), ("x", 6, 7)]


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
def test_tokenize_survives_awkward_texts(text: str) -> None:
    tokens = tokenize(text)
    for token, start, end in tokens:
        assert token and text[start:end] == token
        assert token.strip() and token not in ("\u200b", "\u200d", "\ufeff", "\u2060")
    starts = [start for _, start, _ in tokens]
    assert starts == sorted(starts)
    assert all(a[2] <= b[1] for a, b in zip(tokens, tokens[1:]))


def test_tokenize_keeps_a_300_character_word_whole() -> None:
    assert tokenize("x" * 300) == [("x" * 300, 0, 300)]


def test_split_sentences_basic() -> None:
    text = "We gave aspirin. Mice died! Why? Because 3 doses were given."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "We gave aspirin.",
        "Mice died!",
        "Why?",
        "Because 3 doses were given.",
    ]


def test_split_sentences_keeps_abbreviations_and_initials() -> None:
    text = "Smith et al. reported e.g. aspirin. J. Smith agreed (Fig. 2). Done."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Smith et al. reported e.g. aspirin.",
        "J. Smith agreed (Fig. 2).",
        "Done.",
    ]


def test_split_sentences_lowercase_after_period_does_not_split() -> None:
    assert split_sentences("Dose 2. mg was given.") == [(0, 21)]


def test_split_sentences_blank_line_always_splits_and_offsets_trim_whitespace() -> None:
    text = "  First part without period\n\n \nsecond part\n"
    assert split_sentences(text) == [(2, 27), (31, 42)]
    assert text[31:42] == "second part"


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
def test_split_sentences_survives_awkward_texts(text: str) -> None:
    ranges = split_sentences(text)
    covered = [token for start, end in ranges for token, _, _ in tokenize(text[start:end])]
    assert covered == [token for token, _, _ in tokenize(text)]
    assert all(text[start:end] == text[start:end].strip() and start < end for start, end in ranges)


def test_split_sentences_empty() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \u200b ") == []
