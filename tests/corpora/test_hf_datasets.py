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


def test_export_refuses_pair_files_and_an_existing_folder(toy_corpus: Path, tmp_path: Path) -> None:
    from biotune.corpora.hf_datasets import export_corpus

    gad = tmp_path / "data" / "gad" / "blurb"
    gad.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (gad / f"{split}.tsv").write_text("@GENE$ causes @DISEASE$ .\t1\n", encoding="utf-8")
    with pytest.raises(BiotuneError, match=r"^corpus 'gad': its re files \(train.tsv\) have no datasets export; "
                                           r"documents export as BigBIO KB, NER sentence files as tokens/ner_tags$"):
        export_corpus("gad", tmp_path / "gad_out", data_dir=tmp_path / "data")
    (tmp_path / "taken").mkdir()
    with pytest.raises(BiotuneError, match=r"taken exists; pass --overwrite"):
        export_corpus(str(toy_corpus), tmp_path / "taken")
    assert not (tmp_path / "gad_out").exists()
    before = {p.name: p.read_bytes() for p in toy_corpus.iterdir()}
    for target in (toy_corpus, toy_corpus / "export", toy_corpus.parent):  # the corpus's own files, even with --overwrite
        with pytest.raises(BiotuneError, match=r"^export folder .* is, holds or lies inside the input .*; writing it "
                                               r"would destroy the input$"):
            export_corpus(str(toy_corpus), target, overwrite=True)
    assert {p.name: p.read_bytes() for p in toy_corpus.iterdir()} == before


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
