from __future__ import annotations

import itertools
import random

import pytest
from seqeval.metrics.sequence_labeling import get_entities

from biotune.formats.schemes import (
    bio_to_iobes,
    detect_scheme,
    entity_types,
    invalid_tags,
    iobes_to_bio,
    is_valid_tag,
    repair_bio,
    spans_to_tags,
    split_tag,
    tags_to_spans,
    to_bio,
)
from biotune.formats.sentence import Span

TAG_SET = ["O", "B-Chem", "I-Chem", "B-Dis", "I-Dis"]


def seqeval_spans(tags: list[str]) -> list[Span]:
    """seqeval's entities as half-open `Span`s (seqeval's end is inclusive)."""
    return [Span(start, end + 1, type_) for type_, start, end in get_entities(tags)]


@pytest.mark.parametrize(
    "tags",
    [
        [],
        ["O", "O"],
        ["B-Chem"],
        ["B-Chem", "I-Chem", "O", "B-Dis"],
        ["B-Chem", "B-Chem", "I-Chem"],
        ["I-Chem"],
        ["O", "I-Chem", "I-Chem"],
        ["B-Chem", "I-Dis", "I-Dis"],
        ["I-Chem", "I-Dis", "B-Dis", "I-Chem"],
        ["B-cell_line", "I-cell_line", "B-cell-type", "I-cell-type"],
    ],
)
def test_tags_to_spans_matches_seqeval_on_listed_sequences(tags: list[str]) -> None:
    assert tags_to_spans(tags) == seqeval_spans(tags)


def test_tags_to_spans_matches_seqeval_on_every_short_sequence() -> None:
    for length in range(1, 5):
        for tags in itertools.product(TAG_SET, repeat=length):
            assert tags_to_spans(list(tags)) == seqeval_spans(list(tags)), tags


def test_tags_to_spans_matches_seqeval_on_random_long_sequences() -> None:
    rng = random.Random(0)
    for _ in range(300):
        tags = rng.choices(TAG_SET, k=rng.randint(5, 40))
        assert tags_to_spans(tags) == seqeval_spans(tags)


def test_tags_to_spans_values() -> None:
    tags = ["B-Chem", "I-Chem", "O", "I-Dis", "B-Dis", "I-Chem"]
    assert tags_to_spans(tags) == [Span(0, 2, "Chem"), Span(3, 4, "Dis"), Span(4, 5, "Dis"), Span(5, 6, "Chem")]


def test_tags_to_spans_rejects_iobes_and_junk() -> None:
    with pytest.raises(ValueError, match="position 1: 'S-Chem'"):
        tags_to_spans(["O", "S-Chem"])
    with pytest.raises(ValueError, match="'B-'"):
        tags_to_spans(["B-"])


@pytest.mark.parametrize(
    ("tags", "expected", "count"),
    [
        (["B-X", "I-X", "O"], ["B-X", "I-X", "O"], 0),
        (["I-X", "I-X"], ["B-X", "I-X"], 1),
        (["O", "I-X"], ["O", "B-X"], 1),
        (["B-X", "I-Y", "I-Y", "I-X"], ["B-X", "B-Y", "I-Y", "B-X"], 2),
        ([], [], 0),
    ],
)
def test_repair_bio(tags: list[str], expected: list[str], count: int) -> None:
    assert repair_bio(tags) == (expected, count)


def test_repair_bio_keeps_spans_and_is_idempotent() -> None:
    for tags in itertools.product(TAG_SET, repeat=4):
        repaired, _ = repair_bio(list(tags))
        assert tags_to_spans(repaired) == tags_to_spans(list(tags))
        assert repair_bio(repaired) == (repaired, 0)


def test_iobes_bio_round_trip() -> None:
    iobes = ["S-Chem", "O", "B-Dis", "I-Dis", "E-Dis", "B-Chem", "E-Chem", "S-Dis"]
    bio = ["B-Chem", "O", "B-Dis", "I-Dis", "I-Dis", "B-Chem", "I-Chem", "B-Dis"]
    assert iobes_to_bio(iobes) == bio
    assert bio_to_iobes(bio) == iobes


def test_bio_to_iobes_reads_ill_formed_bio_like_conlleval() -> None:
    assert bio_to_iobes(["I-X", "I-X", "O", "I-X"]) == ["B-X", "E-X", "O", "S-X"]


def test_to_bio_auto_detects_iobes() -> None:
    assert to_bio(["S-X", "O"], "auto") == ["B-X", "O"]
    assert to_bio(["B-X", "E-X"], "auto") == ["B-X", "I-X"]
    assert to_bio(["B-X", "I-X"], "auto") == ["B-X", "I-X"]
    assert to_bio(["B-X", "I-X"], "bio") == ["B-X", "I-X"]
    assert to_bio(["S-X"], "iobes") == ["B-X"]
    with pytest.raises(ValueError, match="unknown tag scheme 'bilou'"):
        to_bio(["O"], "bilou")


def test_detect_scheme() -> None:
    assert detect_scheme(["O", "B-X", "I-X"]) == "bio"
    assert detect_scheme(["O", "S-X"]) == "iobes"
    assert detect_scheme([]) == "bio"


@pytest.mark.parametrize(
    ("tag", "scheme", "valid"),
    [
        ("O", "bio", True),
        ("B-Disease", "bio", True),
        ("I-cell-line", "bio", True),
        ("E-Disease", "bio", False),
        ("E-Disease", "iobes", True),
        ("S-Disease", "auto", True),
        ("B-", "bio", False),
        ("B", "bio", False),
        ("Disease", "bio", False),
        ("o", "bio", False),
        ("X-Disease", "iobes", False),
        ("B- Disease", "bio", False),
    ],
)
def test_is_valid_tag(tag: str, scheme: str, valid: bool) -> None:
    assert is_valid_tag(tag, scheme) is valid


def test_invalid_tags_lists_positions() -> None:
    assert invalid_tags(["O", "S-X", "B-X", "junk"], "bio") == [(1, "S-X"), (3, "junk")]


def test_split_tag() -> None:
    assert split_tag("O") == ("O", "")
    assert split_tag("B-cell-line") == ("B", "cell-line")


@pytest.mark.parametrize("scheme", ["bio", "iobes"])
def test_spans_to_tags_round_trips(scheme: str) -> None:
    spans = [Span(0, 1, "A"), Span(2, 5, "B"), Span(5, 7, "A")]
    tags = spans_to_tags(spans, 8, scheme)
    assert tags_to_spans(to_bio(tags, scheme)) == spans
    assert len(tags) == 8


def test_spans_to_tags_values_and_errors() -> None:
    assert spans_to_tags([Span(1, 3, "X")], 4) == ["O", "B-X", "I-X", "O"]
    assert spans_to_tags([Span(1, 3, "X"), Span(0, 1, "Y")], 3, "iobes") == ["S-Y", "B-X", "E-X"]
    with pytest.raises(ValueError, match="does not fit"):
        spans_to_tags([Span(2, 5, "X")], 4)
    with pytest.raises(ValueError, match="does not fit"):
        spans_to_tags([Span(2, 2, "X")], 4)
    with pytest.raises(ValueError, match="overlaps"):
        spans_to_tags([Span(0, 2, "X"), Span(1, 3, "Y")], 4)
    with pytest.raises(ValueError, match="'bio' or 'iobes'"):
        spans_to_tags([], 1, "auto")


def test_entity_types() -> None:
    assert entity_types(["O", "B-Dis", "I-Dis", "S-Chem", "E-Chem"]) == ["Chem", "Dis"]
    assert entity_types(["O"]) == []
