"""Write a clip's XMP: the sidecar beside it and the same packet inside the video."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Mapping

from ..place import TEMP_PREFIX, claim
from .bmff import embed_xmp
from .packet import MEDIA_TYPES, SEQUENCE_MEDIA_TYPE, build_packet
from .reader import PhotoMetadata

EMBEDDABLE = {".mp4", ".m4v", ".mov"}


def _new_temporary(path: Path) -> tuple[Path, int]:
    """A new hidden file beside `path`, open for writing, with the mode any new file gets
    (0666 less the umask), as the clip beside it has: mkstemp's 0600, then a fixed 0644, made
    the sidecar (GPS and all) readable by everyone under `umask 077`, and not writable by the
    group that shares the folder under `umask 002`."""
    # Beside one of the pipeline's temporaries, named after it (no second leading dot): a run
    # killed while writing leaves it where the sweeps of that temporary find it.
    hidden = path.name if path.name.startswith(TEMP_PREFIX) else f".{path.name}"
    for _ in range(100):
        tmp = path.with_name(f"{hidden}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def write_sidecar(path: str | os.PathLike, packet: bytes) -> None:
    """Create `path` holding `packet`, atomically and never over an existing file.

    The bytes go to a temporary in the same folder first, then take the final name
    with `place.claim` (which never replaces an existing file). Raises FileExistsError
    if `path` exists.
    """
    path = Path(path)
    tmp, fd = _new_temporary(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(packet)
        if not claim(tmp, path):
            raise FileExistsError(f"{path} already exists; not overwriting")
    finally:
        tmp.unlink(missing_ok=True)


def write_clip_metadata(video_path: str | os.PathLike, sidecar_path: str | os.PathLike | None,
                        meta: PhotoMetadata | None, provenance: Mapping[str, Any], *,
                        original_path: str | os.PathLike, carry_gps: bool = True,
                        embed: bool = True) -> bytes:
    """Build the clip's packet once; embed it in `video_path` (MP4/MOV, in place) and
    write it to `sidecar_path` (must not exist). Returns the packet.

    `video_path` is the pipeline's not-yet-visible temporary. The video is done
    first: if embedding fails, no sidecar is left behind.
    """
    video = Path(video_path)
    suffix = video.suffix.lower()
    # A folder (whose temporary name has no suffix) is a TIFF frame sequence.
    media_type = SEQUENCE_MEDIA_TYPE if video.is_dir() else MEDIA_TYPES.get(suffix, "application/octet-stream")
    packet = build_packet(meta, provenance, original_path=original_path, media_type=media_type,
                          carry_gps=carry_gps)
    store_packet(video, sidecar_path, packet, embed=embed)
    return packet


def store_packet(video_path: str | os.PathLike, sidecar_path: str | os.PathLike | None, packet: bytes, *,
                 embed: bool = True) -> None:
    """`packet` embedded in `video_path` (MP4/MOV, in place) and written to `sidecar_path` (must
    not exist), the video first: if embedding fails, no sidecar is left behind."""
    video = Path(video_path)
    if embed and video.suffix.lower() in EMBEDDABLE:
        embed_xmp(video, packet)
    if sidecar_path is not None:
        write_sidecar(sidecar_path, packet)
