"""Logging set-up: one `biotune` logger, mirrored into a run's log file while it trains."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def log_to_file(path: Path) -> Iterator[None]:
    """Copy biotune's and transformers' log records into `path` for the duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger("biotune"), logging.getLogger("transformers")]
    for logger in loggers:
        logger.addHandler(handler)
    biotune_logger = loggers[0]
    previous = biotune_logger.level
    biotune_logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        biotune_logger.setLevel(previous)
        for logger in loggers:
            logger.removeHandler(handler)
        handler.close()
