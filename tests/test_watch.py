"""Watch folders as a user relies on them, with a REAL watchdog observer on temporary folders.

Each photo is tiny (64x48) and each clip 0.5 s at 4 fps (mp4, ultrafast), so a job
costs tens of milliseconds and the tests measure the watcher, not the renderer.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
from PIL import Image

from stillmotion import config as config_mod
from stillmotion.jobs.store import CANCELED, DONE, Job, JobStore, file_digest
from stillmotion.jobs.worker import Worker
from stillmotion.watch import start_watcher
from stillmotion.watch.ledger import Ledger
from stillmotion.watch.settings import folder_for_dir

from support import skimage_photo

SETTINGS = '[settings]\nduration = 0.5\nfps = 4\nformat = "mp4"\n'


@lru_cache(maxsize=None)
def photo_bytes(index: int) -> bytes:
    """A distinct real photo per index (the astronaut, shifted), 64x48 JPEG."""
    pixels = np.roll(skimage_photo("astronaut"), index * 3, axis=1)
    out = io.BytesIO()
    Image.fromarray(pixels).resize((64, 48), Image.LANCZOS).save(out, "JPEG", quality=90)
    return out.getvalue()


XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
<xmp:Rating>4</xmp:Rating>
<dc:description><rdf:Alt><rdf:li xml:lang="x-default">waves roll onto the beach</rdf:li></rdf:Alt></dc:description>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""


@pytest.fixture
def hot(tmp_path: Path, fast_config: Path) -> Path:
    """A hot folder whose stillmotion.toml asks for cheap clips; fast [watch] timings."""
    with open(fast_config, "a", encoding="utf-8") as fh:
        fh.write("[watch]\nsettle_seconds = 0.3\nsidecar_wait_seconds = 0.3\nrescan_seconds = 0.0\n")
    folder = tmp_path / "hot"
    folder.mkdir()
    (folder / "stillmotion.toml").write_text(SETTINGS, encoding="utf-8")
    return folder


class Running:
    """A watcher (and, unless told otherwise, a worker) on the test's job store."""

    def __init__(self, folders: list[Path], worker: bool = True) -> None:
        self.cfg = config_mod.load()
        self.store = JobStore.open()
        self.worker = Worker(self.store, self.cfg, poll_interval=0.05) if worker else None
        if self.worker:
            self.worker.start()
        self.watcher = start_watcher(self.cfg, self.store, [folder_for_dir(self.cfg, f) for f in folders])
        assert self.watcher.wait_scanned(5)

    def start_worker(self) -> None:
        self.worker = Worker(self.store, self.cfg, poll_interval=0.05)
        self.worker.start()

    def stop(self) -> None:
        self.watcher.stop()
        if self.worker:
            self.worker.stop()
        self.store.close()

    def jobs(self) -> list[Job]:
        return [j for j in self.store.list(limit=1000) if j.source == "watch"]

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; jobs: "
                                     f"{[(j.photo_path.name, j.status) for j in self.jobs()]}")
            time.sleep(0.05)

    def wait_done(self, count: int, timeout: float = 30.0) -> list[Job]:
        self.wait_until(lambda: sum(j.status in (DONE, CANCELED, "failed") for j in self.jobs()) >= count,
                        timeout, f"{count} finished jobs")
        return self.jobs()


@contextmanager
def running(*folders: Path, worker: bool = True) -> Iterator[Running]:
    r = Running(list(folders), worker=worker)
    try:
        yield r
    finally:
        r.stop()


def clips_of(folder: Path, stem: str) -> list[Path]:
    return sorted(folder.rglob(f"{stem}.motion*.mp4"))


def write_slowly(path: Path, data: bytes, chunks: int, seconds: float) -> float:
    """One writer keeping the file open, pausing between chunks; returns when it finished."""
    size = len(data) // chunks + 1
    with open(path, "wb") as fh:
        for start in range(0, len(data), size):
            fh.write(data[start:start + size])
            fh.flush()
            os.fsync(fh.fileno())
            time.sleep(seconds / chunks)
        finished = time.time()
    return finished


@pytest.mark.parametrize("chunks", [
    10,   # pauses (0.2 s) shorter than the stable interval (0.3 s): stability alone decides
    pytest.param(4, marks=pytest.mark.skipif(not sys.platform.startswith("linux"), reason=(
        "pauses (0.5 s) longer than the stable interval: only inotify tells that the writer "
        "still has the file open"))),
])
def test_a_file_written_slowly_is_taken_once_after_it_is_complete(hot, chunks):
    # No sidecar wait: the stability rule alone must hold the photo back.
    (hot / "stillmotion.toml").write_text("sidecar_wait_seconds = 0.0\n" + SETTINGS, encoding="utf-8")
    data = photo_bytes(0)
    with running(hot) as r:
        finished_writing = write_slowly(hot / "SLOW.jpg", data, chunks, 2.0)
        jobs = r.wait_done(1)
        time.sleep(1.0)                              # nothing more may come of it
        jobs = r.jobs()
        assert len(jobs) == 1 and jobs[0].status == DONE, jobs
        assert jobs[0].created >= finished_writing   # not taken while it was still growing
        assert jobs[0].priority == "watch"
        ledger = Ledger(r.store.db_path)
        assert [row["content_hash"] for row in ledger.taken()] == [file_digest(hot / "SLOW.jpg")]
        ledger.close()
    assert len(clips_of(hot, "SLOW")) == 1


