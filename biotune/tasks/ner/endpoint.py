"""The schema of NER's HTTP endpoint, POST /tag: texts in, entities (and, with an RE model beside the
NER one, relations between them) out. The service (`biotune.serving.service`) mounts it with the
document pipeline (`biotune.serving.pipeline`: NER, then dictionary linking and relations).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
    concept_id: str | None = Field(None, description="only with a link dictionary: the linked id, or "
                                   "text:<normalised mention> where the dictionary has none")


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
