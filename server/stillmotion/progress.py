"""Progress reporting and cooperative cancellation shared by every job stage."""

from __future__ import annotations

import threading
import time
from typing import Callable, Protocol

from .errors import Canceled

# The named steps of a job, in order, with their share of the total work.
STAGES: dict[str, float] = {
    "prepare": 0.05,
    "generate": 0.55,
    "colour": 0.1,
    "finish": 0.1,
    "encode": 0.15,
    "place": 0.05,
}


class ProgressSink(Protocol):
    def __call__(self, stage: str, fraction: float) -> None:
        """`fraction` is the stage's own progress, 0..1."""


class CancelToken:
    """Set from any thread; checked by the worker between frames / denoising steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Canceled("canceled")


class JobProgress:
    """Turns (stage, stage fraction) into an overall fraction with an ETA.

    `on_update(stage, overall, eta_seconds)` is called at most every `min_interval`
    seconds (always on a stage change and at 1.0), so a per-frame report is cheap.
    """

    def __init__(self, on_update: Callable[[str, float, float | None], None] | None = None,
                 min_interval: float = 0.1) -> None:
        self._on_update = on_update
        self._min_interval = min_interval
        self._started = time.monotonic()
        self._last_emit = 0.0
        self._last_stage = ""
        self.stage = "queued"
        self.overall = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        fraction = min(1.0, max(0.0, fraction))
        done_before = 0.0
        for name, share in STAGES.items():
            if name == stage:
                break
            done_before += share
        overall = done_before + STAGES.get(stage, 0.0) * fraction
        self.overall = max(self.overall, min(1.0, overall))
        self.stage = stage
        now = time.monotonic()
        if (stage != self._last_stage or fraction >= 1.0
                or now - self._last_emit >= self._min_interval):
            self._last_emit, self._last_stage = now, stage
            if self._on_update:
                self._on_update(stage, self.overall, self.eta())

    def eta(self) -> float | None:
        elapsed = time.monotonic() - self._started
        if self.overall <= 0.02 or elapsed < 0.2:
            return None
        return elapsed * (1.0 - self.overall) / self.overall


def null_progress(stage: str, fraction: float) -> None:
    return None
