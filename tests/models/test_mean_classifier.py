"""The ``mean`` sequence classifier on a tiny random BERT: the mean of the real tokens' states under a
linear layer, padding left out, a folder that reloads to the same logits with its labels, an earlier
phase's classifier kept, and the heads that cannot start from it refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel

from biotune.errors import BiotuneError
from biotune.models.head_models import save_head_model
from biotune.models.mean_classifier import MeanPoolClassifier, build_classifier, load_classifier

LABELS = ("yes", "no", "maybe")
IDS = torch.tensor([[2, 5, 9, 14, 3], [2, 7, 3, 0, 0]])  # [CLS] words [SEP], the second row padded
MASK = (IDS != 0).long()


def build(init: Path | str, head: str = "mean", seed: int = 0) -> MeanPoolClassifier:
    torch.manual_seed(seed)
    model, _ = build_classifier("yesno", str(init), head, LABELS, 0.1, 0.0)
    return model.eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> Path:
    """A mean classifier saved as the tasks save it, its classifier moved off its start (as training would)."""
    torch.manual_seed(0)
    model, tokenizer = build_classifier("multilabel", str(word_backbone), "mean", LABELS, 0.1, 0.0,
                                        problem_type="multi_label_classification")
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([0.5, -1.0, 2.0]))
    folder = tmp_path_factory.mktemp("mean") / "model"
    save_head_model(model, tokenizer, folder)
    return folder


def test_the_logits_are_the_classifier_over_the_mean_of_the_real_tokens_states(word_backbone: Path) -> None:
    """Computed by hand from the backbone itself, each row alone (no padding)."""
    model = build(word_backbone)
    encoder = AutoModel.from_pretrained(word_backbone).eval()
    with torch.no_grad():
        logits = model(IDS, MASK).logits
        by_hand = [model.classifier(encoder(IDS[row:row + 1, :n]).last_hidden_state[0].mean(dim=0))
                   for row, n in enumerate(MASK.sum(dim=1).tolist())]
    assert logits.shape == (2, 3) and torch.allclose(logits, torch.stack(by_hand), atol=1e-6)
    assert not torch.allclose(logits[0], logits[1])


def test_extra_padding_changes_no_logit(word_backbone: Path) -> None:
    model = build(word_backbone)
    padded = torch.cat([IDS, torch.zeros(2, 9, dtype=torch.long)], dim=1)  # 9 more [PAD]s on each row
    with torch.no_grad():
        assert torch.allclose(model(padded, (padded != 0).long()).logits, model(IDS, MASK).logits, atol=1e-6)


def test_a_new_classifier_sits_on_the_backbones_encoder_untouched(word_backbone: Path) -> None:
    model = build(word_backbone)
    backbone = AutoModel.from_pretrained(word_backbone).state_dict()
    assert all(torch.equal(backbone[k], v) for k, v in model.encoder.state_dict().items())
    assert model.classifier.weight.shape == (3, 32) and not model.classifier.bias.any()
    assert 0.01 < model.classifier.weight.std().item() < 0.03  # the config's initializer_range, 0.02
    assert model.config.id2label == dict(enumerate(LABELS)) and model.config.biotune["head"] == "mean"


def test_save_then_load_gives_identical_logits_and_keeps_the_labels(saved: Path, tmp_path: Path) -> None:
    model, tokenizer = load_classifier(saved, "multilabel")
    assert isinstance(model, MeanPoolClassifier) and not model.training
    with torch.no_grad():
        logits = model(IDS, MASK).logits
    assert logits[:, 2].sub(logits[:, 1]).min() > 2.0  # the moved bias came back
    weights = load_file(str(saved / "model.safetensors"))
    assert {"classifier.weight", "classifier.bias"} < set(weights) and all(
        k.startswith(("encoder.", "classifier.")) for k in weights)
    config = json.loads((saved / "config.json").read_text())
    assert (config["biotune"]["head"], config["problem_type"]) == ("mean", "multi_label_classification")
    assert config["id2label"] == {"0": "yes", "1": "no", "2": "maybe"} and config["label2id"] == {"yes": 0, "no": 1,
                                                                                                  "maybe": 2}
    save_head_model(model, tokenizer, tmp_path / "again")
    again, _ = load_classifier(tmp_path / "again", "multilabel")
    with torch.no_grad():
        assert torch.equal(again(IDS, MASK).logits, logits)


def test_a_later_phase_keeps_the_trained_classifier_and_encoder(saved: Path) -> None:
    later = build(saved, seed=1)
    trained, _ = load_classifier(saved, "multilabel")
    assert all(torch.equal(trained.state_dict()[k], v) for k, v in later.state_dict().items())


def test_a_stock_head_cannot_start_from_a_mean_model(saved: Path) -> None:
    with pytest.raises(BiotuneError, match=rf"^model.head 'cls' cannot start from {saved}: it was trained with head "
                                           r"'mean', whose weights a 'cls' model does not read"):
        build(saved, head="cls")


def test_a_mean_folder_without_the_classifiers_weights_is_refused(saved: Path, tmp_path: Path) -> None:
    """A folder that records head mean but holds only an encoder (one saved with `encoder.save_pretrained`)."""
    model, tokenizer = load_classifier(saved, "multilabel")
    model.encoder.save_pretrained(tmp_path / "encoder_only")
    tokenizer.save_pretrained(tmp_path / "encoder_only")
    with pytest.raises(BiotuneError, match=r"the weights lack .* tensor\(s\) .*classifier\.bias"):
        load_classifier(tmp_path / "encoder_only", "multilabel")
