"""Model cards: every finished run's `best_model/README.md`, from its own records, with Hub metadata.

Tiny random backbones and corpora built here: an NER corpus whose types have different counts in
every split (so a swapped or misplaced count shows), an RE and a QA run on the toy data of their
task tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import biotune.experiments.run as train_module
from biotune.experiments.aggregate import mean_std
from biotune.experiments.model_card import CARD_FILE, base_model_id, build_card, selected_epoch
from biotune.experiments.seeds import run_seeds
from biotune.experiments.run import train
from tests.conftest import CHEMICALS, _sentences, tiny_experiment, write_tsv


def counted_sentences(n: int, chemical_only: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """`n` templated Chemical + Disease sentences, then `chemical_only` sentences with one chemical and no disease."""
    extra = [(["the", "patient", "was", "given", CHEMICALS[k % len(CHEMICALS)], "."],
              ["O", "O", "O", "O", "B-Chemical", "O"]) for k in range(chemical_only)]
    return _sentences(n, seed) + extra


@pytest.fixture(scope="module")
def counted_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("counted") / "toy_ner"
    write_tsv(folder / "train.tsv", counted_sentences(24, 7, seed=1))
    write_tsv(folder / "devel.tsv", counted_sentences(8, 3, seed=2))
    write_tsv(folder / "test.tsv", counted_sentences(12, 1, seed=3))  # >= MIN_SUPPORT per type
    return folder


def hand_counts(path: Path) -> dict[str, int]:
    """Sentences and B- tags per type, read from the file's lines without biotune."""
    lines = path.read_text(encoding="utf-8").split("\n")
    sentences = sum(1 for i, line in enumerate(lines) if line and (i + 1 == len(lines) or not lines[i + 1]))
    tags = [line.rsplit("\t", 1)[1] for line in lines if line]
    types = sorted({t[2:] for t in tags if t.startswith("B-")})
    return {"sentences": sentences, **{t: tags.count(f"B-{t}") for t in types}}


def front_matter(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n", 2)[1])


def lookup(result: dict[str, Any], dotted: str) -> Any:
    node: Any = result
    for part in dotted.split("."):
        node = node[part]
    return node


def table_row(card: str, label: str) -> list[str]:
    """The cells of the first Markdown table row of `card` whose first cell is `label`."""
    for line in card.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no table row {label!r}")


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory: pytest.TempPathFactory, word_backbone: Path, counted_corpus: Path):
    """`run_seeds` over seeds 1 and 2 of a 3-epoch NER run: (config, outcome)."""
    config = tiny_experiment(word_backbone, counted_corpus, tmp_path_factory.mktemp("cards"), epochs=3)
    return config, run_seeds(config, [1, 2])


def seed_folders(config, seed: int) -> tuple[Path, Path]:
    root = Path(config.output_dir)
    return root / "checkpoints" / config.run_name / f"seed_{seed}" / "best_model", root / "results" / config.run_name / f"seed_{seed}"


def test_the_card_front_matter_parses_and_its_model_index_holds_the_eval_numbers(seeds_run) -> None:
    from huggingface_hub import ModelCard

    config, _ = seeds_run
    model, results = seed_folders(config, 1)
    card = (model / CARD_FILE).read_text(encoding="utf-8")
    meta = front_matter(card)
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "token-classification"
    assert {"biotune", "biomedical", "ner"} <= set(meta["tags"])
    assert meta["datasets"] == ["toy_ner"] and "base_model" not in meta  # a local backbone has no Hub id
    saved = json.loads((results / "eval_test.json").read_text(encoding="utf-8"))["test"]
    [entry] = meta["model-index"]
    [result] = entry["results"]
    assert entry["name"] == "toy" and result["task"]["type"] == "token-classification"
    assert result["dataset"] == {"name": "toy_ner", "type": "toy_ner", "split": "test"}
    metrics = {m["name"]: m for m in result["metrics"]}
    assert set(metrics) == {f"{block}.{m}" for block in ("micro", "macro", "token") for m in ("precision", "recall", "f1")}
    assert result["metrics"][0]["name"] == saved["headline_key"]
    for name, metric in metrics.items():
        assert metric["value"] == lookup(saved, name) and metric["type"] == name.split(".")[-1]
    assert sorted(meta["metrics"]) == ["f1", "precision", "recall"]
    parsed = ModelCard.load(model / CARD_FILE)  # the Hub's own parser reads the same results
    assert {(r.metric_name, r.metric_value) for r in parsed.data.eval_results} == {(n, m["value"]) for n, m in metrics.items()}


