"""Embed an XMP packet in an MP4 or QuickTime file, in place.

MP4 (ISO BMFF): XMP spec part 3 puts the packet in a top-level `uuid` box with
UUID BE7ACFCB-97A9-42E8-9C71-999491E3AFAC. We append it at the end of the file,
so no sample offset (stco/co64) moves. A small `free` box follows it: exiv2
(0.28, what pyexiv2 ships) reads a uuid box's payload as if it were as long as
the whole box, i.e. 24 bytes past its end, and fails when the box is the last
thing in the file. The padding keeps that read inside the file; every reader
skips `free`.

QuickTime (.mov): the packet goes in `moov/udta/XMP_`. The moov box grows; when
media data follows moov (fast-start layout) every chunk offset pointing past moov
is shifted by the growth, and the tail of the file is rewritten after it.

Both work on a file that is not visible yet (the pipeline's temporary), and an
XMP box already there is replaced, not duplicated.
"""

from __future__ import annotations

import os
import shutil
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from ..errors import JobError

XMP_UUID = uuid.UUID("BE7ACFCB-97A9-42E8-9C71-999491E3AFAC").bytes
_PAD = struct.pack(">I4s", 24, b"free") + bytes(16)
_MAX_MOOV = 256 * 1024 * 1024
# Containers on the way from moov to the chunk offset tables.
_SAMPLE_TABLE_PATH = {b"trak", b"mdia", b"minf", b"stbl"}


@dataclass
class Box:
    type: bytes
    start: int       # offset of the box header
    header: int      # 8 or 16 bytes
    size: int        # whole box, header included

    @property
    def end(self) -> int:
        return self.start + self.size


def embed_xmp(video_path: str | os.PathLike, packet: bytes) -> None:
    """Put `packet` into the MP4/MOV at `video_path` (modified in place)."""
    path = Path(video_path)
    with open(path, "r+b") as fh:
        top = list(_boxes_in_file(fh, path))
        kind = _container_kind(fh, top, path)
    if kind == "mov":
        _embed_mov(path, top, packet)
    else:
        _embed_mp4(path, top, packet)


def read_embedded_xmp(video_path: str | os.PathLike) -> bytes | None:
    """The XMP packet embedded by `embed_xmp` (uuid box, else moov/udta/XMP_), or None."""
    path = Path(video_path)
    with open(path, "rb") as fh:
        top = list(_boxes_in_file(fh, path))
        for box in top:
            if box.type == b"uuid":
                fh.seek(box.start + box.header)
                if fh.read(16) == XMP_UUID:
                    return fh.read(box.size - box.header - 16)
        moov = next((b for b in top if b.type == b"moov"), None)
        if moov is None:
            return None
        fh.seek(moov.start)
        data = fh.read(moov.size)
    for child in _boxes_in(data, moov.header, len(data)):
        if child.type == b"udta":
            for item in _boxes_in(data, child.start + child.header, child.end, tolerate_terminator=True):
                if item.type == b"XMP_":
                    return data[item.start + item.header:item.end]
    return None


# ---------------------------------------------------------------- MP4
def _embed_mp4(path: Path, top: list[Box], packet: bytes) -> None:
    box = struct.pack(">I4s", 8 + 16 + len(packet), b"uuid") + XMP_UUID + packet
    with open(path, "r+b") as fh:
        for old in top:
            if old.type == b"uuid":
                fh.seek(old.start + old.header)
                if fh.read(16) == XMP_UUID:
                    fh.seek(old.start + 4)
                    fh.write(b"free")  # retire the old packet; its bytes become padding
        fh.seek(0, os.SEEK_END)
        fh.write(box + _PAD)
        fh.flush()
        os.fsync(fh.fileno())


# ---------------------------------------------------------------- MOV
def _embed_mov(path: Path, top: list[Box], packet: bytes) -> None:
    moov = next((b for b in top if b.type == b"moov"), None)
    if moov is None:
        raise JobError(f"{path.name}: QuickTime file has no moov box")
    if moov.size > _MAX_MOOV:
        raise JobError(f"{path.name}: moov box of {moov.size} bytes is too large to rewrite")
    with open(path, "rb") as fh:
        fh.seek(moov.start)
        old = fh.read(moov.size)
    new = _moov_with_xmp(old, moov.header, packet)
    growth = len(new) - len(old)
    media_after = any(b.start >= moov.end for b in top)
    if media_after and growth:
        new = _shift_chunk_offsets(new, moov.header, threshold=moov.end, delta=growth, name=path.name)
    if moov.end == os.path.getsize(path):
        with open(path, "r+b") as fh:
            fh.seek(moov.start)
            fh.write(new)
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
        return
    # moov in the middle: write head + new moov + tail to a sibling, then swap it in.
    sibling = path.with_name(path.name + ".xmp-embed")
    try:
        with open(path, "rb") as src, open(sibling, "xb") as dst:
            _copy_range(src, dst, 0, moov.start)
            dst.write(new)
            src.seek(moov.end)
            shutil.copyfileobj(src, dst, 1024 * 1024)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(sibling, path)  # both names are ours and hidden: path is the pipeline's temporary
    finally:
        sibling.unlink(missing_ok=True)


