"""The `biencoder` similarity head on a tiny random BERT: each sentence embedded alone and mean-pooled
over its real tokens, the cosine mapped by an affine map that starts at the training scores' range,
a folder that biotune and sentence-transformers both load, and sentences refused, never cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from biotune.config import ExperimentConfig, validate
from biotune.errors import BiotuneError
from biotune.models.backbones import load_tokenizer
from biotune.tasks import get_task
from biotune.tasks.similarity.biencoder import BiEncoderSimilarity, initial_affine
from biotune.tasks.similarity.examples import SentencePair
from biotune.tasks.similarity.reading import SCORE_RANGE
from tests.tasks.similarity.toy import toy_pairs, write_pairs

TASK = get_task("similarity")


def biencoder_config(backbone: Path, max_length: int = 32) -> ExperimentConfig:
    return validate({"task": "similarity", "model": {"backbone": str(backbone), "head": "biencoder",
                                                      "max_length": max_length}, "data": {"corpus": "toy"}}, "toy")


def pairs(n: int, offset: int = 0) -> list[SentencePair]:
    return [SentencePair(f"p{k}", a, b, s, where=f"toy:{k}") for k, (a, b, s) in enumerate(toy_pairs(n, offset))]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> Path:
    """A bi-encoder saved by the task, its affine map moved off its start (as training would move it)."""
    config = biencoder_config(word_backbone)
    torch.manual_seed(0)
    bundle = TASK.build_model(str(word_backbone), [], config, pairs(8))
    with torch.no_grad():
        bundle.model.scale.fill_(2.5)
        bundle.model.shift.fill_(0.7)
    TASK.record(bundle, config, "fp32")
    folder = tmp_path_factory.mktemp("biencoder") / "model"
    TASK.save(bundle, folder)
    return folder


def test_the_affine_map_starts_at_the_training_scores_range(word_backbone: Path) -> None:
    train = pairs(3, offset=1)  # scores 0.4, 1.2, 2.0
    model = TASK.build_model(str(word_backbone), [], biencoder_config(word_backbone), train).model
    assert isinstance(model, BiEncoderSimilarity)
    assert (model.scale.item(), model.shift.item()) == pytest.approx((1.6, 0.4))  # cos 1 -> 2.0, cos 0 -> 0.4
    assert model.scale.requires_grad and model.shift.requires_grad
    low, high = SCORE_RANGE
    assert initial_affine([]) == initial_affine([2.0, 2.0]) == {"scale": high - low, "shift": low}  # never a zero scale


def test_the_score_is_shift_plus_scale_times_the_cosine_of_each_sentence_embedded_alone(word_backbone: Path) -> None:
    """Computed by hand from the backbone itself: no padding, no second sentence in the input."""
    train = pairs(3, offset=1)
    bundle = TASK.build_model(str(word_backbone), [], biencoder_config(word_backbone), train)
    encoder, tokenizer = AutoModel.from_pretrained(word_backbone).eval(), AutoTokenizer.from_pretrained(word_backbone)

    def embedding(sentence: str) -> torch.Tensor:
        with torch.no_grad():
            return encoder(**tokenizer(sentence, return_tensors="pt")).last_hidden_state[0].mean(dim=0)

    expected = [0.4 + 1.6 * torch.cosine_similarity(embedding(p.sentence1), embedding(p.sentence2), dim=0).item()
                for p in pairs(8)]
    predicted = TASK.predictor(bundle, precision="fp32", batch_size=8).predict(pairs(8))  # padded batches
    assert predicted == pytest.approx(expected, abs=1e-5)


def test_extra_padding_changes_no_embedding(word_backbone: Path) -> None:
    model = TASK.build_model(str(word_backbone), [], biencoder_config(word_backbone), pairs(2)).model.eval()
    ids = torch.tensor([[2, 5, 9, 14, 3]])  # [CLS] four words [SEP]
    padded = torch.cat([ids, torch.zeros(1, 7, dtype=torch.long)], dim=1)  # 7 [PAD]s after it
    with torch.no_grad():
        alone = model.embed(ids, torch.ones_like(ids))
        in_padding = model.embed(padded, (padded != 0).long())
    assert torch.allclose(in_padding, alone, atol=1e-6)


def test_save_load_gives_identical_scores_and_batched_equals_one_at_a_time(saved: Path, tmp_path: Path) -> None:
    first = TASK.predictor(TASK.load(saved), precision="fp32", batch_size=16).predict(pairs(8))
    assert len(set(first)) == 8  # the pairs get scores of their own
    TASK.save(TASK.load(saved), tmp_path / "copy")
    assert TASK.predictor(TASK.load(tmp_path / "copy"), precision="fp32", batch_size=16).predict(pairs(8)) == first
    one_at_a_time = TASK.predictor(TASK.load(saved), precision="fp32", batch_size=1)
    assert [one_at_a_time.predict([p])[0] for p in pairs(8)] == pytest.approx(first, abs=1e-5)
    for precision in ("bf16", "int8"):
        predictor = TASK.predictor(TASK.load(saved), precision=precision, batch_size=16)
        assert predictor.precision == precision
        assert predictor.predict(pairs(8)) == pytest.approx(first, abs=0.05)


def test_the_folder_is_the_encoder_with_its_affine_map_and_a_sentence_transformers_folder(saved: Path) -> None:
    config = json.loads((saved / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]  # the encoder's own weight names: AutoModel reads them
    assert {key: config["biotune"][key] for key in ("task", "head", "scale", "shift")} == {
        "task": "similarity", "head": "biencoder", "scale": 2.5, "shift": pytest.approx(0.7)}
    assert json.loads((saved / "modules.json").read_text()) == [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    assert json.loads((saved / "sentence_bert_config.json").read_text()) == {"max_seq_length": 128,  # the positions
                                                                           "do_lower_case": False}
    pooling = json.loads((saved / "1_Pooling" / "config.json").read_text())
    assert (pooling["word_embedding_dimension"], pooling["pooling_mode_mean_tokens"]) == (32, True)


def test_sentence_transformers_gives_the_cosine_the_recorded_map_takes_to_biotunes_score(saved: Path) -> None:
    sentence_transformers = pytest.importorskip("sentence_transformers")  # no dependency of biotune

    ours = TASK.predictor(TASK.load(saved), precision="fp32", batch_size=8).predict(pairs(4))
    model = sentence_transformers.SentenceTransformer(str(saved), device="cpu")
    settings = json.loads((saved / "config.json").read_text())["biotune"]
    theirs = []
    for pair in pairs(4):
        first, second = model.encode([pair.sentence1, pair.sentence2], convert_to_tensor=True)
        theirs.append(settings["shift"] + settings["scale"] * float(model.similarity(first, second)))
    assert theirs == pytest.approx(ours, abs=1e-5)


def test_a_later_phase_keeps_its_trained_map_and_encoder(saved: Path, word_backbone: Path) -> None:
    later = TASK.build_model(str(saved), [], biencoder_config(word_backbone), pairs(3, offset=1)).model
    assert (later.scale.item(), later.shift.item()) == pytest.approx((2.5, 0.7))
    trained = TASK.load(saved).model.encoder.state_dict()
    assert all(torch.equal(trained[k], v) for k, v in later.encoder.state_dict().items())


def test_a_sentence_longer_than_max_length_is_refused_but_a_long_pair_of_short_sentences_is_not(
        tmp_path: Path, word_backbone: Path) -> None:
    short = (" ".join(["tremor"] * 15), " ".join(["asthma"] * 15), 1.0)  # 17 subwords each, 33 as one pair
    long = ("tremor", " ".join(["asthma"] * 40), 1.0)  # sentence2: 42 subwords with [CLS] and [SEP]
    config = biencoder_config(word_backbone)
    tokenizer = load_tokenizer(str(word_backbone))
    fits = TASK.read_split(str(write_pairs(tmp_path / "fits.tsv", [*toy_pairs(2), short])), config)
    TASK.check_inputs(fits.examples, {}, [], tokenizer, config)  # over max_length 32 only as one input
    train_file = write_pairs(tmp_path / "train.tsv", [*toy_pairs(2), long])
    with pytest.raises(BiotuneError) as error:
        TASK.check_inputs(TASK.read_split(str(train_file), config).examples, {}, [], tokenizer, config)
    assert str(error.value) == (f"{train_file}:4: sentence2 is 42 subwords with its special tokens, more than "
                                "max_length 32; 1 of 3 pairs do not fit, and a sentence is never cut (the words cut "
                                "could be the ones that make the sentences differ): model.max_length 42 fits them "
                                "all, raise model.max_length")


def test_prediction_refuses_a_sentence_over_the_models_positions_naming_the_record(saved: Path) -> None:
    predictor = TASK.predictor(TASK.load(saved), precision="fp32", batch_size=4)
    record = {"id": "r", "sentence1": " ".join(["tremor"] * 200), "sentence2": "asthma"}
    with pytest.raises(BiotuneError, match=r"^record 'r': sentence1 is 202 subwords with its special tokens, more "
                                           r"than max_length 128; .*no input of this model holds them whole"):
        TASK.predict_records(predictor, [record])
    long_pair = {"sentence1": " ".join(["tremor"] * 100), "sentence2": " ".join(["asthma"] * 100)}
    [scored] = TASK.predict_records(predictor, [long_pair])  # 203 subwords as one pair: each sentence fits alone
    assert isinstance(scored["score"], float)
