"""The job store: every job the daemon, the watcher or the CLI submits, in SQLite (WAL).

Python API (what the API, the watch folders and any other front end use):

    from stillmotion.jobs.store import JobStore
    from stillmotion.jobs.spec import JobSpec
    from stillmotion.request import AnimateRequest

    store = JobStore.open()                      # <data dir>/jobs.sqlite3 (STILLMOTION_HOME honoured)
    sub = store.submit(JobSpec(photo_path=Path("/photos/IMG_1.jpg"),
                               request=AnimateRequest.from_dict({"duration": 3})),
                       priority="watch",              # interactive > batch > watch, FIFO within one
                       idempotency_key=None)          # same key -> the same job, never a second one
    # fingerprint=job_fingerprint(spec, ...) precomputed, upload_dir=..., source="watch" are optional
    sub.job.id, sub.created                      # created=False: an identical live job already existed
    store.get(job_id) -> Job | None              # Job.to_dict() is the HTTP shape
    store.list(statuses=("queued", "running"), limit=100) -> list[Job]   # newest first
    store.cancel(job_id) -> Job | None           # queued: canceled now; running: its worker stops it
    store.add_listener(fn)                       # fn(job_id) after every change made in this process
    store.add_listener(fn, progress=False)       # ... except progress reports (state changes only)

Submitting only records the job; a `jobs.worker.Worker` (inside `stillmotion serve`,
or any process that starts one) runs it, taking the next one with `claim_next` (a
LIMIT 1 query on the (status, priority, seq) index, not a listing of the queue).
Several processes may share one store: every state change is one short `BEGIN
IMMEDIATE` transaction (WAL readers never wait), each thread borrows its own
connection, and a running job names the process that owns it, so a job left
`running` by a process that died is found and requeued.

Duplicates: a submit with an `Idempotency-Key` already in the store returns that
job (whatever its status), and one with a new key is a new job; without a key, a submit
whose fingerprint (photo bytes + sidecar + develop settings + request + where the result
goes) matches a queued or running job returns that job. A plug-in retrying after a
timeout never gets two clips; exporting the same photo again (a new key) gets a second.

Uploaded inputs live in `upload_dir` (inside the store's uploads folder) until the
job ends, then they are deleted. `prune()` forgets finished jobs past retention.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import queue
import shutil
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from .. import paths
from ..digests import file_digest, update_from_file
from ..errors import InputError, StillmotionError, one_line
from ..request import AnimateRequest
from .spec import JobSpec

if TYPE_CHECKING:
    import psutil

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELED = "queued", "running", "done", "failed", "canceled"
STATUSES = (QUEUED, RUNNING, DONE, FAILED, CANCELED)
LIVE = (QUEUED, RUNNING)
TERMINAL = (DONE, FAILED, CANCELED)
LIST_LIMIT = 1000          # most jobs one `list` returns
# Lower rank runs first: someone waiting in Lightroom beats a batch, a batch beats a hot folder.
PRIORITIES: dict[str, int] = {"interactive": 0, "batch": 1, "watch": 2}
_PRIORITY_NAMES = {rank: name for name, rank in PRIORITIES.items()}
# Jobs that ask for the same engine and model run on the same device; claim_next skips a
# busy device's jobs by this key, in SQL (request is AnimateRequest JSON).
_ENGINE_KEY = "COALESCE(json_extract(request, '$.engine'), 'auto')"
_MODEL_KEY = "json_extract(request, '$.model')"
MAX_BUSY_KEYS = 16   # distinct (engine, model) pairs claim_next looks past before giving up
# Times the end of a job is tried while another process holds the store past the 30 s busy
# timeout: a job whose end is lost stays `running`, its device slot taken in every process,
# until a restart.
FINISH_ATTEMPTS = 10

# An upload folder no job refers to (the daemon killed mid-upload) is swept once nothing has
# been written into it for this long, whatever [jobs] retention_days says: sooner, it could be
# one still being received.
ABANDONED_UPLOAD_S = 3600.0

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,   -- FIFO order within a priority
    id              TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    source          TEXT NOT NULL DEFAULT 'api',
    created         REAL NOT NULL,
    started         REAL,
    finished        REAL,
    photo_path      TEXT NOT NULL,
    sidecar_path    TEXT,
    develop         TEXT,                                -- JSON or NULL
    original_path   TEXT,
    out_dir         TEXT,
    request         TEXT NOT NULL,                       -- AnimateRequest JSON
    destination     TEXT NOT NULL,                       -- folder the clip goes into (temp files too)
    upload_dir      TEXT,                                -- deleted when the job ends
    fingerprint     TEXT,
    idempotency_key TEXT UNIQUE,
    device          TEXT,
    owner           TEXT,                                -- "pid:start time" of the running process
    attempts        INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    progress        REAL NOT NULL DEFAULT 0,
    stage           TEXT NOT NULL DEFAULT 'queued',
    eta             REAL,
    outputs         TEXT NOT NULL DEFAULT '[]',
    error           TEXT,                                -- JSON {"code", "message"} or NULL
    engine          TEXT,
    engine_reason   TEXT,
    info            TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(status, priority, seq);
CREATE INDEX IF NOT EXISTS jobs_fingerprint ON jobs(fingerprint, status);
-- ?status= listings, newest first: without it every job of that status (weeks of history) was sorted
CREATE INDEX IF NOT EXISTS jobs_listing ON jobs(status, seq);
"""


