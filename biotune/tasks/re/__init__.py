"""Relation extraction: classify the relation between two marked entities of one text.

What is here (building blocks, in data-flow order; nothing here trains or serves on its own):

- `examples`: `RelationExample` (text, `head`/`tail` character spans as `Entity`, label, id,
  file, line), `LabelSpace`, and readers of the pre-masked files users bring: BLURB's
  ``sentence<TAB>label`` (names, or ids with `read_label2id`), BioBERT's CV layout
  (``k/test.tsv`` with an ``index`` header; the fold layout itself is `biotune.corpora.folds`). Bad rows are
  `BiotuneError`s naming file and line.
- `markers`: Zhou & Chen's typed entity markers (``[E1:GENE] @GENE$ [/E1:GENE]``) as special
  tokens (`MarkerScheme`, `add_marker_tokens`, `mark`), `featurise` (batch tokenisation,
  start-marker positions, windows centred on the pair, `Featurised.centred` listing which
  needed one) and `collate` (right padding).
- `heads`: the `HEADS` registry, ``cls`` (a standard sequence-classification folder that
  `transformers.pipeline("text-classification")` loads) and ``entity_start``
  (`EntityStartClassifier`); `build_relation_model`, `save_relation_model`,
  `load_relation_model`, `predict_probabilities`, all around one `RelationModel` (model,
  tokenizer with the markers, scheme).
- `metrics`: `score_relations` -> `RelationResult` (per class, micro over the relation classes
  with the negative excluded, binary, macro, confusion; `headline` and `headline_key`),
  `to_dict()` for JSON, `render_markdown`.

On the task contract (`task`): `RelationTask` maps the contract onto these blocks and
`RelationPredictor` is the one object the CLI, library, tag job and service predict through.
`candidates` builds `RelationExample`s from annotated documents (PubTator, BioC, JSONL; within a
sentence, or one per concept pair of a document) and maps predictions back into document
`Relation`s; `documents` reads a document split that way and scores it at the document level
(`document_scores`, as BC5CDR CID is scored); `checks` is its `check-data` report.
"""
