"""Document formats by name: text documents, extension detection, folder expansion, byte-range reading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biotune.formats.document_formats import document_format, input_files, iter_documents, iter_text_documents
from biotune.errors import BiotuneError


def test_text_lines_become_documents_with_line_ids(tmp_path: Path) -> None:
    path = tmp_path / "abstracts.txt"
    path.write_text("Aspirin helps.\r\n\n   \nHeparin \u223c bleeding 😀.\n", encoding="utf-8")
    docs = list(iter_text_documents(path))
    assert [d.id for d in docs] == ["abstracts-1", "abstracts-4"]
    assert [d.text for d in docs] == ["Aspirin helps.", "Heparin \u223c bleeding 😀."]


@pytest.mark.parametrize(("name", "expected"), [("a.txt", "text"), ("a.JSONL", "jsonl"), ("a.pubtator", "pubtator"),
                                                ("a.xml", "bioc-xml"), ("a.json", "bioc-json")])
def test_format_follows_the_extension(name: str, expected: str) -> None:
    assert document_format(name) == expected


def test_unknown_extension_or_format_is_a_clear_error() -> None:
    with pytest.raises(BiotuneError, match=r"a\.csv: cannot tell the document format.*pass --format"):
        document_format("a.csv")
    with pytest.raises(BiotuneError, match="^unknown document format 'pdf'; choose one of: text, jsonl, pubtator, bioc-xml, bioc-json, brat, bigbio$"):
        document_format("a.txt", "pdf")
    assert document_format("a.csv", "text") == "text"


def test_folders_expand_recursively_in_stable_order_skipping_hidden_and_unknown(tmp_path: Path) -> None:
    for name in ["b.txt", "a/z.pubtator", "a/c.jsonl", ".hidden/x.txt", "a/.y.txt", "notes.md"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n", encoding="utf-8")
    assert [rel for _, rel in input_files(tmp_path)] == ["a/c.jsonl", "a/z.pubtator", "b.txt"]
    assert [rel for _, rel in input_files(tmp_path, "text")] == ["a/c.jsonl", "a/z.pubtator", "b.txt", "notes.md"]
    assert input_files(tmp_path / "b.txt") == [(tmp_path / "b.txt", "b.txt")]
    with pytest.raises(BiotuneError, match="input .*missing not found"):
        input_files(tmp_path / "missing")


def test_iter_documents_streams_bioc_xml(tmp_path: Path) -> None:
    from biotune.formats.bioc_io import write_bioc_xml
    from biotune.formats.documents import Document, Passage

    docs = [Document(str(i), [Passage("abstract", f"Text number {i}.")]) for i in range(3)]
    write_bioc_xml(docs, tmp_path / "c.xml")
    stream = iter_documents(tmp_path / "c.xml")
    assert next(stream).id == "0"
    assert [d.id for d in stream] == ["1", "2"]


def test_quick_document_counts_match_the_readers(tmp_path: Path) -> None:
    from biotune.formats.document_formats import count_documents

    text = tmp_path / "a.txt"
    text.write_text("one\n\n  \ntwo\nthree", encoding="utf-8")
    pubtator = tmp_path / "b.pubtator"
    pubtator.write_text("1|t|T one\n1|a|A.\n\n2|t|T two\n2|a|A|b|t|c.\n2\t0\t1\tT\tX\n\n", encoding="utf-8")
    for path, format in [(text, "text"), (pubtator, "pubtator")]:
        assert count_documents(path, format) == len(list(iter_documents(path, format))) > 1
    assert count_documents(tmp_path / "c.xml", "bioc-xml") is None


def awkward_files(folder: Path) -> dict[str, Path]:
    """One file per line format: a BOM, CRLF, blank and whitespace-only lines (U+3000, NBSP, U+001C), emoji."""
    folder.mkdir(parents=True, exist_ok=True)
    text = folder / "a.txt"
    text.write_bytes("\ufeffFirst 😀 line.\r\n\n\u3000\n\u00a0 \x1c\n".encode() +
                     "".join(f"Line {i} \u223c.\n" if i % 3 else "\n" for i in range(17)).encode() + b"last, no newline")
    jsonl = folder / "b.jsonl"
    jsonl.write_text("\n".join(json.dumps({"id": f"j{i}", "text": f"T{i} é"}) + ("\n\u3000" if i % 4 == 0 else "")
                               for i in range(11)) + "\n", encoding="utf-8")
    pubtator = folder / "c.pubtator"
    pubtator.write_text("".join(f"{i}|t|Title {i} α|t|x\n{i}|a|Abstract.\n{i}\t0\t5\tTitle\tX\n" + ("\n" if i % 2 else "")
                                for i in range(9)) + "\n\n", encoding="utf-8")
    return {"text": text, "jsonl": jsonl, "pubtator": pubtator}


@pytest.mark.parametrize("size", [1, 2, 3, 5, 100])
def test_byte_ranges_read_exactly_the_whole_file_documents(tmp_path: Path, size: int) -> None:
    from biotune.formats.document_formats import count_documents, plan_ranges, read_range

    for format, path in awkward_files(tmp_path).items():
        whole = list(iter_documents(path, format))
        ranges = plan_ranges(path, format, size)
        assert ranges is not None and ranges[0].start == 0 and ranges[-1].end == path.stat().st_size
        assert all(a.end == b.start for a, b in zip(ranges, ranges[1:])), "contiguous, no byte read twice"
        assert [r.documents for r in ranges] == [min(size, len(whole) - k * size) for k in range(len(ranges))]
        parts = [list(read_range(path, format, r)) for r in ranges]
        assert [len(p) for p in parts] == [r.documents for r in ranges]
        assert [d for p in parts for d in p] == whole, format
        assert count_documents(path, format) == len(whole) > size or size == 100


def test_byte_ranges_keep_the_whole_file_line_numbers_in_errors(tmp_path: Path) -> None:
    from biotune.formats.document_formats import plan_ranges, read_range

    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "text": "ok"}) + "\n\n" for i in range(5)) + '{"id": 9}\n',
                    encoding="utf-8")
    last = plan_ranges(path, "jsonl", 2)[-1]
    assert (last.first_line, last.documents) == (9, 2)
    with pytest.raises(BiotuneError, match=r"bad.jsonl:11: a document needs"):
        list(read_range(path, "jsonl", last))
    assert plan_ranges(tmp_path / "c.xml", "bioc-xml", 2) is None
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    assert plan_ranges(tmp_path / "empty.txt", "text", 2) == []


@pytest.mark.parametrize("format", ["text", "jsonl", "pubtator"])
def test_a_range_is_read_without_the_bytes_before_it(tmp_path: Path, format: str) -> None:
    """Shard k's reader never touches the earlier shards' bytes: garbage there changes nothing for it."""
    from biotune.formats.document_formats import plan_ranges, read_range

    path = awkward_files(tmp_path)[format]
    whole = list(iter_documents(path, format))
    ranges = plan_ranges(path, format, 3)
    assert len(ranges) >= 3
    data = bytearray(path.read_bytes())
    cut = ranges[2].start
    data[:cut] = b"\xff{" * (cut // 2) + b"\xff" * (cut % 2)  # same length: invalid UTF-8, not JSON, not PubTator
    path.write_bytes(bytes(data))
    with pytest.raises(BiotuneError, match=rf"{path.name}:1: "):
        list(iter_documents(path, format))  # a whole-file read (or shard 0's) meets the garbage...
    for k in range(2, len(ranges)):  # ...shards 2.. do not: the same documents as the intact file's whole read
        assert list(read_range(path, format, ranges[k])) == whole[3 * k : 3 * k + 3]


def test_planning_ranges_parses_no_document(tmp_path: Path) -> None:
    """The plan is a byte scan: a JSONL file whose lines are not JSON plans fine (the error comes at its shard's read)."""
    from biotune.formats.document_formats import plan_ranges, read_range

    path = tmp_path / "bad.jsonl"
    path.write_text("".join(f"not json {i}\n" for i in range(7)), encoding="utf-8")
    ranges = plan_ranges(path, "jsonl", 3)
    assert [(r.first_line, r.documents) for r in ranges] == [(1, 3), (4, 3), (7, 1)]
    with pytest.raises(BiotuneError, match=r"bad.jsonl:4: "):
        list(read_range(path, "jsonl", ranges[1]))
