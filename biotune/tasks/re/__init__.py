"""Relation extraction: classify the relation between two marked entities of one text.

What is here (building blocks, in data-flow order; nothing here trains or serves on its own):

- `examples`: `RelationExample` (text, `head`/`tail` character spans as `Entity`, label, id,
  file, line), `LabelSpace`, and readers of the pre-masked files users bring: BLURB's
  ``sentence<TAB>label`` (names, or ids with `read_label2id`), BioBERT's CV layout
  (`cv_folds` -> `Fold`s; ``k/test.tsv`` with an ``index`` header). Bad rows are
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

What the wiring into the shared task contract needs (the next step):

- Reader: a `task: re` config section with `head` (a `HEADS` name; `build_relation_model`
  answers an unknown one with "did you mean"), `negative_label` (``0`` for ChemProt, DDI and
  GAD; none for a label set without one), `max_length`, `dropout`, the split files, an optional
  `label2id` file and a CV folder. `read_examples(path, labels)` per split.
- Label space: `read_label2id(file)` or `LabelSpace.from_examples(train)`; its `names` are
  the model's labels, and a checkpoint keeps them in `config.id2label` (`RelationModel.labels`).
- Examples -> features: `MarkerScheme.from_examples(train)` at build time (the scheme is
  stored in the checkpoint; prediction uses `RelationModel.scheme`), then
  `featurise(examples, rm.tokenizer, rm.scheme, max_length, rm.model.config.label2id)`;
  without `label2id` the features are unlabelled (prediction input).
- Head and loss: `build_relation_model(backbone, head, names, scheme, dropout)`; a Trainer
  whose collator is `RelationModel.collate` (the contract's generic per-example weight and
  partial-label mask go beside its tensors) and whose loss is the model output's
  cross-entropy `loss`; `save_relation_model` into the run folder's `best_model/` (the run
  folder's write-then-rename applies).
- Prediction and evaluation: `load_relation_model` -> `featurise` -> `predict_probabilities`
  (order kept, train/eval mode restored, so it also serves dev evaluation during training)
  -> labels by argmax over `RelationModel.labels` -> `score_relations(gold, predicted,
  labels, negative)`; the headline is `RelationResult.headline` under `headline_key`
  (``micro.f1``, or ``binary.f1`` for GAD), which aggregation and sweeps read from `to_dict()`.
- `check-data`: `len(featurise(...).centred)` pairs that needed a centred window.
- Cross-validation: `cv_folds(folder)`, one train + test per fold, mean ± std of the headline.
- Not yet here: candidate pairs from annotated documents (PubTator, BioC, JSONL), which build
  `RelationExample`s with mention spans (`mark` and `featurise` already take those).
"""
