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
    """Turns (stage, stage fraction) reports into an overall fraction with an ETA.

    Each stage's fraction counts with its share in STAGES, whatever the order of the
    reports: frames stream through generate, colour, finish and encode together, so
    those stages advance side by side. The stage shown is the furthest one reached,
    so clients see the stages in order; a job of several variants reports each one's
    stages in its share of the job, so once a clip is placed, the next variant's
    rendering shows its own stages again. `on_update(stage, overall, eta_seconds)` is
    called at most every `min_interval` seconds (always when the shown stage changes
    and at the end), so a per-frame report is cheap.

    The ETA is the pace since the first step of the work after "prepare" (the first frame):
    preparing (decoding a 60 MP photo) and an engine's setup before its first frame (the
    depth estimate, the colour fit) are one-offs whose seconds say nothing about the frames'
    pace; counted in, they made the estimate 15 times (preparing) and 4 times (a big GIF's
    setup) too long.
    """

    _ORDER = {name: i for i, name in enumerate(STAGES)}
    _LAST = list(STAGES)[-1]      # "place": ends a variant

    def __init__(self, on_update: Callable[[str, float, float | None], None] | None = None,
                 min_interval: float = 0.1) -> None:
        self._on_update = on_update
        self._min_interval = min_interval
        self._last_emit = 0.0
        self._done: dict[str, float] = {}
        self._paced_from: tuple[float, float] | None = None   # (time, overall) when prepare was over
        self.stage = "queued"
        self.overall = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        fraction = min(1.0, max(0.0, fraction))
        before = self.overall
        if stage in STAGES:
            self._done[stage] = max(self._done.get(stage, 0.0), fraction)
        overall = sum(STAGES[name] * done for name, done in self._done.items())
        self.overall = max(self.overall, min(1.0, overall))
        if stage != "prepare" and self._paced_from is None and self.overall > before:
            self._paced_from = (time.monotonic(), self.overall)
        shown = self._shown(stage)
        now = time.monotonic()
        if shown != self.stage or self.overall >= 1.0 or now - self._last_emit >= self._min_interval:
            self.stage, self._last_emit = shown, now
            if self._on_update:
                self._on_update(shown, self.overall, self.eta())

    def _shown(self, reported: str) -> str:
        if not self._done:
            return reported
        reached = self._done
        placed = self._done.get(self._LAST)
        if placed is not None and reported != self._LAST and self._done.get(reported, 0.0) > placed:
            # A variant was placed and the next one is under way: the furthest of its stages.
            reached = {name: done for name, done in self._done.items() if done > placed}
        return max(reached, key=self._ORDER.__getitem__)

    def eta(self) -> float | None:
        if self._paced_from is None:
            return None
        since, overall_then = self._paced_from
        elapsed, done = time.monotonic() - since, self.overall - overall_then
        if done <= 0.02 or elapsed < 0.2:
            return None
        return elapsed * (1.0 - self.overall) / done


def null_progress(stage: str, fraction: float) -> None:
    return None
