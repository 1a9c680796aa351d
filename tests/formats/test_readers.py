from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from biotune.formats.readers import iter_corpus_file, iter_jsonl, iter_text, iter_tsv, read_corpus_file
from biotune.errors import BiotuneError
from tests.awkward import AWKWARD_TEXTS


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list[object]) -> Path:
    return write(path, "".join(json.dumps(record) + "\n" for record in records))


TSV = "-DOCSTART-\tO\n\nSelegiline\tB-Chemical\n-\tO\ninduced\tO\n\nParkinson\tB-Disease\n'\tI-Disease\ns\tI-Disease\n"


def test_iter_tsv_reads_sentences_with_ids_and_tags(tmp_path: Path) -> None:
    sentences = list(iter_tsv(write(tmp_path / "train.tsv", TSV)))
    assert [s.tokens for s in sentences] == [["Selegiline", "-", "induced"], ["Parkinson", "'", "s"]]
    assert [s.tags for s in sentences] == [["B-Chemical", "O", "O"], ["B-Disease", "I-Disease", "I-Disease"]]
    assert [s.id for s in sentences] == ["train.tsv:3", "train.tsv:7"]
    assert sentences[0].source == str(tmp_path / "train.tsv")
    assert sentences[0].meta == {"repaired": 0}


def test_iter_tsv_handles_crlf_bom_spaces_extra_columns_and_many_blank_lines(tmp_path: Path) -> None:
    text = "\ufeffA NN B-X\r\nb NN I-X\r\n\r\n\r\n  \nc\tNN\tO\n"
    sentences = list(iter_tsv(write(tmp_path / "x.conll", text)))
    assert [(s.tokens, s.tags) for s in sentences] == [(["A", "b"], ["B-X", "I-X"]), (["c"], ["O"])]
    assert [s.id for s in sentences] == ["x.conll:1", "x.conll:6"]


def test_iter_tsv_tag_column(tmp_path: Path) -> None:
    path = write(tmp_path / "x.tsv", "a\tB-X\tO\nb\tI-X\tO\n")
    assert next(iter_tsv(path, tag_column=1)).tags == ["B-X", "I-X"]
    assert next(iter_tsv(path)).tags == ["O", "O"]
    with pytest.raises(BiotuneError, match=r"x\.tsv:1: no tag column 5"):
        list(iter_tsv(path, tag_column=5))


def test_iter_tsv_token_with_space_in_tab_separated_line(tmp_path: Path) -> None:
    sentence = next(iter_tsv(write(tmp_path / "x.tsv", "New York\tB-LOC\n")))
    assert sentence.tokens == ["New York"]


def test_iter_tsv_converts_iobes_and_repairs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = "a\tS-X\nb\tB-Y\nc\tE-Y\n\nd\tI-X\ne\tI-X\n\nf\tO\ng\tI-Y\n\nh\tB-X\n"
    with caplog.at_level(logging.WARNING, logger="biotune"):
        sentences = list(iter_tsv(write(tmp_path / "train.tsv", text)))
    assert [s.tags for s in sentences] == [["B-X", "B-Y", "I-Y"], ["B-X", "I-X"], ["O", "B-Y"], ["B-X"]]
    assert [s.meta["repaired"] for s in sentences] == [0, 1, 1, 0]
    messages = [r.getMessage() for r in caplog.records if r.name == "biotune"]
    assert messages == ["train.tsv: 2 ill-formed tag sequences repaired (conlleval convention)"]


def test_iter_tsv_clean_file_logs_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="biotune"):
        list(iter_tsv(write(tmp_path / "x.tsv", TSV)))
    assert caplog.records == []


def test_iter_tsv_one_column_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.tsv", "a\tO\n\nlonely\n")
    with pytest.raises(BiotuneError, match=r"bad\.tsv:3: expected 'token<TAB>tag', found one column: 'lonely'"):
        list(iter_tsv(path))


def test_iter_tsv_unknown_tag_names_file_line_and_tag(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.tsv", "a\tO\nb\tB-X\nc\tPER\n")
    with pytest.raises(BiotuneError, match=r"bad\.tsv:3: unknown tag 'PER'"):
        list(iter_tsv(path))


def test_iter_tsv_bio_scheme_rejects_iobes_tags(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.tsv", "a\tO\nb\tS-X\n")
    with pytest.raises(BiotuneError, match=r"bad\.tsv:2: unknown tag 'S-X' \(scheme 'bio' allows O and B-/I-TYPE\)"):
        list(iter_tsv(path, scheme="bio"))


def test_iter_tsv_empty_token_and_bad_utf8(tmp_path: Path) -> None:
    with pytest.raises(BiotuneError, match=r"x\.tsv:2: empty token"):
        list(iter_tsv(write(tmp_path / "x.tsv", "a\tO\n \tO\n")))
    path = tmp_path / "y.tsv"
    path.write_bytes(b"a\tO\n\xff\tO\n")
    with pytest.raises(BiotuneError, match=r"y\.tsv:2: not valid UTF-8"):
        list(iter_tsv(path))


def test_iter_tsv_unknown_scheme_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path / "x.tsv", "a\tO\n")
    with pytest.raises(BiotuneError, match=r"^unknown tag scheme 'iob' \(did you mean 'iobes'\?\); choose one of: bio, iobes, auto$"):
        iter_tsv(path, scheme="iob")
    with pytest.raises(BiotuneError, match=r"corpus file .*nope\.tsv does not exist"):
        iter_tsv(tmp_path / "nope.tsv")
    with pytest.raises(BiotuneError, match="is a folder, not a file"):
        iter_tsv(tmp_path)


def test_iter_jsonl_reads_tags_ids_and_annotated_types(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"id": 7, "tokens": ["a", "b"], "tags": ["S-X", "O"], "annotated_types": ["X"]},
            {"id": "s2", "tokens": ["c"], "tags": ["I-Y"]},
        ],
    )
    first, second = iter_jsonl(path)
    assert (first.id, first.tokens, first.tags, first.annotated_types) == ("7", ["a", "b"], ["B-X", "O"], {"X"})
    assert (second.id, second.tags, second.meta, second.annotated_types) == ("s2", ["B-Y"], {"repaired": 1}, None)


