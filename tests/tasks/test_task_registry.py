"""The task registry and the config's `task:` key: defaults per task, names checked, old configs unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.config import load_config, validate
from biotune.errors import BiotuneError
from biotune.tasks import TASKS, get_task
from biotune.tasks.ner.factory import HEADS as NER_HEADS
from biotune.tasks.re.heads import HEADS as RE_HEADS
from biotune.tasks.re.settings import RelationSettings
from biotune.tasks.similarity.encoding import READS_SEPARATELY
from biotune.tasks.similarity.model import HEADS as SIMILARITY_HEADS


def test_the_spec_names_exactly_the_heads_each_task_builds() -> None:
    assert set(TASKS["ner"].heads) == set(NER_HEADS) and set(TASKS["re"].heads) == set(RE_HEADS)
    assert set(TASKS["similarity"].heads) == set(SIMILARITY_HEADS) == set(READS_SEPARATELY)
    assert [get_task(name).name for name in TASKS] == list(TASKS)


def test_the_sequence_classifiers_keep_their_cls_head_first_and_take_mean() -> None:
    for task, stock in (("multilabel", "sigmoid"), ("yesno", "cls")):
        assert validate({"task": task, "data": {"corpus": "x"}}, task).model.head == stock  # the default
        assert validate({"task": task, "data": {"corpus": "x"}, "model": {"head": "mean"}}, task).model.head == "mean"


@pytest.mark.parametrize("shipped", ["multilabel/hoc.yaml", "qa/pubmedqa.yaml", "qa/bioasq_yesno.yaml"])
def test_the_shipped_hoc_and_yesno_configs_train_the_mean_head(shipped: str) -> None:
    """The bundled MiniLM's [CLS] state was never trained to stand for its input (the configs' comments)."""
    config = load_config(Path(__file__).parents[2] / "configs" / shipped)
    assert (config.model.head, config.model.backbone) == ("mean", "minilm")


def test_a_config_without_task_is_ner_with_ner_defaults() -> None:
    config = validate({"data": {"corpus": "x"}}, "old")
    assert (config.task, config.model.head, config.model.max_length) == ("ner", "softmax", 128)


def test_task_re_takes_its_own_defaults_and_keeps_given_values() -> None:
    config = validate({"task": "re", "data": {"corpus": "x"}}, "re")
    relation = config.section(RelationSettings)
    assert (config.model.head, config.model.max_length, relation.negative_label) == ("entity_start", 512, "0")
    given = validate({"task": "re", "data": {"corpus": "x"}, "model": {"head": "cls", "max_length": 256}}, "re")
    assert (given.model.head, given.model.max_length) == ("cls", 256)
    assert validate(given.model_dump(mode="json"), "snapshot") == given  # a run snapshot re-validates to itself


@pytest.mark.parametrize(("data", "message"), [
    ({"task": "rel"}, r"^x: invalid config: task: .*unknown task 'rel' \(did you mean 're'\?\)"),
    ({"task": "re", "model": {"head": "softmax"}}, r"model\.head: unknown re head 'softmax'.*entity_start, cls"),
    ({"model": {"head": "entity_start"}}, r"model\.head: unknown ner head 'entity_start'"),
    ({"task": "multilabel", "model": {"head": "meen"}},
     r"model\.head: unknown multilabel head 'meen' \(did you mean 'mean'\?\); choose one of: sigmoid, mean$"),
    ({"task": "yesno", "model": {"head": "biencoder"}},
     r"model\.head: unknown yesno head 'biencoder'.*; choose one of: cls, mean$"),
    ({"re": {"negative_label": "none"}}, r"re: only task re reads this section"),
    ({"task": "re", "re": {"scope": "corpus"}}, r"re\.scope"),
])
def test_task_errors_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(BiotuneError, match=message):
        validate({"data": {"corpus": "c"}, **data}, "x")
