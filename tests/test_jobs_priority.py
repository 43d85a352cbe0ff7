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


def test_a_render_process_does_its_first_jobs_one_off_work_before_lowering_itself() -> None:
    """The first job of a render process imported the engines and built OpenCV's 8-bit Lab
    tables (~0.1 s) after the process had lowered itself: in the idle class, on a machine kept
    busy, that first job waited seconds for it. Done before lowering, at the daemon's start."""
    import subprocess

    script = (
        "import os, sys, multiprocessing, cv2\n"
        "from stillmotion import engines\n"
        "from stillmotion.jobs import render_process\n"
        "lab_built = []\n"
        "convert = cv2.cvtColor\n"
        "def noting(image, code, *args, **kwargs):\n"
        "    if code == cv2.COLOR_RGB2Lab and image.dtype == 'uint8':\n"
        "        lab_built.append(True)\n"
        "    return convert(image, code, *args, **kwargs)\n"
        "cv2.cvtColor = noting\n"
        "def lowered(nice, *, idle):\n"
        "    modules = [target.split(':')[0] for target in engines.REGISTRY.values()]\n"
        "    print('not imported:', [m for m in modules if m not in sys.modules], 'lab:', bool(lab_built), flush=True)\n"
        "    os._exit(0)\n"
        "render_process.lower_process = lowered\n"
        "here, there = multiprocessing.Pipe()\n"
        "render_process._child_main(there, 0, False)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "not imported: [] lab: True"
