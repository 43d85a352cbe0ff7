"""`stillmotion install-plugin`: copy the Lightroom Classic plug-in into Lightroom's Modules folder.

Lightroom Classic loads every `*.lrplugin` folder it finds in its Modules folder:
  macOS    ~/Library/Application Support/Adobe/Lightroom/Modules
  Windows  %APPDATA%\\Adobe\\Lightroom\\Modules
or anywhere with `--dest DIR` (then add it with File > Plug-in Manager > Add).

The copy is staged under a hidden name beside the destination and renamed into
place, so Lightroom never sees half a plug-in; an older copy is replaced whole.
The installed copy gets `stillmotion-install.json`: the daemon's data folder
(where its token lives), the `stillmotion` command and $STILLMOTION_HOME (when set),
so the plug-in finds its token and starts the daemon on the same home even when
Lightroom does not share the shell's environment.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import sysconfig
import time
from pathlib import Path

from . import __version__, paths
from .errors import InputError
from .place import sync_data, sync_folder

PLUGIN_NAME = "stillmotion.lrplugin"
INSTALL_RECORD = "stillmotion-install.json"   # read by DaemonConnection.lua
_IGNORE = shutil.ignore_patterns(".*", "*.pyc", "__pycache__", "*.orig", "*.rej", "*~")


def modules_dir(platform: str | None = None, env: dict[str, str] | None = None,
                home: Path | None = None) -> Path:
    """Lightroom Classic's Modules folder for this (or the given) platform."""
    platform = platform or sys.platform
    env = os.environ if env is None else env
    home = home or Path.home()
    if platform == "darwin":
        return home / "Library" / "Application Support" / "Adobe" / "Lightroom" / "Modules"
    if platform.startswith("win"):
        appdata = env.get("APPDATA")
        if not appdata:
            raise InputError("%APPDATA% is not set, so Lightroom's Modules folder is unknown; "
                             "pass --dest DIR")
        return Path(appdata) / "Adobe" / "Lightroom" / "Modules"
    raise InputError("Lightroom Classic runs on macOS and Windows only; pass --dest DIR to copy "
                     "the plug-in somewhere else")


def source_dir() -> Path:
    """The plug-in folder shipped with this installation."""
    candidate = paths.plugin_dir()
    if (candidate / "Info.lua").is_file():
        return candidate
    raise InputError(f"the Lightroom plug-in is missing from this installation (looked in {candidate})")


def _stillmotion_command() -> str | None:
    """The `stillmotion` command of this installation, whether or not its folder is on PATH
    (`python3 -m stillmotion install-plugin`, a virtual environment not activated): beside its
    Python (a venv's bin/ or Scripts\\), in its scripts folder (or the user's, `pip --user`),
    else the one on PATH."""
    name = "stillmotion.exe" if sys.platform == "win32" else "stillmotion"
    folders = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts")),
               Path(sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user")))]
    return next((str(f / name) for f in folders if (f / name).is_file()), None) or shutil.which("stillmotion")


def _install_record() -> dict[str, object]:
    return {
        "version": __version__,
        "data_dir": str(paths.data_dir()),
        # Lightroom started from the Dock or the Start menu does not see the shell's
        # STILLMOTION_HOME: Start daemon passes this one on (None: the platform's folders).
        "home": str(paths.home()) if paths.home() else None,
        "stillmotion": _stillmotion_command(),
        "installed": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def install(dest: Path | None = None) -> str:
    """Copies the plug-in into `dest` (default: Lightroom's Modules folder).

    Returns the message to print: where it went and what to do next.
    """
    modules = Path(dest).expanduser() if dest is not None else modules_dir()
    if modules.exists() and not modules.is_dir():
        raise InputError(f"{modules} is a file, not a folder")
    if modules.name == PLUGIN_NAME:   # --dest pointing at the plug-in folder itself
        modules = modules.parent
    try:
        modules.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {modules}: {exc.strerror or exc}") from None
    target = modules / PLUGIN_NAME
    staging = modules / f".{PLUGIN_NAME}.new-{secrets.token_hex(4)}"
    retired = modules / f".{PLUGIN_NAME}.old-{secrets.token_hex(4)}"
    try:
        shutil.copytree(source_dir(), staging, ignore=_IGNORE)
        (staging / INSTALL_RECORD).write_text(json.dumps(_install_record(), indent=2) + "\n",
                                              encoding="utf-8")
        # On the disk before the old copy goes: after a power cut, empty .lua files under the
        # plug-in's name would not load, and the previous copy would be gone.
        for folder, _, _ in os.walk(staging):
            sync_data(Path(folder))
        if target.exists():
            os.replace(target, retired)
        os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if retired.exists() and not target.exists():
            os.replace(retired, target)   # put the previous copy back
        raise InputError(f"cannot install the plug-in into {modules}: {exc.strerror or exc}") from None
    sync_folder(modules)
    shutil.rmtree(retired, ignore_errors=True)
    how = ("Restart Lightroom Classic; the plug-in loads from its Modules folder."
           if dest is None else
           "In Lightroom Classic choose File > Plug-in Manager > Add and pick this folder.")
    return f"Installed the Stillmotion Lightroom plug-in: {target}\n{how}"
