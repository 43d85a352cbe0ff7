"""Rendering runs below everything interactive: lowering the CPU priority of a render, portably.

The daemon must answer the plug-in within milliseconds while a clip renders on
every core. Two Linux details decide whether it does:

- Priority is per thread, and a thread inherits its creator's at creation. By the
  time a render process can lower itself, libraries have started worker threads
  (OpenBLAS starts its pool at import), which would stay at full priority; so
  every thread that exists is lowered, and later ones (OpenCV's, the encoder's)
  inherit it.
- A lower nice value only shrinks the render's share. Under EEVDF a waking task
  may still wait for the running task's protected time slice, up to a scheduler
  tick (4 ms at HZ=250): that was the API's p99 under load (bench/api_latency.py:
  4.5-4.9 ms niced by 10, 3.5-4.0 ms in SCHED_IDLE, on 2 cores). A SCHED_IDLE
  thread is preempted at once by any normal one, and gets the CPU nothing else
  wants. The cost: on a machine kept busy by other work, a render waits for it.

Elsewhere the whole process is niced (macOS) or put below normal (Windows).
"""

from __future__ import annotations

import os
import sys


def lower_process(nice: int, *, idle: bool) -> None:
    """Lower this whole process (every thread it has, and so every thread it will start)."""
    if sys.platform.startswith("linux"):
        for tid in _threads():
            lower_thread(tid, nice, idle=idle)
    elif sys.platform == "win32":
        if nice > 0 or idle:
            import psutil

            psutil.Process().nice(psutil.IDLE_PRIORITY_CLASS if idle else psutil.BELOW_NORMAL_PRIORITY_CLASS)
    elif nice > 0 or idle:
        try:
            os.nice(19 if idle else nice)
        except OSError:
            pass


def lower_thread(tid: int, nice: int, *, idle: bool = False) -> None:
    """Lower one thread (Linux thread id). Never the idle class for a thread of a process that
    also serves requests: starved while it holds the GIL, it would hold the API up with it."""
    try:
        if idle:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        elif nice > 0:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except (OSError, AttributeError):   # gone meanwhile, not permitted, or not this platform
        pass


def _threads() -> list[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]