# What claiming a queued job sets (status, owner, device, started, engine, engine_reason):
# `claim` and `claim_next` each add the WHERE that picks their job.
_CLAIM = ("UPDATE jobs SET status = ?, owner = ?, device = ?, started = ?, attempts = attempts + 1,"
          " stage = 'prepare', progress = 0, eta = NULL, engine = ?, engine_reason = ?")


def _running_on(conn: sqlite3.Connection, device: str) -> int:
    """How many jobs `device` runs now, across every process sharing the store."""
    return conn.execute("SELECT COUNT(*) FROM jobs WHERE status = ? AND device = ?", (RUNNING, device)).fetchone()[0]


class IdempotencyConflict(InputError):
    """An Idempotency-Key reused for a different request."""

    code = "idempotency_conflict"
    http_status = 409


class Unrunnable(Exception):
    """claim_next: the next queued job cannot run here (its engine chooser refused it)."""

    def __init__(self, job: "Job", error: StillmotionError) -> None:
        super().__init__(str(error))
        self.job = job
        self.error = error


@dataclass
class Job:
    id: str
    status: str
    priority: str
    source: str
    created: float
    started: float | None
    finished: float | None
    photo_path: Path
    sidecar_path: Path | None
    develop: dict[str, Any] | None
    original_path: Path | None
    out_dir: Path | None
    request: dict[str, Any]
    destination: Path
    upload_dir: Path | None
    fingerprint: str | None
    idempotency_key: str | None
    device: str | None
    owner: str | None
    attempts: int
    cancel_requested: bool
    progress: float
    stage: str
    eta: float | None
    outputs: list[str] = field(default_factory=list)
    error: dict[str, str] | None = None
    engine: str | None = None
    engine_reason: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    queue_position: int | None = None   # queued: 1 is the next to start (get and list fill it in)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def spec(self) -> JobSpec:
        """The pipeline's input, rebuilt exactly as it was submitted."""
        return JobSpec(photo_path=self.photo_path, request=AnimateRequest.from_dict(self.request),
                       sidecar_path=self.sidecar_path, develop=self.develop,
                       original_path=self.original_path, out_dir=self.out_dir, temp_tag=self.id)

    def to_dict(self) -> dict[str, Any]:
        """The public shape (GET /v1/jobs/{id}, SSE events): no internal bookkeeping."""
        return {
            "id": self.id, "status": self.status, "progress": round(self.progress, 4),
            "stage": self.stage, "eta": None if self.eta is None else round(self.eta, 1),
            "outputs": list(self.outputs), "error": self.error,
            "engine": self.engine, "engine_reason": self.engine_reason, "info": self.info,
            "priority": self.priority, "source": self.source,
            "photo": (self.original_path or self.photo_path).name,
            "original_path": str(self.original_path) if self.original_path else None,
            "destination": str(self.destination), "attempts": self.attempts,
            "cancel_requested": self.cancel_requested, "queue_position": self.queue_position,
            "created": self.created, "started": self.started, "finished": self.finished,
        }


