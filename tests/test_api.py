"""The daemon as its clients see it: a real server on a free port, real jobs, real files."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import stat
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from PIL import Image
from aiohttp import web

from stillmotion import config as config_mod
from stillmotion.api.client import DaemonClient, DaemonError
from stillmotion.api.server import create_app
from stillmotion.jobs.store import JobStore
from stillmotion.progress import STAGES
from stillmotion.video.decode import probe

from support import save_photo, skimage_photo

TINY = {"duration": 0.5, "fps": 8}          # 4 frames: a whole job in a fraction of a second
LONG = {"duration": 30, "fps": 60}          # 1800 frames: runs until a test cancels it


class LiveServer:
    """create_app(config) served by a real aiohttp site in a background thread."""

    def __init__(self, config: config_mod.Config, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.app = create_app(config, data_dir=data_dir)
        self.runner = web.AppRunner(self.app)
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(30), "server did not start"
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = (data_dir / "token").read_text().strip()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]

        self.loop.run_until_complete(start())
        ready.set()
        self.loop.run_forever()

    def client(self, token: str | None = "default") -> DaemonClient:
        return DaemonClient(self.url, self.token if token == "default" else token, timeout=30)

    def request(self, method: str, path: str, token: str | None = "default", **kwargs: Any) -> Any:
        """One call on a fresh connection (any token, any headers)."""
        with self.client(token) as c:
            return c.request(method, path, **kwargs)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stillmotion-home")


@pytest.fixture(scope="module")
def allowed_dir(home: Path) -> Path:
    folder = home / "exports"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def server(home: Path, allowed_dir: Path) -> Iterator[LiveServer]:
    cfg_file = home / "config.toml"
    cfg_file.write_text(
        '[output]\npreset = "ultrafast"\n'
        f'allowed_dirs = ["{allowed_dir}"]\n'
        '[limits]\nmax_upload_mb = 1\n'
        '[jobs]\nrender_nice = 0\nrender_idle = false\n', encoding="utf-8")     # tests share a busy machine
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STILLMOTION_HOME", str(home))
        cfg = config_mod.load(cfg_file, environ={})
        live = LiveServer(cfg, home / "data")
        try:
            yield live
        finally:
            live.stop()


@pytest.fixture
def client(server: LiveServer) -> Iterator[DaemonClient]:
    c = server.client()
    yield c
    c.close()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    (tmp_path / "photos").mkdir()
    return save_photo(tmp_path / "photos" / "IMG_0001.jpg", skimage_photo("astronaut"), (96, 64), quality=92)


@pytest.fixture
def blocker(client: DaemonClient, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A long job that holds the (one) CPU slot until the test ends."""
    photo = save_photo(tmp_path / "BLOCK.jpg", skimage_photo("coffee"), (384, 256))
    job = client.submit(image_path=photo, settings={**LONG, "engine": "parallax"})
    wait_for(lambda: client.job(job["id"])["status"] == "running", 20)
    yield job
    client.cancel(job["id"])


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def wait_done(client: DaemonClient, job_id: str, timeout: float = 30) -> dict[str, Any]:
    return wait_for(lambda: (j := client.job(job_id))["status"] in ("done", "failed", "canceled") and j, timeout)


def temps_in(folder: Path) -> list[Path]:
    return sorted(folder.glob(".stillmotion-tmp-*"))


def huge_png(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A tiny file that declares a 900-megapixel image (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))
    return path


# ---------------------------------------------------------------- health, engines
def test_health_answers_status_only_without_a_token(server):
    reply = server.request("GET", "/v1/health", token=None)
    assert reply.status == 200 and reply.body == {"status": "ok"}
    with server.client() as c:
        full = c.health()
    assert full["status"] == "ok" and full["version"] and full["device"] == "cpu"
    assert "parallax" in full["engines"]
    assert server.request("GET", "/v1/health", token="wrong").status == 401


def test_engines_lists_statuses(client):
    engines = {e["name"]: e for e in client.engines()}
    assert engines["parallax"]["usable"] is True and engines["parallax"]["reason"]


