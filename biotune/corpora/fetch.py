"""Fetching a registered corpus on first use, every file checked against a pinned SHA-256 (pooch).

A corpus whose bytes are pinned here is fetched without being asked (`resolve_corpus` calls
`fetch_files` the first time the corpus is not found locally): a checksum that matches is the
same promise a shipped copy gives, so the README's main job runs on a machine that has only the
package. A corpus without pins is fetched only on request (`download=True`, `--download`).

The pins are the SHA-256 of the MTL-Bioinformatics-2016 files (Crichton et al., 2017) at its
GitHub repository's master branch, commit df0df02: each was checked byte-identical to that
commit's git blob. `$BIOTUNE_CORPUS_MIRROR` replaces the download location with a mirror laid
out like a data folder (`<mirror>/<corpus name>/<file>`): a laboratory's own server, or a local
HTTP server in tests.

Files arrive in a temporary sibling of the corpus folder, renamed onto it only when all have
arrived and matched, so an interrupted or tampered download never looks like a corpus.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pooch
import requests

from biotune.errors import BiotuneError

MIRROR_ENV = "BIOTUNE_CORPUS_MIRROR"
PINS_ENV = "BIOTUNE_CORPUS_PINS"
DOWNLOAD_TIMEOUT_S = 60
SHA256 = re.compile(r"[0-9a-f]{64}")

PINNED_SHA256: dict[str, dict[str, str]] = {
    "bc5cdr": {
        "train.tsv": "b731361c0ed73afd04cc5fdad39afcdfd8f325d6e46c282339185a91d1af4c14",
        "devel.tsv": "b909de65c4f7e3c23bb09ad52d654cdc92e96db941abe1a5dcf6f6010c03cff5",
        "test.tsv": "e41a2843a5fff0cd8d1a88cb147968d61ae29336ca70cddc3d7fb8ff21dfa1e8",
    },
    "ncbi_disease": {
        "train.tsv": "58379baf4614b8d757d93dd7a21b202849ca99f9b9d71b49185523ff5443300c",
        "devel.tsv": "b4e1e7efcc2a35047bf2f3d281648357470e674f555d4a26a0049ac37d59cc61",
        "test.tsv": "8f088ce45dc4746592188f9e69de3d89d87f3bb8f0ed8c4a287d018123fa148d",
    },
    "bc2gm": {
        "train.tsv": "46e17f4e1509483b82c03f27d6f0214020f738fb71704356fb3445eb824ab38d",
        "devel.tsv": "33a94577aa22f1e70ec9e02781a05baa4e1390e866d28bf2b344888e4e3d4103",
        "test.tsv": "30d7a4f571ca8ed22a044528063ba5d0388d666d8b8b329733d6927e5fb30764",
    },
    "linnaeus": {
        "train.tsv": "74c8612944a4de87665680989a3d589c843562d3ec175e3b512295691b221d9a",
        "devel.tsv": "042b5676d4f541995d617f43e2926afdf6653ed60ad9010c2f45b78ae869f2b6",
        "test.tsv": "1792b82f7cf9159fd71de38b139a457dbc5ca126c13ac9e355a5fad3e65930ad",
    },
}


def pins() -> dict[str, dict[str, str]]:
    """The pinned SHA-256s by corpus and file: the built-in ones, with `$BIOTUNE_CORPUS_PINS` over them.

    A `BiotuneError` names the file when it is missing or is not such a JSON mapping."""
    found = dict(PINNED_SHA256)
    path = os.environ.get(PINS_ENV)
    if not path:
        return found
    try:
        extra = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BiotuneError(f"{path} (${PINS_ENV}): cannot read it as JSON: {error}") from None
    shape = '{"<corpus>": {"<file>": "<sha256>"}}'
    if not isinstance(extra, dict) or not all(
            isinstance(files, dict) and all(isinstance(f, str) and isinstance(h, str) and SHA256.fullmatch(h)
                                            for f, h in files.items()) for files in extra.values()):
        raise BiotuneError(f"{path} (${PINS_ENV}): expected {shape} with 64 hex digits per file")
    found.update(extra)
    return found


def is_pinned(name: str) -> bool:
    """Whether corpus `name` is fetched on first use (its files have pinned checksums)."""
    return name in pins()


def download_url(name: str, url: str) -> str:
    """Where corpus `name`'s files are fetched from: `$BIOTUNE_CORPUS_MIRROR/<name>` when set, else `url`."""
    mirror = os.environ.get(MIRROR_ENV)
    return f"{mirror.rstrip('/')}/{name}" if mirror else url


def fetch_files(name: str, base_url: str, files: tuple[str, ...], target: Path) -> None:
    """Fetch `files` from `base_url` into the folder `target`, all or none, each checked against its pin.

    Raises `OSError` whose message is one line naming the file's URL and what went wrong (no
    network, an HTTP status, a checksum that is not the pinned one); `target` is then untouched.
    """
    pinned: Mapping[str, str] = pins().get(name, {})
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    downloader = pooch.HTTPDownloader(progressbar=False, timeout=DOWNLOAD_TIMEOUT_S)
    try:
        for file_name in files:
            url = f"{base_url.rstrip('/')}/{file_name}"
            pin = pinned.get(file_name)
            try:
                pooch.retrieve(url, known_hash=f"sha256:{pin}" if pin else None, fname=file_name, path=staging,
                               downloader=downloader)
            except (requests.RequestException, ValueError) as error:
                raise OSError(f"cannot download {url}: {_reason(error)}") from None
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _reason(error: Exception) -> str:
    """What went wrong with one download, in a few words (requests' own messages run to several lines)."""
    if isinstance(error, requests.ConnectionError):
        return "no connection (offline?)"
    if isinstance(error, requests.Timeout):
        return f"no answer within {DOWNLOAD_TIMEOUT_S} s"
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code}"
    if isinstance(error, ValueError):
        return "its SHA-256 is not the pinned one (changed upstream, or damaged on the way)"
    return type(error).__name__