@dataclass
class Submission:
    job: Job
    created: bool       # False: an existing job was returned (idempotency key or live duplicate)


def _absolute(spec: JobSpec) -> JobSpec:
    """The spec's paths as the submitting process means them: the worker that runs the job
    (the daemon) is another process, in another working folder."""
    def absolute(path: Path | str | None) -> Path | None:
        return None if path is None else Path(path).expanduser().absolute()

    out_dir = spec.out_dir if spec.out_dir is not None or not spec.request.out_dir else spec.destination
    return dataclasses.replace(spec, photo_path=absolute(spec.photo_path), sidecar_path=absolute(spec.sidecar_path),
                               original_path=absolute(spec.original_path), out_dir=absolute(out_dir))


def _opt_path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _status_filter(statuses: Iterable[str] | None) -> tuple[str, list[Any]]:
    """The WHERE clause (and its arguments) of a listing of only some statuses."""
    wanted = list(statuses or ())
    if not wanted:
        return "", []
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown:
        raise InputError(f"unknown status {unknown[0]!r} (known: {', '.join(STATUSES)})")
    return f" WHERE status IN ({','.join('?' * len(wanted))})", wanted


def _placed_in_queue(conn: sqlite3.Connection, row: sqlite3.Row) -> Job:
    """The row's job with its place in the queue when it is queued, in claim_next's order
    (priority, then first come): the 40th photo of a batch said only 'queued' for minutes."""
    job = _row_to_job(row)
    if job.status == QUEUED:
        job.queue_position = 1 + conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE status = ? AND (priority < ? OR (priority = ? AND seq < ?))",
            (QUEUED, row["priority"], row["priority"], row["seq"])).fetchone()[0]
    return job


def _row_to_job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"], status=row["status"], priority=_PRIORITY_NAMES.get(row["priority"], "batch"),
        source=row["source"], created=row["created"], started=row["started"], finished=row["finished"],
        photo_path=Path(row["photo_path"]), sidecar_path=_opt_path(row["sidecar_path"]),
        develop=json.loads(row["develop"]) if row["develop"] else None,
        original_path=_opt_path(row["original_path"]), out_dir=_opt_path(row["out_dir"]),
        request=json.loads(row["request"]), destination=Path(row["destination"]),
        upload_dir=_opt_path(row["upload_dir"]), fingerprint=row["fingerprint"],
        idempotency_key=row["idempotency_key"], device=row["device"], owner=row["owner"],
        attempts=row["attempts"], cancel_requested=bool(row["cancel_requested"]),
        progress=row["progress"], stage=row["stage"], eta=row["eta"],
        outputs=json.loads(row["outputs"]), error=json.loads(row["error"]) if row["error"] else None,
        engine=row["engine"], engine_reason=row["engine_reason"], info=json.loads(row["info"]),
    )


def job_fingerprint(spec: JobSpec, *, photo_digest: str | None = None, target: str | None = None) -> str:
    """What makes two submissions the same job: the pixels, their metadata, the request, the target.

    `photo_digest` saves re-reading a photo already hashed while it was uploaded;
    `target` names where the result goes (default: destination folder / stem).
    """
    digest = hashlib.sha256()
    digest.update((photo_digest or file_digest(spec.photo_path)).encode())
    if spec.sidecar_path is not None:
        digest.update(b"\0xmp")
        update_from_file(digest, spec.sidecar_path)
    canonical = json.dumps({
        "develop": spec.develop, "request": spec.request.to_dict(),
        "target": target or str(Path(spec.destination) / spec.stem),
    }, sort_keys=True, default=str)
    digest.update(canonical.encode())
    return digest.hexdigest()


