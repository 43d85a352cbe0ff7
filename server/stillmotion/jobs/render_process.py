"""A child process that runs jobs one at a time through `run_job`.

Why a process: rendering and encoding spend much of their time in C calls that hold
the GIL (frame conversion, muxing); in a thread of the daemon they delay every API
request behind them (measured p99 15-24 ms vs 5-8 ms for the same render in another
process, see bench/api_latency.py). A separate process also keeps a crashing codec or
an out-of-memory kill away from the daemon, and keeps a loaded model warm between jobs.

Protocol over a multiprocessing Pipe (dicts):
    parent -> child   {"op": "run", "spec": JobSpec, "config": ...} | {"op": "cancel"}
    child -> parent   {"event": "started"} (the job is taken: from here on, a death is the job's)
                      {"event": "progress", "stage", "progress", "eta"}
                      {"event": "done", "outputs": [...], "info": {...}}
                      {"event": "canceled", "outputs"} | {"event": "failed", "error": {"code", "message"}}
The child exits as soon as its pipe closes, i.e. the moment the daemon dies (even by
SIGKILL), so a job the restarted daemon requeues is never still running elsewhere.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import multiprocessing.util   # (registers its exit hook now, so that ours, below, runs before it)
import os
import signal
import threading
import weakref
from multiprocessing.connection import Connection
from typing import Any, Callable, Mapping, Sequence

from ..errors import Canceled, StillmotionError, one_line
from ..buffers import keep_freed_memory, release_freed_memory
from ..hangup import ignore_hangup_quietly
from ..progress import CancelToken, JobProgress
from .spec import JobResult, JobSpec
from .priority import lower_process

POLL_S = 0.1     # how often the parent looks at the cancel token while waiting
CRASH_JOIN_S = 2.0   # how long a dead render process is waited for, for its exit code
IDLE_TRIM_S = 5.0   # a render process idle this long gives its freed memory back to the system


class RenderCrashed(Exception):
    """The render process died mid-job (killed, out of memory, a crash in native code)."""


class DiedBeforeTheJob(RenderCrashed):
    """The render process died before it took the job: killed while idle (the OOM killer, kill -9),
    an instant before the job was handed to it, so that it still looked alive."""


class JobFailed(Exception):
    """A job that failed in the render process, with its {"code", "message"} and the takes
    it had placed before it failed (kept)."""

    def __init__(self, error: dict[str, str], outputs: Sequence[str] = ()) -> None:
        super().__init__(error.get("message", "job failed"))
        self.error, self.outputs = error, list(outputs)


def job_error(exc: BaseException) -> dict[str, str]:
    """{"code", "message"} for any failure of run_job: one readable line."""
    if isinstance(exc, OSError) and not isinstance(exc, StillmotionError):
        where = f" ({exc.filename})" if exc.filename else ""
        return {"code": "io_error", "message": f"{exc.strerror or exc}{where}"}
    message = one_line(exc)
    if isinstance(exc, StillmotionError):
        return {"code": exc.code, "message": message}
    return {"code": "internal", "message": f"{type(exc).__name__}: {message}"}


# ---- the child -------------------------------------------------------------------
def _child_main(conn: Connection, nice: int, idle: bool) -> None:
    # Ctrl-C in a terminal (or a service manager's SIGTERM, or the terminal closing: SIGHUP)
    # reaches the whole process group: the daemon decides what happens to a running job (it
    # goes back in the queue, or, for SIGHUP, goes on), not this process, which lives exactly
    # as long as its pipe to the daemon.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ignore_hangup_quietly()
    # The pipeline (OpenCV, PyAV, SciPy) is imported here, not in the daemon, which only names
    # jobs (jobs/spec.py); and before this process is niced: in the idle class, on a busy
    # machine, the first job would wait behind a starved import (and its one-off set-up: warm_up).
    from .pipeline import run_job, warm_up

    with contextlib.suppress(Exception):   # (what fails here, the first job meets and reports)
        warm_up()

    lower_process(nice, idle=idle)   # the API process keeps the CPU when both want it
    keep_freed_memory()              # fewer page faults: kernel time that also delays the API
    send_lock = threading.Lock()
    token_box: list[CancelToken] = [CancelToken()]
    jobs: list[tuple[dict[str, Any], CancelToken]] = []
    job_ready = threading.Condition()

    def send(message: dict[str, Any]) -> None:
        with send_lock:        # progress comes from the engine's and the encoder's threads
            conn.send(message)

    def listen() -> None:
        """Reads the pipe while a job runs: cancel requests, the next job, or EOF."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                os._exit(0)     # the daemon is gone: stop now, whatever is half-done
            if message.get("op") == "cancel":
                token_box[0].cancel()
            elif message.get("op") == "run":
                # The job's token is made here, not when the job begins: a cancel that follows
                # its job down the pipe before the job has begun must reach it, not the last one.
                with job_ready:
                    token_box[0] = CancelToken()
                    jobs.append((message, token_box[0]))
                    job_ready.notify()

    threading.Thread(target=listen, name="stillmotion-render-pipe", daemon=True).start()
    trimmed = True
    while True:
        with job_ready:
            queued = job_ready.wait_for(lambda: jobs, timeout=None if trimmed else IDLE_TRIM_S)
            message, token = jobs.pop(0) if queued else (None, None)
        if message is None or token is None:
            # Idle for a while: hand back what the renders freed (kept while jobs follow each
            # other, see keep_freed_memory). Trimming after every job cost a batch ~3%.
            release_freed_memory()
            trimmed = True
            continue
        trimmed = False
        send({"event": "started"})

        def on_update(stage: str, overall: float, eta: float | None) -> None:
            send({"event": "progress", "stage": stage, "progress": overall, "eta": eta})

        try:
            result = run_job(message["spec"], message["config"], progress=JobProgress(on_update), cancel=token)
        except Canceled as exc:
            send({"event": "canceled", "outputs": exc.outputs})
        except BaseException as exc:  # every failure becomes the job's error, never the process's
            send({"event": "failed", "error": job_error(exc), "outputs": getattr(exc, "outputs", [])})
        else:
            send({"event": "done", "outputs": [str(p) for p in result.outputs], "info": result.info})


