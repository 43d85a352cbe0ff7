"""GET /v1/jobs/{id} latency: idle vs while a 1080p parallax clip renders, in one run.

Starts a real `stillmotion serve` (STILLMOTION_HOME in a temp folder, default config),
polls a job record every --interval seconds from one keep-alive client with the daemon
idle (half the idle samples before each render, half after, so a machine that changes
pace during the run does not skew the baseline), and while a 1920x1080 parallax job
renders and encodes, --runs times, pooling the samples (the p99 of one run's thousand
idle samples swings by 2x between runs); prints p50 / p99 / max of each and the ratio.
Targets: p99 under load <= 20 ms and <= 3x idle.

    python bench/api_latency.py [--seconds 6] [--runs 3] [--interval 0.005] [--render-nice 10]
                                [--render-idle yes|no] [--isolation process]

`--isolation thread` renders inside the daemon process instead (the GIL then delays
requests: compare the two).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from stillmotion.api.client import DaemonClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daemon(home: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STILLMOTION")}
    env["STILLMOTION_HOME"] = str(home)
    with open(home / "daemon.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "stillmotion.cli", "serve", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("daemon did not start:\n" + (home / "daemon.log").read_text())


def photo_1080p(path: Path) -> Path:
    from skimage import data

    Image.fromarray(data.chelsea()).resize((1920, 1080), Image.LANCZOS).save(path, quality=92)
    return path


def poll(client: DaemonClient, job_id: str, interval: float, until) -> list[float]:
    """Latencies (ms) of GET /v1/jobs/{id}, one every `interval` s, until `until(record)` is true."""
    samples = []
    while True:
        t0 = time.perf_counter()
        record = client.job(job_id)
        samples.append((time.perf_counter() - t0) * 1000.0)
        if until(record, len(samples)):
            return samples
        time.sleep(max(0.0, interval - (time.perf_counter() - t0)))


def summary(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples)
    return {"n": len(arr), "p50": float(np.percentile(arr, 50)), "p99": float(np.percentile(arr, 99)),
            "max": float(arr.max()), "mean": statistics.fmean(samples)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="clip duration of the load job")
    parser.add_argument("--interval", type=float, default=0.005, help="seconds between polls")
    parser.add_argument("--idle-samples", type=int, default=1000, help="per run")
    parser.add_argument("--runs", type=int, default=3,
                        help="idle / render / idle rounds; their samples are pooled (one run is noisy)")
    parser.add_argument("--render-nice", type=int, default=10, help="[jobs] render_nice for this run")
    parser.add_argument("--render-idle", choices=("yes", "no"), default="yes",
                        help="[jobs] render_idle for this run (Linux SCHED_IDLE)")
    parser.add_argument("--isolation", choices=("process", "thread"), default="process",
                        help="[jobs] isolation for this run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="stillmotion-bench-") as tmp:
        home, photos = Path(tmp) / "home", Path(tmp) / "photos"
        home.mkdir()
        photos.mkdir()
        (home / "config.toml").write_text(
            f'[jobs]\nrender_nice = {args.render_nice}\nrender_idle = {"true" if args.render_idle == "yes" else "false"}\n'
            f'isolation = "{args.isolation}"\n', encoding="utf-8")
        photo = photo_1080p(photos / "IMG_1080.jpg")
        tiny = photos / "IMG_TINY.jpg"
        Image.open(photo).resize((96, 54)).save(tiny)
        port = free_port()
        daemon = start_daemon(home, port)
        try:
            token = (home / "data" / "token").read_text().strip()
            with DaemonClient(f"http://127.0.0.1:{port}", token) as client:
                done = client.submit(image_path=tiny, settings={"duration": 0.5, "fps": 8, "engine": "parallax"})
                poll(client, done["id"], 0.05, lambda r, n: r["status"] == "done")
                half = args.idle_samples // 2
                idle, load, renders, final = [], [], [], None
                for _ in range(args.runs):
                    idle += poll(client, done["id"], args.interval, lambda r, n: n >= half)
                    job = client.submit(image_path=photo, settings={"duration": args.seconds, "fps": 24,
                                                                    "engine": "parallax", "size": "1080p"})
                    poll(client, job["id"], 0.01, lambda r, n: r["status"] == "running")
                    started = time.monotonic()
                    load += poll(client, job["id"], args.interval, lambda r, n: r["status"] != "running")
                    renders.append(time.monotonic() - started)
                    final = client.job(job["id"])
                    if final["status"] != "done":
                        break
                    idle += poll(client, done["id"], args.interval, lambda r, n: n >= args.idle_samples - half)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)

    if final["status"] != "done":
        print(f"load job ended {final['status']}: {final['error']}")
        return 1
    i, l = summary(idle), summary(load)
    size = final["info"].get("size")
    print(f"GET /v1/jobs/{{id}} latency, one client polling every {args.interval * 1000:.0f} ms "
          f"(isolation={args.isolation}, render_nice={args.render_nice}, render_idle={args.render_idle}, "
          f"{os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f})")
    print(f"  idle:   n={i['n']:5d}  p50 {i['p50']:6.2f} ms  p99 {i['p99']:6.2f} ms  max {i['max']:6.2f} ms")
    print(f"  render: n={l['n']:5d}  p50 {l['p50']:6.2f} ms  p99 {l['p99']:6.2f} ms  max {l['max']:6.2f} ms"
          f"  ({size[0]}x{size[1]}, {args.seconds * 24:.0f} frames, {args.runs} renders of "
          f"{min(renders):.1f}-{max(renders):.1f} s)")
    ratio = l["p99"] / i["p99"]
    ok = l["p99"] <= 20.0 and ratio <= 3.0
    print(f"  p99 under load / idle = {ratio:.2f}x   target: <= 20 ms and <= 3x: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
