"""A Stillmotion clip's own record read back: the settings its XMP says it was made with
(`provenance`, docs/metadata.md "Reproduction"), for `animate --like CLIP`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError, StillmotionError
from .sources import DEFAULT_MAX_XMP_BYTES, parse_packet, read_packet_file

_PREFIX = "Xmp.stillmotion."


def read_clip_record(clip: Path, max_xmp_bytes: int = DEFAULT_MAX_XMP_BYTES) -> dict[str, str]:
    """The clip's record as {name: text}, a struct's fields as "colour/match". `clip`: an MP4 or
    MOV (its embedded packet, else its sidecar), a GIF, WebP or TIFF-sequence folder (its
    sidecar), or the .xmp sidecar itself. An InputError for a file with no Stillmotion record."""
    from ..photo import check_is_file

    clip = Path(clip)
    if not clip.exists() and not clip.is_symlink():   # (said as --like's, not as a photo's)
        raise InputError(f"{clip}: no such file (--like takes a clip Stillmotion made, or the .xmp beside it)")
    if clip.is_dir():      # a TIFF sequence: IMG.motion/ and IMG.motion.xmp beside it
        packet, what = _sidecar(clip.with_name(clip.name + ".xmp"), max_xmp_bytes), clip
    else:
        check_is_file(clip, "Stillmotion clip")
        if clip.suffix.lower() == ".xmp":
            packet, what = read_packet_file(clip, max_xmp_bytes), clip
        else:
            packet, what = embedded_packet(clip) or _sidecar(clip.with_suffix(".xmp"), max_xmp_bytes), clip
    fields = _stillmotion_fields(parse_packet(packet, f"the XMP of {what}")) if packet else {}
    if not fields.get("engine"):
        raise InputError(f"{what}: no Stillmotion record in it (its XMP names no stillmotion:engine); "
                         "--like takes a clip Stillmotion made, or the .xmp beside it")
    return fields


def embedded_packet(clip: Path) -> bytes | None:
    """The XMP packet embedded in a clip, or None: none there, or a file that is not an MP4 or
    QuickTime movie (a GIF, a WebP, WebM, a photo)."""
    from .bmff import read_embedded_xmp

    try:
        return read_embedded_xmp(clip)
    except (OSError, ValueError, StillmotionError):   # (a JobError for a file that is not MP4/QuickTime)
        return None


def _sidecar(path: Path, max_bytes: int) -> bytes | None:
    return read_packet_file(path, max_bytes) if path.is_file() else None


def _stillmotion_fields(xmp: dict[str, Any]) -> dict[str, str]:
    """Xmp.stillmotion.colour/stillmotion:match -> "colour/match"; lists (size, take) as they are."""
    out: dict[str, Any] = {}
    for key, value in xmp.items():
        if key.startswith(_PREFIX):
            out[key[len(_PREFIX):].replace("stillmotion:", "")] = value
    return out
