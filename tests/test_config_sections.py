"""Task sections (`ner:`, `re:`, `qa:`, `yesno:`): each task's keys validated by its own model, and
configs and run snapshots of the older layout (NER keys in `model`/`training`, `relation:`, a yes/no
config's `qa:`) migrated on reading to the same config."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.config import apply_overrides, differing_keys, load_config, migrate, read_snapshot, validate
from biotune.errors import BiotuneError
from biotune.experiments.run import check_same_config
from biotune.experiments.run_folder import RunPaths
from biotune.tasks.ner.settings import NerSettings
from biotune.tasks.qa.settings import QaSettings
from biotune.tasks.re.settings import RelationSettings

# Written by biotune before the task sections (`biotune train configs/bc5cdr_documents_context.yaml
# --training.crf_learning_rate 0.05`): every section at full length, the NER keys in `model` and
# `training`, `relation:` and `qa:` at their defaults.
OLD_NER_SNAPSHOT = """\
task: ner
name: bc5cdr_documents_context
output_dir: outputs
model:
  backbone: minilm
  head: softmax
  dropout: 0.3
  max_length: 128
  context: 64
data:
  corpus: bc5cdr_documents
  data_dir: ../shared/data/documents
  download: false
  format: null
  tag_field: tags
  scheme: auto
  train: train
  dev: dev
  allow_test_as_dev: false
  allow_test_as_train: false
  test:
  - test
  rename_types: {}
  limit: null
training:
  epochs: 3.0
  learning_rate: 5.0e-05
  batch_size: 32
  eval_batch_size: 64
  warmup: 0.1
  weight_decay: 0.01
  max_grad_norm: 1.0
  crf_learning_rate: 0.05
  seed: 42
  early_stopping_patience: null
  bf16: auto
  group_by_length: true
  logging_steps: 50
  checkpoint_steps: null
  strategy: single
  unannotated_o: marginal
sources: []
relation:
  negative_label: '0'
  label2id: null
  pairs: []
  scope: sentence
  max_sentences: null
  too_wide: error
qa:
  type: factoid
  stride: 128
  n_best: 20
  max_answer_length: 30
  top_k: 5
  list_threshold: null
  gold: []
"""

# configs/qa/pubmedqa.yaml of the same version (task yesno: its windows in `qa:`).
OLD_YESNO_SNAPSHOT = """\
task: yesno
name: pubmedqa
output_dir: outputs
model:
  backbone: minilm
  head: cls
  dropout: 0.1
  max_length: 512
  context: 0
data:
  corpus: pubmedqa
  data_dir: null
  download: false
  format: null
  tag_field: tags
  scheme: auto
  train: train
  dev: dev
  allow_test_as_dev: false
  allow_test_as_train: false
  test:
  - test
  rename_types: {}
  limit: null
training:
  epochs: 5.0
  learning_rate: 5.0e-05
  batch_size: 32
  eval_batch_size: 128
  warmup: 0.1
  weight_decay: 0.01
  max_grad_norm: 1.0
  crf_learning_rate: 0.01
  seed: 42
  early_stopping_patience: null
  bf16: auto
  group_by_length: true
  logging_steps: 50
  checkpoint_steps: null
  strategy: single
  unannotated_o: marginal
sources: []
relation:
  negative_label: '0'
  label2id: null
  pairs: []
  scope: sentence
  max_sentences: null
  too_wide: error
qa:
  type: factoid
  stride: 128
  n_best: 20
  max_answer_length: 30
  top_k: 5
  list_threshold: null
  gold: []
