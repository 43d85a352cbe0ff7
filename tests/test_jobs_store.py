"""The job store as its users (API, watch folders) rely on it: order, duplicates, ownership."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stillmotion.errors import EngineUnavailable, InputError
from stillmotion.jobs.pipeline import JobSpec
from stillmotion.jobs.store import (CANCELED, DONE, QUEUED, RUNNING, IdempotencyConflict, JobStore,
                                    Unrunnable, process_identity)
from stillmotion.request import AnimateRequest

from support import save_photo, skimage_photo


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    s = JobStore.open(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "photos"
    folder.mkdir()
    return [save_photo(folder / f"IMG_{i}.jpg", skimage_photo(name), (96, 64))
            for i, name in enumerate(["astronaut", "chelsea", "coffee"])]


def spec(photo: Path, **settings) -> JobSpec:
    return JobSpec(photo_path=photo, request=AnimateRequest.from_dict({"duration": 0.5, "fps": 8, **settings}))


def test_queue_order_is_priority_then_first_come(store, photos):
    watch = store.submit(spec(photos[0]), priority="watch").job
    batch1 = store.submit(spec(photos[1]), priority="batch").job
    inter = store.submit(spec(photos[2]), priority="interactive").job
    batch2 = store.submit(spec(photos[0], seed=1), priority="batch").job
    assert [j.id for j in store.queue()] == [inter.id, batch1.id, batch2.id, watch.id]
    assert store.get(watch.id).to_dict()["status"] == QUEUED
    with pytest.raises(InputError):
        store.submit(spec(photos[0]), priority="urgent")


def test_a_script_in_the_photos_folder_submits_by_relative_name(store, photos, monkeypatch):
    """docs/daemon.md's Python snippet from a script run in the photos' folder: the daemon's
    worker (another process, another working folder) must find that photo, and put its clip
    (and an out_dir named relative to the script) where the script meant."""
    monkeypatch.chdir(photos[0].parent)
    job = store.submit(JobSpec(photo_path=photos[0].name, request=AnimateRequest.from_dict(   # type: ignore[arg-type]
        {"duration": 0.5, "out_dir": "clips"}))).job
    monkeypatch.chdir(photos[0].parent.parent)                   # the worker's own folder
    rebuilt = store.get(job.id).spec()
    assert rebuilt.photo_path == photos[0]
    assert rebuilt.destination == photos[0].parent / "clips"

def test_duplicates_return_the_live_job_and_keys_are_exact(store, photos):
    first = store.submit(spec(photos[0]), idempotency_key="k1")
    again = store.submit(spec(photos[0]))                    # same pixels + settings + target, live
    assert first.created and not again.created and again.job.id == first.job.id
    assert store.submit(spec(photos[0], seed=3)).created      # different settings: a new job
    with pytest.raises(IdempotencyConflict):
        store.submit(spec(photos[1]), idempotency_key="k1")   # key reused for another photo
    store.cancel(first.job.id)
    # A finished job: the same key still answers with it; without a key it is a new job.
    assert store.submit(spec(photos[0]), idempotency_key="k1").job.status == CANCELED
    assert store.submit(spec(photos[0])).created


def test_a_new_key_is_a_new_job_even_while_an_identical_one_is_live(store, photos):
    """The plug-in sends a fresh key per export: exporting a photo again while its first job runs
    makes a second job, so cancelling one export cannot take the other's clip with it."""
    first = store.submit(spec(photos[0]), idempotency_key="lightroom-1-a")
    second = store.submit(spec(photos[0]), idempotency_key="lightroom-1-b")
    assert second.created and second.job.id != first.job.id
    store.cancel(second.job.id)
    assert store.get(first.job.id).status == QUEUED
    # Each key still answers with its own job (a retry of either export).
    assert store.submit(spec(photos[0]), idempotency_key="lightroom-1-a").job.id == first.job.id


