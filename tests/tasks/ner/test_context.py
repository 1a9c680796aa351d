"""Document context: neighbours of the same document only, within the subword budget, never labelled or predicted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biotune.config import validate
from biotune.errors import BiotuneError
from biotune.formats.documents import Document, Passage, document_sentences
from biotune.formats.readers import read_corpus_file
from biotune.formats.sentence import Sentence
from biotune.models.backbones import load_tokenizer
from biotune.tasks.ner.align import IGNORE_INDEX, Aligner
from biotune.tasks.ner.annotate import tag_documents
from biotune.tasks.ner.context import document_keys, model_inputs
from biotune.tasks.ner.features import encode
from biotune.tasks.ner.tagger import Tagger
from tests.conftest import _sentences

LABELS = {"O": 0, "B-Chemical": 1, "I-Chemical": 2, "B-Disease": 3, "I-Disease": 4}


@pytest.fixture(scope="module")
def aligner(word_backbone: Path) -> Aligner:
    return Aligner(load_tokenizer(str(word_backbone)), max_length=32)


def words(aligner: Aligner, ids: list[int]) -> list[str]:
    return aligner.tokenizer.convert_ids_to_tokens(ids)


def sentence(tokens: str, document: str | None, tags: str | None = None) -> Sentence:
    return Sentence(tokens.split(), tags.split() if tags else ["O"] * len(tokens.split()), document=document)


def two_documents() -> list[Sentence]:
    return [sentence("aspirin and tremor", "A", "B-Chemical O B-Disease"), sentence("the patient .", "A"),
            sentence("heparin .", "B", "B-Chemical O"), sentence("lithium", "B", "B-Chemical"),
            sentence("asthma", None, "B-Disease")]


def test_context_holds_only_the_own_documents_neighbours(aligner: Aligner) -> None:
    sentences = two_documents()
    inputs = model_inputs([s.tokens for s in sentences], document_keys(sentences), aligner, context=8)
    assert [words(aligner, w.input_ids) for w in inputs] == [
        ["[CLS]", "aspirin", "and", "tremor", "the", "patient", ".", "[SEP]"],
        ["[CLS]", "aspirin", "and", "tremor", "the", "patient", ".", "[SEP]"],
        ["[CLS]", "heparin", ".", "lithium", "[SEP]"],
        ["[CLS]", "heparin", ".", "lithium", "[SEP]"],
        ["[CLS]", "asthma", "[SEP]"],  # no document: no context
    ]
    # each input owns exactly its own sentence's words, at their own first subwords
    assert [[words(aligner, w.input_ids)[p] for p in w.positions] for w in inputs] == [s.tokens for s in sentences]


def test_context_takes_the_nearest_words_within_the_budget_each_side(aligner: Aligner) -> None:
    sentences = [sentence("aspirin and severe tremor", "A"), sentence("the patient", "A"),
                 sentence("was given heparin after treatment", "A")]
    (_, middle, _) = model_inputs([s.tokens for s in sentences], document_keys(sentences), aligner, context=2)
    assert words(aligner, middle.input_ids) == ["[CLS]", "severe", "tremor", "the", "patient", "was", "given", "[SEP]"]
    assert [words(aligner, middle.input_ids)[p] for p in middle.positions] == ["the", "patient"]


def test_context_fills_only_the_room_the_window_leaves(word_backbone: Path) -> None:
    small = Aligner(load_tokenizer(str(word_backbone)), max_length=10)  # 8 subwords of text
    sentences = [sentence("aspirin and tremor", "A"), sentence("the patient developed acute bleeding after", "A"),
                 sentence("heparin and asthma", "A")]
    middle = model_inputs([s.tokens for s in sentences], document_keys(sentences), small, context=64)[1]
    assert words(small, middle.input_ids) == ["[CLS]", "tremor", "the", "patient", "developed", "acute", "bleeding",
                                              "after", "heparin", "[SEP]"]
    first = model_inputs([s.tokens for s in sentences], document_keys(sentences), small, context=64)[0]
    assert len(first.input_ids) == small.max_length, "no left neighbour: the right side takes the whole room"


def test_no_context_is_the_plain_windows(aligner: Aligner) -> None:
    sentences = two_documents()
    tokens = [s.tokens for s in sentences]
    assert model_inputs(tokens, document_keys(sentences), aligner, context=0) == aligner.windows(tokens)
    assert model_inputs(tokens, None, aligner, context=16) == aligner.windows(tokens)
    with pytest.raises(BiotuneError, match="whole number of subwords >= 0"):
        model_inputs(tokens, None, aligner, context=-1)


def test_sentences_of_two_files_with_the_same_document_id_stay_apart(aligner: Aligner) -> None:
    a, b = sentence("aspirin", "train.tsv:1"), sentence("tremor", "train.tsv:1")
    a.source, b.source = "one/train.tsv", "two/train.tsv"
    inputs = model_inputs([a.tokens, b.tokens], document_keys([a, b]), aligner, context=8)
    assert [words(aligner, w.input_ids) for w in inputs] == [["[CLS]", "aspirin", "[SEP]"], ["[CLS]", "tremor", "[SEP]"]]


def test_context_words_carry_no_label(aligner: Aligner) -> None:
    sentences = two_documents()
    features = encode(sentences, aligner, LABELS, context=8)
    for feature, s in zip(features, sentences):
        labelled = [(words(aligner, feature["input_ids"])[i], label) for i, label in enumerate(feature["labels"])
                    if label != IGNORE_INDEX]
        assert labelled == [(token, LABELS[tag]) for token, tag in zip(s.tokens, s.tags)]


def long_document() -> list[Sentence]:
    long = [w for tokens, _ in _sentences(6, seed=8) for w in tokens]  # ~45 words: longer than a 32-subword window
    return [sentence("aspirin and tremor", "D"), Sentence(long, ["O"] * len(long), document="D"),
            sentence("heparin .", "D")]


def test_a_long_sentence_is_windowed_as_without_context_and_every_word_owned_once(aligner: Aligner) -> None:
    sentences = long_document()
    inputs = model_inputs([s.tokens for s in sentences], document_keys(sentences), aligner, context=8)
    owned = [(w.sentence_index, w.own_start + k) for w in inputs for k in range(len(w.positions))]
    assert sorted(owned) == [(i, k) for i, s in enumerate(sentences) for k in range(len(s))]
    assert all(len(w.input_ids) <= aligner.max_length for w in inputs)
    long_windows = [w for w in inputs if w.sentence_index == 1]
    plain = [w for w in aligner.windows([s.tokens for s in sentences]) if w.sentence_index == 1]
    assert len(long_windows) == len(plain) > 1
    assert [(w.own_start, w.own_end) for w in long_windows] == [(w.own_start, w.own_end) for w in plain]


# --- a model trained with document context -----------------------------------------------------

def write_documents(path: Path, documents: list[list[tuple[list[str], list[str]]]]) -> Path:
    with open(path, "w", encoding="utf-8") as out:
        for doc in documents:
            out.write("-DOCSTART-\tO\n\n")
            for tokens, tags in doc:
                out.writelines(f"{t}\t{g}\n" for t, g in zip(tokens, tags))
                out.write("\n")
    return path


@pytest.fixture(scope="module")
def context_run(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path):
    """A tiny run trained with `ner.context: 8` on TSV documents of four sentences each."""
    from biotune.experiments.run import train

    folder = tmp_path_factory.mktemp("documents_corpus")
    for name, n, seed in (("train", 64, 1), ("devel", 16, 2), ("test", 16, 3)):
        sentences = _sentences(n, seed)
        write_documents(folder / f"{name}.tsv", [sentences[i : i + 4] for i in range(0, n, 4)])
    config = validate({"name": "context", "output_dir": str(tmp_path_factory.mktemp("context_run")),
                       "model": {"backbone": str(word_backbone), "max_length": 32, "dropout": 0.1},
                       "ner": {"context": 8},
                       "data": {"corpus": str(folder)},
                       "training": {"epochs": 4, "learning_rate": 5e-3, "batch_size": 8, "warmup": 0.0, "seed": 42,
                                    "bf16": False, "logging_steps": 1000}}, "test")
    return train(config), folder


def test_the_checkpoint_records_its_context_and_prediction_uses_it(context_run) -> None:
    run, folder = context_run
    tagger = Tagger.from_checkpoint(run.paths.best_model, precision="fp32")
    assert tagger.context == 8
    assert Tagger.from_checkpoint(run.paths.best_model, precision="fp32", context=0).context == 0
    test = read_corpus_file(folder / "test.tsv")
    assert len({s.document for s in test}) == 4
    from biotune.tasks.ner.metrics import evaluate_tags

    predicted = tagger.predict_tags([s.tokens for s in test], document_keys(test))
    own = evaluate_tags([s.tags for s in test], predicted, annotated_types=("Chemical", "Disease"))
    assert own.micro.f1 == pytest.approx(run.results["test"].micro.f1)  # the run's evaluation used the same context
    assert own.micro.f1 > 0.8


def test_prediction_builds_the_inputs_training_builds(context_run, monkeypatch: pytest.MonkeyPatch) -> None:
    run, folder = context_run
    tagger = Tagger.from_checkpoint(run.paths.best_model, precision="fp32")
    sentences = read_corpus_file(folder / "test.tsv") + long_document()
    seen: list[list[int]] = []
    forward = tagger._forward
    monkeypatch.setattr(tagger, "_forward", lambda batch: seen.extend(w.input_ids for w in batch) or forward(batch))
    result = tagger.predict([s.tokens for s in sentences], document_keys(sentences))
    features = encode(sentences, tagger.aligner, {label: i for i, label in enumerate(tagger.labels)}, context=8)
    assert sorted(seen) == sorted(f["input_ids"] for f in features)
    assert [len(tags) for tags, _ in result] == [len(s) for s in sentences], "exactly the sentence's words are tagged"


def test_context_changes_predictions_and_never_crosses_documents(context_run) -> None:
    run, _ = context_run
    tagger = Tagger.from_checkpoint(run.paths.best_model, precision="fp32")
    tokens = [["heparin", "."], ["asthma"], ["lithium", "."]]
    together = tagger.word_log_probs(tokens, ["x", "y", "y"])
    alone = tagger.word_log_probs(tokens)
    np.testing.assert_allclose(together[0], alone[0], atol=1e-5)  # its own document: no neighbour
    assert not np.allclose(together[1], alone[1], atol=1e-4), "the neighbour in the same document is read"
    tagger.batch_size = 1
    np.testing.assert_allclose(tagger.word_log_probs(tokens, ["x", "y", "y"])[1], together[1], atol=1e-4)


def test_save_load_gives_the_same_context_predictions(context_run, tmp_path: Path) -> None:
    from biotune.tasks.ner.task import NerTask

    run, folder = context_run
    task = NerTask()
    bundle = task.load(run.paths.best_model)
    task.save(bundle, tmp_path / "copy")
    test = read_corpus_file(folder / "test.tsv")
    keys = document_keys(test)
    first = Tagger.from_checkpoint(run.paths.best_model, precision="fp32").word_log_probs([s.tokens for s in test], keys)
    again = Tagger.from_checkpoint(tmp_path / "copy", precision="fp32")
    assert again.context == 8
    for a, b in zip(first, again.word_log_probs([s.tokens for s in test], keys)):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_long_sentence_is_fully_tagged_with_context(context_run) -> None:
    run, _ = context_run
    tagger = Tagger.from_checkpoint(run.paths.best_model, precision="fp32")
    sentences = long_document()
    assert len(tagger.aligner.windows([sentences[1].tokens])) > 1
    log_probs = tagger.word_log_probs([s.tokens for s in sentences], document_keys(sentences))
    assert [len(lp) for lp in log_probs] == [len(s) for s in sentences]
    assert all(np.all(lp < 0) for lp in log_probs), "every word got its own prediction"
    tags = tagger.predict_tags([s.tokens for s in sentences], document_keys(sentences))
    assert [len(t) for t in tags] == [len(s) for s in sentences]


def test_tagging_documents_uses_context_within_each_document(context_run) -> None:
    run, _ = context_run
    tagger = Tagger.from_checkpoint(run.paths.best_model, precision="fp32")
    texts = ["Heparin and bleeding. The patient developed tremor after lithium.", "Naloxone and asthma."]
    documents = [Document(str(i), [Passage("text", text)]) for i, text in enumerate(texts)]
    per_document = [document_sentences(doc) for doc in documents]
    flat = [s for sentences in per_document for s in sentences]
    expected = tagger.predict([s.tokens for s in flat], document_keys(flat))
    alone = tagger.word_log_probs([s.tokens for s in flat])
    assert not np.allclose(tagger.word_log_probs([s.tokens for s in flat], document_keys(flat))[0], alone[0],
                           atol=1e-4), "the first sentence reads the second"
    tagged = tag_documents(tagger, documents)
    got = [(doc.id, a.start_char, a.end_char, a.type, round(a.score, 5)) for doc in tagged for a in doc.annotations]
    want = []
    for s, (_, spans) in zip(flat, expected):
        assert s.offsets is not None and s.document is not None
        want += [(s.document, s.offsets[sp.start][0], s.offsets[sp.end - 1][1], sp.type, round(sp.score, 5))
                 for sp in spans]
    assert got == want and got


def test_predict_file_never_cuts_a_document_between_chunks(context_run, tmp_path: Path) -> None:
    import json

    from biotune.serving.predict_job import plan_prediction, run_prediction
    from biotune.tasks.ner.task import NerTask

    run, folder = context_run
    tagger = Tagger.from_checkpoint(run.paths.best_model, precision="fp32")
    test = read_corpus_file(folder / "test.tsv")
    for name, chunk_size in (("small.jsonl", 1), ("whole.jsonl", 10_000)):
        run_prediction(plan_prediction(NerTask(), folder / "test.tsv", tmp_path / name), tagger, chunk_size=chunk_size)
    small, whole = ([json.loads(line) for line in (tmp_path / name).read_text().splitlines()]
                    for name in ("small.jsonl", "whole.jsonl"))
    assert small == whole and len(whole) == len(test)
    expected = tagger.predict([s.tokens for s in test], document_keys(test))
    assert [[(p["start_token"], p["end_token"], p["type"]) for p in r["predictions"]] for r in whole] == \
        [[(sp.start, sp.end, sp.type) for sp in spans] for _, spans in expected]


def test_a_checkpoint_trained_with_the_removed_packing_is_tagged_alone_with_a_warning(
        trained_run, caplog: pytest.LogCaptureFixture) -> None:
    from biotune.tasks.ner.task import NerTask

    bundle = NerTask().load(trained_run.paths.best_model)
    bundle.model.config.biotune = {**bundle.model.config.biotune, "pack": True}
    with caplog.at_level("WARNING", logger="biotune"):
        tagger = Tagger(bundle.model, bundle.tokenizer, precision="fp32")
    assert tagger.context == 0 and "trained with sentence packing" in caplog.text


def test_an_old_config_with_pack_sentences_names_the_new_key() -> None:
    with pytest.raises(BiotuneError, match="model.pack_sentences was removed.*ner.context"):
        validate({"name": "old", "model": {"pack_sentences": True}, "data": {"corpus": "bc5cdr"}}, "old.yaml")
