"""The worker: takes queued jobs from the store and runs them through the pipeline.

    worker = Worker(store, config)     # any process: the daemon, or a standalone watcher
    worker.start()                     # recovers jobs a dead process left running, then dispatches
    worker.cancel(job_id)              # stops a running job within a second (parallax)
    worker.stop()                      # running jobs go back to the queue, resumed on next start

Jobs never run on the daemon's event loop. A dispatcher thread claims jobs in queue
order (priority, then first come) with `store.claim_next` (one indexed query a step,
not a listing of the queue), and only while the job's device (the engine's: "cpu" for
parallax, "cuda:0"...) runs fewer than `[jobs] per_device` jobs, counted in the store
across every process sharing it. It wakes when something that can start a job happens
in this process (a submit, a finished job freeing its slot, a cancel), never on
progress reports, and polls every `poll_interval` for changes made by other processes.
Each running job has a thread here that waits on it; `[jobs] isolation` says where
run_job itself runs:
  "process" (default): in a render process (jobs/render_process.py), one per slot,
      reused between jobs, niced, so rendering never holds this process's GIL;
  "thread": in that thread, niced (Linux), in this process.

pyexiv2 (used by the metadata stage inside run_job) is not safe to call from two
threads at once. A render process runs one job at a time, so it serialises pyexiv2
by construction; in "thread" mode with the default per_device = 1 this worker is
the only thread running run_job per device, which serialises it on a one-device
machine (raising per_device, or a GPU and a CPU job at once, would need a lock in
the metadata module).

Crash recovery: a job stays `running` in the store with its owner's identity (pid
and process start time). On start, and every few seconds after, jobs whose owner is
no longer alive lose their hidden temporaries in the destination folder
(`.stillmotion-tmp-<job id>-*`) and go back to the queue at their old place: they
finish exactly once, and no partial file is ever left beside a photo.

A watch-folder job whose photo is gone when it starts (deleted or moved after the
watcher last looked) is skipped, as the watcher skips one still queued: it ends
`canceled` with info {"skipped": why}, no error, and the watch ledger forgets it
was taken, so the photo is new if it comes back. A watch job that fails tells the
ledger too (no clip was made): written again, its photo is taken again, also after
the failed job was forgotten (pruned after [jobs] retention_days).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .. import engines
from ..engines import devices
from ..errors import Canceled, StillmotionError
from ..place import remove_temp, stale_temps
from ..progress import CancelToken, JobProgress
from . import failure_note, placement
from .spec import JobResult
from .priority import lower_thread
from .render_process import JobFailed, RenderCrashed, RenderProcess, job_error
from .settings import check_jobs_config
from .store import CANCELED, DONE, FAILED, TERMINAL, Job, JobStore, Unrunnable, process_identity

if TYPE_CHECKING:
    from ..watch.ledger import Ledger

log = logging.getLogger(__name__)

RECOVERY_INTERVAL_S = 10.0   # how often to look for jobs a dead process left running
PRUNE_INTERVAL_S = 3600.0
CHOICE_TTL_S = 5.0           # how long an engine choice (and its device) is reused
WATCH_PHOTO_GONE = "photo removed before its turn"   # info.skipped, as the watcher words it


class Worker:
    def __init__(self, store: JobStore, config: Mapping[str, Any], *, outputs_root: Path | None = None,
                 poll_interval: float = 0.5) -> None:
        jobs_cfg = config.get("jobs", {})
        self.store = store
        self.config = config
        self.per_device = int(jobs_cfg.get("per_device", 1))
        self.render_nice = int(jobs_cfg.get("render_nice", 10))
        self.render_idle = bool(jobs_cfg.get("render_idle", True))
        self.isolation = str(jobs_cfg.get("isolation", "process"))
        check_jobs_config(jobs_cfg)
        self.retention_s = float(jobs_cfg.get("retention_days", 14)) * 86400.0
        self.outputs_root = outputs_root      # clips the daemon owns (uploads without an original)
        self.poll_interval = poll_interval    # picks up jobs and cancels from other processes
        self.owner = process_identity()
        self._running: dict[str, tuple[CancelToken, threading.Thread]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self._choices: dict[tuple[str, str | None], tuple[float, tuple[str, str, str]]] = {}
        self._renderers: list[RenderProcess] = []       # every render process started
        self._idle_renderers: list[RenderProcess] = []

    # ---- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        self.recover()
        if self.isolation == "process":       # its imports overlap the daemon's start, not the first job
            self._idle_renderers.append(self._new_renderer().start())
        self.store.add_listener(self._on_change, progress=False)
        self._dispatcher = threading.Thread(target=self._loop, name="stillmotion-dispatcher", daemon=True)
        self._dispatcher.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop dispatching; running jobs are interrupted and go back to the queue."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            running = list(self._running.values())
        for token, _ in running:
            token.cancel()
        if self._dispatcher is not None:
            self._dispatcher.join(timeout)
        for _, thread in running:
            thread.join(timeout)
        with self._lock:
            renderers, self._renderers, self._idle_renderers = self._renderers, [], []
        for renderer in renderers:
            renderer.close()
        self.store.remove_listener(self._on_change)

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self._running)

    # ---- control ---------------------------------------------------------------
    def cancel(self, job_id: str) -> Job | None:
        job = self.store.cancel(job_id)
        self._cancel_local(job_id)
        return job

    def _cancel_local(self, job_id: str) -> None:
        with self._lock:
            entry = self._running.get(job_id)
        if entry is not None:
            entry[0].cancel()

    def _on_change(self, job_id: str) -> None:
        self._wake.set()

    # ---- recovery and housekeeping ------------------------------------------
    def recover(self) -> list[str]:
        """Requeue jobs whose process died mid-job (after removing their partial files)."""
        requeued = []
        for job in self.store.orphans():
            _remove_partial_files(job)
            if job.cancel_requested:
                self.store.finish(job.id, job.owner, CANCELED, outputs=_placed_before_it_died(job))
                placement.forget(job.destination, job.id)
            elif self.store.requeue(job.id, job.owner):
                log.info("job %s (%s): its process died while it ran; back in the queue", job.id, _photo_name(job))
                requeued.append(job.id)
        return requeued

    def _loop(self) -> None:
        next_recovery = time.monotonic() + RECOVERY_INTERVAL_S
        next_prune = 0.0
        try:   # the first "auto" choice imports the engines (~0.3 s): not inside a claim's transaction
            self._engine_for("auto", None)
        except Exception:
            log.debug("engine choice not ready yet", exc_info=True)
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                now = time.monotonic()
                if now >= next_recovery:
                    self.recover()
                    next_recovery = now + RECOVERY_INTERVAL_S
                if now >= next_prune:
                    forgotten = self.store.prune(self.retention_s, owned_outputs_root=self.outputs_root)
                    if forgotten:   # (what went, said: a job a script still polls answers 404 now)
                        log.info("forgot %d job(s) finished over %g days ago ([jobs] retention_days); "
                                 "their clips beside the photos stay", forgotten, self.retention_s / 86400)
                    next_prune = now + PRUNE_INTERVAL_S
                for job_id in self.store.cancel_requested(self.owner):  # also from other processes
                    self._cancel_local(job_id)
                self._dispatch()
            except sqlite3.OperationalError as exc:   # held by another program past the busy timeout
                log.warning("job store busy (%s); trying again", exc)
            except devices.ProbeEnded:   # the daemon is stopping (an engine choice waited on the device)
                pass
            except Exception:  # the dispatcher must outlive any single bad pass
                log.exception("job dispatcher pass failed")
            self._wake.wait(self.poll_interval)

    # ---- dispatch ----------------------------------------------------------------
    def _dispatch(self) -> None:
        """Start queued jobs while their devices have free slots."""
        while not self._stopping.is_set():
            try:
                claimed = self.store.claim_next(self.owner, self.per_device, self._engine_of)
            except Unrunnable as exc:         # e.g. the engine is not installed here
                self._fail(exc.job, job_error(exc.error), claimed=False)
                continue
            if claimed is None:
                return
            self._start(claimed)

    def _engine_of(self, job: Job) -> tuple[str, str, str]:
        return self._engine_for(job.request.get("engine", "auto"), job.request.get("model"))

    def _engine_for(self, engine: str, model: str | None) -> tuple[str, str, str]:
        """(engine name, why it was picked, device) for a request, without loading weights.
        Remembered for a few seconds: it is asked inside the claim's write transaction."""
        key, now = (engine, model), time.monotonic()
        cached = self._choices.get(key)
        if cached is not None and now - cached[0] < CHOICE_TTL_S:
            return cached[1]
        chosen, why = engines.choose(engine, self.config, model=model)
        answer = (chosen.name, why, chosen.status().device)
        self._choices[key] = (now, answer)
        return answer

    def _start(self, job: Job) -> None:
        token = CancelToken()
        if job.cancel_requested:
            token.cancel()
        thread = threading.Thread(target=self._run, args=(job, token), name=f"stillmotion-job-{job.id}",
                                  daemon=True)
        with self._lock:
            self._running[job.id] = (token, thread)
        thread.start()

    # ---- one job -------------------------------------------------------------------
    def _run(self, job: Job, token: CancelToken) -> None:
        store, owner = self.store, self.owner

        def on_update(stage: str, overall: float, eta: float | None) -> None:
            try:
                store.report_progress(job.id, owner, stage, overall, eta)
            except sqlite3.Error as exc:   # the store held by another program past its busy timeout, or full:
                log.warning("job %s: progress not recorded (%s)", job.id, exc)   # a report, not the job

        try:
            if self._skip_vanished_watch_photo(job) or self._skip_linked_watch_photo(job):
                return
            result = self._execute(job, token, on_update)
        except (Canceled, RenderCrashed) as exc:
            current = store.get(job.id)
            if self._stopping.is_set() and not (current and current.cancel_requested):
                store.requeue(job.id, owner)          # daemon shutting down: resume on next start
            elif isinstance(exc, Canceled):
                store.finish(job.id, owner, CANCELED, outputs=exc.outputs)
                # (As done and failed jobs are: a job that vanished from a list should be in the log.)
                log.info("job %s (%s): cancelled%s", job.id, _photo_name(job),
                         f"; kept: {', '.join(Path(p).name for p in exc.outputs)}" if exc.outputs else "")
            else:
                _remove_partial_files(job)   # the process that was writing them is gone
                self._fail(job, {"code": "render_crashed", "message": str(exc)}, _placed_before_it_died(job))
        except JobFailed as exc:
            if not self._skip_vanished_watch_photo(job):
                self._fail(job, exc.error, exc.outputs)
        except Exception as exc:
            if self._skip_vanished_watch_photo(job):
                return
            if not isinstance(exc, (StillmotionError, OSError)):
                log.exception("job %s (%s) failed unexpectedly", job.id, _photo_name(job))
            self._fail(job, job_error(exc), getattr(exc, "outputs", ()))
        else:
            # The job's JSON carries all of this too, but a watch folder's user has only the log
            # to learn what became of a photo, and that a sidecar beside it was set aside.
            name = _photo_name(job)
            for warning in result.info.get("metadata_warnings", []):
                log.warning("job %s (%s): %s", job.id, name, warning)
            for note in result.info.get("notes", []):
                log.info("job %s (%s): note: %s", job.id, name, note)
            store.finish(job.id, owner, DONE, outputs=result.outputs, info=result.info)
            if job.source == "watch":
                failure_note.clear(job.destination, job.photo_path)   # an earlier take's
            log.info("job %s (%s): done: %s", job.id, name, ", ".join(Path(p).name for p in result.outputs))
        finally:
            current = store.get(job.id)
            if current is None or current.status in TERMINAL:   # a requeued job keeps its records
                placement.forget(job.destination, job.id)
                self._drop_empty_upload_folder(job)
            with self._lock:
                self._running.pop(job.id, None)
            self._wake.set()

    def _drop_empty_upload_folder(self, job: Job) -> None:
        """An upload's clips go to a folder of its own in the daemon's outputs folder, made as
        its render starts: a job cancelled or failed before placing anything left it there, empty.
        Only that folder, and only while empty (rmdir refuses one holding anything); a folder
        beside the user's photos may be shared with other jobs and is left as it is."""
        if self.outputs_root is None or job.destination.parent.resolve() != self.outputs_root.resolve():
            return
        with contextlib.suppress(OSError):
            job.destination.rmdir()

    def _fail(self, job: Job, error: dict[str, str], kept: Sequence[str] = (), *, claimed: bool = True) -> None:
        """End `job` (claimed by this worker, or never claimed) as failed, said in the log and,
        for a watch-folder photo, in a note where its clip would have gone (`[watch] failure_notes`).
        `kept`: the takes placed before the failure (a disk that filled at the third), listed in
        the job's outputs as a cancelled job's are."""
        if self.store.finish(job.id, self.owner if claimed else None, FAILED, error=error, outputs=kept) is None:
            return   # ended meanwhile (cancelled, or by another process)
        why = error.get("message", error.get("code", "failed"))
        _log_failed(job, why)
        if job.source == "watch":
            note = f"its job failed: {why}"
            self._forget_watch_take(job, lambda ledger: ledger.failed(job.photo_path, job.id, note))
            if self.config.get("watch", {}).get("failure_notes", True):
                failure_note.write(job.destination, job.photo_path, job.id, why)

    def _skip_vanished_watch_photo(self, job: Job) -> bool:
        """A watch job whose photo went away after the watcher's last look ends as skipped
        (canceled, no error), exactly as the watcher skips one that is still queued. Asked
        again when a job fails: the photo may go between this look and the renderer's read."""
        if job.source != "watch" or job.photo_path.exists():
            return False
        return self._skip_watch_job(job, WATCH_PHOTO_GONE, logging.INFO)

    def _skip_linked_watch_photo(self, job: Job) -> bool:
        """A watch job whose photo, sidecar or output folder became a link out of the photo's folder
        while it waited is skipped (canceled, no error and no note: a note would go where the link
        points). The watcher does not take such a photo either; saved in again as a file, it is new."""
        from ..watch.confine import link_out

        why = link_out(job.photo_path, job.destination) if job.source == "watch" else None
        return why is not None and self._skip_watch_job(job, why, logging.WARNING)

    def _skip_watch_job(self, job: Job, why: str, level: int) -> bool:
        """End a watch job as skipped for `why` (canceled, no error) and, like the watcher, forget
        that its photo was taken: the photo was never animated, so if it comes back it is new."""
        if self.store.finish(job.id, self.owner, CANCELED, info={"skipped": why}) is None:
            return True
        log.log(level, "%s: %s; job %s skipped", job.photo_path, why, job.id)
        self._forget_watch_take(job, lambda ledger: ledger.release(job.photo_path, job.id, why))
        return True

    def _forget_watch_take(self, job: Job, change: Callable[["Ledger"], None]) -> None:
        """Tell the watch ledger that a watch job made no clip of its photo."""
        from ..watch.ledger import Ledger    # only watch jobs need it (and watch/ loads watchdog)

        try:
            ledger = Ledger(self.store.db_path)
            try:
                change(ledger)
            finally:
                ledger.close()
        except sqlite3.Error:   # the job's end stands; only the photo written again is affected
            log.exception("job %s: could not mark %s as not taken", job.id, job.photo_path)

    def _execute(self, job: Job, token: CancelToken,
                 on_update: Callable[[str, float, float | None], None]) -> JobResult:
        if self.isolation == "thread":
            from .pipeline import run_job   # (the render process imports it there, not here)

            self._lower_priority()
            return run_job(job.spec(), self.config, progress=JobProgress(on_update), cancel=token)
        with self._lock:
            renderer = self._idle_renderers.pop() if self._idle_renderers else None
        if renderer is None:
            renderer = self._new_renderer()
        try:
            return renderer.run(job.spec(), self.config, progress=on_update, cancel=token)
        finally:
            with self._lock:
                if renderer in self._renderers:       # not closed by stop() meanwhile
                    self._idle_renderers.append(renderer)

    def _new_renderer(self) -> RenderProcess:
        renderer = RenderProcess(nice=self.render_nice, idle=self.render_idle)
        with self._lock:
            self._renderers.append(renderer)
        return renderer

    def _lower_priority(self) -> None:
        """Render at a lower CPU priority (Linux: per thread; threads this one starts, such as
        the encoder's, inherit it), so the API stays responsive while a clip renders."""
        if sys.platform.startswith("linux"):
            lower_thread(threading.get_native_id(), self.render_nice)   # never idle: see priority.py


def _log_failed(job: Job, why: str) -> None:
    """The failure line: a watch folder's photographer has only the log to learn why."""
    log.warning("job %s (%s) failed: %s", job.id, _photo_name(job), why)


def _photo_name(job: Job) -> str:
    """The photo as its owner knows it (an upload's original, else the file worked on)."""
    return Path(job.original_path or job.photo_path).name


def _placed_before_it_died(job: Job) -> list[Path]:
    """The takes a job whose process died had placed: they stay, and are listed as the kept
    takes of a job that failed or was canceled are."""
    spec = job.spec()
    return placement.recall_all(job.destination, job.id, spec.request.variants, spec.stem)


def _remove_partial_files(job: Job) -> None:
    """The temporary files of a job whose process died while writing them."""
    for tmp in stale_temps(job.destination, job.id):
        remove_temp(tmp)
