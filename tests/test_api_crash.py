"""A real `stillmotion serve` killed with SIGKILL mid-job: on restart the job finishes once.
Stopped with Ctrl-C mid-job: the job waits in the queue for the next start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from stillmotion.api.client import DaemonClient
from stillmotion.jobs.store import JobStore
from stillmotion.video.decode import probe

from support import save_photo, skimage_photo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daemon(home: Path, port: int, log: Path, *, first_on_path: Path | None = None) -> subprocess.Popen:
    """`stillmotion serve` for `home`; `first_on_path`: a folder of modules shadowing the real ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STILLMOTION")}
    env["STILLMOTION_HOME"] = str(home)
    if first_on_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(first_on_path), env.get("PYTHONPATH")]))
    with open(log, "ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "stillmotion.cli", "serve", "--port", str(port)],
                                env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("daemon did not start:\n" + log.read_text())


def daemon_setup(tmp_path: Path, name: str) -> tuple[Path, Path, Path, int, Path]:
    """(home with a fast config, the photos folder, a photo `name` in it, a free port, the log)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[output]\npreset = "ultrafast"\n[jobs]\nrender_nice = 0\nrender_idle = false\n',
                                      encoding="utf-8")
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = save_photo(photos / name, skimage_photo("chelsea"), (480, 320))
    return home, photos, photo, free_port(), tmp_path / "daemon.log"


def client_of(home: Path, port: int) -> DaemonClient:
    """A client of the daemon serving `home` on `port`, with the token it wrote."""
    return DaemonClient(f"http://127.0.0.1:{port}", (home / "data" / "token").read_text().strip())


def submit_under_way(client: DaemonClient, photo: Path, settings: dict) -> str:
    """A job for `photo`, submitted and waited for until it is rendering and its partial file
    exists beside the photo: its id."""
    job_id = client.submit(image_path=photo, settings=settings)["id"]
    photos = photo.parent
    deadline = time.monotonic() + 30
    while not (client.job(job_id)["progress"] > 0.15 and list(photos.glob(f".stillmotion-tmp-{job_id}-*"))):
        assert time.monotonic() < deadline, "job never got going"
        time.sleep(0.05)
    return job_id


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL semantics")
def test_kill_9_mid_job_then_restart_finishes_once_with_one_output(tmp_path):
    home, photos, photo, port, log = daemon_setup(tmp_path, "IMG_7.jpg")

    daemon = start_daemon(home, port, log)
    try:
        with client_of(home, port) as client:
            job_id = submit_under_way(client, photo, {"duration": 5, "fps": 24, "seed": 3})
        renderers = psutil.Process(daemon.pid).children(recursive=True)
        assert renderers, "the job should run in a render process"
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(10)
        # The render process dies with the daemon: nothing finishes the job behind our back.
        _, alive = psutil.wait_procs(renderers, timeout=10)
        assert alive == []
        partial = list(photos.glob(f".stillmotion-tmp-{job_id}-*"))
        assert partial, "the killed job should have left its partial file"
        assert list(photos.glob("*.motion*")) == []

        daemon = start_daemon(home, port, log)
        with client_of(home, port) as client:
            deadline = time.monotonic() + 60
            while (job := client.job(job_id))["status"] != "done":
                assert job["status"] in ("queued", "running"), job
                assert time.monotonic() < deadline, job
                time.sleep(0.1)
            assert job["attempts"] == 2
            assert len(client.jobs()) == 1
            # Ctrl-C in the terminal (SIGINT to the process group) while a job renders:
            # it goes back in the queue and nothing is left beside the photo.
            second = submit_under_way(client, photo, {"duration": 5, "fps": 24, "seed": 4})
        os.killpg(daemon.pid, signal.SIGINT)
        assert daemon.wait(30) == 0
        store = JobStore.open(home / "data")
        assert (store.get(second).status, store.get(second).attempts) == ("queued", 1)
        store.close()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)

    clip = photos / "IMG_7.motion.mp4"
    assert sorted(p.name for p in photos.iterdir()) == ["IMG_7.jpg", "IMG_7.motion.mp4", "IMG_7.motion.xmp"]
    assert job["outputs"][0] == str(clip)
    assert probe(clip).n_frames == 5 * 24


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sighup_mid_job_is_logged_and_ignored_and_the_job_finishes(tmp_path):
    """SIGHUP (`systemctl reload`, `kill -HUP`, the terminal closing: sent to the whole process
    group) killed the daemon at once, leaving the clip's partial file beside the photo and its
    job `running`. Now it is one log line; the job (in its render process) goes on."""
    home, photos, photo, port, log = daemon_setup(tmp_path, "IMG_8.jpg")

    daemon = start_daemon(home, port, log)
    try:
        with client_of(home, port) as client:
            job_id = submit_under_way(client, photo, {"duration": 3, "fps": 24})
            os.killpg(daemon.pid, signal.SIGHUP)
            deadline = time.monotonic() + 60
            while (job := client.job(job_id))["status"] != "done":
                assert job["status"] == "running", job
                assert time.monotonic() < deadline, job
                time.sleep(0.1)
        assert daemon.poll() is None
        assert "WARNING stillmotion.api.server: SIGHUP ignored: the daemon keeps running" in log.read_text()
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    assert sorted(p.name for p in photos.iterdir()) == ["IMG_8.jpg", "IMG_8.motion.mp4", "IMG_8.motion.xmp"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_second_ctrl_c_while_stopping_is_logged_and_the_stop_still_ends_cleanly(tmp_path):
    """Ctrl-C pressed twice: the second, while the running job was going back in the queue,
    made the daemon exit with status 1 and not a word. Now: status 0, a log line, the job queued,
    nothing left beside the photo."""
    home, photos, photo, port, log = daemon_setup(tmp_path, "IMG_9.jpg")

    daemon = start_daemon(home, port, log)
    try:
        with client_of(home, port) as client:
            job_id = submit_under_way(client, photo, {"duration": 5, "fps": 24})
        os.killpg(daemon.pid, signal.SIGINT)
        deadline = time.monotonic() + 0.2   # (at most: the job takes longer than that to stop)
        while "stopping:" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.005)
        os.killpg(daemon.pid, signal.SIGINT)
        assert daemon.wait(30) == 0, log.read_text()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)
    assert "INFO stillmotion.api.server: already stopping" in log.read_text()
    store = JobStore.open(home / "data")
    assert store.get(job_id).status == "queued"
    store.close()
    assert [p.name for p in photos.iterdir()] == ["IMG_9.jpg"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_stopping_while_the_device_probe_hangs_ends_it_and_answers_at_once(tmp_path):
    """A device probe that hangs (here torch's import; a GPU driver that never answers) held
    GET /v1/engines open, and with it the daemon's stop: two minutes (the probe's timeout)
    after Ctrl-C or SIGTERM. Now the probe's child is killed and reaped, the request answered
    503 with a message, and the daemon gone in a moment."""
    home, _, _, port, log = daemon_setup(tmp_path, "IMG_10.jpg")
    hanging = tmp_path / "hanging"
    (hanging / "torch").mkdir(parents=True)
    (hanging / "torch" / "__init__.py").write_text("import time\ntime.sleep(600)\n", encoding="utf-8")
    daemon = start_daemon(home, port, log, first_on_path=hanging)
    try:
        before = set(psutil.Process(daemon.pid).children())     # (its render process)
        with client_of(home, port) as client, ThreadPoolExecutor(1) as pool:
            engines = pool.submit(client.request, "GET", "/v1/engines")
            deadline = time.monotonic() + 30
            while not (probes := set(psutil.Process(daemon.pid).children()) - before):
                assert time.monotonic() < deadline and not engines.done(), "no device probe started"
                time.sleep(0.05)
            time.sleep(0.5)                                      # (it is importing torch: hung)
            assert not engines.done()
            asked = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(30) == 0, log.read_text()
            stopped_in = time.monotonic() - asked
            answer = engines.result(10)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)
    assert stopped_in < 5, log.read_text()
    assert answer.status == 503 and "stopping" in answer.body["error"]["message"]
    assert not any(probe.is_running() for probe in probes)      # (killed and reaped: no zombie either)


def test_a_port_already_taken_is_one_line_and_status_1(tmp_path):
    """A second `stillmotion serve` on a taken port (another daemon, a restart loop): one line
    naming the address, not also a "stopping: running jobs go back in the queue" it never had."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STILLMOTION")}
    env["STILLMOTION_HOME"] = str(home)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "stillmotion.cli", "serve", "--port", str(port)],
                              env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"stillmotion: error: cannot listen on 127.0.0.1:{port}: ") and "in use" in line.lower()
    # plain words and what to do: not asyncio's "error while attempting to bind on address
    # ('127.0.0.1', 8765)", and the way out (the daemon may be running already, or another port)
    assert "attempting" not in line and "('" not in line
    assert "already running" in line and "--port" in line and "[server] port" in line
