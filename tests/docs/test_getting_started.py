"""The getting-started page's commands, run as a user runs them (`docs/getting-started.md`).

Every ```bash block of the page runs, in order, in one fresh folder with no `../shared` beside it
(the repository's `configs/` copied in, as a checkout has them), except the set-up block (pip
install, the test suite: this is the test suite) and the main job (full training, too slow for a
test; the page's quick check is the same config at `--limit 100 --epochs 1`). The command text is
run as written; the only substitution is the data source: BC5CDR is fetched on first use from a
local HTTP server (`$BIOTUNE_CORPUS_MIRROR`) into an empty cache (`$BIOTUNE_CACHE_DIR`).

The server serves small BC5CDR-format files written by the test, pinned through
`$BIOTUNE_CORPUS_PINS` (the mirror's own pins, as a laboratory's mirror of other bytes names
them), so the fetch runs checked, as a user's does, on any machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "getting-started.md"
SENTENCES = {"train.tsv": 120, "devel.tsv": 30, "test.tsv": 30}
MAIN_JOB = "biotune train configs/bc5cdr.yaml"
SET_UP = ("pip install", "python -m pytest")


def bash_blocks(text: str) -> list[str]:
    """The page's ```bash blocks, comments and blank lines dropped."""
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
    return ["\n".join(line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#"))
            for block in blocks]


def blocks_to_run(text: str) -> list[str]:
    blocks = bash_blocks(text)
    assert any(all(line.startswith(SET_UP) for line in b.splitlines()) for b in blocks), "no set-up block"
    assert MAIN_JOB in blocks, f"the main job block ({MAIN_JOB}) is not on the page"
    return [b for b in blocks if b != MAIN_JOB and not all(line.startswith(SET_UP) for line in b.splitlines())]


def test_the_page_has_the_set_up_the_main_job_and_a_quick_check():
    text = PAGE.read_text(encoding="utf-8")
    assert "pip install -e \".[test]\"" in text and "python -m pytest" in text
    runs = blocks_to_run(text)
    assert runs and runs[0].startswith("biotune run configs/bc5cdr.yaml --limit ")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """pytest output is for failures."""


def bc5cdr_mirror(root: Path) -> Path:
    """A mirror folder holding small BC5CDR-format split files, and the pins file naming their SHA-256s."""
    folder = root / "bc5cdr"
    folder.mkdir(parents=True)
    pins = {}
    for split, (name, count) in enumerate(SENTENCES.items()):  # each split its own sentences: dev is not test
        rows = [f"{drug}\tB-Chemical\ninduced\tO\n{disease}\tB-Disease\n.\tO\n\n"
                for n in range(count) for drug, disease in [(f"drug{n % 7}", f"disorder{n % 5}x{split}")]]
        (folder / name).write_text("".join(rows), encoding="utf-8")
        pins[name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    pins_file = root.parent / "pins.json"
    pins_file.write_text(json.dumps({"bc5cdr": pins}), encoding="utf-8")
    return pins_file


def test_the_pages_commands_run_from_a_fresh_folder(tmp_path: Path):
    work = tmp_path / "fresh" / "work"  # no ../shared beside it
    shutil.copytree(ROOT / "configs", work / "configs")
    pins_file = bc5cdr_mirror(tmp_path / "mirror")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(tmp_path / "mirror")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {key: value for key, value in os.environ.items() if not key.startswith("BIOTUNE_")}
    env.update(BIOTUNE_CORPUS_MIRROR=f"http://127.0.0.1:{server.server_address[1]}", BIOTUNE_CORPUS_PINS=str(pins_file),
               BIOTUNE_CACHE_DIR=str(tmp_path / "cache"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    try:
        for block in blocks_to_run(PAGE.read_text(encoding="utf-8")):
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"{block}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(p.name for p in (tmp_path / "cache" / "corpora" / "bc5cdr").iterdir()) == [
        "devel.tsv", "test.tsv", "train.tsv"]
    run = work / "outputs" / "results" / "bc5cdr__limit100" / "seed_42"
    assert '"headline_key": "micro.f1"' in (run / "eval_test.json").read_text()
    assert (work / "outputs" / "checkpoints" / "bc5cdr__limit100" / "seed_42" / "best_model" / "README.md").is_file()
