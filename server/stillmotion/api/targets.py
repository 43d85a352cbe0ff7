"""Which local paths a client may name: images to read, and folders results go into.

Rules (the daemon writes files, so a path is a capability):
- paths are absolute (out_dir may be relative to the original's folder) and never
  contain `..`: 400;
- `image_path` / `original_path` name an existing file with an image suffix (a
  rendered format, or a camera raw for the original): 400;
- a symlinked photo must point into its own folder: 403;
- results go into the original's own folder, or into an `out_dir` that resolves
  (symlinks followed) inside that folder or a configured [output] allowed_dirs: 403.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Iterable

from ..errors import InputError
from ..photo import CAMERA_RAW_SUFFIXES, PHOTO_SUFFIXES, file_kind, raw_refusal, unread_format_refusal

# An original in Lightroom is often a raw file (or another format it renders); the daemon
# gets a rendered copy to animate.
RAW_SUFFIXES = CAMERA_RAW_SUFFIXES | {".avif", ".jxl", ".psd", ".psb"}
ORIGINAL_SUFFIXES = frozenset(PHOTO_SUFFIXES) | RAW_SUFFIXES


class ForbiddenPath(InputError):
    """A path the daemon must not write beside or into."""

    code = "forbidden_path"
    http_status = 403


def local_path(raw: str, field: str, base: Path | None = None) -> Path:
    """An absolute path without `..` (relative ones resolve against `base` when given)."""
    if not raw or not raw.strip() or "\0" in raw:
        raise InputError(f"{field} is empty or not a valid path")
    path = Path(raw.strip()).expanduser()
    if ".." in path.parts:
        raise InputError(f"{field} must not contain '..': {raw}")
    if not path.is_absolute():
        if base is None:
            raise InputError(f"{field} must be an absolute path: {raw}")
        path = base / path
    return path


def existing_image(raw: str, field: str, suffixes: Iterable[str] = PHOTO_SUFFIXES) -> Path:
    """An existing image file named by the client; symlinks may not leave its folder."""
    allowed = frozenset(suffixes)
    path = local_path(raw, field)
    try:
        kind: str | OSError = file_kind(path)
    except OSError as exc:    # (a name longer than the file system allows: said after the suffix)
        kind = exc
    if kind == "folder":      # (a script handing over a shoot's folder: one job per photo)
        raise InputError(f"{field} is a folder, not a photo: {path}; submit each photo in it as its own job")
    if path.suffix.lower() not in allowed:
        if path.suffix.lower() in CAMERA_RAW_SUFFIXES:
            raise InputError(f"{field}: {raw_refusal(path)}")
        if unread := unread_format_refusal(path):   # (an image, not "not an image file")
            raise InputError(f"{field}: {unread}")
        raise InputError(f"{field} is not an image file ({path.name}); expected one of "
                         f"{', '.join(sorted(allowed))}")
    # (a symlink loop: "no such file", as pathlib's is_file said it here before)
    if isinstance(kind, OSError) and kind.errno != errno.ELOOP:
        raise InputError(f"{field}: cannot use {path} ({kind.strerror or kind})")
    if kind != "file":
        why = "not a regular file (a device or a pipe)" if kind == "other" else "no such file"
        raise InputError(f"{field}: {why}: {path}")
    try:
        real, folder = path.resolve(), path.parent.resolve()
    except OSError as exc:          # e.g. a name longer than the file system allows
        raise InputError(f"{field}: cannot use {path} ({exc.strerror or exc})") from None
    if real.parent != folder:
        raise ForbiddenPath(f"{field} is a symlink out of its folder: {path}")
    if real.suffix.lower() not in allowed:
        raise InputError(f"{field} does not point to an image file: {path}")
    return path


def destination(original: Path | None, out_dir: str | None, allowed_dirs: Iterable[str | Path]) -> Path | None:
    """The folder results go into, resolved; None when neither an original nor out_dir is given."""
    home = original.parent.resolve() if original is not None else None
    if not out_dir:
        return home
    real = local_path(out_dir, "out_dir", base=home).resolve()
    roots = [Path(d).expanduser().resolve() for d in allowed_dirs] + ([home] if home else [])
    if not any(real == root or root in real.parents for root in roots):
        raise ForbiddenPath(f"out_dir {out_dir} is outside the photo's folder and the configured "
                            "[output] allowed_dirs")
    return real
