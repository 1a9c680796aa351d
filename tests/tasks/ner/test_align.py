"""Words -> subwords -> windows (biotune.tasks.ner.align): the one alignment every stage shares."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from biotune.tasks.ner.align import IGNORE_INDEX, Aligner, Window, plan_windows, word_pieces
from biotune.formats.text import tokenize
from biotune.errors import BiotuneError
from biotune.models.backbones import load_tokenizer, require_fast
from tests.awkward import AWKWARD_TEXTS
from tests.conftest import _sentences


# --- plan_windows -----------------------------------------------------------------------

def check_plan(lengths: Sequence[int], budget: int, plans: list[tuple[int, int, int, int]]) -> None:
    n = len(lengths)
    assert plans, "a sentence always gets at least one window"
    assert plans[0][2] == 0 and plans[-1][3] == n
    for before, after in zip(plans, plans[1:]):
        assert before[3] == after[2], "owned ranges must be contiguous and in order"
    for start, end, own_start, own_end in plans:
        assert 0 <= start <= own_start < own_end <= end <= n
        assert sum(lengths[start:end]) <= budget


def random_cases(seed: int, count: int, max_piece: int) -> list[tuple[list[int], int]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        budget = rng.randint(1, 64)
        n = rng.randint(1, 90)
        # The aligner clips each word to the budget before planning; so do the cases here.
        cases.append(([min(rng.randint(1, max_piece), budget) for _ in range(n)], budget))
    return cases


@pytest.mark.parametrize("max_piece", [1, 3, 8, 64])
def test_plan_windows_partitions_owned_words_within_budget(max_piece: int) -> None:
    for lengths, budget in random_cases(seed=max_piece, count=1500, max_piece=max_piece):
        check_plan(lengths, budget, plan_windows(lengths, budget))


def test_plan_windows_single_window_when_sentence_fits() -> None:
    assert plan_windows([1, 2, 3], 6) == [(0, 3, 0, 3)]
    assert plan_windows([5], 5) == [(0, 1, 0, 1)]
    assert len(plan_windows([1, 2, 3], 5)) > 1


def test_plan_windows_keeps_context_on_both_sides_away_from_edges() -> None:
    """With words much shorter than the budget, inner windows see > budget//4 - longest word of context."""
    for lengths, budget in random_cases(seed=11, count=3000, max_piece=4):
        if budget < 4 * max(lengths):
            continue
        plans = plan_windows(lengths, budget)
        context, longest = budget // 4, max(lengths)
        for i, (start, end, own_start, own_end) in enumerate(plans):
            if i > 0:
                assert start < own_start
                assert sum(lengths[start:own_start]) >= context - longest + 1
            if i < len(plans) - 1:
                assert end > own_end
                assert sum(lengths[own_end:end]) >= context - longest + 1


