"""Both relation heads on a tiny random BERT: overfit, save -> load, batched == one at a time, pipeline loading."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from transformers import AutoModel, pipeline

from biotune.errors import BiotuneError
from biotune.tasks.re.examples import RelationExample, read_examples, read_label2id
from biotune.tasks.re.heads import (RelationModel, build_relation_model, load_relation_model, predict_probabilities,
                                    save_relation_model)
from biotune.tasks.re.markers import MarkerScheme, RelationFeature, featurise, mark
from tests.conftest import build_word_backbone
from tests.tasks.re.toy import TOY_LABELS, write_toy_split

HEADS = ("cls", "entity_start")
STEPS = 120


@dataclass
class Trained:
    relation_model: RelationModel
    examples: list[RelationExample]
    features: list[RelationFeature]
    losses: list[float]
    folder: Path


def _toy_examples(folder: Path) -> list[RelationExample]:
    train, label2id = write_toy_split(folder)
    return read_examples(train, read_label2id(label2id))


@pytest.fixture(scope="module", params=HEADS)
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """Each head trained on the six toy pairs with a plain torch loop until it has memorised them, then saved."""
    folder = tmp_path_factory.mktemp(f"re_{request.param}")
    backbone = build_word_backbone(folder / "backbone")
    examples = _toy_examples(folder)
    torch.manual_seed(0)
    relation_model = build_relation_model(str(backbone), request.param, TOY_LABELS,
                                          MarkerScheme.from_examples(examples), dropout=0.0)
    label2id = relation_model.model.config.label2id  # what the wiring passes: the model's own label ids
    assert label2id == {label: i for i, label in enumerate(TOY_LABELS)}
    features = featurise(examples, relation_model.tokenizer, relation_model.scheme, 64, label2id).features
    batch = relation_model.collate(features)
    model = relation_model.model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses: list[float] = []
    for _ in range(STEPS):
        loss = model(**batch).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        losses.append(loss.item())
    save_relation_model(relation_model, folder / "model")
    return Trained(relation_model, examples, features, losses, folder)


def test_re_head_overfits_a_few_pairs(trained: Trained) -> None:
    probabilities = predict_probabilities(trained.relation_model, trained.features)
    predicted = [trained.relation_model.labels[i] for i in probabilities.argmax(dim=-1).tolist()]
    assert trained.losses[0] > 0.9  # about ln 3 at the start: the head really learned
    assert trained.losses[-1] < 0.05
    assert predicted == [example.label for example in trained.examples]


def test_re_save_load_gives_identical_predictions_and_keeps_marker_embeddings(trained: Trained) -> None:
    loaded = load_relation_model(trained.folder / "model")
    original = trained.relation_model
    assert (loaded.head, loaded.labels, loaded.scheme) == (original.head, TOY_LABELS, original.scheme)
    assert len(loaded.tokenizer) == len(original.tokenizer) == loaded.model.config.vocab_size
    marker_ids = loaded.tokenizer.convert_tokens_to_ids(loaded.scheme.tokens())
    assert marker_ids == original.tokenizer.convert_tokens_to_ids(original.scheme.tokens())
    assert torch.equal(loaded.model.get_input_embeddings().weight[marker_ids],
                       original.model.get_input_embeddings().weight[marker_ids])
    features = featurise(trained.examples, loaded.tokenizer, loaded.scheme, 64).features
    assert [f.input_ids for f in features] == [f.input_ids for f in trained.features]
    assert torch.equal(predict_probabilities(loaded, features), predict_probabilities(original, trained.features))


def test_re_batched_predictions_equal_one_at_a_time(trained: Trained) -> None:
    batched = predict_probabilities(trained.relation_model, trained.features, batch_size=4)
    single = torch.cat([predict_probabilities(trained.relation_model, [f], batch_size=1) for f in trained.features])
    first_batch = sorted(len(f.input_ids) for f in trained.features)[:4]
    assert len(set(first_batch)) > 1  # the first batch of 4 (sorted by length) really carries padding
    assert torch.allclose(batched, single, atol=1e-5)
    assert batched.argmax(dim=-1).tolist() == single.argmax(dim=-1).tolist()


@pytest.mark.parametrize("trained", ["cls"], indirect=True)  # the cls head's folder is a standard one
def test_re_cls_folder_runs_in_the_text_classification_pipeline(trained: Trained) -> None:
    classify = pipeline("text-classification", model=str(trained.folder / "model"), device="cpu")
    probabilities = predict_probabilities(trained.relation_model, trained.features)
    for example, row in zip(trained.examples, probabilities):
        answer = classify(mark(example, trained.relation_model.scheme))[0]
        assert answer["label"] == example.label
        assert answer["score"] == pytest.approx(row.max().item(), abs=1e-5)


def test_re_entity_start_keeps_the_backbone_weights(tmp_path: Path, word_backbone: Path) -> None:
    examples = _toy_examples(tmp_path)
    built = build_relation_model(str(word_backbone), "entity_start", TOY_LABELS, MarkerScheme.from_examples(examples))
    backbone = AutoModel.from_pretrained(str(word_backbone))
    vocab = backbone.config.vocab_size
    for name, tensor in backbone.state_dict().items():
        mine = built.model.encoder.state_dict()[name]
        assert torch.equal(mine[:vocab] if name.endswith("word_embeddings.weight") else mine, tensor), name
    assert built.model.get_input_embeddings().weight.shape[0] == vocab + 2 * 4 + 2


@pytest.mark.parametrize("head", HEADS)
def test_re_prediction_turns_dropout_off_and_restores_the_training_mode(tmp_path: Path, word_backbone: Path,
                                                                        head: str) -> None:
    examples = _toy_examples(tmp_path)
    built = build_relation_model(str(word_backbone), head, TOY_LABELS, MarkerScheme.from_examples(examples),
                                 dropout=0.5)
    features = featurise(examples, built.tokenizer, built.scheme, 64).features
    built.model.train()
    first, second = predict_probabilities(built, features), predict_probabilities(built, features)
    assert torch.equal(first, second)  # with dropout 0.5 active, two passes would differ
    assert built.model.training


def test_re_unknown_head_suggests_the_close_name(word_backbone: Path) -> None:
    with pytest.raises(BiotuneError, match=r"^unknown relation head 'entity-start' \(did you mean 'entity_start'\?\); "
                                          r"choose one of: cls, entity_start$"):
        build_relation_model(str(word_backbone), "entity-start", TOY_LABELS, MarkerScheme(("GENE",)))


def test_re_loading_a_folder_that_is_not_a_relation_model_is_an_error(word_backbone: Path) -> None:
    with pytest.raises(BiotuneError, match=r"is not a biotune relation model"):
        load_relation_model(word_backbone)


def test_re_added_tokens_start_from_the_mean_of_their_subwords(word_backbone: Path) -> None:
    from biotune.models.backbones import load_tokenizer

    built = build_relation_model(str(word_backbone), "entity_start", TOY_LABELS, MarkerScheme(("GENE",), ("@GENE$",)))
    original = load_tokenizer(str(word_backbone))
    backbone = AutoModel.from_pretrained(str(word_backbone)).get_input_embeddings().weight
    weight = built.model.get_input_embeddings().weight
    for token in ("@GENE$", "[E1:GENE]", "[/E2:GENE]"):
        ids = [i for i in original(token, add_special_tokens=False)["input_ids"] if i != original.unk_token_id]
        assert ids  # the letters of GENE are in the toy vocabulary
        torch.testing.assert_close(weight[built.tokenizer.convert_tokens_to_ids(token)], backbone[ids].mean(dim=0))
    e1, e2 = (weight[built.tokenizer.convert_tokens_to_ids(t)] for t in ("[E1:GENE]", "[E2:GENE]"))
    assert not torch.equal(e1, e2)  # "e1" and "e2" differ in one subword
