"""Readers of the question-answering files: BioBERT's SQuAD-form BioASQ, BioASQ gold, BLURB TSV, PubMedQA.

Every reader is pure (no model, no tokenizer) and raises `BiotuneError` naming the file and the
item (question id, SQuAD item id, line) of the first problem, before returning anything.

- SQuAD v1 (`read_squad`): one (question, snippet) item per `qas` entry, ids `<question id>_NNN`.
  Training items carry their answer spans; test items carry none, and their gold comes from the
  BioASQ gold files (`gold_index`, found beside the SQuAD folder by `default_gold_files`).
- BioASQ gold (`read_gold`): each question of a type with its snippets (one `QaExample` each) and
  its `exact_answer`, normalised to a tuple of synonym tuples (see `QaQuestion`).
- Decisions (yes / no / maybe): BLURB's ``question: ... context: ...<TAB>label`` TSV
  (`read_decisions_tsv`), PubMedQA's ``ori_pqal.json`` / ``test_ground_truth.json``
  (`read_pubmedqa_json`) and BioASQ yes/no gold (`read_gold(..., "yesno")` then `decisions_from_gold`).

`sniff` tells these files apart; `expand` turns a registry glob pattern into its files.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from biotune.corpora.registry import GLOB_CHARACTERS
from biotune.errors import BiotuneError
from biotune.formats.readers import existing_file, numbered_lines
from biotune.tasks.qa.examples import AnswerSpan, DecisionExample, QaExample, QaQuestion

QUESTION_TYPES = ("factoid", "list", "yesno")
DECISION_LABELS = ("yes", "no", "maybe")
PUBMEDQA_TEST = "test_ground_truth.json"  # the official PubMedQA test labels, beside ori_pqal.json
PUBMEDQA_CONTEXTS = "ori_pqal.json"
_ITEM_NUMBER = re.compile(r"^(.+)_\d+$")  # `<question id>_NNN`, BioBERT's SQuAD item ids
_QUESTION, _CONTEXT = "question: ", " context: "

logger = logging.getLogger("biotune")


def expand(path: str | Path) -> list[Path]:
    """The files a path names: a glob pattern (`*`, `?`, `[`) gives its sorted matching files, else `[path]`.

    Registry corpora name a split by a pattern (BioASQ list training: ``[456]B[1-4]_golden.json``),
    so a reader given such a path reads every file it matches; a pattern matching none is an error.
    An existing file is never a pattern, and the longest leading folder that exists is taken
    literally, so a data folder named ``data [v2]`` works.
    """
    path = Path(path)
    if not GLOB_CHARACTERS.search(str(path)) or path.is_file():
        return [path]
    base = path.parent
    while not base.is_dir() and base != base.parent:
        base = base.parent
    pattern = os.path.join(glob.escape(str(base)), str(path.relative_to(base)))
    matches = sorted(Path(match) for match in glob.glob(pattern) if Path(match).is_file())
    if not matches:
        raise BiotuneError(f"no file matches {path}")
    return matches


def sniff(path: str | Path) -> str:
    """Which QA file `path` is: "squad", "gold", "pubmedqa", "pubmedqa_test" or "tsv".

    Decided by the extension (.tsv) and, for JSON, by its top-level keys: SQuAD has ``data``,
    BioASQ gold ``questions``; PubMedQA maps PMIDs to records (ori_pqal.json) or to labels
    (test_ground_truth.json).
    """
    path = existing_file(path)
    if path.suffix.lower() == ".tsv":
        return "tsv"
    if path.suffix.lower() != ".json":
        raise BiotuneError(f"{path}: not a question-answering file (expected .json: SQuAD, BioASQ gold or "
                           f"PubMedQA; or .tsv: 'question: ... context: ...<TAB>label')")
    data = _load_json(path)
    if isinstance(data, dict) and "data" in data:
        return "squad"
    if isinstance(data, dict) and "questions" in data:
        return "gold"
    if isinstance(data, dict) and data and all(isinstance(value, dict) and "QUESTION" in value for value in data.values()):
        return "pubmedqa"
    if isinstance(data, dict) and data and all(isinstance(value, str) for value in data.values()):
        return "pubmedqa_test"
    raise BiotuneError(f"{path}: not a question-answering file: found {_describe(data)}; expected SQuAD ('data'), "
                       f"BioASQ gold ('questions') or PubMedQA ({{pmid: {{QUESTION, CONTEXTS, final_decision}}}} "
                       f"or {{pmid: label}})")


# ---------------------------------------------------------------------------------------------- SQuAD


def read_squad(path: str | Path, gold: Mapping[str, QaQuestion] | None = None, need_gold: bool = True
               ) -> tuple[list[QaExample], dict[str, QaQuestion]]:
    """The items of a SQuAD v1 file and the gold question of each question id (in file order).

    An item's question id is its id without the trailing ``_NNN``. Each answer becomes an
    `AnswerSpan` after checking that the context reads its text at `answer_start`. A question
    whose items have answers gets a factoid `QaQuestion` whose one entry holds the distinct
    answer texts as synonyms; a question without answers (a test file) takes its `QaQuestion`
    from `gold` (question id -> question; see `gold_index`), so its type and synonyms are the
    judges'. A test file without `gold`, or a question id the gold lacks, is an error, unless
    `need_gold` is False (prediction, where such questions simply have no gold).
    """
    path = existing_file(path)
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise BiotuneError(f"{path}: not a SQuAD file (expected a 'data' list of articles), found {_describe(data)}")
    examples: list[QaExample] = []
    texts: dict[str, list[str]] = {}  # question id -> its answer texts, in order
    for item, context in _squad_items(path, data["data"]):
        example, answer_texts = _squad_example(path, item, context)
        examples.append(example)
        texts.setdefault(example.question_id, []).extend(answer_texts)
    _check_unique_ids(path, examples)
    if not examples:
        raise BiotuneError(f"{path}: contains no question-answer items")
    questions: dict[str, QaQuestion] = {}
    for example in examples:
        qid = example.question_id
        if qid in questions:
            continue
        if texts[qid]:
            questions[qid] = QaQuestion(qid, "factoid", example.question, (tuple(dict.fromkeys(texts[qid])),))
        elif not need_gold:
            continue
        elif gold is None:
            raise BiotuneError(f"{path}: item {example.id} has no answers (a test file): pass the BioASQ gold "
                               f"questions (*_golden.json) to read it")
        elif qid not in gold:
            raise BiotuneError(f"{path}: item {example.id}: question {qid} is not in the gold questions "
                               f"({len(gold)} read)")
        else:
            questions[qid] = gold[qid]
    return examples, questions


def _squad_items(path: Path, articles: list[Any]) -> Iterable[tuple[dict[str, Any], str]]:
    """(item, its paragraph's context) for every `qas` entry, with the structure checked on the way."""
    for a, article in enumerate(articles):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise BiotuneError(f"{path}: data[{a}] has no 'paragraphs' list")
        for p, paragraph in enumerate(paragraphs):
            where = f"data[{a}].paragraphs[{p}]"
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str) \
                    or not isinstance(paragraph.get("qas"), list):
                raise BiotuneError(f"{path}: {where} needs a 'context' string and a 'qas' list")
            for q, item in enumerate(paragraph["qas"]):
                if not isinstance(item, dict) or not isinstance(item.get("id"), str) \
                        or not isinstance(item.get("question"), str):
                    raise BiotuneError(f"{path}: {where}.qas[{q}] needs an 'id' and a 'question' string")
                yield item, paragraph["context"]


