"""Sidecar pairing: a complete photo waits a little for its XMP sidecar.

Capture One (and others) may write `IMG.xmp` just before or just after `IMG.jpg`.
A photo whose sidecar is already there and complete goes at once; otherwise it
waits up to its folder's `sidecar_wait_seconds`. A sidecar that appears in time
but is still being written is waited for until it is complete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

SidecarState = tuple[Literal["ready", "pending", "none"], "Path | None"]


@dataclass
class _Waiting:
    deadline: float


class SidecarPairing:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._waiting: dict[Path, _Waiting] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, photo: Path) -> bool:
        return photo in self._waiting

    def add(self, photo: Path, wait: float) -> None:
        self._waiting[photo] = _Waiting(self._clock() + wait)

    def forget(self, photo: Path) -> bool:
        return self._waiting.pop(photo, None) is not None

    def due(self, sidecar_of: Callable[[Path], SidecarState]) -> list[tuple[Path, Path | None]]:
        """Photos to take now, each with its sidecar (or None once the wait is over)."""
        now = self._clock()
        out: list[tuple[Path, Path | None]] = []
        for photo, waiting in list(self._waiting.items()):
            state, sidecar = sidecar_of(photo)
            if state == "ready":
                out.append((photo, sidecar))
            elif state == "none" and now >= waiting.deadline:
                out.append((photo, None))
            else:
                continue
            del self._waiting[photo]
        return out
