"""NER's HTTP endpoint, POST /tag: texts in, entities (and, with a linker and models served beside the
NER one, their concept ids, how each was linked, and the relations between them) out.

/tag annotates documents (`Endpoint.documents`): the service hands it the document pipeline
(`biotune.tasks.stages`: NER's stage, then linking and relations), so the service gives
the same entities, with the same character offsets (Python code points), as `biotune tag` and the
library API. Relations here are by mention (`Task.document_stage(by_mention=True)`): which pair of
mentions of one sentence holds which relation, each argument named by the offsets of one of the
result's entities, so the page can draw them. The texts of a request are items of their own, so a
large request is tagged a batch at a time behind those that came meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from biotune.formats.documents import BY_ANNOTATION, Annotation, Document
from biotune.tasks.endpoints import Endpoint, Limits, check_count, check_text, text_cost
from biotune.tasks.ner.annotate import text_document
from biotune.tasks.stages import DocumentPipeline

RELATIONS = "relations"  # the kind of annotation whose stage /tag answers relations for (`TagResult.relations`)


class TagRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, description="raw texts; each is split into sentences and tagged")


class Entity(BaseModel):
    """An entity mention: `text == input[start:end]`, offsets in code points (not UTF-16 units, not bytes)."""

    start: int
    end: int
    type: str
    text: str
    score: float
    concept_id: str | None = Field(None, description="only with a linker: the linked id, or "
                                   "text:<type>:<normalised mention> where no stage of the linker finds one")
    link_stage: str | None = Field(None, description="only with a linker: the stage that linked the mention "
                                   "(abbreviation, exact, normalised, fuzzy, dense), or unlinked")
    link_score: float | None = Field(None, description="only with a linker, for a linked mention: the linking "
                                     "stage's score (1 for exact and normalised look-ups, a cosine for fuzzy and "
                                     "dense)")


class Mention(BaseModel):
    """A relation argument: the entity of the same result with these offsets."""

    start: int
    end: int
    text: str
    type: str


class EntityRelation(BaseModel):
    """A relation between two mentions of one text; `head` and `tail` are in the order the model read them."""

    type: str = Field(description="the relation label of the RE model")
    head: Mention
    tail: Mention
    score: float = Field(description="the model's probability of `type` for this pair")


class TagResult(BaseModel):
    entities: list[Entity]
    relations: list[EntityRelation] | None = Field(
        None, description="only with an RE model: relations between pairs of `entities` of one sentence, in text order")


class TagResponse(BaseModel):
    results: list[TagResult] = Field(description="one per input text, in input order")
    model: str
    relation_model: str | None = Field(None, description="only with an RE model: its name")


def request_texts(request: TagRequest, limits: Limits) -> list[str]:
    """The texts of a request, each an item, after the limits: at most `max_texts`, each within `max_chars`."""
    check_count(len(request.texts), "texts", limits)
    for i, text in enumerate(request.texts):
        check_text(f"texts[{i}]", text, limits)
    return list(request.texts)


def tag_texts(pipeline: DocumentPipeline, texts: Sequence[str]) -> list[dict[str, Any]]:
    """Each text's result (the `TagResult` schema): `relations` only when the pipeline relates entities."""
    documents = pipeline.annotate([text_document(str(i), text) for i, text in enumerate(texts)])
    return [result_record(document, RELATIONS in pipeline.provides) for document in documents]


def result_record(document: Document, relations: bool) -> dict[str, Any]:
    """One text's result; its relations name their mentions by annotation id (stage by mention)."""
    record: dict[str, Any] = {"entities": [entity_record(a) for a in document.annotations]}
    if relations:
        by_id = {a.id: a for a in document.annotations}
        record["relations"] = [{"type": r.type, "head": mention_record(by_id[r.head]),
                                "tail": mention_record(by_id[r.tail]), "score": r.score}
                               for r in document.relations if r.by == BY_ANNOTATION]
    return record


def entity_record(annotation: Annotation) -> dict[str, Any]:
    """One entity as /tag answers it (the `Entity` schema; the link fields only where linking gave them)."""
    linked = {"concept_id": annotation.concept_id, "link_stage": annotation.link_stage,
              "link_score": annotation.link_score}
    return {"start": annotation.start_char, "end": annotation.end_char, "type": annotation.type,
            "text": annotation.text, "score": annotation.score} | {
        key: value for key, value in linked.items() if value is not None}


def mention_record(annotation: Annotation) -> dict[str, Any]:
    """A relation argument as /tag answers it (the `Mention` schema)."""
    return {"start": annotation.start_char, "end": annotation.end_char, "text": annotation.text,
            "type": annotation.type}


def answer(pipeline: DocumentPipeline, request: TagRequest, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    relation_model = pipeline.model(RELATIONS) if RELATIONS in pipeline.provides else None
    return {"results": list(results), **({"relation_model": relation_model} if relation_model is not None else {})}


def health(pipeline: DocumentPipeline, name: str, traffic: Mapping[str, Any]) -> dict[str, Any]:
    """/health's model, entity types and traffic at top level (what the page reads), and a key per
    other stage (``relations``: its model, types and pairs; ``linking``: the linker's fingerprint, types,
    stages and the mentions each stage has linked)."""
    stages = pipeline.describe()
    entities = stages.pop("entities")
    return {"model": name, "entity_types": entities["types"], **stages, **traffic}


def tag_endpoint() -> Endpoint:
    return Endpoint(path="/tag", request=TagRequest, response=TagResponse, items=request_texts, cost=text_cost,
                    predict=tag_texts, answer=answer, usage='/tag takes {"texts": ["..."]}', unit="texts",
                    late="the texts were not tagged", lighter="send fewer texts", documents=True, health=health)
