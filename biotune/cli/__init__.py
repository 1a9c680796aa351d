"""Command line: a thin shell that parses arguments, calls the library, prints.

The `biotune` app is assembled from sub-apps, one module per group of commands (`training`,
`prediction`, `serving`, `experiments`, `data`, `link`), whose shared options are defined once
(`options`). Every user error is a `BiotuneError`; it is printed without a traceback and the
command exits with status 2 (`console.friendly`).
"""

from __future__ import annotations

import typer

from biotune.cli import data, experiments, link, prediction, serving, training
from biotune.cli.console import console

app = typer.Typer(help="Fine-tune, evaluate and run transformer encoders on biomedical text-mining tasks.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
for group in (training, prediction, serving, experiments, data, link):
    app.add_typer(group.app)


def main() -> int:
    """The `biotune` command: click's usage errors (bad option values, unknown options) become the same
    one-line `error:` as every `BiotuneError`, exit 2, instead of typer's multi-line panel.

    Ctrl-C, SIGTERM and SIGHUP unwind the command (`biotune.interrupts`), so that no output is left
    half-written or as a temporary, and end it with one `interrupted` line and the shell's status for
    the signal, 128 + its number: 130 for Ctrl-C, 143 for SIGTERM."""
    from biotune.interrupts import Interrupted, catch_signals

    with catch_signals() as caught:
        try:
            code = _run_app()
        except Interrupted as exc:  # raised outside a command; typer turns one inside into status 130
            code = 128 + exc.signal
    if caught.received is not None:
        console.print(f"[bold red]interrupted[/] by {caught.received.name}", highlight=False)
        return 128 + caught.received
    return code


def _run_app() -> int:
    """The app's exit status, click's usage errors printed as one `error:` line (see `main`)."""
    try:
        code = app(prog_name="biotune", standalone_mode=False)
    except typer.Abort:
        console.print("[bold red]aborted[/]")
        return 1
    except typer.TyperException as exc:  # typer's own click: UsageError, BadParameter, NoSuchOption...
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if message:  # empty for `biotune` alone, whose help is already printed
            console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        return int(getattr(exc, "exit_code", 2))
    return code if isinstance(code, int) else 0

