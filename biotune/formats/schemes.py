"""Tag schemes: BIO (IOB2) and IOBES, conversions, repair and span extraction.

Inside biotune every tag sequence is BIO. Readers validate tags against the file's scheme,
convert IOBES to BIO, then repair ill-formed sequences with the conlleval convention (an
`I-X` that cannot continue a span starts one). `tags_to_spans` follows the same convention,
so it agrees with `seqeval.metrics.sequence_labeling.get_entities` in its default mode and
the spans of a sequence are the same before and after `repair_bio`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from seqeval.metrics.sequence_labeling import get_entities

from biotune.formats.sentence import Span

OUTSIDE = "O"
SCHEMES = ("bio", "iobes", "auto")
PREFIXES: dict[str, frozenset[str]] = {
    "bio": frozenset("BI"),
    "iobes": frozenset("BIES"),
    "auto": frozenset("BIES"),
}
_IOBES_TO_BIO = {"S": "B", "E": "I"}


def split_tag(tag: str) -> tuple[str, str]:
    """Split `"B-Disease"` into `("B", "Disease")` and `"O"` into `("O", "")`.

    Only the first hyphen separates, so types may contain hyphens (`B-cell-line`).
    """
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, _, entity_type = tag.partition("-")
    return prefix, entity_type


def is_valid_tag(tag: str, scheme: str = "bio") -> bool:
    """True if `tag` is `O` or `PREFIX-TYPE` with a prefix `scheme` allows and a non-empty type."""
    if tag == OUTSIDE:
        return True
    prefix, entity_type = split_tag(tag)
    return prefix in _prefixes(scheme) and bool(entity_type) and entity_type.strip() == entity_type


def invalid_tags(tags: Iterable[str], scheme: str = "bio") -> list[tuple[int, str]]:
    """`(index, tag)` for every tag of `tags` that `scheme` does not allow, in order."""
    return [(i, tag) for i, tag in enumerate(tags) if not is_valid_tag(tag, scheme)]


def detect_scheme(tags: Iterable[str]) -> str:
    """`"iobes"` if any tag has an `E-` or `S-` prefix, else `"bio"`.

    Deciding per sentence is safe: a well-formed IOBES sentence with an entity always has an
    `E-` or `S-` tag, and IOBES without them reads the same as BIO.
    """
    return "iobes" if any(split_tag(tag)[0] in ("E", "S") for tag in tags) else "bio"


def iobes_to_bio(tags: Sequence[str]) -> list[str]:
    """Map `S-X` to `B-X` and `E-X` to `I-X`; other tags are unchanged (repair comes later)."""
    converted = []
    for tag in tags:
        prefix, entity_type = split_tag(tag)
        converted.append(_join(_IOBES_TO_BIO[prefix], entity_type) if prefix in _IOBES_TO_BIO else tag)
    return converted


def bio_to_iobes(tags: Sequence[str]) -> list[str]:
    """IOBES tags for the spans of BIO `tags` (ill-formed input is read the conlleval way)."""
    return spans_to_tags(tags_to_spans(tags), len(tags), scheme="iobes")


def to_bio(tags: Sequence[str], scheme: str = "auto") -> list[str]:
    """Convert `tags` written in `scheme` (`bio`, `iobes`, or `auto` to detect) to BIO."""
    _prefixes(scheme)
    resolved = detect_scheme(tags) if scheme == "auto" else scheme
    return iobes_to_bio(tags) if resolved == "iobes" else list(tags)


def repair_bio(tags: Sequence[str]) -> tuple[list[str], int]:
    """Rewrite every `I-X` that cannot continue a span as `B-X`; return the tags and the count.

    An `I-X` cannot continue a span at the sentence start, after `O`, or after a tag of
    another type (conlleval convention). The repaired sequence has the same spans.
    """
    repaired: list[str] = []
    count = 0
    previous_type = ""
    for tag in tags:
        prefix, entity_type = split_tag(tag)
        if prefix == "I" and entity_type != previous_type:
            tag = _join("B", entity_type)
            count += 1
        repaired.append(tag)
        previous_type = entity_type
    return repaired, count


def tags_to_spans(tags: Sequence[str]) -> list[Span]:
    """Half-open token spans of BIO `tags`, in order, read the conlleval way.

    `B-X` starts a span; `I-X` continues the open span if it has type `X` and starts a new
    one otherwise. Extraction is seqeval's (default mode), the reference implementation of
    these semantics, so training, decoding and scoring read spans identically.
    Raises `ValueError` for tags that are not BIO (convert IOBES first).
    """
    bad = invalid_tags(tags, "bio")
    if bad:
        raise ValueError(f"not a BIO tag at position {bad[0][0]}: {bad[0][1]!r}")
    return [Span(start, end + 1, entity_type) for entity_type, start, end in get_entities(list(tags))]


def spans_to_tags(spans: Iterable[Span], n: int, scheme: str = "bio") -> list[str]:
    """Tags of length `n` encoding `spans` in `scheme` (`bio` or `iobes`).

    Raises `ValueError` for spans that are empty, out of range, or overlap.
    """
    if scheme not in ("bio", "iobes"):
        raise ValueError(f"scheme must be 'bio' or 'iobes', not {scheme!r}")
    tags = [OUTSIDE] * n
    for span in sorted(spans, key=lambda s: s.start):
        if not 0 <= span.start < span.end <= n:
            raise ValueError(f"span {span} does not fit a sentence of {n} tokens")
        if any(tag != OUTSIDE for tag in tags[span.start : span.end]):
            raise ValueError(f"span {span} overlaps another span")
        tags[span.start : span.end] = _span_tags(span.end - span.start, span.type, scheme)
    return tags


def entity_types(tags: Iterable[str]) -> list[str]:
    """Sorted distinct entity types named by `tags` (any scheme)."""
    return sorted({split_tag(tag)[1] for tag in tags} - {""})


def _span_tags(length: int, entity_type: str, scheme: str) -> list[str]:
    if scheme == "iobes" and length == 1:
        return [_join("S", entity_type)]
    inside = [_join("I", entity_type)] * (length - 1)
    if scheme == "iobes":
        inside[-1] = _join("E", entity_type)
    return [_join("B", entity_type), *inside]


def _join(prefix: str, entity_type: str) -> str:
    return f"{prefix}-{entity_type}"


def _prefixes(scheme: str) -> frozenset[str]:
    """Prefixes `scheme` allows; `ValueError` for an unknown scheme (readers re-raise it for users)."""
    try:
        return PREFIXES[scheme]
    except KeyError:
        raise ValueError(f"unknown tag scheme {scheme!r}; expected one of {', '.join(SCHEMES)}") from None
