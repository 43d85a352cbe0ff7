"""The worker on its own: shutdown resumes, cancels from another process, a crashed renderer,
a watch job whose photo went away."""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil
import pytest

from stillmotion import config as config_mod
from stillmotion.jobs.pipeline import JobSpec
from stillmotion.jobs.store import Job, JobStore
from stillmotion.jobs.worker import Worker
from stillmotion.request import AnimateRequest
from stillmotion.watch.ledger import Decision, Ledger, idempotency_key

from support import disk_fills_at_encode, save_photo, skimage_photo


@pytest.fixture
def cfg(tmp_path: Path) -> config_mod.Config:
    user = tmp_path / "config.toml"
    user.write_text('[output]\npreset = "ultrafast"\n[jobs]\nrender_nice = 0\nrender_idle = false\n', encoding="utf-8")
    return config_mod.load(user, environ={})


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    s = JobStore.open(tmp_path / "data")
    yield s
    s.close()


def with_isolation(cfg: config_mod.Config, isolation: str) -> config_mod.Config:
    return config_mod.merge(cfg, {"jobs": {"isolation": isolation}}, "test")


def spec(photo: Path, **settings: Any) -> JobSpec:
    return JobSpec(photo_path=photo, request=AnimateRequest.from_dict({"engine": "parallax", **settings}))


@contextlib.contextmanager
def running(store: JobStore, cfg: config_mod.Config, isolation: str) -> Iterator[Worker]:
    worker = Worker(store, with_isolation(cfg, isolation))
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def long_job(store: JobStore, photo: Path) -> Job:
    """Submit a job that runs for many seconds and wait until it is well under way."""
    job = store.submit(spec(photo, duration=20, fps=30)).job
    wait_for(lambda: store.get(job.id).progress > 0.1)
    return job


def finished(store: JobStore, job_id: str, timeout: float = 30) -> Job:
    return wait_for(lambda: (j := store.get(job_id)).terminal and j, timeout)


def wait_for(predicate: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s")


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_shutdown_requeues_the_running_job_and_the_next_start_finishes_it(tmp_path, cfg, store, isolation):
    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (320, 214))
    with running(store, cfg, isolation):
        job = long_job(store, photo)
    again = store.get(job.id)
    assert again.status == "queued" and again.attempts == 1
    assert list(tmp_path.glob(".stillmotion-tmp-*")) == [] and list(tmp_path.glob("*.motion*")) == []

    store.cancel(job.id)                      # (a shorter job proves the resume; this one is long)
    short = store.submit(spec(photo, duration=0.5, fps=8)).job
    with running(store, cfg, isolation):
        done = finished(store, short.id)
    assert done.status == "done" and [Path(p).name for p in done.outputs][0] == "IMG.motion.mp4"
    assert list(tmp_path.glob(".stillmotion-placed-*")) == []     # its placement record went with it


def test_a_submitted_job_starts_at_once_not_at_the_next_poll(tmp_path, cfg, store):
    """A submit wakes the worker: the job starts in milliseconds, not at the next look at the
    store (poll_interval, half a second by default; made long here to tell the two apart)."""
    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (64, 43))
    started: dict[str, float] = {}

    def note_start(job_id: str) -> None:
        if job_id not in started and store.get(job_id).status == "running":
            started[job_id] = time.monotonic()

    store.add_listener(note_start, progress=False)
    worker = Worker(store, with_isolation(cfg, "thread"), poll_interval=60)
    worker.start()
    try:
        first = store.submit(spec(photo, duration=0.5, fps=4, seed=1)).job    # (imports paid: not timed)
        finished(store, first.id, timeout=15)
        time.sleep(0.2)                  # (the pass the finished job woke is over: the worker waits)
        submitted = time.monotonic()
        job = store.submit(spec(photo, duration=0.5, fps=4, seed=2)).job
        wait_for(lambda: job.id in started, timeout=15)
        assert started[job.id] - submitted < 2.0     # (a wake: ~1 ms; a poll: 60 s)
        finished(store, job.id, timeout=15)
    finally:
        worker.stop()
        store.remove_listener(note_start)