def _squad_example(path: Path, item: dict[str, Any], context: str) -> tuple[QaExample, list[str]]:
    """The example of one SQuAD item and its answer texts, each checked against the context."""
    id = item["id"]
    match = _ITEM_NUMBER.match(id)
    spans: list[AnswerSpan] = []
    texts: list[str] = []
    answers = item.get("answers") or []
    if not isinstance(answers, list):
        raise BiotuneError(f"{path}: item {id}: 'answers' is not a list")
    for answer in answers:
        text = answer.get("text") if isinstance(answer, dict) else None
        start = answer.get("answer_start") if isinstance(answer, dict) else None
        if not isinstance(text, str) or not text or not isinstance(start, int) or isinstance(start, bool):
            raise BiotuneError(f"{path}: item {id}: an answer needs a non-empty 'text' and an integer "
                               f"'answer_start', got {answer!r}")
        found = context[start:start + len(text)] if start >= 0 else ""
        if found != text:
            raise BiotuneError(f"{path}: item {id}: answer_start {start} does not match its text {text!r} "
                               f"(the context there reads {found!r})")
        spans.append(AnswerSpan(start, start + len(text)))
        texts.append(text)
    example = QaExample(id=id, question_id=match.group(1) if match else id, question=item["question"],
                        context=context, answers=tuple(dict.fromkeys(spans)), file=str(path), item=id)
    return example, texts


