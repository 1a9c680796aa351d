"""What every command shares for output: the console (stderr), one-line errors, progress bars, and
a task's Markdown of its results."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from biotune.errors import BiotuneError

console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Print `BiotuneError`s as one red message and exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)])
        logging.getLogger("biotune").setLevel(logging.INFO)
        try:
            return func(*args, **kwargs)
        except BiotuneError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)  # paths stay unbroken
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console)


def render(task_name: str, results: dict[str, Any], title: str = "") -> str:
    """The task's Markdown of `{test set: Result}`."""
    from biotune.tasks import get_task

    data = {name: {**r.to_dict(), "headline_key": r.headline_key} for name, r in results.items()}
    return get_task(task_name).render(data, title)