def test_cancel_through_another_store_reaches_the_running_job(tmp_path, cfg, store):
    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (320, 214))
    with running(store, cfg, "thread"):
        job = long_job(store, photo)
        other = JobStore.open(tmp_path / "data")        # e.g. `stillmotion watch` in another process
        asked = time.monotonic()
        other.cancel(job.id)
        other.close()
        wait_for(lambda: store.get(job.id).status == "canceled", timeout=5)
        assert time.monotonic() - asked < 1.5            # the worker polls the store twice a second


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_cancelling_between_variants_keeps_and_lists_the_clips_already_made(tmp_path, cfg, store, isolation):
    """Three takes asked for, cancelled while the second renders: the first is the user's."""
    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (160, 107))
    with running(store, cfg, isolation) as worker:
        job = store.submit(spec(photo, duration=12, fps=30, variants=3)).job
        # The first take placed and the second being written (its temporary file is there).
        wait_for(lambda: (tmp_path / "IMG.motion.mp4").exists() and list(tmp_path.glob(".stillmotion-tmp-*")))
        worker.cancel(job.id)
        canceled = finished(store, job.id)
    assert canceled.status == "canceled"
    assert sorted(Path(p).name for p in canceled.outputs) == ["IMG.motion.mp4", "IMG.motion.xmp"]
    assert sorted(p.name for p in tmp_path.glob("IMG*")) == ["IMG.jpg", "IMG.motion.mp4", "IMG.motion.xmp"]
    assert list(tmp_path.glob(".stillmotion-tmp-*")) == []


def test_a_job_whose_disk_fills_at_its_second_take_lists_the_first_it_kept(tmp_path, cfg, store, monkeypatch):
    """The first take is in place beside the photo; the failed job listed no outputs, so a client
    never learnt of it (and a clip in the data folder was never pruned)."""
    disk_fills_at_encode(monkeypatch, 2)
    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (160, 107))
    with running(store, cfg, "thread"):
        job = finished(store, store.submit(spec(photo, duration=0.5, fps=8, variants=3)).job.id)
    assert job.status == "failed"
    assert job.error["message"] == (f"cannot write take 2 of 3 of IMG.jpg into {tmp_path.resolve()}: "
                                    "No space left on device; nothing was left there")
    assert [Path(p).name for p in job.outputs] == ["IMG.motion.mp4", "IMG.motion.xmp"]
    assert sorted(p.name for p in tmp_path.glob("IMG*")) == ["IMG.jpg", "IMG.motion.mp4", "IMG.motion.xmp"]


def test_a_crashed_render_process_fails_its_job_and_the_next_job_runs(tmp_path, cfg, store, caplog):
    caplog.set_level(logging.INFO, logger="stillmotion")
    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (320, 214))
    with running(store, cfg, "process"):
        job = long_job(store, photo)
        renderers = [c for c in psutil.Process().children() if "spawn_main" in " ".join(c.cmdline())]
        assert len(renderers) == 1
        wait_for(lambda: list(tmp_path.glob(".stillmotion-tmp-*")))   # writing its clip
        renderers[0].kill()                   # as the OOM killer would
        failed = finished(store, job.id)
        assert failed.status == "failed" and failed.error["code"] == "render_crashed"
        assert "killed by signal 9 (SIGKILL" in failed.error["message"], failed.error["message"]
        # The daemon's log names the photo, as for every other end of a job.
        assert any(r.levelno == logging.WARNING and f"job {job.id} (IMG.jpg) failed: the render process was killed"
                   in r.getMessage() for r in caplog.records), caplog.text
        # Its partial clip goes with it: no job would ever look for it again.
        assert list(tmp_path.glob(".stillmotion-tmp-*")) == [] and list(tmp_path.glob("IMG.motion*")) == []
        nxt = store.submit(spec(photo, duration=0.5, fps=8)).job
        assert finished(store, nxt.id).status == "done"



