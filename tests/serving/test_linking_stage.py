"""Linking as a stage of the tag job and the service: `--link` takes a linker folder (every stage of the
`Linker`) or a term<TAB>id dictionary (`--link-dictionary`, its older name); every entity carries its id,
and where the format holds them its link stage and score; /tag answers them, /health and the job's
summary count the stages; a resumed job with another linker is refused; a `--link` that is neither a
linker folder nor a dictionary is refused with one line, exit 2, before anything is written."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from biotune.cli import app as cli
from biotune.errors import BiotuneError
from biotune.formats.document_formats import iter_documents
from biotune.linking import Linker, pseudo_id
from biotune.serving import service
from biotune.serving.linking_stage import LinkingStage
from biotune.serving.tag_job import MANIFEST, TagSettings, run_tag
from biotune.tasks.ner.tagger import Tagger
from tests.serving.conftest import FUZZY_THRESHOLD, build_linker, tag_app
from tests.serving.test_tag_job import corpus, job_files

# What the toy NER model's mentions of the `corpus` link to with the conftest linker: (id, stage, score).
LINKED = {
    ("heparin", "Chemical"): ("D006493", "exact", 1.0),
    ("Heparin", "Chemical"): ("D006493", "normalised", 1.0),
    ("Cisplatin", "Chemical"): ("D002945", "normalised", 1.0),
    ("acute bleeding", "Disease"): ("D006470", "exact", 1.0),
    ("Warfarin", "Chemical"): ("D014859", "fuzzy", None),  # fuzzy scores: checked against the linker's own
    ("bleeding", "Disease"): ("D006470", "fuzzy", None),
    ("Naloxone", "Chemical"): ("text:Chemical:naloxone", "unlinked", None),
    ("asthma", "Disease"): ("text:Disease:asthma", "unlinked", None),
}
EXTENSION = {"jsonl": ".jsonl", "pubtator": ".pubtator", "bioc-xml": ".xml"}


def job(tmp_path: Path, trained_run: Any, link: Path | None, output: str = "out", **options: Any) -> TagSettings:
    source = tmp_path / "in"
    if not source.is_dir():
        corpus(source)
    return TagSettings(input=source, output_dir=tmp_path / output, checkpoints=(trained_run.paths.best_model,),
                       precision="fp32", link=link, **options)


def written(settings: TagSettings) -> list:
    """The job's output documents, in shard order."""
    extension = EXTENSION[settings.output_format]
    return [doc for path in sorted(settings.output_dir.glob(f"*{extension}"))
            for doc in iter_documents(path, settings.output_format)]


def link_fields(documents: list) -> list[tuple[str, str, str | None, str | None, float | None]]:
    return [(a.text, a.type, a.concept_id, a.link_stage, a.link_score) for d in documents for a in d.annotations]


@pytest.mark.parametrize("output_format", ["jsonl", "bioc-xml", "pubtator"])
def test_a_tag_job_with_a_linker_folder_writes_ids_stages_and_scores(tmp_path, trained_run, linker_folder,
                                                                    output_format: str) -> None:
    settings = job(tmp_path, trained_run, linker_folder, output_format=output_format, shard_size=4)
    summary = run_tag(settings)
    fields = link_fields(written(settings))
    assert {(text, type_) for text, type_, *_ in fields} >= set(LINKED), "the corpus reaches every stage"
    linker = Linker.load(linker_folder)
    holds_link = output_format != "pubtator"  # PubTator has no column for a stage or score
    for text, type_, concept, stage, score in fields:
        link = linker.link([(text, type_)])[0]
        expected_id = LINKED.get((text, type_), (link.id or pseudo_id(text, type_),))[0]
        assert concept == expected_id, (text, type_)
        if not holds_link:
            assert (stage, score) == (None, None)
            continue
        assert stage == LINKED.get((text, type_), (None, link.stage))[1] == link.stage, (text, type_)
        assert score == (None if link.score is None else round(link.score, 4)), (text, type_)
        if stage == "fuzzy":
            assert FUZZY_THRESHOLD <= score <= 1  # 1 where the unmatched words have no n-gram in the vocabulary
        elif stage != "unlinked":
            assert score == 1.0
    stages = Counter(linker.link([(text, type_)])[0].stage for text, type_, *_ in fields)
    counts = {f"mentions_{stage}": stages.get(stage, 0)
              for stage in ("abbreviation", "exact", "normalised", "fuzzy", "dense", "unlinked")} | {"mentions_kept": 0}
    assert summary.annotations == counts and counts["mentions_unlinked"] > 0
    manifest = json.loads((settings.output_dir / MANIFEST).read_text())
    assert manifest["annotations"] == counts and manifest["linker"] == linker.fingerprint
    assert manifest["settings"]["link"] == str(linker_folder.resolve())


