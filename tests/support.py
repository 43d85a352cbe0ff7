"""Helpers shared by tests (import as `from support import ...`; tests/ is on sys.path)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


def skimage_photo(name: str = "astronaut") -> np.ndarray:
    """A real photo from scikit-image as uint8 RGB."""
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return img[..., :3].astype(np.uint8)


def save_photo(path: Path, pixels: np.ndarray, size: tuple[int, int] | None = None, **save_kwargs) -> Path:
    image = Image.fromarray(pixels)
    if size is not None:
        image = image.resize(size, Image.LANCZOS)
    image.save(path, **save_kwargs)
    return path


# ---- small ICC profiles that Pillow cannot make (it makes sRGB, Lab and XYZ only) ----------------
def _s15f16(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def _icc(space: bytes, pcs: bytes, device_class: bytes, name: str, tags: list[tuple[bytes, bytes]]) -> bytes:
    """An ICC v2 profile: header, tag table, tags (each 4-byte aligned), with a desc and D50 wtpt."""
    text = name.encode() + b"\0"
    tags = [(b"desc", b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(79)),
            (b"wtpt", b"XYZ " + bytes(4) + _s15f16(0.9642) + _s15f16(1.0) + _s15f16(0.8249)), *tags]
    start = 128 + 4 + 12 * len(tags)
    table = data = b""
    for signature, body in tags:
        data += bytes(-(start + len(data)) % 4)
        table += signature + struct.pack(">II", start + len(data), len(body))
        data += body
    body = struct.pack(">I", len(tags)) + table + data
    header = (struct.pack(">I", 128 + len(body)) + b"none" + bytes([2, 0x10, 0, 0]) + device_class + space + pcs
              + bytes(12) + b"acsp" + bytes(28) + _s15f16(0.9642) + _s15f16(1.0) + _s15f16(0.8249) + bytes(48))
    return header + body


def grey_icc(gamma: float, name: str = "Test Grey") -> bytes:
    """A greyscale display profile with a pure gamma tone curve (like Gray Gamma 2.2)."""
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    return _icc(b"GRAY", b"XYZ ", b"mntr", name, [(b"kTRC", curve)])


def cmyk_icc(name: str = "Test CMYK") -> bytes:
    """A CMYK printer profile (CMYK -> Lab, a 3-point grid) whose inks are not Pillow's naive
    CMYK: less pure, and full K is not black."""
    from skimage.color import rgb2lab

    axis = np.linspace(0, 1, 3)
    c, m, y, k = np.meshgrid(axis, axis, axis, axis, indexing="ij")
    rgb = np.stack([(1 - 0.85 * c) * (1 - 0.9 * k) * (1 - 0.1 * m),
                    (1 - 0.8 * m) * (1 - 0.9 * k) * (1 - 0.1 * y),
                    (1 - 0.9 * y) * (1 - 0.9 * k) * (1 - 0.15 * c)], axis=-1)
    lab = rgb2lab(rgb.reshape(-1, 1, 3), illuminant="D50").reshape(-1, 3)
    grid = np.stack([lab[:, 0] / 100 * 65280, (lab[:, 1] + 128) * 256, (lab[:, 2] + 128) * 256], axis=-1)
    identity = b"".join(_s15f16(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    linear = struct.pack(">HH", 0, 65535)
    a2b0 = (b"mft2" + bytes(4) + bytes([4, 3, 3, 0]) + identity + struct.pack(">HH", 2, 2) + linear * 4
            + np.clip(np.round(grid), 0, 65535).astype(">u2").tobytes() + linear * 3)
    return _icc(b"CMYK", b"Lab ", b"prtr", name, [(b"A2B0", a2b0)])


def disk_fills_at_encode(monkeypatch, nth: int) -> list[Path]:
    """The job pipeline's `nth` encode fails as a full disk does (ENOSPC); the others run.
    Returns the list of paths encoded to, which grows as they are."""
    import errno
    import os

    from stillmotion.jobs import pipeline

    real_encode, encodes = pipeline.encode, []

    def encode_until_the_disk_fills(frames, path, **kwargs):
        encodes.append(path)
        if len(encodes) == nth:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_encode(frames, path, **kwargs)

    monkeypatch.setattr(pipeline, "encode", encode_until_the_disk_fills)
    return encodes
