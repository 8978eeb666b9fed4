"""The compiled model stage (``models/_forest.c``): built with the system C compiler on first use, then cached.

Why compiled: the issue's target is the whole single-row stage (encode, impute, trees, calibration, ECDF) at least
5x faster than ``Booster.predict`` with adapters under 20 % of it. LightGBM's C API fast path spends ~4 us of
per-call set-up inside LightGBM and the Python adapters ~5 us more (docs/benchmarks/models.md); one C call that
reads the feature mapping and walks flat tables does the whole stage in a few microseconds. lleaves reached the
same tree speed but needed an llvmlite pin and a 7-20 s LLVM compile per model load; this walker compiles once per
machine (~1 s, model-independent) and loads any model instantly.

The shared object is cached under ``$FRAUDGATE_NATIVE_CACHE`` (default ``$XDG_CACHE_HOME/fraudgate`` or
``~/.cache/fraudgate``), named by a hash of the source, the Python ABI and the compiler command, and written
atomically (``os.replace``), so concurrent workers and processes agree. Where no compiler works, :func:`load`
returns None once with a warning and the scorer keeps LightGBM's C API: slower, never wrong.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import logging
import os
import shlex
import subprocess
import sysconfig
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from models.schema import Score

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("_forest.c")
MODULE = "_fgforest"
CFLAGS = ("-O2", "-fPIC", "-shared", "-fno-strict-aliasing", "-fno-fast-math")


class NativeForest(Protocol):
    """The compiled stage's interface (``_fgforest.Forest``)."""

    def score(self, row: Mapping[str, Any], /) -> Score:
        """The :class:`Score` (no reasons) of a feature mapping."""

    def encode(self, row: Mapping[str, Any], out: Any, /) -> None:
        """Write the encoded, imputed row into a writable buffer of float64."""

    def predict(self, row: Any, /) -> float:
        """The booster's probability for an encoded row (a buffer of float64)."""

    def enable_reasons(self, internal_counts: Any, leaf_counts: Any, max_depth: int, /) -> bool:
        """Prepare TreeSHAP from the training counts (False: a path longer than `max_depth`, left to LightGBM)."""

    def contributions(self, row: Any, /) -> list[float]:
        """TreeSHAP value per feature, then the expected value (log-odds), as ``pred_contrib=True``."""


def cache_dir() -> Path:
    """Where compiled objects are kept."""
    if explicit := os.environ.get("FRAUDGATE_NATIVE_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fraudgate"


def _compiler() -> list[str]:
    return shlex.split(os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc"))


def _target(compiler: list[str]) -> Path:
    suffix = str(sysconfig.get_config_var("EXT_SUFFIX") or ".so")
    digest = hashlib.sha256()
    for part in (SOURCE.read_bytes(), suffix.encode(), " ".join(compiler + list(CFLAGS)).encode()):
        digest.update(part)
        digest.update(b"\0")
    return cache_dir() / f"{MODULE}-{digest.hexdigest()[:16]}{suffix}"


def build(target: Path, compiler: list[str]) -> None:
    """Compile the extension into ``target`` (atomically); raises RuntimeError with the compiler's message."""
    target.parent.mkdir(parents=True, exist_ok=True)
    include = sysconfig.get_paths()["include"]
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    try:
        cmd = [*compiler, *CFLAGS, f"-I{include}", str(SOURCE), "-o", tmp, "-lm"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - our own source
        if done.returncode != 0:
            msg = f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
            raise RuntimeError(msg)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _import(path: Path) -> ModuleType:
    loader = importlib.machinery.ExtensionFileLoader(MODULE, str(path))
    spec = importlib.util.spec_from_file_location(MODULE, path, loader=loader)
    if spec is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _built(target: Path, compiler: list[str]) -> ModuleType:
    if not target.exists():
        build(target, compiler)
    return _import(target)


_lock = threading.Lock()
_state: dict[str, ModuleType | None] = {}


def load() -> ModuleType | None:
    """The compiled module, built on first use; None (with one warning) where it cannot be built or imported."""
    with _lock:
        if MODULE in _state:
            return _state[MODULE]
        module: ModuleType | None = None
        if os.environ.get("FRAUDGATE_NATIVE", "1") == "0":
            log.info("compiled model stage disabled (FRAUDGATE_NATIVE=0): scoring through LightGBM's C API")
        else:
            compiler = _compiler()
            target = _target(compiler)
            try:
                module = _built(target, compiler)
            except PermissionError:  # a read-only home (some containers, CI users): the temp folder will do
                fallback = Path(tempfile.gettempdir()) / f"fraudgate-native-{os.getuid()}" / target.name
                try:
                    module = _built(fallback, compiler)
                except (OSError, RuntimeError, ImportError) as exc:
                    log.warning("compiled model stage unavailable, scoring through LightGBM's C API: %s", exc)
            except (OSError, RuntimeError, ImportError) as exc:
                log.warning("compiled model stage unavailable, scoring through LightGBM's C API: %s", exc)
        _state[MODULE] = module
        return module


def new_forest(module: ModuleType, *args: Any) -> NativeForest:
    """A ``Forest`` of ``module`` (the arguments of ``_fgforest.Forest``; see :func:`models.scorer.Scorer`)."""
    return cast(NativeForest, module.Forest(*args))
