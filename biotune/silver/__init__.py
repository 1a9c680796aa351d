"""Distant supervision: dictionaries and a token matcher that produce silver-tagged corpora.

`spec` describes a dictionary and its options, `dictionary` loads one, `matcher` finds its
terms in tokenised sentences (Aho-Corasick, leftmost-longest, no overlaps), `label` streams a
corpus file through the matcher into a new tag field, and `report` summarises a run. The
output is an ordinary JSONL or TSV corpus that re-enters biotune through `biotune.data`.
"""
