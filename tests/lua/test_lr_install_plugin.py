"""`stillmotion install-plugin`: the plug-in lands whole in Lightroom's Modules folder
(or --dest), replaces an older copy, and records where the daemon keeps its token."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lrsim import PLUGIN_DIR, Lightroom
from stillmotion import install_plugin
from stillmotion.errors import InputError


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_cli_installs_into_dest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path / "home"))
    dest = tmp_path / "Modules"
    out = subprocess.run([sys.executable, "-c", "import sys; from stillmotion.cli import main; sys.exit(main())",
                          "install-plugin", "--dest", str(dest)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    target = dest / "stillmotion.lrplugin"
    assert str(target) in out.stdout and "Plug-in Manager" in out.stdout
    assert _files(target) == _files(PLUGIN_DIR) | {"stillmotion-install.json"}
    record = json.loads((target / "stillmotion-install.json").read_text())
    assert record["data_dir"] == str(tmp_path / "home" / "data")
    # Nothing staged is left beside it.
    assert [p.name for p in dest.iterdir()] == ["stillmotion.lrplugin"]


def test_reinstall_replaces_the_old_copy_whole(tmp_path: Path) -> None:
    dest = tmp_path / "Modules"
    old = dest / "stillmotion.lrplugin"
    old.mkdir(parents=True)
    (old / "Stale.lua").write_text("return {}")
    install_plugin.install(dest)
    assert not (old / "Stale.lua").exists()
    assert (old / "Info.lua").read_bytes() == (PLUGIN_DIR / "Info.lua").read_bytes()
    assert [p.name for p in dest.iterdir()] == ["stillmotion.lrplugin"]


def test_installed_copy_loads_and_finds_the_recorded_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plug-in reads the token from the data folder recorded at install time,
    even when Lightroom (started from the Dock) does not see STILLMOTION_HOME."""
    data = tmp_path / "daemon-home" / "data"
    data.mkdir(parents=True)
    (data / "token").write_text("s3cret-token\n")
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path / "daemon-home"))
    install_plugin.install(tmp_path / "Modules")
    monkeypatch.delenv("STILLMOTION_HOME")
    lr = Lightroom(tmp_path / "lr", plugin_dir=tmp_path / "Modules" / "stillmotion.lrplugin")
    token, source = lr.require("DaemonConnection").discoverToken()
    assert token == "s3cret-token" and source == str(data / "token")


def test_default_modules_folders() -> None:
    home = Path("/Users/ana")
    assert install_plugin.modules_dir("darwin", {}, home) == \
        home / "Library" / "Application Support" / "Adobe" / "Lightroom" / "Modules"
    assert install_plugin.modules_dir("win32", {"APPDATA": r"C:\Users\ana\AppData\Roaming"}, home) == \
        Path(r"C:\Users\ana\AppData\Roaming") / "Adobe" / "Lightroom" / "Modules"
    with pytest.raises(InputError, match="--dest"):
        install_plugin.modules_dir("linux", {}, home)


def test_dest_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        install_plugin.install(not_a_dir)


def test_the_recorded_command_is_this_installations_own_when_not_on_path(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed from a virtual environment not on PATH (`~/sm/bin/python -m stillmotion
    install-plugin`, a venv not activated): nothing was recorded, so Start daemon ran a bare
    `stillmotion`, which Lightroom (started from the Dock or the Start menu) never finds."""
    scripts = tmp_path / "venv" / ("Scripts" if sys.platform == "win32" else "bin")
    scripts.mkdir(parents=True)
    command = scripts / ("stillmotion.exe" if sys.platform == "win32" else "stillmotion")
    command.write_text("#!/bin/sh\n")
    command.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(scripts / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    install_plugin.install(tmp_path / "Modules")
    record = json.loads((tmp_path / "Modules" / "stillmotion.lrplugin" / "stillmotion-install.json").read_text())
    assert record["stillmotion"] == str(command)
