"""The options section of every command page, generated from the CLI itself at build time.

Each page `docs/commands/<command>.md` is written by hand (what the command does, examples); this
script (run by `mkdocs-gen-files`, see `mkdocs.yml`) appends an "Arguments and options" table read
from the command's parameters (`biotune.cli.app`), so the documented options are exactly those the
command accepts: a renamed or new option changes the page, never only the code. A command without
a page, or a page without a command, fails the build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent


def _commands() -> dict[str, Any]:
    """Every command and sub-command by page name (`link` holds `link build`, ...)."""
    import typer

    from biotune.cli import app

    root = typer.main.get_command(app)
    return dict(root.commands)  # type: ignore[attr-defined]


def _cell(text: str) -> str:
    """One table cell: on one line, with `|` and HTML's special characters escaped (`term<TAB>id`)."""
    text = " ".join(str(text).split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _flags(param: Any) -> str:
    if param.param_type_name == "argument":
        return f"`{param.name.upper()}`"
    flags = [*param.opts] + [*param.secondary_opts]
    return " / ".join(f"`{flag}`" for flag in flags)


def _default(param: Any) -> str:
    if param.required:
        return "required"
    value = param.default
    if value is None or value == [] or value == ():
        return ""
    if getattr(param, "is_flag", False) and param.secondary_opts:
        return f"`{param.opts[0] if value else param.secondary_opts[0]}`"
    return f"`{value}`"


def options_table(command: Any, prefix: str) -> list[str]:
    """One command's arguments and options as Markdown lines (help text as the command prints it)."""
    lines = [f"### `{prefix}`", "", _cell(command.help or ""), ""]
    params = [p for p in command.params if not getattr(p, "hidden", False) and p.name not in ("help",)]
    if params:
        lines += ["| argument / option | default | meaning |", "|---|---|---|"]
        for param in params:
            help_text = getattr(param, "help", "") or ""
            repeat = " (repeatable)" if getattr(param, "multiple", False) and "repeatable" not in help_text else ""
            lines.append(f"| {_flags(param)} | {_default(param)} | {_cell(help_text)}{repeat} |")
        lines.append("")
    return lines


def section(name: str, command: Any) -> str:
    lines = ["", "## Arguments and options", "",
             f"Generated from the command itself (`biotune {name} --help` prints the same).", ""]
    lines += options_table(command, f"biotune {name}")
    for sub_name, sub in getattr(command, "commands", {}).items():
        lines += options_table(sub, f"biotune {name} {sub_name}")
    return "\n".join(lines) + "\n"


def check_pages(commands: dict[str, Any]) -> None:
    pages = {path.stem for path in (DOCS / "commands").glob("*.md")}
    if pages != set(commands):
        raise SystemExit(f"docs/commands/: pages without a command {sorted(pages - set(commands))}, "
                         f"commands without a page {sorted(set(commands) - pages)}")


if __name__ == "<run_path>":  # run by mkdocs-gen-files at build time
    import mkdocs_gen_files

    found = _commands()
    check_pages(found)
    for command_name, command in found.items():
        with mkdocs_gen_files.open(f"commands/{command_name}.md", "a") as page:
            page.write(section(command_name, command))