# Run in a process of its own: this test module has imported the pipeline already.
_DAEMON_RUNS_A_JOB = """
import asyncio, json, sys, time
from pathlib import Path
from aiohttp import web
from stillmotion import config
from stillmotion.api.client import DaemonClient
from stillmotion.api.server import create_app

async def main(photo, data):
    runner = web.AppRunner(create_app(config.load(), data_dir=Path(data)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = "http://127.0.0.1:%d" % site._server.sockets[0].getsockname()[1]

    def one_job():
        with DaemonClient(url, (Path(data) / "token").read_text().strip(), timeout=30) as client:
            job = client.submit(image_path=photo, settings={"engine": "parallax", "duration": 0.5})
            deadline = time.monotonic() + 60
            while client.job(job["id"])["status"] in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.05)
            return client.job(job["id"])["status"]

    status = await asyncio.get_running_loop().run_in_executor(None, one_job)
    await runner.cleanup()
    heavy = ("stillmotion.jobs.pipeline", "av", "scipy", "skimage", "torch")
    print(json.dumps({"status": status, "imported": [m for m in heavy if m in sys.modules]}))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_the_daemon_renders_without_importing_the_pipeline_itself(photo, tmp_path):
    """The daemon renders in a child process, but its job store, API and watcher imported the
    whole pipeline (OpenCV, PyAV, SciPy) to name a job: `stillmotion serve` answered its
    first /v1/health ~0.45 s later than it needs to (1.37 s against 0.91 s here), which the
    plug-in waits through after starting it. The job still renders, in the child."""
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[jobs]\nrender_nice = 0\nrender_idle = false\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STILLMOTION")}
    env["STILLMOTION_HOME"] = str(home)
    done = subprocess.run([sys.executable, "-c", _DAEMON_RUNS_A_JOB, str(photo), str(home / "data")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"status": "done", "imported": []}


def test_the_python_client_finds_the_daemon_on_the_users_configured_port(server, tmp_path, monkeypatch):
    """docs/daemon.md's `DaemonClient.local()`: the port (and host) in the user's config, not 8765."""
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    (home / "data" / "token").write_text(server.token, encoding="ascii")
    (home / "config.toml").write_text(f'[server]\nhost = "0.0.0.0"\nport = {server.port}\n', encoding="utf-8")
    monkeypatch.setenv("STILLMOTION_HOME", str(home))
    with DaemonClient.local() as client:
        assert "version" in client.health()          # reached, on loopback, with the token

def test_token_file_is_private(home, server):
    mode = stat.S_IMODE((home / "data" / "token").stat().st_mode)
    assert mode == 0o600 and len(server.token) >= 32


def test_the_data_folder_is_private_from_its_first_start(home, server, tmp_path):
    """It holds the job store (every photo's path, prompt, develop settings) and the clips of
    uploaded photos, whose uploads are kept private: other accounts on the machine read both
    when it was made with the usual 0755. Made first by `serve` or by `watch` (the store)."""
    assert stat.S_IMODE((home / "data").stat().st_mode) == 0o700
    JobStore.open(tmp_path / "watch-first" / "data").close()
    assert stat.S_IMODE((tmp_path / "watch-first" / "data").stat().st_mode) == 0o700


# ---------------------------------------------------------------- whole jobs
def test_upload_lifecycle_result_beside_the_original(client, photo, home):
    original = photo.with_name("IMG_0001.dng")        # Lightroom sends the raw as the original
    original.write_bytes(b"raw")
    reply = client.request("POST", "/v1/jobs", fields={"original_path": str(original),
                                                       "settings": '{"duration": 0.5, "fps": 8, "seed": 5}',
                                                       "develop": '{"Exposure2012": 0.5}'},
                           files={"image": ("render.jpg", photo.read_bytes())})
    assert reply.status == 202, reply.body
    assert set(reply.body) == {"id", "status"} and reply.body["status"] in ("queued", "running")
    assert reply.headers["location"] == f"/v1/jobs/{reply.body['id']}"
    job = wait_done(client, reply.body["id"])
    assert job["status"] == "done", job
    clip = photo.parent / "IMG_0001.motion.mp4"
    assert clip.is_file() and str(clip) in job["outputs"]
    assert probe(clip).n_frames == 4 and job["progress"] == 1.0 and job["error"] is None
    assert job["engine"] == "parallax" and job["engine_reason"]
    assert temps_in(photo.parent) == []
    assert list((home / "data" / "uploads").iterdir()) == []     # the upload went with the job
    assert reply.body["id"] in [j["id"] for j in client.jobs()]


def test_upload_without_original_goes_to_the_data_folder(client, photo, home):
    job = wait_done(client, client.submit(image=photo, settings=TINY)["id"])
    assert job["status"] == "done"
    clip = Path(job["outputs"][0])
    assert clip.name == "IMG_0001.motion.mp4" and (home / "data" / "outputs") in clip.parents


def test_a_client_on_another_machine_downloads_the_clip_and_its_sidecar(client, photo, tmp_path, home):
    """An upload's clip is written into the daemon's data folder, which a remote client or a web
    page cannot read: GET /v1/jobs/{id}/outputs/{n} hands each output over (0: the clip)."""
    import unicodedata
    from urllib.parse import unquote

    named = tmp_path / "Café.jpg"
    named.write_bytes(photo.read_bytes())
    job = wait_done(client, client.submit(image=named, settings=TINY)["id"])
    clip, sidecar = (Path(p) for p in job["outputs"])
    reply = client.request("GET", f"/v1/jobs/{job['id']}/outputs/0")
    assert reply.status == 200 and reply.raw == clip.read_bytes()
    assert reply.headers["content-type"] == "video/mp4"
    disposition = reply.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Caf_.motion.mp4"')
    assert unicodedata.normalize("NFC", unquote(disposition.split("UTF-8''")[1])) == "Café.motion.mp4"
    assert client.request("GET", f"/v1/jobs/{job['id']}/outputs/1").raw == sidecar.read_bytes()
    for index in ("2", "-1", "x"):
        missing = client.request("GET", f"/v1/jobs/{job['id']}/outputs/{index}")
        assert missing.status == 404 and missing.body["error"]["code"] == "not_found", missing.body
        assert "0, 1" in missing.body["error"]["message"]
    assert client.request("GET", "/v1/jobs/nosuchjob/outputs/0").status == 404
    assert client.request("GET", f"/v1/jobs/{job['id']}/outputs/0", auth=False).status == 401
    clip.unlink()
    gone = client.request("GET", f"/v1/jobs/{job['id']}/outputs/0")
    assert gone.status == 404 and "no longer on disk" in gone.body["error"]["message"]


def test_an_uploads_clip_keeps_its_non_ascii_name(client, photo, tmp_path, home):
    """The clip is named after the client's file name: letters of any script stay (a name from
    macOS, decomposed, comes out composed); what could leave the folder does not."""
    import unicodedata

    named = tmp_path / unicodedata.normalize("NFD", "Café à Paris 写真.jpg")
    named.write_bytes(photo.read_bytes())
    job = wait_done(client, client.submit(image=named, settings=TINY)["id"])
    assert Path(job["outputs"][0]).name == "Café à Paris 写真.motion.mp4", job


def test_image_path_job_streams_events_in_order_ending_in_done(client, photo):
    job = client.submit(image_path=photo, settings={"duration": 2, "fps": 24})
    events = list(client.events(job["id"]))
    statuses = [e["status"] for e in events]
    assert statuses[-1] == "done" and statuses.count("done") == 1
    order = ["queued", "running", "done"]
    assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses)
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 1.0
    stage_order = list(STAGES)
    stages = [stage_order.index(e["stage"]) for e in events if e["stage"] in STAGES]
    assert stages == sorted(stages) and len(set(stages)) >= 3       # prepare .. place, in order
    assert len(events) >= 4
    assert (photo.parent / "IMG_0001.motion.mp4").is_file()


def test_the_python_client_takes_a_relative_image_path_from_its_working_folder(client, photo, monkeypatch):
    """docs/daemon.md: relative paths are taken from the submitting script's working folder;
    `client.submit(image_path="IMG_0001.jpg")` got 400 "image_path must be an absolute path"."""
    monkeypatch.chdir(photo.parent)
    job = wait_done(client, client.submit(image_path=photo.name, original_path=photo.name, settings=TINY)["id"])
    assert job["status"] == "done" and job["outputs"][0] == str(photo.parent / "IMG_0001.motion.mp4"), job


def test_twenty_concurrent_submissions_all_finish(server, tmp_path):
    photos = [save_photo(tmp_path / f"P{i:02d}.jpg", skimage_photo(["astronaut", "chelsea", "coffee"][i % 3]),
                         (96, 64)) for i in range(20)]

    def submit(i: int) -> str:
        with server.client() as c:
            if i % 2:
                return c.submit(image=photos[i], original_path=photos[i], settings={**TINY, "seed": i})["id"]
            return c.submit(image_path=photos[i], settings={**TINY, "seed": i})["id"]

    with ThreadPoolExecutor(20) as pool:
        ids = list(pool.map(submit, range(20)))
    assert len(set(ids)) == 20
    with server.client() as c:
        jobs = [wait_done(c, job_id, timeout=60) for job_id in ids]
    assert [j["status"] for j in jobs] == ["done"] * 20, [j["error"] for j in jobs if j["error"]]
    for i, job in enumerate(jobs):
        assert job["outputs"][0] == str(tmp_path / f"P{i:02d}.motion.mp4")
    assert sorted(p.name for p in tmp_path.glob("*.motion.mp4")) == [f"P{i:02d}.motion.mp4" for i in range(20)]


# ---------------------------------------------------------------- duplicates, cancel
def test_retries_never_make_two_clips(client, blocker, photo):
    first = client.submit(image_path=photo, settings=TINY, idempotency_key="lr-42")
    retry = client.request("POST", "/v1/jobs", fields={"image_path": str(photo), "settings": '{"duration": 0.5, "fps": 8}'},
                           headers={"Idempotency-Key": "lr-42"})
    assert retry.status == 202 and retry.body["id"] == first["id"]
    assert retry.headers.get("idempotent-replayed") == "true"
    # Same image + settings + original while the first is queued: the same job, even without a key.
    assert client.submit(image=photo, original_path=photo, settings=TINY)["id"] == first["id"]
    # Different settings are a different job; a key reused for another request is refused.
    other = client.submit(image_path=photo, settings={**TINY, "seed": 9})
    assert other["id"] != first["id"]
    conflict = client.request("POST", "/v1/jobs", fields={"image_path": str(photo), "settings": '{"seed": 1}'},
                              headers={"Idempotency-Key": "lr-42"})
    assert conflict.status == 409 and conflict.body["error"]["code"] == "idempotency_conflict"
    for job_id in (first["id"], other["id"]):
        client.cancel(job_id)


def test_cancel_queued_then_running_leaves_nothing_behind(client, blocker, photo, tmp_path):
    queued = client.submit(image_path=photo, settings=TINY)
    assert client.job(queued["id"])["status"] == "queued"
    assert client.cancel(queued["id"])["status"] == "canceled"

    running = wait_for(lambda: (j := client.job(blocker["id"]))["progress"] > 0.1 and j, 20)
    assert running["status"] == "running"
    started = time.monotonic()
    answer = client.cancel(blocker["id"])
    assert answer["status"] == "canceled" and time.monotonic() - started < 1.0
    assert temps_in(tmp_path) == [] and list(tmp_path.glob("*.motion*")) == []
    assert temps_in(photo.parent) == [] and list(photo.parent.glob("*.motion*")) == []
    assert client.job(queued["id"])["status"] == "canceled"       # and it never ran
    assert client.request("DELETE", "/v1/jobs/nope").status == 404


def test_a_cancelled_upload_leaves_no_empty_folder_in_the_data_folder(client, photo, home, caplog):
    """An upload without an original renders into a folder of its own under data/outputs; a
    cancel before anything was placed left that folder behind, empty, one per cancelled job.
    The cancel is in the daemon's log, as a job done or failed is (it said nothing)."""
    caplog.set_level(logging.INFO, logger="stillmotion")
    outputs = home / "data" / "outputs"
    before = set(outputs.iterdir()) if outputs.is_dir() else set()
    job = client.submit(image=photo, settings=LONG)
    wait_for(lambda: client.job(job["id"])["progress"] > 0.1, 20)
    made = set(outputs.iterdir()) - before
    assert len(made) == 1 and next(iter(made)).is_dir()      # (the job's folder, clips to come)
    assert client.cancel(job["id"])["status"] == "canceled"
    wait_for(lambda: not (set(outputs.iterdir()) - before), 10)
    wait_for(lambda: any(r.getMessage().startswith(f"job {job['id']} (") and r.getMessage().endswith("): cancelled")
                         for r in caplog.records), 5)