def test_a_dense_stage_links_what_the_strings_miss_within_the_mention_type(tmp_path, trained_run, word_backbone) -> None:
    folder = build_linker(encoder=word_backbone).save(tmp_path / "dense_linker")
    settings = job(tmp_path, trained_run, folder)
    summary = run_tag(settings)
    fields = link_fields(written(settings))
    vocabulary_ids = {"Chemical": {"D006493", "D002945", "D014859"}, "Disease": {"D006470", "D007022"}}
    strings = build_linker()  # the same vocabularies without the dense stage
    for text, type_, concept, stage, score in fields:
        link = strings.link([(text, type_)])[0]
        if link.id is not None:
            assert (concept, stage) == (link.id, link.stage), "the string stages come first"
        else:
            assert stage == "dense" and -1 <= score <= 1, (text, type_)
        assert concept in vocabulary_ids[type_], "a mention links only to a concept of its own type"
    assert summary.annotations["mentions_dense"] == sum(stage == "dense" for *_, stage, _ in fields) > 0
    assert summary.annotations["mentions_unlinked"] == 0


def test_a_resumed_job_with_another_linker_or_none_is_refused(tmp_path, trained_run, linker_folder,
                                                              word_backbone) -> None:
    in_place = Path(shutil.copytree(linker_folder, tmp_path / "linker"))
    settings = job(tmp_path, trained_run, in_place, shard_size=3)
    run_tag(settings)
    complete = job_files(settings.output_dir)
    (settings.output_dir / "a.txt.00001.jsonl").unlink()
    assert run_tag(settings).shards_written == 1, "the same linker resumes"
    resumed = job_files(settings.output_dir)
    assert {n: b for n, b in resumed.items() if n != MANIFEST} == {n: b for n, b in complete.items() if n != MANIFEST}
    for other in (None, linker_folder):
        with pytest.raises(BiotuneError, match=r"other settings \(link differ\)"):
            run_tag(TagSettings(**{**vars(settings), "link": other}))
    before = Linker.load(in_place).fingerprint
    shutil.rmtree(in_place)
    rebuilt = build_linker(encoder=word_backbone).save(in_place)  # the same folder, another linker
    args = ["tag", "--checkpoint", str(trained_run.paths.best_model), "--input", str(settings.input),
            "--output-dir", str(settings.output_dir), "--shard-size", "3", "--precision", "fp32",
            "--link", str(in_place)]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2
    line = refused.output.strip().splitlines()[-1]
    assert re.fullmatch(rf"error: {re.escape(str(settings.output_dir))} holds a tagging job whose inputs or model "
                        rf"changed since it started: linker {re.escape(str(in_place))} changed \(fingerprint "
                        rf"{before} -> {Linker.load(rebuilt).fingerprint}\)\. .*--overwrite.*", line), line
    assert job_files(settings.output_dir) == resumed, "a refused job writes nothing"


def test_the_tag_command_links_with_a_dictionary_under_its_older_option_name(tmp_path, trained_run) -> None:
    dictionary = tmp_path / "terms.tsv"
    dictionary.write_text("heparin\tD006493\nAcute Bleeding\tD006470\n", encoding="utf-8")
    args = ["tag", "--checkpoint", str(trained_run.paths.best_model), "--input", str(corpus(tmp_path / "in")),
            "--output-dir", str(tmp_path / "out"), "--precision", "fp32"]
    result = CliRunner().invoke(cli, [*args, "--link-dictionary", str(dictionary)])
    assert result.exit_code == 0, result.output
    fields = link_fields(written(job(tmp_path, trained_run, dictionary)))
    found = {(text, type_): (concept, stage, score) for text, type_, concept, stage, score in fields}
    assert found["heparin", "Chemical"] == ("D006493", "exact", 1.0)
    assert found["Heparin", "Chemical"] == ("D006493", "normalised", 1.0)
    assert found["acute bleeding", "Disease"] == ("D006470", "normalised", 1.0)
    assert found["bleeding", "Disease"] == ("text:Disease:bleeding", "unlinked", None), "a dictionary has no fuzzy stage"
    stages = Counter(stage for *_, stage, _ in fields)
    assert set(stages) == {"exact", "normalised", "unlinked"}
    assert (f"mentions_abbreviation 0, mentions_exact {stages['exact']}, mentions_normalised {stages['normalised']}, "
            f"mentions_fuzzy 0, mentions_dense 0, mentions_unlinked {stages['unlinked']}, mentions_kept 0") in result.output


@pytest.fixture(scope="module")
def linked_client(trained_run: Any, linker_folder: Path) -> Any:
    tagger = Tagger.from_checkpoint(trained_run.paths.best_model, precision="fp32")
    stage = LinkingStage(Linker.load(linker_folder), f"linker {linker_folder}")
    with TestClient(tag_app(tagger, model_name="toy", others=[(stage, None)])) as client:
        yield client


