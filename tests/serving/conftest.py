"""Fixtures for the serving tests: a tiny random relation model that pairs the toy NER model's types,
and a tiny linker folder for its entities.

The relation model is untrained, so what it predicts is arbitrary but deterministic; its classifier
bias is set so that the probe texts' candidate pairs fall on both sides of the decision
(some related, some not), which is what the consistency checks between the RE predictions
and the written relations need to mean anything.

The linker is built from a 5-row vocabulary chosen so that the toy NER model's mentions reach every
string stage: ``heparin`` exactly, ``Heparin`` and ``Cisplatin`` normalised, ``Warfarin`` (the
vocabulary says ``warfarine``) and ``bleeding`` fuzzily, and ``Aspirin`` or ``asthma`` not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from biotune.linking import Linker, make_vocabulary
from biotune.serving.app import Mounted, create_app
from biotune.serving.limits import ServiceLimits
from biotune.tasks import get_task
from biotune.tasks.ner.endpoint import tag_endpoint
from biotune.tasks.ner.stage import EntityStage
from biotune.tasks.stages import DocumentPipeline, DocumentStage, Step

# (type, term, id) rows of the test linker's vocabularies; MESH: prefixes are dropped (`canonical_id`).
VOCABULARY = [("Chemical", "heparin", "MESH:D006493"), ("Chemical", "cisplatin", "D002945"),
              ("Chemical", "warfarine", "D014859"), ("Disease", "acute bleeding", "D006470"),
              ("Disease", "hypotension", "D007022")]
FUZZY_THRESHOLD = 0.5  # below the toy fuzzy matches' cosines (0.78, 0.83): they link; the rest stays unlinked
PAIRS = [["Chemical", "Disease"]]
LABELS = ["0", "REL"]
# Texts whose NER entities give candidate pairs for the bias to split (toy vocabulary, see tests/conftest.py).
PROBES = [
    "The patient developed acute bleeding after heparin.",
    "Cisplatin and severe nephrotoxicity were given.",
    "Naloxone and asthma; lithium-induced tremor.",
    "Warfarin was given and the patient developed seizures.",
    "Aspirin and severe hypotension.",
    "The patient developed acute tremor after lithium. Aspirin and severe asthma was given.",
]


def build_relation_checkpoint(folder: Path, backbone: Path, ner_checkpoint: Path, scope: str = "sentence",
                              seed: int = 0) -> Path:
    """An `entity_start` RE checkpoint for Chemical-Disease pairs whose decision splits the probes' candidates."""
    from biotune.tasks.ner.annotate import tag_documents, text_document
    from biotune.tasks.ner.tagger import Tagger
    from biotune.tasks.re.candidates import document_candidates
    from biotune.tasks.re.heads import build_relation_model, save_relation_model
    from biotune.tasks.re.markers import MarkerScheme
    from biotune.tasks.re.task import RelationPredictor

    torch.manual_seed(seed)
    relation_model = build_relation_model(str(backbone), "entity_start", LABELS, MarkerScheme(("Chemical", "Disease")))
    relation_model.model.config.biotune.update({"pairs": PAIRS, "scope": scope, "max_sentences": None,
                                                "negative_label": "0", "max_length": 128})
    predictor = RelationPredictor(relation_model, precision="fp32", device="cpu")
    documents = tag_documents(Tagger.from_checkpoint(ner_checkpoint, precision="fp32"),
                              [text_document(str(i), t) for i, t in enumerate(PROBES)])
    examples = [c.example for d in documents for c in document_candidates(d, PAIRS, scope, "0", labelled=False)]
    assert len(examples) >= 4, "the probes give candidate pairs"
    probabilities = predictor.probabilities(examples)
    margins = sorted((probabilities[:, 1].log() - probabilities[:, 0].log()).tolist())
    middle = len(margins) // 2
    assert margins[middle - 1] < margins[middle], "the random model tells the probes' pairs apart"
    with torch.no_grad():  # REL wins exactly for the pairs with the upper half of the margins
        relation_model.model.classifier.bias[1] -= (margins[middle - 1] + margins[middle]) / 2
    save_relation_model(relation_model, folder)
    return folder


@pytest.fixture(scope="session")
def relation_checkpoint(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path, trained_run: Any) -> Path:
    """A sentence-scope Chemical-Disease RE checkpoint (labels 0, REL) whose predictions are mixed on the probes."""
    return build_relation_checkpoint(tmp_path_factory.mktemp("relation_model"), word_backbone,
                                     trained_run.paths.best_model)


def tag_pipeline(tagger: Any, model_name: str = "", others: Sequence[tuple[DocumentStage, str | None]] = ()
                 ) -> DocumentPipeline:
    """The document pipeline of `tagger` (a `Tagger`, or anything with its `labels` and `predict`) and `others`."""
    return DocumentPipeline([Step(EntityStage(tagger), "the tagger", model_name),
                             *(Step(stage, f"stage {i}", name) for i, (stage, name) in enumerate(others))])


def tag_app(tagger: Any, limits: ServiceLimits = ServiceLimits(), model_name: str = "",
            others: Sequence[tuple[DocumentStage, str | None]] = (), more: Sequence[Mounted] = ()) -> Any:
    """A service with `tagger` at /tag (its pipeline with the stages of `others`), and the models of `more`."""
    ner = Mounted(get_task("ner"), tag_pipeline(tagger, model_name, others), tag_endpoint(), model_name)
    return create_app([ner, *more], limits)


def build_linker(rows: Sequence[tuple[str, str, str]] = VOCABULARY, encoder: Path | None = None) -> Linker:
    """A linker over the per-type vocabularies of `rows`, with a dense stage on `encoder` (a model folder) if given."""
    vocabularies = {type_: [make_vocabulary(f"toy {type_}", [(term, concept, ()) for t, term, concept in rows
                                                             if t == type_])]
                    for type_ in dict.fromkeys(t for t, _, _ in rows)}
    dense = None
    if encoder is not None:
        from biotune.linking.dense import DenseLinker, Encoder

        dense = DenseLinker.build(Encoder.load(encoder), vocabularies)
    return Linker.from_vocabularies(vocabularies, fuzzy_threshold=FUZZY_THRESHOLD, dense=dense)


@pytest.fixture(scope="session")
def linker_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `VOCABULARY` linker (exact, normalised, fuzzy, abbreviations; no dense stage) saved as a folder."""
    return build_linker().save(tmp_path_factory.mktemp("linker") / "linker")
