"""The registry helper: the suggestion text, the unknown-name error, lazy entries, order and normalisation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.registry import Lazy, Registry, did_you_mean


def test_did_you_mean_names_the_closest_choice_or_nothing() -> None:
    assert did_you_mean("crff", ["softmax", "crf"]) == " (did you mean 'crf'?)"
    assert did_you_mean("jsnl", ["text", "jsonl", "json"]) == " (did you mean 'jsonl'?)"
    assert did_you_mean("zzzz", ["softmax", "crf"]) == ""
    assert did_you_mean("crf", []) == ""


def test_unknown_name_is_one_line_naming_where_the_choices_and_the_suggestion() -> None:
    heads = Registry("head", {"softmax": 1, "crf": 2})
    with pytest.raises(BiotuneError) as error:
        heads.lookup("crff", where="model.head")
    assert str(error.value) == "model.head: unknown head 'crff' (did you mean 'crf'?); choose one of: softmax, crf"
    assert heads.unknown("zzz") == "unknown head 'zzz'; choose one of: softmax, crf"
    assert heads.unknown("crf") is None
    assert heads.lookup("crf") == 2


def test_names_keep_registration_order_and_the_mapping_works_like_a_dict() -> None:
    strategies = Registry("strategy", {"mixed": "m", "gold_only": "g"})
    strategies["sequential"] = "s"
    assert strategies.names() == ("mixed", "gold_only", "sequential")
    assert list(strategies) == ["mixed", "gold_only", "sequential"]
    assert "gold_only" in strategies and "silver" not in strategies and 3 not in strategies
    assert strategies.get("silver") is None and len(strategies) == 3
    del strategies["mixed"]
    assert strategies.names() == ("gold_only", "sequential")


def test_normalize_forgives_spelling_and_alternative_ends_the_choices() -> None:
    corpora = Registry("corpus", {"ncbi_disease": "n", "bc5cdr": "b"},
                       normalize=lambda name: name.strip().lower().replace("-", "_"),
                       alternative="a folder with train and test files")
    assert corpora.lookup("NCBI-Disease") == "n" and "BC5CDR" in corpora
    assert corpora.unknown("BC5CD") == ("unknown corpus 'BC5CD' (did you mean 'bc5cdr'?); "
                                        "choose one of: ncbi_disease, bc5cdr, or a folder with train and test files")


def test_lazy_entry_is_imported_on_first_lookup_and_resolved_once(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "biotune_lazy_probe.py").write_text("class Builder:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "biotune_lazy_probe", raising=False)
    tasks = Registry("task", {"probe": Lazy("biotune_lazy_probe:Builder")})
    assert tasks.names() == ("probe",) and tasks.unknown("probe") is None
    assert "biotune_lazy_probe" not in sys.modules  # names and checks import nothing
    first = tasks.lookup("probe")
    assert first.__name__ == "Builder" and first is sys.modules["biotune_lazy_probe"].Builder
    # a second import would now fail: the resolved value must be the kept one
    (tmp_path / "biotune_lazy_probe.py").write_text("raise ImportError('imported twice')\n")
    del sys.modules["biotune_lazy_probe"]
    assert tasks.lookup("probe") is first and tasks["probe"] is first


def test_lazy_target_must_name_module_and_attribute() -> None:
    with pytest.raises(ValueError, match="package.module:attribute"):
        Lazy("biotune.tasks.ner.factory")