def test_a_take_placed_before_the_render_process_was_killed_is_listed_with_the_failed_job(tmp_path, cfg, store):
    """The OOM killer took the render process in the second of two takes: the first take's
    clip stayed in the folder, but the failed job listed no outputs, so a client (the
    Lightroom plug-in) never learnt of it."""
    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (320, 214))
    with running(store, cfg, "process"):
        job = store.submit(spec(photo, duration=8, fps=24, variants=2)).job
        wait_for(lambda: (tmp_path / "IMG.motion.xmp").exists())    # the first take is placed
        (renderer,) = [c for c in psutil.Process().children() if "spawn_main" in " ".join(c.cmdline())]
        renderer.kill()
        failed = finished(store, job.id)
    assert failed.status == "failed" and failed.error["code"] == "render_crashed"
    assert [Path(p).name for p in failed.outputs] == ["IMG.motion.mp4", "IMG.motion.xmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["IMG.jpg", "IMG.motion.mp4", "IMG.motion.xmp", "config.toml", "data"]


def test_a_store_locked_past_its_timeout_costs_progress_reports_not_the_job(tmp_path, cfg, store, monkeypatch):
    """Another program held the job store for over 30 s while a clip rendered: the progress
    write raised, the job was failed while its render process went on, and the next job sent
    to that process was answered with the first one's clip (B's job listed A's clip)."""
    import sqlite3

    first = save_photo(tmp_path / "A.jpg", skimage_photo("coffee"), (160, 106))
    second = save_photo(tmp_path / "B.jpg", skimage_photo("chelsea"), (160, 106))
    locked = store.report_progress

    def report_progress(job_id: str, *args: Any) -> None:
        if store.get(job_id).photo_path == first:
            raise sqlite3.OperationalError("database is locked")
        locked(job_id, *args)

    monkeypatch.setattr(store, "report_progress", report_progress)
    with running(store, cfg, "process"):
        a = store.submit(spec(first, duration=1, fps=8)).job
        b = store.submit(spec(second, duration=0.5, fps=8)).job
        a, b = finished(store, a.id), finished(store, b.id)
    assert (a.status, [Path(o).name for o in a.outputs]) == ("done", ["A.motion.mp4", "A.motion.xmp"])
    assert (b.status, [Path(o).name for o in b.outputs]) == ("done", ["B.motion.mp4", "B.motion.xmp"])

def test_an_engine_that_cannot_run_here_fails_the_job_at_once(tmp_path, cfg, store, caplog):
    """...and says so in the log, as every other failure does: a watch folder whose
    stillmotion.toml asks for `engine = "svd"` showed 'taken as job ...' and then nothing."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (96, 64))
    with running(store, cfg, "thread"):
        job = store.submit(JobSpec(photo_path=photo, request=AnimateRequest.from_dict({"engine": "svd"}))).job
        failed = finished(store, job.id, timeout=10)
    assert failed.status == "failed" and failed.error["code"] == "engine_unavailable", failed.error
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(job.id in m and "IMG.jpg" in m and "models pull" in m for m in logged), caplog.text
    # The job's own message, as a person reads it (it came as "dict: {'code': ...}").
    assert f"job {job.id} (IMG.jpg) failed: {failed.error['message']}" in logged, logged


def taken_by_the_watcher(store, folder: Path, photo: Path) -> tuple:
    """A watch job for `photo`, queued and recorded in the ledger as the watcher does it."""
    digest = "0" * 64
    key = idempotency_key(photo, digest, 0)
    job = store.submit(spec(photo, duration=0.5, fps=4), priority="watch", source="watch",
                       idempotency_key=key, fingerprint=key).job
    ledger = Ledger(store.db_path)
    ledger.record_taken(folder, photo, digest, 1, 1, job.id, Decision(True, "taken"))
    return job, ledger


def test_a_watch_job_whose_photo_goes_while_it_starts_is_skipped_not_failed(tmp_path, cfg, store, caplog,
                                                                             monkeypatch):
    """Moved out of the hot folder just after the job was claimed, before the renderer read
    it: skipped like a photo gone from the queue (it said 'failed: ... no such file', and the
    photo moved back was never animated)."""
    from stillmotion.jobs import pipeline   # (the worker imports run_job from it when a job runs)

    caplog.set_level(logging.INFO, logger="stillmotion")
    photo = save_photo(tmp_path / "MOVED.jpg", skimage_photo("coffee"), (64, 48))
    real_run_job = pipeline.run_job

    def moved_away_first(spec_, *args, **kwargs):
        spec_.photo_path.rename(tmp_path / "elsewhere.jpg")
        return real_run_job(spec_, *args, **kwargs)

    monkeypatch.setattr(pipeline, "run_job", moved_away_first)
    job, ledger = taken_by_the_watcher(store, tmp_path, photo)
    with running(store, cfg, "thread"):
        skipped = finished(store, job.id, timeout=10)
    assert skipped.status == "canceled" and skipped.error is None, skipped.error
    assert skipped.info == {"skipped": "photo removed before its turn"}
    assert ledger.job_of(photo) is None      # moved back, it is new
    ledger.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_a_watch_job_whose_photo_vanished_before_it_started_is_skipped_not_failed(tmp_path, cfg, store, caplog):
    """The watcher looked, queued the job, then the photo went (deleted or moved) before the
    worker claimed it: the job ends as the watcher's own skips do, and the photo counts as
    not taken, so it is new if it comes back."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    photo = save_photo(tmp_path / "GONE.jpg", skimage_photo("coffee"), (64, 48))
    job, ledger = taken_by_the_watcher(store, tmp_path, photo)
    photo.unlink()
    with running(store, cfg, "thread"):
        skipped = finished(store, job.id, timeout=10)
    assert skipped.status == "canceled" and skipped.error is None, skipped.error
    assert skipped.info == {"skipped": "photo removed before its turn"}
    assert skipped.attempts == 1 and skipped.outputs == []
    assert list(tmp_path.glob("GONE.motion*")) == [] and list(tmp_path.glob(".stillmotion-tmp-*")) == []
    assert ledger.job_of(photo) is None and ledger.times_taken(photo) == 1
    ledger.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert any(job.id in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)


def test_a_broken_sidecar_beside_the_photo_is_logged_with_the_job(tmp_path, cfg, store, caplog):
    """A watch folder's photographer sees the daemon's log, not the job's JSON: a sidecar set
    aside must show there (the clip is still made, from the photo alone)."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    photo = save_photo(tmp_path / "IMG_7.jpg", skimage_photo("coffee"), (96, 64))
    photo.with_suffix(".xmp").write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF", encoding="utf-8")
    with running(store, cfg, "thread"):
        job = store.submit(spec(photo, duration=0.5, fps=4)).job
        done = finished(store, job.id, timeout=30)
    assert done.status == "done" and len(done.outputs) == 2
    assert any("IMG_7.xmp" in w for w in done.info["metadata_warnings"]), done.info
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(job.id in m and "IMG_7.jpg" in m and "IMG_7.xmp" in m for m in logged), caplog.text


def test_the_log_says_what_became_of_each_job(tmp_path, cfg, store, caplog):
    """Done (with the files made) or failed (with why), by job id and photo name: a watch
    folder's photographer reads this log, not the job store."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    photo = save_photo(tmp_path / "IMG_8.jpg", skimage_photo("coffee"), (96, 64))
    cut = tmp_path / "IMG_9.jpg"
    cut.write_bytes(photo.read_bytes()[:1500])
    with running(store, cfg, "thread"):
        good = store.submit(spec(photo, duration=0.5, fps=4)).job
        bad = store.submit(spec(cut, duration=0.5, fps=4)).job
        assert finished(store, good.id).status == "done"
        failed = finished(store, bad.id)
    assert failed.status == "failed" and failed.error["code"] == "bad_input"
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert (logging.INFO, f"job {good.id} (IMG_8.jpg): done: IMG_8.motion.mp4, IMG_8.motion.xmp") in lines, lines
    assert any(level == logging.WARNING and m.startswith(f"job {bad.id} (IMG_9.jpg) failed: IMG_9.jpg: ")
               and "truncated" in m for level, m in lines), lines



def test_a_cancel_sent_as_a_job_starts_in_the_render_process_stops_it(tmp_path, cfg):
    """A cancel that reached the render process right behind its job, before the job had begun
    (a job cancelled, or the daemon stopped, just as it started), was lost about one time in two:
    the job rendered to its end, and stopping the daemon waited 30 s and then failed with a traceback."""
    from stillmotion.errors import Canceled
    from stillmotion.jobs.render_process import RenderProcess
    from stillmotion.progress import CancelToken

    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (320, 214))
    renderer = RenderProcess(nice=0).start()
    try:
        renderer.run(spec(photo, duration=0.5, fps=4), cfg, progress=lambda *_: None, cancel=CancelToken())
        for _ in range(5):
            cancel = CancelToken()
            cancel.cancel()                 # sent right behind the job
            with pytest.raises(Canceled):
                renderer.run(spec(photo, duration=20, fps=30), cfg, progress=lambda *_: None, cancel=cancel)
    finally:
        renderer.close()




