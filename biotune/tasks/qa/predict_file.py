"""`biotune predict` for QA models: question files in, answers out.

Inputs, read with the training readers (the same checks, errors naming file and item):
- extractive (task ``qa``): JSONL ``{"id", "question", "contexts": [...]}`` (one question per
  line, the form users write), a SQuAD-form file (items of one question id merged; answers in
  it are ignored) or a BioASQ gold file (the model's question type: factoid or list);
- yes/no (task ``yesno``): the BLURB TSV, PubMedQA JSON, or BioASQ gold (yes/no questions).

Outputs, written to a temporary file renamed onto the output only when every question is done:
- ``jsonl``: one line per question, ``{"id", "question", "answers": [{"text", "score",
  "occurrences": [{"context", "start", "end", "probability"}]}]}`` (extractive; `context` indexes
  the question's contexts in input order) or ``{"id", "label", "scores"}`` (yes/no);
- ``bioasq``: a BioASQ submission file, ``{"questions": [{"id", "exact_answer"}]}``: factoid, the
  top answers each as a one-synonym list; list, the kept answers; yes/no, ``"yes"``/``"no"``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biotune.errors import BiotuneError
from biotune.formats.readers import existing_file, numbered_lines
from biotune.io import atomic_open, write_json
from biotune.tasks.qa.examples import DecisionExample, QaExample
from biotune.tasks.qa.predict import DecisionPredictor, QaPredictor
from biotune.tasks.qa.reading import (decisions_from_gold, read_decisions_tsv, read_gold, read_pubmedqa_json,
                                      read_squad, sniff)

FORMATS = ("jsonl", "bioasq")


def read_questions(path: str | Path, question_type: str) -> list[QaExample]:
    """(question, context) pairs to answer, from JSONL, SQuAD-form or BioASQ gold (see the module docstring)."""
    path = existing_file(path)
    if path.suffix.lower() == ".jsonl":
        return _read_jsonl(path)
    kind = sniff(path)
    if kind == "squad":
        return read_squad(path, need_gold=False)[0]
    if kind == "gold":
        return read_gold([path], question_type)[0]
    raise BiotuneError(f"{path}: a {kind} file holds yes/no questions; an extractive QA model reads JSONL "
                       "{id, question, contexts}, SQuAD-form JSON or BioASQ gold JSON")


def read_decision_questions(path: str | Path) -> list[DecisionExample]:
    path = existing_file(path)
    kind = sniff(path)
    if kind == "tsv":
        return read_decisions_tsv(path)
    if kind in ("pubmedqa", "pubmedqa_test"):
        return read_pubmedqa_json(path)
    if kind == "gold":
        return decisions_from_gold(*read_gold([path], "yesno"))
    raise BiotuneError(f"{path}: a {kind} file is for an extractive QA model; a yes/no model reads "
                       "'question: ... context: ...<TAB>label' TSV, PubMedQA JSON or BioASQ gold JSON")


def _read_jsonl(path: Path) -> list[QaExample]:
    examples: list[QaExample] = []
    seen: set[str] = set()
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except ValueError as error:
            raise BiotuneError(f"{where}: not JSON ({error})") from None
        if not isinstance(record, dict):
            raise BiotuneError(f"{where}: expected an object with 'question' and 'contexts'")
        question, contexts = record.get("question"), record.get("contexts")
        if not isinstance(question, str) or not question.strip():
            raise BiotuneError(f"{where}: 'question' must be a non-empty string")
        if not isinstance(contexts, list) or not contexts or not all(isinstance(c, str) and c.strip() for c in contexts):
            raise BiotuneError(f"{where}: 'contexts' must be a non-empty list of non-empty strings")
        qid = str(record.get("id", f"{path.name}:{number}"))
        if qid in seen:
            raise BiotuneError(f"{where}: id {qid!r} is used twice")
        seen.add(qid)
        examples += [QaExample(f"{qid}_{k:03d}", qid, question, context, file=str(path), item=f"line {number}")
                     for k, context in enumerate(contexts)]
    if not examples:
        raise BiotuneError(f"input file {path} contains no questions")
    return examples


def predict_answers(predictor: QaPredictor, examples: Sequence[QaExample], output_path: str | Path,
                    format: str = "jsonl") -> int:
    """Answer the questions of `examples` (`read_questions`) into `output_path`; returns the number of questions."""
    check_format(format)
    answers = predictor.answer_examples(examples)
    questions = {e.question_id: e.question for e in examples}
    if format == "bioasq":
        write_json(output_path, {"questions": [{"id": q, "exact_answer": [[a.text] for a in found]}
                                               for q, found in answers.items()]})
    else:
        _write_lines(output_path, [{"id": q, "question": questions[q], "answers": [
            {"text": a.text, "score": round(a.score, 6), "occurrences": [
                {"context": o.context, "start": o.start, "end": o.end, "probability": round(o.probability, 6)}
                for o in a.occurrences]} for a in found]} for q, found in answers.items()])
    return len(answers)


def predict_decisions(predictor: DecisionPredictor, examples: Sequence[DecisionExample], output_path: str | Path,
                      format: str = "jsonl") -> int:
    """Label the questions of `examples` (`read_decision_questions`) into `output_path`; returns the count."""
    check_format(format)
    predictions = predictor.predict(examples)
    if format == "bioasq":
        write_json(output_path, {"questions": [{"id": p.example_id, "exact_answer": p.label} for p in predictions]})
    else:
        _write_lines(output_path, [{"id": p.example_id, "label": p.label, "scores": p.scores} for p in predictions])
    return len(predictions)


def check_format(format: str) -> None:
    if format not in FORMATS:
        raise BiotuneError(f"--format {format!r}: a QA model writes {' or '.join(FORMATS)}")


def _write_lines(path: str | Path, records: Sequence[dict[str, Any]]) -> None:
    with atomic_open(path) as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")