def _check_unique_ids(path: Path, examples: list[QaExample]) -> None:
    """Item ids name predictions and error messages, so one id twice in a file is an error."""
    twice = [id for id, count in Counter(example.id for example in examples).items() if count > 1]
    if twice:
        raise BiotuneError(f"{path}: item id {twice[0]} occurs more than once")


# ------------------------------------------------------------------------------------------ BioASQ gold


def read_gold(paths: str | Path | Iterable[str | Path], type: str | tuple[str, ...]
              ) -> tuple[list[QaExample], dict[str, QaQuestion]]:
    """The questions of `type` (factoid | list | yesno, or several) in BioASQ gold files: one example per snippet.

    `paths` are files or glob patterns (see `expand`), read in order. A snippet's example has id
    ``<question id>_<k>`` (k: its position among the question's snippets, 3 digits) and the
    snippet text as context; it has no answer spans (`lists.list_training_pairs` finds them).
    Exact answers are normalised as `QaQuestion` says: factoid, every synonym of every entry in one
    entry; list, one entry per answer; yes/no, ``(("yes",),)`` or ``(("no",),)``.

    A question of `type` without a snippet, a file with no question of `type` (a gold file of
    the wrong type) and a question id read twice with different answers are errors; a question
    id read twice with the same answers keeps its first reading (BioASQ repeats questions). A
    question whose exact answer holds no text is left out with a warning (4B5 has one factoid).
    """
    types = (type,) if isinstance(type, str) else type
    for name in types:
        _check_type(name)
    examples: list[QaExample] = []
    questions: dict[str, QaQuestion] = {}
    origin: dict[str, Path] = {}
    for path in _gold_files(paths):
        records = _gold_records(path)
        chosen = [record for record in records if record["type"] in types]
        if not chosen:
            kinds = ", ".join(f"{kind} {count}" for kind, count in Counter(r["type"] for r in records).items())
            raise BiotuneError(f"{path}: no {' or '.join(types)} questions (a gold file of the wrong type?); "
                               f"it has: {kinds or 'none'}")
        for record in chosen:
            question = _gold_question(path, record)
            if question is None or _seen_before(question, questions, origin, path):
                continue
            snippets = [(k, snippet["text"]) for k, snippet in enumerate(record.get("snippets") or [])
                        if isinstance(snippet, dict) and isinstance(snippet.get("text"), str) and snippet["text"].strip()]
            if not snippets:
                raise BiotuneError(f"{path}: question {question.id} ({question.type}) has no snippets (with text) to "
                                   f"read its answer from")
            questions[question.id] = question
            origin[question.id] = path
            examples.extend(QaExample(id=f"{question.id}_{k:03d}", question_id=question.id, question=question.body,
                                      context=text, file=str(path), item=f"{question.id}_{k:03d}")
                            for k, text in snippets)
    return examples, questions


def gold_index(paths: str | Path | Iterable[str | Path]) -> dict[str, QaQuestion]:
    """Every factoid, list and yes/no question of BioASQ gold files by id: the gold of a SQuAD test file.

    Summary questions have no exact answer and are left out. The same id twice with different
    answers is an error, as in `read_gold`.
    """
    questions: dict[str, QaQuestion] = {}
    origin: dict[str, Path] = {}
    for path in _gold_files(paths):
        for record in _gold_records(path):
            if record["type"] not in QUESTION_TYPES:
                continue
            question = _gold_question(path, record)
            if question is not None and not _seen_before(question, questions, origin, path):
                questions[question.id], origin[question.id] = question, path
    return questions


def default_gold_files(squad_path: str | Path) -> list[Path]:
    """The ``*_golden.json`` files in the ``golden/`` folder beside a SQuAD file's folder, sorted; [] if none.

    That is the shared data's layout (``bioasq/squad/`` and ``bioasq/golden/``), so a SQuAD test
    file finds its gold without an option.
    """
    folder = Path(squad_path).parent.parent / "golden"
    return sorted(folder.glob("*_golden.json")) if folder.is_dir() else []


def _check_type(type: str) -> None:
    if type not in QUESTION_TYPES:
        raise BiotuneError(f"unknown question type {type!r}; choose one of: {', '.join(QUESTION_TYPES)}")


