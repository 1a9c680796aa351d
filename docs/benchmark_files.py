"""The files BENCHMARKS.md links to, put where its links point once it is part of the site.

`docs/benchmarks.md` includes the repository's BENCHMARKS.md as it is (`--8<-- "BENCHMARKS.md"`,
pymdownx.snippets), so the bench scripts keep writing one file that reads right on GitHub. Its
links are relative to the repository root (`bench/gold_silver_sweep.png`), and `benchmarks.md`
sits at the site's root, so the same relative path works on the site once the file is there:
this script (run by `mkdocs-gen-files`, see `mkdocs.yml`) copies every relative link target of
BENCHMARKS.md into the site at that path. A target missing from the repository is left alone,
and `mkdocs build --strict` then fails on the broken link, as it should.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<img[^>]*\bsrc=\"([^\"]+)\"")


def link_targets(markdown: str) -> list[str]:
    """Relative file targets of Markdown links and images (anchors and URLs left out), in order."""
    found = []
    for match in LINK.finditer(markdown):
        target = (match.group(1) or match.group(2)).split("#", 1)[0]
        if target and "://" not in target and not target.startswith(("/", "mailto:")):
            found.append(target)
    return list(dict.fromkeys(found))


if __name__ == "<run_path>":  # run by mkdocs-gen-files at build time
    import mkdocs_gen_files

    for target in link_targets((ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")):
        source = ROOT / target
        if source.is_file() and ROOT in source.resolve().parents:
            with mkdocs_gen_files.open(target, "wb") as copy:
                copy.write(source.read_bytes())
