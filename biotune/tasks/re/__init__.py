"""Relation extraction: classify the relation between two marked entities of one text.

What is here (building blocks, in data-flow order; nothing here trains or serves on its own):

- `examples`: `RelationExample` (text, `head`/`tail` character spans, label, id, file, line),
  `LabelSpace`, and readers of the pre-masked files users bring: BLURB's
  ``sentence<TAB>label`` (names or ids + `label2id.tsv`), BioBERT's CV layout (`cv_folds`,
  ``k/test.tsv`` with an ``index`` header). Bad rows are `BiotuneError`s naming file and line.
- `markers`: Zhou & Chen's typed entity markers (``[E1:GENE] @GENE$ [/E1:GENE]``) as special
  tokens, `featurise` (batch tokenisation, start-marker positions, windows centred on the
  pair with `Featurised.centred` listing which needed one) and `collate`.
- `heads`: `cls` (a standard sequence-classification folder that `transformers.pipeline`
  loads) and `entity_start` (`EntityStartClassifier`); `build_relation_model`,
  `save_relation_model`, `load_relation_model`, `predict_probabilities`.
- `metrics`: `score_relations` -> `RelationResult` (per class, micro over the relation classes
  with the negative excluded, binary, macro, confusion; `headline`/`headline_key`), Markdown.

What the wiring into the shared task contract needs (the next step):

- Config: a `task: re` section with `head` (`cls` | `entity_start`), `negative_label` (``0``
  for ChemProt, DDI and GAD), `max_length`, the split files, an optional `label2id` file and a
  CV folder; the label space is `read_label2id(...)` or `LabelSpace.from_examples(train)`,
  the marker scheme `MarkerScheme.from_examples(train)` (markers live in the checkpoint).
- Training: `build_relation_model` -> `featurise(train, ...)` -> a Trainer whose collator is
  `RelationModel.collate` (plus the contract's generic per-example weight and partial-label
  mask) and whose loss is the model's cross-entropy; `save_relation_model` into `best_model/`
  (the run folder's atomic write applies); dev selection on `RelationResult.headline`.
- Prediction / evaluation: `load_relation_model` -> `featurise` -> `predict_probabilities`
  -> labels by argmax -> `score_relations`, `to_dict()` for JSON and `render_markdown`.
- `check-data`: `len(featurise(...).centred)` pairs that needed a centred window.
- Cross-validation: `cv_folds(folder)`, one train + test per fold, mean ± std of the headline.
- Not yet here: candidate pairs from annotated documents (PubTator, BioC, JSONL), which build
  `RelationExample`s with mention spans; `mark` and `featurise` already take those.
"""
