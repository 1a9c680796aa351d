"""The silver report: counts, top terms, and the dictionary's P/R/F1 against gold on a hand-computed example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biotune.formats.readers import read_corpus_file
from biotune.tasks.ner.metrics import evaluate_tags
from biotune.silver.dictionary import load_dictionary
from biotune.silver.label import label_corpus, label_sentence
from biotune.silver.matcher import Matcher
from biotune.silver.spec import DictionarySpec

# Dictionary-alone labels against gold Gene spans:
#   s1 BRCA1, TP53: both correct; s2 "p53" against gold "p53 protein": one FP and one FN;
#   s3 MYC: FP; s4 has a Disease span only, not scored.
#   gold 3, dictionary 4, correct 2: P = 2/4, R = 2/3, F1 = 2*2/(3+4) = 4/7.
GOLD = (
    "BRCA1\tB-Gene\nand\tO\nTP53\tB-Gene\nbind\tO\n\n"
    "the\tO\np53\tB-Gene\nprotein\tI-Gene\n\n"
    "MYC\tO\nwas\tO\nhigh\tO\n\n"
    "asthma\tB-Disease\nrisk\tO\n"
)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, DictionarySpec]:
    corpus = tmp_path / "gold.tsv"
    corpus.write_text(GOLD, encoding="utf-8")
    terms = tmp_path / "genes.txt"
    terms.write_text("BRCA1\nTP53\np53\nMYC\n", encoding="utf-8")
    return corpus, DictionarySpec(path=terms, type="Gene")


def test_scores_against_gold_by_hand(tmp_path: Path, files: tuple[Path, DictionarySpec]) -> None:
    corpus, genes = files
    result = label_corpus(corpus, tmp_path / "silver.jsonl", [genes])
    report = result.report
    scores = report.scores["Gene"]
    assert (scores.support, scores.predicted, scores.tp) == (3, 4, 2)
    assert (scores.precision, scores.recall, scores.f1) == pytest.approx((0.5, 2 / 3, 4 / 7))
    assert list(report.scores) == ["Gene"] and report.gold_types == {"Disease": 1, "Gene": 3}
    # gold kept: only MYC falls in an O region, so it is the only label added
    assert (report.sentences, report.tokens, report.gold_sentences) == (4, 12, 4)
    assert report.labels == {"Gene": 1} and report.labelled_sentences == 1
    assert report.top_terms == {"Gene": [("MYC", 1)]}

    saved = json.loads(result.report_json.read_text(encoding="utf-8"))
    assert saved["scores"]["Gene"]["precision"] == 0.5 and saved["top_terms"] == {"Gene": [["MYC", 1]]}
    assert saved["dictionaries"][0]["counts"] == {"rows": 4, "kept": 4}
    markdown = result.report_markdown.read_text(encoding="utf-8")
    assert markdown.endswith(
        "| type   |     P |     R |    F1 |   gold spans |   dictionary spans |   correct |\n"
        "|:-------|------:|------:|------:|-------------:|-------------------:|----------:|\n"
        "| Gene   | 50.00 | 66.67 | 57.14 |            3 |                  4 |         2 |\n"
    )
    assert "| `MYC`  |        1 |" in markdown.splitlines()  # the top terms, most frequent first
    assert markdown == report.render_markdown()


def test_scores_equal_evaluate_tags_on_dictionary_alone_tags(
    tmp_path: Path, files: tuple[Path, DictionarySpec]
) -> None:
    corpus, genes = files
    matcher = Matcher([load_dictionary(genes)])
    sentences = read_corpus_file(corpus)
    predicted = [label_sentence(s, matcher, drop_tags=True).tags for s in sentences]
    expected = evaluate_tags([s.tags for s in sentences], predicted, annotated_types=["Gene"]).per_type["Gene"]
    dropped = label_corpus(corpus, tmp_path / "silver.jsonl", [genes], drop_tags=True).report
    assert dropped.scores["Gene"] == expected
    assert dropped.labels == {"Gene": 4}


def test_top_terms_by_frequency_then_alphabet(tmp_path: Path, files: tuple[Path, DictionarySpec]) -> None:
    _, genes = files
    text = tmp_path / "text.txt"
    text.write_text("p53 and P53 bind MYC.\nTP53 or BRCA1?\n", encoding="utf-8")
    report = label_corpus(text, tmp_path / "silver.jsonl", [genes], top=3).report
    assert report.top_terms == {"Gene": [("p53", 2), ("BRCA1", 1), ("MYC", 1)]}
    assert report.labels == {"Gene": 5} and report.gold_sentences == 0 and report.scores == {}
    assert "against gold" not in report.render_markdown()


def test_a_type_name_the_gold_lacks_is_not_scored_and_noted(tmp_path: Path, files: tuple[Path, DictionarySpec]) -> None:
    corpus, genes = files
    report = label_corpus(corpus, tmp_path / "silver.jsonl", [genes.model_copy(update={"type": "GENE"})]).report
    assert report.scores == {}
    assert "gold span types: Disease, Gene" in report.notes[0] and "type=" in report.notes[0]
    assert "## Notes" in report.render_markdown()
