"""How long the worker takes to drain a queue of tiny jobs that is already full.

Queues N jobs (each its own 64x48 photo, {"duration": 0.5, "fps": 4}, watch priority)
in a fresh store (STILLMOTION_HOME in a temp folder, ultrafast x264), then starts one
Worker (default isolation: a render process) and times it until every job has ended.
Each job costs tens of milliseconds, so the figure is the dispatcher's overhead plus
N tiny renders; it also counts dispatcher passes and store notifications.

Baseline, same run (before each drain): the same N renders alone, `run_job` one after the
other in this process (no store, no worker, no render process; one render first, untimed,
for the imports). The ratio drain/baseline is what the worker adds to the renders.

    python bench/worker_drain.py [--jobs 200] [--runs 2] [--isolation process]

To compare with an older worker, run the same script against that checkout:
    git worktree add /tmp/old <commit> && PYTHONPATH=/tmp/old/server python bench/worker_drain.py
"""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from skimage import data as skdata

if TYPE_CHECKING:
    from stillmotion.request import AnimateRequest


def make_photos(folder: Path, count: int) -> list[Path]:
    base = skdata.astronaut()
    photos = []
    for i in range(count):
        out = io.BytesIO()
        Image.fromarray(np.roll(base, i * 3, axis=1)).resize((64, 48), Image.LANCZOS).save(out, "JPEG", quality=90)
        path = folder / f"IMG_{i:04d}.jpg"
        path.write_bytes(out.getvalue())
        photos.append(path)
    return photos


def fresh_home(tmp: Path, isolation: str) -> Path:
    """A STILLMOTION_HOME with this bench's config, set in the environment; the photos' folder."""
    home = tmp / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'[output]\npreset = "ultrafast"\n[jobs]\nisolation = "{isolation}"\n', encoding="utf-8")
    os.environ["STILLMOTION_HOME"] = str(home)
    photos_dir = tmp / "photos"
    photos_dir.mkdir()
    return photos_dir


def tiny_request() -> AnimateRequest:
    from stillmotion.request import AnimateRequest

    return AnimateRequest.from_dict({"duration": 0.5, "fps": 4})


def renders_once(count: int, isolation: str) -> float:
    """Seconds to render the same `count` jobs one after the other with run_job, in this process."""
    from stillmotion import config as config_mod
    from stillmotion.jobs.pipeline import JobSpec, run_job

    with tempfile.TemporaryDirectory(prefix="sm-drain-") as tmp:
        photos = make_photos(fresh_home(Path(tmp), isolation), count + 1)
        cfg = config_mod.load()
        run_job(JobSpec(photo_path=photos[0], request=tiny_request()), cfg)    # warm-up: imports
        started = time.monotonic()
        for photo in photos[1:]:
            run_job(JobSpec(photo_path=photo, request=tiny_request()), cfg)
        return time.monotonic() - started


def drain_once(count: int, isolation: str) -> tuple[float, float, int, int, float, float]:
    """(seconds to drain, CPU seconds of this process meanwhile (the worker's threads, not the
    render process), dispatcher passes, store notifications, mean seconds a job ran, mean
    seconds from one job's end to the next one's start) for one fresh queue."""
    from stillmotion import config as config_mod
    from stillmotion.jobs.pipeline import JobSpec
    from stillmotion.jobs.store import TERMINAL, JobStore
    from stillmotion.jobs.worker import Worker

    with tempfile.TemporaryDirectory(prefix="sm-drain-") as tmp:
        photos_dir = fresh_home(Path(tmp), isolation)
        cfg = config_mod.load()
        store = JobStore.open()
        request = tiny_request()
        for photo in make_photos(photos_dir, count):
            store.submit(JobSpec(photo_path=photo, request=request), priority="watch", source="watch")
        notifications = [0]
        store.add_listener(lambda _job_id: notifications.__setitem__(0, notifications[0] + 1))
        worker = Worker(store, cfg)
        passes = [0]
        dispatch = worker._dispatch

        def counted() -> None:
            passes[0] += 1
            dispatch()
        worker._dispatch = counted            # type: ignore[method-assign]
        # A plain COUNT on its own connection: watching must cost the worker next to nothing.
        watch = sqlite3.connect(store.db_path)
        ended_sql = f"SELECT COUNT(*) FROM jobs WHERE status IN ({','.join('?' * len(TERMINAL))})"
        started, cpu_started = time.monotonic(), time.process_time()
        worker.start()
        try:
            while watch.execute(ended_sql, TERMINAL).fetchone()[0] < count:
                time.sleep(0.05)
            elapsed, cpu = time.monotonic() - started, time.process_time() - cpu_started
            spans = watch.execute("SELECT started, finished FROM jobs ORDER BY started").fetchall()
        finally:
            worker.stop()
            watch.close()
            store.close()
        # Where the time went: inside jobs (claim -> finish) or between them (dispatch latency).
        running = statistics.mean(end - start for start, end in spans)
        gaps = [max(0.0, nxt[0] - cur[1]) for cur, nxt in zip(spans, spans[1:])]
        return elapsed, cpu, passes[0], notifications[0], running, statistics.mean(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--isolation", choices=("process", "thread"), default="process")
    args = parser.parse_args()
    import stillmotion

    print(f"stillmotion from {Path(stillmotion.__file__).parent}")
    times, ratios = [], []
    for run in range(args.runs):
        alone = renders_once(args.jobs, args.isolation)
        elapsed, cpu, passes, notes, running, gap = drain_once(args.jobs, args.isolation)
        times.append(elapsed)
        ratios.append(elapsed / alone)
        print(f"run {run + 1}: baseline: the {args.jobs} renders alone (run_job in a loop) {alone:.2f} s")
        print(f"run {run + 1}: {args.jobs} jobs drained in {elapsed:.2f} s ({args.jobs / elapsed:.1f} jobs/s), "
              f"worker process CPU {cpu:.2f} s; a job ran {running * 1000:.0f} ms, {gap * 1000:.1f} ms between "
              f"jobs; {passes} dispatcher passes, {notes} store notifications; ratio drain/baseline {ratios[-1]:.2f}")
    print(f"median {statistics.median(times):.2f} s for {args.jobs} jobs ({args.isolation} isolation), "
          f"{statistics.median(ratios):.2f}x the renders alone")


if __name__ == "__main__":
    main()
