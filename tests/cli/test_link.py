"""`biotune link build | evaluate | train`: a folder built once and evaluated, and bad input refused in one
line (file and line named), exit 2, with nothing written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biotune.cli import app
from biotune.linking import Linker, read_vocabulary

runner = CliRunner()

DISEASES = "term\tidentifier\talt_identifiers\nKidney Failure\tMESH:D051437\t\nRenal Failure\tMESH:D051437\t\n" \
           "Hypotension\tMESH:D007022\t\nWilson Disease\tMESH:D006527\tOMIM:277900\n"
CHEMICALS = "term\tidentifier\nNaloxone\tMESH:D009270\nLithium\tMESH:D008094\n"
# PubTator: title + abstract, mentions with gold ids (one composite, one of a type mapped to Disease)
GOLD = ("1|t|Renal failure after naloxone.\n1|a|Wilson disease and hypotension (HT); HT persisted.\n"
        "1\t0\t13\tRenal failure\tDisease\tD051437\n1\t20\t28\tnaloxone\tChemical\tD009270\n"
        "1\t30\t44\tWilson disease\tSpecificDisease\tD000001|OMIM:277900\n"
        "1\t49\t60\thypotension\tDisease\tD007022\n1\t62\t64\tHT\tDisease\tD007022\n"
        "1\t67\t69\tHT\tDisease\tD007022\n\n")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {"diseases": tmp_path / "medic.tsv", "chemicals": tmp_path / "mesh.tsv", "gold": tmp_path / "test.pubtator"}
    out["diseases"].write_text(DISEASES)
    out["chemicals"].write_text(CHEMICALS)
    out["gold"].write_text(GOLD)
    return out


def build(files: dict[str, Path], output: Path, *extra: str) -> list[str]:
    return ["link", "build", "--vocab", f"Disease={files['diseases']}", "--vocab", f"Chemical={files['chemicals']}",
            "--type-map", "SpecificDisease=Disease", "--output", str(output), *extra]


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


def test_build_then_evaluate(files: dict[str, Path], tmp_path: Path) -> None:
    result = runner.invoke(app, build(files, tmp_path / "linker"))
    assert result.exit_code == 0, result.output
    linker = Linker.load(tmp_path / "linker", {"Disease": [read_vocabulary(files["diseases"])],
                                               "Chemical": [read_vocabulary(files["chemicals"])]})
    assert linker.type_map == {"SpecificDisease": "Disease"} and f"fingerprint {linker.fingerprint}" in result.output
    result = runner.invoke(app, ["link", "evaluate", str(tmp_path / "linker"), "--documents", str(files["gold"])])
    assert result.exit_code == 0, result.output
    rows = {cells[0]: cells[1:4] for line in result.stdout.splitlines()
            if (cells := [c.strip() for c in line.strip("|").split("|")])[0] in ("Disease", "Chemical")}
    # Disease: renal failure (normalised), Wilson disease via its OMIM alternative id, hypotension, HT twice
    # (abbreviation of hypotension): 5 of 5; Chemical: naloxone (normalised)
    assert rows == {"Disease": ["5", "100.00", "100.00"], "Chemical": ["1", "100.00", "100.00"]}
    assert "abbreviation 2/2" in result.stdout


@pytest.mark.parametrize("line, message", [
    ("Kidney Failure MESH:D051437", r"{file}:2: expected 'term<TAB>id\[<TAB>alternative ids\]', found no tab"),
    ("Kidney Failure\tMESH D051437", r"{file}:2: id 'MESH D051437' of term 'Kidney Failure' is in no known form"),
    ("\tMESH:D051437", r"{file}:2: empty term"),
])
def test_a_bad_vocabulary_line_is_named_and_nothing_is_written(files: dict[str, Path], tmp_path: Path, line: str,
                                                               message: str) -> None:
    files["diseases"].write_text(f"term\tidentifier\n{line}\nHypotension\tMESH:D007022\n")
    result = runner.invoke(app, build(files, tmp_path / "linker"))
    assert result.exit_code == 2
    assert re.fullmatch(r"error: " + message.format(file=re.escape(str(files["diseases"]))) + ".*",
                        error_line(result.output))
    assert not (tmp_path / "linker").exists() and not (tmp_path / "linker.partial").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--type-map", "Modifier=Disese"], r"type map: 'Modifier' -> 'Disese' names a type without vocabularies "
                                        r"\(types with vocabularies: Chemical, Disease\)"),
    (["--type-map", "Modifier"], r"--type-map 'Modifier': expected SOURCE=TYPE .*"),
    (["--vocab", "medic.tsv"], r"--vocab 'medic.tsv': expected TYPE=FILE .*"),
    (["--vocab", "Gene=missing.tsv"], r"vocabulary missing.tsv .*"),
    (["--prefer", "MSH"], r"preferred namespace MSH: no id of the vocabularies is in it \(their namespaces: MESH, OMIM\)"),
])
def test_bad_options_are_one_line_errors(files: dict[str, Path], tmp_path: Path, arguments: list[str],
                                         message: str) -> None:
    result = runner.invoke(app, build(files, tmp_path / "linker", *arguments))
    assert result.exit_code == 2
    assert re.fullmatch(r"error: " + message, error_line(result.output)), result.output
    assert not (tmp_path / "linker").exists()


def test_build_records_the_preferred_namespace(files: dict[str, Path], tmp_path: Path) -> None:
    files["diseases"].write_text(DISEASES + "Cardiomyopathy, Dilated\tOMIM:115200\tMESH:D002311|MESH:C580047\n")
    result = runner.invoke(app, build(files, tmp_path / "linker", "--prefer", "mesh"))
    assert result.exit_code == 0, result.output
    assert "MESH ids preferred" in result.output
    options = json.loads((tmp_path / "linker" / "linker.json").read_text())["options"]
    assert options["prefer"] == "MESH"
    linker = Linker.load(tmp_path / "linker")
    assert [link.id for link in linker.link([("Cardiomyopathy, Dilated", "Disease"), ("Wilson Disease", "Disease")])] \
        == ["D002311", "D006527"]


def test_an_existing_folder_and_a_folder_that_is_no_linker_are_refused(files: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "linker").mkdir()
    result = runner.invoke(app, build(files, tmp_path / "linker"))
    assert result.exit_code == 2 and "already exists" in error_line(result.output)
    result = runner.invoke(app, ["link", "evaluate", str(tmp_path / "linker"), "--documents", str(files["gold"])])
    assert result.exit_code == 2
    assert error_line(result.output) == f"error: {tmp_path / 'linker'} is not a linker folder (no linker.json); " \
                                        "build one with `biotune link build`"


def test_mentions_are_linked_first_and_types_without_ids_are_named(files: dict[str, Path], tmp_path: Path) -> None:
    train = tmp_path / "train.pubtator"
    train.write_text("2|t|Fits.\n2|a|\n2\t0\t4\tFits\tDisease\tD004827\n\n")
    result = runner.invoke(app, build(files, tmp_path / "linker", "--mentions", str(train)))
    assert result.exit_code == 0, result.output
    linker = Linker.load(tmp_path / "linker")
    assert [v["source"] for v in linker.lexicons["Disease"].vocabularies] == [f"{train} Disease mentions",
                                                                              str(files["diseases"])]
    assert linker.link([("fits", "Disease")])[0].id == "D004827"
    result = runner.invoke(app, ["link", "evaluate", str(tmp_path / "linker"), "--documents", str(train.with_name("x.txt"))])
    assert result.exit_code == 2 and "x.txt" in error_line(result.output)
    (tmp_path / "genes.pubtator").write_text("3|t|BRCA1.\n3|a|\n3\t0\t5\tBRCA1\tGene\t672\n\n")
    result = runner.invoke(app, ["link", "evaluate", str(tmp_path / "linker"), "--documents",
                                 str(tmp_path / "genes.pubtator")])
    assert result.exit_code == 2
    assert error_line(result.output).startswith("error: no gold mention with a concept id has a type the linker links "
                                                "(Chemical, Disease, SpecificDisease); mentions with ids have the "
                                                "types: Gene")


def test_train_then_build_with_the_dense_linker(files: dict[str, Path], tmp_path: Path, word_backbone: Path) -> None:
    result = runner.invoke(app, ["link", "train", "--vocab", f"Disease={files['diseases']}", "--mentions",
                                 str(files["gold"]), "--type-map", "SpecificDisease=Disease", "--encoder",
                                 str(word_backbone), "--steps", "3", "--batch-size", "4", "--output",
                                 str(tmp_path / "dense")])
    assert result.exit_code == 0, result.output
    assert re.search(r"dense linker .*dense: 3 steps, loss [\d.]+ -> [\d.]+, 4 names indexed", result.output)
    result = runner.invoke(app, build(files, tmp_path / "linker", "--dense", str(tmp_path / "dense")))
    assert result.exit_code == 0, result.output
    assert Linker.load(tmp_path / "linker").dense is not None
    files["diseases"].write_text(DISEASES + "Flu\tMESH:D007251\t\n")  # the index no longer matches the vocabulary
    result = runner.invoke(app, build(files, tmp_path / "linker2", "--dense", str(tmp_path / "dense")))
    assert result.exit_code == 2
    assert error_line(result.output).startswith(f"error: linker folder {tmp_path / 'dense'} was built for Disease "
                                                f"from vocabulary {files['diseases']}")
    assert not (tmp_path / "linker2").exists()
