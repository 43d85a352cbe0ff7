"""Put results beside the original: never overwrite, never show half a file.

`IMG_1234.jpg` -> `IMG_1234.motion.mp4`, then `IMG_1234.motion-2.mp4`, ...; the
clip's sidecar takes the same stem (`IMG_1234.motion.xmp`). Work happens under a
hidden temporary name in the destination folder (same filesystem, so the final
step is an atomic link/rename) and a name is claimed only if nothing is there:
os.link fails rather than replace an existing file, even one created a moment ago
by another process.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import Iterable

from .errors import InputError, JobError

TEMP_PREFIX = ".stillmotion-tmp-"
PLACED_PREFIX = ".stillmotion-placed-"     # a daemon job's record of what it placed (jobs/placement.py)
MAX_INDEX = 10_000
NAME_MAX = 255             # bytes in one file name: ext4, APFS, NTFS (in UTF-16 units), SMB
LONGEST_SUFFIX_BYTES = 8   # room kept for an output's extension (.mp4, .webp, .xmp, ...)
ABANDONED_AFTER_S = 600.0   # a dead run's temporary is swept only once nothing wrote it for this long


# Why writing results can fail that says nothing about the input: the user must make room or
# pick another folder. NO_ROOM: the disk itself refuses (full, over quota, read-only).
NO_ROOM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})
_WRITE_ERRNOS = NO_ROOM_ERRNOS | {errno.EACCES, errno.EPERM}


def is_write_error(exc: BaseException) -> bool:
    """Whether `exc` is the destination refusing a write (disk full, quota, read-only, no permission)."""
    return isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS


def write_failure(exc: BaseException, folder: Path, what: str = "the clip") -> JobError | None:
    """One readable line for a failure to write results into `folder` (disk full, over quota,
    read-only, no permission), else None. The raw error names a hidden temporary, which
    means nothing to the user, or nothing at all (a write deep in the encoder)."""
    if not is_write_error(exc):
        return None
    return JobError(f"cannot write {what} into {folder.resolve()}: {exc.strerror or exc}; nothing was left there")


def check_destination(folder: Path) -> None:
    """Before any work: clips can go into `folder` (made later, with its parents, if missing:
    `animate --out`, `match --out DIR/`).

    Writability is tried, not asked (os.access reads mode bits, which on SMB/NFS shares with
    ACLs or mapped owners can say no where a write succeeds): an anonymous temporary file
    in `folder` itself, gone when closed. A folder still to be made is tried in the folder
    it will be made in (a read-only card or share refuses it there, before any work)."""
    existing = folder
    try:
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
    except OSError as exc:          # e.g. a name longer than the file system allows
        raise InputError(f"{folder}: cannot use this folder ({exc.strerror or exc})") from None
    if not existing.is_dir():
        where = f"{folder}: {existing.name}" if existing != folder else str(folder)   # (not "x.jpg: x.jpg")
        raise InputError(f"{where} is a file, not a folder; clips are written into a folder")
    what = "write into this folder" if existing == folder else f"make this folder in {existing}"
    try:
        tempfile.TemporaryFile(dir=existing, prefix=TEMP_PREFIX).close()   # (a name ours if it shows)
    except PermissionError:
        raise InputError(f"{folder}: cannot {what} (permission denied)") from None
    except OSError as exc:
        raise InputError(f"{folder}: cannot {what} ({exc.strerror})") from None


def temp_path(folder: Path, suffix: str, tag: str = "") -> Path:
    """A hidden temporary name in `folder` that readers and watchers ignore.

    `tag` (the daemon's job id) lets crash recovery find and remove exactly the
    temporaries a killed job left behind: `.stillmotion-tmp-<tag>-<random><suffix>`.
    Untagged (a one-off CLI run) the tag is the process's own (`process_tag`), so that a
    later run can tell a dead process's leftovers from a live one's (`abandoned_temps`).
    """
    return folder / f"{TEMP_PREFIX}{tag or process_tag()}-{secrets.token_hex(6)}{suffix}"


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:40] or "host"


def process_tag() -> str:
    """`cli-<host>-<pid>`: whose temporaries these are."""
    return f"cli-{_host()}-{os.getpid()}"


def abandoned_temps(folder: Path, min_age_s: float = ABANDONED_AFTER_S) -> list[Path]:
    """Temporaries in `folder` left by one-off runs on this machine whose process is gone
    (killed by SIGKILL, a crash, a power cut) and that nothing has written for `min_age_s`.

    Only this host's, only dead processes' (a live one, or a reused PID, is left alone),
    only stale ones (a share used by two machines of the same name is still safe while
    either writes). POSIX only: Windows has no harmless way to ask whether a PID lives.
    """
    if os.name != "posix" or not folder.is_dir():
        return []
    pattern = re.compile(re.escape(f"{TEMP_PREFIX}cli-{_host()}-") + r"(\d+)-[0-9a-f]{12}")
    now, found = time.time(), []
    for path in folder.glob(f"{TEMP_PREFIX}cli-*"):
        match = pattern.match(path.name)
        if match is None or int(match.group(1)) == os.getpid() or _alive(int(match.group(1))):
            continue
        try:
            if now - path.lstat().st_mtime >= min_age_s:
                found.append(path)
        except OSError:
            continue
    return sorted(found)


def sweep_abandoned(folder: Path) -> int:
    """Remove `abandoned_temps(folder)`; how many went."""
    gone = abandoned_temps(folder)
    for path in gone:
        remove_temp(path)
    return len(gone)


def remove_temp(path: Path) -> None:
    """Remove a temporary output: a file, or a folder (a TIFF sequence)."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True                 # someone else's live process
    return True


def stale_temps(folder: Path, tag: str) -> list[Path]:
    """The temporaries `temp_path(folder, ..., tag)` created (left behind by a killed job)."""
    return sorted(folder.glob(f"{TEMP_PREFIX}{tag}-*")) if tag and folder.is_dir() else []


def output_stem(stem: str, tag: str) -> str:
    """`stem`, cut (at a character boundary) so that every name placing gives it fits in a
    folder: `stem.tag-NNNN.ext` at most NAME_MAX (255) bytes. A photo whose own name is near
    that limit (long titles, non-ASCII names: 85 CJK characters are 255 bytes) would
    otherwise have its clip refused by the file system only once the clip is made."""
    room = NAME_MAX - len(f".{tag}-{MAX_INDEX}".encode()) - LONGEST_SUFFIX_BYTES
    return cut_to_bytes(stem, room)


def cut_to_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes as a file name is stored, at a character boundary."""
    encoded = os.fsencode(text)
    if len(encoded) <= limit:
        return text
    cut = encoded[:limit]
    for drop in range(4):   # a UTF-8 character is at most 4 bytes: don't keep part of one
        try:
            return cut[:len(cut) - drop].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return os.fsdecode(cut)   # not UTF-8 at all (a name from another system): cut as bytes


def candidate_names(stem: str, tag: str, suffixes: Iterable[str]) -> Iterable[dict[str, str]]:
    """`stem.tag.ext`, `stem.tag-2.ext`, ... for each suffix (e.g. .mp4 and .xmp together);
    a stem too long for that is cut first (`output_stem`)."""
    suffixes = list(suffixes)
    stem = output_stem(stem, tag)
    for index in range(1, MAX_INDEX):
        base = f"{stem}.{tag}" if index == 1 else f"{stem}.{tag}-{index}"
        yield {suffix: base + suffix for suffix in suffixes}


# `stem.motion.mp4`, `stem.motion-2.xmp`, `clip.matched.mov`, a TIFF-sequence folder `stem.motion`,
# a watch photo's `stem.motion.failed.txt` (jobs/failure_note.py).
_OUTPUT_NAME = re.compile(r"^.+\.(motion|matched)((-\d+)?(\.(mp4|mov|gif|webp|xmp))?|\.failed\.txt)$", re.IGNORECASE)


def is_own_output(path: Path) -> bool:
    """Stillmotion's own outputs and temporaries (watch folders must not re-ingest them).

    Matches the exact output names only, so a user's `my.motion.study.jpg` is still a photo;
    anything inside an output folder (a TIFF sequence) or a temporary is ours too.
    """
    parts = [path.name, path.parent.name]
    return (any(p.startswith((TEMP_PREFIX, PLACED_PREFIX)) for p in parts)
            or any(_OUTPUT_NAME.match(p) for p in parts))


# fsync errors that say only that this file system cannot sync (some FUSE and network mounts)
_CANNOT_SYNC_ERRNOS = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP})


def sync_data(path: Path) -> None:
    """Put the bytes of `path` (a file, or each file of a folder and the folder) on the disk.

    Done before a final name is given: the data of a new file may reach the disk after its
    name does, so a power cut could otherwise leave `IMG.motion.gif` zero-length or cut short.
    One fsync per file, once it is whole."""
    if path.is_dir():
        for item in path.iterdir():
            if item.is_file():
                _fsync(item)
        sync_folder(path)
    else:
        _fsync(path)


def _fsync(path: Path) -> None:
    # (Windows commits only a handle open for writing)
    flags = os.O_RDONLY if os.name == "posix" else os.O_RDWR | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _CANNOT_SYNC_ERRNOS:
            raise
    finally:
        os.close(fd)


def sync_folder(folder: Path) -> None:
    """Put the names just given in `folder` on the disk (POSIX; elsewhere the file system
    keeps them). Best effort: a folder that cannot be synced is no worse off than before."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_durably(src: Path, dst: Path) -> None:
    """os.replace(src, dst) for a file of ours (a note, a record), its data and its new name
    on the disk before this returns: never a zero-length `dst` after a power cut."""
    sync_data(src)
    os.replace(src, dst)
    sync_folder(dst.parent)


def read_regular(path: Path, limit: int) -> bytes | None:
    """Up to `limit` bytes of `path` if it is a regular file; None if it is something else (a
    named pipe, a device). Whoever can write a shared folder can put a pipe or a link to
    /dev/zero under a name Stillmotion reads (a folder's settings, a claim, a failure note):
    opened non-blocking (a pipe waits for a writer otherwise; a regular file ignores it) and
    read no further than `limit`. OSError propagates."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return fh.read(limit)


def write_file(path: Path, text: str, *, exclusive: bool = False, mode: int = 0o644, tag: str = "") -> bool:
    """Write `text` as the file `path`, never half-written: into a temporary beside it (`tag`:
    see temp_path), on the disk, then given its name. It replaces what is there, or with
    `exclusive` takes the name only if it is free (False, and nothing written, when another
    process got there first). `mode`: the file's permissions from its creation (a token is
    never readable by others, even for a moment). OSError propagates; the temporary never
    outlives the call."""
    tmp = temp_path(path.parent, path.suffix or ".tmp", tag)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if exclusive:
            return claim(tmp, path)
        replace_durably(tmp, path)
        return True
    finally:
        remove_temp(tmp)


def claim(src: Path, dst: Path) -> bool:
    """Atomically give `src` the name `dst` unless `dst` exists. True on success.

    `src`'s data is on the disk before it has the name, and the name is once it is given."""
    sync_data(src)
    if src.is_dir():
        claimed = _claim_folder(src, dst)
    else:
        claimed = _claim_file(src, dst)
    if claimed:
        sync_folder(dst.parent)
    return claimed