def _gold_files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    given = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files = [file for path in given for file in expand(path)]
    if not files:
        raise BiotuneError("no BioASQ gold file given")
    return files


def _gold_records(path: Path) -> list[dict[str, Any]]:
    """The question records of a gold file, each with an id, a body and a type (checked)."""
    data = _load_json(existing_file(path))
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise BiotuneError(f"{path}: not a BioASQ gold file (expected a 'questions' list), found {_describe(data)}")
    for n, record in enumerate(data["questions"]):
        if not isinstance(record, dict) or not all(isinstance(record.get(key), str) for key in ("id", "body", "type")):
            raise BiotuneError(f"{path}: questions[{n}] needs 'id', 'body' and 'type' strings")
    return data["questions"]


def _gold_question(path: Path, record: dict[str, Any]) -> QaQuestion | None:
    """A gold record's question with its exact answers normalised (see `read_gold`); None (with a
    warning) when its exact answer holds no text, so one blank answer does not make a file unreadable."""
    id, type = record["id"], record["type"]
    exact = record.get("exact_answer")
    where = f"{path}: question {id} ({type})"
    if type == "yesno":
        label = exact.strip().lower() if isinstance(exact, str) else None
        if label not in ("yes", "no"):
            raise BiotuneError(f"{where}: exact_answer {exact!r} is not 'yes' or 'no'")
        return QaQuestion(id, type, record["body"], ((label,),))
    if not isinstance(exact, list):
        raise BiotuneError(f"{where}: exact_answer must be a list of answers, got {_describe(exact)}")
    groups = [_synonyms(where, entry) for entry in exact]
    if type == "factoid":
        groups = [tuple(dict.fromkeys(synonym for group in groups for synonym in group))]
    answers = tuple(group for group in groups if group)
    if not answers:  # 4B5 has one such factoid: nothing to train on or score against
        logger.warning("%s: left out: its exact_answer has no answer text", where)
        return None
    return QaQuestion(id, type, record["body"], answers)


def _synonyms(where: str, entry: Any) -> tuple[str, ...]:
    """One exact-answer entry (a list of synonyms, or one string) as distinct stripped non-empty texts."""
    names = [entry] if isinstance(entry, str) else entry
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise BiotuneError(f"{where}: an exact_answer entry must be a string or a list of strings, got {entry!r}")
    return tuple(dict.fromkeys(name.strip() for name in names if name.strip()))


def _seen_before(question: QaQuestion, questions: Mapping[str, QaQuestion], origin: Mapping[str, Path],
                 path: Path) -> bool:
    """True when the question was read already with the same answers; an error when with others."""
    if question.id not in questions:
        return False
    if questions[question.id].answers != question.answers or questions[question.id].type != question.type:
        raise BiotuneError(f"{path}: question {question.id} was read from {origin[question.id]} with different "
                           f"answers or type")
    return True


# ------------------------------------------------------------------------------------- yes / no / maybe


def read_decisions_tsv(path: str | Path) -> list[DecisionExample]:
    """BLURB's ``question: <question> context: <context><TAB><yes|no|maybe>`` rows; ids ``<file stem>_<line>``.

    A first line whose last cell is ``label`` is a header and skipped; blank lines are skipped.
    Labels are read case-insensitively and kept lower-case. The context is everything after the
    first `` context: `` (BLURB's joined abstract sections never contain that marker).
    """
    path = existing_file(path)
    examples: list[DecisionExample] = []
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        cells = line.split("\t")
        if number == 1 and cells[-1].strip().lower() == "label":
            continue
        where = f"{path}:{number}"
        if len(cells) != 2 or not cells[0].startswith(_QUESTION) or _CONTEXT not in cells[0]:
            raise BiotuneError(f"{where}: expected 'question: ... context: ...<TAB>label', got {line[:80]!r}")
        question, context = cells[0][len(_QUESTION):].split(_CONTEXT, 1)
        label = _decision(where, cells[1])
        examples.append(DecisionExample(id=f"{path.stem}_{number}", question=question.strip(), context=context.strip(),
                                        label=label, file=str(path), item=f"line {number}"))
    if not examples:
        raise BiotuneError(f"file {path} contains no examples")
    return examples