def test_the_card_shows_the_test_tables_word_level_included(seeds_run) -> None:
    config, _ = seeds_run
    model, results = seed_folders(config, 2)
    card = (model / CARD_FILE).read_text(encoding="utf-8")
    saved = json.loads((results / "eval_test.json").read_text(encoding="utf-8"))["test"]
    tests = card.split("## Test results", 1)[1].split("## Results over seeds", 1)[0]
    for label, block in [("Chemical", saved["per_type"]["Chemical"]), ("**micro**", saved["micro"]),
                         ("**macro**", saved["macro"]), ("**token**", saved["token"])]:
        assert table_row(tests, label) == [f"{100 * block[m]:.2f}" for m in ("precision", "recall", "f1")] + \
                                          [str(block["support"])]
    assert f"Headline (`micro.f1`): **{100 * saved['micro']['f1']:.2f}**" in tests


def test_label_counts_per_split_equal_hand_counts(seeds_run, counted_corpus: Path) -> None:
    config, _ = seeds_run
    model, results = seed_folders(config, 1)
    expected = {"train": hand_counts(counted_corpus / "train.tsv"), "dev": hand_counts(counted_corpus / "devel.tsv"),
                "test": hand_counts(counted_corpus / "test.tsv")}
    assert expected["train"] == {"sentences": 31, "Chemical": 31, "Disease": 24}  # the fixture's own arithmetic
    summary = json.loads((results / "train_summary.json").read_text(encoding="utf-8"))
    assert {row["role"]: row["counts"] for row in summary["data"]} == expected
    card = (model / CARD_FILE).read_text(encoding="utf-8")
    data = card.split("## Data", 1)[1].split("## Training", 1)[0]
    assert table_row(data, "")[:3] == ["train", "dev", "test"]
    for label in ("sentences", "Chemical", "Disease"):
        assert table_row(data, label) == [str(expected[split][label]) for split in ("train", "dev", "test")]


def test_the_selected_epoch_and_dev_history_are_the_summary_ones(seeds_run) -> None:
    config, _ = seeds_run
    model, results = seed_folders(config, 1)
    summary = json.loads((results / "train_summary.json").read_text(encoding="utf-8"))
    best = max(h["dev_score"] for h in summary["dev_history"])
    first_best = next(h["epoch"] for h in summary["dev_history"] if h["dev_score"] == best)
    card = (model / CARD_FILE).read_text(encoding="utf-8")
    assert f"Selected epoch: **{int(first_best)}** (best dev score {summary['best_dev_score']:.4f}" in card
    for h in summary["dev_history"]:
        assert table_row(card, str(int(h["epoch"]))) == [f"{h['dev_score']:.4f}", "selected" if h["epoch"] == first_best else ""]
    for key in ("training.learning_rate", "training.epochs", "model.max_length", "model.dropout"):
        section, name = key.split(".")
        assert table_row(card, key) == [json.dumps(getattr(getattr(config, section), name))]