# ---------------------------------------------------------------- front door
def test_token_host_and_origin_refusals(server, client):
    def get(path: str = "/v1/jobs", token: str | None = "default", **headers: str) -> Any:
        return server.request("GET", path, token, headers=headers)

    assert get(token=None).status == 401
    wrong = get(token="not-the-token")
    assert wrong.status == 401 and wrong.body["error"]["code"] == "unauthorized"
    assert "bearer" in wrong.headers["www-authenticate"].lower()
    # DNS rebinding: a foreign name resolving to 127.0.0.1 still sends its own Host.
    assert get(Host="evil.example:8765").body["error"]["code"] == "forbidden_host"
    assert get("/v1/health", token=None, Host="evil.example").status == 403
    assert get(Host=f"localhost:{server.port}").status == 200
    assert get(Host=f"[::1]:{server.port}").status == 200
    # Browsers: another site's page, a sandboxed page (null), a no-Origin cross-site fetch.
    assert get(Origin="http://evil.example").status == 403
    assert get(Origin="null").status == 403
    assert get(**{"Sec-Fetch-Site": "cross-site"}).status == 403
    assert get(Origin=f"http://127.0.0.1:{server.port}").status == 200    # the daemon's own origin
    preflight = server.request("OPTIONS", "/v1/jobs", None, headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status == 403
    for reply in (preflight, get(), get(Origin=f"http://127.0.0.1:{server.port}")):
        assert not any(h.startswith("access-control-") for h in reply.headers)


def test_listing_jobs_keeps_the_daemon_answering_others(server, monkeypatch):
    """GET /v1/jobs?limit=1000 reads and serialises megabytes (~150 ms on a small machine): not
    on the event loop, where every progress poll and event stream would wait behind it."""
    from stillmotion.api.state import STORE

    store = server.app[STORE]
    listing = store.list
    listing_started, health_answered = threading.Event(), threading.Event()
    answered_meanwhile: list[bool] = []

    def slow_list(*args: Any, **kwargs: Any) -> Any:
        # A big listing on a slow disk: it lasts until /v1/health is answered (or 5 s, if never).
        listing_started.set()
        answered_meanwhile.append(health_answered.wait(5))
        return listing(*args, **kwargs)

    monkeypatch.setattr(store, "list", slow_list)
    with ThreadPoolExecutor(1) as pool:
        listed = pool.submit(server.request, "GET", "/v1/jobs?limit=1000")
        assert listing_started.wait(10)
        assert server.request("GET", "/v1/health").status == 200
        health_answered.set()
        assert listed.result(10).status == 200
    assert answered_meanwhile == [True], "/v1/health waited for the listing to end"
    assert server.request("GET", "/v1/jobs?status=bogus").body["error"]["code"] == "bad_input"

def test_a_job_list_cut_at_its_limit_says_how_many_there_are(server, tmp_path):
    """A batch of 400 queued: ?status=queued listed the newest 100 and nothing said there were more."""
    from stillmotion.api.state import STORE
    from stillmotion.jobs.pipeline import JobSpec
    from stillmotion.request import AnimateRequest

    store = server.app[STORE]
    before = server.request("GET", "/v1/jobs?limit=1").body["total"]     # (the daemon is the module's)
    for n in range(3):
        photo = save_photo(tmp_path / f"IMG_{n}.jpg", skimage_photo("astronaut"), (96, 64))
        store.submit(JobSpec(photo_path=photo, request=AnimateRequest.from_dict(TINY)), priority="batch")
    listed = server.request("GET", "/v1/jobs?limit=2").body
    assert len(listed["jobs"]) == 2 and listed["total"] == before + 3
    listed = server.request("GET", "/v1/jobs?status=queued,running,done&limit=1").body
    assert len(listed["jobs"]) == 1 and listed["total"] == len(store.list(["queued", "running", "done"], limit=1000))


def test_headers_that_are_not_utf8_are_refused_not_a_500(server, photo):
    import socket

    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \xff\xfe\xc3\r\n"
                     b"Connection: close\r\n\r\n")
        sock.settimeout(10)
        assert sock.recv(100).startswith(b"HTTP/1.1 401 ")
    body = (b'--XX\r\nContent-Disposition: form-data; name="image_path"\r\n\r\n' + str(photo).encode()
            + b"\r\n--XX--\r\n")
    with socket.create_connection(("127.0.0.1", server.port)) as sock:    # an Idempotency-Key: 400
        sock.sendall(f"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
                     f"Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: {len(body)}\r\n"
                     "Connection: close\r\nIdempotency-Key: ".encode() + b"\xff\xfe\r\n\r\n" + body)
        sock.settimeout(10)
        assert sock.recv(100).startswith(b"HTTP/1.1 400 ")

