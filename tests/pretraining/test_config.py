"""Pretraining configs: did-you-mean for unknown keys, `extends`, one location per source."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.pretraining.config import load_pretraining_config, validate_pretraining


def test_an_unknown_key_is_named_with_the_closest_valid_one() -> None:
    with pytest.raises(BiotuneError, match=r"unknown key 'training.learnig_rate' \(did you mean 'training.learning_rate'\?\)"):
        validate_pretraining({"sources": [{"path": "x.txt"}], "training": {"learnig_rate": 1e-4}}, "cfg.yaml")
    with pytest.raises(BiotuneError, match=r"unknown key 'sources.0.fromat' \(did you mean 'sources.0.format'\?\)"):
        validate_pretraining({"sources": [{"path": "x.txt", "fromat": "text"}]}, "cfg.yaml")
    with pytest.raises(BiotuneError, match=r"cfg.yaml: .*unknown key 'mlm_probabilty' \(did you mean 'mlm_probability'"):
        validate_pretraining({"sources": [{"path": "x.txt"}], "mlm_probabilty": 0.2}, "cfg.yaml")


def test_a_source_names_exactly_one_place_and_a_known_format() -> None:
    with pytest.raises(BiotuneError, match="sources.0: give exactly one of path and corpus"):
        validate_pretraining({"sources": [{"path": "x.txt", "corpus": "bc5cdr:train"}]}, "c")
    with pytest.raises(BiotuneError, match="must be <corpus>:<split>"):
        validate_pretraining({"sources": [{"corpus": "bc5cdr"}]}, "c")
    with pytest.raises(BiotuneError, match=r"unknown format 'pubtater' \(did you mean 'pubtator'\?\)"):
        validate_pretraining({"sources": [{"path": "x.txt", "format": "pubtater"}]}, "c")
    with pytest.raises(BiotuneError, match="sources: List should have at least 1 item"):
        validate_pretraining({"sources": []}, "c")


def test_yaml_extends_and_the_name_default(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("backbone: minilm\nsources: [{path: a.txt}]\ntraining: {batch_size: 8}\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\ntraining: {learning_rate: 1.0e-4}\n")
    config = load_pretraining_config(tmp_path / "child.yaml", {"output_dir": "elsewhere"})
    assert config.name == "child" and config.output_dir == "elsewhere"
    assert config.training.batch_size == 8 and config.training.learning_rate == 1e-4
    assert config.mlm_probability == 0.15 and config.whole_word_mask


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "configs" / "pretrain").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_the_shipped_configs_validate_and_read_no_test_split(path: Path) -> None:
    config = load_pretraining_config(path)
    assert config.name == path.stem
    assert all(not (s.corpus or "").endswith(":test") and "Test" not in (s.path or "") for s in config.sources)
