"""The polling loop shared by the file watchers (policy file, API key file).

A file watcher checks mtime and size every `interval_s` and does its own work in `poll()` when they move. Polling,
not inotify: it works the same on every filesystem, in containers and on mounted Secrets/ConfigMaps (where the file
is swapped through a symlink), and one stat a second costs nothing. Each worker process runs its own watcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class PollingWatcher:
    """Runs `poll()` every `interval_s` as a task of the running loop; subclasses implement `poll`."""

    kind = "file"
    """What is watched, for task names and log lines."""

    def __init__(self, path: Path, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError(f"{type(self).__name__} interval_s must be > 0 (seconds between polls)")
        self.path = path
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def poll(self) -> Any:
        """One check of the file (sync or async)."""
        raise NotImplementedError

    async def run(self) -> None:
        """Poll until cancelled; an unexpected error in a poll is logged and polling goes on."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                result = self.poll()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("%s watcher: poll of %s failed", self.kind, self.path)

    def start(self) -> asyncio.Task[None]:
        """Run `run()` as a task of the running loop (once)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name=f"{self.kind}-watch:{self.path.name}")
        return self._task

    async def stop(self) -> None:
        """Cancel the polling task and wait for it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _stat_now(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size
