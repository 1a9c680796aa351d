"""The site's structure, checked without building it (`mkdocs build --strict` in .ci/run builds it).

Every page is in the nav, every command has its page (its options are generated from the CLI by
`docs/command_options.py`), and every file BENCHMARKS.md links to exists, so that
`docs/benchmark_files.py` can put it where the included page's links point.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _nav_pages(entries) -> list[str]:
    found = []
    for entry in entries:
        for value in (entry.values() if isinstance(entry, dict) else [entry]):
            found += _nav_pages(value) if isinstance(value, list) else [value]
    return found


def test_the_nav_lists_every_page_and_only_pages_that_exist():
    nav = _nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"])
    written = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    generated = {"reference/config.md"}
    assert sorted(nav) == sorted(set(nav)), "a page is listed twice"
    assert set(nav) == written | generated


def test_every_command_has_a_page_and_every_page_a_command():
    options = _script("command_options")
    commands = options._commands()
    options.check_pages(commands)
    section = options.section("link", commands["link"])
    assert "### `biotune link build`" in section and "| `--vocab` | required |" in section
    assert "term&lt;TAB&gt;id" in section  # HTML's special characters escaped, not swallowed as a tag


def test_the_files_benchmarks_links_to_exist():
    files = _script("benchmark_files")
    targets = files.link_targets((ROOT / "BENCHMARKS.md").read_text(encoding="utf-8"))
    assert "bench/gold_silver_sweep.png" in targets
    assert [t for t in targets if not (ROOT / t).is_file()] == []
    assert files.link_targets('[a](x.md#y) ![b](img/p.png "t") [c](https://e.org/z) <img src="q.svg">') == [
        "x.md", "img/p.png", "q.svg"]
