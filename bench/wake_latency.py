"""Why the API's p99 rises during a render on some machines: wake-up latency next to background work.

The daemon renders in SCHED_IDLE (jobs/priority.py), so a request preempts the
render at once. bench/api_latency.py still sees a 2-4 ms p99 during a render on
some virtual machines. This separates the causes without the daemon: a
normal-priority client and server (two processes) ping-pong one byte over a
socket pair, every 3 ms, while load of one kind runs, in one run:

  none          nothing else runs (the baseline)
  spin          a SCHED_IDLE busy loop per CPU (never sleeps)
  encode        a SCHED_IDLE libx264 1080p encode with its default threads (threads
                that sleep and wake many times a frame, as a render's encoder does)
  encode nice19 the same encode as a normal process at nice 19 instead
  encode 1 thr  the same encode on one thread (SCHED_IDLE)
  encode+spin   the encode, with a busy loop per CPU beside it

Measured on the 2-CPU development VM (a Firecracker guest: kernel
PREEMPT_NONE, HZ=250, `sched_vcpu_pack=15` and `haltpoll.guest_halt_poll_ns=0`
on its command line), 2026-12-05: p99 none 0.05-0.09 ms, spin 0.09 ms, encode
1.9-3.4 ms, encode nice19 2.5-3.6 ms, encode on one thread 0.06-0.08 ms,
encode+spin 0.9-1.7 ms; the max beside any multi-threaded encode is 5.4 ms in
every run (one 4 ms tick and a bit). The tail does not depend on the load's
priority (SCHED_IDLE, nice 10, nice 19, SCHED_BATCH alike), nor on idle CPUs
halting (waking an idle CPU is fast: `none`; guest halt-polling at the kernel's
default 200 us leaves encode's p99 at 1.9 ms), nor on the encode's memory churn
(reusing its buffers changes nothing). It comes with two CPUs both running
threads that keep sleeping and waking: a wake-up then sometimes waits for a
tick, as if the host ran both virtual CPUs on one core (what vCPU packing
does). Bare-metal machines have no such tail; the daemon cannot remove it
short of rendering on one thread (50% slower) or keeping CPUs busy with
spinners, which Stillmotion does not do.

    python bench/wake_latency.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import sys
import time

import numpy as np


def _idle_class() -> None:
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def _spin() -> None:
    _idle_class()
    while True:
        pass


def _encode(policy: str = "idle", threads: int = 0) -> None:
    import av

    if policy == "idle":
        _idle_class()
    else:
        os.nice(19)
    out = av.open(os.devnull, "w", format="mp4")
    stream = out.add_stream("libx264", rate=24)
    stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
    stream.options = {"crf": "18", "preset": "medium"}
    if threads:
        stream.codec_context.thread_count = threads
    base = (np.random.default_rng(0).random((1080, 1920, 3)) * 255).astype(np.uint8)
    shift = 0
    while True:   # a moving picture, so every frame is real work
        shift += 3
        frame = av.VideoFrame.from_ndarray(np.roll(base, shift, axis=1), format="rgb24")
        for packet in stream.encode(frame):
            out.mux(packet)


def _echo(sock: socket.socket) -> None:
    while data := sock.recv(16):
        sock.send(data)


def ping_pong(load: list[tuple], seconds: float) -> np.ndarray:
    """Round-trip times (ms) of one byte between two normal processes while `load` runs."""
    workers = [mp.Process(target=target, args=args, daemon=True) for target, args in load]
    for w in workers:
        w.start()
    client, server = socket.socketpair()
    echo = mp.Process(target=_echo, args=(server,), daemon=True)
    echo.start()
    try:
        time.sleep(1.0)   # let the load get going
        samples, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.003)
            t0 = time.perf_counter()
            client.send(b"x")
            client.recv(16)
            samples.append((time.perf_counter() - t0) * 1000.0)
        return np.asarray(samples)
    finally:
        client.close()
        for w in workers + [echo]:
            w.kill()
            w.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per kind of load")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        print("SCHED_IDLE is Linux only")
        return 2
    cpus = os.cpu_count() or 1
    spin, encode = [(_spin, ())] * cpus, [(_encode, ())]
    kinds = {"none": [], "spin": spin, "encode": encode, "encode nice19": [(_encode, ("nice19",))],
             "encode 1 thr": [(_encode, ("idle", 1))], "encode+spin": encode + spin}
    try:
        with open("/sys/module/haltpoll/parameters/guest_halt_poll_ns") as f:
            poll = f"guest halt poll {f.read().strip()} ns"
    except OSError:
        poll = "no guest halt-poll setting"
    print(f"one-byte round trip between two normal processes every 3 ms, beside background load "
          f"({cpus} CPUs, {poll})")
    base = None
    for name, load in kinds.items():
        rtt = ping_pong(load, args.seconds)
        p99 = float(np.percentile(rtt, 99))
        base = base or p99
        print(f"  {name:13} n={len(rtt):5d}  p50 {np.percentile(rtt, 50):6.3f} ms  p99 {p99:6.3f} ms  "
              f"max {rtt.max():6.2f} ms  p99 vs none {p99 / base:5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
