from __future__ import annotations

import json

import pytest

from biotune.tasks.ner.checks import check_data
from biotune.formats.sentence import Sentence


def sent(tokens: str, tags: str | None, repaired: int = 0) -> Sentence:
    return Sentence(tokens.split(), None if tags is None else tags.split(), meta={"repaired": repaired})


SPLITS = {
    "train": [
        sent("aspirin causes pain", "B-Chem O B-Dis", repaired=1),
        sent("a very long sentence here", "O O O O O"),
    ],
    "dev": [
        sent("aspirin causes pain", "B-Chem O B-Dis"),
        sent("TP53 binds", "B-Gene O"),
    ],
    "test": [sent("new text", "O O"), sent("unlabelled one", None)],
}


def test_check_data_counts_per_split() -> None:
    report = check_data(SPLITS, subword_length=len, max_length=4)
    train, dev, test = report.splits["train"], report.splits["dev"], report.splits["test"]
    assert (train.sentences, train.tokens, train.spans) == (2, 8, {"Chem": 1, "Dis": 1})
    assert (train.repaired_sentences, train.repaired_tags) == (1, 1)
    assert (dev.spans, dev.overlap_with_train, train.overlap_with_train) == ({"Chem": 1, "Dis": 1, "Gene": 1}, 1, None)
    assert (test.unlabelled, test.overlap_with_train) == (1, 0)
    assert (train.long_sentences, dev.long_sentences) == (1, 0)
    assert report.types_missing_from_train == {"dev": ["Gene"]}


def test_check_data_warnings() -> None:
    report = check_data(SPLITS, subword_length=len, max_length=4)
    assert report.warnings == [
        "train: 1 ill-formed tag sequences (1 tags) were repaired with the conlleval convention "
        "(I-X without a preceding B-X/I-X starts a span)",
        "train: 1 sentences exceed 4 subwords with special tokens; "
        "they will be split into overlapping windows, not truncated",
        "dev: 1 sentences (50.0%) also occur in train",
        "dev: entity types absent from train: Gene",
        "test: no entity spans at all",
    ]


def test_check_data_without_subword_counter_or_train() -> None:
    report = check_data({"dev": SPLITS["dev"], "empty": []})
    assert report.splits["dev"].long_sentences is None
    assert report.splits["dev"].overlap_with_train is None
    assert report.types_missing_from_train == {}
    assert report.warnings == ["empty: no sentences"]


def test_check_data_unlabelled_split_and_sentences_without_meta() -> None:
    report = check_data({"train": [Sentence(["x"], ["B-X"])], "raw": [Sentence(["x"])]})
    assert report.splits["train"].repaired_tags == 0
    assert report.splits["raw"].overlap_with_train == 1
    assert "raw: no sentence has tags" in report.warnings


def test_report_to_dict_is_json_and_markdown_renders() -> None:
    report = check_data(SPLITS, subword_length=len, max_length=6)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["splits"]["dev"]["spans"] == {"Chem": 1, "Dis": 1, "Gene": 1}
    assert data["max_length"] == 6
    markdown = report.render_markdown()
    lines = markdown.splitlines()
    assert lines[2:5] == ["|                        |   train |   dev |   test |",
                          "|:-----------------------|--------:|------:|-------:|",
                          "| sentences              |       2 |     2 |      2 |"]
    assert "| also in train          |     n/a |     1 |      0 |" in lines
    assert "| spans: Gene            |       0 |     1 |      0 |" in lines
    assert "- dev: entity types absent from train: Gene" in markdown
    assert check_data({"train": [sent("x", "B-X")]}).render_markdown().endswith("## Warnings\n\nNone.\n")


@pytest.mark.parametrize(("words", "too_long"), [(8, 0), (9, 1)])
def test_window_check_agrees_with_the_aligner(word_backbone, words: int, too_long: int) -> None:
    """A sentence of exactly the window (8 one-subword words + [CLS] + [SEP] = 10) fits; one subword more does not."""
    from biotune.tasks.ner.align import Aligner
    from biotune.models.backbones import load_tokenizer

    aligner = Aligner(load_tokenizer(str(word_backbone)), max_length=10)
    sentence = Sentence(["aspirin"] * words, ["O"] * words)
    assert aligner.subword_length(sentence.tokens) == words + 2
    report = check_data({"train": [sentence]}, subword_length=aligner.subword_length, max_length=aligner.max_length)
    assert report.splits["train"].long_sentences == too_long
    assert len(aligner.windows([sentence.tokens])) == 1 + too_long  # reported exactly when it is windowed
