"""Silver-labelling throughput: BC2GM train sentences against the ~56k human gene symbols.

Prints tokens per minute on one core for
  1. matching alone: `label_sentence` over sentences already in memory (best of --repeats);
  2. end to end: `label_corpus` reading the TSV, labelling, writing JSONL and the report;
and, with --score, the dictionary-alone span P/R/F1 against the gold GENE spans of a
labelled split (input tags dropped, so the labels are the dictionary's alone).

usage: python bench/silver_speed.py [--corpus PATH] [--dictionary PATH] [--score test.tsv]
                                    [--category protein_coding] [--case-sensitive]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from biotune.formats.readers import read_corpus_file
from biotune.silver.dictionary import load_dictionary
from biotune.silver.label import label_corpus, label_sentence
from biotune.silver.matcher import Matcher
from biotune.silver.spec import DictionarySpec

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpora" / "bc2gm" / "train.tsv")
    parser.add_argument("--dictionary", type=Path, default=SHARED / "dictionaries" / "gene_symbols.tsv")
    parser.add_argument("--score", type=Path, help="also score the dictionary alone on this gold split")
    parser.add_argument("--type", default="GENE", help="entity type of the symbols (BC2GM's gold type: GENE)")
    parser.add_argument("--category", nargs="*", default=[], help="keep only these categories")
    parser.add_argument("--case-sensitive", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    spec = DictionarySpec(path=args.dictionary, type=args.type, category=tuple(args.category),
                          case_sensitive=args.case_sensitive)

    start = time.perf_counter()
    dictionary = load_dictionary(spec)
    matcher = Matcher([dictionary])
    print(f"dictionary: {len(dictionary.terms)} terms kept of {dictionary.counts['rows']} rows "
          f"({dictionary.counts}); loaded and compiled in {time.perf_counter() - start:.2f} s")

    sentences = read_corpus_file(args.corpus)
    tokens = sum(len(s) for s in sentences)
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        for sentence in sentences:
            label_sentence(sentence, matcher)
        best = min(best, time.perf_counter() - start)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"corpus: {args.corpus} ({len(sentences)} sentences, {tokens} tokens)")
    print(f"matching alone: {tokens / best * 60 / 1e6:.1f} M tokens/minute ({best:.2f} s)")

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        report = label_corpus(args.corpus, Path(folder) / "silver.jsonl", [spec]).report
        elapsed = time.perf_counter() - start
        print(f"end to end (read TSV, load dictionary, label, write JSONL + report): "
              f"{report.tokens / elapsed * 60 / 1e6:.1f} M tokens/minute ({elapsed:.2f} s), "
              f"{sum(report.labels.values())} labels added in O regions")
        if args.score:
            scored = label_corpus(args.score, Path(folder) / "scored.jsonl", [spec], drop_tags=True,
                                  allow_test=True).report  # scoring only: the output is thrown away
            for type_, s in scored.scores.items():
                print(f"dictionary alone on {args.score.name}, {type_}: P {100 * s.precision:.2f} "
                      f"R {100 * s.recall:.2f} F1 {100 * s.f1:.2f} (gold {s.support}, dictionary {s.predicted}, "
                      f"correct {s.tp})")
            top = ", ".join(f"{term} {n}" for term, n in scored.top_terms.get(args.type, [])[:10])
            print(f"most frequent terms: {top}")


if __name__ == "__main__":
    main()
