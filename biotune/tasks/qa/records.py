"""QA and yes/no prediction on new data, records in and records out (the task contract's prediction steps).

Input records, checked by the same rules whether a file or the library gives them:
- extractive (task ``qa``): ``{"id"?, "question", "contexts": [...], "type"?}``: a question and
  the texts to read its answer from; ``type`` (``factoid`` | ``list``, default the model's) says
  how its answers are cut: the top k, or those at the model's list threshold;
- yes/no (task ``yesno``): ``{"id"?, "question", "context"}``.

Input files, told apart by extension and content (`reading.sniff`) and read with the training
readers (the same checks, errors naming file and line or item):
- ``qa``: JSONL, one question a line (the form users write); a SQuAD-form file (items of one
  question id merged, answers ignored); a BioASQ gold file (its factoid and list questions, each
  with its type, snippets as contexts);
- ``yesno``: JSONL, one question a line; the BLURB TSV; PubMedQA JSON; BioASQ gold (yes/no
  questions, snippets joined).

Output records, one per input record, in order:
- ``qa``: ``{"id", "question", ["type"], "answers": [{"text", "score", "occurrences": [{"context",
  "start", "end", "probability"}]}]}``, `context` indexing the question's contexts in input order
  (contexts themselves are not repeated);
- ``yesno``: ``{"id", "label", "scores"}``.
Written as ``jsonl`` (one record a line) or ``bioasq``: a BioASQ submission file, ``{"questions":
[{"id", "exact_answer"}]}``: factoid, the answers each as a one-synonym list; list, the kept
answers; yes/no, the label.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from biotune.errors import BiotuneError
from biotune.formats.readers import existing_file, numbered_lines
from biotune.tasks.qa.examples import DecisionExample, QaExample, QaQuestion, RankedAnswer
from biotune.tasks.qa.reading import (decisions_from_gold, read_decisions_tsv, read_gold, read_pubmedqa_json,
                                      read_squad, sniff)

OUTPUT_FORMATS = ("jsonl", "bioasq")
EXTRACTIVE_TYPES = ("factoid", "list")


# ---- reading ------------------------------------------------------------------------------------

def read_questions(path: str | Path) -> Iterator[dict[str, Any]]:
    """The extractive questions of a file (see the module docstring), in file order."""
    path = existing_file(path)
    if path.suffix.lower() == ".jsonl":
        return _jsonl_records(path, _question_fields)
    kind = sniff(path)
    if kind == "squad":
        return _grouped(read_squad(path, need_gold=False)[0], {})
    if kind == "gold":
        return _grouped(*read_gold([path], EXTRACTIVE_TYPES))
    raise BiotuneError(f"{path}: a {kind} file holds yes/no questions; an extractive QA model reads JSONL "
                       "{id, question, contexts}, SQuAD-form JSON or BioASQ gold JSON")


def read_decision_questions(path: str | Path) -> Iterator[dict[str, Any]]:
    """The yes/no questions of a file (see the module docstring), in file order."""
    path = existing_file(path)
    if path.suffix.lower() == ".jsonl":
        return _jsonl_records(path, _decision_fields)
    kind = sniff(path)
    if kind == "tsv":
        examples = read_decisions_tsv(path)
    elif kind in ("pubmedqa", "pubmedqa_test"):
        examples = read_pubmedqa_json(path)
    elif kind == "gold":
        examples = decisions_from_gold(*read_gold([path], "yesno"))
    else:
        raise BiotuneError(f"{path}: a {kind} file is for an extractive QA model; a yes/no model reads JSONL "
                           "{id, question, context}, 'question: ... context: ...<TAB>label' TSV, PubMedQA JSON "
                           "or BioASQ gold JSON")
    return iter([{"id": e.id, "question": e.question, "context": e.context} for e in examples])


def _grouped(examples: Sequence[QaExample], questions: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One record per question id of (question, context) pairs, contexts in file order; a gold question's type kept."""
    records: dict[str, dict[str, Any]] = {}
    for example in examples:
        record = records.setdefault(example.question_id, {"id": example.question_id, "question": example.question,
                                                          "contexts": []})
        record["contexts"].append(example.context)
    for qid, record in records.items():
        if qid in questions:
            record["type"] = questions[qid].type
    return iter(records.values())


def gold_questions(examples: Sequence[QaExample], questions: Mapping[str, QaQuestion]) -> Iterator[dict[str, Any]]:
    """One record per question of a gold split, as `read_questions` gives it (``id, question, contexts, type``),
    with its gold: ``exact_answer``, the exact answers, each a list of synonyms (BioASQ's form, in its gold files
    and in the submissions `write_submission` writes; a factoid's one entry holds every synonym), and ``spans``,
    the answer spans the file marks
    (``{"context", "start", "end"}``, `context` indexing `contexts`: SQuAD training items; none where the gold
    is exact answers alone). `questions` holds every question of `examples` (`QaTask.read_split` sees to it)."""
    records: dict[str, dict[str, Any]] = {}
    for example in examples:
        gold = questions[example.question_id]
        record = records.setdefault(gold.id, {
            "id": gold.id, "question": example.question, "contexts": [], "type": gold.type,
            "exact_answer": [list(names) for names in gold.answers], "spans": []})
        record["spans"] += [{"context": len(record["contexts"]), "start": span.start, "end": span.end}
                            for span in example.answers]
        record["contexts"].append(example.context)
    return iter(records.values())