@pytest.mark.parametrize("budget", [4, 8, 13, 30])
def test_plan_windows_unit_words_get_exactly_a_quarter_budget_of_left_context(budget: int) -> None:
    n = 200
    plans = plan_windows([1] * n, budget)
    assert len(plans) > 1
    for i, (start, end, own_start, own_end) in enumerate(plans):
        assert own_start - start == min(budget // 4, own_start)
        if i < len(plans) - 1:
            assert end - own_end >= budget // 4
        assert end - start <= budget


def test_plan_windows_word_as_long_as_the_budget_gets_its_own_window() -> None:
    plans = plan_windows([1, 1, 10, 1, 1], 10)
    check_plan([1, 1, 10, 1, 1], 10, plans)
    assert (2, 3, 2, 3) in plans


# --- Aligner ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def word_tokenizer(word_backbone: Path):
    return load_tokenizer(str(word_backbone))


@pytest.fixture(scope="module")
def minilm_tokenizer():
    return load_tokenizer("minilm")


@pytest.fixture(params=["word", "minilm"])
def tokenizer(request: pytest.FixtureRequest, word_tokenizer, minilm_tokenizer):
    return word_tokenizer if request.param == "word" else minilm_tokenizer


def pieces_of(tokenizer, word: str) -> list[int]:
    """A word's subwords, tokenised on its own (independent of `word_pieces`); [UNK] when none."""
    ids = tokenizer([word], is_split_into_words=True, add_special_tokens=False)["input_ids"]
    return ids or [tokenizer.unk_token_id]


def check_windows(aligner: Aligner, sentences: Sequence[Sequence[str]], windows: list[Window],
                  first_index: int = 0) -> None:
    """Every invariant of the windows of `sentences`, against independently computed subwords."""
    tok = aligner.tokenizer
    by_sentence: dict[int, list[Window]] = {}
    for w in windows:
        by_sentence.setdefault(w.sentence_index, []).append(w)
    expected_indices = {first_index + i for i, s in enumerate(sentences) if len(s)}
    assert set(by_sentence) == expected_indices
    for index, ws in by_sentence.items():
        words = sentences[index - first_index]
        pieces = [pieces_of(tok, word)[: aligner.budget] for word in words]
        owned = [w for window in ws for w in range(window.own_start, window.own_end)]
        assert owned == list(range(len(words))), "every word owned exactly once, in order"
        for window in ws:
            assert len(window.input_ids) <= aligner.max_length
            assert window.input_ids[: len(aligner.prefix_ids)] == aligner.prefix_ids
            assert window.input_ids[len(window.input_ids) - len(aligner.suffix_ids):] == aligner.suffix_ids
            assert len(window.positions) == window.own_end - window.own_start
            assert window.positions == sorted(set(window.positions))
            for k, pos in enumerate(window.positions):
                word = pieces[window.own_start + k]
                assert window.input_ids[pos : pos + len(word)] == word, (words[window.own_start + k], window)
            labels = window.labels(list(range(len(words))))
            assert [i for i, label in enumerate(labels) if label != IGNORE_INDEX] == window.positions
            assert [labels[p] for p in window.positions] == list(range(window.own_start, window.own_end))


def hf_first_subword_labels(tokenizer, words: Sequence[str], labels: Sequence[int]) -> tuple[list[int], list[int]]:
    """The run_ner.py rule: label the first subword of each word (word_ids()), -100 elsewhere."""
    enc = tokenizer(list(words), is_split_into_words=True)
    out, previous = [], None
    for word in enc.word_ids():
        out.append(IGNORE_INDEX if word is None or word == previous else labels[word])
        previous = word
    return enc["input_ids"], out


SENTENCES = [
    ["aspirin", "induced", "hypotension", "."],
    ["The", "patient", "xyz", "developed", "IL", "-", "2", "bleeding"],
    ["Naloxone"],
    ["caf\u00e9", "\U0001F48A", "\u223C", "5", "mg"],
    *[tokens for tokens, _ in _sentences(6, seed=5)],
]


def test_single_window_matches_the_hugging_face_first_subword_rule(tokenizer) -> None:
    aligner = Aligner(tokenizer, max_length=128)
    for words in SENTENCES:
        (window,) = aligner.windows([words])
        word_labels = [10 + i for i in range(len(words))]
        ids, labels = hf_first_subword_labels(tokenizer, words, word_labels)
        if all(tokenizer([w], is_split_into_words=True, add_special_tokens=False)["input_ids"] for w in words):
            assert window.input_ids == ids
            assert window.labels(word_labels) == labels
        check_windows(aligner, [words], [window])


def test_first_subword_positions_with_multi_piece_words(word_tokenizer) -> None:
    aligner = Aligner(word_tokenizer, max_length=32)
    (window,) = aligner.windows([["aspirin", "xyz", "the", "ab"]])
    # [CLS] aspirin x ##y ##z the a ##b [SEP]
    assert len(window.input_ids) == 9
    assert window.positions == [1, 2, 5, 6]
    assert window.labels([7, 8, 9, 10]) == [IGNORE_INDEX, 7, 8, IGNORE_INDEX, IGNORE_INDEX, 9, 10, IGNORE_INDEX,
                                            IGNORE_INDEX]


def test_long_sentence_is_windowed_and_every_word_owned_once(tokenizer) -> None:
    rng = random.Random(3)
    vocabulary = ["aspirin", "the", "xyz", "hypotension", "abcdef", "patient", "q", "lithium", "."]
    words = [rng.choice(vocabulary) for _ in range(500)]
    aligner = Aligner(tokenizer, max_length=32)
    windows = aligner.windows([words])
    assert len(windows) >= 10
    check_windows(aligner, [words], windows)
    # Only owned words are labelled, so the 500 word labels appear exactly once over all windows.
    labelled = [label for w in windows for label in w.labels(list(range(500))) if label != IGNORE_INDEX]
    assert labelled == list(range(500))


def test_words_without_subwords_get_an_unknown_token(tokenizer) -> None:
    aligner = Aligner(tokenizer, max_length=32)
    words = ["aspirin", "\u200b", "the", "\u200d", "\x00"]
    (window,) = aligner.windows([words])
    assert len(window.positions) == 5
    for k in (1, 3, 4):
        assert window.input_ids[window.positions[k]] == tokenizer.unk_token_id
    assert word_pieces(tokenizer, [words])[0][1] == [tokenizer.unk_token_id]
    check_windows(aligner, [words], [window])


@pytest.mark.parametrize("max_length", [8, 16, 128])
def test_awkward_texts_survive_alignment(tokenizer, max_length: int) -> None:
    sentences = [[token for token, _, _ in tokenize(text)] for text in AWKWARD_TEXTS]
    aligner = Aligner(tokenizer, max_length=max_length)
    windows = aligner.windows(sentences, first_index=100)
    check_windows(aligner, sentences, windows, first_index=100)


@pytest.mark.parametrize("max_length", [8, 32])
def test_a_word_longer_than_the_window_is_cut_to_the_window(tokenizer, max_length: int) -> None:
    aligner = Aligner(tokenizer, max_length=max_length)
    # WordPiece maps words over 100 characters to [UNK]; 90 characters of letters is many subwords.
    long_word = "IL2" + "qzjxv" * 17 + "abcd"
    assert len(pieces_of(tokenizer, long_word)) > max_length
    (window,) = aligner.windows([[long_word]])
    assert len(window.input_ids) == max_length
    assert window.positions == [len(aligner.prefix_ids)]
    assert window.input_ids[1:-1] == pieces_of(tokenizer, long_word)[: aligner.budget]
    sentence = ["the", long_word, "aspirin", "the", "x" * 300]
    windows = aligner.windows([sentence])
    check_windows(aligner, [sentence], windows)
    assert len(windows) >= 2
    assert all(len(w.input_ids) <= max_length for w in windows)


def test_a_300_character_word_is_one_window_position(tokenizer) -> None:
    aligner = Aligner(tokenizer, max_length=8)
    for word in ["x" * 300, "IL-2" + "a" * 300]:
        windows = aligner.windows([[word]])
        assert [len(w.positions) for w in windows] == [1]
        assert len(windows[0].input_ids) <= 8
        check_windows(aligner, [[word]], windows)


def test_empty_sentences_get_no_window_and_indices_stay_aligned(word_tokenizer) -> None:
    aligner = Aligner(word_tokenizer, max_length=16)
    windows = aligner.windows([[], ["aspirin"], [], ["the", "patient"]], first_index=5)
    assert [w.sentence_index for w in windows] == [6, 8]
    assert aligner.windows([]) == []


def test_special_tokens_are_read_from_the_tokenizer(word_tokenizer, minilm_tokenizer) -> None:
    word = Aligner(word_tokenizer, max_length=16)
    assert (word.prefix_ids, word.suffix_ids, word.n_special, word.budget) == ([2], [3], 2, 14)
    minilm = Aligner(minilm_tokenizer, max_length=16)
    assert minilm.prefix_ids == [minilm_tokenizer.cls_token_id]
    assert minilm.suffix_ids == [minilm_tokenizer.sep_token_id]


def test_subword_length_counts_special_tokens(word_tokenizer) -> None:
    aligner = Aligner(word_tokenizer, max_length=16)
    assert aligner.subword_length(["aspirin", "xyz"]) == 1 + 3 + 2
    assert aligner.subword_length(["\u200b"]) == 1 + 2


def test_max_length_without_room_for_text_is_an_error(word_tokenizer) -> None:
    with pytest.raises(BiotuneError, match="max_length 2"):
        Aligner(word_tokenizer, max_length=2)
    assert Aligner(word_tokenizer, max_length=3).budget == 1


def test_slow_tokenizers_are_refused() -> None:
    class Slow:
        is_fast = False

    with pytest.raises(BiotuneError, match="not a fast tokenizer"):
        require_fast(Slow())  # type: ignore[arg-type]


# --- byte-level BPE (RoBERTa) ------------------------------------------------------------

BPE_TEXTS = ["the patient developed acute bleeding after heparin .", "aspirin and severe tremor was given ."] * 10


def _byte_level_bpe(folder: Path, generic: bool) -> Path:
    """A tiny byte-level BPE tokenizer saved like a RoBERTa checkpoint (`generic`: the plain fast class)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast, RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(BPE_TEXTS, vocab_size=300, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    folder.mkdir(parents=True)
    if generic:
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                            unk_token="<unk>", pad_token="<pad>", cls_token="<s>", sep_token="</s>")
    else:
        bpe.save_model(str(folder))
        tokenizer = RobertaTokenizerFast(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.mark.parametrize("generic", [False, True])
def test_byte_level_bpe_words_are_tokenised_as_words(tmp_path: Path, generic: bool) -> None:
    tokenizer = load_tokenizer(str(_byte_level_bpe(tmp_path / "bpe", generic)))
    words = ["patient", "heparin", "tremor"]
    pieces = word_pieces(tokenizer, [words])[0]
    for word, ids in zip(words, pieces):
        assert ids == tokenizer(" " + word, add_special_tokens=False)["input_ids"]  # as in running text
        assert tokenizer.convert_ids_to_tokens(ids)[0].startswith("Ġ")
    reloaded = tmp_path / "saved"  # a checkpoint's saved tokenizer keeps the setting
    tokenizer.save_pretrained(str(reloaded))
    assert word_pieces(load_tokenizer(str(reloaded)), [words])[0] == pieces