"""


def _run_with_snapshot(tmp_path: Path, text: str, name: str) -> RunPaths:
    paths = RunPaths(tmp_path / "outputs", name, 42)
    paths.results.mkdir(parents=True)
    paths.snapshot.write_text(text, encoding="utf-8")
    return paths


def test_an_old_ner_snapshot_validates_to_the_same_config_as_its_new_layout(tmp_path: Path) -> None:
    paths = _run_with_snapshot(tmp_path, OLD_NER_SNAPSHOT, "bc5cdr_documents_context")
    config = validate({"name": "bc5cdr_documents_context", "data": {"corpus": "bc5cdr_documents",
                                                                     "data_dir": "../shared/data/documents"},
                       "ner": {"context": 64, "crf_learning_rate": 0.05}}, "new.yaml")
    snapshot = read_snapshot(paths.snapshot)
    assert snapshot["ner"] == {"context": 64, "crf_learning_rate": 0.05, "unannotated_o": "marginal"}
    assert "context" not in snapshot["model"] and "crf_learning_rate" not in snapshot["training"]
    assert not {"relation", "qa", "re"} & set(snapshot)  # the sections NER does not read, at their defaults: gone
    assert differing_keys([snapshot, config.model_dump(mode="json")]) == []
    assert snapshot == config.model_dump(mode="json")
    check_same_config(paths, config)  # the old run is the same experiment: continued, not refused
    other = validate(apply_overrides(config.model_dump(mode="json"), {"ner.context": 32}), "other")
    with pytest.raises(BiotuneError, match=r"differs in ner\.context"):
        check_same_config(paths, other)


def test_an_old_yesno_snapshot_moves_qa_to_the_yesno_section(tmp_path: Path) -> None:
    snapshot = read_snapshot(_run_with_snapshot(tmp_path, OLD_YESNO_SNAPSHOT, "pubmedqa").snapshot)
    shipped = Path(__file__).parents[1] / "configs" / "qa" / "pubmedqa.yaml"  # the snapshot's own training values
    old = {"training.learning_rate": 5e-5, "training.batch_size": 32, "model.head": "cls"}  # shipped before head mean
    assert snapshot == load_config(shipped, old).model_dump(mode="json")
    assert snapshot["yesno"] == QaSettings().model_dump(mode="json")
    assert not {"qa", "ner", "relation", "re"} & set(snapshot)


def test_old_relation_section_becomes_re_and_new_keys_win_over_old() -> None:
    old = {"task": "re", "data": {"corpus": "x"}, "relation": {"pairs": [["Chemical", "Disease"]], "scope": "document"},
           "re": {"scope": "sentence"}}  # a child config in the new layout over an old parent
    assert migrate(old)["re"] == {"pairs": [["Chemical", "Disease"]], "scope": "sentence"}
    config = validate(old, "child.yaml")
    assert config.section(RelationSettings) == RelationSettings(pairs=[("Chemical", "Disease")], scope="sentence")
    assert set(config.model_dump(mode="json")) >= {"re"} and "relation" not in config.model_dump()


def test_old_dotted_overrides_and_extends_chains_still_reach_the_ner_section(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("model: {context: 16}\ntraining: {unannotated_o: o}\n", encoding="utf-8")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\ndata: {corpus: bc5cdr}\nner: {context: 8}\n",
                                         encoding="utf-8")
    config = load_config(tmp_path / "child.yaml", {"training.crf_learning_rate": 0.2})
    assert config.section(NerSettings) == NerSettings(context=8, crf_learning_rate=0.2, unannotated_o="o")


def test_a_misspelled_key_of_a_task_section_gets_did_you_mean() -> None:
    with pytest.raises(BiotuneError, match=r"^x\.yaml: invalid config: unknown key 'ner\.contxt' "
                                           r"\(did you mean 'ner\.context'\?\)$"):
        validate({"data": {"corpus": "x"}, "ner": {"contxt": 64}}, "x.yaml")
    with pytest.raises(BiotuneError, match=r"re\.scope: Input should be 'sentence' or 'document'; unknown key "
                                           r"'re\.pair' \(did you mean 're\.pairs'\?\)"):
        validate({"task": "re", "data": {"corpus": "x"}, "re": {"scope": "corpus", "pair": []}}, "x.yaml")


@pytest.mark.parametrize(("data", "message"), [
    ({"task": "re", "ner": {"context": 64}}, r"ner: only task ner reads this section \(task is 're'\)"),
    ({"task": "yesno", "qa": {"stride": 64}, "ner": {}}, r"ner: only task ner reads this section"),
    ({"relation": {"negative_label": "none"}}, r"re: only task re reads this section \(task is 'ner'\)"),
    ({"qa": {"stride": 64}}, r"qa: only task qa reads this section \(task is 'ner'\)"),
    ({"task": "re", "model": {"context": 64}}, r"model\.context: only task ner reads it, as ner\.context"),
    ({"task": "similarity", "similarity": {"x": 1}}, r"similarity: task similarity has no section of its own"),
    ({"settings": {"context": 1}}, r"unknown key 'settings'"),
])
def test_a_section_of_another_task_is_refused_naming_it(data: dict, message: str) -> None:
    with pytest.raises(BiotuneError, match=message):
        validate({"data": {"corpus": "x"}, **data}, "x.yaml")


def test_a_task_without_a_section_writes_none_and_old_default_sections_are_dropped() -> None:
    config = validate({"task": "similarity", "data": {"corpus": "x"}, "relation": {"negative_label": "0"},
                       "qa": {"stride": 128}, "model": {"context": 0}, "training": {"crf_learning_rate": 0.01}}, "old")
    dumped = config.model_dump(mode="json")
    assert config.settings is None and not {"ner", "re", "qa", "relation", "similarity"} & set(dumped)
    assert validate(dumped, "snapshot") == config
    with pytest.raises(BiotuneError, match="task similarity has no NerSettings section"):
        config.section(NerSettings)


@pytest.mark.parametrize(
    ("text", "old", "new"),
    [
        ("task: re\ndata: {corpus: chemprot}\nrelation: {scope: document}\nre: {scope: sentence}\n", "relation", "re"),
        ("data: {corpus: bc5cdr}\nmodel: {context: 16}\nner: {context: 8}\n", "model.context", "ner.context"),
    ],
)
def test_one_file_giving_a_key_in_its_old_and_new_place_is_an_error_naming_both(tmp_path: Path, text: str, old: str,
                                                                                new: str) -> None:
    """`migrate` kept the new key and silently dropped the old one when one file gave both."""
    from typer.testing import CliRunner

    from biotune.cli import app

    config = tmp_path / "both.yaml"
    config.write_text(text, encoding="utf-8")
    message = f"{config}: gives both {old} (its older name) and {new}; keep {new} only"
    with pytest.raises(BiotuneError) as raised:
        load_config(config)
    assert str(raised.value) == message
    result = CliRunner().invoke(app, ["train", str(config)])
    assert (result.exit_code, result.output.strip()) == (2, f"error: {message}")


def test_an_old_parent_under_a_new_child_still_merges_the_new_key_winning(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("task: re\ndata: {corpus: chemprot}\nrelation: {scope: document}\n",
                                        encoding="utf-8")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nre: {scope: sentence}\n", encoding="utf-8")
    assert load_config(tmp_path / "child.yaml").section(RelationSettings).scope == "sentence"


def test_a_misspelt_token_budget_key_suggests_the_right_one(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("data: {corpus: bc5cdr}\ntraining: {batch_token: 4096}\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match=r"unknown key 'training.batch_token' \(did you mean 'training.batch_tokens'"):
        load_config(config)
