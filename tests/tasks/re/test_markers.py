"""Typed entity markers: marked text, whole marker tokens, ids and start positions, centred windows, batches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from transformers import PreTrainedTokenizerBase

from biotune.errors import BiotuneError
from biotune.models.backbones import load_tokenizer
from biotune.tasks.re.examples import Entity, RelationExample, read_examples
from biotune.tasks.re.markers import (MarkerScheme, RelationFeature, add_marker_tokens, collate, featurise, mark,
                                      markers)

Write = Callable[[str, list[str]], Path]
SCHEME = MarkerScheme(("CHEMICAL", "DISEASE", "GENE"), ("@CHEM-GENE$", "@CHEMICAL$", "@DISEASE$", "@GENE$"))


@pytest.fixture
def tokenizer(word_backbone: Path) -> PreTrainedTokenizerBase:
    tokenizer = load_tokenizer(str(word_backbone))
    added = add_marker_tokens(tokenizer, SCHEME)
    assert added == 3 * 4 + 4
    return tokenizer


def _example(text: str, write_file: Write) -> RelationExample:
    return read_examples(write_file("rows.tsv", [f"{text}\t0"]))[0]


def test_re_scheme_collects_types_and_masks_and_round_trips(toy_split: tuple[Path, Path]) -> None:
    scheme = MarkerScheme.from_examples(read_examples(toy_split[0]))
    assert scheme == MarkerScheme(("CHEMICAL", "DISEASE"), ("@CHEMICAL$", "@DISEASE$"))
    assert MarkerScheme.from_dict(scheme.to_dict()) == scheme
    assert scheme.tokens()[:4] == ["[E1:CHEMICAL]", "[/E1:CHEMICAL]", "[E2:CHEMICAL]", "[/E2:CHEMICAL]"]
    assert len(scheme.tokens()) == 2 * 4 + 2


def test_re_mark_wraps_each_mask_in_typed_role_markers(write_file: Write) -> None:
    example = _example("anti-@GENE$ blocks @CHEMICAL$.", write_file)
    assert mark(example, SCHEME) == "anti- [E1:GENE] @GENE$ [/E1:GENE]  blocks  [E2:CHEMICAL] @CHEMICAL$ [/E2:CHEMICAL] ."


def test_re_mark_nests_a_combined_mask_with_e1_outside(write_file: Write) -> None:
    example = _example("the @CHEM-GENE$ binds", write_file)
    assert mark(example, SCHEME) == ("the  [E1:CHEMICAL]  [E2:GENE] @CHEM-GENE$ [/E2:GENE]  [/E1:CHEMICAL]  binds")


def test_re_mark_of_a_mention_span_from_a_document() -> None:
    example = RelationExample("aspirin caused bleeding", Entity(0, 7, "CHEMICAL"), Entity(15, 23, "DISEASE"),
                              None, "d1", "doc.jsonl", 1)
    assert mark(example, SCHEME) == " [E1:CHEMICAL] aspirin [/E1:CHEMICAL]  caused  [E2:DISEASE] bleeding [/E2:DISEASE] "


def test_re_marker_and_mask_tokens_stay_whole(tokenizer: PreTrainedTokenizerBase, write_file: Write) -> None:
    pieces = tokenizer.tokenize(mark(_example("SEVERE@GENE$ AND @CHEMICAL$", write_file), SCHEME))
    assert pieces == ["severe", "[E1:GENE]", "@GENE$", "[/E1:GENE]", "and",
                      "[E2:CHEMICAL]", "@CHEMICAL$", "[/E2:CHEMICAL]"]  # the uncased tokenizer lower-cases only words
    for token in SCHEME.tokens():
        assert tokenizer.tokenize(f"x{token}x") == ["x", token, "x"]


def test_re_features_equal_the_tokenizer_and_point_at_start_markers(tokenizer: PreTrainedTokenizerBase,
                                                                    write_file: Write) -> None:
    example = _example("the patient developed @DISEASE$ after @CHEMICAL$ .", write_file)
    result = featurise([example], tokenizer, SCHEME, max_length=64, label2id={"0": 0})
    feature = result.features[0]
    assert feature.input_ids == tokenizer(mark(example, SCHEME))["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(feature.input_ids)
    assert tokens[feature.entity_starts[0]] == "[E1:DISEASE]" and tokens[feature.entity_starts[1]] == "[E2:CHEMICAL]"
    assert feature.entity_starts == (4, 8)  # [CLS] the patient developed [E1:DISEASE] @DISEASE$ [/E1] after [E2:...]
    assert (feature.label, feature.example_id, result.centred) == (0, "rows.tsv:1", [])


def test_re_window_is_centred_on_a_far_apart_pair(tokenizer: PreTrainedTokenizerBase, write_file: Write) -> None:
    before, between, after = ["the"] * 60, ["patient"] * 10, ["."] * 40
    text = " ".join([*before, "@GENE$", *between, "@DISEASE$", *after])
    rows = [f"{text}\t0", "@GENE$ and @DISEASE$\t0"]
    far, short = read_examples(write_file("rows.tsv", rows))
    result = featurise([far, short], tokenizer, SCHEME, max_length=32)
    ids = result.features[0].input_ids
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert len(ids) == 32 and tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    first, last = tokens.index("[E1:GENE]"), tokens.index("[/E2:DISEASE]")
    assert result.features[0].entity_starts == (first, tokens.index("[E2:DISEASE]"))
    # The pair (16 tokens) sits in the middle of the 30 content tokens: 7 before it, 7 after it.
    assert (first - 1, 30 - last) == (7, 7)
    assert result.centred == ["rows.tsv:1"]  # the short pair needed no window
    assert result.features[1].input_ids == tokenizer(mark(short, SCHEME))["input_ids"]


def test_re_window_of_a_pair_at_the_start_begins_at_the_text(tokenizer: PreTrainedTokenizerBase, write_file: Write) -> None:
    example = _example(" ".join(["@GENE$", "and", "@DISEASE$", *["the"] * 80]), write_file)
    result = featurise([example], tokenizer, SCHEME, max_length=16)
    tokens = tokenizer.convert_ids_to_tokens(result.features[0].input_ids)
    assert tokens[:3] == ["[CLS]", "[E1:GENE]", "@GENE$"] and len(tokens) == 16
    assert result.centred == ["rows.tsv:1"]


def test_re_pair_wider_than_the_window_names_file_and_line(tokenizer: PreTrainedTokenizerBase, write_file: Write) -> None:
    rows = [" ".join(["@GENE$", *["the"] * n, "@DISEASE$"]) + "\t0" for n in (10, 40, 50)]
    examples = read_examples(write_file("rows.tsv", rows))
    # Row 2's pair is 3 + 40 + 3 = 46 tokens, row 3's 56: max_length 56 + [CLS] + [SEP] = 58 fits both.
    message = r"rows.tsv:2: the marked pair spans 46 tokens.*2 of 3 pairs do not fit: max_length 58 fits them all"
    with pytest.raises(BiotuneError, match=message):
        featurise(examples, tokenizer, SCHEME, max_length=32)
    assert len(featurise(examples, tokenizer, SCHEME, max_length=58).features) == 3
    # a backbone of 50 positions: never advise 58; say what it can read and what it cannot
    with pytest.raises(BiotuneError, match=r"max_length 50 \(this backbone's most\) fits 1 of them; 1 span more than "
                                           r"the 50 positions this backbone reads.*re.too_wide: skip") as caught:
        featurise(examples, tokenizer, SCHEME, max_length=32, positions=50)
    assert "58" not in str(caught.value)
    skipped = featurise(examples, tokenizer, SCHEME, max_length=32, skip_too_wide=True)
    assert skipped.skipped == [1, 2] and [f.example_id for f in skipped.features] == [examples[0].id]


def test_re_unknown_type_and_missing_markers_are_errors(tokenizer: PreTrainedTokenizerBase, word_backbone: Path,
                                                        write_file: Write) -> None:
    example = _example("@DRUG$ and @DRUG$", write_file)
    with pytest.raises(BiotuneError, match=r"rows.tsv:1: entity type 'DRUG' is unknown to this model"):
        featurise([example], tokenizer, SCHEME, max_length=32)
    plain = load_tokenizer(str(word_backbone))
    with pytest.raises(BiotuneError, match=r"lacks the marker token '\[E1:CHEMICAL\]'"):
        featurise([_example("@GENE$ and @DISEASE$", write_file)], plain, SCHEME, max_length=32)


def test_re_label_outside_the_model_labels_names_file_and_line(tokenizer: PreTrainedTokenizerBase, write_file: Write) -> None:
    with pytest.raises(BiotuneError, match=r"rows.tsv:1: label '0' is not one of the model's labels \(1\)"):
        featurise([_example("@GENE$ and @DISEASE$", write_file)], tokenizer, SCHEME, 32, label2id={"1": 0})


def test_re_collate_pads_right_and_keeps_marker_positions() -> None:
    features = [RelationFeature([2, 7, 8, 9, 3], (1, 3), 1, "a"), RelationFeature([2, 7, 9, 3], (1, 2), 0, "b")]
    batch = collate(features, pad_token_id=0, entity_starts=True)
    assert batch["input_ids"].tolist() == [[2, 7, 8, 9, 3], [2, 7, 9, 3, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]
    assert batch["entity_starts"].tolist() == [[1, 3], [1, 2]] and batch["labels"].tolist() == [1, 0]
    unlabelled = collate([RelationFeature([2, 3], (0, 1), None, "c")], pad_token_id=0, entity_starts=False)
    assert set(unlabelled) == {"input_ids", "attention_mask"} and unlabelled["input_ids"].dtype == torch.long


def test_re_markers_name_role_and_type() -> None:
    assert markers("E2", "GENE") == ("[E2:GENE]", "[/E2:GENE]")
