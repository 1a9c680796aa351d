"""Hugging Face datasets as corpora: a BigBIO KB dataset built here, trained on; corpora exported and read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import pytest
from typer.testing import CliRunner

from biotune.cli import app
from biotune.corpora.registry import resolve_corpus
from biotune.errors import BiotuneError
from biotune.formats.document_formats import iter_documents
from biotune.formats.documents import BY_ANNOTATION
from tests.conftest import tiny_experiment

# (title, abstract, [(mention, type, MeSH id)]): words of the tiny backbone's vocabulary
DOCUMENTS = [
    ("aspirin and severe asthma .", "the patient developed acute tremor after lithium .",
     [("aspirin", "Chemical", "D001241"), ("asthma", "Disease", "D001249"), ("tremor", "Disease", "D014202"),
      ("lithium", "Chemical", "D008094")]),
    ("heparin and bleeding .", "the patient was given warfarin and developed seizures .",
     [("heparin", "Chemical", "D006493"), ("bleeding", "Disease", "D006470"), ("warfarin", "Chemical", "D014859"),
      ("seizures", "Disease", "D012640")]),
    ("cisplatin and nephrotoxicity .", "naloxone was given after hypotension .",
     [("cisplatin", "Chemical", "D002945"), ("nephrotoxicity", "Disease", "D007674"),
      ("naloxone", "Chemical", "D009270"), ("hypotension", "Disease", "D007022")]),
]


def kb_row(number: int, title: str, abstract: str, mentions: list[tuple[str, str, str]]) -> dict[str, Any]:
    """A bigbio_kb row: title at 0, abstract one character after it, a CID relation from the first chemical."""
    text = f"{title} {abstract}"
    entities = []
    for k, (mention, type_, mesh) in enumerate(mentions):
        start = text.index(mention)
        entities.append({"id": f"{number}-T{k}", "type": type_, "text": [mention], "offsets": [[start, start + len(mention)]],
                         "normalized": [{"db_name": "MESH", "db_id": mesh}]})
    return {"id": str(number), "document_id": f"PMID{number}",
            "passages": [{"id": f"{number}-t", "type": "title", "text": [title], "offsets": [[0, len(title)]]},
                         {"id": f"{number}-a", "type": "abstract", "text": [abstract],
                          "offsets": [[len(title) + 1, len(text)]]}],
            "entities": entities, "events": [], "coreferences": [],
            "relations": [{"id": f"{number}-R0", "type": "CID", "arg1_id": f"{number}-T0", "arg2_id": f"{number}-T1",
                           "normalized": []}]}


@pytest.fixture()
def bigbio_folder(tmp_path: Path) -> Path:
    """A save_to_disk DatasetDict in BigBIO's KB schema: 6 train, 3 validation, 3 test documents."""
    rows = [kb_row(n, *DOCUMENTS[n % len(DOCUMENTS)]) for n in range(12)]
    folder = tmp_path / "bigbio_toy"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows[:6]),
                          "validation": datasets.Dataset.from_list(rows[6:9]),
                          "test": datasets.Dataset.from_list(rows[9:])}).save_to_disk(str(folder))
    return folder


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIOTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BIOTUNE_DATA_DIR", raising=False)


def test_a_saved_bigbio_dataset_reads_as_documents(bigbio_folder: Path, tmp_path: Path) -> None:
    paths = resolve_corpus(f"hf:{bigbio_folder}")
    assert [p.name for p in (paths.train, paths.dev, paths.test)] == ["train.parquet", "validation.parquet",
                                                                       "test.parquet"]
    assert paths.folder.is_relative_to(tmp_path / "cache" / "corpora" / "hf")
    documents = list(iter_documents(paths.train))
    assert [d.id for d in documents] == [f"PMID{n}" for n in range(6)]
    first = documents[0]
    assert [p.type for p in first.passages] == ["title", "abstract"]
    assert [(a.text, a.type, a.concept_id) for a in first.annotations] == [
        ("aspirin", "Chemical", "MESH:D001241"), ("asthma", "Disease", "MESH:D001249"),
        ("tremor", "Disease", "MESH:D014202"), ("lithium", "Chemical", "MESH:D008094")]
    assert all(first.text[a.start_char:a.end_char] == a.text for a in first.annotations)
    (relation,) = first.relations
    assert (relation.type, relation.head, relation.tail, relation.by) == ("CID", "0-T0", "0-T1", BY_ANNOTATION)
    assert (relation.head_role, relation.tail_role) == ("Chemical", "Disease")
    assert resolve_corpus(f"hf:{bigbio_folder}").train == paths.train  # materialised once per dataset version


