"""Hot reload of one policy file: poll it, and swap in each new version that passes every check.

Each worker process runs its own watcher (the file is the shared truth), so every worker swaps on its own within
`interval_s` of an edit; a refused edit leaves every worker on the version it runs. Wiring, in a lifespan:

    watcher = PolicyWatcher(path, event_schema(), on_change=swap, on_error=report, interval_s=1.0)
    watcher.start()            # baseline = the file as it is now (the version just loaded)
    ...
    await watcher.stop()

`on_change(policy)` receives a checked, compiled Policy; `on_error(message)` the refusal `file:line: rule: problem`.
Both are called on the event loop, once per distinct content of the file (a broken file is reported once, not at
every poll); they should be quick (swap a reference, bump a metric).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from engine.errors import ConfigError
from engine.filewatch import PollingWatcher
from engine.policy import Policy, parse_policy
from rules import Schema

log = logging.getLogger(__name__)


class PolicyWatcher(PollingWatcher):
    """Polls `path` (mtime and size every `interval_s`; content hash when they move) and reloads on change."""

    kind = "policy"

    def __init__(
        self,
        path: Path,
        event_schema: Schema,
        *,
        on_change: Callable[[Policy], None],
        on_error: Callable[[str], None] | None = None,
        interval_s: float = 1.0,
    ) -> None:
        """Watch `path`; the file's current content is taken as the running version (no callback for it)."""
        super().__init__(path, interval_s)
        self.event_schema = event_schema
        self.on_change = on_change
        self.on_error = on_error
        self._stat: tuple[int, int] | None = self._stat_now()
        self._digest: str | None = self._digest_now()

    async def poll(self) -> Policy | None:
        """One poll: the new policy when the file changed and passed every check (after `on_change`), else None."""
        stat = self._stat_now()
        if stat is None or stat == self._stat:
            return None
        self._stat = stat
        try:
            data = self.path.read_bytes()
        except OSError:
            return None  # removed or replaced between stat and read: the next poll sees the new file
        digest = hashlib.sha256(data).hexdigest()
        if digest == self._digest:
            return None  # touched, or rewritten with the same content
        self._digest = digest
        try:
            # The bytes just hashed, not a second read: the version loaded is exactly the content seen. Compiling
            # a policy builds Polars expressions; a thread keeps in-flight requests moving meanwhile.
            policy = await asyncio.to_thread(
                parse_policy, data.decode("utf-8", errors="replace"), self.event_schema, filename=str(self.path)
            )
        except ConfigError as e:
            log.warning("policy reload refused, keeping the running version: %s", e.detail)
            if self.on_error is not None:
                self.on_error(e.detail)
            return None
        log.info("policy reloaded from %s: version %s", self.path, policy.version)
        self.on_change(policy)
        return policy

    def _digest_now(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None
