"""The QA readers on tiny files: exact ids, offsets, synonyms and labels, and every error message."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from biotune.errors import BiotuneError
from biotune.tasks.qa.examples import AnswerSpan, DecisionExample, QaExample, QaQuestion
from biotune.tasks.qa.reading import (decisions_from_gold, default_gold_files, expand, gold_index, read_decisions_tsv,
                                      read_gold, read_pubmedqa_json, read_squad, sniff)

SHARED_QA = Path(__file__).resolve().parents[4] / "shared" / "data" / "qa"
CONTEXT = "BRCA1 and BRCA2 are tumour suppressors. BRCA1 is on chromosome 17."


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def squad(*items: tuple[str, str, str, list[dict[str, Any]] | None]) -> dict[str, Any]:
    """A SQuAD v1 file with one paragraph per (id, question, context, answers) item."""
    paragraphs = [{"context": context, "qas": [{"id": id, "question": question,
                                                **({"answers": answers} if answers is not None else {})}]}
                  for id, question, context, answers in items]
    return {"version": "BioASQ", "data": [{"title": "BioASQ", "paragraphs": paragraphs}]}


def gold_question(id: str, type: str, exact: Any, snippets: list[str] | None = None, body: str = "") -> dict[str, Any]:
    record: dict[str, Any] = {"id": id, "type": type, "body": body or f"question {id}?",
                              "snippets": [{"text": text, "document": "d"} for text in snippets or []]}
    if exact is not None:
        record["exact_answer"] = exact
    return record


# --------------------------------------------------------------------------------------------- SQuAD


def test_read_squad_training_items_spans_question_ids_and_synonyms(tmp_path: Path) -> None:
    path = write_json(tmp_path / "train.json", squad(
        ("q1_001", "Which gene?", CONTEXT, [{"text": "BRCA1", "answer_start": 40}]),
        ("q1_002", "Which gene?", "It is brca1 here.", [{"text": "brca1", "answer_start": 6}]),
        ("q2_001", "Which chromosome?", CONTEXT, [{"text": "17", "answer_start": 63}, {"text": "17", "answer_start": 63}]),
        ("plain", "No number?", CONTEXT, [{"text": "BRCA2", "answer_start": 10}]),
    ))
    examples, questions = read_squad(path)
    assert [(e.id, e.question_id, e.answers) for e in examples] == [
        ("q1_001", "q1", (AnswerSpan(40, 45),)), ("q1_002", "q1", (AnswerSpan(6, 11),)),
        ("q2_001", "q2", (AnswerSpan(63, 65),)), ("plain", "plain", (AnswerSpan(10, 15),))]
    assert examples[0] == QaExample("q1_001", "q1", "Which gene?", CONTEXT, (AnswerSpan(40, 45),), file=str(path),
                                    item="q1_001")
    assert questions == {"q1": QaQuestion("q1", "factoid", "Which gene?", (("BRCA1", "brca1"),)),
                         "q2": QaQuestion("q2", "factoid", "Which chromosome?", (("17",),)),
                         "plain": QaQuestion("plain", "factoid", "No number?", (("BRCA2",),))}


def test_read_squad_rejects_an_answer_start_that_does_not_match_its_text(tmp_path: Path) -> None:
    path = write_json(tmp_path / "bad.json", squad(("q1_001", "Which gene?", CONTEXT,
                                                    [{"text": "BRCA2", "answer_start": 40}])))
    with pytest.raises(BiotuneError, match=rf"^{path}: item q1_001: answer_start 40 does not match its text 'BRCA2' "
                                           r"\(the context there reads 'BRCA1'\)$"):
        read_squad(path)


def test_read_squad_test_file_takes_its_questions_from_the_gold(tmp_path: Path) -> None:
    path = write_json(tmp_path / "test.json", squad(("q1_000", "Which gene?", CONTEXT, []),
                                                    ("q9_000", "Is it?", CONTEXT, None)))
    gold = {"q1": QaQuestion("q1", "factoid", "Which gene?", (("BRCA1", "breast cancer 1"),)),
            "q9": QaQuestion("q9", "yesno", "Is it?", (("yes",),))}
    examples, questions = read_squad(path, gold)
    assert [(e.id, e.question_id, e.answers) for e in examples] == [("q1_000", "q1", ()), ("q9_000", "q9", ())]
    assert questions == gold
    with pytest.raises(BiotuneError, match=rf"^{path}: item q9_000: question q9 is not in the gold questions \(1 read\)$"):
        read_squad(path, {"q1": gold["q1"]})
    with pytest.raises(BiotuneError, match=rf"^{path}: item q1_000 has no answers \(a test file\): pass the BioASQ gold"):
        read_squad(path)


def test_read_squad_rejects_other_json_and_duplicate_ids(tmp_path: Path) -> None:
    path = write_json(tmp_path / "gold.json", {"questions": []})
    with pytest.raises(BiotuneError, match=rf"^{path}: not a SQuAD file \(expected a 'data' list of articles\), "
                                           r"found keys 'questions'$"):
        read_squad(path)
    twice = write_json(tmp_path / "twice.json", squad(("q1_001", "Q?", CONTEXT, None), ("q1_001", "Q?", CONTEXT, None)))
    with pytest.raises(BiotuneError, match=rf"^{twice}: item id q1_001 occurs more than once$"):
        read_squad(twice, {})
    empty = write_json(tmp_path / "empty.json", squad())
    with pytest.raises(BiotuneError, match=rf"^{empty}: contains no question-answer items$"):
        read_squad(empty)
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [\n', encoding="utf-8")
    with pytest.raises(BiotuneError, match=rf"^{broken}:2: not valid JSON"):
        read_squad(broken)


# ---------------------------------------------------------------------------------------- BioASQ gold


def gold_file(path: Path) -> Path:
    return write_json(path, {"questions": [
        gold_question("f1", "factoid", [["BRCA1", "breast cancer 1"], ["BRCA1 ", ""]], ["BRCA1 is a gene.", "  ", "Yes."]),
        gold_question("l1", "list", [["BRCA1"], ["BRCA2", "FANCD1"], "TP53"], ["BRCA1 and BRCA2.", "TP53 too."]),
        gold_question("y1", "yesno", "Yes", ["First snippet.", "Second snippet."]),
        gold_question("y2", "yesno", "no", ["Only one."]),
        gold_question("s1", "summary", None, ["Summary snippet."]),
    ]})


def test_read_gold_keeps_the_type_and_normalises_exact_answers(tmp_path: Path) -> None:
    path = gold_file(tmp_path / "1B1_golden.json")
    examples, questions = read_gold([path], "factoid")
    # the blank snippet (position 1) is skipped, positions stay the file's
    assert [(e.id, e.question_id, e.context) for e in examples] == [("f1_000", "f1", "BRCA1 is a gene."),
                                                                     ("f1_002", "f1", "Yes.")]
    assert examples[0].file == str(path) and examples[0].answers == ()
    assert questions == {"f1": QaQuestion("f1", "factoid", "question f1?", (("BRCA1", "breast cancer 1"),))}
    _, lists = read_gold(path, "list")
    assert lists["l1"].answers == (("BRCA1",), ("BRCA2", "FANCD1"), ("TP53",))
    examples, yesno = read_gold(path, "yesno")
    assert [q.answers for q in yesno.values()] == [(("yes",),), (("no",),)]
    assert [e.id for e in examples] == ["y1_000", "y1_001", "y2_000"]


def test_read_gold_errors_name_the_file_and_question(tmp_path: Path) -> None:
    empty = write_json(tmp_path / "a.json", {"questions": [gold_question("l9", "list", [["x"]], [])]})
    with pytest.raises(BiotuneError, match=rf"^{empty}: question l9 \(list\) has no snippets \(with text\)"):
        read_gold(empty, "list")
    wrong = write_json(tmp_path / "b.json", {"questions": [gold_question("f1", "factoid", [["x"]], ["x"]),
                                                           gold_question("f2", "factoid", [["y"]], ["y"]),
                                                           gold_question("y1", "yesno", "yes", ["z"])]})
    with pytest.raises(BiotuneError, match=rf"^{wrong}: no list questions \(a gold file of the wrong type\?\); "
                                           r"it has: factoid 2, yesno 1$"):
        read_gold(wrong, "list")
    label = write_json(tmp_path / "c.json", {"questions": [gold_question("y1", "yesno", "maybe", ["z"])]})
    with pytest.raises(BiotuneError, match=rf"^{label}: question y1 \(yesno\): exact_answer 'maybe' is not 'yes' or 'no'$"):
        read_gold(label, "yesno")
    squad_file = write_json(tmp_path / "d.json", squad(("q_001", "Q?", CONTEXT, None)))
    with pytest.raises(BiotuneError, match=rf"^{squad_file}: not a BioASQ gold file \(expected a 'questions' list\), "
                                           r"found keys 'version', 'data'$"):
        read_gold(squad_file, "list")
    with pytest.raises(BiotuneError, match=r"^unknown question type 'summary'; choose one of: factoid, list, yesno$"):
        read_gold(wrong, "summary")


def test_read_gold_duplicates_keep_the_first_unless_answers_differ(tmp_path: Path) -> None:
    first = write_json(tmp_path / "1.json", {"questions": [gold_question("l1", "list", [["a"], ["b"]], ["a b"])]})
    same = write_json(tmp_path / "2.json", {"questions": [gold_question("l1", "list", [["a"], ["b"]], ["other"]),
                                                          gold_question("l2", "list", [["c"]], ["c"])]})
    examples, questions = read_gold([first, same], "list")
    assert [e.id for e in examples] == ["l1_000", "l2_000"] and examples[0].context == "a b"
    assert list(questions) == ["l1", "l2"]
    other = write_json(tmp_path / "3.json", {"questions": [gold_question("l1", "list", [["a"]], ["a"])]})
    with pytest.raises(BiotuneError, match=rf"^{other}: question l1 was read from {first} with different answers"):
        read_gold([first, other], "list")


def test_a_question_without_answer_text_is_left_out_with_a_warning(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    path = write_json(tmp_path / "g.json", {"questions": [gold_question("f1", "factoid", [[""]], ["x"]),
                                                          gold_question("f2", "factoid", [["y"]], ["y"])]})
    with caplog.at_level(logging.WARNING, logger="biotune"):
        _, questions = read_gold(path, "factoid")
    assert list(questions) == ["f2"]
    assert "question f1 (factoid): left out: its exact_answer has no answer text" in caplog.text


def test_gold_index_and_default_gold_files_find_a_test_files_gold(tmp_path: Path) -> None:
    gold = gold_file(tmp_path / "bioasq" / "golden" / "7B_golden.json")
    gold_file(tmp_path / "bioasq" / "golden" / "6B1_golden.json")
    (tmp_path / "bioasq" / "golden" / "notes.json").write_text("{}", encoding="utf-8")
    test = write_json(tmp_path / "bioasq" / "squad" / "test.json", squad(("l1_001", "Which?", CONTEXT, None)))
    files = default_gold_files(test)
    assert files == [gold.parent / "6B1_golden.json", gold]
    index = gold_index(files)
    assert list(index) == ["f1", "l1", "y1", "y2"]  # no summary
    _, questions = read_squad(test, index)
    assert questions["l1"].type == "list" and questions["l1"].answers[1] == ("BRCA2", "FANCD1")
    assert default_gold_files(tmp_path / "elsewhere" / "x" / "test.json") == []


# ----------------------------------------------------------------------------------- yes / no / maybe


def test_read_decisions_tsv(tmp_path: Path) -> None:
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\n"
                    "question: Is it? context: It is.\tyes\n\n"
                    "question: Is it not? context: Maybe. context: still one context.\tMaybe\n", encoding="utf-8")
    assert read_decisions_tsv(path) == [
        DecisionExample("train_2", "Is it?", "It is.", "yes", file=str(path), item="line 2"),
        DecisionExample("train_4", "Is it not?", "Maybe. context: still one context.", "maybe", file=str(path),
                        item="line 4")]


@pytest.mark.parametrize(("row", "message"), [
    ("question: Is it? context: It is.\tperhaps", r":1: unknown label 'perhaps' \(expected yes, no, maybe\)$"),
    ("Is it? context: It is.\tyes", r":1: expected 'question: ... context: ...<TAB>label', got 'Is it\? context"),
    ("question: Is it? It is.\tyes", r":1: expected 'question: "),
    ("question: Is it? context: It is.", r":1: expected 'question: "),
])
def test_read_decisions_tsv_errors_name_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(row + "\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match=rf"^{path}{message}"):
        read_decisions_tsv(path)


def pubmedqa_folder(folder: Path, with_test: bool = True) -> Path:
    records = {pmid: {"QUESTION": f"Does {pmid} work?", "CONTEXTS": [f"Part one of {pmid}.", "Part two."],
                      "final_decision": label, "LONG_ANSWER": "ignored"}
               for pmid, label in (("11", "yes"), ("22", "no"), ("33", "maybe"), ("44", "yes"))}
    ori = write_json(folder / "ori_pqal.json", records)
    if with_test:
        write_json(folder / "test_ground_truth.json", {"33": "maybe", "11": "yes"})
    return ori


def test_pubmedqa_training_leaves_out_the_official_test(tmp_path: Path) -> None:
    ori = pubmedqa_folder(tmp_path / "pubmedqa")
    examples = read_pubmedqa_json(ori)
    assert [(e.id, e.label) for e in examples] == [("22", "no"), ("44", "yes")]
    assert examples[0] == DecisionExample("22", "Does 22 work?", "Part one of 22. Part two.", "no", file=str(ori),
                                          item="22")
    test = read_pubmedqa_json(ori.parent / "test_ground_truth.json")
    assert [(e.id, e.question, e.context, e.label) for e in test] == [
        ("33", "Does 33 work?", "Part one of 33. Part two.", "maybe"), ("11", "Does 11 work?", "Part one of 11. Part two.", "yes")]
    alone = pubmedqa_folder(tmp_path / "no_test", with_test=False)
    assert [e.id for e in read_pubmedqa_json(alone)] == ["11", "22", "33", "44"]


def test_pubmedqa_errors(tmp_path: Path) -> None:
    lonely = write_json(tmp_path / "a" / "test_ground_truth.json", {"11": "yes"})
    with pytest.raises(BiotuneError, match=rf"^{lonely}: PubMedQA test labels need {lonely.parent / 'ori_pqal.json'} beside"):
        read_pubmedqa_json(lonely)
    ori = pubmedqa_folder(tmp_path / "b", with_test=False)
    unknown = write_json(tmp_path / "b" / "test_ground_truth.json", {"11": "yes", "99": "no"})
    with pytest.raises(BiotuneError, match=rf"^{unknown}: 1 test PMIDs are not in {ori} \(first: 99\)$"):
        read_pubmedqa_json(unknown)
    write_json(unknown, {"11": "possibly"})
    with pytest.raises(BiotuneError, match=rf"^{unknown}: 11: unknown label 'possibly' \(expected yes, no, maybe\)$"):
        read_pubmedqa_json(unknown)


def test_decisions_from_gold_joins_a_questions_snippets(tmp_path: Path) -> None:
    path = gold_file(tmp_path / "g.json")
    decisions = decisions_from_gold(*read_gold(path, "yesno"))
    assert decisions == [DecisionExample("y1", "question y1?", "First snippet. Second snippet.", "yes", file=str(path),
                                         item="y1"),
                         DecisionExample("y2", "question y2?", "Only one.", "no", file=str(path), item="y2")]
    examples, questions = read_gold(path, "list")
    with pytest.raises(BiotuneError, match=rf"^{path}: question l1 is a list question, not yes/no$"):
        decisions_from_gold(examples, questions)


# ----------------------------------------------------------------------------------- sniff and expand


def test_sniff_tells_the_files_apart(tmp_path: Path) -> None:
    gold = gold_file(tmp_path / "g.json")
    ori = pubmedqa_folder(tmp_path / "p")
    tsv = tmp_path / "t.tsv"
    tsv.write_text("question: a context: b\tyes\n", encoding="utf-8")
    kinds = [sniff(p) for p in (write_json(tmp_path / "s.json", squad()), gold, ori, ori.parent / "test_ground_truth.json", tsv)]
    assert kinds == ["squad", "gold", "pubmedqa", "pubmedqa_test", "tsv"]
    other = write_json(tmp_path / "o.json", [1, 2])
    with pytest.raises(BiotuneError, match=rf"^{other}: not a question-answering file: found a JSON list; expected SQuAD"):
        sniff(other)
    text = tmp_path / "x.txt"
    text.write_text("hello", encoding="utf-8")
    with pytest.raises(BiotuneError, match=rf"^{text}: not a question-answering file \(expected \.json"):
        sniff(text)


def test_expand_globs_sorted_and_plain_paths(tmp_path: Path) -> None:
    for name in ("5B1_golden.json", "4B2_golden.json", "4B1_golden.json", "4B5_golden.json"):
        (tmp_path / name).write_text("{}", encoding="utf-8")
    assert expand(tmp_path / "[45]B[1-4]_golden.json") == [tmp_path / n for n in ("4B1_golden.json", "4B2_golden.json",
                                                                                   "5B1_golden.json")]
    assert expand(str(tmp_path / "missing.json")) == [tmp_path / "missing.json"]
    with pytest.raises(BiotuneError, match=r"^no file matches .*/7B\*\.json$"):
        expand(tmp_path / "7B*.json")
    odd = tmp_path / "data [v2]"
    odd.mkdir()
    (odd / "4B1_golden.json").write_text("{}", encoding="utf-8")
    assert expand(odd / "4B[1-4]_golden.json") == [odd / "4B1_golden.json"]
    assert expand(odd / "4B1_golden.json") == [odd / "4B1_golden.json"]


# ------------------------------------------------------------------------------ the real files (shared)


needs_shared = pytest.mark.skipif(not (SHARED_QA / "bioasq" / "golden" / "7B_golden.json").is_file(),
                                  reason="QA data (../shared/data/qa) is not present")


@needs_shared
def test_shared_bioasq_squad_counts() -> None:
    examples, questions = read_squad(SHARED_QA / "bioasq" / "squad" / "BioASQ-train-factoid-7b.json")
    assert (len(examples), len(questions)) == (4231, 530)
    assert all(len(example.answers) == 1 for example in examples)
    squad_test = SHARED_QA / "bioasq" / "squad" / "BioASQ-test-factoid-7b.json"
    examples, questions = read_squad(squad_test, gold_index(default_gold_files(squad_test)))
    assert (len(examples), len(questions), {q.type for q in questions.values()}) == (512, 162, {"factoid"})


@needs_shared
def test_shared_bioasq_gold_counts() -> None:
    golden = SHARED_QA / "bioasq" / "golden"
    counts = {type: len(read_gold(golden / "7B_golden.json", type)[1]) for type in ("factoid", "list", "yesno")}
    assert counts == {"factoid": 162, "list": 88, "yesno": 140}
    assert len(read_gold(golden / "[456]B*_golden.json", "list")[1]) == 246
    assert len(decisions_from_gold(*read_gold(golden / "7B_golden.json", "yesno"))) == 140


@needs_shared
def test_shared_decision_counts() -> None:
    sizes = {folder: [len(read_decisions_tsv(SHARED_QA / folder / f"{split}.tsv")) for split in ("train", "dev", "test")]
             for folder in ("bioasq/blurb_yesno", "pubmedqa/blurb")}
    assert sizes == {"bioasq/blurb_yesno": [670, 75, 140], "pubmedqa/blurb": [450, 50, 500]}
    train = read_pubmedqa_json(SHARED_QA / "pubmedqa" / "ori_pqal.json")
    test = read_pubmedqa_json(SHARED_QA / "pubmedqa" / "test_ground_truth.json")
    assert (len(train), len(test)) == (500, 500) and not {e.id for e in train} & {e.id for e in test}
