"""Similarity on the task contract with a tiny random BERT: overfitting, save/load, batching, the
transformers pipeline, prediction records, and pairs longer than the window refused with advice."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from biotune.cli import app
from biotune.config import load_config
from biotune.errors import BiotuneError
from biotune.models.backbones import load_tokenizer
from biotune.tasks import get_task
from tests.tasks.similarity.toy import toy_pairs, write_pairs

TASK = get_task("similarity")


def config_file(folder: Path, backbone: Path, data: str, max_length: int = 32, head: str = "cls",
                **training: object) -> Path:
    """A `task: similarity` config on the tiny backbone; `data` is the YAML of its data section."""
    settings = {"epochs": 100, "learning_rate": 5.0e-3, "batch_size": 4, "warmup": 0.0, "bf16": False,
                "logging_steps": 1000, **training}
    path = folder / "toy_similarity.yaml"
    path.write_text(f"task: similarity\nname: toy_similarity\noutput_dir: {folder / 'outputs'}\n"
                    f"model: {{backbone: {backbone}, head: {head}, max_length: {max_length}, dropout: 0.0}}\n"
                    f"data: {data}\ntraining: {settings}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def overfit(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path) -> tuple[Path, Path, Path]:
    """(best_model, train file, config) of one `biotune train` that overfits 8 pairs (no dev: the last epoch)."""
    root = tmp_path_factory.mktemp("similarity_overfit")
    train_file = write_pairs(root / "train.tsv", toy_pairs(8))
    config = config_file(root, word_backbone, f"{{corpus: toy, train: {train_file}, dev: null, test: [{train_file}], "
                                              "allow_test_as_train: true}")
    run = CliRunner().invoke(app, ["train", str(config), "--seed", "3"])
    assert run.exit_code == 0, run.output
    return root / "outputs" / "checkpoints" / "toy_similarity" / "seed_3" / "best_model", train_file, config


def test_overfit_regression_loss_goes_near_zero_and_predictions_match_the_scores(overfit) -> None:
    best, train_file, config_path = overfit
    config = load_config(config_path)
    pairs = TASK.read_split(str(train_file), config).examples
    bundle = TASK.load(best)
    batch = TASK.collator(bundle, [])(TASK.featurise(pairs, bundle, [], config))
    with torch.no_grad():
        loss, _ = TASK.loss(bundle.model.eval(), batch, batch.pop("weight"))
    assert float(loss) < 0.05  # the scores' own variance (what predicting their mean costs) is 1.9
    predicted = TASK.predictor(bundle, precision="fp32", batch_size=8).predict(pairs)
    assert predicted == pytest.approx([p.score for p in pairs], abs=0.3)
    result = TASK.score(TASK.predictor(bundle, precision="fp32", batch_size=8), TASK.read_split(str(train_file), config))
    assert result.headline_key == "pearson" and result.pearson > 0.99 and result.mse == pytest.approx(float(loss))


def test_the_weight_scales_each_pairs_squared_error(overfit, word_backbone: Path) -> None:
    best, train_file, config_path = overfit
    config = load_config(config_path)
    pairs = TASK.read_split(str(train_file), config).examples[:2]
    bundle = TASK.load(best)
    collate = TASK.collator(bundle, [])
    with torch.no_grad():
        batch = collate(TASK.featurise(pairs, bundle, [], config))
        batch["labels"] = batch["labels"] + torch.tensor([1.0, 2.0])  # errors of about 1 and 2
        predicted = bundle.model(**{k: v for k, v in batch.items() if k not in ("labels", "weight")}).logits[:, 0]
        squared = (predicted - batch["labels"]) ** 2
        loss, _ = TASK.loss(bundle.model, dict(batch), torch.tensor([3.0, 0.5]))
    assert float(loss) == pytest.approx(float((3.0 * squared[0] + 0.5 * squared[1]) / 2), rel=1e-5)


def test_a_new_head_starts_at_the_training_mean_and_a_trained_head_keeps_its_own(overfit, word_backbone: Path) -> None:
    best, train_file, config_path = overfit
    config = load_config(config_path)
    pairs = TASK.read_split(str(train_file), config).examples
    fresh = TASK.build_model(str(word_backbone), [], config, pairs)
    assert fresh.model.classifier.bias.item() == pytest.approx(sum(p.score for p in pairs) / len(pairs))
    trained = TASK.load(best).model.classifier.bias.item()
    later_phase = TASK.build_model(str(best), [], config, pairs[:1])  # a sequential phase starts from a saved model
    assert later_phase.model.classifier.bias.item() == trained != pytest.approx(pairs[0].score)


def test_save_load_gives_identical_predictions_and_batched_equals_one_at_a_time(overfit, tmp_path: Path) -> None:
    best, train_file, config_path = overfit
    pairs = TASK.read_split(str(train_file), load_config(config_path)).examples
    first = TASK.predictor(TASK.load(best), precision="fp32", batch_size=16).predict(pairs)
    TASK.save(TASK.load(best), tmp_path / "copy")
    assert TASK.predictor(TASK.load(tmp_path / "copy"), precision="fp32", batch_size=16).predict(pairs) == first
    one_at_a_time = TASK.predictor(TASK.load(best), precision="fp32", batch_size=1)
    assert [one_at_a_time.predict([p])[0] for p in pairs] == pytest.approx(first, abs=1e-5)


def test_the_folder_is_a_standard_regression_model_that_transformers_pipeline_reads(overfit) -> None:
    from transformers import AutoConfig, pipeline

    best, train_file, config_path = overfit
    config = AutoConfig.from_pretrained(best)
    assert (config.num_labels, config.problem_type, config.id2label) == (1, "regression", {0: "similarity"})
    pairs = TASK.read_split(str(train_file), load_config(config_path)).examples[:3]
    ours = TASK.predictor(TASK.load(best), precision="fp32", batch_size=4).predict(pairs)
    similarity = pipeline("text-classification", model=str(best), device="cpu")
    theirs = [similarity({"text": p.sentence1, "text_pair": p.sentence2}) for p in pairs]
    assert [t["label"] for t in theirs] == ["similarity"] * 3
    assert [t["score"] for t in theirs] == pytest.approx(ours, abs=1e-4)  # the score itself: no sigmoid


def test_predict_records_adds_the_score_in_order_and_names_a_bad_record(overfit, tmp_path: Path) -> None:
    best, train_file, _ = overfit
    predictor = TASK.predictor(TASK.load(best), precision="fp32", batch_size=4)
    records = list(TASK.read_records(train_file))
    out = TASK.predict_records(predictor, records)
    assert [{k: v for k, v in r.items() if k != "score"} for r in out] == records
    assert [r["score"] for r in out] == pytest.approx([s for _, _, s in toy_pairs(8)], abs=0.3)
    given = [{"id": "a", "sentence1": "tremor", "sentence2": "asthma", "source": "x"}]
    assert set(TASK.predict_records(predictor, given)[0]) == {"id", "sentence1", "sentence2", "source", "score"}
    with pytest.raises(BiotuneError, match=r"^record 'b': 'sentence2' must be a non-empty string"):
        TASK.predict_records(predictor, [given[0], {"id": "b", "sentence1": "tremor", "sentence2": ""}])
    with pytest.raises(BiotuneError, match=r"^record 0: the sentence pair is 203 subwords .* more than max_length "
                                           r"128; 1 of 1 pairs do not fit.*no input of this model holds them whole"):
        TASK.predict_records(predictor, [{"sentence1": " ".join(["tremor"] * 100), "sentence2": " ".join(["asthma"] * 100)}])


def test_awkward_texts_get_a_score_or_a_one_line_refusal_naming_the_record(overfit) -> None:
    from tests.awkward import AWKWARD_TEXTS

    best, _, _ = overfit
    predictor = TASK.predictor(TASK.load(best), precision="fp32", batch_size=4)
    for text in (t for t in AWKWARD_TEXTS if t.strip()):
        record = {"id": "x", "sentence1": text, "sentence2": "the patient developed tremor ."}
        try:
            [out] = TASK.predict_records(predictor, [record])
        except BiotuneError as error:  # a 300-letter word is 300 subwords of the tiny vocabulary: over 128 positions
            assert str(error).startswith("record 'x': the sentence pair is ") and "\n" not in str(error)
            assert len(text) >= 300
        else:
            assert math.isfinite(out["score"]) and out["sentence1"] == text


def test_a_pair_longer_than_max_length_is_refused_naming_file_line_and_the_max_length_that_fits(
        tmp_path: Path, word_backbone: Path) -> None:
    long = (" ".join(["tremor"] * 20), " ".join(["asthma"] * 20), 1.0)  # 43 subwords with [CLS] and two [SEP]
    train_file = write_pairs(tmp_path / "train.tsv", [*toy_pairs(2), long])
    config = load_config(config_file(tmp_path, word_backbone, f"{{corpus: toy, train: {train_file}, dev: null, "
                                                              f"test: [{train_file}], allow_test_as_train: true}}"))
    tokenizer = load_tokenizer(str(word_backbone))
    split = TASK.read_split(str(train_file), config)
    with pytest.raises(BiotuneError) as error:
        TASK.check_inputs(split.examples, {}, [], tokenizer, config)
    assert str(error.value) == (f"{train_file}:4: the sentence pair is 43 subwords with its special tokens, more than "
                                "max_length 32; 1 of 3 pairs do not fit, and a pair is never cut (the words cut could "
                                "be the ones that make the sentences differ): model.max_length 43 fits them all, "
                                "raise model.max_length")
    wider = (" ".join(["tremor"] * 70), " ".join(["asthma"] * 70), 1.0)  # 143 subwords: over the backbone's 128
    test_file = write_pairs(tmp_path / "test.tsv", [long, wider])
    test = TASK.read_split(str(test_file), config)
    with pytest.raises(BiotuneError, match=rf"^{test_file}:2: .* 2 of 2 pairs do not fit.*: model.max_length 128 "
                                           r"\(this backbone's most\) fits 1 of them; 1 are longer than the 128 "
                                           r"positions this backbone reads, so no input of this model holds them whole"):
        TASK.check_inputs([], {"test": test}, [], tokenizer, config)


def test_its_text_for_pretraining_is_each_distinct_sentence_of_the_pairs(tmp_path: Path) -> None:
    from biotune.config import validate

    write_pairs(tmp_path / "train.tsv", toy_pairs(3) + toy_pairs(1))  # a pair given twice: its sentences come once
    write_pairs(tmp_path / "test.tsv", toy_pairs(1))
    config = validate({"task": "similarity", "data": {"corpus": str(tmp_path)}}, "test")
    assert list(get_task("similarity").texts("train", config)) == [s for a, b, _ in toy_pairs(3) for s in (a, b)]
