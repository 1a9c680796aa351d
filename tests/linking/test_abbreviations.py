"""Schwartz & Hearst pairs on hand-made sentences, with offsets into the text searched."""

from __future__ import annotations

import pytest

from biotune.linking.abbreviations import Abbreviation, abbreviation_map, find_abbreviations


def test_long_form_before_short_form_with_offsets() -> None:
    text = "Patients with familial adenomatous polyposis (FAP) develop FAP early."
    (pair,) = find_abbreviations(text)
    assert pair == Abbreviation("FAP", "familial adenomatous polyposis", 46, 14)
    assert text[pair.long_start:pair.long_start + len(pair.long)] == pair.long
    assert text[pair.short_start:pair.short_start + len(pair.short)] == pair.short


def test_nested_parentheses_and_clauses_after_the_short_form() -> None:
    assert abbreviation_map("Non-Indian childhood cirrhosis (NICC (a rare disease)) occurs.") == {
        "NICC": "Non-Indian childhood cirrhosis"}
    assert abbreviation_map("copper toxicosis (CT; see below) in dogs") == {"CT": "copper toxicosis"}


def test_short_form_before_its_definition() -> None:
    assert abbreviation_map("FAP (familial adenomatous polyposis) is common.") == {
        "FAP": "familial adenomatous polyposis"}


@pytest.mark.parametrize("text", [
    "aspirin (500 mg) was given",  # a dose: no letter sequence of the short form starts a word before it
    "patients were followed (n = 12) for years",  # more than two words inside, and 'were' is no short form
    "the drug (see below) helped",  # the words before do not spell SB
    "acute renal failure (ARF",  # never closed
])
def test_parentheticals_that_are_not_abbreviations(text: str) -> None:
    assert find_abbreviations(text) == []


def test_long_form_stays_in_its_sentence_and_first_definition_wins() -> None:
    assert find_abbreviations("Renal tests. Pain (RP) was noted.") == []  # 'Renal tests. Pain' crosses a sentence
    text = "Blood pressure (BP) fell. Then bed pressure (BP) came."
    assert abbreviation_map(text) == {"BP": "Blood pressure"}
    assert [p.long for p in find_abbreviations(text)] == ["Blood pressure", "bed pressure"]
