"""Plug-in Manager > Start daemon: runs `stillmotion serve` in the background on the
panel's port, waits for /v1/health, then finds the new daemon's token."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from lrdaemon import CONFIG, free_port, healthy
from lrsim import Lightroom


def _kill_listener(port: int) -> None:
    """Stops the daemon this test started (found by the port it listens on)."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            proc = psutil.Process(conn.pid)
            proc.terminate()
            proc.wait(timeout=15)


def test_start_daemon_button(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "sm-home"
    home.mkdir()
    (home / "config.toml").write_text(CONFIG)
    monkeypatch.setenv("STILLMOTION_HOME", str(home))
    port = free_port()
    lr = Lightroom(tmp_path)
    panel = lr.fake.runFile("PluginInfoProvider.lua")
    props = lr.fake.makePropertyTable()
    panel.startDialog(props)
    props.daemonUrl = f"http://127.0.0.1:{port}"
    assert "once \"stillmotion serve\" has run" in props.tokenHint     # no token yet
    try:
        panel.startDaemon(props)
        lr.run_tasks(timeout=90)
        assert healthy(f"http://127.0.0.1:{port}")
        assert props.connectionStatus.startswith("Connected to Stillmotion"), props.connectionStatus
        assert str(home / "data" / "token") in props.tokenHint
        assert lr.bridge.executed and f"serve --port {port}" in lr.bridge.executed[0]
        # Pressing it again finds the daemon running and starts nothing.
        panel.startDaemon(props)
        lr.run_tasks(timeout=30)
        assert len(lr.bridge.executed) == 1
    finally:
        _kill_listener(port)
    assert lr.task_errors == []
