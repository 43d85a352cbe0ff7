"""A real `stillmotion serve` for the plug-in's end-to-end tests (free port, own STILLMOTION_HOME)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Small, fast clips; photos over 1 MP are refused (the "too large" photo of the failure test).
CONFIG = """\
[output]
long_edge = 320
preset = "ultrafast"

[limits]
max_megapixels = 1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stillmotion_command() -> list[str]:
    exe = shutil.which("stillmotion")
    if exe:
        return [exe]
    return [sys.executable, "-c", "import sys; from stillmotion.cli import main; sys.exit(main())"]


@dataclass
class Daemon:
    url: str
    home: Path
    process: subprocess.Popen
    log: Path

    @property
    def token(self) -> str:
        return (self.home / "data" / "token").read_text(encoding="utf-8").strip()

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        with _OPENER.open(request, timeout=10) as resp:
            return json.loads(resp.read())

    def wait_job(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            job = self.get(f"/v1/jobs/{job_id}")
            if job["status"] in ("done", "failed", "canceled"):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def healthy(url: str) -> bool:
    try:
        with _OPENER.open(url + "/v1/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def start_daemon(home: Path, timeout: float = 90, port: int | None = None) -> Daemon:
    """`stillmotion serve` on `port` (a free one when None), its data in `home`."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STILLMOTION__")}
    env["STILLMOTION_HOME"] = str(home)
    port = port or free_port()
    log = home / "daemon.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(stillmotion_command() + ["serve", "--host", "127.0.0.1", "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    daemon = Daemon(url=f"http://127.0.0.1:{port}", home=home, process=process, log=log)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"stillmotion serve exited ({process.returncode}):\n{log.read_text()}")
        if healthy(daemon.url) and (home / "data" / "token").is_file():
            return daemon
        time.sleep(0.1)
    daemon.stop()
    raise RuntimeError(f"stillmotion serve did not answer within {timeout} s:\n{log.read_text()}")