def test_a_discontinuous_entity_becomes_one_mention_per_fragment(tmp_path: Path) -> None:
    row = kb_row(0, *DOCUMENTS[0])
    row["entities"][1] = {"id": "0-T1", "type": "Disease", "text": ["severe", "asthma"],
                          "offsets": [[12, 18], [19, 25]], "normalized": []}
    folder = tmp_path / "split.parquet"
    datasets.Dataset.from_list([row]).to_parquet(str(folder))
    (doc,) = iter_documents(folder)
    assert [(a.text, a.id, a.concept_id) for a in doc.annotations if a.type == "Disease"] == [
        ("severe", "0-T1", None), ("asthma", "0-T1#1", None), ("tremor", "0-T2", "MESH:D014202")]


def test_ner_trains_and_evaluates_from_a_bigbio_dataset(bigbio_folder: Path, tmp_path: Path,
                                                        word_backbone: Path) -> None:
    from biotune.experiments.run import train

    train(tiny_experiment(word_backbone, f"hf:{bigbio_folder}", tmp_path / "out", epochs=1))
    scores = json.loads((tmp_path / "out" / "results" / "toy" / "seed_42" / "eval_test.json").read_text())
    per_type = scores["test"]["per_type"]
    assert (per_type["Chemical"]["support"], per_type["Disease"]["support"]) == (6, 6)  # 3 test documents x 2 each


def test_a_parquet_folder_is_read_where_it_is(bigbio_folder: Path, tmp_path: Path) -> None:
    saved = datasets.load_from_disk(str(bigbio_folder))
    folder = tmp_path / "parquet"
    folder.mkdir()
    for split in ("train", "test"):
        saved[split].to_parquet(str(folder / f"{split}.parquet"))
    paths = resolve_corpus(f"hf:{folder}")
    assert (paths.train, paths.dev, paths.test) == (folder / "train.parquet", None, folder / "test.parquet")
    assert len(list(iter_documents(paths.test))) == 3


