"""A render process runs below the API: every one of its threads, including those libraries
started before it could lower itself (OpenBLAS starts a pool at import)."""

from __future__ import annotations

import os
import sys
import time

import pytest

from stillmotion.jobs.render_process import RenderProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are read from /proc")


def _threads(pid: int) -> list[int]:
    return [int(t) for t in os.listdir(f"/proc/{pid}/task")]


def _nice(pid: int, tid: int) -> int:
    fields = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[16])      # field 19 of stat: nice


def _settled(pid: int, check, timeout: float = 30.0) -> list[int]:
    """The child's threads once every one passes `check` (it lowers itself after its imports)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tids = _threads(pid)
        try:
            if len(tids) > 1 and all(check(tid) for tid in tids):
                return tids
        except (FileNotFoundError, ProcessLookupError):   # a thread ended while we looked
            pass
        time.sleep(0.1)
    pytest.fail(f"render process {pid} threads never all lowered: {_threads(pid)}")


def test_every_render_thread_is_niced() -> None:
    renderer = RenderProcess(nice=7, idle=False).start()
    try:
        tids = _settled(renderer.pid, lambda tid: _nice(renderer.pid, tid) == 7)
        assert len(tids) >= 2          # more than the main thread: the pipe listener at least
        assert os.getpriority(os.PRIO_PROCESS, 0) == _nice(os.getpid(), os.getpid())   # we were left alone
    finally:
        renderer.close()


def test_render_threads_in_the_idle_class_when_asked() -> None:
    renderer = RenderProcess(nice=10, idle=True).start()
    try:
        _settled(renderer.pid, lambda tid: os.sched_getscheduler(tid) == os.SCHED_IDLE)
        assert os.sched_getscheduler(0) != os.SCHED_IDLE
    finally:
        renderer.close()
