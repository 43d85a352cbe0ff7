"""Convert photos with embedded ICC profiles (Adobe RGB, ProPhoto, Display P3) to sRGB."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms

_SRGB = ImageCms.createProfile("sRGB")
_LUT_NODES = 33


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


def to_srgb_8bit(image: Image.Image, icc: bytes) -> Image.Image:
    """Exact littleCMS conversion for 8-bit RGB images (perceptual intent)."""
    transform = ImageCms.buildTransform(_profile(icc), _SRGB, "RGB", "RGB",
                                        renderingIntent=ImageCms.Intent.PERCEPTUAL)
    return ImageCms.applyTransform(image, transform)


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