def test_claim_respects_one_per_device_and_finish_is_owned(store, photos):
    me = process_identity()
    a = store.submit(spec(photos[0])).job
    b = store.submit(spec(photos[1])).job
    assert store.claim(a.id, me, "cpu", per_device=1).status == RUNNING
    assert store.claim(b.id, me, "cpu", per_device=1) is None          # cpu busy
    assert store.claim(b.id, me, "cuda:0", per_device=1) is not None   # another device is free
    assert store.finish(a.id, "someone-else:1", DONE) is None          # only the owner finishes
    assert store.finish(a.id, me, DONE, outputs=["/x.mp4"]).outputs == ["/x.mp4"]
    assert store.finish(a.id, me, DONE) is None                        # exactly once


def by_engine(job):
    """A chooser as the worker's: parallax renders on the CPU, svd on the GPU, ltx is not installed."""
    engine = job.request["engine"]
    if engine == "ltx":
        raise EngineUnavailable("engine 'ltx' is not usable here")
    return engine, "test", "cuda:0" if engine == "svd" else "cpu"


def test_claim_next_takes_the_head_of_the_queue_and_looks_past_a_busy_device(store, photos):
    me = process_identity()
    gpu1 = store.submit(spec(photos[0], engine="svd"), priority="batch").job
    gpu2 = store.submit(spec(photos[1], engine="svd"), priority="batch").job
    cpu_watch = store.submit(spec(photos[2], engine="parallax"), priority="watch").job
    cpu_inter = store.submit(spec(photos[2], engine="parallax", seed=1), priority="interactive").job
    first = store.claim_next(me, 1, by_engine)
    assert (first.id, first.status, first.device, first.engine) == (cpu_inter.id, RUNNING, "cpu", "parallax")
    assert store.claim_next(me, 1, by_engine).id == gpu1.id      # the cpu is busy: the gpu's turn
    assert store.claim_next(me, 1, by_engine) is None            # both busy; gpu2 and cpu_watch wait
    store.finish(cpu_inter.id, me, DONE)
    # gpu2 is ahead of the watch job but its device is busy: the cpu job behind it runs.
    assert store.claim_next(me, 1, by_engine).id == cpu_watch.id
    assert store.get(gpu2.id).status == QUEUED
    assert store.claim_next(me, 2, by_engine).id == gpu2.id      # two per device: room for it


def test_claim_next_hands_back_a_job_that_cannot_run_here(store, photos):
    me = process_identity()
    broken = store.submit(spec(photos[0], engine="ltx")).job
    fine = store.submit(spec(photos[1], engine="parallax")).job
    with pytest.raises(Unrunnable) as refused:
        store.claim_next(me, 1, by_engine)
    assert refused.value.job.id == broken.id and isinstance(refused.value.error, EngineUnavailable)
    assert store.get(broken.id).status == QUEUED                 # nothing written: the caller decides
    store.finish(broken.id, None, "failed", error=refused.value.error)
    assert store.claim_next(me, 1, by_engine).id == fine.id


def test_state_listeners_are_not_woken_by_progress(store, photos):
    me = process_identity()
    everything, states = [], []
    store.add_listener(everything.append)
    store.add_listener(states.append, progress=False)
    job = store.submit(spec(photos[0])).job
    store.claim_next(me, 1, by_engine)
    for step in range(5):
        store.report_progress(job.id, me, "generate", step / 5, None)
    store.finish(job.id, me, DONE)
    assert len(states) == 3 and len(everything) == 8             # submit, claim, finish (+ 5 reports)
    store.remove_listener(states.append)
    store.submit(spec(photos[1]))
    assert len(states) == 3 and len(everything) == 9


def test_running_job_of_a_dead_process_is_an_orphan(store, photos):
    dead = subprocess.run([sys.executable, "-c", "import psutil,os;p=psutil.Process();"
                           "print(f'{p.pid}:{p.create_time():.3f}')"], capture_output=True, text=True).stdout.strip()
    job = store.submit(spec(photos[0])).job
    store.claim(job.id, dead, "cpu", per_device=1)
    other = store.submit(spec(photos[1])).job
    store.claim(other.id, process_identity(), "gpu", per_device=1)
    assert [j.id for j in store.orphans()] == [job.id]                 # ours is alive, not an orphan
    assert store.requeue(job.id, dead) and store.get(job.id).status == QUEUED



