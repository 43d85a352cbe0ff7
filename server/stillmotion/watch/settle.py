"""When is a file complete? Size and mtime stable for a while, or its writer closed it.

Stability is the rule that works everywhere (macOS FSEvents and Windows report no
close). Where the observer does report closes (Linux inotify), a close after the
last write, or a rename into place, completes a file sooner: once it has stayed
unchanged for CLOSE_GRACE of the interval (a writer that reopens at once to append
is still caught). A file still open for writing is held past the stable interval
(a writer pausing mid-file is not mistaken for a finished one), up to
OPEN_HOLD_FACTOR times that interval in case a close was never reported.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

OPEN_HOLD_FACTOR = 10.0
CLOSE_GRACE = 0.25


@dataclass
class _Entry:
    size: int
    mtime_ns: int
    settle: float
    stable_since: float
    closed: bool = False          # the writer closed it (or renamed it into place) after the last change
    writing: bool = False         # a write was reported and no close since


class Settler:
    """Tracks files that may still be growing; `ready()` hands back the complete ones."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[Path, _Entry] = {}

    def __contains__(self, path: Path) -> bool:
        return path in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def touch(self, path: Path, settle: float | None = None, *, closed: bool = False,
              written: bool = False) -> bool:
        """Note activity on `path` (`settle`: its stable interval; None keeps the one it has).

        False when it no longer exists (nothing is tracked then)."""
        try:
            st = os.stat(path)
        except OSError:
            self._entries.pop(path, None)
            return False
        now = self._clock()
        entry = self._entries.get(path)
        if entry is None or (entry.size, entry.mtime_ns) != (st.st_size, st.st_mtime_ns):
            entry = _Entry(st.st_size, st.st_mtime_ns, entry.settle if entry else 1.0, now,
                           writing=entry.writing if entry else False)
            self._entries[path] = entry
        if settle is not None:
            entry.settle = settle
        if written:
            entry.writing, entry.closed = True, False
        if closed:
            entry.writing, entry.closed = False, True
        return True

    def forget(self, path: Path) -> bool:
        return self._entries.pop(path, None) is not None

    def ready(self) -> tuple[list[Path], list[Path]]:
        """(complete files, files that vanished); both are no longer tracked afterwards."""
        now = self._clock()
        complete, vanished = [], []
        for path, entry in list(self._entries.items()):
            try:
                st = os.stat(path)
            except OSError:
                vanished.append(path)
                del self._entries[path]
                continue
            if (st.st_size, st.st_mtime_ns) != (entry.size, entry.mtime_ns):
                entry.size, entry.mtime_ns, entry.stable_since, entry.closed = st.st_size, st.st_mtime_ns, now, False
                continue
            if st.st_size == 0:
                continue    # created, nothing written yet: wait for content
            stable = now - entry.stable_since
            if entry.closed:
                hold = entry.settle * CLOSE_GRACE
            else:
                hold = entry.settle * (OPEN_HOLD_FACTOR if entry.writing else 1.0)
            if stable >= hold:
                complete.append(path)
                del self._entries[path]
        return complete, vanished