def test_selection_reads_the_first_best_epoch_not_the_last() -> None:
    history = [{"epoch": 1.0, "dev_score": 0.5}, {"epoch": 2.0, "dev_score": 0.9}, {"epoch": 3.0, "dev_score": 0.9},
               {"epoch": 4.0, "dev_score": 0.7}]
    assert selected_epoch({"best_dev_score": 0.9, "dev_history": history}) == 2.0
    assert selected_epoch({"best_dev_score": None, "dev_history": [], "epochs_run": 4.0}) is None


def test_run_seeds_adds_the_mean_and_std_of_the_aggregated_results(seeds_run) -> None:
    config, outcome = seeds_run
    aggregated = json.loads((outcome.results_dir / "aggregated_results.json").read_text(encoding="utf-8"))
    assert aggregated["seeds"] == [1, 2]
    test = aggregated["test_sets"]["test"]
    for seed in (1, 2):
        model, _ = seed_folders(config, seed)
        card = (model / CARD_FILE).read_text(encoding="utf-8")
        seeds = card.split("## Results over seeds", 1)[1].split("## Usage", 1)[0]
        assert f"This model is seed {seed} of a multi-seed run (`biotune run` or a suite) over seeds 1, 2 (n = 2)" in seeds
        assert f"Headline (micro.f1): {mean_std(test['micro']['f1'])}" in seeds
        assert table_row(seeds, "Disease")[:3] == [mean_std(test["per_type"]["Disease"][m]) for m in ("precision", "recall", "f1")]
        assert table_row(seeds, "**token**")[2] == mean_std(test["token"]["f1"])
        assert test["micro"]["f1"]["values"][str(seed)] == front_matter(card)["model-index"][0]["results"][0]["metrics"][0]["value"]


def test_the_folder_still_loads_with_the_transformers_pipeline(seeds_run) -> None:
    from transformers import pipeline

    config, _ = seeds_run
    model, _ = seed_folders(config, 1)
    assert (model / CARD_FILE).is_file()
    ner = pipeline("token-classification", model=str(model), device="cpu")
    found = ner("the patient developed acute tremor after aspirin .")
    assert found and {f["entity"] for f in found} <= {"B-Chemical", "I-Chemical", "B-Disease", "I-Disease"}
    assert f'pipeline("ner", model="{model}"' in (model / CARD_FILE).read_text(encoding="utf-8")