def test_tag_answers_link_fields_and_health_counts_the_stages(linked_client: TestClient, linker_folder: Path) -> None:
    texts = ["the patient developed acute bleeding after heparin .", "Warfarin and severe asthma was given ."]
    results = linked_client.post("/tag", json={"texts": texts}).json()["results"]
    entities = [{key: e.get(key) for key in ("text", "type", "concept_id", "link_stage", "link_score")}
                for result in results for e in result["entities"]]
    linker = Linker.load(linker_folder)
    expected = []
    for e in entities:
        link = linker.link([(e["text"], e["type"])])[0]
        expected.append({**e, "concept_id": link.id or pseudo_id(e["text"], e["type"]),
                         "link_stage": link.stage, "link_score": None if link.score is None else round(link.score, 4)})
    assert entities == expected
    assert {"acute bleeding": ("D006470", "exact", 1.0), "heparin": ("D006493", "exact", 1.0)}.items() <= {
        e["text"]: (e["concept_id"], e["link_stage"], e["link_score"]) for e in entities}.items()
    unlinked = [e for result in results for e in result["entities"] if e["link_stage"] == "unlinked"]
    assert unlinked and all("link_score" not in e for e in unlinked), "an unlinked mention has no score"
    health = linked_client.get("/health").json()["linking"]
    assert health == {"fingerprint": linker.fingerprint, "types": ["Chemical", "Disease"],
                      "stages": ["abbreviation", "exact", "normalised", "fuzzy"],
                      "mentions": {stage: sum(e["link_stage"] == stage for e in entities)
                                   for stage in ("abbreviation", "exact", "normalised", "fuzzy", "dense", "unlinked")}
                      | {"kept": 0}}
    schema = linked_client.get("/openapi.json").json()["components"]["schemas"]["Entity"]["properties"]
    assert {"concept_id", "link_stage", "link_score"} <= set(schema)


def test_serve_loads_a_linker_folder(trained_run: Any, linker_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apps: list[Any] = []
    monkeypatch.setattr(service, "run_server", lambda app, *_: apps.append(app))
    service.serve(trained_run.paths.best_model, precision="fp32", link=linker_folder)
    with TestClient(apps[0]) as client:
        entities = client.post("/tag", json={"texts": ["Warfarin and acute bleeding ."]}).json()["results"][0]["entities"]
        health = client.get("/health").json()
    assert {e["text"]: (e["concept_id"], e["link_stage"]) for e in entities} == {
        "Warfarin": ("D014859", "fuzzy"), "acute bleeding": ("D006470", "exact")}
    assert health["linking"]["fingerprint"] == Linker.load(linker_folder).fingerprint


def bad_links(tmp_path: Path) -> list[tuple[list[str], str]]:
    """(--link arguments, the one error line) for each kind of bad link path."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "tabless.tsv").write_text("heparin\tD006493\ncisplatin D002945\n", encoding="utf-8")
    missing, empty, tabless = tmp_path / "missing", tmp_path / "empty", tmp_path / "tabless.tsv"
    return [
        (["--link", str(missing)], f"error: link {missing} not found: give a linker folder (`biotune link build`) or "
                                   "a term<TAB>id dictionary file"),
        (["--link", str(empty)], f"error: {empty} is not a linker folder (no linker.json); build one with "
                                 "`biotune link build`"),
        (["--link-dictionary", str(tabless)], f"error: {tabless}:2: expected 'term<TAB>id[<TAB>alternative ids]', "
                                              "found no tab in 'cisplatin D002945'"),
    ]


def test_a_bad_link_path_is_one_line_exit_2_and_writes_nothing(tmp_path, trained_run,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    source = corpus(tmp_path / "in")
    served: list[Any] = []
    monkeypatch.setattr(service, "run_server", lambda app, *_: served.append(app))
    for number, (link, line) in enumerate(bad_links(tmp_path)):
        out = tmp_path / f"out{number}"
        result = CliRunner().invoke(cli, ["tag", "--checkpoint", str(trained_run.paths.best_model), "--input",
                                          str(source), "--output-dir", str(out), *link])
        assert result.exit_code == 2 and result.output.strip().splitlines()[-1] == line, result.output
        assert not out.exists(), "no output folder for a job that cannot start"
        result = CliRunner().invoke(cli, ["serve", str(trained_run.paths.best_model), *link])
        assert result.exit_code == 2 and result.output.strip().splitlines()[-1] == line, result.output
    assert served == []


def test_a_linker_of_other_entity_types_is_refused(tmp_path, trained_run) -> None:
    folder = build_linker([("Gene", "BRCA1", "NCBIGene:672")]).save(tmp_path / "genes")
    with pytest.raises(BiotuneError, match=rf"^linker {re.escape(str(folder))} links Gene mentions, but the entities "
                                           r"are Chemical, Disease: none would get an id"):
        run_tag(job(tmp_path, trained_run, folder))
    assert not (tmp_path / "out").exists()
