"""A name -> entry table that refuses to register a name twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from rules.errors import RuleError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name. Registering a name twice raises, so two modules cannot silently fight over an operator."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        """Add ``entry`` under ``name``; raises RuleError if the name is taken."""
        if name in self._entries:
            raise RuleError(f"{self._kind} `{name}` is already registered")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T | None:
        """The entry for ``name``, or None."""
        return self._entries.get(name)

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
