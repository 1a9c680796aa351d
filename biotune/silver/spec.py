"""What a dictionary is and how to read it: `DictionarySpec`, and its one-line text form.

A spec is validated once (pydantic, `extra="forbid"`), so loading and matching code only sees
typed values. On the command line a spec is written

    PATH[:KEY=VALUE[,KEY=VALUE...]]

e.g. ``genes.tsv:type=GENE,category=protein_coding|lincRNA,case_sensitive=true``: KEY is a
field of `DictionarySpec` (``-`` and ``_`` alike), list fields (`category`, `stop_words`) take
values separated by ``|``, and values cannot hold ``,``. Options the command line sets for
all dictionaries are the defaults each spec can override.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from biotune.formats.schemes import is_valid_tag
from biotune.errors import BiotuneError
from biotune.registry import did_you_mean

_LIST_FIELDS = ("category", "stop_words")
# The options start at the first ':' followed by 'key=', so a path may hold colons.
_SPEC = re.compile(r"(?P<path>.+?)(?::(?P<options>[A-Za-z_][\w-]*=.*))?")


class DictionarySpec(BaseModel):
    """One dictionary file and the options it is read and matched with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Field(..., description="the dictionary file")
    format: Literal["tsv", "list"] | None = Field(
        None, description="tsv (a header row names the columns) or list (one term a line); default: tsv for "
        ".tsv/.tab files, else list")
    term_column: str = Field("term", description="tsv: the column holding the terms")
    type_column: str = Field("type", description="tsv: the column holding each term's entity type")
    type: str | None = Field(None, description="one entity type for every term (overrides type_column; required "
                             "for a list)")
    category_column: str = Field("category", description="tsv: the column `category` filters on")
    category: tuple[str, ...] = Field((), description="tsv: keep only rows whose category is one of these; empty = all")
    case_sensitive: bool = Field(False, description="match the exact case; otherwise terms and text are lowercased")
    min_length: int = Field(2, ge=1, description="drop terms shorter than this many characters")
    stop_list: Path | None = Field(None, description="file of extra stop words, one a line ('#' starts a comment)")
    stop_words: tuple[str, ...] = Field((), description="extra stop words")
    default_stop_words: bool = Field(True, description="also drop the words of `stopwords.GENE_STOP_WORDS`")

    @field_validator("type")
    @classmethod
    def _valid_type(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_tag(f"B-{value}"):
            raise ValueError(f"{value!r} is not a usable entity type (empty, or with outer spaces)")
        return value


def build_spec(values: Mapping[str, Any], origin: str) -> DictionarySpec:
    """Validate `values` into a spec; errors name `origin`, the key, and the closest valid key."""
    try:
        return DictionarySpec.model_validate(dict(values))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(map(str, error["loc"])) or "spec"
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown option {key!r}{did_you_mean(key, DictionarySpec.model_fields)}")
            else:
                problems.append(f"{key}: {error['msg']}")
        raise BiotuneError(f"{origin}: " + "; ".join(problems)) from None


def parse_spec(text: str, defaults: Mapping[str, Any] | None = None) -> DictionarySpec:
    """The spec written `PATH[:KEY=VALUE,...]` (see the module docstring) over `defaults`.

    `defaults` holds options shared by every dictionary (None values are left out, so the
    spec's own defaults apply).
    """
    match = _SPEC.fullmatch(text)
    if match is None or not match["path"].strip():
        raise BiotuneError(f"dictionary spec {text!r}: expected PATH[:KEY=VALUE,...]")
    values = {key: value for key, value in (defaults or {}).items() if value is not None}
    options = match["options"]
    for item in options.split(",") if options else []:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise BiotuneError(f"dictionary spec {text!r}: expected KEY=VALUE, found {item!r}")
        values[key] = tuple(v.strip() for v in value.split("|") if v.strip()) if key in _LIST_FIELDS else value.strip()
    values["path"] = match["path"]
    return build_spec(values, f"dictionary spec {text!r}")