@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux derives the start time from the wall clock")
def test_a_live_job_is_no_orphan_after_the_clock_is_corrected(store, photos, tmp_path, monkeypatch):
    """`serve` and `watch` share one store and each looks for orphans every few seconds. On
    Linux psutil's create_time is the boot time read from the wall clock (recomputed by the
    kernel on each read) plus ticks since boot: after an NTP correction another process saw a
    live owner start a second later, took its running job for a dead process's, deleted the
    temporary it was writing and queued the job again."""
    import psutil
    from stillmotion.jobs.worker import Worker

    job = store.submit(spec(photos[0])).job
    store.claim(job.id, process_identity(), "cpu", per_device=1)
    writing = photos[0].parent / f".stillmotion-tmp-{job.id}-0123456789ab.mp4"
    writing.write_bytes(b"half a clip")
    # A live owner as an earlier version wrote it (psutil's creation time), still running beside this one.
    earlier = store.submit(spec(photos[1])).job
    store.claim(earlier.id, f"{os.getpid()}:{psutil.Process().create_time():.3f}", "gpu", per_device=1)
    assert store.orphans() == []
    store.finish(earlier.id, f"{os.getpid()}:{psutil.Process().create_time():.3f}", DONE)
    booted = psutil.boot_time()
    monkeypatch.setattr(psutil._pslinux, "boot_time", lambda: booted + 1.0)   # the clock moved 1 s
    assert store.orphans() == []
    assert Worker(store, {}).recover() == []
    assert writing.exists() and store.get(job.id).status == RUNNING

def test_a_job_canceled_while_its_daemon_died_lists_the_takes_it_placed(store, photos):
    """Cancel asked, then the daemon killed in the second take: the next start ends the job
    as canceled, listing the first take left in the folder (as a cancel that stopped cleanly does)."""
    from stillmotion.jobs import placement
    from stillmotion.jobs.worker import Worker
    from stillmotion.place import place_group, temp_path

    job = store.submit(spec(photos[0], variants=2)).job
    store.claim(job.id, "4000000:1.000", "cpu", per_device=1)     # a process long gone
    folder = photos[0].parent
    temps = {".mp4": temp_path(folder, ".mp4", job.id), ".xmp": temp_path(folder, ".xmp", job.id)}
    for path in temps.values():
        path.write_bytes(b"take 1")
    placement.record(folder, job.id, 0, temps)
    placed = place_group(temps, folder, "IMG_0")
    store.cancel(job.id)
    assert Worker(store, {}).recover() == []
    ended = store.get(job.id)
    assert ended.status == CANCELED and ended.outputs == [str(p) for p in placed.values()]
    assert all(p.exists() for p in placed.values()) and not list(folder.glob(".stillmotion-*"))


def test_uploads_are_deleted_when_the_job_ends_and_prune_forgets(store, photos, tmp_path):
    upload = store.uploads_root / "abc"
    upload.mkdir(parents=True)
    photo = save_photo(upload / "IMG.jpg", skimage_photo(), (96, 64))
    job = store.submit(spec(photo), upload_dir=upload).job
    store.cancel(job.id)
    assert not upload.exists()
    assert store.prune(older_than_seconds=3600) == 0
    time.sleep(0.01)
    assert store.prune(older_than_seconds=0) == 1 and store.get(job.id) is None


@pytest.mark.parametrize("retention_days", [14, 0])
def test_an_upload_cut_short_is_swept_within_hours_and_one_being_received_never(store, retention_days):
    """The daemon killed mid-upload left half a 200 MB TIFF in uploads/ for the 14 days of
    retention; with retention_days = 0, the hourly prune could delete an upload still arriving."""
    cut_short, arriving = store.uploads_root / "cut", store.uploads_root / "arriving"
    two_hours_ago = time.time() - 7200
    for folder in (cut_short, arriving):
        folder.mkdir(parents=True)
        (folder / "IMG.tif").write_bytes(b"half a photo")
        os.utime(folder, (two_hours_ago, two_hours_ago))
    os.utime(cut_short / "IMG.tif", (two_hours_ago, two_hours_ago))   # nothing written since
    store.prune(older_than_seconds=retention_days * 86400)
    assert not cut_short.exists() and (arriving / "IMG.tif").exists()