# ---- the parent's handle ---------------------------------------------------------
_open: "weakref.WeakSet[RenderProcess]" = weakref.WeakSet()   # render processes not closed yet


@atexit.register
def _close_at_exit() -> None:
    """A process leaving without its worker's stop (a second Ctrl-C in `stillmotion watch`, an
    error) hung at exit, forever: multiprocessing's exit hook sends its daemonic children
    SIGTERM, which a render process ignores, and joins them, while the pipe that would end
    them is still open. Closing the pipes first ends them."""
    for renderer in list(_open):
        renderer.close(timeout=1.0)


def crash_message(exit_code: int | None) -> str:
    """What became of a render process that stopped answering, for the job's error."""
    if exit_code is None:
        return "the render process stopped answering"
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = "unknown signal"
        # (Windows has no SIGKILL; multiprocessing reports its own terminate there as -SIGTERM.)
        oom = -exit_code == getattr(signal, "SIGKILL", None)
        hint = "; the system may have run out of memory" if oom else ""
        return f"the render process was killed by signal {-exit_code} ({name}{hint})"
    if exit_code >= 0xC0000000:   # a Windows NTSTATUS: looked up as 0xC0000005 (access violation)
        return f"the render process crashed with code {exit_code:#010X}".replace("0X", "0x")
    return f"the render process exited with code {exit_code}"


class RenderProcess:
    """The daemon's side: start lazily, run one job at a time, restart after a crash."""

    def __init__(self, nice: int = 10, idle: bool = False) -> None:
        self.nice, self.idle = nice, idle
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> "RenderProcess":
        """Start the child now (it imports the pipeline while nothing waits for it)."""
        self._ensure()
        return self

    def _ensure(self) -> Connection:
        if self._proc is None or not self._proc.is_alive():
            self.close()
            ctx = multiprocessing.get_context("spawn")    # never fork a threaded daemon
            parent, child = ctx.Pipe(duplex=True)
            self._proc = ctx.Process(target=_child_main, args=(child, self.nice, self.idle),
                                     name="stillmotion-render", daemon=True)
            self._proc.start()
            child.close()
            self._conn = parent
            _open.add(self)
        assert self._conn is not None
        return self._conn

    def run(self, spec: JobSpec, config: Mapping[str, Any], *,
            progress: Callable[[str, float, float | None], None], cancel: CancelToken) -> JobResult:
        """Like run_job, in the child. Raises Canceled, JobFailed or RenderCrashed."""
        try:
            return self._run_once(spec, config, progress=progress, cancel=cancel)
        except DiedBeforeTheJob:
            # The job never began: it runs in a fresh process (a second death is the job's to report).
            return self._run_once(spec, config, progress=progress, cancel=cancel)

    def _run_once(self, spec: JobSpec, config: Mapping[str, Any], *,
                  progress: Callable[[str, float, float | None], None], cancel: CancelToken) -> JobResult:
        conn = self._ensure()
        started = False
        try:
            # (As it is: a Config keeps, pickled, which values the user set; see config.user_values.)
            conn.send({"op": "run", "spec": spec, "config": config if isinstance(config, dict) else dict(config)})
            cancel_sent = False
            while True:
                if cancel.cancelled and not cancel_sent:
                    conn.send({"op": "cancel"})
                    cancel_sent = True
                if not conn.poll(POLL_S):
                    continue
                message = conn.recv()
                event = message["event"]
                if event == "started":
                    started = True
                elif event == "progress":
                    progress(message["stage"], message["progress"], message["eta"])
                elif event == "done":
                    return JobResult(outputs=[os.fspath(p) for p in message["outputs"]], info=message["info"])
                elif event == "canceled":
                    raise Canceled("canceled", message.get("outputs", ()))
                elif event == "failed":
                    raise JobFailed(message["error"], message.get("outputs", ()))
        except (EOFError, OSError, BrokenPipeError) as exc:
            code, proc = None, self._proc     # (close() from another thread may clear _proc)
            if proc is not None:
                proc.join(CRASH_JOIN_S)   # its exit code is only known once it is reaped
                code = proc.exitcode
            self.close()
            raise (RenderCrashed if started else DiedBeforeTheJob)(crash_message(code)) from exc
        except (Canceled, JobFailed):
            raise        # the child ended the job itself: it waits for the next, warm
        except BaseException:
            # Anything else here (the progress callback failing) leaves the child mid-job: what
            # it sends next belongs to this job, so it must never be handed another one.
            self.close()
            raise

    def close(self, timeout: float = 5.0) -> None:
        """End the child: closing the pipe makes it exit; kill it if it does not. The daemon's
        shutdown may call this while the job's thread, its pipe gone, calls it too."""
        conn, self._conn = self._conn, None
        proc, self._proc = self._proc, None
        _open.discard(self)
        if conn is not None:
            conn.close()
        if proc is not None:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout)