def _moov_with_xmp(moov: bytes, header: int, packet: bytes) -> bytes:
    """moov with udta/XMP_ = packet (replacing any XMP_), sizes of udta and moov updated."""
    xmp_atom = struct.pack(">I4s", 8 + len(packet), b"XMP_") + packet
    children = list(_boxes_in(moov, header, len(moov)))
    udta = next((c for c in children if c.type == b"udta"), None)
    if udta is None:
        body = moov[header:] + _box(b"udta", xmp_atom)
    else:
        items = list(_boxes_in(moov, udta.start + udta.header, udta.end, tolerate_terminator=True))
        kept = b"".join(moov[i.start:i.end] for i in items if i.type != b"XMP_")
        # An old-style udta may end with a 32-bit zero terminator: keep it last.
        last = items[-1].end if items else udta.start + udta.header
        terminator = moov[last:udta.end]
        new_udta = _box(b"udta", kept + xmp_atom + terminator)
        body = moov[header:udta.start] + new_udta + moov[udta.end:]
    return _box(b"moov", body)


def _shift_chunk_offsets(moov: bytes, header: int, *, threshold: int, delta: int, name: str) -> bytes:
    """Add `delta` to every stco/co64 entry >= `threshold` (media data that moved)."""
    out = bytearray(moov)

    def walk(start: int, end: int) -> None:
        for box in _boxes_in(moov, start, end):
            body = box.start + box.header
            if box.type in _SAMPLE_TABLE_PATH:
                walk(body, box.end)
            elif box.type in (b"stco", b"co64"):
                (count,) = struct.unpack_from(">I", moov, body + 4)
                width, fmt = (4, ">I") if box.type == b"stco" else (8, ">Q")
                if body + 8 + count * width > box.end:
                    raise JobError(f"{name}: corrupt {box.type.decode()} table")
                for i in range(count):
                    at = body + 8 + i * width
                    (offset,) = struct.unpack_from(fmt, moov, at)
                    if offset >= threshold:
                        offset += delta
                        if box.type == b"stco" and offset > 0xFFFFFFFF:
                            raise JobError(f"{name}: chunk offsets overflow 32 bits; cannot embed XMP")
                        struct.pack_into(fmt, out, at, offset)

    walk(header, len(moov))
    return bytes(out)


# ---------------------------------------------------------------- box parsing
def _box(kind: bytes, body: bytes) -> bytes:
    size = 8 + len(body)
    if size <= 0xFFFFFFFF:
        return struct.pack(">I4s", size, kind) + body
    return struct.pack(">I4sQ", 1, kind, size + 8) + body


def _boxes_in(data: bytes, start: int, end: int, *, tolerate_terminator: bool = False) -> Iterator[Box]:
    pos = start
    while pos < end:
        if end - pos < 8:
            if tolerate_terminator and data[pos:end] == bytes(end - pos):
                return
            raise JobError("malformed box structure (trailing bytes)")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                raise JobError("malformed box structure (short 64-bit header)")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            if tolerate_terminator and kind == b"\0\0\0\0":
                return
            size = end - pos
        if size < header or pos + size > end:
            raise JobError(f"malformed box structure ({kind!r} of {size} bytes at {pos})")
        yield Box(kind, pos, header, size)
        pos += size


def _boxes_in_file(fh: BinaryIO, path: Path) -> Iterator[Box]:
    """Top-level boxes; a size-0 last box ("to end of file") gets its real size written."""
    file_size = os.fstat(fh.fileno()).st_size
    pos = 0
    while pos < file_size:
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            raise JobError(f"{path.name}: not an MP4/QuickTime file (trailing bytes)")
        size, kind = struct.unpack_from(">I4s", head)
        header = 8
        if size == 1:
            if len(head) < 16:
                raise JobError(f"{path.name}: not an MP4/QuickTime file (short header)")
            (size,) = struct.unpack_from(">Q", head, 8)
            header = 16
        elif size == 0:
            size = file_size - pos
            if size > 0xFFFFFFFF:
                raise JobError(f"{path.name}: open-ended box too large to close")
            if fh.writable():
                fh.seek(pos)
                fh.write(struct.pack(">I", size))  # it will no longer be last
        if size < header or pos + size > file_size:
            raise JobError(f"{path.name}: not an MP4/QuickTime file (bad box {kind!r} at {pos})")
        yield Box(kind, pos, header, size)
        pos += size


def _container_kind(fh: BinaryIO, top: list[Box], path: Path) -> str:
    if not top or not any(b.type == b"moov" for b in top):
        raise JobError(f"{path.name}: not an MP4/QuickTime file (no moov box)")
    first = top[0]
    if first.type == b"ftyp":
        fh.seek(first.start + first.header)
        if fh.read(4) == b"qt  ":
            return "mov"
        return "mp4"
    return "mov"  # classic QuickTime files have no ftyp


def _copy_range(src: BinaryIO, dst: BinaryIO, start: int, length: int) -> None:
    src.seek(start)
    remaining = length
    while remaining:
        chunk = src.read(min(remaining, 1024 * 1024))
        if not chunk:
            raise JobError("file shrank while embedding XMP")
        dst.write(chunk)
        remaining -= len(chunk)