def test_iter_jsonl_unlabelled_custom_fields_and_line_ids(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '\n{"words": ["a", "b"]}\n')
    (sentence,) = iter_jsonl(path, tag_field=None, tokens_field="words", id_field=None)
    assert (sentence.id, sentence.tokens, sentence.tags) == ("d.jsonl:2", ["a", "b"], None)


def test_iter_jsonl_missing_field_names_file_line_and_fields_present(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": 1, "tokens": ["a"], "tags": ["O"]}, {"id": 2, "words": ["a"]}])
    with pytest.raises(BiotuneError, match=r"d\.jsonl:2: missing field 'tokens' \(fields present: 'id', 'words'\)"):
        list(iter_jsonl(path))
    path = write_jsonl(tmp_path / "e.jsonl", [{"tokens": ["a"], "tags": ["O"]}])
    assert [s.id for s in iter_jsonl(path)] == ["e.jsonl:1"]


def test_iter_jsonl_length_mismatch_names_sentence_and_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "abc", "tokens": ["a", "b"], "tags": ["O"]}])
    with pytest.raises(BiotuneError, match=r"d\.jsonl:1: sentence 'abc' has 2 tokens but 1 tags"):
        list(iter_jsonl(path))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": 1, "tokens": ["a"], "tags": ["O"]', r"d\.jsonl:1: invalid JSON"),
        ('["a"]', r"d\.jsonl:1: expected a JSON object, found list"),
        ('{"id": 1, "tokens": "a b", "tags": ["O"]}', r"d\.jsonl:1: field 'tokens' must be a list of strings"),
        ('{"id": 1, "tokens": ["a", ""], "tags": ["O", "O"]}', r"d\.jsonl:1: sentence '1': token 1 is empty"),
        ('{"id": 1, "tokens": ["a"], "tags": ["GENE"]}', r"d\.jsonl:1: sentence '1': unknown tag 'GENE'"),
        ('{"id": 1, "tokens": ["a"], "tags": ["O"], "annotated_types": "X"}', r"field 'annotated_types'"),
    ],
)
def test_iter_jsonl_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "d.jsonl", line + "\n")
    with pytest.raises(BiotuneError, match=message):
        list(iter_jsonl(path))


def test_iter_text_sets_text_offsets_and_ids(tmp_path: Path) -> None:
    path = write(tmp_path / "raw.txt", "IL-2 rises.\n\n  \n\u200b\nNo\u00a0way\n")
    sentences = list(iter_text(path))
    assert [(s.id, s.tokens) for s in sentences] == [("raw.txt:1", ["IL", "-", "2", "rises", "."]), ("raw.txt:5", ["No", "way"])]
    assert sentences[1].text == "No\u00a0way"
    assert sentences[1].offsets == [(0, 2), (3, 6)]
    assert sentences[0].tags is None


def test_iter_text_survives_awkward_texts(tmp_path: Path) -> None:
    lines = [text.replace("\n", " ") for text in AWKWARD_TEXTS]
    sentences = list(iter_text(write(tmp_path / "awkward.txt", "\n".join(lines) + "\n")))
    assert len(sentences) == sum(1 for line in lines if line.strip(" \t\u200b"))
    for sentence in sentences:
        assert sentence.text is not None and sentence.offsets is not None
        assert [sentence.text[s:e] for s, e in sentence.offsets] == sentence.tokens


def test_awkward_tokens_round_trip_through_tsv_and_jsonl(tmp_path: Path) -> None:
    from biotune.formats.text import tokenize

    tokens = [token for text in AWKWARD_TEXTS for token, _, _ in tokenize(text)]
    tsv = write(tmp_path / "a.tsv", "".join(f"{token}\tO\n" for token in tokens))
    assert [t for s in read_corpus_file(tsv) for t in s.tokens] == tokens
    jsonl = write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "tokens": tokens, "tags": ["O"] * len(tokens)}])
    assert read_corpus_file(jsonl)[0].tokens == tokens