def test_concurrent_writers_from_threads_and_processes(store, photos, tmp_path):
    """Two processes and many threads writing at once: no 'database is locked'."""
    code = ("import sys; from pathlib import Path; from stillmotion.jobs.store import JobStore;"
            "from stillmotion.jobs.pipeline import JobSpec; from stillmotion.request import AnimateRequest;"
            "s = JobStore.open(Path(sys.argv[1]));"
            "[s.submit(JobSpec(photo_path=Path(sys.argv[2]), request=AnimateRequest.from_dict({'seed': i})),"
            " priority='watch', source='watch') for i in range(100, 140)]")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "data"), str(photos[2])])
    with ThreadPoolExecutor(8) as pool:
        jobs = list(pool.map(lambda i: store.submit(spec(photos[i % 2], seed=i)).job, range(40)))
        list(pool.map(lambda j: store.cancel(j.id), jobs[:20]))
    assert proc.wait(timeout=60) == 0
    assert len(store.list(limit=1000)) == 80
    assert len(store.list(statuses=["canceled"], limit=1000)) == 20


@pytest.mark.parametrize("damage", ["truncated", "not a database"])
def test_a_damaged_store_is_one_line_saying_what_to_do(tmp_path, fast_config, photos, capsys, damage):
    """A jobs.sqlite3 cut short (a full disk, a copy interrupted) or overwritten: `serve` and
    `watch` would not start, with a 40-line sqlite3.DatabaseError traceback."""
    from stillmotion import cli
    from stillmotion.errors import StillmotionError

    data = fast_config.parent / "data"
    store = JobStore.open(data)
    for photo in photos:
        store.submit(spec(photo))
    store.close()
    db = data / "jobs.sqlite3"
    if damage == "truncated":
        db.write_bytes(db.read_bytes()[:5000])
    else:
        db.write_bytes(b"\x00garbage" * 400)
    with pytest.raises(StillmotionError) as err:
        JobStore.open(data)
    assert str(err.value).startswith(f"{db}: the job store is damaged (")
    assert str(err.value).endswith("rename it (for example to jobs.sqlite3.damaged) and start again: "
                                   "a new, empty one is made (the photos in watch folders are then animated again)")
    assert cli.main(["watch", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"stillmotion: error: {err.value}"]


def test_a_store_a_newer_version_made_is_refused_not_marked_as_ours(tmp_path, fast_config, photos, capsys):
    """Back to this version after a later one moved the store on: it was opened as it was and
    marked with this version's number, so the later version, run again, took it for an old one."""
    import sqlite3

    from stillmotion import cli
    from stillmotion.errors import StillmotionError

    data = fast_config.parent / "data"
    JobStore.open(data).close()
    db = data / "jobs.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version=7")
    with pytest.raises(StillmotionError, match=r"the job store was made by a newer Stillmotion \(store version 7; "
                                               r"this one reads version 1\): run that version"):
        JobStore.open(data)
    assert cli.main(["watch", str(tmp_path)]) == 1
    assert "made by a newer Stillmotion" in capsys.readouterr().err
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    JobStore.open(tmp_path / "other").close()        # a new store is made at this version
    with sqlite3.connect(tmp_path / "other" / "jobs.sqlite3") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1


def test_a_data_folder_that_cannot_be_made_is_one_line(tmp_path, monkeypatch):
    """STILLMOTION_HOME on a read-only volume: `watch` died with an OSError traceback from mkdir."""
    import errno
    import os

    from stillmotion.errors import StillmotionError

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(StillmotionError) as err:
        JobStore.open(tmp_path / "home" / "data")
    assert str(err.value) == f"{tmp_path / 'home' / 'data' / 'jobs.sqlite3'}: cannot open the job store (Read-only file system)"


