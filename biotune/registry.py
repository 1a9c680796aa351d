"""The one registry helper: every by-name choice in biotune (head, format, corpus, task, strategy).

A `Registry` maps names to values and answers an unknown name the same way everywhere, with
one line that names the option, lists the choices and suggests the closest one:

    model.head: unknown head 'crff' (did you mean 'crf'?); choose one of: softmax, crf

It is a mutable mapping (``name in HEADS``, ``HEADS["crf"]``, ``HEADS["mine"] = build_mine``),
so code that used a plain dict keeps working; `lookup` is the checked access for user input.

A value may be `Lazy("package.module:attribute")`: it is imported on first access and then
kept. Config validation only needs the names, so a registry of model builders or tasks can be
imported without importing torch or transformers.

`did_you_mean` is the suggestion on its own, for unknown keys checked elsewhere (pydantic's
forbidden extra fields, a TSV header's columns).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from biotune.errors import BiotuneError

T = TypeVar("T")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the choice closest to `name`, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(name), [str(choice) for choice in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True, slots=True)
class Lazy:
    """A registry value named by ``"package.module:attribute"``, imported when it is first looked up."""

    target: str

    def __post_init__(self) -> None:
        module, _, attribute = self.target.partition(":")
        if not module or not attribute:
            raise ValueError(f"a lazy registry entry is 'package.module:attribute', got {self.target!r}")

    def resolve(self) -> object:
        module, _, attribute = self.target.partition(":")
        value: object = importlib.import_module(module)
        for part in attribute.split("."):
            value = getattr(value, part)
        return value


class Registry(MutableMapping[str, T], Generic[T]):
    """Names of one `kind` ("head", "document format", ...) mapped to values, in registration order.

    `normalize` maps a user's spelling to the registered one (e.g. case and ``-``/``_`` for
    corpus names); it applies to every access. `alternative` ends the list of choices when a
    name is not the only valid answer (a corpus may also be a folder).
    """

    def __init__(self, kind: str, entries: Mapping[str, T | Lazy] | None = None, *,
                 normalize: Callable[[str], str] | None = None, alternative: str | None = None) -> None:
        self.kind = kind
        self._normalize = normalize or (lambda name: name)
        self._alternative = alternative
        self._entries: dict[str, T | Lazy] = {}
        for name, value in (entries or {}).items():
            self[name] = value

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order (what error messages and `--help` list)."""
        return tuple(self._entries)

    def unknown(self, name: str, where: str | None = None) -> str | None:
        """The one-line error for `name` if it is not registered, else None (for validators that raise their own type)."""
        if self._normalize(name) in self._entries:
            return None
        choices = ", ".join(self._entries) + (f", or {self._alternative}" if self._alternative else "")
        prefix = f"{where}: " if where else ""
        return f"{prefix}unknown {self.kind} {name!r}{did_you_mean(self._normalize(name), self._entries)}; " \
               f"choose one of: {choices}"

    def lookup(self, name: str, where: str | None = None) -> T:
        """The value registered as `name`; an unknown name is a `BiotuneError` naming `where` (the option or key)."""
        message = self.unknown(name, where)
        if message:
            raise BiotuneError(message)
        return self[name]

    def __getitem__(self, name: str) -> T:
        key = self._normalize(name)
        value = self._entries[key]
        if isinstance(value, Lazy):
            value = self._entries[key] = value.resolve()  # type: ignore[assignment]
        return value  # type: ignore[return-value]

    def __setitem__(self, name: str, value: T | Lazy) -> None:
        self._entries[self._normalize(name)] = value

    def __delitem__(self, name: str) -> None:
        del self._entries[self._normalize(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._normalize(name) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={list(self._entries)})"
