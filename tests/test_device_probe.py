"""The daemon's device probe (devices.keep_torch_out): asked once, awaited on the event loop."""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from stillmotion import config as config_mod
from stillmotion.api.security import TOKEN_FILE
from stillmotion.api.server import create_app
from stillmotion.engines import devices

GUARD_S = 10      # (a guard against a hang, not a timing: everything here answers at once or never)


class HeldProbe:
    """_probe_in_child standing in: counts its starts and answers only when released."""

    def __init__(self) -> None:
        self.starts = 0
        self.release = threading.Event()

    def __call__(self, preference: str) -> dict[str, Any]:
        self.starts += 1
        self.release.wait(3 * GUARD_S)        # (released by the test, or given up on)
        return {"device": devices.Device("cpu", "CPU (test)", 8.0, 4.0, False).to_dict(),
                "torch": None, "threads": None, "diffusers": None}


@pytest.fixture
def held_probe(monkeypatch: pytest.MonkeyPatch) -> HeldProbe:
    """The daemon's way of asking (a child process), with a probe that waits to be released."""
    probe = HeldProbe()
    monkeypatch.setattr(devices, "_probe_elsewhere", True)
    monkeypatch.setattr(devices, "_probes", {})
    monkeypatch.setattr(devices, "_probe_in_child", probe)
    monkeypatch.delitem(sys.modules, "torch", raising=False)   # (another test's import: asked here then)
    yield probe
    probe.release.set()


def test_callers_waiting_on_the_device_probe_share_one_and_hold_no_executor_thread(held_probe):
    """Fifty callers at once start one probe and wait on the loop: the executor stays free, and
    a caller that gives up does not take the answer from the others."""
    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(2))
        waiters = [asyncio.create_task(devices.wait_for_probe({"engines": {"device": "auto"}})) for _ in range(50)]
        await asyncio.sleep(0)
        assert held_probe.starts == 1
        assert await asyncio.wait_for(loop.run_in_executor(None, lambda: "free"), GUARD_S) == "free"
        waiters[0].cancel()
        held_probe.release.set()
        await asyncio.wait_for(asyncio.gather(*waiters[1:]), GUARD_S)
        assert (await loop.run_in_executor(None, devices.detect, "auto")).name == "CPU (test)"
        assert held_probe.starts == 1

    asyncio.run(main())


def test_many_engine_requests_during_the_probe_leave_the_job_list_answering(held_probe, tmp_path, monkeypatch):
    """Fifty GET /v1/engines right after start (a plug-in, a web page, several Lightroom windows)
    each held an executor thread while the probe ran (1.5-3 s; two minutes when a driver hangs):
    GET /v1/jobs, a job's submission, waited behind them for a thread. Now they wait on the loop;
    /v1/jobs and /v1/health answer while the probe is still out."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("STILLMOTION_HOME", str(home))
    config = config_mod.load(None, environ={})

    async def main() -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(2))
        app = create_app(config, data_dir=home / "data")
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            auth = {"Authorization": f"Bearer {(home / 'data' / TOKEN_FILE).read_text().strip()}"}

            async def get(path: str) -> tuple[int, Any]:
                response = await client.get(path, headers=auth)
                return response.status, await response.json()

            engines = [asyncio.create_task(get("/v1/engines")) for _ in range(50)]
            await asyncio.sleep(0.2)           # (they are in: waiting on the probe)
            status, body = await asyncio.wait_for(get("/v1/jobs"), GUARD_S)
            assert (status, body["jobs"]) == (200, [])
            status, body = await asyncio.wait_for(get("/v1/health"), GUARD_S)   # (no model: no device asked)
            assert (status, body["engines"]) == (200, ["parallax"])
            assert not any(task.done() for task in engines)
            held_probe.release.set()
            answers = await asyncio.wait_for(asyncio.gather(*engines), GUARD_S)
            assert {status for status, _ in answers} == {200}
            assert {body["device"]["name"] for _, body in answers} == {"CPU (test)"}
        assert held_probe.starts == 1

    asyncio.run(main())
