"""The one door to pyexiv2.

libexiv2 keeps global state (namespace registry, XMP toolkit) and is not
thread-safe, while the daemon reads metadata from several worker threads. Every
pyexiv2 call in Stillmotion goes through `LOCK`; nothing else imports pyexiv2.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyexiv2

from ..errors import one_line

LOCK = threading.Lock()

# Stillmotion's own XMP namespace (per-photo prompt in, clip provenance out).
STILLMOTION_NS = "http://ns.stillmotion.app/1.0/"
STILLMOTION_PREFIX = "stillmotion"

with LOCK:
    # Failures reach us as exceptions (turned into warnings/errors with context);
    # exiv2's own stderr chatter would only duplicate them.
    pyexiv2.set_log_level(4)
    # Register before any file is parsed so our properties read back as
    # Xmp.stillmotion.* whatever prefix a file happens to bind the URI to.
    pyexiv2.registerNs(STILLMOTION_NS, STILLMOTION_PREFIX)


@dataclass
class Embedded:
    """What exiv2 found inside one file."""

    xmp: dict[str, Any] = field(default_factory=dict)
    exif: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)   # readable, for warnings
    raw_xmp: bytes = b""                                  # the packet, when exiv2 parsed nothing


def xmp_from_packet(data: bytes) -> dict[str, Any]:
    """Parse an XMP packet (sidecar bytes). Raises RuntimeError on malformed XMP."""
    with LOCK:
        image = pyexiv2.ImageData(data)
        try:
            return image.read_xmp()
        finally:
            image.close()


def _exiv2_name(path: Path) -> tuple[str, str]:
    """(name, encoding) that pyexiv2 turns back into the file's exact bytes. It encodes the
    name as UTF-8, which fails (UnicodeEncodeError) for a name that is not UTF-8 on disk (a
    Latin-1 name from an old share or card); Latin-1 maps every byte to one character."""
    return os.fsencode(path).decode("latin-1"), "latin-1"


def _open(path: Path) -> pyexiv2.Image:
    """The file opened by exiv2, by its name or else from its bytes. On Windows exiv2 opens a
    name through the ANSI code page, which neither pyexiv2's UTF-8 nor any one code page gets
    right for every name: "München", a user "Jürgen"'s Pictures folder, "桜.jpg" on a German
    system were 'Failed to open the data source', and the clip lost the photo's title,
    keywords, date and place. Read by Python, the bytes need no name. (Photos only: under 2 GB.)"""
    try:
        return pyexiv2.Image(*_exiv2_name(path))
    except RuntimeError as exc:
        failure = exc
    try:
        data = path.read_bytes() if path.stat().st_size < 2**31 else b""   # (ImageData's limit)
    except OSError:
        data = b""
    try:
        if data:
            return pyexiv2.ImageData(data)
    except (RuntimeError, ValueError):
        pass
    raise failure   # (not there, unreadable, not an image: exiv2's own words on the name say so)


def read_file(path: Path) -> Embedded:
    """XMP and EXIF embedded in an image or video file; problems are reported, not raised."""
    out = Embedded()
    with LOCK:
        try:
            image = _open(path)
        except (RuntimeError, ValueError) as exc:
            out.problems.append(one_line(exc))
            return out
        try:
            for kind in ("xmp", "exif"):
                try:
                    setattr(out, kind, getattr(image, f"read_{kind}")())
                except (RuntimeError, UnicodeDecodeError, ValueError) as exc:
                    out.problems.append(f"{kind}: {one_line(exc)}")
            if not out.xmp:
                # exiv2 drops an unparseable packet with only a log line: keep the raw
                # packet so the caller can say what is wrong with it.
                try:
                    out.raw_xmp = image.read_raw_xmp().encode("utf-8")
                except UnicodeDecodeError:   # (exiv2 dropped it as silently)
                    out.problems.append("xmp: the XMP packet is not UTF-8 text (XMP must be)")
                except RuntimeError:
                    out.raw_xmp = b""
        finally:
            image.close()
    return out