def test_a_store_locked_past_its_timeout_is_one_line_in_the_log_and_jobs_go_on(tmp_path, cfg, store, monkeypatch,
                                                                            caplog):
    """`stillmotion watch` in a terminal printed a 15-line traceback each time another program
    held the job store past the 30 s busy timeout."""
    import sqlite3

    caplog.set_level(logging.INFO, logger="stillmotion")
    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (160, 106))
    claim_next, calls = store.claim_next, []

    def locked_once(*args: Any) -> Job | None:
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return claim_next(*args)

    monkeypatch.setattr(store, "claim_next", locked_once)
    job = store.submit(spec(photo, duration=0.5, fps=8)).job
    with running(store, cfg, "thread"):
        assert finished(store, job.id).status == "done"
    busy = [r for r in caplog.records if "database is locked" in r.getMessage()]
    assert [(r.levelno, r.exc_info) for r in busy] == [(logging.WARNING, None)], caplog.text

def test_a_render_process_left_mid_job_by_its_caller_never_answers_the_next_job_with_it(tmp_path, cfg):
    """A progress callback that raised left the render process rendering the first job; the
    next job on it was answered with the first one's clip."""
    from stillmotion.jobs.render_process import RenderProcess
    from stillmotion.progress import CancelToken

    first = save_photo(tmp_path / "A.jpg", skimage_photo("coffee"), (160, 106))
    second = save_photo(tmp_path / "B.jpg", skimage_photo("chelsea"), (160, 106))

    def broken(*_: Any) -> None:
        raise RuntimeError("progress could not be recorded")

    renderer = RenderProcess(nice=0).start()
    try:
        with pytest.raises(RuntimeError):
            renderer.run(spec(first, duration=1, fps=8), cfg, progress=broken, cancel=CancelToken())
        result = renderer.run(spec(second, duration=0.5, fps=8), cfg, progress=lambda *_: None, cancel=CancelToken())
        assert [Path(o).name for o in result.outputs] == ["B.motion.mp4", "B.motion.xmp"]
    finally:
        renderer.close()