@pytest.mark.parametrize(
    ("name", "content", "tokens"),
    [
        ("a.tsv", "x\tO\n", ["x"]),
        ("a.conll", "x O\n", ["x"]),
        ("a.iob", "x\tO\n", ["x"]),
        ("a.BIO", "x\tO\n", ["x"]),
        ("a.jsonl", '{"id": 1, "tokens": ["x"], "tags": ["O"]}\n', ["x"]),
        ("a.json", '{"id": 1, "tokens": ["x"], "tags": ["O"]}\n', ["x"]),
        ("a.txt", "x y\n", ["x", "y"]),
    ],
)
def test_read_corpus_file_picks_reader_by_extension(tmp_path: Path, name: str, content: str, tokens: list[str]) -> None:
    assert read_corpus_file(write(tmp_path / name, content))[0].tokens == tokens


def test_read_corpus_file_format_by_name_and_options(tmp_path: Path) -> None:
    path = write(tmp_path / "data.dat", '{"words": ["x"]}\n')
    (sentence,) = read_corpus_file(path, "jsonl", tokens_field="words", tag_field=None, id_field=None)
    assert sentence.tokens == ["x"]
    assert read_corpus_file(write(tmp_path / "c.txt", "x\tB-X\n"), format="conll")[0].tags == ["B-X"]


def test_read_corpus_file_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "data.dat", "x\tO\n")
    with pytest.raises(BiotuneError, match=r"unknown corpus format 'jsnl' .*did you mean 'jsonl'\?"):
        read_corpus_file(path, "jsnl")
    with pytest.raises(BiotuneError, match=r"cannot tell the format of .*data\.dat from its extension '\.dat'"):
        read_corpus_file(path)
    with pytest.raises(BiotuneError, match=r"unknown option\(s\) 'tag_field' for format 'tsv' \(accepted: scheme, tag_column, untyped_type\)"):
        read_corpus_file(path, "tsv", tag_field="tags")
    with pytest.raises(BiotuneError, match=r"corpus file .*missing\.tsv does not exist"):
        read_corpus_file(tmp_path / "missing.tsv")


@pytest.mark.parametrize(("name", "content"), [("e.tsv", ""), ("e.tsv", "-DOCSTART-\tO\n\n\n"), ("e.jsonl", "\n"), ("e.txt", " \n\u200b\n")])
def test_read_corpus_file_rejects_files_without_sentences(tmp_path: Path, name: str, content: str) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(BiotuneError, match=rf"file .*{name.replace('.', '[.]')} contains no sentences"):
        read_corpus_file(path)


def test_iter_corpus_file_streams(tmp_path: Path) -> None:
    stream = iter_corpus_file(write(tmp_path / "a.tsv", "x\tO\n\ny\tO\n"))
    assert next(stream).tokens == ["x"]
    assert next(stream).tokens == ["y"]
    with pytest.raises(StopIteration):
        next(stream)


SHARED_CORPORA = Path(__file__).resolve().parents[3] / "shared" / "data" / "corpora"


@pytest.mark.skipif(not (SHARED_CORPORA / "bc5cdr" / "devel.tsv").is_file(), reason="shared corpora absent")
def test_shared_bc5cdr_dev_reads_clean_with_registered_types() -> None:
    from biotune.corpora.registry import CORPORA, resolve_corpus
    from biotune.formats.schemes import entity_types

    paths = resolve_corpus("bc5cdr", data_dir=SHARED_CORPORA)
    assert paths.dev is not None
    sentences = read_corpus_file(paths.dev)
    assert len(sentences) > 1000
    assert sum(int(s.meta["repaired"]) for s in sentences) == 0
    assert tuple(entity_types(tag for s in sentences for tag in s.tags or [])) == CORPORA["bc5cdr"].entity_types


BLURB_TSV = "-DOCSTART- 95369245\n\nIL-2\tB\ngene\tI\nexpression\tO\n\nNF-kappa\tB\nB\tI\n\n-DOCSTART- 95370001\n\nT\tB\ncells\tI\n"


def test_blurb_untyped_tags_with_docstart_lines_read_as_one_type(tmp_path: Path) -> None:
    """BLURB's NER files: `-DOCSTART- <id>` between abstracts, bare B/I/O tags; the token `B` is a word, not a tag."""
    sentences = list(iter_tsv(write(tmp_path / "train.tsv", BLURB_TSV), untyped_type="Entity"))
    assert [(s.tokens, s.tags) for s in sentences] == [
        (["IL-2", "gene", "expression"], ["B-Entity", "I-Entity", "O"]),
        (["NF-kappa", "B"], ["B-Entity", "I-Entity"]),
        (["T", "cells"], ["B-Entity", "I-Entity"])]
    assert [s.document for s in sentences] == ["train.tsv:1", "train.tsv:1", "train.tsv:10"]


def test_bare_tags_without_untyped_type_are_refused_with_the_way_to_read_them(tmp_path: Path) -> None:
    with pytest.raises(BiotuneError, match=r"train\.tsv:3: unknown tag 'B' .*read with untyped_type, as the "
                                           r"registered blurb_\* corpora do$"):
        list(iter_tsv(write(tmp_path / "train.tsv", BLURB_TSV)))
