"""The policy watcher on a real file: a valid edit swaps, a broken edit keeps the running version and says why."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from engine.context import event_schema
from engine.policy import Policy, load_policy
from engine.policy_watch import PolicyWatcher

SHIPPED = Path(__file__).resolve().parents[2] / "policies" / "card_payment.yaml"


def _write(path: Path, text: str, bump_ns: int) -> None:
    path.write_text(text)
    st = path.stat()
    # Coarse file-system clocks can give an edit the same mtime as the last one; the size usually moves, this makes
    # sure the poll sees the edit whatever the clock.
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump_ns))


def test_valid_edit_swaps_broken_edit_keeps_the_running_version(tmp_path: Path) -> None:
    path = tmp_path / "card_payment.yaml"
    original = SHIPPED.read_text()
    path.write_text(original)
    running: list[Policy] = [load_policy(path, event_schema())]
    errors: list[str] = []
    watcher = PolicyWatcher(path, event_schema(), on_change=running.append, on_error=errors.append, interval_s=0.01)

    async def scenario() -> None:
        assert await watcher.poll() is None  # unchanged: nothing to do
        _write(path, original, 1_000_000)
        assert await watcher.poll() is None  # touched, same content: no reload
        _write(path, original.replace("amount < 150", "amount < 200"), 2_000_000)
        swapped = await watcher.poll()
        assert swapped is running[-1] and len(running) == 2 and swapped.version != running[0].version
        _write(path, original.replace("amount < 150", "amout < 200"), 3_000_000)
        assert await watcher.poll() is None
        assert len(running) == 2 and errors == [f"{path}:11: domestic_card_present_small: unknown field `amout`"]
        assert await watcher.poll() is None and len(errors) == 1  # reported once, not at every poll

    asyncio.run(scenario())


def test_the_polling_task_picks_up_an_edit_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "card_payment.yaml"
    path.write_text(SHIPPED.read_text())
    changed: asyncio.Queue[Policy] = asyncio.Queue()

    async def scenario() -> None:
        watcher = PolicyWatcher(path, event_schema(), on_change=changed.put_nowait, interval_s=0.01)
        task = watcher.start()
        _write(path, SHIPPED.read_text().replace('version: "2026.11.1"', 'version: "2026.11.2"'), 1_000_000)
        policy = await asyncio.wait_for(changed.get(), timeout=5)
        assert policy.version.startswith("2026.11.2+")
        await watcher.stop()
        assert task.done()

    asyncio.run(scenario())