def process_identity(pid: int | None = None) -> str:
    """"pid:start": unique to one process even when pids are reused, and the same whichever
    process asks, whenever (`_started`)."""
    import psutil

    proc = psutil.Process(pid)
    return f"{proc.pid}:{_started(proc)}"


def _started(proc: psutil.Process) -> str:
    """When `proc` started, in a form no change of the clock moves.

    Linux: the boot and the kernel's clock ticks from that boot to the process's start.
    psutil's create_time there adds the boot time, which the kernel recomputes from the wall
    clock on each read: after an NTP correction (or a clock set late, on a machine without a
    battery clock) another process sharing the store saw a live owner start a second or more
    later, and took its running job for a dead process's. Elsewhere create_time is the
    kernel's own record of the start."""
    if sys.platform.startswith("linux"):
        try:
            boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
            ticks = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
            return f"{boot}:{ticks}"
        except (OSError, IndexError):
            pass                        # no /proc (a sandbox): psutil's answer
    return f"{proc.create_time():.3f}"


def owner_alive(owner: str | None) -> bool:
    import psutil

    if not owner:
        return False
    try:
        pid_text, started = owner.split(":", 1)
        proc = psutil.Process(int(pid_text))
        if _started(proc) == started:
            return True
        # An owner written as psutil's creation time: by an earlier version still running
        # beside this one (or where /proc could not be read).
        return abs(proc.create_time() - float(started)) < 0.01
    except (ValueError, psutil.Error):
        return False


def _open_failure(db_path: Path, exc: OSError | sqlite3.Error) -> StillmotionError:
    """One line for `serve` and `watch` when the job store cannot be opened (they would not
    start, with a traceback): a damaged file (a disk that filled or a copy cut short), a
    read-only or missing data folder, a store another program holds locked."""
    if type(exc) is sqlite3.DatabaseError:       # SQLITE_CORRUPT, SQLITE_NOTADB (busy, read-only: subclasses)
        return StillmotionError(f"{db_path}: the job store is damaged ({exc}); rename it (for example to "
                                f"{db_path.name}.damaged) and start again: a new, empty one is made (the photos in "
                                "watch folders are then animated again)")
    reason = exc.strerror if isinstance(exc, OSError) else str(exc)
    return StillmotionError(f"{db_path}: cannot open the job store ({reason or exc})")


def _newer_store(db_path: Path, version: int) -> StillmotionError:
    """A store a later Stillmotion made (after going back to this version): used as it is, this
    version would not know its jobs' fields, and would mark it with its own older version."""
    return StillmotionError(f"{db_path}: the job store was made by a newer Stillmotion (store version {version}; "
                            f"this one reads version {SCHEMA_VERSION}): run that version, or point STILLMOTION_HOME "
                            "at another folder")


