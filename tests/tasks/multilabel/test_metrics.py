"""Multi-label scores by hand: BLURB's abstract-level micro-F1, sentence-level micro/macro, the threshold
sweep; the loss, windows and features of the task."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from biotune.config import validate
from biotune.models.backbones import load_tokenizer
from biotune.tasks import get_task
from biotune.tasks.contract import Bundle
from biotune.tasks.multilabel.examples import TextExample
from biotune.tasks.multilabel.metrics import best_threshold, decide, render_markdown, score_sets
from biotune.tasks.multilabel.reading import HOC_LABELS
from biotune.tasks.multilabel.windows import cut_windows
from tests.tasks.multilabel.toy import HOC_HEADER, vector

X, Y, Z = HOC_LABELS[0], HOC_LABELS[6], HOC_LABELS[9]
# Two abstracts: A of three sentences, B of two. Gold and predicted labels per sentence.
DOCUMENTS = ["A", "A", "A", "B", "B"]
GOLD = [{X}, set(), {Y}, {Z}, set()]
PREDICTED = [set(), {X, Z}, set(), {Z}, {Y}]


def test_abstract_level_micro_f1_is_over_the_union_of_each_abstracts_sentences() -> None:
    result = score_sets(DOCUMENTS, GOLD, PREDICTED, HOC_LABELS, 0.5, "the model's")
    # A: gold {X, Y}, predicted {X, Z} -> tp X, fp Z, fn Y.  B: gold {Z}, predicted {Z, Y} -> tp Z, fp Y.
    assert (result.abstract_micro.tp, result.abstract_micro.predicted, result.abstract_micro.support) == (2, 4, 3)
    assert result.abstract_micro.precision == 0.5 and result.abstract_micro.recall == pytest.approx(2 / 3)
    assert result.headline == pytest.approx(4 / 7) and result.headline_key == "abstract_micro.f1"
    # sentences: only B_s0's Z is right; 4 predicted, 3 gold
    assert (result.sentence_micro.tp, result.sentence_micro.predicted, result.sentence_micro.support) == (1, 4, 3)
    assert result.sentence_micro.f1 == pytest.approx(2 / 7)
    # per label (sentences): X 0, Y 0, Z 2/3; the other seven labels have neither gold nor predictions
    assert [result.sentence_labels[label].f1 for label in (X, Y, Z)] == pytest.approx([0.0, 0.0, 2 / 3])
    assert result.sentence_macro.f1 == pytest.approx(2 / 9)
    # per label (abstracts): X right in A, Y predicted in the wrong abstract, Z in both with gold in B
    assert [result.abstract_labels[label].f1 for label in (X, Y, Z)] == pytest.approx([1.0, 0.0, 2 / 3])
    data = result.to_dict()
    assert data["abstract_micro"]["f1"] == result.headline and (data["n_sentences"], data["n_abstracts"]) == (5, 2)
    assert data["decision"] == {"threshold": 0.5, "from": "the model's"}
    assert "headline abstract-level micro-F1 = 57.14" in render_markdown(data)


class FixedPredictor:
    """A stand-in predictor: 0.9 for each label of a text's `PREDICTED` set, 0.1 for the others."""

    labels = HOC_LABELS
    precision, batch_size = "fp32", 8

    def __init__(self, texts: list[str], threshold: float | None) -> None:
        self.rows = {text: [0.9 if label in predicted else 0.1 for label in HOC_LABELS]
                     for text, predicted in zip(texts, PREDICTED)}
        self.recorded_threshold = threshold

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return np.array([self.rows[text] for text in texts])


def test_the_task_scores_a_hoc_file_with_abstracts_from_its_index(tmp_path: Path) -> None:
    texts = [f"sentence {k} ." for k in range(5)]
    index = ["11_s0", "11_s1", "11_s2", "22_s0", "22_s1"]
    path = tmp_path / "test.tsv"
    rows = [f"{vector(tuple(gold))}\t{text}\t{i}" for gold, text, i in zip(GOLD, texts, index)]
    path.write_text("\n".join([HOC_HEADER, *rows]) + "\n", encoding="utf-8")
    task = get_task("multilabel")
    split = task.read_split(str(path), validate({"task": "multilabel", "data": {"corpus": "x"}}, "test"))
    result = task.score(FixedPredictor(texts, 0.5), split)
    assert result.headline == pytest.approx(4 / 7) and result.n_abstracts == 2 and result.threshold == 0.5
    untuned = task.score(FixedPredictor(texts, None), split)  # training's dev evaluation: the split's best cut
    assert untuned.threshold_from == "best on this split" and untuned.headline >= result.headline


