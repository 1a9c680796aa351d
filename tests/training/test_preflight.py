"""Every check that can fail runs before the run folder exists, for every task, and `check-data`
refuses what `train` refuses with the same message (issue 19): a test label the model cannot
have, a pair or question no window holds, advice that never names more positions than the
backbone has, and a checkpoint of the wrong task named as such."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biotune.cli import app
from tests.conftest import write_tsv
from tests.tasks.qa.toy import squad_items, write_squad

runner = CliRunner()
TRAINING = "training: {epochs: 1, learning_rate: 5.0e-3, batch_size: 4, warmup: 0.0, bf16: false}\n"
RE_ROWS = ["the patient developed @DISEASE$ after @CHEMICAL$ .\t1", "@CHEMICAL$ and @DISEASE$ .\t0"] * 3


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    return lines[0]


def refused(config: Path, out: Path, *needles: str) -> str:
    """`train` exits 2 with one error line holding `needles`, no traceback, and creates nothing."""
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = error_line(result.output)
    for needle in needles:
        assert needle in line, line
    assert not out.exists(), f"a failed start created {sorted(p.name for p in out.rglob('*'))}"
    return line


def re_config(tmp_path: Path, backbone: Path, rows_test: list[str], rows_train: list[str] = RE_ROWS,
              max_length: int = 32, relation: str = "{negative_label: '0'}") -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / "train.tsv").write_text("\n".join(rows_train) + "\n", encoding="utf-8")
    (corpus / "test.tsv").write_text("\n".join(rows_test) + "\n", encoding="utf-8")
    config = tmp_path / "re.yaml"
    config.write_text(f"task: re\nname: re_toy\noutput_dir: {tmp_path / 'out'}\n"
                      f"model: {{backbone: {backbone}, max_length: {max_length}}}\n"
                      f"data: {{corpus: {corpus}, dev: null}}\n{TRAINING}re: {relation}\n", encoding="utf-8")
    return config


def test_re_test_label_unknown_to_training_is_refused_alike_by_check_data_and_train(
        tmp_path: Path, word_backbone: Path) -> None:
    config = re_config(tmp_path, word_backbone, RE_ROWS[:2] + ["@CHEMICAL$ and severe @DISEASE$ .\t2"])
    check = runner.invoke(app, ["check-data", str(config)])
    assert check.exit_code == 2, check.output
    line = refused(config, tmp_path / "out", f"{tmp_path / 'corpus' / 'test.tsv'}:3:", "label '2'", "(0, 1)")
    assert error_line(check.output) == line  # the same message from both commands


def test_re_pair_wider_than_the_window_advises_a_max_length_the_backbone_has(tmp_path: Path,
                                                                              word_backbone: Path) -> None:
    wide = "@CHEMICAL$ " + "the " * 40 + "@DISEASE$ ."  # about 46 tokens marked: above 32, within 128 positions
    config = re_config(tmp_path, word_backbone, RE_ROWS[:2], rows_train=RE_ROWS + [wide + "\t1"])
    line = refused(config, tmp_path / "out", f"{tmp_path / 'corpus' / 'train.tsv'}:7:", "raise model.max_length")
    suggested = int(re.search(r"max_length (\d+) fits them all", line)[1])
    assert 32 < suggested <= 128
    assert runner.invoke(app, ["check-data", str(config)]).exit_code == 2


def test_re_pair_wider_than_the_backbone_never_gets_advice_above_its_positions(tmp_path: Path,
                                                                              word_backbone: Path) -> None:
    too_wide = "@CHEMICAL$ " + "the " * 300 + "@DISEASE$ ."  # wider than the tiny BERT's 128 positions
    config = re_config(tmp_path, word_backbone, RE_ROWS[:2], rows_train=RE_ROWS + [too_wide + "\t1"])
    line = refused(config, tmp_path / "out", "128 positions this backbone reads", "re.too_wide: skip",
                   "backbone with more positions")
    assert not any(int(n) > 128 for n in re.findall(r"max_length (\d+)", line)), line
    # the named option does what the advice says: the pair is left out of training, which then runs
    skipping = re_config(tmp_path, word_backbone, RE_ROWS[:2], rows_train=RE_ROWS + [too_wide + "\t1"],
                         relation="{negative_label: '0', too_wide: skip}")
    result = runner.invoke(app, ["train", str(skipping)])
    assert result.exit_code == 0, result.output
    log = (tmp_path / "out" / "logs" / "re_toy" / "seed_42" / "train.log").read_text(encoding="utf-8")
    assert "1 of 7 training pairs span more tokens than max_length 32 and are left out" in log


def test_re_too_wide_test_pair_is_refused_even_with_skip(tmp_path: Path, word_backbone: Path) -> None:
    too_wide = "@CHEMICAL$ " + "the " * 300 + "@DISEASE$ .\t1"
    config = re_config(tmp_path, word_backbone, RE_ROWS[:2] + [too_wide],
                       relation="{negative_label: '0', too_wide: skip}")
    refused(config, tmp_path / "out", f"{tmp_path / 'corpus' / 'test.tsv'}:3:", "remove such rows from dev and test")


def test_re_document_keys_on_pre_masked_rows_are_refused(tmp_path: Path, word_backbone: Path) -> None:
    config = re_config(tmp_path, word_backbone, RE_ROWS[:2],
                       relation="{negative_label: '0', pairs: [[Chemical, Disease]], max_sentences: 1}")
    refused(config, tmp_path / "out", "pre-masked sentence rows", "re.pairs, re.max_sentences",
            "cannot apply")


def qa_config(tmp_path: Path, backbone: Path, task: str, train: Path, test: Path, max_length: int = 24) -> Path:
    config = tmp_path / f"{task}.yaml"
    config.write_text(f"task: {task}\nname: {task}_toy\noutput_dir: {tmp_path / 'out'}\n"
                      f"model: {{backbone: {backbone}, max_length: {max_length}}}\n"
                      f"data: {{corpus: toy, train: {train}, dev: null, test: [{test}]}}\n{TRAINING}"
                      f"{task}: {{stride: 8}}\n", encoding="utf-8")
    return config


def test_qa_question_too_long_for_any_window_of_the_backbone_is_refused_before_the_run(
        tmp_path: Path, word_backbone: Path) -> None:
    items = squad_items(4, seed=1)
    items[2]["qas"][0]["question"] = " ".join(["patient"] * 130)  # more subwords than the backbone's 128 positions
    train = write_squad(tmp_path / "train.json", items)
    test = write_squad(tmp_path / "test.json", squad_items(2, seed=2))
    config = qa_config(tmp_path, word_backbone, "qa", train, test)
    line = refused(config, tmp_path / "out", "the question is 130 subwords", "no window of this backbone",
                   "128 positions")
    assert not any(int(n) > 128 for n in re.findall(r"max_length (?:to at least )?(\d+)", line)), line
    check = runner.invoke(app, ["check-data", str(config)])
    assert check.exit_code == 2 and error_line(check.output) == line


def test_yesno_test_label_unknown_to_training_is_refused_before_the_run(tmp_path: Path, word_backbone: Path) -> None:
    train, test = tmp_path / "train.tsv", tmp_path / "test.tsv"
    row = "question: patient developed tremor context: the patient developed tremor .\t{}\n"
    train.write_text(row.format("yes") + row.format("no"), encoding="utf-8")
    test.write_text(row.format("yes") + row.format("maybe"), encoding="utf-8")
    refused(qa_config(tmp_path, word_backbone, "yesno", train, test, max_length=32), tmp_path / "out",
            "label 'maybe' of the test split", "(yes, no)")


def test_ner_bad_test_line_is_refused_before_the_run(tmp_path: Path, word_backbone: Path) -> None:
    corpus = tmp_path / "corpus"
    write_tsv(corpus / "train.tsv", [(["aspirin", "and", "asthma"], ["B-Chemical", "O", "B-Disease"])] * 4)
    (corpus / "test.tsv").write_text("aspirin\tB-Chemical\nasthma\tI-Nonsense\tX\n", encoding="utf-8")
    config = tmp_path / "ner.yaml"
    config.write_text(f"name: ner_toy\noutput_dir: {tmp_path / 'out'}\nmodel: {{backbone: {word_backbone}, "
                      f"max_length: 32}}\ndata: {{corpus: {corpus}, dev: null}}\n{TRAINING}", encoding="utf-8")
    refused(config, tmp_path / "out", f"{corpus / 'test.tsv'}:2")


@pytest.mark.parametrize("command", ["tag", "serve"])
def test_a_checkpoint_of_another_task_says_which_task_and_which_option_takes_it(
        tmp_path: Path, word_backbone: Path, trained_run, command: str) -> None:
    from tests.serving.conftest import build_relation_checkpoint

    relation = build_relation_checkpoint(tmp_path / "re_model", word_backbone, trained_run.paths.best_model)
    text = tmp_path / "in.txt"
    text.write_text("aspirin caused asthma .\n", encoding="utf-8")
    args = (["tag", "--checkpoint", str(relation), "--input", str(text), "--output-dir", str(tmp_path / "tagged")]
            if command == "tag" else
            ["serve", "--checkpoint", str(relation), "--port", "1"])
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    line = error_line(result.output)
    assert f"checkpoint {relation}" in line and "is a re model" in line and "--relations of tag and serve" in line
    assert "ignore_mismatched_sizes" not in result.output and "damaged" not in line
    assert not (tmp_path / "tagged").exists()


def test_check_data_on_a_very_long_sentence_prints_no_transformers_length_warning(tmp_path: Path) -> None:
    """biotune windows long sentences on purpose: transformers' 'indexing errors' warning must not scare the user.

    MiniLM's tokenizer knows its 512 positions (the tiny test BERT's does not, so it would never warn).
    """
    import os
    import subprocess
    import sys

    corpus = tmp_path / "corpus"
    write_tsv(corpus / "train.tsv", [(["aspirin", "and", "asthma"], ["B-Chemical", "O", "B-Disease"])])
    write_tsv(corpus / "test.tsv", [(["the"] * 5000 + ["asthma"], ["O"] * 5000 + ["B-Disease"])])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "biotune.cli", "check-data", str(corpus), "--backbone", "minilm"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "longer than the specified maximum" not in done.stdout + done.stderr
    assert "1 sentences exceed 128 subwords" in done.stdout  # the report itself was printed, long sentence counted


def test_biotune_tokenizers_do_not_warn_about_long_texts_they_window() -> None:
    import logging

    from biotune.models.backbones import LONG_SEQUENCE_WARNING, load_tokenizer

    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("transformers").addHandler(handler)
    try:
        tokenizer = load_tokenizer("minilm")
        tokenizer(" ".join(["the"] * 5000))
        assert not any("longer than the specified maximum" in m for m in seen)
        tokenizer.deprecation_warnings.pop(LONG_SEQUENCE_WARNING)  # control: without biotune's mark, it warns
        tokenizer(" ".join(["the"] * 5000))
        assert any("longer than the specified maximum" in m for m in seen)
    finally:
        logging.getLogger("transformers").removeHandler(handler)


def test_check_data_on_a_corpus_folder_without_dev_reports_and_passes(tmp_path: Path, word_backbone: Path) -> None:
    corpus = tmp_path / "corpus"
    write_tsv(corpus / "train.tsv", [(["aspirin", "and", "asthma"], ["B-Chemical", "O", "B-Disease"])])
    write_tsv(corpus / "test.tsv", [(["heparin", "and", "tremor"], ["B-Chemical", "O", "B-Disease"])])
    result = runner.invoke(app, ["check-data", str(corpus), "--backbone", str(word_backbone)])
    assert result.exit_code == 0, result.output
    assert "train" in result.output and "test" in result.output and "error" not in result.output