def test_not_bigbio_and_offline_names_are_one_line_errors(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    datasets.DatasetDict({"train": datasets.Dataset.from_list([{"text": "a", "label": 0}]),
                          "test": datasets.Dataset.from_list([{"text": "b", "label": 1}])}).save_to_disk(str(folder))
    with pytest.raises(BiotuneError, match=r"^hf:.*plain: not a BigBIO KB \(bigbio_kb\) dataset: it lacks document_id, "
                                           r"passages, entities, relations; its fields are text, label "):
        resolve_corpus(f"hf:{folder}")
    with pytest.raises(BiotuneError) as caught:
        resolve_corpus("hf:no-such-user/no-such-dataset:kb")  # offline here and in CI
    assert str(caught.value).startswith("hf:no-such-user/no-such-dataset:kb: cannot load 'no-such-user/no-such-dataset' "
                                        "config 'kb' with datasets.load_dataset")
    assert "\n" not in str(caught.value)


def write_pubtator(path: Path, documents: list[tuple[str, str, list[tuple[str, str, str]]]], first: int) -> None:
    lines = []
    for n, (title, abstract, mentions) in enumerate(documents, start=first):
        text = f"{title} {abstract}"
        lines += [f"{n}|t|{title}", f"{n}|a|{abstract}"]
        lines += [f"{n}\t{text.index(m)}\t{text.index(m) + len(m)}\t{m}\t{t}\t{mesh}" for m, t, mesh in mentions]
        lines += [f"{n}\tCID\t{mentions[0][2]}\t{mentions[1][2]}", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_export_round_trip_of_a_registered_document_corpus(tmp_path: Path) -> None:
    """bc5cdr_cid (PubTator) -> datasets (BigBIO KB) -> hf: corpus: the same passages, mentions, ids and relations."""
    folder = tmp_path / "data" / "bc5cdr_pubtator"
    folder.mkdir(parents=True)
    for number, name in enumerate(("Training", "Development", "Test")):
        write_pubtator(folder / f"CDR_{name}Set.PubTator.txt", DOCUMENTS, first=100 * (number + 1))
    out = tmp_path / "exported"
    result = CliRunner().invoke(app, ["corpora", "export", "bc5cdr_cid", "--to", "datasets", str(out),
                                      "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    saved = datasets.load_from_disk(str(out))
    assert list(saved) == ["train", "validation", "test"] and saved["test"].num_rows == 3
    assert saved["test"][0]["entities"][0]["normalized"] == [{"db_name": "", "db_id": "D001241"}]

    original = list(iter_documents(folder / "CDR_TestSet.PubTator.txt", "pubtator"))
    back = list(iter_documents(resolve_corpus(f"hf:{out}").test))

    def content(docs: list) -> list:
        return [(d.id, [(p.type, p.offset, p.text) for p in d.passages],
                 [(a.start_char, a.end_char, a.type, a.text, a.concept_id) for a in d.annotations]) for d in docs]

    assert content(back) == content(original)
    relation = back[0].relations[0]
    by_id = {a.id: a for a in back[0].annotations}
    assert (relation.type, by_id[relation.head].concept_id, by_id[relation.tail].concept_id) == (
        "CID", original[0].relations[0].head, original[0].relations[0].tail)


def test_export_of_an_ner_sentence_corpus_as_tokens_and_tags(toy_corpus: Path, tmp_path: Path) -> None:
    from biotune.formats.readers import read_corpus_file

    out = tmp_path / "ner"
    CliRunner().invoke(app, ["corpora", "export", str(toy_corpus), "--to", "datasets", str(out)])
    saved = datasets.load_from_disk(str(out))
    names = saved["train"].features["ner_tags"].feature.names
    assert names == ["O", "B-Chemical", "B-Disease", "I-Disease"]  # the tags the files hold, O first
    gold = read_corpus_file(toy_corpus / "devel.tsv")
    assert [row["tokens"] for row in saved["validation"]] == [s.tokens for s in gold]
    assert [[names[i] for i in row["ner_tags"]] for row in saved["validation"]] == [s.tags for s in gold]
    refused = CliRunner().invoke(app, ["corpora", "export", str(toy_corpus), "--to", "csv", str(tmp_path / "c")])
    assert refused.exit_code == 2 and "--to 'csv'" in refused.output


def test_export_refuses_an_existing_folder_and_the_corpus_own(toy_corpus: Path, tmp_path: Path) -> None:
    from biotune.tasks.gold_datasets import export_corpus

    (tmp_path / "taken").mkdir()
    with pytest.raises(BiotuneError, match=r"taken exists; pass --overwrite"):
        export_corpus(str(toy_corpus), tmp_path / "taken")
    before = {p.name: p.read_bytes() for p in toy_corpus.iterdir()}
    for target in (toy_corpus, toy_corpus / "export", toy_corpus.parent):  # the corpus's own files, even with --overwrite
        with pytest.raises(BiotuneError, match=r"^export folder .* is, holds or lies inside the input .*; writing it "
                                               r"would destroy the input$"):
            export_corpus(str(toy_corpus), target, overwrite=True)
    assert {p.name: p.read_bytes() for p in toy_corpus.iterdir()} == before


# ---- registered corpora of the other tasks: their task's gold records ------------------------------------

def write_files(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    return folder


def export(name: str, data: Path, out: Path) -> datasets.DatasetDict:
    """`biotune corpora export NAME --to datasets OUT --data-dir DATA`, read back with `load_from_disk`."""
    result = CliRunner().invoke(app, ["corpora", "export", name, "--to", "datasets", str(out), "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]  # no staging folder left
    return datasets.load_from_disk(str(out))


def decoded(split: datasets.Dataset, field: str) -> list[dict[str, Any]]:
    """The rows with `field`'s ClassLabel ids (or lists of them) written as their names."""
    feature = split.features[field]
    names = (feature.feature if isinstance(feature, datasets.List) else feature).names
    return [{**row, field: [names[i] for i in row[field]] if isinstance(row[field], list) else names[row[field]]}
            for row in split]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def without(rows: list[dict[str, Any]], *fields: str) -> list[dict[str, Any]]:
    return [{key: value for key, value in row.items() if key not in fields} for row in rows]


def test_export_of_relation_pairs_labels_them_in_label2id_order(tmp_path: Path) -> None:
    """chemprot (BLURB's pre-masked rows, label ids decoded by its label2id.tsv): id, text, label as ClassLabel."""
    from biotune.tasks import get_task
    from biotune.tasks.re.examples import read_examples

    write_files(tmp_path / "data" / "chemprot", {
        "label2id.tsv": "false\t0\nCPR:3\t1\nCPR:4\t2\nCPR:9\t3\n",
        "train.tsv": "@CHEMICAL$ inhibits @GENE$ .\t2\n@CHEMICAL$ and @GENE$ .\t0\n\n@GENE$ binds @CHEMICAL$ .\t1\n",
        "dev.tsv": "@CHEM-GENE$ was seen .\t0\n",
        "test.tsv": "index\tsentence\tlabel\n17\t@CHEMICAL$ activates @GENE$ .\t1\n18\t@GENE$ , @CHEMICAL$ .\t0\n"})
    saved = export("chemprot", tmp_path / "data", tmp_path / "out")
    assert list(saved) == ["train", "validation", "test"]
    assert saved["train"].features["label"].names == ["false", "CPR:3", "CPR:4", "CPR:9"]  # CPR:9 in no split
    assert saved["train"].to_list() == [
        {"id": "train.tsv:1", "text": "@CHEMICAL$ inhibits @GENE$ .", "label": 2},
        {"id": "train.tsv:2", "text": "@CHEMICAL$ and @GENE$ .", "label": 0},
        {"id": "train.tsv:4", "text": "@GENE$ binds @CHEMICAL$ .", "label": 1}]
    assert decoded(saved["test"], "label") == [{"id": "17", "text": "@CHEMICAL$ activates @GENE$ .", "label": "CPR:3"},
                                               {"id": "18", "text": "@GENE$ , @CHEMICAL$ .", "label": "false"}]
    assert saved["validation"]["text"] == ["@CHEM-GENE$ was seen ."]
    # round trip: the rows as BioBERT's indexed TSV are the records `biotune predict` reads, and the same gold
    rows = decoded(saved["test"], "label")
    back = tmp_path / "back.tsv"
    back.write_text("index\tsentence\tlabel\n" + "".join(f"{r['id']}\t{r['text']}\t{r['label']}\n" for r in rows),
                    encoding="utf-8")
    assert list(get_task("re").read_records(back)) == without(rows, "label")
    assert [(e.id, e.label) for e in read_examples(back)] == [(r["id"], r["label"]) for r in rows]


def test_export_of_yes_no_questions_orders_the_answers_yes_no_maybe(tmp_path: Path) -> None:
    """pubmedqa (BLURB's TSV): id, question, context, label as ClassLabel(yes, no, maybe) whatever the file order."""
    from biotune.tasks import get_task

    def row(question: str, context: str, label: str) -> str:
        return f"question: {question} context: {context}\t{label}\n"

    write_files(tmp_path / "data" / "pubmedqa" / "blurb", {
        "train.tsv": "sentence\tlabel\n" + row("Does lithium cause tremor?", "Tremor was seen.", "no")
                     + row("Is aspirin safe?", "It was safe.", "yes"),
        "dev.tsv": row("Does heparin bleed?", "Bleeding occurred.", "yes"),
        "test.tsv": row("Can cisplatin harm kidneys?", "Possibly.", "maybe")})
    saved = export("pubmedqa", tmp_path / "data", tmp_path / "out")
    assert saved["train"].features["label"].names == ["yes", "no", "maybe"]
    assert saved["train"].to_list() == [
        {"id": "train_2", "question": "Does lithium cause tremor?", "context": "Tremor was seen.", "label": 1},
        {"id": "train_3", "question": "Is aspirin safe?", "context": "It was safe.", "label": 0}]
    assert saved["test"]["label"] == [2]
    rows = decoded(saved["validation"], "label")
    assert rows == [{"id": "dev_1", "question": "Does heparin bleed?", "context": "Bleeding occurred.", "label": "yes"}]
    back = write_jsonl(tmp_path / "back.jsonl", rows)
    assert list(get_task("yesno").read_records(back)) == without(rows, "label")


def squad(items: list[tuple[str, str, str, list[tuple[str, int]]]]) -> str:
    """A SQuAD-v1 file of (item id, question, context, [(answer, start)]) items, one paragraph each."""
    return json.dumps({"data": [{"paragraphs": [
        {"context": context, "qas": [{"id": id, "question": question,
                                      "answers": [{"text": text, "answer_start": start} for text, start in answers]}]}
        for id, question, context, answers in items]}]})


def gold(questions: list[tuple[str, str, str, Any, list[str]]]) -> str:
    """A BioASQ gold file of (id, type, body, exact_answer, snippet texts) questions."""
    return json.dumps({"questions": [{"id": id, "type": type, "body": body, "exact_answer": exact,
                                      "snippets": [{"text": text} for text in snippets]}
                                     for id, type, body, exact, snippets in questions]})


def test_export_of_extractive_questions_gives_contexts_exact_answers_and_spans(tmp_path: Path) -> None:
    """bioasq_factoid (SQuAD items, the test's gold in golden/) and bioasq_list (gold files of every type, read
    as its list questions): one row per question, the records `biotune predict` reads plus the gold."""
    from biotune.tasks import get_task

    bioasq = tmp_path / "data" / "bioasq"
    write_files(bioasq / "squad", {
        "BioASQ-train-factoid-7b.json": squad([
            ("q1_001", "What does lithium cause?", "lithium causes tremor .", [("tremor", 15)]),
            ("q1_002", "What does lithium cause?", "tremor after lithium .", [("tremor", 0)]),
            ("q2_001", "Which drug was given?", "the patient was given aspirin .", [("aspirin", 22)])]),
        "BioASQ-test-factoid-7b.json": squad([("t1_001", "Which drug bleeds?", "heparin and bleeding .", [])])})
    write_files(bioasq / "golden", {
        "7B_golden.json": gold([("t1", "factoid", "Which drug bleeds?", [["heparin", "Heparin sodium"]], ["x ."]),
                                ("t2", "list", "Which drugs cause tremor?", [["lithium"], ["valproate", "VPA"]],
                                 ["lithium and valproate .", "tremor ."]),
                                ("t3", "yesno", "Is it?", "yes", ["yes ."])]),
        "4B1_golden.json": gold([("f1", "factoid", "Which one?", [["aspirin"]], ["aspirin ."]),
                                 ("l1", "list", "Which genes?", [["BRCA1"], ["TP53"]], ["BRCA1 and TP53 ."])]),
        "4B5_golden.json": gold([("l2", "list", "Which ones?", [["KRAS"]], ["KRAS ."])])})

    factoid = export("bioasq_factoid", tmp_path / "data", tmp_path / "factoid")
    assert list(factoid) == ["train", "test"]  # the corpus has no dev split
    assert factoid["train"].to_list() == [
        {"id": "q1", "question": "What does lithium cause?",
         "contexts": ["lithium causes tremor .", "tremor after lithium ."], "type": "factoid", "exact_answer": [["tremor"]],
         "spans": [{"context": 0, "start": 15, "end": 21}, {"context": 1, "start": 0, "end": 6}]},
        {"id": "q2", "question": "Which drug was given?", "contexts": ["the patient was given aspirin ."],
         "type": "factoid", "exact_answer": [["aspirin"]], "spans": [{"context": 0, "start": 22, "end": 29}]}]
    assert factoid["test"].to_list() == [{"id": "t1", "question": "Which drug bleeds?",
                                          "contexts": ["heparin and bleeding ."], "type": "factoid",
                                          "exact_answer": [["heparin", "Heparin sodium"]], "spans": []}]

    listed = export("bioasq_list", tmp_path / "data", tmp_path / "list")
    assert [(row["id"], row["type"], row["exact_answer"]) for split in listed.values() for row in split] == [
        ("l1", "list", [["BRCA1"], ["TP53"]]), ("l2", "list", [["KRAS"]]),
        ("t2", "list", [["lithium"], ["valproate", "VPA"]])]  # the list questions alone (CorpusInfo.settings)
    rows = listed["test"].to_list()
    assert rows[0]["contexts"] == ["lithium and valproate .", "tremor ."] and rows[0]["spans"] == []
    records = factoid["train"].to_list() + rows
    back = write_jsonl(tmp_path / "back.jsonl", records)
    assert list(get_task("qa").read_records(back)) == without(records, "exact_answer", "spans")


def test_export_of_sentence_pairs_keeps_the_scores_as_written(tmp_path: Path) -> None:
    """blurb_biosses (BLURB's TSV): id, sentence1, sentence2, score as float64."""
    from biotune.tasks import get_task
    from biotune.tasks.similarity.reading import read_pairs

    header = "sentence1\tsentence2\tscore\n"
    write_files(tmp_path / "data" / "blurb" / "biosses", {
        "train.tsv": header + "KRAS is common .\tKras is frequent .\t2.2\nA cell .\tA gene .\t0\n",
        "dev.tsv": header + "TP53 binds .\tp53 binds DNA .\t3.4\n",
        "test.tsv": header + "VEGF grows vessels .\tAngiogenesis needs VEGF .\t4.0\n"})
    saved = export("blurb_biosses", tmp_path / "data", tmp_path / "out")
    assert saved["train"].features["score"] == datasets.Value("float64")
    assert saved["train"].to_list() == [
        {"id": "train.tsv:2", "sentence1": "KRAS is common .", "sentence2": "Kras is frequent .", "score": 2.2},
        {"id": "train.tsv:3", "sentence1": "A cell .", "sentence2": "A gene .", "score": 0.0}]
    assert (saved["validation"]["score"], saved["test"]["score"]) == ([3.4], [4.0])
    rows = saved["train"].to_list()
    back = write_jsonl(tmp_path / "back.jsonl", rows)
    assert list(get_task("similarity").read_records(back)) == rows  # JSONL records keep their gold score
    assert [(p.id, p.score) for p in read_pairs(back)] == [(r["id"], r["score"]) for r in rows]


def test_export_of_multi_label_texts_gives_a_list_of_class_labels(tmp_path: Path) -> None:
    """blurb_hoc (BLURB's HoC TSV): id, text, document, labels as a list of ClassLabel over the ten hallmarks."""
    from biotune.tasks import get_task
    from biotune.tasks.multilabel.reading import HOC_LABELS, read_labelled

    def vector(*marked: int) -> str:
        return ",".join(f"{k}_{int(k in marked)}" for k in range(10))

    header = "labels\tsentence\tindex\n"
    write_files(tmp_path / "data" / "blurb" / "hoc", {
        "train.tsv": header + f"{vector(6, 0)}\tVEGF drives angiogenesis and invasion .\t111_s0\n"
                              f"{vector()}\tMethods were standard .\t111_s1\n",
        "dev.tsv": header + f"{vector(9)}\tInflammation promotes tumours .\t222_s0\n",
        "test.tsv": header + f"{vector(7, 8)}\tCells resist death and proliferate .\t333_s4\n"})
    saved = export("blurb_hoc", tmp_path / "data", tmp_path / "out")
    assert saved["train"].features["labels"] == datasets.List(datasets.ClassLabel(names=list(HOC_LABELS)))
    assert saved["train"].to_list() == [
        {"id": "111_s0", "text": "VEGF drives angiogenesis and invasion .", "document": "111", "labels": [0, 6]},
        {"id": "111_s1", "text": "Methods were standard .", "document": "111", "labels": []}]
    rows = decoded(saved["test"], "labels")
    assert rows == [{"id": "333_s4", "text": "Cells resist death and proliferate .", "document": "333",
                     "labels": ["resisting cell death", "sustaining proliferative signaling"]}]
    back = write_jsonl(tmp_path / "back.jsonl", rows)  # a labelled JSONL split, and the records predict reads
    assert list(get_task("multilabel").read_records(back)) == rows
    examples, _ = read_labelled(back)
    assert [(e.id, e.document, e.text, e.labels) for e in examples] == [
        (r["id"], r["document"], r["text"], tuple(r["labels"])) for r in rows]


def test_hf_splits_serve_as_sources_dev_and_test_sets(bigbio_folder: Path, toy_corpus: Path, tmp_path: Path,
                                                      word_backbone: Path) -> None:
    """`hf:<folder>:<split>` (the split after the last colon) beside the configured TSV corpus's own splits."""
    from biotune.experiments.run import train

    hf = f"hf:{bigbio_folder}"
    config = tiny_experiment(word_backbone, toy_corpus, tmp_path / "out", epochs=1, strategy="joint",
                             sources=[{"name": "toy", "split": "train"}, {"name": "cdr", "split": f"{hf}:train"}])
    train(config.model_copy(update={"data": config.data.model_copy(update={"dev": f"{hf}:validation",
                                                                          "test": ["test", f"{hf}:test"]})}))
    run = tmp_path / "out" / "results" / "toy" / "seed_42"
    per_type = json.loads((run / "eval_bigbio_toy_test.json").read_text())["bigbio_toy_test"]["per_type"]
    assert (per_type["Chemical"]["support"], per_type["Disease"]["support"]) == (6, 6)  # 3 test documents x 2 each
    rows = {(row["role"], row["name"]): (row["corpus"], row["split"])
            for row in json.loads((run / "train_summary.json").read_text())["data"]}
    assert rows[("train", "cdr")] == (hf, "train")
    assert rows[("dev", "bigbio_toy_validation")] == (hf, "validation")
    assert rows[("test", "bigbio_toy_test")] == (hf, "test")
    card = (tmp_path / "out" / "checkpoints" / "toy" / "seed_42" / "best_model" / "README.md").read_text()
    assert "- `bigbio_toy` (a Hugging Face dataset, BigBIO KB schema)" in card


def test_hf_split_specs_name_the_split_and_list_the_ones_there_are(bigbio_folder: Path) -> None:
    from biotune.config import DataConfig
    from biotune.corpora.splits import corpus_split, locate

    data = DataConfig(corpus="unused")
    assert corpus_split("hf:bigbio/bc5cdr:bc5cdr_bigbio_kb:test") == ("hf:bigbio/bc5cdr:bc5cdr_bigbio_kb", "test")
    name, path, corpus = locate(f"hf:{bigbio_folder}:dev", data)
    assert (name, path.name, corpus) == ("bigbio_toy_dev", "validation.parquet", f"hf:{bigbio_folder}")
    with pytest.raises(BiotuneError, match=rf"^corpus 'hf:{bigbio_folder}' has no 'valid' split \(it has train, dev, "
                                           r"test; looked in [^\n]*\)$"):
        locate(f"hf:{bigbio_folder}:valid", data)
    with pytest.raises(BiotuneError, match=rf"^split 'hf:{bigbio_folder}' names no split: .*\({'hf:' + str(bigbio_folder)}:test\)$"):
        locate(f"hf:{bigbio_folder}", data)


def test_relations_train_and_evaluate_from_a_bigbio_dataset(bigbio_folder: Path, tmp_path: Path,
                                                            word_backbone: Path) -> None:
    """The dataset's relations through the document path: one candidate per (chemical id, disease id) of a
    document, labelled from its CID relation, scored per document as BioCreative V does."""
    from biotune.config import validate
    from biotune.experiments.run import train

    train(validate({"name": "toy", "output_dir": str(tmp_path / "out"), "task": "re",
                    "model": {"backbone": str(word_backbone), "max_length": 32, "dropout": 0.1},
                    "data": {"corpus": f"hf:{bigbio_folder}"},
                    "re": {"pairs": [["Chemical", "Disease"]], "scope": "document"},
                    "training": {"epochs": 1, "learning_rate": 5e-3, "batch_size": 8, "bf16": False}}, "test"))
    run = tmp_path / "out" / "results" / "toy" / "seed_42"
    summary = json.loads((run / "train_summary.json").read_text())
    scores = json.loads((run / "eval_test.json").read_text())["test"]
    counts = {d["role"]: d["counts"] for d in summary["data"]}
    # 2 chemicals x 2 diseases per document, the CID one positive: 6 / 3 / 3 documents
    assert counts == {"train": {"pairs": 24, "0": 18, "CID": 6}, "dev": {"pairs": 12, "0": 9, "CID": 3},
                      "test": {"pairs": 12, "0": 9, "CID": 3}}
    assert scores["candidates"] == {"built": 12, "too_far": 0, "too_far_related": 0}
    documents = scores["documents"]
    assert (documents["documents"], documents["tp"] + documents["fn"]) == (3, 3)  # every test CID pair is gold
    assert scores["headline_key"] == "documents.f1"