def test_the_threshold_sweep_is_exact_and_never_splits_equal_scores() -> None:
    # abstract A: sentences 0.2 and 0.7 (gold), B: 0.4 (not gold), C: 0.9 (gold)
    threshold, f1 = best_threshold(["A", "A", "B", "C"], [set(), {X}, set(), {X}], np.array([[0.2], [0.7], [0.4], [0.9]]),
                                   [X])
    assert (threshold, f1) == (pytest.approx(0.55), 1.0)  # halfway between A's 0.7 and B's 0.4
    # B ties A at 0.7: the cut takes both or neither; both (F1 0.8) beats C alone (F1 2/3)
    threshold, f1 = best_threshold(["A", "B", "C"], [{X}, set(), {X}], np.array([[0.7], [0.7], [0.9]]), [X])
    assert (threshold, f1) == (pytest.approx(0.35), pytest.approx(0.8))
    assert best_threshold(["A"], [set()], np.array([[0.3]]), [X]) == (0.5, 0.0)  # no gold label: the default
    assert decide(np.array([[0.55, 0.54]]), [X, Y], 0.55) == [(X,)]  # a label at the threshold is predicted


def test_the_loss_weights_examples_and_masks_unannotated_labels() -> None:
    logits = torch.tensor([[0.0, 0.0], [2.0, -1.0]])
    batch = {"input_ids": torch.zeros((2, 3), dtype=torch.long), "targets": torch.tensor([[1.0, 0.0], [1.0, 1.0]]),
             "mask": torch.tensor([[1.0, 1.0], [1.0, 0.0]])}
    model = lambda **inputs: SimpleNamespace(logits=logits)  # noqa: E731 (the loss reads only `.logits`)
    loss, _ = get_task("multilabel").loss(model, batch, torch.tensor([1.0, 0.5]))  # type: ignore[arg-type]
    softplus = lambda z: float(np.log1p(np.exp(z)))  # noqa: E731 (BCE: softplus(-z) for 1, softplus(z) for 0)
    first = (softplus(-0.0) + softplus(0.0)) / 2  # both labels annotated
    second = softplus(-2.0)  # the second label is masked out
    assert loss.item() == pytest.approx((first * 1.0 + second * 0.5) / 2)


def test_a_long_text_is_read_in_windows_that_share_its_weight(word_backbone: Path) -> None:
    tokenizer = load_tokenizer(str(word_backbone))
    words = " ".join(["heparin"] * 40 + ["tremor"])
    windows = cut_windows([words, "tremor"], tokenizer, max_length=16, stride=3)
    first = [w for w in windows if w.example == 0]
    assert len(first) > 1 and all(len(w.input_ids) <= 16 for w in first) and windows[-1].example == 1
    read = [tokenizer.convert_ids_to_tokens(w.input_ids[1:-1]) for w in first]  # without [CLS] and [SEP]
    assert read[0] + [token for tokens in read[1:] for token in tokens[3:]] == words.split()  # each repeats 3 (stride)
    task = get_task("multilabel")
    config = validate({"task": "multilabel", "data": {"corpus": "x"}, "model": {"backbone": str(word_backbone),
                                                                                 "max_length": 16}}, "test")
    examples = [TextExample("a", "a", words, (Z,), weight=2.0), TextExample("b", "b", "tremor", ())]
    bundle = Bundle(None, tokenizer)  # type: ignore[arg-type]  (features need no model)
    features = task.featurise(examples, bundle, list(HOC_LABELS), config)
    long_features = features[:-1]
    assert sum(f["weight"] for f in long_features) == pytest.approx(2.0) and features[-1]["weight"] == 1.0
    assert all(f["targets"][9] == 1.0 and sum(f["targets"]) == 1.0 for f in long_features)


def test_a_source_that_annotates_some_labels_masks_the_others(tmp_path: Path, word_backbone: Path) -> None:
    path = tmp_path / "silver.tsv"
    path.write_text(f"{HOC_HEADER}\n{vector((Z,))}\ttremor .\t5_s0\n", encoding="utf-8")
    config = validate({"task": "multilabel", "data": {"corpus": "x", "train": str(path), "dev": None},
                       "model": {"backbone": str(word_backbone)},
                       "sources": [{"name": "silver", "split": str(path), "types": [Y, Z], "weight": 0.5}]}, "test")
    task = get_task("multilabel")
    source = task.read_source(config.sources[0], config)
    assert source.types == (Y, Z) and source.examples[0].weight == 0.5
    bundle = Bundle(None, load_tokenizer(str(word_backbone)))  # type: ignore[arg-type]  (features need no model)
    feature = task.featurise(source.examples, bundle, list(HOC_LABELS), config)[0]
    assert feature["mask"] == [float(label in (Y, Z)) for label in HOC_LABELS] and feature["weight"] == 0.5