def test_a_crash_while_writing_the_card_leaves_an_unfinished_run_that_the_rerun_completes(
        word_backbone: Path, counted_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny_experiment(word_backbone, counted_corpus, tmp_path, epochs=1)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(train_module, "write_card", crash)
    with pytest.raises(OSError, match="disk full"):
        train(config)
    model, results = seed_folders(config, 42)
    assert not (results / "train_summary.json").exists() and not (model / CARD_FILE).exists()
    monkeypatch.undo()
    done = train(config)  # resumes: the model was saved, so it is only evaluated, then the card and summary written
    card = (model / CARD_FILE).read_text(encoding="utf-8")
    assert (results / "train_summary.json").is_file()
    assert front_matter(card)["model-index"][0]["results"][0]["metrics"][0]["value"] == done.results["test"].headline
    assert "## Results over seeds" not in card, "a run trained alone has no seeds section"


def test_a_seed_whose_records_are_gone_keeps_its_card_with_a_warning(word_backbone: Path, counted_corpus: Path,
                                                                      tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from biotune.experiments.model_card import rewrite_cards

    config = tiny_experiment(word_backbone, counted_corpus, tmp_path, epochs=1)
    with caplog.at_level("WARNING", logger="biotune"):
        assert rewrite_cards(config, {"seeds": [5], "test_sets": {}}) == []
    [record] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert record.getMessage().startswith("seed 5: model card not rewritten") and "config_snapshot.yaml" in record.getMessage()


def test_base_model_is_the_hub_id_of_the_backbone(tmp_path: Path) -> None:
    assert base_model_id("minilm") == "sentence-transformers/all-MiniLM-L6-v2"
    assert base_model_id("dmis-lab/biobert-base-cased-v1.2") == "dmis-lab/biobert-base-cased-v1.2"
    assert base_model_id(str(tmp_path)) is None  # a local folder
    assert base_model_id("not a/hub id!") is None


def test_a_run_without_dev_keeps_the_last_epoch_in_its_card(word_backbone: Path, counted_corpus: Path) -> None:
    config = tiny_experiment(word_backbone, counted_corpus, Path("unused"), epochs=2)
    summary = {"seed": 42, "best_dev_score": None, "dev_history": [], "epochs_run": 2.0, "test": {},
               "phases": [{"phase": 1, "sources": ["train"], "best_dev_score": None, "dev_history": [], "epochs_run": 2.0}],
               "data": [{"role": "train", "name": "train", "spec": "train", "corpus": str(counted_corpus), "split": "train",
                         "counts": {"sentences": 3, "Chemical": 2}}]}
    card = build_card(config, summary, {}, {"task": "ner"}, "best_model")
    assert "No dev selection: the last epoch (2) is kept." in card and "## Results over seeds" not in card
    assert table_row(card, "Chemical") == ["2"] and "model-index" not in front_matter(card)


def test_a_sequential_card_lists_its_sources_and_each_phase_selection(word_backbone: Path, counted_corpus: Path) -> None:
    sources = [{"name": "silver", "split": "silver.tsv", "weight": 0.5}, {"name": "gold", "split": "train", "epochs": 2}]
    config = tiny_experiment(word_backbone, counted_corpus, Path("unused"), sources=sources, strategy="sequential")
    phases = [{"phase": 1, "sources": ["silver"], "best_dev_score": 0.4, "epochs_run": 4.0,
               "dev_history": [{"epoch": 1.0, "dev_score": 0.2}, {"epoch": 2.0, "dev_score": 0.4}]},
              {"phase": 2, "sources": ["gold"], "best_dev_score": 0.8, "epochs_run": 2.0,
               "dev_history": [{"epoch": 1.0, "dev_score": 0.8}, {"epoch": 2.0, "dev_score": 0.7}]}]
    card = build_card(config, {**phases[-1], "seed": 42, "test": {}, "phases": phases}, {}, {"task": "ner"}, "best_model")
    phase_1, phase_2 = card.split("### Phase 1 (silver)", 1)[1].split("### Phase 2 (gold)", 1)
    assert "Selected epoch: **2** (best dev score 0.4000" in phase_1 and "Selected epoch: **1** (best dev score 0.8000" in phase_2
    assert table_row(card, "silver") == ["`silver.tsv`", "weight=0.5"] and table_row(card, "gold") == ["`train`", "epochs=2.0"]
    assert table_row(card, "training.strategy") == ["sequential"]


def test_yes_no_counts_questions_per_answer() -> None:
    from biotune.tasks import get_task
    from biotune.tasks.qa.examples import DecisionExample

    examples = [DecisionExample(str(k), "q", "c", label) for k, label in enumerate(["no", "maybe", "yes", "no", "no"])]
    assert get_task("yesno").label_counts(examples) == {"questions": 5, "yes": 1, "no": 3, "maybe": 1}
    assert get_task("yesno").pipeline_tag == "text-classification"


# ---- other tasks -----------------------------------------------------------------------------

def test_a_relation_card_has_the_text_classification_tag_counts_and_a_usage_that_scores_as_biotune(
        tmp_path: Path, word_backbone: Path) -> None:
    import torch
    from transformers import pipeline

    from biotune.tasks.re.examples import read_examples
    from biotune.tasks.re.task import RelationPredictor
    from tests.tasks.re.test_task import re_config, toy_corpus
    from tests.tasks.re.toy import TOY_LABELS, TOY_ROWS

    corpus = toy_corpus(tmp_path / "corpus")
    run = train(re_config(word_backbone, corpus, tmp_path / "out", "cls", epochs=3))
    card = (run.paths.best_model / CARD_FILE).read_text(encoding="utf-8")
    meta = front_matter(card)
    assert meta["pipeline_tag"] == "text-classification" and "re" in meta["tags"]
    saved = json.loads((run.paths.results / "eval_test.json").read_text(encoding="utf-8"))["test"]
    metrics = {m["name"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert metrics and all(value == lookup(saved, name) for name, value in metrics.items())
    gold = [TOY_LABELS[int(label)] for _, label in TOY_ROWS]
    expected = {"pairs": len(TOY_ROWS), **{label: gold.count(label) for label in sorted(TOY_LABELS)}}
    assert {row["role"]: row["counts"] for row in run.summary["data"]} == {"train": expected, "dev": expected, "test": expected}
    assert table_row(card, "CID") == ["2", "2", "2"]
    marked = re.search(r'classify\("(.+)"\)', card).group(1)  # the usage snippet's marked example
    assert marked.split() == "[E1:CHEMICAL] @CHEMICAL$ [/E1:CHEMICAL] was associated with [E2:DISEASE] @DISEASE$ [/E2:DISEASE] .".split()
    [scores] = pipeline("text-classification", model=str(run.paths.best_model), top_k=None, device="cpu")([marked])
    rows = tmp_path / "rows.tsv"
    rows.write_text("@CHEMICAL$ was associated with @DISEASE$ .\t0\n", encoding="utf-8")
    predictor = RelationPredictor.from_checkpoint(run.paths.best_model, precision="fp32", device="cpu")
    expected_scores = predictor.probabilities(read_examples(rows))[0]
    by_label = {s["label"]: s["score"] for s in scores}
    assert torch.allclose(torch.tensor([by_label[label] for label in predictor.labels]), expected_scores, atol=1e-5)


def test_an_entity_start_relation_card_says_to_predict_with_biotune(tmp_path: Path, word_backbone: Path) -> None:
    from biotune.tasks import get_task

    usage = get_task("re").card_usage("best_model", {"head": "entity_start",
                                                     "markers": {"types": ["CHEMICAL", "GENE"], "masks": []}})
    assert "no\n`transformers` pipeline" in usage and 'biotune.load("best_model")' in usage
    marked = re.search(r"Marked text: `(.+?)`", usage).group(1)  # verbatim what `markers.mark` gives training
    assert marked.split() == "[E1:CHEMICAL] chemical [/E1:CHEMICAL] was associated with [E2:GENE] gene [/E2:GENE] .".split()


def test_a_qa_card_counts_questions_and_shows_the_qa_predictor(tmp_path: Path, word_backbone: Path) -> None:
    from tests.tasks.qa.test_task import qa_config
    from tests.tasks.qa.toy import squad_items, write_squad

    items = squad_items(8, seed=1)
    train_file = write_squad(tmp_path / "train.json", items)
    run = train(qa_config(word_backbone, tmp_path / "out", train_file, [train_file], epochs=1))
    card = (run.paths.best_model / CARD_FILE).read_text(encoding="utf-8")
    meta = front_matter(card)
    assert meta["pipeline_tag"] == "question-answering" and "datasets" not in meta
    saved = json.loads((run.paths.results / "eval_train.json").read_text(encoding="utf-8"))["train"]
    metrics = {m["name"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert list(metrics)[0] == "mrr" and set(metrics) == {"mrr", "strict", "lenient"}
    assert all(value == saved[name] for name, value in metrics.items())
    n = len(items)  # one question per item, one answer each; the test set is the training file
    counts = {"questions": n, "(question, context) pairs": n, "pairs with an answer": n, "answer spans": n}
    assert [(row["role"], row["counts"]) for row in run.summary["data"]] == [("train", counts), ("test", counts)]
    assert table_row(card, "answer spans") == [str(n), str(n)]
    assert "biotune.load(" in card and 'pipeline("question-answering"' not in card
