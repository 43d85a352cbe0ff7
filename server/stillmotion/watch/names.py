"""Which files in a watched folder are photos to take, sidecars to pair, or to leave alone."""

from __future__ import annotations

from pathlib import Path

from ..place import is_own_output
from .settings import FOLDER_FILE

# Names writers use while a file is not finished yet (browsers, rsync, editors, Office).
TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", ".lock")
SIDECAR_SUFFIX = ".xmp"


def is_ignored(path: Path, root: Path) -> bool:
    """Temporary names, dotfiles (and anything inside a hidden folder), our own files."""
    name = path.name
    lowered = name.lower()
    if name.startswith(".") or name.startswith("~") or name.endswith("~"):
        return True
    if lowered.endswith(TEMP_SUFFIXES) or name == FOLDER_FILE:
        return True
    if is_own_output(path):
        return True
    try:
        parts = path.parent.relative_to(root).parts
    except ValueError:
        return True
    return any(part.startswith(".") for part in parts)


def is_sidecar(path: Path) -> bool:
    return path.name.lower().endswith(SIDECAR_SUFFIX)