def test_a_file_renamed_into_place_is_taken_and_its_temporary_name_never(hot):
    with running(hot) as r:
        part = hot / "RENAMED.jpg.part"
        data = photo_bytes(1)
        with open(part, "wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            time.sleep(0.6)                          # longer than settle: only the name says "not done"
            fh.write(data[len(data) // 2:])
        for name in ("~lock.jpg", ".hidden.jpg", "x.jpg.tmp"):
            (hot / name).write_bytes(photo_bytes(2))
        os.rename(part, hot / "RENAMED.jpg")
        jobs = r.wait_done(1)
        time.sleep(0.8)
        jobs = r.jobs()
        assert [j.photo_path.name for j in jobs] == ["RENAMED.jpg"] and jobs[0].status == DONE


def test_an_idle_watcher_rests_until_a_photo_arrives_and_then_takes_it(hot, monkeypatch):
    """Nothing settling and nothing waiting for a sidecar: the intake thread sleeps until an event
    or its next folder check (once a second), not every tick (here 0.075 s: 13 rounds a second)."""
    from stillmotion.watch.watcher import Watcher
    rounds: list[float] = []
    advance = Watcher._advance
    monkeypatch.setattr(Watcher, "_advance", lambda self, ledger: (rounds.append(time.monotonic()),
                                                                    advance(self, ledger)))
    with running(hot) as r:
        time.sleep(0.3)
        idle_from = time.monotonic()
        time.sleep(1.5)
        idle = [t for t in rounds if idle_from <= t < idle_from + 1.5]
        assert len(idle) <= 3, f"{len(idle)} rounds in 1.5 s with nothing to do"
        (hot / "ARRIVED.jpg").write_bytes(photo_bytes(3))
        jobs = r.wait_done(1)
        assert [j.photo_path.name for j in jobs] == ["ARRIVED.jpg"] and jobs[0].status == DONE


def test_a_burst_of_200_files_gives_200_clips_and_no_duplicates(hot):
    n = 200
    with running(hot) as r:
        started = time.monotonic()
        for i in range(n):
            (hot / f"IMG_{i:04d}.jpg").write_bytes(photo_bytes(i))
        jobs = r.wait_done(n, timeout=60)
        elapsed = time.monotonic() - started
        time.sleep(0.5)
        jobs = r.jobs()
    assert len(jobs) == n, f"{len(jobs)} jobs for {n} photos"
    assert {j.status for j in jobs} == {DONE}
    assert len({j.photo_path for j in jobs}) == n
    for i in range(n):
        assert len(clips_of(hot, f"IMG_{i:04d}")) == 1, f"IMG_{i:04d}"
    print(f"burst: {n} photos -> {n} clips in {elapsed:.1f} s")


def test_a_restart_in_the_middle_of_a_burst_finishes_the_rest_with_none_twice(hot, tmp_path):
    """A real `stillmotion watch` process is killed (SIGKILL: no clean shutdown) mid-burst,
    more photos arrive while it is down, and a second process finishes the rest."""
    n_before, n_while_down = 60, 20
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    store = JobStore.open()

    def done() -> int:
        return len(store.list(statuses=(DONE,), limit=1000))

    def start(name: str) -> subprocess.Popen:
        log = tmp_path / f"{name}.log"
        with open(tmp_path / f"{name}.out", "w") as out, open(log, "w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "stillmotion.cli", "watch", str(hot)], env=env,
                                    stdout=out, stderr=err, text=True)
        deadline = time.monotonic() + 20
        while "watching" not in log.read_text():     # ready once it says what it watches
            assert proc.poll() is None and time.monotonic() < deadline, "watch did not start"
            time.sleep(0.05)
        return proc

    first = start("first")
    try:
        for i in range(n_before):
            (hot / f"IMG_{i:04d}.jpg").write_bytes(photo_bytes(i))
        deadline = time.monotonic() + 30
        while done() < n_before // 3:
            assert time.monotonic() < deadline, "the first watcher made no progress"
            time.sleep(0.02)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert done() < n_before, "the kill came too late to interrupt the burst"
    for i in range(n_before, n_before + n_while_down):
        (hot / f"IMG_{i:04d}.jpg").write_bytes(photo_bytes(i))

    second = start("second")
    try:
        deadline = time.monotonic() + 60
        while done() < n_before + n_while_down:
            assert time.monotonic() < deadline, f"only {done()} clips after the restart"
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(20)
    out = (tmp_path / "second.out").read_text()
    jobs = store.list(limit=1000)
    store.close()
    total = n_before + n_while_down
    assert len(jobs) == total and {j.status for j in jobs} == {DONE}
    for i in range(total):
        assert len(clips_of(hot, f"IMG_{i:04d}")) == 1, f"IMG_{i:04d}"
    assert second.returncode == 0
    printed = out.split()                             # the clips the second process made, one a line
    assert printed and all(line.endswith((".mp4", ".xmp")) for line in printed), out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sighup_is_logged_and_ignored_by_a_running_watch(hot, tmp_path):
    """`stillmotion watch` as a service: SIGHUP (a reload request, a closed terminal) killed it
    at once (status 129), mid-clip. Now it says so in its log and keeps watching."""
    log = tmp_path / "watch.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "stillmotion.cli", "watch", str(hot)],
                                env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                                stderr=err, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while "Ctrl-C stops" not in log.read_text():     # its signal handlers are in place
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGHUP)
        (hot / "AFTER.jpg").write_bytes(photo_bytes(7))
        deadline = time.monotonic() + 30
        while not clips_of(hot, "AFTER"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert "stillmotion watch: SIGHUP ignored: the watcher keeps running" in log.read_text()
    assert proc.returncode == 0
    assert "AFTER.motion.mp4" in out


def test_the_log_in_a_file_says_when_and_how_serious_each_line_is(hot, tmp_path):
    """`stillmotion watch 2>> watch.log` (a launchd agent's StandardErrorPath, nohup): the lines
    said neither when nor how serious ("stillmotion watch: watching ..."), unlike the daemon's."""
    log = tmp_path / "watch.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "stillmotion.cli", "watch", str(hot)], env=os.environ.copy(),
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 20
        while "Ctrl-C stops" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
    first = log.read_text().splitlines()[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO stillmotion watch: watching .*hot", first), first


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_twice_mid_clip_stops_cleanly_with_the_clip_back_in_the_queue(hot, tmp_path):
    """Ctrl-C pressed twice while a clip rendered: the second interrupted the stop half-way, the
    partial clip stayed beside the photo, and the process hung for ever after saying
    "interrupted" (its render process ignored multiprocessing's SIGTERM at exit)."""
    (hot / "stillmotion.toml").write_text('[settings]\nduration = 6\nfps = 24\nformat = "mp4"\n', encoding="utf-8")
    Image.fromarray(skimage_photo("astronaut")).save(hot / "BIG.jpg", quality=90)
    log = tmp_path / "watch.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "stillmotion.cli", "watch", str(hot)], env=os.environ.copy(),
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not list(hot.glob(".stillmotion-tmp-*")):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert "stillmotion watch: already stopping" in log.read_text()
    # (and the photo's claim, kept for the queued job: other stations leave it alone)
    assert sorted(p.name for p in hot.iterdir()) == [".stillmotion-claims", "BIG.jpg", "stillmotion.toml"]
    store = JobStore.open()
    assert [j.status for j in store.list()] == ["queued"]
    store.close()


def test_a_sidecar_arriving_after_its_photo_is_used_and_one_arriving_first_too(hot):
    (hot / "stillmotion.toml").write_text("sidecar_wait_seconds = 2.5\n" + SETTINGS, encoding="utf-8")
    with running(hot) as r:
        (hot / "FIRST.xmp").write_text(XMP, encoding="utf-8")          # sidecar first
        (hot / "FIRST.jpg").write_bytes(photo_bytes(3))
        (hot / "LATE.jpg").write_bytes(photo_bytes(4))
        time.sleep(1.0)
        (hot / "LATE.jpg.xmp").write_text(XMP, encoding="utf-8")       # a second later
        jobs = {j.photo_path.name: j for j in r.wait_done(2)}
    assert jobs["FIRST.jpg"].created < jobs["LATE.jpg"].created      # no waiting when it is there
    assert {j.status for j in jobs.values()} == {DONE}
    for stem in ("FIRST", "LATE"):                                   # its rating made it into the clip
        (clip,) = clips_of(hot, stem)
        assert re.search(r'xmp:Rating(="|>)4', clip.with_suffix(".xmp").read_text(encoding="utf-8")), stem


def test_a_sidecar_written_after_its_clip_was_begun_is_said(hot, caplog):
    """Capture One writing a sidecar later than the wait (or metadata edited afterwards): the clip
    is made without it, which showed only as a clip missing its look. The log now says so, once,
    and a pair that was there from the start, or arrived in time, says nothing."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    with running(hot) as r:
        (hot / "ONTIME.xmp").write_text(XMP, encoding="utf-8")
        (hot / "ONTIME.jpg").write_bytes(photo_bytes(6))
        (hot / "LATE.jpg").write_bytes(photo_bytes(7))
        r.wait_done(2)
        (hot / "LATE.xmp").write_text(XMP, encoding="utf-8")              # after its clip was made
        r.wait_until(lambda: "LATE.xmp was written after" in caplog.text, 10, "the late sidecar said")
        time.sleep(0.8)                                                   # settles again: still once
    lines = [rec.getMessage() for rec in caplog.records if "was written after the clip" in rec.getMessage()]
    assert len(lines) == 1, lines
    assert "LATE.jpg" in lines[0] and "made without it" in lines[0] and "sidecar_wait_seconds = 0.3 s" in lines[0]


def test_an_unexpected_fault_in_a_round_does_not_end_watching(hot, caplog, monkeypatch):
    """An exception nobody foresaw (one odd file, a passing fault) ended the intake thread for
    good; inside the daemon only a log line said so, and no photo was taken again until a
    restart. It is logged once and the next round goes on."""
    from stillmotion.watch.watcher import Watcher

    caplog.set_level(logging.INFO, logger="stillmotion")
    real, faults = Watcher._advance, []

    def advance_failing_once(self, ledger):
        if not faults:
            faults.append(1)
            raise RuntimeError("a fault nobody foresaw")
        return real(self, ledger)

    monkeypatch.setattr(Watcher, "_advance", advance_failing_once)
    with running(hot) as r:
        (hot / "AFTER.jpg").write_bytes(photo_bytes(8))
        (job,) = r.wait_done(1)
        assert r.watcher.error is None
    assert job.status == DONE and faults == [1]
    assert caplog.text.count("a fault nobody foresaw; watching goes on") == 1


def test_a_broken_sidecar_beside_a_photo_is_a_warning_and_the_clip_is_made(hot):
    """Found beside the photo, not named by anyone: as `stillmotion animate` does, the clip is
    made without it (a failed job would leave the photo taken, never to be made)."""
    with running(hot) as r:
        (hot / "BROKEN.xmp").write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
                                        '<x:xmpmeta xmlns:x="adobe:ns:meta/">&a;</x:xmpmeta>', encoding="utf-8")
        (hot / "BROKEN.jpg").write_bytes(photo_bytes(5))
        (job,) = r.wait_done(1)
    assert job.status == DONE, job.error
    assert any("BROKEN.xmp" in w and "ignored" in w for w in job.info["metadata_warnings"])
    assert len(clips_of(hot, "BROKEN")) == 1


@pytest.mark.parametrize("fmt", ["gif", "tiff"])   # a TIFF clip is a folder, renamed into place
def test_outputs_written_into_the_watched_folder_are_not_reingested(hot, fmt, caplog, recwarn):
    # Patterns that match everything, outputs beside the photos and in a subfolder of a
    # recursive watch: only the photos may ever become jobs, and the log says nothing about them.
    caplog.set_level(logging.INFO, logger="stillmotion")
    (hot / "stillmotion.toml").write_text('patterns = ["*"]\n' + SETTINGS, encoding="utf-8")
    sub = hot / "sub"
    sub.mkdir()
    (sub / "stillmotion.toml").write_text(f'output = "clips"\n[settings]\nformat = "{fmt}"\n', encoding="utf-8")
    with open(Path(os.environ["STILLMOTION_HOME"]) / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("recursive = true\n")
    with running(hot) as r:
        (hot / "A.jpg").write_bytes(photo_bytes(5))
        (sub / "B.jpg").write_bytes(photo_bytes(6))
        r.wait_done(2)
        outputs = [Path(p) for j in r.jobs() for p in j.outputs]
        assert outputs and all(p.exists() for p in outputs)
        assert (sub / "clips" / ("B.motion" + (".gif" if fmt == "gif" else ""))).exists()
        time.sleep(1.5)                               # several settle intervals: would anything follow?
        names = sorted(j.photo_path.name for j in r.jobs())
    assert names == ["A.jpg", "B.jpg"]
    assert not [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert not [str(w.message) for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_a_photo_removed_before_its_turn_is_skipped_without_an_error(hot, caplog):
    caplog.set_level(logging.INFO, logger="stillmotion")
    with running(hot, worker=False) as r:            # nothing runs yet: jobs wait in the queue
        (hot / "GONE.jpg").write_bytes(photo_bytes(7))
        (hot / "KEPT.jpg").write_bytes(photo_bytes(8))
        r.wait_until(lambda: len(r.jobs()) == 2, 10, "two queued jobs")
        (hot / "GONE.jpg").unlink()
        (hot / "BRIEF.jpg").write_bytes(photo_bytes(9))  # gone before it was even complete
        (hot / "BRIEF.jpg").unlink()
        r.wait_until(lambda: any(j.status == CANCELED for j in r.jobs()), 10, "the skip")
        r.start_worker()
        jobs = {j.photo_path.name: j for j in r.wait_done(2)}
        time.sleep(0.5)
        jobs = {j.photo_path.name: j for j in r.jobs()}
    assert set(jobs) == {"GONE.jpg", "KEPT.jpg"}
    assert jobs["GONE.jpg"].status == CANCELED and jobs["GONE.jpg"].error is None
    assert jobs["GONE.jpg"].info == {"skipped": "photo deleted before its turn"}
    assert jobs["KEPT.jpg"].status == DONE
    assert not clips_of(hot, "GONE")
    assert not [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert any("GONE.jpg" in rec.getMessage() and "skipped" in rec.getMessage() for rec in caplog.records)


def test_a_deleted_subtree_looks_through_the_queue_once_not_once_per_folder(hot):
    """An old year of an archive (hundreds of day folders) deleted inside a recursive watch
    while photos wait in the queue: each folder's deletion loaded the whole queue and looked
    for every waiting photo on the disk (folders x queued photos: minutes of a busy intake on
    a share, and no photo taken meanwhile). The queue is looked through once per batch of
    events; a waiting photo deleted with its folder is still skipped."""
    with open(Path(os.environ["STILLMOTION_HOME"]) / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("recursive = true\n")
    old = hot / "2019"
    for day in range(120):
        (old / f"{day:03d}").mkdir(parents=True)
        (old / f"{day:03d}" / "IMG.CR2.xmp.txt").write_bytes(b"x")
    (old / "000" / "GONE.jpg").write_bytes(photo_bytes(44))
    (hot / "KEPT.jpg").write_bytes(photo_bytes(45))
    with running(hot, worker=False) as r:
        r.wait_until(lambda: len(r.jobs()) == 2, 10, "two queued jobs")
        looks = []
        queue = r.store.queue
        r.store.queue = lambda *a, **k: looks.append(1) or queue(*a, **k)
        shutil.rmtree(old)
        r.wait_until(lambda: any(j.status == CANCELED for j in r.jobs()), 10, "the skip")
        time.sleep(0.5)
        jobs = {j.photo_path.name: j.status for j in r.jobs()}
    assert jobs == {"GONE.jpg": CANCELED, "KEPT.jpg": "queued"}
    assert len(looks) <= 10, f"the queue was looked through {len(looks)} times for 121 folders deleted"


def test_two_watchers_of_one_folder_make_one_clip_even_when_they_overlap(hot, monkeypatch):
    """The daemon and `stillmotion watch` on the same folder: one watcher is still reading the
    photo through (checking it is complete) while the other takes it and records the take."""
    import threading

    from stillmotion.watch import watcher as watcher_mod

    real_check, first = watcher_mod.photo_mod.check_complete, threading.Event()

    def slow_first_check(path, limit):
        if not first.is_set():
            first.set()
            time.sleep(1.0)      # the other watcher takes the photo meanwhile
        return real_check(path, limit)

    monkeypatch.setattr(watcher_mod.photo_mod, "check_complete", slow_first_check)
    with running(hot) as one, running(hot, worker=False):
        (hot / "SHARED.jpg").write_bytes(photo_bytes(6))
        one.wait_done(1)
        time.sleep(1.5)          # the slow watcher has finished its take by now
        jobs = one.jobs()
    assert first.is_set() and len(jobs) == 1 and jobs[0].status == DONE
    assert len(clips_of(hot, "SHARED")) == 1


def test_a_changed_file_is_animated_again_only_where_configured(tmp_path, hot):
    again = tmp_path / "again"
    again.mkdir()
    (again / "stillmotion.toml").write_text("retake_changed = true\n" + SETTINGS, encoding="utf-8")
    with running(hot, again) as r:
        for folder in (hot, again):
            (folder / "P.jpg").write_bytes(photo_bytes(10))
        r.wait_done(2)
        for folder in (hot, again):
            (folder / "P.jpg").write_bytes(photo_bytes(11))    # edited and exported again
        r.wait_done(3)
        time.sleep(1.0)
        counts = {folder.name: sum(j.photo_path.parent == folder for j in r.jobs()) for folder in (hot, again)}
    assert counts == {"hot": 1, "again": 2}
    assert len(clips_of(again, "P")) == 2 and len(clips_of(hot, "P")) == 1


def test_a_photo_that_fails_gets_a_note_saying_why_and_is_animated_once_saved_again(hot):
    """The person at the hot folder sees the folder, not the log: the reason is beside the photo.
    Written again (fixed), the photo is animated although retake_changed is false (no clip was
    made of it), and the note goes; copied again unchanged after a passing fault, likewise."""
    note = hot / "P.motion.failed.txt"
    with running(hot) as r:
        (hot / "P.jpg").write_bytes(b"this is not a JPEG " * 64)
        failed = r.wait_done(1)[0]
        assert failed.status == "failed"
        r.wait_until(note.exists, 5, "the failure note")
        text = note.read_text(encoding="utf-8")
        assert text.startswith("Stillmotion could not animate P.jpg") and failed.error["message"] in text
        assert "save or copy the photo into the folder again" in text
        (hot / "P.jpg").write_bytes(photo_bytes(12))    # fixed and exported again
        r.wait_done(2)
        r.wait_until(lambda: not note.exists(), 5, "the note to go once the clip is made")
        assert [j.status for j in r.jobs()].count(DONE) == 1
    assert len(clips_of(hot, "P")) == 1 and not list(hot.glob(".stillmotion-tmp-*"))


def test_a_photo_that_failed_is_animated_once_saved_again_after_its_job_was_forgotten(hot):
    """A daemon left running for weeks forgets finished jobs after [jobs] retention_days. A photo
    whose job failed and was then forgotten, saved again fixed, was refused ("changed after it
    was taken; not taken again"): only the forgotten job had said that no clip was made of it."""
    with running(hot) as r:
        (hot / "P.jpg").write_bytes(b"this is not a JPEG " * 64)
        assert r.wait_done(1)[0].status == "failed"
        assert r.store.prune(0) == 1                    # retention over: the failed job is forgotten
        (hot / "P.jpg").write_bytes(photo_bytes(12))    # fixed and exported again
        r.wait_until(lambda: [j.status for j in r.jobs()] == [DONE], 10, "the fixed photo's clip")
    assert len(clips_of(hot, "P")) == 1


def test_a_clip_of_one_photo_leaves_the_failure_note_of_its_namesake(hot):
    """Capture One's JPEG and TIFF recipes write SHOT.jpg and SHOT.tif into one folder. The TIFF
    failed and got SHOT.motion.failed.txt; the JPEG's clip then removed that note, so the folder
    showed SHOT.tif beside a clip and no word that the TIFF had none."""
    note = hot / "SHOT.motion.failed.txt"
    with running(hot) as r:
        (hot / "SHOT.tif").write_bytes(b"this is not a TIFF " * 64)
        assert r.wait_done(1)[0].status == "failed"
        r.wait_until(note.exists, 5, "the TIFF's failure note")
        (hot / "SHOT.jpg").write_bytes(photo_bytes(23))
        r.wait_done(2)
        time.sleep(0.3)
    assert len(clips_of(hot, "SHOT")) == 1
    assert note.read_text(encoding="utf-8").startswith("Stillmotion could not animate SHOT.tif (")


def test_a_file_under_the_notes_name_that_is_not_a_note_is_left_alone(tmp_path):
    from stillmotion.jobs import failure_note

    mine = tmp_path / "P.motion.failed.txt"
    mine.write_text("my own list of failed shots\n", encoding="utf-8")
    assert failure_note.write(tmp_path, tmp_path / "P.jpg", "j1", "broken") is None
    failure_note.clear(tmp_path, tmp_path / "P.jpg")
    assert mine.read_text(encoding="utf-8") == "my own list of failed shots\n"
    assert failure_note.write(tmp_path, tmp_path / "Q.jpg", "j2", "broken") == tmp_path / "Q.motion.failed.txt"
    assert failure_note.write(tmp_path, tmp_path / "Q.jpg", "j3", "still broken") is not None   # replaced
    assert "still broken" in (tmp_path / "Q.motion.failed.txt").read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["P.motion.failed.txt", "Q.motion.failed.txt"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_under_the_notes_name_does_not_hold_the_job_forever(tmp_path):
    """Anyone who can write the hot folder knows where a photo's failure note goes: a named
    pipe there had the job that failed (or the one whose clip was made, clearing the note)
    wait on it for good, and with it the render slot: no clip was made after that."""
    import threading

    from stillmotion.jobs import failure_note

    pipe = tmp_path / "P.motion.failed.txt"
    os.mkfifo(pipe)
    for call in (lambda: failure_note.write(tmp_path, tmp_path / "P.jpg", "j1", "broken"),
                 lambda: failure_note.clear(tmp_path, tmp_path / "P.jpg")):
        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(3)
        try:
            assert not worker.is_alive()
        finally:
            if worker.is_alive():                          # (the old code: let it go)
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
    assert pipe.exists() and not pipe.is_file()            # left alone: not a note of ours


def test_the_daemon_watches_the_configured_folders_while_it_runs(hot, fast_config, tmp_path):
    from aiohttp import web

    from stillmotion.api.server import create_app

    with open(fast_config, "a", encoding="utf-8") as fh:
        fh.write(f"[[watch.folders]]\npath = '{hot}'\n")
    data = tmp_path / "daemon-data"

    async def run_daemon() -> list[Job]:
        runner = web.AppRunner(create_app(config_mod.load(), data_dir=data))
        await runner.setup()                          # cleanup_ctx: store, worker, watcher
        store = JobStore.open(data)
        try:
            (hot / "DROP.jpg").write_bytes(photo_bytes(12))
            deadline = time.monotonic() + 20
            while not store.list(statuses=(DONE,)):
                assert time.monotonic() < deadline, "the daemon did not animate the dropped photo"
                await asyncio.sleep(0.05)
            return store.list()
        finally:
            await runner.cleanup()                    # stops watching with the daemon
            store.close()

    jobs = asyncio.run(run_daemon())
    assert [(j.photo_path.name, j.source, j.priority) for j in jobs] == [("DROP.jpg", "watch", "watch")]
    (hot / "AFTER.jpg").write_bytes(photo_bytes(13))  # the daemon is gone: nobody takes it
    time.sleep(0.6)
    store = JobStore.open(data)
    assert len(store.list()) == 1
    store.close()


def test_a_cut_file_that_looks_complete_waits_for_the_rest(hot, caplog):
    """A copy that stalls longer than the settle time (a network share; platforms that report
    no close) leaves a stable but cut file: it is not taken, and the log says why. Once the
    rest arrives it is taken once. A file that is not an image at all still gets its job
    (which fails and says so)."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    data = photo_bytes(12)
    with running(hot) as r:
        (hot / "CUT.jpg").write_bytes(data[: len(data) // 2])
        (hot / "NOTES.jpg").write_bytes(b"not an image at all")
        r.wait_done(1)                                   # NOTES.jpg's job
        time.sleep(1.0)                                  # several settle intervals for CUT.jpg
        assert [(j.photo_path.name, j.status) for j in r.jobs()] == [("NOTES.jpg", "failed")]
        waiting = [rec.getMessage() for rec in caplog.records if "CUT.jpg" in rec.getMessage()]
        assert len(waiting) == 1 and "truncated" in waiting[0] and "not taken" in waiting[0], waiting
        (hot / "CUT.jpg").write_bytes(data)              # the rest of the copy arrives
        r.wait_done(2)
        time.sleep(0.5)
        jobs = {j.photo_path.name: j.status for j in r.jobs()}
    assert jobs == {"NOTES.jpg": "failed", "CUT.jpg": DONE}
    assert len(clips_of(hot, "CUT")) == 1


def test_a_cut_file_left_in_the_folder_is_not_read_again_at_every_rescan(hot, fast_config, monkeypatch):
    """A damaged JPEG left in the hot folder for weeks (a card read error, a copy given up on)
    was read through twice (hashed, then decoded to its end) at every rescan, every minute for
    as long as it lay there: on a NAS, its bytes off the network each time. Unchanged, it is
    read once; written again whole, it is taken."""
    from stillmotion.watch import watcher as watcher_mod

    fast_config.write_text(fast_config.read_text(encoding="utf-8").replace("rescan_seconds = 0.0",
                                                                           "rescan_seconds = 0.1"), encoding="utf-8")
    data = photo_bytes(13)
    hashed: list[Path] = []

    def counting_digest(path: Path) -> str:
        hashed.append(path)
        return file_digest(path)

    monkeypatch.setattr(watcher_mod, "file_digest", counting_digest)
    cut = hot / "CUT.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with running(hot) as r:
        time.sleep(1.5)                                    # a dozen rescans
        assert r.jobs() == [] and hashed == [cut], hashed
    with running(hot) as r:                                # nor after a restart
        time.sleep(0.5)
        assert r.jobs() == [] and hashed == [cut], hashed
        cut.write_bytes(data)                              # copied again, whole
        r.wait_done(1)
        assert [(j.photo_path.name, j.status) for j in r.jobs()] == [("CUT.jpg", DONE)]


def test_a_folder_deleted_and_made_again_or_plugged_in_late_is_watched(hot, tmp_path, caplog, monkeypatch):
    """The hot folder deleted and made again (emptied the quick way), and a folder that was not
    there when watching started (an unplugged drive): both are watched once they are there.
    With rescans off, only the watch itself can find the photos (it found none: the observer's
    watch had died with the old folder, and a missing folder was left out for good)."""
    from stillmotion.watch import watcher as watcher_mod

    monkeypatch.setattr(watcher_mod, "FOLDER_CHECK_SECONDS", 0.2, raising=False)
    caplog.set_level(logging.INFO, logger="stillmotion")
    late = tmp_path / "late"
    with running(hot, late) as r:
        shutil.rmtree(hot)
        hot.mkdir()
        (hot / "stillmotion.toml").write_text(SETTINGS, encoding="utf-8")
        (hot / "AGAIN.jpg").write_bytes(photo_bytes(14))
        late.mkdir()
        (late / "stillmotion.toml").write_text(SETTINGS, encoding="utf-8")
        (late / "LATE.jpg").write_bytes(photo_bytes(15))
        jobs = {j.photo_path.name: j for j in r.wait_done(2, timeout=10)}
        assert {name: j.status for name, j in jobs.items()} == {"AGAIN.jpg": DONE, "LATE.jpg": DONE}
        hot.rename(tmp_path / "renamed")                     # gone: said once, nothing taken from it
        r.wait_until(lambda: "is gone" in caplog.text, 5, "the folder to be missed")
        (tmp_path / "renamed" / "AWAY.jpg").write_bytes(photo_bytes(16))
        time.sleep(0.6)
        assert len(r.jobs()) == 2
    messages = [rec.getMessage() for rec in caplog.records]
    assert any(str(late) in m and "does not exist" in m and "once it appears" in m for m in messages)
    assert sum(str(hot) in m and "is gone" in m for m in messages) == 2   # deleted, renamed away


def test_other_programs_folders_in_a_recursive_watch_are_left_alone(hot):
    """A Synology keeps a thumbnail JPEG per photo in @eaDir; Capture One keeps a CaptureOne/
    folder in any folder it browses: found at start or made while watching, neither is a photo."""
    with open(Path(os.environ["STILLMOTION_HOME"]) / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("recursive = true\n")
    (hot / "@eaDir" / "OLD.jpg").mkdir(parents=True)
    (hot / "@eaDir" / "OLD.jpg" / "SYNOPHOTO_THUMB_M.jpg").write_bytes(photo_bytes(17))
    with running(hot, worker=False) as r:
        (hot / "shoot").mkdir()
        (hot / "shoot" / "NEW.jpg").write_bytes(photo_bytes(18))
        (hot / "shoot" / "Thumbs.db").write_bytes(b"\0" * 64)
        (hot / "shoot" / "CaptureOne" / "Cache" / "Thumbnails").mkdir(parents=True)
        (hot / "shoot" / "CaptureOne" / "Cache" / "Thumbnails" / "NEW.jpg").write_bytes(photo_bytes(19))
        r.wait_until(lambda: len(r.jobs()) >= 1, 5, "the photo's job")
        time.sleep(0.8)                                # several settle intervals: would more follow?
        names = [str(j.photo_path.relative_to(hot)) for j in r.jobs()]
    assert names == [os.path.join("shoot", "NEW.jpg")]


def test_capture_one_files_are_never_taken_even_with_patterns_matching_everything(hot):
    """Capture One's own files (settings .cos, masks .comask, proxies .cop and .cof that are JPEG
    inside, thumbnails .cot, the session and catalog databases) were taken with patterns = ["*"],
    each paired with the photo's IMG.xmp, failed, and wrote IMG.motion.failed.txt beside the
    photo's clip; a catalog package (Studio.cocatalog/Originals holds imported JPEGs) was walked."""
    (hot / "stillmotion.toml").write_text('patterns = ["*"]\n' + SETTINGS, encoding="utf-8")
    with open(Path(os.environ["STILLMOTION_HOME"]) / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("recursive = true\n")
    (hot / "Studio.cocatalog" / "Originals").mkdir(parents=True)
    (hot / "Studio.cocatalog" / "Originals" / "IMPORTED.jpg").write_bytes(photo_bytes(20))
    (hot / "Studio.cocatalog" / "Studio.cocatalogdb").write_bytes(b"SQLite format 3\0")
    with running(hot, worker=False) as r:
        (hot / "NEW.xmp").write_text(XMP, encoding="utf-8")
        for suffix in (".cos", ".comask", ".cot", ".cosessiondb"):
            (hot / f"NEW{suffix}").write_bytes(b"<?xml version='1.0'?><settings/>")
        for suffix in (".cop", ".cof", ".COP"):
            (hot / f"NEW{suffix}").write_bytes(photo_bytes(21))
        (hot / "NEW.jpg").write_bytes(photo_bytes(22))
        r.wait_until(lambda: len(r.jobs()) >= 1, 5, "the photo's job")
        time.sleep(0.8)                                # several settle intervals: would more follow?
        names = sorted(str(j.photo_path.relative_to(hot)) for j in r.jobs())
    assert names == ["NEW.jpg"]


def test_a_capture_one_sessions_trash_is_not_animated(hot):
    """Watching a whole Capture One session (recursive) animated the photos deleted in Capture
    One, which it moves to the session's Trash folder. A folder named Trash elsewhere is still
    walked (it may hold photos)."""
    with open(Path(os.environ["STILLMOTION_HOME"]) / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("recursive = true\n")
    session = hot / "Wedding"
    for sub in ("Capture", "Output", "Trash"):
        (session / sub).mkdir(parents=True)
    (session / "Wedding.cosessiondb").write_bytes(b"SQLite format 3\0")
    (session / "Trash" / "REJECT_1.jpg").write_bytes(photo_bytes(60))      # there at start
    (hot / "Trash").mkdir()                                                 # no session here
    with running(hot, worker=False) as r:
        (session / "Trash" / "REJECT_2.jpg").write_bytes(photo_bytes(61))  # deleted while watching
        (session / "Output" / "KEEP.jpg").write_bytes(photo_bytes(62))
        (hot / "Trash" / "OTHER.jpg").write_bytes(photo_bytes(63))
        r.wait_until(lambda: len(r.jobs()) >= 2, 5, "the two photos' jobs")
        time.sleep(0.8)
        names = sorted(str(j.photo_path.relative_to(hot)) for j in r.jobs())
    assert names == [os.path.join("Trash", "OTHER.jpg"), os.path.join("Wedding", "Output", "KEEP.jpg")]


def test_symlinked_subfolders_in_a_recursive_watch_are_not_followed(hot, tmp_path):
    """A link to a folder elsewhere had its photos animated and the clips written there (the
    scan followed it, the live watch does not); a link back up (`loop -> .`) was walked some
    40 levels deep, each photo taken again under every name, and the real photos waited."""
    with open(Path(os.environ["STILLMOTION_HOME"]) / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("recursive = true\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "ELSEWHERE.jpg").write_bytes(photo_bytes(40))
    (hot / "elsewhere").symlink_to(outside, target_is_directory=True)
    (hot / "loop").symlink_to(".", target_is_directory=True)
    (hot / "shoot").mkdir()
    (hot / "shoot" / "REAL.jpg").write_bytes(photo_bytes(41))
    with running(hot, worker=False) as r:
        r.wait_until(lambda: len(r.jobs()) >= 1, 5, "the photo's job")
        time.sleep(0.8)                                # several settle intervals: would more follow?
        names = [str(j.photo_path.relative_to(hot)) for j in r.jobs()]
    assert names == [os.path.join("shoot", "REAL.jpg")]


def test_a_linked_folder_inside_a_folder_moved_in_is_not_followed(hot, tmp_path):
    """A shoot folder moved into (or renamed inside) a recursive watch, holding a link to a
    folder elsewhere (`Selects -> /Volumes/Archive/...`): the link was walked as if it were a
    real subfolder (the observer reports it as a folder moved in), its photos animated and the
    clips written into the archive it points to."""
    with open(Path(os.environ["STILLMOTION_HOME"]) / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("recursive = true\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "ELSEWHERE.jpg").write_bytes(photo_bytes(42))
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    (shoot / "REAL.jpg").write_bytes(photo_bytes(43))
    (shoot / "selects").symlink_to(outside, target_is_directory=True)
    (shoot / "loop").symlink_to("..", target_is_directory=True)
    with running(hot, worker=False) as r:
        os.rename(shoot, hot / "shoot")
        r.wait_until(lambda: len(r.jobs()) >= 1, 5, "the photo's job")
        time.sleep(0.8)                                # several settle intervals: would more follow?
        names = [str(j.photo_path.relative_to(hot)) for j in r.jobs()]
    assert names == [os.path.join("shoot", "REAL.jpg")]


def test_links_out_of_the_watched_folder_are_neither_read_nor_written_through(hot, tmp_path, caplog):
    """Whoever can write a shared hot folder is not the service account that watches it. A
    link to another client's photo made a clip of it (its pixels and metadata) in the hot
    folder; a sidecar linked from elsewhere put that file's caption into the clip's XMP; an
    `output` subfolder that was a link to another folder had the clips written there."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    other = tmp_path / "other-client"
    other.mkdir()
    (other / "SECRET.jpg").write_bytes(photo_bytes(50))
    (other / "SECRET.xmp").write_text(XMP.replace("waves roll onto the beach", "their caption"), encoding="utf-8")
    (hot / "STOLEN.jpg").symlink_to(other / "SECRET.jpg")
    (hot / "CAPTION.jpg").write_bytes(photo_bytes(51))
    (hot / "CAPTION.xmp").symlink_to(other / "SECRET.xmp")
    sub = hot / "sub"
    sub.mkdir()
    (sub / "stillmotion.toml").write_text('output = "clips"\n', encoding="utf-8")
    (sub / "clips").symlink_to(other, target_is_directory=True)
    (sub / "OUT.jpg").write_bytes(photo_bytes(52))
    (hot / "OWN.jpg").write_bytes(photo_bytes(53))
    with open(Path(os.environ["STILLMOTION_HOME"]) / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("recursive = true\n")
    with running(hot) as r:
        r.wait_done(1)
        time.sleep(0.8)                                # several settle intervals: would more follow?
        assert [j.photo_path.name for j in r.jobs()] == ["OWN.jpg"]
    assert sorted(p.name for p in other.iterdir()) == ["SECRET.jpg", "SECRET.xmp"]
    assert clips_of(hot, "STOLEN") == clips_of(hot, "CAPTION") == [] and len(clips_of(hot, "OWN")) == 1
    said = caplog.text
    assert "STOLEN.jpg: it is a link to a file elsewhere" in said
    assert "its sidecar CAPTION.xmp is a link to a file elsewhere" in said
    assert "its output folder clips is a link to a folder elsewhere" in said


def test_a_photo_made_a_link_while_its_job_waits_is_skipped_not_read(hot, tmp_path, caplog):
    """The watcher looked when it took the photo; swapped for a link to another client's photo
    while the job waited in the queue (watch jobs wait behind every other), the job read that."""
    other = tmp_path / "other-client"
    other.mkdir()
    (other / "SECRET.jpg").write_bytes(photo_bytes(54))
    with running(hot, worker=False) as r:
        (hot / "SWAP.jpg").write_bytes(photo_bytes(55))
        r.wait_until(lambda: len(r.jobs()) == 1, 5, "the photo's job")
        (tmp_path / "link").symlink_to(other / "SECRET.jpg")
        os.replace(tmp_path / "link", hot / "SWAP.jpg")      # as `ln -sf` does: never gone
        r.start_worker()
        job = r.wait_done(1)[0]
    assert job.status == CANCELED and "link to a file elsewhere" in job.info["skipped"]
    assert clips_of(hot, "SWAP") == [] and not (hot / "SWAP.motion.failed.txt").exists()


def test_an_output_folder_that_is_a_link_loop_is_refused_in_one_line(tmp_path):
    """`ln -s motion motion` in a share (anyone who can write it can): resolving the output folder
    raised RuntimeError (Python 3.10-3.12), so the watcher logged a traceback for the photo at
    every scan and a job that waited failed as 'internal', instead of the photo not being taken."""
    from stillmotion.watch.confine import link_out

    (tmp_path / "IMG.jpg").write_bytes(photo_bytes(56))
    (tmp_path / "motion").symlink_to(tmp_path / "motion")
    why = link_out(tmp_path / "IMG.jpg", tmp_path / "motion")   # (no exception)
    if sys.version_info < (3, 13):   # (3.13's resolve() hands a loop back as it is: the job then fails at it)
        assert why is not None and "output folder motion is a link that leads to no folder" in why


def test_photos_waiting_at_start_are_taken_in_the_order_they_arrived(hot):
    """A restart with a batch already in the folder: clips come in export order, not in
    whatever order the folder lists its files (it was random)."""
    now = time.time()
    names = [f"WAIT_{i}.jpg" for i in range(8)]
    for age, name in enumerate(names):              # the first name arrived last
        (hot / name).write_bytes(photo_bytes(20 + age))
        os.utime(hot / name, (now - age, now - age))
    with running(hot, worker=False) as r:
        r.wait_until(lambda: len(r.jobs()) == len(names), 5, "a job per photo")
        taken = [j.photo_path.name for j in sorted(r.jobs(), key=lambda j: j.created)]
    assert taken == names[::-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="names must be UTF-8 on macOS and Windows")
def test_a_name_that_is_not_utf8_is_said_once_and_the_watcher_goes_on(hot, caplog):
    """'Caf\\xe9.jpg' from an old share stopped the watcher at its start-up scan (a traceback, and
    `stillmotion watch` exited; the daemon silently stopped watching), at every start."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    latin1 = os.path.join(os.fsencode(hot), b"Caf\xe9.jpg")
    with open(latin1, "wb") as fh:
        fh.write(photo_bytes(28))
    with running(hot, worker=False) as r:
        with open(os.path.join(os.fsencode(hot), b"Cr\xe8me.jpg"), "wb") as fh:   # and one dropped
            fh.write(photo_bytes(29))
        (hot / "Café.jpg").write_bytes(photo_bytes(30))
        r.wait_until(lambda: len(r.jobs()) == 1, 5, "the UTF-8 named photo's job")
        time.sleep(0.5)
        assert r.watcher.error is None and [j.photo_path.name for j in r.jobs()] == ["Café.jpg"]
    said = [rec.getMessage() for rec in caplog.records if "not valid UTF-8" in rec.getMessage()]
    assert sorted(said) == [f"{hot}/Caf\ufffd.jpg: its name is not valid UTF-8 (from an older system?); "
                            "not taken: rename it to have it animated",
                            f"{hot}/Cr\ufffdme.jpg: its name is not valid UTF-8 (from an older system?); "
                            "not taken: rename it to have it animated"]


def test_a_camera_raw_file_dropped_in_is_said_once_and_left_alone(hot, caplog):
    """A NEF (or CR3, ARW, DNG...) dropped into a watch folder was passed over in silence: the
    photographer waited for a clip that never came. One line names it and says what to export;
    nothing is written beside it, and it is not said again as the file is written or rescanned,
    nor for the folder's other raw files (a watched session's capture folder holds hundreds)."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    (hot / "waiting.CR3").write_bytes(b"raw data")       # there at start: found by the first scan
    with running(hot, worker=False) as r:
        with open(hot / "DSC_0042.NEF", "wb") as fh:       # dropped while watching, in two writes
            fh.write(b"II*\x00raw")
            fh.flush()
            time.sleep(0.1)
            fh.write(b" data")
        (hot / "DSC_0042.jpg").write_bytes(photo_bytes(31))
        r.wait_until(lambda: len(r.jobs()) == 1, 5, "the JPEG's job")
        time.sleep(0.5)
        assert [j.photo_path.name for j in r.jobs()] == ["DSC_0042.jpg"]
    said = [rec.getMessage() for rec in caplog.records if "camera raw" in rec.getMessage()]
    assert said == [f"{hot / 'waiting.CR3'}: a camera raw file, not taken (nor any other raw file in {hot}): "
                    "Stillmotion animates the developed photo; export it as JPEG, TIFF or HEIC into the watched "
                    "folder (a Capture One process recipe, a Lightroom export)"]
    assert sorted(p.name for p in hot.iterdir()) == [".stillmotion-claims",   # (the JPEG's claim)
                                                     "DSC_0042.NEF", "DSC_0042.jpg", "stillmotion.toml",
                                                     "waiting.CR3"]


def test_an_avif_or_jpeg_xl_export_dropped_in_is_said_once_and_left_alone(hot, caplog):
    """Lightroom Classic exports HDR photos as AVIF or JPEG XL: dropped into a watch folder, they
    were passed over in silence, and the photographer waited for clips that never came. One line
    per watched folder names the first and says what to export instead."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    (hot / "HDR_0001.avif").write_bytes(b"avif data")      # there at start: found by the first scan
    with running(hot, worker=False) as r:
        (hot / "HDR_0002.jxl").write_bytes(b"jxl data")
        (hot / "HDR_0003.AVIF").write_bytes(b"avif data")
        (hot / "SDR_0001.jpg").write_bytes(photo_bytes(47))
        r.wait_until(lambda: len(r.jobs()) == 1, 5, "the JPEG's job")
        time.sleep(0.5)
        assert [j.photo_path.name for j in r.jobs()] == ["SDR_0001.jpg"]
    said = [rec.getMessage() for rec in caplog.records if "JPEG XL" in rec.getMessage()]
    assert said == [f"{hot / 'HDR_0001.avif'}: an AVIF file, not taken (nor any other AVIF or JPEG XL file in "
                    f"{hot}): Stillmotion does not read AVIF or JPEG XL (Lightroom's HDR export formats); "
                    "export the photo as JPEG, TIFF or HEIC (SDR) into the watched folder"]


def test_raw_files_in_every_day_folder_of_a_recursive_watch_are_said_once(hot, caplog):
    """A recursive watch on an archive (year/month/day folders, raws beside the JPEGs) logged
    the raw-file line once for each of its folders: 2000 warnings at start for 2000 day folders,
    burying the one line that mattered (a folder it could not list)."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    with open(Path(os.environ["STILLMOTION_HOME"]) / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("recursive = true\n")
    for day in ("2019/01/01", "2019/01/02", "2020/06/30"):
        (hot / day).mkdir(parents=True)
        (hot / day / "IMG_0001.CR2").write_bytes(b"raw data")
    with running(hot, worker=False) as r:
        (hot / "2021").mkdir()
        (hot / "2021" / "DSC_0042.NEF").write_bytes(b"raw data")   # a new folder while watching
        (hot / "2021" / "DSC_0042.jpg").write_bytes(photo_bytes(46))
        r.wait_until(lambda: len(r.jobs()) == 1, 5, "the JPEG's job")
        time.sleep(0.3)
    said = [rec.getMessage() for rec in caplog.records if "camera raw" in rec.getMessage()]
    assert len(said) == 1, said
    assert said[0].endswith(f": a camera raw file, not taken (nor any other raw file in {hot} or its subfolders): "
                            "Stillmotion animates the developed photo; export it as JPEG, TIFF or HEIC into the "
                            "watched folder (a Capture One process recipe, a Lightroom export)")


def test_a_folder_the_system_will_not_watch_is_still_scanned(hot, tmp_path, caplog, monkeypatch):
    """Past the system's limit on watches (a big recursive tree on a NAS) the watch is refused:
    it stopped `stillmotion watch` and the daemon from starting. Now it is said, and the
    folder's photos are found by the rescans; the other folders are watched as usual."""
    import errno

    from stillmotion.watch import watcher as watcher_mod

    class LimitedObserver(watcher_mod.Observer):
        def schedule(self, handler, path, **kwargs):
            if Path(path).name == "big":
                raise OSError(errno.ENOSPC, "inotify watch limit reached")
            return super().schedule(handler, path, **kwargs)

    monkeypatch.setattr(watcher_mod, "Observer", LimitedObserver)
    monkeypatch.setenv("STILLMOTION__WATCH__RESCAN_SECONDS", "0.5")
    caplog.set_level(logging.INFO, logger="stillmotion")
    big = tmp_path / "big"
    big.mkdir()
    (big / "stillmotion.toml").write_text(SETTINGS, encoding="utf-8")
    with running(hot, big, worker=False) as r:
        (big / "POLLED.jpg").write_bytes(photo_bytes(31))
        (hot / "WATCHED.jpg").write_bytes(photo_bytes(32))
        r.wait_until(lambda: len(r.jobs()) == 2, 5, "both photos' jobs")
    said = [rec.getMessage() for rec in caplog.records if "cannot watch" in rec.getMessage()]
    assert said == [f"cannot watch {big} for changes (inotify watch limit reached); "
                    "its photos are found by the rescan every 0.5 s instead"]


def test_a_closed_stdout_is_said_once_and_the_watching_goes_on(tmp_path, caplog, monkeypatch):
    """`stillmotion watch DIR | head -1`: once the reader quit, every finished clip logged
    "job listener failed" with a BrokenPipeError traceback."""
    from stillmotion.jobs.pipeline import JobSpec
    from stillmotion.request import AnimateRequest
    from stillmotion.watch.service import _reporter

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    store = JobStore.open(tmp_path / "data")
    store.add_listener(_reporter(store))
    try:
        for index, name in enumerate(("A", "B")):
            (tmp_path / f"{name}.jpg").write_bytes(photo_bytes(index))
            job = store.submit(JobSpec(photo_path=tmp_path / f"{name}.jpg", request=AnimateRequest.from_dict({})),
                               priority="watch", source="watch").job
            assert store.claim(job.id, "me", "cpu", 2) is not None
            with caplog.at_level(logging.WARNING, logger="stillmotion"):
                store.finish(job.id, "me", DONE, outputs=[tmp_path / f"{name}.motion.mp4"])
    finally:
        store.close()
    assert "job listener failed" not in caplog.text
    said = [r.getMessage() for r in caplog.records if "stdout" in r.getMessage()]
    assert said == ["cannot print clip paths on stdout (Broken pipe): watching goes on; this log still names each clip"]


@pytest.mark.parametrize("reports", ["as_watched", "real_paths"])
def test_a_folder_watched_through_a_symlink_takes_its_photos_at_once(hot, tmp_path, monkeypatch, reports):
    """A watch folder reached through a link (a folder linked into ~/Pictures, /tmp and /var on
    macOS, which are links to /private/...) got no live events: inotify watching a link reports
    nothing (watchdog sets IN_DONT_FOLLOW), and macOS's FSEvents reports the real path, which
    matched no watched folder. Photos waited for the next rescan (60 s by default; never with
    rescan_seconds = 0). `real_paths` simulates FSEvents: an observer reporting real paths, as
    watchdog's FSEventsEmitter does."""
    import dataclasses

    from watchdog.events import FileSystemEventHandler

    from stillmotion.watch import watcher as watcher_mod

    class RealPaths(FileSystemEventHandler):
        def __init__(self, inner, watched: str) -> None:
            self.inner, self.watched, self.real = inner, watched, os.path.realpath(watched)

        def dispatch(self, event) -> None:
            def real(p):
                p = os.fsdecode(p)
                return self.real + p[len(self.watched):] if p.startswith(self.watched) else p
            self.inner.dispatch(dataclasses.replace(event, src_path=real(event.src_path),
                                                    dest_path=real(event.dest_path)))

    class FSEventsLikeObserver(watcher_mod.Observer):
        def schedule(self, handler, path, **kwargs):
            return super().schedule(RealPaths(handler, str(path)), path, **kwargs)

    if reports == "real_paths":
        monkeypatch.setattr(watcher_mod, "Observer", FSEventsLikeObserver)
    link = tmp_path / "Exports"
    link.symlink_to(hot, target_is_directory=True)
    with running(link, worker=False) as r:
        (hot / "LINKED.jpg").write_bytes(photo_bytes(42))
        r.wait_until(lambda: len(r.jobs()) == 1, 5, "the photo's job")
        assert [j.photo_path for j in r.jobs()] == [link / "LINKED.jpg"]   # named as configured


def test_the_clip_printer_of_a_long_running_watch_does_not_grow_per_job(monkeypatch):
    """`stillmotion watch` left running for weeks printed each clip and remembered every
    job it had printed, forever: its memory grew with every photo animated."""
    import tracemalloc
    from types import SimpleNamespace

    from stillmotion.watch.service import _reporter

    class FinishedJobs:
        def get(self, job_id: str) -> SimpleNamespace:
            return SimpleNamespace(source="watch", status=DONE, outputs=[f"/photos/{job_id}.motion.mp4"])

    class Lines(io.StringIO):   # counts what is printed, keeps none of it
        printed = 0

        def write(self, text: str) -> int:
            self.printed += text.count("\n")
            return len(text)

    monkeypatch.setattr(sys, "stdout", Lines())
    report = _reporter(FinishedJobs())
    held = [tracemalloc.Filter(True, "*stillmotion/watch/service.py")]

    def kept_after(jobs: range) -> int:
        for index in jobs:
            report(f"{index:016x}")
            report(f"{index:016x}")      # a job's change said twice: its clip is printed once
        return sum(stat.size for stat in tracemalloc.take_snapshot().filter_traces(held).statistics("filename"))

    tracemalloc.start()
    try:
        after_100 = kept_after(range(100))
        after_400 = kept_after(range(100, 400))   # (a few ms: nothing is rendered)
    finally:
        tracemalloc.stop()
    assert sys.stdout.printed == 400
    assert after_400 - after_100 < 1024, f"{after_400 - after_100} bytes kept for 300 more jobs"


def test_a_photo_whose_job_ended_while_the_watcher_was_down_is_said_as_it_ended(hot, caplog):
    """`stillmotion watch` killed between submitting a photo's job and recording it in its
    ledger, the job run meanwhile by the daemon: at the next start the log said 'already
    queued as job X' of a job long done."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    with running(hot) as r:
        (hot / "P.jpg").write_bytes(photo_bytes(50))
        (job,) = r.wait_done(1)
        assert job.status == DONE
        ledger = Ledger(r.store.db_path)
        ledger.conn.execute("DELETE FROM watch_ledger")    # its row never written
        ledger.close()
    caplog.clear()
    with running(hot) as r:
        r.wait_until(lambda: f"as job {job.id}" in caplog.text, 5, "the photo looked at again")
        assert len(r.jobs()) == 1
    assert f"{hot / 'P.jpg'}: already taken (done) as job {job.id}" in caplog.text, caplog.text


def _station(home: Path, config: Path, hot: Path, log: Path) -> subprocess.Popen:
    """`stillmotion watch hot` as a station of its own: its own STILLMOTION_HOME (data folder)."""
    home.mkdir()
    shutil.copy(config, home / "config.toml")
    with open(log, "w") as err:
        return subprocess.Popen([sys.executable, "-m", "stillmotion.cli", "watch", str(hot)],
                                env={**os.environ, "STILLMOTION_HOME": str(home), "PYTHONUNBUFFERED": "1"},
                                stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)


def test_two_stations_with_their_own_data_folders_animate_each_photo_of_a_shared_folder_once(
        hot, fast_config, tmp_path):
    """Two workstations watching one NAS hot folder, each with its own job store and ledger: both
    animated every photo (IMG.motion.mp4 and IMG.motion-2.mp4, twice the GPU time). Now each photo
    is claimed in the folder, animated by one station, and its claim says it is done."""
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    stations = [_station(tmp_path / name, fast_config, hot, log) for name, log in zip(("a", "b"), logs)]
    names = [f"S{i}" for i in range(4)]
    try:
        deadline = time.monotonic() + 30
        while not all("Ctrl-C stops" in log.read_text() for log in logs):
            assert all(p.poll() is None for p in stations) and time.monotonic() < deadline
            time.sleep(0.05)
        for i, name in enumerate(names):
            (hot / f"{name}.jpg").write_bytes(photo_bytes(40 + i))
        deadline = time.monotonic() + 40
        while not all(clips_of(hot, name) for name in names):
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            time.sleep(0.1)
        time.sleep(1.0)     # a second clip, if any, would be placed by now
    finally:
        for proc in stations:
            proc.send_signal(signal.SIGINT)
        for proc in stations:
            proc.communicate(timeout=20)
    assert {name: len(clips_of(hot, name)) for name in names} == {name: 1 for name in names}
    claims = [json.loads(p.read_text()) for p in (hot / ".stillmotion-claims").glob("*.json")]
    assert sorted(c["photo"] for c in claims) == [f"{n}.jpg" for n in names]
    assert {c["state"] for c in claims} == {"done"}
    assert not list((hot / ".stillmotion-claims").glob(".stillmotion-tmp-*"))


def test_a_claim_passes_a_photo_over_until_it_is_stale_done_or_failed_and_written_again(tmp_path, monkeypatch):
    from stillmotion.watch import claims as claims_mod

    photo = tmp_path / "P.jpg"
    photo.write_bytes(photo_bytes(50))
    key = (photo.stat().st_size, photo.stat().st_mtime_ns)
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path / "a"))
    a = claims_mod.Claims()
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path / "b"))
    b = claims_mod.Claims()
    assert a.acquire(photo, "d1", key) is None                        # first come
    assert a.acquire(photo, "d1", key) is None                        # its own again (a restart)
    other = b.acquire(photo, "d1", key)
    assert other is not None and other.state == "taken" and str(tmp_path / "a") in other.station
    assert b.acquire(photo, "d2", key) is None                        # other content: another claim
    a.hold(photo, "d1", "job-a", key)
    monkeypatch.setattr(claims_mod, "STALE_SECONDS", 0.3)
    time.sleep(0.4)
    a.heartbeat(force=True)                                            # kept fresh: still a's
    assert b.acquire(photo, "d1", key) is not None
    time.sleep(0.4)                                                    # a went silent
    assert b.acquire(photo, "d1", key) is None                        # taken over
    a.ended("job-a", "done")                                           # a's late end leaves b's claim
    assert claims_mod.read(claims_mod.claim_path(photo, "d1")).station_id == b.station_id
    b.hold(photo, "d1", "job-b", key)
    b.ended("job-b", "failed")
    assert a.acquire(photo, "d1", key).state == "failed"              # failed, and not written again
    assert a.acquire(photo, "d1", (key[0], key[1] + 1)) is None       # written again: tried again
    a.hold(photo, "d1", "job-a2", key)
    a.ended("job-a2", "done")
    assert b.acquire(photo, "d1", (key[0], key[1] + 5)).state == "done"   # done: never again
    a.hold(photo, "d2x", "job-c", key)
    assert a.acquire(photo, "d2x", key) is None
    a.ended("job-c", None)                                             # skipped: withdrawn
    assert claims_mod.read(claims_mod.claim_path(photo, "d2x")) is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes and /dev/zero are POSIX")
def test_a_claim_made_a_named_pipe_or_a_link_to_dev_zero_is_not_read_forever(tmp_path):
    """A claim's name follows from the photo's name and content, so whoever drops a photo into a
    shared folder can make its claim first: a named pipe blocked the watcher for good (no photo
    in any folder was taken after), a link to /dev/zero was read until memory ran out. Such a
    file is an odd claim (another station's, taken over once stale), read no further."""
    import threading

    from stillmotion.watch import claims as claims_mod

    photo = tmp_path / "P.jpg"
    photo.write_bytes(photo_bytes(56))
    pipe, zero = claims_mod.claim_path(photo, "d1"), claims_mod.claim_path(photo, "d2")
    pipe.parent.mkdir()
    os.mkfifo(pipe)
    zero.symlink_to("/dev/zero")
    for path in (pipe, zero):
        found: list = []
        reader = threading.Thread(target=lambda: found.append(claims_mod.read(path)), daemon=True)
        reader.start()
        reader.join(3)
        try:
            assert found and found[0].station == "another station" and found[0].state == "taken", path
        finally:
            if reader.is_alive() and path == pipe:        # (the old code: let it go)
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))


def test_cloned_machines_with_one_host_name_are_two_stations(tmp_path, monkeypatch):
    """Macs cloned from one image share a host name and user (so a data folder path): their
    station ids were equal, each took the other's claims for its own, and both animated every
    photo. Each data folder keeps a random station key of its own, made once: two machines
    differ, and one machine's processes (and its restarts) stay one station."""
    import socket

    from stillmotion.watch import claims as claims_mod

    monkeypatch.setattr(socket, "gethostname", lambda: "Studio-Mac")
    ids = []
    for machine in ("a", "b", "a"):
        monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path / machine / "Stillmotion"))
        ids.append(claims_mod.this_station())
    assert ids[0][0] != ids[1][0] and ids[0] == ids[2] and "Studio-Mac" in ids[0][1]
    assert ids[0][0].startswith("Studio-Mac:")
    # A data folder that cannot be written: host and folder, as before.
    monkeypatch.setattr(claims_mod, "_station_key", lambda folder: None)
    assert claims_mod.this_station()[0] == f"Studio-Mac:{tmp_path / 'a' / 'Stillmotion' / 'data'}"


def test_ended_claims_of_photos_gone_are_forgotten_after_a_month(tmp_path, monkeypatch):
    """A hot folder emptied every day kept a claim file for every photo it ever held (100k photos:
    ~400 MB of disk blocks). An ended claim whose photo has left the folder is forgotten once a
    month old; one whose photo is there, one still taken, or a recent one, is kept."""
    import os

    from stillmotion.watch import claims as claims_mod

    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path / "home"))
    station = claims_mod.Claims()
    month = claims_mod.FORGET_AFTER_SECONDS
    cases = {"gone_done": ("done", False, month + 60), "gone_failed": ("failed", False, month + 60),
             "here_done": ("done", True, month + 60), "gone_recent": ("done", False, month - 3600),
             "gone_taken": ("taken", False, month + 60)}
    paths = {}
    for name, (state, present, age) in cases.items():
        photo = tmp_path / f"{name}.jpg"
        photo.write_bytes(photo_bytes(7))
        key = (photo.stat().st_size, photo.stat().st_mtime_ns)
        assert station.acquire(photo, name, key) is None
        if state != "taken":
            station.hold(photo, name, f"job-{name}", key)
            station.ended(f"job-{name}", state)
        if not present:
            photo.unlink()
        paths[name] = claims_mod.claim_path(photo, name)
        old = time.time() - age
        os.utime(paths[name], (old, old))
    assert claims_mod.forget_ended(tmp_path) == 2
    assert sorted(n for n, p in paths.items() if p.exists()) == ["gone_recent", "gone_taken", "here_done"]
    # The watcher's scans do it (its first, then daily), in each folder they walk.
    sub = tmp_path / "hot" / "day1"
    sub.mkdir(parents=True)
    photo = sub / "old.jpg"
    photo.write_bytes(photo_bytes(8))
    key = (photo.stat().st_size, photo.stat().st_mtime_ns)
    station.acquire(photo, "x", key)
    station.hold(photo, "x", "job-x", key)
    station.ended("job-x", "done")
    photo.unlink()
    old = time.time() - month - 60
    os.utime(claims_mod.claim_path(photo, "x"), (old, old))
    with running(sub, worker=False):
        pass
    assert not claims_mod.claim_path(photo, "x").exists()


def test_a_watcher_beside_the_daemon_of_its_data_folder_lets_go_of_a_claim_the_other_finished(hot, monkeypatch):
    """One station, two processes (the daemon and `stillmotion watch`): the one whose worker did not
    run the job hears nothing of its end, and renewed that photo's claim for as long as it ran."""
    from stillmotion.watch import claims as claims_mod

    monkeypatch.setattr(claims_mod, "HEARTBEAT_SECONDS", 0.2)
    with running(hot) as one, running(hot, worker=False) as idle:
        (hot / "ONE.jpg").write_bytes(photo_bytes(60))
        one.wait_done(1)
        idle.wait_until(lambda: not idle.watcher._claims.held and not one.watcher._claims.held, 5,
                        "both to let go of the claim")
    [claim] = (hot / ".stillmotion-claims").glob("*.json")
    assert json.loads(claim.read_text())["state"] == "done"


def test_a_folder_where_no_claim_can_be_written_is_said_once_not_for_every_photo(tmp_path, monkeypatch, caplog):
    """A read-only ingest share (clips written elsewhere by the folder's `output`): each photo is
    taken without a claim, as the README says. The log said so for every photo, a line each for
    a 500-photo shoot; once for the folder is enough, and the photos are still taken."""
    from stillmotion.watch import claims as claims_mod

    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path / "home"))
    share = tmp_path / "share"
    share.mkdir()
    (share / claims_mod.CLAIMS_FOLDER).write_bytes(b"")     # no claims folder can be made (as read-only)
    station = claims_mod.Claims()
    caplog.set_level(logging.WARNING, logger="stillmotion")
    for i in range(3):
        photo = share / f"P{i}.jpg"
        photo.write_bytes(photo_bytes(70 + i))
        assert station.acquire(photo, f"d{i}", (photo.stat().st_size, photo.stat().st_mtime_ns)) is None
    said = [rec.getMessage() for rec in caplog.records if "claim" in rec.getMessage()]
    assert len(said) == 1 and str(share) in said[0], said


def test_a_photo_another_station_is_animating_is_not_read_again_at_every_rescan(hot, fast_config, tmp_path,
                                                                                 monkeypatch, caplog):
    """While another station renders the photos it claimed (a shoot of 500 TIFFs in its queue),
    this one read each of them through again at every rescan (hashed, and checked complete) and
    said "being animated by ..., passed over here" for each, every minute: gigabytes off the NAS
    and a log of the same lines. Unchanged and still claimed, a photo is looked at once."""
    from stillmotion.watch import claims as claims_mod, watcher as watcher_mod

    photo = hot / "P.jpg"
    photo.write_bytes(photo_bytes(80))
    ours = os.environ["STILLMOTION_HOME"]
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path / "other-station"))
    other = claims_mod.Claims()
    assert other.acquire(photo, file_digest(photo), (photo.stat().st_size, photo.stat().st_mtime_ns)) is None
    monkeypatch.setenv("STILLMOTION_HOME", ours)
    fast_config.write_text(fast_config.read_text(encoding="utf-8").replace("rescan_seconds = 0.0",
                                                                           "rescan_seconds = 0.1"), encoding="utf-8")
    hashed: list[Path] = []

    def counting_digest(path: Path) -> str:
        hashed.append(path)
        return file_digest(path)

    monkeypatch.setattr(watcher_mod, "file_digest", counting_digest)
    caplog.set_level(logging.INFO, logger="stillmotion")
    with running(hot, worker=False) as r:
        time.sleep(1.5)                                    # a dozen rescans
        assert r.jobs() == []
    passed = [rec for rec in caplog.records if "passed over here" in rec.getMessage()]
    assert hashed == [photo] and len(passed) == 1, (hashed, [rec.getMessage() for rec in passed])
    # Once that claim goes stale (its station switched off) the photo is taken over, as before.
    monkeypatch.setattr(claims_mod, "STALE_SECONDS", 0.4)
    with running(hot, worker=False) as r:
        r.wait_until(lambda: len(r.jobs()) == 1, 5, "the photo taken over")
