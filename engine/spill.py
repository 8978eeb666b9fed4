"""The local append-only spill file of the decision log, with a cursor of what has been replayed.

Records are JSON lines, appended and fsynced before `append` returns. `replayed_to` (a byte offset, kept in a cursor
file replaced atomically) marks what has reached Redis. Once everything is replayed, both files are reset.
A crash between a replayed chunk reaching Redis and the cursor moving can repeat that chunk: the ETL is idempotent
by `event_id`, which is why this is at-least-once and never at-most-once.
"""

from __future__ import annotations

import os
from pathlib import Path


class SpillFile:
    """Append-only JSON-lines file plus a replay cursor."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cursor_path = path.with_suffix(path.suffix + ".cursor")

    def append(self, payloads: list[bytes]) -> None:
        """Append records durably (flush + fsync) before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as f:
            f.write(b"".join(p + b"\n" for p in payloads))
            f.flush()
            os.fsync(f.fileno())

    def replayed_to(self) -> int:
        """Byte offset up to which records have reached Redis."""
        try:
            return int(self.cursor_path.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def pending(self) -> bool:
        """True while some spilled record has not reached Redis."""
        try:
            return self.path.stat().st_size > self.replayed_to()
        except FileNotFoundError:
            return False

    def read(self, max_records: int) -> tuple[list[bytes], int]:
        """Up to `max_records` records after the cursor, in order, and the offset just past them."""
        start = self.replayed_to()
        out: list[bytes] = []
        with self.path.open("rb") as f:
            f.seek(start)
            offset = start
            for line in f:
                if not line.endswith(b"\n"):
                    break  # a torn last line (crash mid-append): leave it until it is whole
                out.append(line[:-1])
                offset += len(line)
                if len(out) >= max_records:
                    break
        return out, offset

    def advance(self, offset: int) -> None:
        """Move the cursor; when everything is replayed, start both files afresh."""
        if offset >= self.path.stat().st_size:
            self.path.unlink()
            self.cursor_path.unlink(missing_ok=True)
            return
        tmp = self.cursor_path.with_suffix(".tmp")
        tmp.write_text(str(offset))
        os.replace(tmp, self.cursor_path)
