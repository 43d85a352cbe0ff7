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


def test_start_daemon_uses_the_home_recorded_at_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lightroom started from the Dock or the Start menu does not see the shell's
    STILLMOTION_HOME. Start daemon ran `stillmotion serve` without it: the daemon made a new
    token (and read another config, other models) in the platform's default folders, while
    the plug-in read the token from the home recorded at install time, so every action said
    the daemon refused the token. The daemon it starts uses the recorded home."""
    from stillmotion import install_plugin

    home = tmp_path / "sm-home"
    home.mkdir()
    (home / "config.toml").write_text(CONFIG)
    monkeypatch.setenv("STILLMOTION_HOME", str(home))
    install_plugin.install(tmp_path / "Modules")
    monkeypatch.delenv("STILLMOTION_HOME")
    # The platform's default folders, kept inside the test (where the daemon went before).
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    port = free_port()
    lr = Lightroom(tmp_path / "lr", plugin_dir=tmp_path / "Modules" / "stillmotion.lrplugin")
    panel = lr.fake.runFile("PluginInfoProvider.lua")
    props = lr.fake.makePropertyTable()
    panel.startDialog(props)
    props.daemonUrl = f"http://127.0.0.1:{port}"
    try:
        panel.startDaemon(props)
        lr.run_tasks(timeout=90)
        assert props.connectionStatus.startswith("Connected to Stillmotion"), props.connectionStatus
        assert (home / "data" / "token").is_file()
        assert str(home / "data" / "token") in props.tokenHint
        assert not (tmp_path / "xdg-data" / "stillmotion").exists()
    finally:
        _kill_listener(port)
    assert lr.task_errors == []


def test_start_command_on_windows_passes_the_recorded_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stillmotion import install_plugin

    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path / "sm home"))
    install_plugin.install(tmp_path / "Modules")
    monkeypatch.delenv("STILLMOTION_HOME")
    lr = Lightroom(tmp_path / "lr", plugin_dir=tmp_path / "Modules" / "stillmotion.lrplugin", platform="win")
    command = lr.require("DaemonConnection").startCommand("http://127.0.0.1:9000")
    assert command.startswith(f'set "STILLMOTION_HOME={tmp_path / "sm home"}" && start "Stillmotion" /min ')
    assert command.endswith(" serve --port 9000")
