"""Logging set-up: one `biotune` logger, mirrored into a run's log file while it trains."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def logger_level(level: int, name: str = "biotune") -> Iterator[None]:
    """Set a logger's level for the duration, then put the previous one back."""
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextlib.contextmanager
def log_to_file(path: Path) -> Iterator[None]:
    """Copy biotune's and transformers' log records into `path` for the duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger("biotune"), logging.getLogger("transformers")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with logger_level(logging.INFO):
            yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        handler.close()
