"""Split patterns: a glob of one folder's files, less the namesakes in a sibling folder (`except`)."""

from __future__ import annotations

from pathlib import Path

from biotune.formats.patterns import is_pattern, pattern_files


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(name, encoding="utf-8")


def test_glob_and_except_select_by_file_name(tmp_path: Path) -> None:
    _touch(tmp_path / "train", "10.ann", "11.ann", "20.ann", "20.txt", "31.ann")
    _touch(tmp_path / "test", "20.ann", "99.ann")
    train = tmp_path / "train"
    assert pattern_files(train / "*0.ann") == [train / "10.ann", train / "20.ann"]
    assert pattern_files(train / "*0.ann except test") == [train / "10.ann"], "20 is also a test document"
    assert pattern_files(train / "*[!0].ann except test") == [train / "11.ann", train / "31.ann"]
    assert pattern_files(train / "*.ann except missing") == [train / n for n in ("10.ann", "11.ann", "20.ann", "31.ann")]


def test_a_plain_path_is_itself_when_it_is_a_file(tmp_path: Path) -> None:
    _touch(tmp_path, "a.tsv")
    assert not is_pattern(tmp_path / "a.tsv") and is_pattern(tmp_path / "*.tsv")
    assert pattern_files(tmp_path / "a.tsv") == [tmp_path / "a.tsv"]
    assert pattern_files(tmp_path / "b.tsv") == []