def test_a_web_ui_in_allowed_origins_can_call_the_api_from_its_page(tmp_path, photo):
    """[server] allowed_origins = ["http://localhost:3000"]: that page's fetches (cross-site,
    the token sent by its script) pass the browser's preflight and can read every answer."""
    ui = "http://localhost:3000"
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(f'[server]\nallowed_origins = ["{ui}/"]\n[jobs]\nrender_nice = 0\nrender_idle = false\n',
                        encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STILLMOTION_HOME", str(tmp_path / "home"))
        live = LiveServer(config_mod.load(cfg_file, environ={}), tmp_path / "home" / "data")
    browser = {"Origin": ui, "Sec-Fetch-Site": "cross-site"}
    try:
        preflight = live.request("OPTIONS", "/v1/jobs", None, headers={
            **browser, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,idempotency-key"})
        assert preflight.status == 204
        assert preflight.headers["access-control-allow-origin"] == ui
        assert "POST" in preflight.headers["access-control-allow-methods"]
        allowed_headers = preflight.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed_headers and "idempotency-key" in allowed_headers

        sent = live.request("POST", "/v1/jobs", headers=browser,
                            fields={"image_path": str(photo), "settings": json.dumps({**TINY, "engine": "parallax"})})
        assert sent.status == 202 and sent.headers["access-control-allow-origin"] == ui
        assert "location" in sent.headers["access-control-expose-headers"].lower()
        with live.client() as c:
            assert wait_done(c, sent.body["id"])["status"] == "done"
        refused = live.request("GET", "/v1/jobs", "not-the-token", headers=browser)
        assert refused.status == 401 and refused.headers["access-control-allow-origin"] == ui   # readable
        # Any other page is still refused, and told nothing.
        for reply in (live.request("GET", "/v1/jobs", headers={"Origin": "http://evil.example"}),
                      live.request("OPTIONS", "/v1/jobs", None, headers={
                          "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})):
            assert reply.status == 403
            assert not any(h.startswith("access-control-") for h in reply.headers)
    finally:
        live.stop()


def test_stopping_the_daemon_ends_event_streams_and_interrupts_the_watched_job(tmp_path, photo):
    """Ctrl-C while a client follows a job's events: the daemon stops within seconds and the
    job waits in the queue (the open stream held it, rendering, for two minutes); the client
    is told the stream ended early, not handed a 'running' job as if it were the end."""
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text('[jobs]\nrender_nice = 0\nrender_idle = false\n', encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STILLMOTION_HOME", str(tmp_path / "home"))
        live = LiveServer(config_mod.load(cfg_file, environ={}), tmp_path / "home" / "data")
    with live.client() as c:
        job = c.submit(image_path=photo, settings={**LONG, "engine": "parallax", "size": "1080p"})   # minutes
        wait_for(lambda: c.job(job["id"])["status"] == "running", 20)
    with ThreadPoolExecutor(1) as pool:
        def follow() -> list[dict[str, Any]]:
            seen: list[dict[str, Any]] = []
            with live.client() as c:
                for state in c.events(job["id"]):
                    seen.append(state)
            return seen
        following = pool.submit(follow)
        time.sleep(0.5)
        started = time.monotonic()
        live.stop()
        assert time.monotonic() - started < 15
        with pytest.raises(DaemonError) as ended:
            following.result(10)
    assert ended.value.code == "stream_ended"
    store = JobStore.open(tmp_path / "home" / "data")
    try:
        assert store.get(job["id"]).status == "queued"
    finally:
        store.close()

def test_size_and_pixel_limits(client, tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(os.urandom(3 * 2**20))                # over max_upload_mb = 1
    too_big = client.request("POST", "/v1/jobs", files={"image": ("big.jpg", big.read_bytes())})
    assert too_big.status == 413 and too_big.body["error"]["code"] == "payload_too_large"
    bomb = huge_png(tmp_path / "bomb.png")
    for reply in (client.request("POST", "/v1/jobs", files={"image": ("bomb.png", bomb.read_bytes())}),
                  client.request("POST", "/v1/jobs", fields={"image_path": str(bomb)})):
        assert reply.status == 422 and reply.body["error"]["code"] == "too_large", reply.body
    not_image = client.request("POST", "/v1/jobs", files={"image": ("x.jpg", b"not an image at all")})
    assert not_image.status == 400 and not_image.body["error"]["message"]
    # A raw file (TIFF inside, so Pillow would open its thumbnail): refused, saying what to send.
    buffer = io.BytesIO()
    Image.new("RGB", (160, 120), (90, 120, 160)).save(buffer, format="TIFF")
    raw = client.request("POST", "/v1/jobs", files={"image": ("DSC_0001.NEF", buffer.getvalue())})
    assert raw.status == 400 and "DSC_0001.NEF: a camera raw file" in raw.body["error"]["message"], raw.body
    on_disk = tmp_path / "DSC_0001.NEF"
    on_disk.write_bytes(buffer.getvalue())
    raw = client.request("POST", "/v1/jobs", fields={"image_path": str(on_disk)})
    assert raw.status == 400 and raw.body["error"]["message"].startswith("image_path: DSC_0001.NEF: a camera raw file")
    # A shoot's folder: said as such, not "not an image file (Shoot); expected one of .heic, ...".
    folder = client.request("POST", "/v1/jobs", fields={"image_path": str(tmp_path)})
    assert folder.status == 400 and folder.body["error"]["message"] == (
        f"image_path is a folder, not a photo: {tmp_path}; submit each photo in it as its own job")


def test_an_avif_or_jpeg_xl_photo_is_named_as_such_not_called_no_image(client, tmp_path):
    """Lightroom's HDR exports (AVIF, JPEG XL) named by path were "not an image file (HDR.avif);
    expected one of .heic, ...": it is an image, of a format Stillmotion does not read."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 160)).save(buffer, format="AVIF")
    for name, kind in (("HDR_0001.avif", "AVIF"), ("HDR_0002.jxl", "JPEG XL")):
        on_disk = tmp_path / name
        on_disk.write_bytes(buffer.getvalue() if kind == "AVIF" else b"\xff\x0a jxl codestream")
        reply = client.request("POST", "/v1/jobs", fields={"image_path": str(on_disk)})
        assert reply.status == 400 and reply.body["error"]["message"] == (
            f"image_path: {name}: {kind} is not supported (JPEG, PNG, TIFF, WebP or HEIF expected)"), reply.body
        upload = client.request("POST", "/v1/jobs", files={"image": (name, on_disk.read_bytes())})
        assert upload.status == 400 and upload.body["error"]["message"] == (
            f"{name}: {kind} is not supported (JPEG, PNG, TIFF, WebP or HEIF expected)"), upload.body


def test_damaged_inputs_are_refused_at_submission_not_in_a_failed_job(client, photo, tmp_path, home):
    """A truncated photo or a broken sidecar the client sent is a 400 that names it, at once:
    nothing is queued, no upload is kept, and the daemon goes on taking work."""
    whole = photo.read_bytes()
    cut = tmp_path / "IMG_0001_cut.jpg"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    broken_xmp = tmp_path / "IMG_0001.xmp"
    broken_xmp.write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf="
                          "'http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description>", encoding="utf-8")
    with Image.open(photo) as im:   # a profile littleCMS cannot read: the job failed on it, later
        bad_profile = io.BytesIO()
        im.save(bad_profile, "JPEG", icc_profile=b"not a colour profile" * 8)
    bomb_xmp = tmp_path / "bomb.xmp"
    bomb_xmp.write_text('<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', encoding="utf-8")
    uploads = home / "data" / "uploads"
    jobs_before, uploads_before = len(client.jobs()), set(uploads.iterdir()) if uploads.exists() else set()
    refusals = {
        "truncated upload": (client.request("POST", "/v1/jobs", files={"image": ("IMG_0001.jpg", cut.read_bytes())}),
                             "IMG_0001.jpg", "truncated"),
        "truncated local": (client.request("POST", "/v1/jobs", fields={"image_path": str(cut)}),
                            cut.name, "truncated"),
        "malformed sidecar": (client.request("POST", "/v1/jobs", fields={"image_path": str(photo)},
                                             files={"xmp": ("IMG_0001.xmp", broken_xmp.read_bytes())}),
                              "IMG_0001.xmp", "malformed"),
        "unreadable colour profile": (client.request("POST", "/v1/jobs", files={
            "image": ("IMG_0002.jpg", bad_profile.getvalue())}), "IMG_0002.jpg", "ICC profile cannot be read"),
        "entity sidecar": (client.request("POST", "/v1/jobs", fields={"image_path": str(photo)},
                                          files={"xmp": ("bomb.xmp", bomb_xmp.read_bytes())}),
                           "bomb.xmp", "DOCTYPE"),
    }
    for what, (reply, name, reason) in refusals.items():
        assert reply.status == 400 and reply.body["error"]["code"] == "bad_input", (what, reply.body)
        message = reply.body["error"]["message"]
        assert name in message and reason in message and "uploads" not in message, (what, message)
    assert len(client.jobs()) == jobs_before
    assert (set(uploads.iterdir()) if uploads.exists() else set()) == uploads_before
    ok = client.submit(image_path=photo, settings=TINY)
    assert wait_done(client, ok["id"])["status"] == "done"


def test_paths_are_checked(client, photo, tmp_path, allowed_dir):
    def submit(**fields: str) -> Any:
        return client.request("POST", "/v1/jobs", fields={"image_path": str(photo), "settings": '{"duration": 0.5}',
                                                          **fields})

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    secret = elsewhere / "secret.jpg"
    secret.write_bytes(photo.read_bytes())
    (photo.parent / "link.jpg").symlink_to(secret)
    (photo.parent / "notes.txt").write_text("not a photo")
    (photo.parent / "sneaky.jpg").symlink_to(photo.parent / "notes.txt")
    (allowed_dir / "escape").symlink_to(elsewhere)
    (allowed_dir / "taken").write_text("a file, not a folder")
    jobs_before = len(client.jobs())
    refusals = {
        "relative": (submit(original_path="IMG_0001.jpg"), 400),
        "dotdot": (submit(original_path=f"{photo.parent}/../{photo.parent.name}/IMG_0001.jpg"), 400),
        "missing": (submit(original_path=str(photo.with_name("gone.jpg"))), 400),
        "not an image": (submit(original_path=str(photo.parent / "notes.txt")), 400),
        "image named .jpg that is not": (submit(original_path=str(photo.parent / "sneaky.jpg")), 400),
        "symlink out of its folder": (submit(original_path=str(photo.parent / "link.jpg")), 403),
        "image_path not an image": (client.request("POST", "/v1/jobs", fields={"image_path": "/etc/passwd"}), 400),
        "out_dir outside": (submit(settings='{"out_dir": "' + str(elsewhere) + '"}'), 403),
        "out_dir symlink out": (submit(settings='{"out_dir": "' + str(allowed_dir / "escape") + '"}'), 403),
        "out_dir dotdot": (submit(settings='{"out_dir": "' + str(allowed_dir) + '/../x"}'), 400),
        "both image and path": (client.request("POST", "/v1/jobs", fields={"image_path": str(photo)},
                                               files={"image": ("a.jpg", photo.read_bytes())}), 400),
        "bad settings": (submit(settings='{"fps": 1000}'), 400),
        "unknown setting": (submit(settings='{"sharpness": 3}'), 400),
        "settings not json": (submit(settings="{oops"), 400),
        # JSON nested past Python's recursion limit was a 500 'internal error'.
        "settings nested too deep": (submit(settings='{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"), 400),
        "develop nested too deep": (submit(develop='{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"), 400),
        "unknown field": (submit(colour="red"), 400),
        # What would only fail the job once it ran: refused before anything is queued.
        "out_dir a file": (submit(settings='{"out_dir": "' + str(allowed_dir / "taken") + '"}'), 400),
        "unknown model": (submit(settings='{"model": "nonexistent-model"}'), 400),
        "model not on disk": (submit(settings='{"engine": "svd"}'), 503),
        # Names longer than the file system allows (255 bytes a name) were a 500.
        "image_path name too long": (client.request("POST", "/v1/jobs", fields={
            "image_path": str(photo.parent / ("a" * 300 + ".jpg"))}), 400),
        "original_path name too long": (submit(original_path=str(photo.parent / ("a" * 300 + ".CR3"))), 400),
        "out_dir name too long": (submit(settings='{"out_dir": "' + "b" * 300 + '"}'), 400),
        "model name too long": (submit(settings='{"model": "' + "m" * 300 + '"}'), 400),
        # A lone surrogate escape is valid JSON but no path or text: was a 500.
        "out_dir a lone surrogate": (submit(settings='{"out_dir": "clips\\ud800"}'), 400),
        "prompt a lone surrogate": (submit(settings='{"prompt": "sky\\udfff"}'), 400),
        "develop a lone surrogate": (submit(develop='{"Look": "\\ud800"}'), 400),
        "analyze name too long": (client.request("POST", "/v1/analyze", fields={
            "image_path": str(photo.parent / ("a" * 300 + ".jpg"))}), 400),
    }
    for what, (reply, status) in refusals.items():
        assert reply.status == status, (what, reply.body)
        assert set(reply.body["error"]) == {"code", "message"} and reply.body["error"]["message"], what
    assert "not a folder" in refusals["out_dir a file"][0].body["error"]["message"]
    # A folder or a pipe under an image's name was "no such file", which it plainly is not.
    (photo.parent / "folder.jpg").mkdir()
    os.mkfifo(photo.parent / "pipe.jpg")
    for name, says in (("folder.jpg", "image_path is a folder, not a photo"),
                       ("pipe.jpg", "image_path: not a regular file")):
        reply = client.request("POST", "/v1/jobs", fields={"image_path": str(photo.parent / name)})
        assert reply.status == 400 and reply.body["error"]["message"].startswith(says), reply.body
    assert "stillmotion models pull" in refusals["model not on disk"][0].body["error"]["message"]
    assert len(client.jobs()) == jobs_before and list(elsewhere.glob("*.motion*")) == []
    # Allowed: a configured output folder (and a subfolder of it).
    ok = client.submit(image_path=photo, settings={**TINY, "out_dir": str(allowed_dir / "clips")})
    job = wait_done(client, ok["id"])
    assert job["status"] == "done" and Path(job["outputs"][0]).parent == allowed_dir / "clips"


def test_errors_are_json_everywhere(client):
    for method, path, status in (("GET", "/v1/jobs/0123456789abcdef", 404), ("GET", "/v1/nothing", 404),
                                 ("PUT", "/v1/jobs", 405), ("GET", "/v1/jobs?limit=x", 400),
                                 ("GET", "/v1/jobs?limit=0", 400), ("GET", "/v1/jobs?limit=5000", 400),
                                 ("GET", "/v1/jobs?status=sleeping", 400)):
        reply = client.request(method, path)
        assert reply.status == status and set(reply.body["error"]) == {"code", "message"}, (method, path)
        if "?" in path:   # a query's value, as docs/daemon.md says of a field's value
            assert reply.body["error"]["code"] == "bad_input", (path, reply.body)
    not_multipart = client.request("POST", "/v1/jobs", headers={"Content-Type": "application/json"})
    assert not_multipart.status == 415


def test_malformed_multipart_is_a_400_not_a_crash(server, client):
    """Bodies a hand-written client gets wrong: each a 400 that says what, the daemon unharmed."""
    import http.client

    def raw(content_type: str, body: bytes, path: str = "/v1/jobs") -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", path, body=body, headers={"Authorization": f"Bearer {server.token}",
                                                       "Content-Type": content_type})
        reply = conn.getresponse()
        status, payload = reply.status, json.loads(reply.read() or b"{}")
        conn.close()
        return status, payload

    part = b'--xyz\r\nContent-Disposition: form-data; name="image"'
    cases = {
        "no boundary": ("multipart/form-data", b"garbage", "malformed"),
        "cut short": ("multipart/form-data; boundary=xyz", part + b'; filename="a.jpg"\r\n\r\nabc', "malformed"),
        "image as text": ("multipart/form-data; boundary=xyz", part + b"\r\n\r\nabc\r\n--xyz--\r\n",
                          "'image' must be sent as a file"),
        # A part's own headers broken: aiohttp raises its HTTP parser's errors (were 500s).
        "part header without a colon": ("multipart/form-data; boundary=xyz",
                                        b"--xyz\r\nNoColon\r\n\r\nabc\r\n--xyz--\r\n", "malformed"),
        "part header line too long": ("multipart/form-data; boundary=xyz",
                                      part + b"\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\nabc\r\n--xyz--\r\n",
                                      "malformed"),
        "too many part headers": ("multipart/form-data; boundary=xyz",
                                  part + b"\r\n" + b"X-H: a\r\n" * 200 + b"\r\nabc\r\n--xyz--\r\n", "malformed"),
        "a '_charset_' that is no charset": ("multipart/form-data; boundary=xyz",
                                             b'--xyz\r\nContent-Disposition: form-data; name="_charset_"\r\n\r\n'
                                             + b"a" * 40 + b"\r\n--xyz--\r\n", "malformed"),
    }
    for what, (content_type, body, needle) in cases.items():
        for path in ("/v1/jobs", "/v1/analyze"):
            status, payload = raw(content_type, body, path)
            assert status == 400 and needle in payload["error"]["message"], (what, path, payload)
    assert client.request("GET", "/v1/health").status == 200


def test_a_body_that_is_not_what_its_content_encoding_says_is_a_400(server, client, caplog):
    """`Content-Encoding: gzip` (or deflate) on a plain multipart body: a 400 that says the body
    is malformed (was a 500 "internal error"), and one line in the log, not aiohttp's ERROR
    with a traceback."""
    import http.client

    caplog.set_level(logging.INFO)

    body = b'--xyz\r\nContent-Disposition: form-data; name="image_path"\r\n\r\n/x.jpg\r\n--xyz--\r\n'
    for encoding in ("gzip", "deflate"):
        for path in ("/v1/jobs", "/v1/analyze"):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("POST", path, body=body, headers={
                "Authorization": f"Bearer {server.token}", "Content-Encoding": encoding,
                "Content-Type": "multipart/form-data; boundary=xyz"})
            reply = conn.getresponse()
            status, payload = reply.status, json.loads(reply.read())
            conn.close()
            assert status == 400 and payload["error"]["code"] == "bad_request", (encoding, path, payload)
            assert "malformed" in payload["error"]["message"] and encoding in payload["error"]["message"]
    assert client.request("GET", "/v1/health").status == 200
    wait_for(lambda: len([r for r in caplog.records if r.name == "aiohttp.server"]) >= 4, timeout=5)
    faults = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in faults), [r.getMessage() for r in faults]


def test_a_client_hanging_up_mid_upload_is_one_line_in_the_log(server, caplog):
    """Not an ERROR with a traceback: the daemon did nothing wrong, and keeps serving."""
    import socket

    caplog.set_level(logging.INFO)
    head = (f"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {server.token}\r\n"
            "Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: 200000\r\n\r\n"
            '--XX\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n').encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head + b"\xff\xd8" + b"0" * 100_000)
        time.sleep(0.3)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:   # a header over 8 KB
        sock.sendall(f"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'a' * 10_000}\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.0 400 ")
    wait_for(lambda: len([r for r in caplog.records if r.name == "aiohttp.server"]) >= 2, timeout=5)
    faults = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in faults), [r.getMessage() for r in faults]
    assert any("Connection lost" in r.getMessage() for r in faults)
    assert server.request("GET", "/v1/health").status == 200


def test_analyze_route(client, photo, tmp_path):
    missing = client.request("POST", "/v1/analyze", fields={})
    assert missing.status == 400 and missing.body["error"]["code"] == "bad_input"
    bomb = client.request("POST", "/v1/analyze", files={"image": ("b.png", huge_png(tmp_path / "b.png").read_bytes())})
    assert bomb.status == 422
    for reply in (client.request("POST", "/v1/analyze", files={"image": ("a.jpg", photo.read_bytes())}),
                  client.request("POST", "/v1/analyze", fields={"image_path": str(photo)})):
        assert reply.status == 200, reply.body
        assert (reply.body["width"], reply.body["height"]) == (96, 64) and 0 <= reply.body["score"] <= 1
        assert reply.body["suggested_profile"]
        assert reply.body["path"] in ("a.jpg", str(photo))      # never the upload's place in the data folder
    # A render of an original (what the plug-in sends): the report names the original.
    render = client.request("POST", "/v1/analyze", files={"image": ("render-0001.jpg", photo.read_bytes())},
                            fields={"original_path": "/Photos/IMG_0001.CR3"})
    assert render.status == 200 and render.body["path"] == "/Photos/IMG_0001.CR3"


def test_a_port_outside_1_to_65535_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    from stillmotion import cli

    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    assert cli.main(["serve", "--port", "99999"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "stillmotion: error: port 99999 is not a TCP port (1 to 65535; [server] port or --port)"


@pytest.mark.parametrize("damage", ["short", "a folder"])
def test_a_damaged_token_file_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys, damage):
    from stillmotion import cli

    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    token = tmp_path / "data" / "token"
    token.parent.mkdir()
    token.mkdir() if damage == "a folder" else token.write_text("short\n", encoding="ascii")
    assert cli.main(["serve", "--port", "8765"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"stillmotion: error: {token}: ") and "delete it and restart" in err and "\n" not in err, err


def test_a_data_folder_that_cannot_be_written_says_so_not_to_delete_the_token(tmp_path, monkeypatch, capsys):
    """STILLMOTION_HOME (or HOME) on a read-only volume: the daemon said to delete a token file
    that was never there ("if it is damaged, delete it and restart")."""
    import errno

    from stillmotion import cli
    from stillmotion.api import security

    def read_only(*_args):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    monkeypatch.setattr(security, "_create_token", read_only)
    assert cli.main(["serve", "--port", "8765"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"stillmotion: error: {tmp_path / 'data'}: cannot write the daemon's data folder (Read-only file "
                   "system); make it writable, or set STILLMOTION_HOME to a folder that is")


def test_a_full_or_locked_data_folder_is_said_not_an_internal_error(server, client, home, photo, monkeypatch):
    """The daemon's own disk full while an upload was saved, or its job store held by another
    program (a backup, a database browser) past the 30 s wait: 500 "internal error in the
    daemon" for the plug-in's user, who could do something about either."""
    import errno
    import sqlite3

    from stillmotion.api import forms
    from stillmotion.api.state import STORE

    async def disk_full(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(forms, "_save", disk_full)
        with pytest.raises(DaemonError) as full:
            client.submit(image=photo, settings=TINY)
    assert (full.value.status, full.value.code) == (507, "insufficient_storage")
    assert full.value.message == (f"the daemon cannot store the request in {home / 'data'}: No space left on "
                                  "device; make room there (or move STILLMOTION_HOME) and send it again")
    assert not any((home / "data" / "uploads").iterdir())          # nothing half-kept

    def locked(*_args, **_kwargs):
        raise sqlite3.OperationalError("database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(server.app[STORE], "submit", locked)
        reply = server.request("POST", "/v1/jobs", fields={"image_path": str(photo), "settings": json.dumps(TINY)})
    assert reply.status == 503 and reply.headers.get("retry-after") == "30"
    assert reply.body["error"] == {"code": "unavailable", "message": (
        f"the job store in {home / 'data'} is locked by another program (database is locked); "
        "send it again when that program is done")}
    assert server.request("GET", "/v1/health").status == 200          # and the daemon runs on


def test_a_data_folder_without_hard_links_still_gets_its_token(tmp_path, monkeypatch):
    """STILLMOTION_HOME on an exFAT/FAT drive or an SMB share (no hard links): the token, linked
    into place, failed, and the daemon would not start ("cannot write the daemon's data folder")
    though the folder could be written. Simulated: os.link refused as exFAT refuses it."""
    import errno

    from stillmotion.api import security

    def no_hard_links(*_args, **_kwargs):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(security.os, "link", no_hard_links)
    token, path = security.ensure_token(tmp_path / "data")
    assert len(token) >= 32 and path.read_text(encoding="ascii").strip() == token
    assert [p.name for p in path.parent.iterdir()] == ["token"]            # no temporary left
    assert security.ensure_token(tmp_path / "data") == (token, path)      # and read back as it is


def test_an_upload_that_stalls_mid_body_is_answered_408_and_its_file_goes(server, home, monkeypatch):
    """A client that stopped sending halfway through an upload (a laptop that went to sleep on
    the LAN, a stuck proxy) held its connection and its half-written file in uploads/ for as long
    as the socket stayed open: hours, with no timeout at all."""
    import socket

    from stillmotion.api import forms

    monkeypatch.setattr(forms, "STALL_S", 0.5)
    uploads = home / "data" / "uploads"
    head = (b'--XX\r\nContent-Disposition: form-data; name="image"; filename="IMG.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n\xff\xd8" + b"x" * 70_000)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(f"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
                     "Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: 500000\r\n\r\n".encode()
                     + head)                                  # then nothing more
        sock.settimeout(10)
        answer = sock.recv(1000)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b'"upload_stalled"' in answer and b"no data for 0.5 s" in answer, answer
    assert not any(uploads.iterdir())                        # its half-written file is gone
    assert server.request("GET", "/v1/health").status == 200


def test_docs_error_table_lists_every_code_the_daemon_answers():
    """docs/daemon.md's error table is what an integrator maps codes from: every (status, code)
    the API can answer is in it. (`conflict`, 409 for a TIFF sequence's download, and the
    405 and 500 codes were missing.)"""
    import re

    from stillmotion import errors
    from stillmotion.api import targets
    from stillmotion.jobs import store

    api = Path(targets.__file__).parent
    answered = {(int(status), code) for source in api.glob("*.py")
                for status, code in re.findall(r'ApiError\((\d{3}), "([a-z_]+)"', source.read_text(encoding="utf-8"))}
    for kind in (errors.InputError, errors.TooLargeError, targets.ForbiddenPath, store.IdempotencyConflict):
        answered.add((kind.http_status, kind.code))
    answered |= {(503, errors.EngineUnavailable.code), (404, "not_found"), (405, "method_not_allowed"),
                 (500, "internal")}   # aiohttp's own 404/405 (routes), and a defect's 500
    table: dict[str, set[int]] = {}
    doc = (Path(__file__).parents[1] / "docs" / "daemon.md").read_text(encoding="utf-8")
    for status, codes in re.findall(r"^\| (\d{3}) \| ([^|]+) \|", doc, flags=re.M):
        for code in re.findall(r"`([a-z_]+)`", codes):
            table.setdefault(code, set()).add(int(status))
    missing = sorted((status, code) for status, code in answered if status not in table.get(code, set()))
    assert missing == [], missing