class JobStore:
    def __init__(self, db_path: Path, uploads_root: Path | None = None) -> None:
        self.db_path = Path(db_path)
        self.uploads_root = uploads_root or self.db_path.parent / "uploads"
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._listeners: list[tuple[Callable[[str], None], bool]] = []   # (fn, wants progress)
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True, mode=paths.DATA_DIR_MODE)
            with self._connection() as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise _newer_store(self.db_path, version)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                if version < SCHEMA_VERSION:
                    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except StillmotionError:
            self.close()
            raise
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise _open_failure(self.db_path, exc) from None

    @classmethod
    def open(cls, data_dir: Path | None = None) -> "JobStore":
        """The store in the data folder (STILLMOTION_HOME/data, else the platform's)."""
        folder = Path(data_dir) if data_dir else paths.data_dir()
        return cls(folder / "jobs.sqlite3", folder / "uploads")

    # ---- connections -----------------------------------------------------
    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow a connection: one thread uses a connection at a time, none is shared."""
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            # timeout: how long a writer waits for another process's write lock.
            conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=NORMAL")   # WAL + NORMAL: durable on commit order, fast
            conn.execute("PRAGMA busy_timeout=30000")
            with self._all_lock:
                self._all.append(conn)
        try:
            yield conn
        finally:
            self._pool.put(conn)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One state change = one IMMEDIATE transaction (takes the write lock up front, so
        two writers never deadlock upgrading a read lock: no 'database is locked')."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()

    # ---- change notification -----------------------------------------------
    def add_listener(self, fn: Callable[[str], None], *, progress: bool = True) -> None:
        """Call fn(job_id) after each change this process makes; progress=False: state changes
        only (submitted, claimed, finished, canceled, requeued), not the many progress reports."""
        self._listeners.append((fn, progress))

    def remove_listener(self, fn: Callable[[str], None]) -> None:
        self._listeners = [entry for entry in self._listeners if entry[0] != fn]

    def _changed(self, job_id: str, *, progress: bool = False) -> None:
        for fn, wants_progress in list(self._listeners):
            if progress and not wants_progress:
                continue
            try:
                fn(job_id)
            except Exception:  # a broken listener must never break a job
                log.exception("job listener failed")

    # ---- submit ----------------------------------------------------------
    def submit(self, spec: JobSpec, *, priority: str = "interactive", idempotency_key: str | None = None,
               fingerprint: str | None = None, upload_dir: Path | None = None,
               source: str = "api") -> Submission:
        """Queue `spec`, or return the job it duplicates (see the module docstring)."""
        if priority not in PRIORITIES:
            raise InputError(f"priority must be one of {', '.join(PRIORITIES)}; got {priority!r}")
        # (isprintable: a header that is not UTF-8 arrives with surrogates, which SQLite refuses)
        if idempotency_key is not None and not (0 < len(idempotency_key) <= 200 and idempotency_key.isprintable()):
            raise InputError("Idempotency-Key must be 1 to 200 printable characters (UTF-8)")
        spec = _absolute(spec)
        fp = fingerprint or job_fingerprint(spec)
        job_id = os.urandom(8).hex()
        now = time.time()
        with self._write() as conn:
            if idempotency_key is not None:
                row = conn.execute("SELECT * FROM jobs WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
                if row is not None:
                    if row["fingerprint"] != fp:
                        raise IdempotencyConflict(
                            "Idempotency-Key was already used for a different request")
                    return Submission(_row_to_job(row), created=False)
            else:
                # Without a key, the same request while the first is live is a retry. A new key is
                # a new request: the plug-in exporting a photo again means a second clip, and
                # sharing the first job, a cancel of either export would lose the other's clip.
                row = conn.execute(
                    "SELECT * FROM jobs WHERE fingerprint = ? AND status IN (?, ?) ORDER BY seq LIMIT 1",
                    (fp, *LIVE)).fetchone()
                if row is not None:
                    return Submission(_row_to_job(row), created=False)
            conn.execute(
                """INSERT INTO jobs (id, status, priority, source, created, photo_path, sidecar_path,
                       develop, original_path, out_dir, request, destination, upload_dir, fingerprint,
                       idempotency_key)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (job_id, QUEUED, PRIORITIES[priority], source, now, str(spec.photo_path),
                 str(spec.sidecar_path) if spec.sidecar_path else None,
                 json.dumps(spec.develop) if spec.develop is not None else None,
                 str(spec.original_path) if spec.original_path else None,
                 str(spec.out_dir) if spec.out_dir else None,
                 # (the seed drawn now, not at each run: after the fingerprint, so duplicates still match)
                 json.dumps(spec.request.with_seed().to_dict()), str(spec.destination),
                 str(upload_dir) if upload_dir else None, fp, idempotency_key))
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        self._changed(job_id)
        return Submission(_row_to_job(row), created=True)

    # ---- read --------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        with self._connection() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return _placed_in_queue(conn, row) if row else None

    def list(self, statuses: Iterable[str] | None = None, limit: int = 100) -> list[Job]:
        """Newest first, optionally only some statuses."""
        where, args = _status_filter(statuses)
        args.append(max(1, min(int(limit), LIST_LIMIT)))
        with self._connection() as conn:
            rows = conn.execute(f"SELECT * FROM jobs{where} ORDER BY seq DESC LIMIT ?", args).fetchall()
            jobs = [_row_to_job(r) for r in rows]
            if any(job.status == QUEUED for job in jobs):
                # Every queued job's place from one walk of the queue (a COUNT per job listed was
                # a walk of the queue each: 1000 queued, a million rows looked at).
                order = conn.execute("SELECT id FROM jobs WHERE status = ? ORDER BY priority, seq", (QUEUED,))
                place = {row[0]: i for i, row in enumerate(order, start=1)}
                for job in jobs:
                    job.queue_position = place.get(job.id) if job.status == QUEUED else None
            return jobs

    def count(self, statuses: Iterable[str] | None = None) -> int:
        """How many jobs `list` would give without its limit (400 queued, not the 100 listed)."""
        where, args = _status_filter(statuses)
        with self._connection() as conn:
            return conn.execute(f"SELECT COUNT(*) FROM jobs{where}", args).fetchone()[0]

    def queue(self, limit: int = -1) -> list[Job]:
        """Queued jobs in the order they will run: priority, then first come first served."""
        with self._connection() as conn:
            rows = conn.execute("SELECT * FROM jobs WHERE status = ? ORDER BY priority, seq LIMIT ?",
                                (QUEUED, limit)).fetchall()
        return [_row_to_job(r) for r in rows]

    def running(self) -> list[Job]:
        with self._connection() as conn:
            rows = conn.execute("SELECT * FROM jobs WHERE status = ? ORDER BY seq", (RUNNING,)).fetchall()
        return [_row_to_job(r) for r in rows]

    # ---- cancel ------------------------------------------------------------
    def cancel(self, job_id: str) -> Job | None:
        """Queued: canceled at once. Running: flagged; the owning worker stops it (within a
        second for the parallax engine). Finished: unchanged. None if there is no such job."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            if row["status"] == QUEUED:
                conn.execute("UPDATE jobs SET status = ?, stage = ?, finished = ?, eta = NULL, "
                             "cancel_requested = 1 WHERE id = ?", (CANCELED, CANCELED, now, job_id))
            elif row["status"] == RUNNING:
                conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        job = _row_to_job(row)
        if job.terminal:
            self._discard_upload(job)
        self._changed(job_id)
        return job

    # ---- used by workers ---------------------------------------------------
    def claim(self, job_id: str, owner: str, device: str, per_device: int,
              engine: str | None = None, engine_reason: str | None = None) -> Job | None:
        """Move a queued job to running for `owner`, unless `device` already runs `per_device`
        jobs (counted across every process sharing the store). None: not claimed."""
        if self.running_on(device) >= per_device:      # cheap read first: no write lock when busy
            return None
        with self._write() as conn:
            busy = _running_on(conn, device)
            if busy >= per_device:
                return None
            cur = conn.execute(_CLAIM + " WHERE id = ? AND status = ?",
                               (RUNNING, owner, device, time.time(), engine, engine_reason, job_id, QUEUED))
            if cur.rowcount != 1:
                return None
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        self._changed(job_id)
        return _row_to_job(row)

    def claim_next(self, owner: str, per_device: int,
                   engine_of: Callable[[Job], tuple[str, str, str]]) -> Job | None:
        """Claim the first queued job (priority, then first come) whose device runs fewer than
        `per_device` jobs, for `owner`, in one IMMEDIATE transaction. None: nothing to run now.

        engine_of(job) -> (engine name, why, device); it runs inside the transaction, so it
        should be quick (cached). Each step is one query on the (status, priority, seq) index:
        the head of the queue, or, when the head's device is busy, the first job asking for
        another engine/model, so a busy GPU does not hold back a parallax job behind it.
        Raises Unrunnable(job, error) when engine_of refuses the head: the caller fails it.
        """
        # An empty queue (an idle daemon's every pass, twice a second in each process) is read,
        # not locked for writing: a store another process holds is then no wait at all.
        with self._connection() as conn:
            if conn.execute("SELECT 1 FROM jobs WHERE status = ? LIMIT 1", (QUEUED,)).fetchone() is None:
                return None
        busy_keys: list[tuple[str, str | None]] = []
        with self._write() as conn:
            for _ in range(MAX_BUSY_KEYS):
                sql, args = "SELECT * FROM jobs WHERE status = ?", [QUEUED]
                for engine, model in busy_keys:
                    sql += f" AND NOT ({_ENGINE_KEY} = ? AND {_MODEL_KEY} IS ?)"
                    args += [engine, model]
                row = conn.execute(sql + " ORDER BY priority, seq LIMIT 1", args).fetchone()
                if row is None:
                    return None
                job = _row_to_job(row)
                try:
                    name, why, device = engine_of(job)
                except StillmotionError as exc:
                    raise Unrunnable(job, exc) from exc
                busy = _running_on(conn, device)
                if busy < per_device:
                    break
                busy_keys.append((job.request.get("engine", "auto"), job.request.get("model")))
            else:
                return None
            conn.execute(_CLAIM + " WHERE seq = ?", (RUNNING, owner, device, time.time(), name, why, row["seq"]))
            row = conn.execute("SELECT * FROM jobs WHERE seq = ?", (row["seq"],)).fetchone()
        self._changed(job.id)
        return _row_to_job(row)

    def running_on(self, device: str) -> int:
        with self._connection() as conn:
            return _running_on(conn, device)

    def report_progress(self, job_id: str, owner: str, stage: str, progress: float, eta: float | None) -> None:
        with self._write() as conn:
            conn.execute("UPDATE jobs SET stage = ?, progress = ?, eta = ? WHERE id = ? AND owner = ? "
                         "AND status = ?", (stage, progress, eta, job_id, owner, RUNNING))
        self._changed(job_id, progress=True)

    def cancel_requested(self, owner: str) -> list[str]:
        """Running jobs of `owner` that someone asked to cancel (possibly from another process)."""
        with self._connection() as conn:
            rows = conn.execute("SELECT id FROM jobs WHERE status = ? AND owner = ? AND cancel_requested = 1",
                                (RUNNING, owner)).fetchall()
        return [r["id"] for r in rows]

    def finish(self, job_id: str, owner: str | None, status: str, *, outputs: Iterable[Path | str] = (),
               error: StillmotionError | dict[str, str] | None = None, info: dict[str, Any] | None = None) -> Job | None:
        """Record the end of a job exactly once: only the process that owns it may finish it
        (owner None: a queued job refused before it ran). None when it was not ours to finish."""
        assert status in TERMINAL
        if isinstance(error, StillmotionError):
            error = error_dict(error)
        info, outputs = info or {}, [str(p) for p in outputs]
        for attempt in range(1, FINISH_ATTEMPTS + 1):
            try:
                row = self._record_end(job_id, owner, status, outputs, error, info)
                break
            except sqlite3.OperationalError as exc:
                if attempt == FINISH_ATTEMPTS or "locked" not in str(exc):
                    raise
                log.warning("job %s: the job store is busy (%s); recording its end again", job_id, exc)
        if row is None:
            return None
        job = _row_to_job(row)
        self._discard_upload(job)
        self._changed(job_id)
        return job

    def _record_end(self, job_id: str, owner: str | None, status: str, outputs: list[str],
                    error: dict[str, str] | None, info: dict[str, Any]) -> sqlite3.Row | None:
        """finish's one transaction: the job's row after it, or None when it was not ours to end."""
        with self._write() as conn:
            expected = (RUNNING, owner) if owner is not None else (QUEUED, None)
            cur = conn.execute(
                "UPDATE jobs SET status = ?, stage = ?, finished = ?, eta = NULL, outputs = ?, error = ?,"
                " info = ?, engine = COALESCE(?, engine), engine_reason = COALESCE(?, engine_reason),"
                " progress = CASE WHEN ? = 'done' THEN 1.0 ELSE progress END"
                " WHERE id = ? AND status = ? AND owner IS ?",
                (status, status, time.time(), json.dumps(outputs),
                 json.dumps(error) if error else None, json.dumps(info, default=str),
                 info.get("engine"), info.get("engine_reason"), status, job_id, *expected))
            if cur.rowcount != 1:
                return None
            return conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()

    def requeue(self, job_id: str, owner: str) -> bool:
        """Give a running job back to the queue (shutdown, or its process died); it keeps its place."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE jobs SET status = ?, owner = NULL, device = NULL, stage = 'queued', progress = 0,"
                " eta = NULL WHERE id = ? AND status = ? AND owner IS ?", (QUEUED, job_id, RUNNING, owner))
        if cur.rowcount == 1:
            self._changed(job_id)
            return True
        return False

    def orphans(self) -> list[Job]:
        """Running jobs whose owning process is gone (killed, crashed, machine rebooted)."""
        return [job for job in self.running() if not owner_alive(job.owner)]

    # ---- housekeeping -------------------------------------------------------
    def _discard_upload(self, job: Job) -> None:
        """Delete a finished job's uploaded inputs, never anything outside the uploads folder."""
        if job.upload_dir is None:
            return
        folder = job.upload_dir.resolve()
        if folder.parent == self.uploads_root.resolve():
            shutil.rmtree(folder, ignore_errors=True)

    def prune(self, older_than_seconds: float, owned_outputs_root: Path | None = None) -> int:
        """Forget jobs that finished more than `older_than_seconds` ago. Clips the daemon made
        inside `owned_outputs_root` (uploads without an original) go with them; clips beside
        photos are the user's and are never touched. Also sweeps abandoned upload folders."""
        cutoff = time.time() - older_than_seconds
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT * FROM jobs WHERE status IN ({','.join('?' * len(TERMINAL))}) AND finished < ?",
                (*TERMINAL, cutoff)).fetchall()
            conn.executemany("DELETE FROM jobs WHERE id = ?", [(r["id"],) for r in rows])
        owned = owned_outputs_root.resolve() if owned_outputs_root else None
        for job in map(_row_to_job, rows):
            self._discard_upload(job)
            if owned is not None and job.destination.resolve().parent == owned:
                shutil.rmtree(job.destination, ignore_errors=True)
        self._sweep_uploads(time.time() - ABANDONED_UPLOAD_S)
        return len(rows)

    def _sweep_uploads(self, cutoff: float) -> None:
        """Upload folders no job refers to (a daemon killed mid-upload) last written before cutoff."""
        if not self.uploads_root.is_dir():
            return
        with self._connection() as conn:
            known = {r[0] for r in conn.execute("SELECT upload_dir FROM jobs WHERE upload_dir IS NOT NULL")}
        for folder in self.uploads_root.iterdir():
            with contextlib.suppress(OSError):
                if str(folder) not in known and _last_written(folder) < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)


def _last_written(folder: Path) -> float:
    """When `folder` or a file in it was last written (a file being received keeps changing)."""
    return max([folder.stat().st_mtime, *(entry.stat().st_mtime for entry in os.scandir(folder))])


def error_dict(exc: BaseException) -> dict[str, str]:
    """{"code", "message"} for a job record or an HTTP error body: one readable line."""
    return {"code": getattr(exc, "code", "internal"), "message": one_line(exc)}
