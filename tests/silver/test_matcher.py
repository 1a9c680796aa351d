"""The token matcher: whole tokens only, leftmost-longest without overlaps, case, O regions."""

from __future__ import annotations

from biotune.formats.text import tokenize
from biotune.silver.dictionary import Dictionary, Term
from biotune.silver.matcher import SEPARATOR, Matcher, longest_first
from tests.awkward import AWKWARD_TEXTS


def dictionary(terms: list[str], type: str = "Gene", case_sensitive: bool = False) -> Dictionary:
    entries = tuple(Term(text, tuple(token for token, _, _ in tokenize(text)), type) for text in terms)
    return Dictionary("test", entries, case_sensitive, {})


def words(text: str) -> list[str]:
    return [token for token, _, _ in tokenize(text)]


def labels(matcher: Matcher, tokens: list[str], tags: list[str] | None = None) -> list[tuple[int, int, str, str]]:
    return [(m.start, m.end, m.type, m.term) for m in longest_first(matcher.candidates(tokens), tags)]


def test_longest_match_wins_and_matches_do_not_overlap() -> None:
    matcher = Matcher([dictionary(["IL", "IL-2", "IL-2 receptor", "receptor alpha", "alpha chain"])])
    tokens = words("the IL-2 receptor alpha chain binds IL")
    assert tokens == ["the", "IL", "-", "2", "receptor", "alpha", "chain", "binds", "IL"]
    assert labels(matcher, tokens) == [
        (1, 5, "Gene", "IL-2 receptor"), (5, 7, "Gene", "alpha chain"), (8, 9, "Gene", "IL")
    ]
    assert len(matcher.candidates(tokens)) == 6  # IL twice, IL-2, IL-2 receptor, receptor alpha, alpha chain


def test_leftmost_beats_longer_later_match() -> None:
    matcher = Matcher([dictionary(["tumor necrosis", "necrosis factor alpha"])])
    assert labels(matcher, words("tumor necrosis factor alpha")) == [(0, 2, "Gene", "tumor necrosis")]


def test_terms_match_whole_tokens_only() -> None:
    matcher = Matcher([dictionary(["IL-2", "ILK", "2"])])
    assert labels(matcher, words("IL-22 and ILK1 but IL-2")) == [(6, 9, "Gene", "IL-2")]
    assert labels(matcher, ["xIL", "-", "2x"]) == []


def test_case_sensitive_and_insensitive_dictionaries() -> None:
    exact = Matcher([dictionary(["BRCA1"], case_sensitive=True)])
    assert labels(exact, ["BRCA1", "brca1", "Brca1"]) == [(0, 1, "Gene", "BRCA1")]
    folded = Matcher([dictionary(["BRCA1"])])
    assert labels(folded, ["BRCA1", "brca1", "Brca1"]) == [(i, i + 1, "Gene", "BRCA1") for i in range(3)]


def test_non_ascii_and_punctuation_terms() -> None:
    matcher = Matcher([dictionary(["TNF-α", "NF-κB", "IL-1β"])])
    tokens = words("TNF-Α activates NF-κB; il-1β too")  # capital alpha folds to α
    assert labels(matcher, tokens) == [
        (0, 3, "Gene", "TNF-α"), (4, 7, "Gene", "NF-κB"), (8, 11, "Gene", "IL-1β")
    ]


def test_first_dictionary_wins_a_tie_and_types_come_from_each_dictionary() -> None:
    genes = dictionary(["p53", "insulin"], "Gene", case_sensitive=True)
    chemicals = dictionary(["insulin", "aspirin"], "Chemical")
    matcher = Matcher([genes, chemicals])
    assert matcher.types == {"Gene", "Chemical"}
    assert labels(matcher, ["insulin", "and", "Aspirin", "and", "p53"]) == [
        (0, 1, "Gene", "insulin"), (2, 3, "Chemical", "aspirin"), (4, 5, "Gene", "p53")
    ]
    assert labels(Matcher([chemicals, genes]), ["insulin"]) == [(0, 1, "Chemical", "insulin")]


def test_tags_leave_existing_spans_alone_and_shorter_terms_fill_o_regions() -> None:
    matcher = Matcher([dictionary(["IL-2 receptor", "receptor", "IL-2", "CD25"])])
    tokens = words("IL-2 receptor and CD25")
    tags = ["B-Protein", "I-Protein", "I-Protein", "O", "O", "O"]
    assert labels(matcher, tokens) == [(0, 4, "Gene", "IL-2 receptor"), (5, 6, "Gene", "CD25")]
    assert labels(matcher, tokens, tags) == [(3, 4, "Gene", "receptor"), (5, 6, "Gene", "CD25")]


def test_a_token_holding_the_separator_does_not_shift_positions() -> None:
    matcher = Matcher([dictionary(["BRCA1"])])
    assert labels(matcher, [f"a{SEPARATOR}b", "BRCA1", SEPARATOR, "BRCA1"]) == [
        (1, 2, "Gene", "BRCA1"), (3, 4, "Gene", "BRCA1")
    ]


def test_empty_sentence_and_no_match() -> None:
    matcher = Matcher([dictionary(["BRCA1"])])
    assert matcher.candidates([]) == [] and labels(matcher, ["nothing", "here"]) == []


def test_awkward_texts_survive_matching() -> None:
    matcher = Matcher([dictionary(["IL-2", "PD", "café"]), dictionary(["2.5"], "Value", case_sensitive=True)])
    found = {}
    for text in AWKWARD_TEXTS:
        tokens = words(text)
        chosen = labels(matcher, tokens)
        assert all(0 <= start < end <= len(tokens) for start, end, _, _ in chosen)
        found.update({term: tokens[start:end] for start, end, _, term in chosen})
    assert found == {"café": ["café"], "PD": ["PD"], "2.5": ["2", ".", "5"]}