def _jsonl_records(path: Path, fields: Callable[[str, Mapping[str, Any]], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One record per non-blank line, checked by `fields`; ids default to ``<file name>:<line>`` and are unique."""
    seen: set[str] = set()
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except ValueError as error:
            raise BiotuneError(f"{where}: not JSON ({error})") from None
        checked = fields(where, record)
        qid = str(record.get("id", f"{path.name}:{number}"))
        if qid in seen:
            raise BiotuneError(f"{where}: id {qid!r} is used twice")
        seen.add(qid)
        yield {"id": qid, **checked}


def _question_fields(where: str, record: Any) -> dict[str, Any]:
    """What an extractive record holds, checked: question, contexts and (when given) type."""
    if not isinstance(record, Mapping):
        raise BiotuneError(f"{where}: expected an object with 'question' and 'contexts'")
    question, contexts, type = record.get("question"), record.get("contexts"), record.get("type")
    if not isinstance(question, str) or not question.strip():
        raise BiotuneError(f"{where}: 'question' must be a non-empty string")
    if not isinstance(contexts, list) or not contexts or not all(isinstance(c, str) and c.strip() for c in contexts):
        raise BiotuneError(f"{where}: 'contexts' must be a non-empty list of non-empty strings")
    if type is not None and type not in EXTRACTIVE_TYPES:
        raise BiotuneError(f"{where}: 'type' {type!r} is not one of {', '.join(EXTRACTIVE_TYPES)}")
    return {"question": question, "contexts": contexts, **({"type": type} if type is not None else {})}


def _decision_fields(where: str, record: Any) -> dict[str, Any]:
    """What a yes/no record holds, checked: question and context."""
    if not isinstance(record, Mapping):
        raise BiotuneError(f"{where}: expected an object with 'question' and 'context'")
    for name in ("question", "context"):
        if not isinstance(record.get(name), str) or not record[name].strip():
            raise BiotuneError(f"{where}: {name!r} must be a non-empty string")
    return {"question": record["question"], "context": record["context"]}


# ---- predicting -----------------------------------------------------------------------------------

def predict_answers(predictor: Any, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each question with its ranked answers (a `QaPredictor`), merged over its contexts."""
    checked = [_question_fields(_where(k, record), record) for k, record in enumerate(records)]
    examples = [QaExample(f"{k}_{c:03d}", str(k), fields["question"], context)
                for k, fields in enumerate(checked) for c, context in enumerate(fields["contexts"])]
    ranked = predictor.rank(examples) if examples else {}
    out = []
    for k, (record, fields) in enumerate(zip(records, checked)):
        answers = predictor.cut(ranked.get(str(k), []), type=fields.get("type"))
        out.append({**_id(record), "question": fields["question"],
                    **({"type": fields["type"]} if "type" in fields else {}),
                    "answers": [_answer(answer) for answer in answers]})
    return out


def predict_decisions(predictor: Any, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each question's label and every label's probability (a `DecisionPredictor`)."""
    checked = [_decision_fields(_where(k, record), record) for k, record in enumerate(records)]
    examples = [DecisionExample(str(k), fields["question"], fields["context"], label="")
                for k, fields in enumerate(checked)]
    return [{**_id(record), "label": p.label, "scores": p.scores}
            for record, p in zip(records, predictor.predict(examples))]


def _where(index: int, record: Any) -> str:
    if isinstance(record, Mapping) and record.get("id") is not None:
        return f"record {record['id']!r}"
    return f"record {index}"


def _id(record: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": record["id"]} if record.get("id") is not None else {}


def _answer(answer: RankedAnswer) -> dict[str, Any]:
    return {"text": answer.text, "score": round(answer.score, 6), "occurrences": [
        {"context": o.context, "start": o.start, "end": o.end, "probability": round(o.probability, 6)}
        for o in answer.occurrences]}


# ---- writing ---------------------------------------------------------------------------------------

def answer_submission(record: Mapping[str, Any]) -> dict[str, Any]:
    """A BioASQ submission entry of an extractive output record: each answer a one-synonym list."""
    return {"id": record.get("id"), "exact_answer": [[answer["text"]] for answer in record["answers"]]}


def decision_submission(record: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": record.get("id"), "exact_answer": record["label"]}


def write_submission(entries: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """A BioASQ submission file, ``{"questions": [...]}``, written entry by entry; returns the count."""
    out.write('{"questions": [')
    n = 0
    for entry in entries:
        out.write(("," if n else "") + "\n  " + json.dumps(entry, ensure_ascii=False))
        n += 1
    out.write("\n]}\n")
    return n