def test_a_render_process_killed_while_idle_costs_the_next_job_nothing(tmp_path, cfg, monkeypatch):
    """An idle render process killed (the OOM killer, `kill -9`) just before the next job was
    handed to it: that job failed "the render process was killed", though it had never begun."""
    import multiprocessing.connection
    import os
    import signal

    from stillmotion.jobs.render_process import RenderProcess
    from stillmotion.progress import CancelToken

    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (160, 106))
    renderer = RenderProcess(nice=0).start()
    try:
        renderer.run(spec(photo, duration=0.5, fps=4), cfg, progress=lambda *_: None, cancel=CancelToken())
        idle = renderer._proc
        os.kill(idle.pid, signal.SIGKILL)
        multiprocessing.connection.wait([idle.sentinel], timeout=10)
        monkeypatch.setattr(idle, "is_alive", lambda: True)   # as it looked an instant before the kill
        result = renderer.run(spec(photo, duration=0.5, fps=4), cfg, progress=lambda *_: None, cancel=CancelToken())
        assert [Path(o).name for o in result.outputs] == ["IMG.motion-2.mp4", "IMG.motion-2.xmp"]
        assert renderer.pid != idle.pid
    finally:
        renderer.close()


def test_a_cancelled_or_failed_job_keeps_its_render_process_for_the_next_job(tmp_path, cfg):
    """Every job cancelled (DELETE /v1/jobs/{id}) or failed (a photo damaged after it was queued)
    ended its render process: the next job started a new one (its imports again; a generative
    model loaded again, minutes on a GPU). A soaking daemon had a new render process per cancel."""
    from stillmotion.errors import Canceled
    from stillmotion.jobs.render_process import JobFailed, RenderProcess
    from stillmotion.progress import CancelToken

    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (160, 106))
    damaged = tmp_path / "CUT.jpg"
    damaged.write_bytes(photo.read_bytes()[:2000])
    renderer = RenderProcess(nice=0).start()
    try:
        pid = renderer.pid
        cancel = CancelToken()
        cancel.cancel()
        with pytest.raises(Canceled):
            renderer.run(spec(photo, duration=20, fps=30), cfg, progress=lambda *_: None, cancel=cancel)
        with pytest.raises(JobFailed):
            renderer.run(spec(damaged, duration=0.5, fps=4), cfg, progress=lambda *_: None, cancel=CancelToken())
        result = renderer.run(spec(photo, duration=0.5, fps=4), cfg, progress=lambda *_: None, cancel=CancelToken())
        assert [Path(o).name for o in result.outputs] == ["IMG.motion.mp4", "IMG.motion.xmp"]
        assert renderer.pid == pid
    finally:
        renderer.close()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_a_process_leaving_without_closing_its_render_process_exits(tmp_path):
    """A process that left with its render process still open (`stillmotion watch` after a
    second Ctrl-C, an error before the worker's stop) hung at exit for ever: multiprocessing
    sends its daemonic children SIGTERM, which a render process ignores, and joins them."""
    import subprocess
    import sys

    script = (
        "import os, time\n"
        "from stillmotion.jobs.render_process import RenderProcess\n"
        "renderer = RenderProcess(nice=0).start()\n"
        "def ignores_sigterm():\n"
        "    status = open(f'/proc/{renderer.pid}/status').read()\n"
        "    return int(status.split('SigIgn:')[1].split()[0], 16) & (1 << 14)\n"
        "deadline = time.monotonic() + 30\n"     # until it ignores SIGTERM, as a render process does
        "while not ignores_sigterm() and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print(renderer.pid, flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()      # (its render process follows: its pipe closes)
            proc.wait(10)
    assert proc.returncode == 0
    assert not psutil.pid_exists(int(out))


def test_a_render_process_ended_by_a_signal_is_said_on_windows_too(monkeypatch):
    """Windows has no SIGKILL in Python's signal module: the crash message for a render process
    that multiprocessing reports as ended by a signal (-15: its own terminate, on Windows) raised
    AttributeError in the daemon's job thread instead of failing the job with a reason."""
    import signal

    from stillmotion.jobs.render_process import crash_message
    monkeypatch.delattr(signal, "SIGKILL")
    assert crash_message(-15) == "the render process was killed by signal 15 (SIGTERM)"
    assert crash_message(3221225477) == "the render process crashed with code 0xC0000005"   # as Windows says it


def test_jobs_forgotten_after_retention_are_said_in_the_log(tmp_path, cfg, store, caplog):
    """Prune ran without a word: a job a script still polled answered 404 and nothing said why."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    photo = save_photo(tmp_path / "IMG.jpg", skimage_photo("coffee"), (96, 64))
    job = store.submit(spec(photo, duration=0.5, fps=8)).job
    store.finish(job.id, None, "canceled")
    time.sleep(0.01)
    with running(store, config_mod.merge(cfg, {"jobs": {"retention_days": 0}}, "test"), "thread"):
        wait_for(lambda: store.get(job.id) is None, 10)
    assert ("forgot 1 job(s) finished over 0 days ago ([jobs] retention_days); "
            "their clips beside the photos stay") in caplog.text