def read_pubmedqa_json(path: str | Path) -> list[DecisionExample]:
    """PubMedQA: ``ori_pqal.json`` (training) or ``test_ground_truth.json`` (the official test).

    ori_pqal.json maps a PMID to QUESTION, CONTEXTS (joined with a space, as BLURB's TSV does)
    and final_decision. When a test_ground_truth.json sits beside it, its PMIDs are left out, so
    training never sees the official test. Reading test_ground_truth.json ({pmid: label}) gives
    those test questions with its labels, their text taken from the ori_pqal.json beside it.
    """
    path = existing_file(path)
    data = _load_json(path)
    if not isinstance(data, dict) or not data:
        raise BiotuneError(f"{path}: not a PubMedQA file (expected {{pmid: ...}}), found {_describe(data)}")
    if all(isinstance(value, str) for value in data.values()):
        return _pubmedqa_test(path, data)
    records = _pubmedqa_records(path, data)
    test = path.parent / PUBMEDQA_TEST
    held_out = set(_load_json(test)) if test.is_file() and test != path else set()
    examples = [_pubmedqa_example(path, pmid, record, record["final_decision"])
                for pmid, record in records.items() if pmid not in held_out]
    if not examples:
        raise BiotuneError(f"{path}: every question is in {test} (the test set): nothing left to train on")
    return examples


def decisions_from_gold(examples: Iterable[QaExample], questions: Mapping[str, QaQuestion]) -> list[DecisionExample]:
    """One yes/no example per BioASQ question: its snippets joined in order with a space as context.

    `examples` and `questions` are `read_gold(paths, "yesno")`'s; a question that is not yes/no
    is an error naming its file.
    """
    contexts: dict[str, list[QaExample]] = {}
    for example in examples:
        contexts.setdefault(example.question_id, []).append(example)
    decisions = []
    for qid, snippets in contexts.items():
        question = questions.get(qid)
        if question is None or question.type != "yesno":
            problem = "has no gold question" if question is None else f"is a {question.type} question, not yes/no"
            raise BiotuneError(f"{snippets[0].file}: question {qid} {problem}")
        decisions.append(DecisionExample(id=qid, question=question.body,
                                         context=" ".join(snippet.context.strip() for snippet in snippets),
                                         label=question.answers[0][0], file=snippets[0].file, item=qid))
    return decisions


def _pubmedqa_records(path: Path, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    for pmid, record in data.items():
        if not isinstance(record, dict) or not isinstance(record.get("QUESTION"), str) \
                or not isinstance(record.get("CONTEXTS"), list) \
                or not all(isinstance(text, str) for text in record["CONTEXTS"]):
            raise BiotuneError(f"{path}: {pmid} needs a QUESTION string and a CONTEXTS list of strings")
    return data


def _pubmedqa_test(path: Path, labels: dict[str, str]) -> list[DecisionExample]:
    source = path.parent / PUBMEDQA_CONTEXTS
    if not source.is_file():
        raise BiotuneError(f"{path}: PubMedQA test labels need {source} beside them for the questions' text")
    records = _pubmedqa_records(source, _load_json(source))
    missing = [pmid for pmid in labels if pmid not in records]
    if missing:
        raise BiotuneError(f"{path}: {len(missing)} test PMIDs are not in {source} (first: {missing[0]})")
    return [_pubmedqa_example(path, pmid, records[pmid], label) for pmid, label in labels.items()]


def _pubmedqa_example(path: Path, pmid: str, record: dict[str, Any], label: Any) -> DecisionExample:
    return DecisionExample(id=pmid, question=record["QUESTION"].strip(),
                           context=" ".join(text.strip() for text in record["CONTEXTS"]),
                           label=_decision(f"{path}: {pmid}", label), file=str(path), item=pmid)


def _decision(where: str, cell: Any) -> str:
    label = cell.strip().lower() if isinstance(cell, str) else cell
    if label not in DECISION_LABELS:
        raise BiotuneError(f"{where}: unknown label {cell!r} (expected {', '.join(DECISION_LABELS)})")
    return label


# ----------------------------------------------------------------------------------------------- JSON


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise BiotuneError(f"{path}:{error.lineno}: not valid JSON ({error.msg}, column {error.colno})") from None
    except UnicodeDecodeError as error:
        raise BiotuneError(f"{path}: not valid UTF-8 ({error.reason})") from None


def _describe(data: Any) -> str:
    """What a JSON value is, for an error: a dict's first keys, else its type."""
    if isinstance(data, dict):
        keys = list(data)[:5]
        return f"keys {', '.join(map(repr, keys))}" + (", ..." if len(data) > 5 else "") if keys else "an empty object"
    return f"a JSON {type(data).__name__}"
