"""Convert photos with embedded ICC profiles (Adobe RGB, ProPhoto, Display P3) to sRGB."""

from __future__ import annotations

import functools
import io
import struct

import numpy as np
from PIL import Image, ImageCms

_SRGB = ImageCms.createProfile("sRGB")
_LUT_NODES = 33
ADOBE_RGB_FROM_EXIF = "Adobe RGB (1998), as the camera's EXIF says (no profile embedded)"


def _profile(icc: bytes) -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(io.BytesIO(icc))


def description(icc: bytes | None) -> str:
    if not icc:
        return "none (assumed sRGB)"
    try:
        return ImageCms.getProfileDescription(_profile(icc)).strip()
    except (OSError, ImageCms.PyCMSError):
        return "unreadable"


def is_srgb(icc: bytes | None) -> bool:
    return not icc or "srgb" in description(icc).lower().replace(" ", "")


def srgb_profile_bytes() -> bytes:
    return ImageCms.ImageCmsProfile(_SRGB).tobytes()


def colour_space(icc: bytes) -> str:
    """The pixels a profile describes: "RGB", "GRAY", "CMYK"... ("" if it cannot be read)."""
    try:
        return _profile(icc).profile.xcolor_space.strip()
    except (OSError, ImageCms.PyCMSError):
        return ""


def to_srgb_8bit(image: Image.Image, icc: bytes, mode: str = "RGB") -> Image.Image:
    """Exact littleCMS conversion of 8-bit pixels in `mode` ("RGB", "L" or "CMYK", the
    profile's colour space) to sRGB RGB (perceptual intent)."""
    transform = ImageCms.buildTransform(_profile(icc), _SRGB, mode, "RGB",
                                        renderingIntent=ImageCms.Intent.PERCEPTUAL)
    return ImageCms.applyTransform(image if image.mode == mode else image.convert(mode), transform)


def lut_to_srgb(icc: bytes) -> np.ndarray:
    """A 33^3 RGB->sRGB LUT (float32, [0,1]) sampled from littleCMS.

    Used for high-bit-depth pixels, which Pillow's ImageCms cannot transform: the
    LUT is applied with trilinear interpolation so 16-bit gradients stay smooth.
    """
    axis = np.round(np.linspace(0, 255, _LUT_NODES)).astype(np.uint8)
    r, g, b = np.meshgrid(axis, axis, axis, indexing="ij")
    grid = np.stack([r, g, b], axis=-1).reshape(_LUT_NODES, -1, 3)
    out = to_srgb_8bit(Image.fromarray(grid, "RGB"), icc)
    return (np.asarray(out, dtype=np.float32) / 255.0).reshape(_LUT_NODES, _LUT_NODES, _LUT_NODES, 3)


def apply_lut(pixels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of float RGB pixels in [0,1] through a cubic LUT."""
    n = lut.shape[0] - 1
    x = np.clip(pixels, 0.0, 1.0) * n
    i0 = np.minimum(np.floor(x).astype(np.int32), n - 1)
    f = (x - i0).astype(np.float32)
    out = np.zeros_like(pixels, dtype=np.float32)
    for dr in (0, 1):
        wr = f[..., 0] if dr else 1 - f[..., 0]
        for dg in (0, 1):
            wg = f[..., 1] if dg else 1 - f[..., 1]
            for db in (0, 1):
                wb = f[..., 2] if db else 1 - f[..., 2]
                w = (wr * wg * wb)[..., None]
                out += w * lut[i0[..., 0] + dr, i0[..., 1] + dg, i0[..., 2] + db]
    return out


def _s15(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


@functools.lru_cache(maxsize=1)
def adobe_rgb_profile() -> bytes:
    """An ICC v2 matrix/shaper profile for Adobe RGB (1998): what a camera set to Adobe RGB means
    when it embeds no profile in its JPEGs (DCF's "option file": EXIF ColorSpace uncalibrated,
    interoperability index R03). Pillow cannot make one, so it is written out: the published
    primaries (Bradford-adapted to D50, as in Adobe's AdobeRGB1998.icc), gamma 563/256, D65 white.
    """
    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)

    name = ADOBE_RGB_FROM_EXIF.encode("ascii")
    desc = (b"desc\0\0\0\0" + struct.pack(">I", len(name) + 1) + name + b"\0"
            + b"\0" * 8 + b"\0\0\0" + b"\0" * 67)              # no Unicode or Mac script versions
    gamma = b"curv\0\0\0\0" + struct.pack(">IH", 1, 563) + b"\0\0"
    tags = [(b"desc", desc), (b"cprt", b"text\0\0\0\0No copyright, use freely\0"),
            (b"wtpt", xyz(0.9504547, 1.0, 1.0890503)),
            (b"rXYZ", xyz(0.6097412, 0.3111115, 0.0194702)),
            (b"gXYZ", xyz(0.2052765, 0.6256714, 0.0608673)),
            (b"bXYZ", xyz(0.1491852, 0.0632172, 0.7445679)),
            (b"rTRC", gamma), (b"gTRC", gamma), (b"bTRC", gamma)]
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for signature, body in tags:
        body += b"\0" * (-len(body) % 4)                      # tags start on 4-byte boundaries
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"\0" * 4 + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
              + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"\0" * 48)
    return header + struct.pack(">I", len(tags)) + table + data
