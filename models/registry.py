"""The model registry: bundle versions side by side in one folder, and small files naming the served ones.

Layout of ``<root>``::

    <root>/<version>/manifest.json ...   one bundle per version (see ``models.bundle``)
    <root>/CURRENT                       the champion: the version the engine serves
    <root>/CHALLENGER                    the shadow model (absent: none)
    <root>/HISTORY                       previous champions, oldest first, one per line: what ``rollback`` returns to

Every pointer file is replaced atomically (temporary file in the same folder, fsync, ``os.replace``), so a reader
sees the old name or the new one, never a torn write; writers hold an ``flock`` on ``<root>/.lock`` so that two
promotions cannot interleave their read-modify-write of HISTORY.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from models.bundle import MANIFEST, load_bundle
from models.errors import BundleError, RegistryError

CURRENT = "CURRENT"
CHALLENGER = "CHALLENGER"
HISTORY = "HISTORY"
_LOCK = ".lock"


@dataclass(frozen=True)
class VersionInfo:
    """One bundle folder of the registry."""

    version: str
    """Folder name."""
    path: Path
    """Bundle folder."""
    current: bool
    """Named by CURRENT."""
    challenger: bool
    """Named by CHALLENGER."""


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see either the old content or the new one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_name(path: Path) -> str | None:
    try:
        name = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


class Registry:
    """Versions of one model kept side by side under ``root``; see the module docstring for the layout."""

    def __init__(self, root: Path) -> None:
        """Open the registry at ``root``; the folder is created on the first write."""
        self.root = Path(root)

    @property
    def current(self) -> str | None:
        """The served version, or None when CURRENT is absent."""
        return _read_name(self.root / CURRENT)

    @property
    def challenger(self) -> str | None:
        """The shadow version, or None when there is none."""
        return _read_name(self.root / CHALLENGER)

    def path(self, version: str) -> Path:
        """The folder of ``version``; raises :class:`RegistryError` when it holds no bundle."""
        if not version or "/" in version or "\\" in version or version.startswith("."):
            msg = f"{version!r} is not a version name; pick one of `fraudgate models list`"
            raise RegistryError(msg)
        folder = self.root / version
        if not (folder / MANIFEST).is_file():
            known = ", ".join(self.versions()) or "none"
            msg = f"no bundle {version!r} in {self.root} (versions: {known})"
            raise RegistryError(msg)
        return folder

    def current_path(self) -> Path | None:
        """Folder of the served bundle, or None when there is no CURRENT."""
        name = self.current
        return None if name is None else self.root / name

    def challenger_path(self) -> Path | None:
        """Folder of the shadow bundle, or None."""
        name = self.challenger
        return None if name is None else self.root / name

    def versions(self) -> builtins.list[str]:
        """Names of the bundle folders, sorted (timestamped version names sort by age)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if not p.name.startswith(".") and (p / MANIFEST).is_file())

    def list(self) -> builtins.list[VersionInfo]:
        """Every version with its role."""
        current, challenger = self.current, self.challenger
        return [
            VersionInfo(version=v, path=self.root / v, current=v == current, challenger=v == challenger)
            for v in self.versions()
        ]

    def history(self) -> builtins.list[str]:
        """Previous champions, oldest first."""
        try:
            lines = (self.root / HISTORY).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [line.strip() for line in lines if line.strip()]

    def promote(self, version: str) -> str:
        """Make ``version`` the champion after loading and verifying it; the old champion goes to HISTORY.

        Promoting the challenger also clears CHALLENGER (a model does not shadow itself). Returns the version.
        """
        self._verify(version)
        with self._locked():
            previous = self.current
            if previous == version:
                return version
            if previous is not None:
                write_atomic(self.root / HISTORY, "".join(f"{v}\n" for v in [*self.history(), previous]))
            write_atomic(self.root / CURRENT, version + "\n")
            if self.challenger == version:
                (self.root / CHALLENGER).unlink(missing_ok=True)
        return version

    def rollback(self) -> str:
        """Serve the previous champion again (the last line of HISTORY, which is removed); returns it."""
        with self._locked():
            history = self.history()
            if not history:
                msg = f"nothing to roll back to: {self.root / HISTORY} is empty; promote a version by name instead"
                raise RegistryError(msg)
            previous = history[-1]
            self._verify(previous)
            write_atomic(self.root / CURRENT, previous + "\n")
            write_atomic(self.root / HISTORY, "".join(f"{v}\n" for v in history[:-1]))
        return previous

    def set_challenger(self, version: str | None) -> str | None:
        """Name the shadow model after loading and verifying it; None removes it. Returns the new challenger."""
        with self._locked():
            if version is None:
                (self.root / CHALLENGER).unlink(missing_ok=True)
                return None
            self._verify(version)
            if version == self.current:
                msg = f"{version} is the champion; a challenger must be another version"
                raise RegistryError(msg)
            write_atomic(self.root / CHALLENGER, version + "\n")
        return version

    def _verify(self, version: str) -> None:
        try:
            load_bundle(self.path(version))
        except BundleError as exc:
            msg = f"{version} cannot be served: {exc}"
            raise RegistryError(msg) from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / _LOCK, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