def test_an_idle_pass_does_not_wait_on_a_store_another_process_holds(store, photos):
    """Each process's dispatcher asks for the next job twice a second; on an empty queue it took
    the write lock all the same, so it waited behind any other writer (up to the 30 s timeout)."""
    import sqlite3

    holder = sqlite3.connect(store.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")        # another process writing, for a long while
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            asked = pool.submit(store.claim_next, "me", 1, lambda job: ("parallax", "test", "cpu"))
            assert asked.result(timeout=3) is None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    job = store.submit(spec(photos[0])).job     # and with a job queued, it is claimed as before
    assert store.claim_next("me", 1, lambda job: ("parallax", "test", "cpu")).id == job.id


def test_the_end_of_a_job_is_recorded_although_the_store_stays_busy_a_while(store, photos, monkeypatch, caplog):
    """A store held by another process past its 30 s timeout just as a job ended left the job
    `running` for good (its device slot taken in every process) until a restart."""
    import contextlib
    import sqlite3

    job = store.submit(spec(photos[0])).job
    assert store.claim_next("me", 1, lambda job: ("parallax", "test", "cpu")).id == job.id
    real_write, refusals = store._write, [2]

    @contextlib.contextmanager
    def busy_twice():
        if refusals[0]:
            refusals[0] -= 1
            raise sqlite3.OperationalError("database is locked")
        with real_write() as conn:
            yield conn

    monkeypatch.setattr(store, "_write", busy_twice)
    ended = store.finish(job.id, "me", DONE, outputs=(p for p in ["/x/IMG.motion.mp4"]))
    assert ended is not None and ended.status == DONE and ended.outputs == ["/x/IMG.motion.mp4"]
    assert caplog.text.count("the job store is busy (database is locked); recording its end again") == 2


def test_a_job_without_a_seed_gets_one_when_queued_so_a_rerun_makes_the_same_takes(store, photos):
    """The seed was drawn when the job ran: a job finished after a restart (its first take already
    placed and recalled) drew another, so the recalled clip was listed under a seed that did not make
    it and the later takes did not follow on from it. A duplicate still finds the queued job."""
    job = store.submit(spec(photos[0], variants=3)).job
    seed = store.get(job.id).spec().request.seed
    assert seed is not None
    assert store.get(job.id).spec().request.seed == seed                   # read again, as after a restart
    assert not store.submit(spec(photos[0], variants=3)).created


@pytest.mark.parametrize("statuses", [["done"], ["failed", "canceled"]])
def test_listing_by_status_does_not_sort_the_whole_history(store, statuses):
    """A daemon left running for weeks keeps [jobs] retention_days of finished jobs (20,000 in a
    busy studio): `GET /v1/jobs?status=done&limit=10` sorted every done job (a temporary B-tree,
    80 ms at 16,000 and growing with the history) to answer ten."""
    import sqlite3
    where = ",".join("?" * len(statuses))
    with sqlite3.connect(store.db_path) as conn:
        plan = conn.execute(f"EXPLAIN QUERY PLAN SELECT * FROM jobs WHERE status IN ({where}) "
                            "ORDER BY seq DESC LIMIT ?", (*statuses, 10)).fetchall()
    details = " / ".join(row[-1] for row in plan)
    assert "SCAN jobs" not in details and "jobs_queue" not in details, details


def test_a_queued_job_says_its_place_in_the_queue(store, photos):
    """The 40th photo of a Lightroom batch said only 'queued', progress 0, eta null, for minutes."""
    watch = store.submit(spec(photos[0]), priority="watch").job
    batch = store.submit(spec(photos[1]), priority="batch").job
    inter = store.submit(spec(photos[2]), priority="interactive").job
    place = {job.id: job.to_dict()["queue_position"] for job in store.list()}
    assert place == {inter.id: 1, batch.id: 2, watch.id: 3}        # the order they will run in
    assert store.get(watch.id).to_dict()["queue_position"] == 3
    running = store.claim(inter.id, "me", "cpu", per_device=1)
    assert running.to_dict()["queue_position"] is None              # running: not in the queue
    assert store.get(batch.id).to_dict()["queue_position"] == 1     # next to start
    store.cancel(batch.id)
    assert store.get(batch.id).to_dict()["queue_position"] is None
    assert store.get(watch.id).to_dict()["queue_position"] == 1
