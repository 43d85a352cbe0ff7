"""Where Stillmotion keeps its config, data (job store, token, logs) and models."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "stillmotion"
REPO_ROOT = Path(__file__).resolve().parents[2]


def home() -> Path | None:
    """$STILLMOTION_HOME, when set: one folder for config, data and models. A relative one is
    taken from the working folder now: kept relative, `install-plugin` recorded "h/data" for
    the plug-in, which runs elsewhere, and a daemon or watcher started from another folder
    used another job store."""
    value = os.environ.get("STILLMOTION_HOME")
    return Path(value).expanduser().absolute() if value else None


def config_dir() -> Path:
    return home() or Path(platformdirs.user_config_dir(APP))


# The data folder holds the job store (every photo's path, prompt) and the clips of uploaded
# photos: it is made private to the user's account, as the token and the uploads are.
DATA_DIR_MODE = 0o700


def data_dir() -> Path:
    return (home() / "data") if home() else Path(platformdirs.user_data_dir(APP))


def models_dir() -> Path:
    return (home() / "models") if home() else Path(platformdirs.user_data_dir(APP)) / "models"


PACKAGE = Path(__file__).resolve().parent


def default_config_file() -> Path:
    """config/default.toml in a source checkout (and editable install); the copy an
    installed wheel carries otherwise (see setup.py)."""
    in_tree = REPO_ROOT / "config" / "default.toml"
    return in_tree if in_tree.is_file() else PACKAGE / "default.toml"


def user_config_file() -> Path:
    return config_dir() / "config.toml"


def plugin_dir() -> Path:
    """The Lightroom plug-in folder: in the source tree, else the copy in an installed wheel."""
    in_tree = REPO_ROOT / "lrplugin" / "stillmotion.lrplugin"
    return in_tree if in_tree.is_dir() else PACKAGE / "lrplugin" / "stillmotion.lrplugin"