def _claim_file(src: Path, dst: Path) -> bool:
    try:
        os.link(src, dst)
    except FileExistsError:
        return False
    except OSError:
        # Filesystems without hard links: exclusive-create a placeholder, then replace it.
        try:
            fd = os.open(dst, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        os.close(fd)
        os.replace(src, dst)
        return True
    src.unlink()
    return True


def _claim_folder(src: Path, dst: Path) -> bool:
    """A folder (a TIFF sequence): reserve the name with an exclusive mkdir, then rename
    the finished folder over that empty one (atomic on POSIX; elsewhere the empty
    reservation is removed first)."""
    try:
        os.mkdir(dst)
    except FileExistsError:
        return False
    try:
        os.replace(src, dst)
    except OSError:
        os.rmdir(dst)
        os.rename(src, dst)
    return True


def place_group(temps: dict[str, Path], folder: Path, stem: str, tag: str = "motion") -> dict[str, Path]:
    """Move finished temporaries {suffix: temp} to the first free `stem.tag[-N]` names.

    The primary file (first suffix) decides the index; companions (the .xmp) take
    the same index so a clip and its sidecar always pair. An index where any
    companion name is taken is skipped.
    """
    suffixes = list(temps)
    for names in candidate_names(stem, tag, suffixes):
        targets = {s: folder / n for s, n in names.items()}
        if any(t.exists() for t in targets.values()):
            continue
        placed: dict[str, Path] = {}
        try:
            for suffix in suffixes:
                if not claim(temps[suffix], targets[suffix]):
                    break
                placed[suffix] = targets[suffix]
        finally:
            # Unless all were placed, give back what was taken: after a lost race for this
            # index (the next one is tried), or when a companion could not be placed at all
            # (the disk filled while linking the .xmp): nothing half-placed stays visible.
            if len(placed) < len(suffixes):
                for suffix, target in placed.items():
                    os.replace(target, temps[suffix])
        if len(placed) == len(suffixes):
            return placed
    raise FileExistsError(f"no free output name for {stem}.{tag} in {folder}")
