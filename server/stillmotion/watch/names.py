"""Which files in a watched folder are photos to take, sidecars to pair, or to leave alone."""

from __future__ import annotations

import os
from pathlib import Path

from ..place import is_own_output
from .settings import FOLDER_FILE

# Names writers use while a file is not finished yet (browsers, rsync, editors, Office).
TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", ".lock")
SIDECAR_SUFFIX = ".xmp"
# Folders other programs keep for themselves inside photo folders, never walked: Capture One's
# cache and settings (made in any folder it browses), a Synology NAS's thumbnails (@eaDir holds
# a JPEG per photo), recycle bins and snapshots. And the files Windows leaves in folders.
TOOL_FOLDERS = frozenset({"captureone", "@eadir", "#recycle", "#snapshot", "$recycle.bin",
                          "system volume information"})
SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})
# Capture One's own files, never photos even where `patterns = ["*"]` matches them: settings,
# masks, proxies and focus previews (JPEG inside), thumbnails, styles, session and catalog
# databases; and its catalog package folder (Originals/ holds the JPEGs imported into it).
CAPTURE_ONE_SUFFIXES = (".cos", ".comask", ".cop", ".cof", ".cot", ".costyle", ".costylepack",
                        ".cosessiondb", ".cocatalogdb")
CAPTURE_ONE_PACKAGE = ".cocatalog"


def is_hidden_folder(name: str) -> bool:
    """A subfolder never walked: hidden (a dotted name) or another program's own."""
    lowered = name.lower()
    return name.startswith(".") or lowered in TOOL_FOLDERS or lowered.endswith(CAPTURE_ONE_PACKAGE)


def is_session_trash(folder: Path) -> bool:
    """A Capture One session's Trash folder (beside its .cosessiondb): the photos deleted in
    Capture One, never to be animated. (Only there: "Trash" elsewhere may be a photo folder.)"""
    if folder.name.lower() != "trash":
        return False
    try:
        return any(entry.name.lower().endswith(".cosessiondb") for entry in os.scandir(folder.parent))
    except OSError:
        return False


def is_ignored(path: Path, root: Path) -> bool:
    """Temporary names, dotfiles, system files, anything inside a hidden or another program's
    folder (or a Capture One session's Trash), our own files."""
    name = path.name
    lowered = name.lower()
    if is_hidden_folder(name) or name.startswith("~") or name.endswith("~"):
        return True
    if lowered.endswith(TEMP_SUFFIXES) or name == FOLDER_FILE or lowered in SYSTEM_FILES:
        return True
    if lowered.endswith(CAPTURE_ONE_SUFFIXES):
        return True
    if is_own_output(path):
        return True
    try:
        parts = path.parent.relative_to(root).parts
    except ValueError:
        return True
    return any(is_hidden_folder(part) or (part.lower() == "trash" and is_session_trash(root.joinpath(*parts[:k + 1])))
               for k, part in enumerate(parts))


def has_text_name(path: Path) -> bool:
    """False for a name that is not valid UTF-8 (Latin-1 from an old share or archive): the
    ledger and the job store keep paths as text, and the log could not print it."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(path: Path) -> str:
    """A path for the log, its undecodable bytes shown as U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def is_sidecar(path: Path) -> bool:
    return path.name.lower().endswith(SIDECAR_SUFFIX)
