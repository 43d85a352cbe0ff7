"""Convert photos with embedded ICC profiles (Adobe RGB, ProPhoto, Display P3) to sRGB."""

from __future__ import annotations

import functools
import io
import struct
from typing import Callable

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
    """Whether pixels in this profile are sRGB already (none: assumed so). A matrix/TRC profile
    is judged by its primaries and curves, not its name ("Linear sRGB" has sRGB's primaries and
    gamma 1.0: far from sRGB); any other by its name."""
    if not icc:
        return True
    shaper = _matrix_shaper(icc)
    if shaper is not None:
        curves, matrix = shaper
        srgb_curves, srgb_matrix = _srgb_shaper()
        probe = np.linspace(0.0, 1.0, 65, dtype=np.float32)
        return (np.abs(matrix - srgb_matrix).max() < 2e-3
                and all(np.abs(c(probe) - s(probe)).max() < 1e-3 for c, s in zip(curves, srgb_curves)))
    name = description(icc).lower().replace(" ", "")
    return "srgb" in name and "linear" not in name


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


# ---- Matrix/TRC profiles (Adobe RGB, ProPhoto, Display P3, Rec. 2020, linear spaces), exactly -----
# These profiles are three tone curves and a matrix to the D50 connection space; littleCMS uses
# them (there being no LUT tags) for every intent. Worked out in float here, 16-bit pixels keep
# their precision: a table sampled from 8-bit conversions put ProPhoto's deep shadows up to three
# levels too light, and colours between its nodes up to 24 levels off.

Curve = Callable[[np.ndarray], np.ndarray]


def _tags(icc: bytes) -> dict[bytes, bytes]:
    """The profile's tags by signature ({} for a profile too broken to list them)."""
    try:
        count = struct.unpack_from(">I", icc, 128)[0]
        found = {}
        for i in range(min(count, 256)):
            signature, offset, size = struct.unpack_from(">4sII", icc, 132 + 12 * i)
            if offset + size <= len(icc):
                found[signature] = icc[offset:offset + size]
        return found
    except struct.error:
        return {}


def _xyz(body: bytes | None) -> np.ndarray | None:
    if not body or body[:4] != b"XYZ " or len(body) < 20:
        return None
    return np.array(struct.unpack_from(">3i", body, 8), dtype=np.float64) / 65536.0


def _curve(body: bytes | None) -> Curve | None:
    """A `curv` or `para` tone curve as a function of [0, 1] values (None if not one)."""
    if not body or len(body) < 12:
        return None
    try:
        if body[:4] == b"curv":
            count = struct.unpack_from(">I", body, 8)[0]
            if count == 0:
                return lambda x: x
            if count == 1:
                gamma = struct.unpack_from(">H", body, 12)[0] / 256.0
                return lambda x: np.power(np.maximum(x, 0.0), gamma)
            table = np.array(struct.unpack_from(f">{count}H", body, 12), dtype=np.float64) / 65535.0
            nodes = np.linspace(0.0, 1.0, count)
            return lambda x: np.interp(x, nodes, table)
        if body[:4] == b"para":
            kind = struct.unpack_from(">H", body, 8)[0]
            n = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}.get(kind)
            if n is None:
                return None
            g, a, b, c, d, e, f = _para_parameters(kind, np.array(struct.unpack_from(f">{n}i", body, 12)) / 65536.0)
            return lambda x: _parametric(np.asarray(x, dtype=np.float64), g, a, b, c, d, e, f)
    except struct.error:
        return None
    return None


def _para_parameters(kind: int, p: np.ndarray) -> tuple[float, ...]:
    """(g, a, b, c, d, e, f) of ICC parametric curve types 0-4, as type 4 reads them."""
    if kind == 0:      # Y = X^g
        return p[0], 1.0, 0.0, 0.0, 0.0, 0.0, 0.0
    g, a, b = p[0], p[1], p[2]
    if kind == 1:      # Y = (aX + b)^g for X >= -b/a, else 0
        return g, a, b, 0.0, -b / a, 0.0, 0.0
    if kind == 2:      # ... + c, else c
        return g, a, b, 0.0, -b / a, p[3], p[3]
    if kind == 3:      # (aX + b)^g for X >= d, else cX
        return g, a, b, p[3], p[4], 0.0, 0.0
    return tuple(p)    # (aX + b)^g + e for X >= d, else cX + f


def _parametric(x: np.ndarray, g: float, a: float, b: float, c: float, d: float, e: float,
                f: float) -> np.ndarray:
    return np.where(x >= d, np.power(np.maximum(a * x + b, 0.0), g) + e, c * x + f)


def _matrix_shaper(icc: bytes) -> tuple[list[Curve], np.ndarray] | None:
    """(the three tone curves, the RGB -> XYZ(D50) matrix) of an RGB matrix/TRC profile; None for
    any other (a LUT-based profile, grey, CMYK, unreadable)."""
    if icc[16:20] != b"RGB ":   # (the header's colour space)
        return None
    tags = _tags(icc)
    if any(t in tags for t in (b"A2B0", b"A2B1", b"A2B2")):   # littleCMS prefers the tables
        return None
    columns = [_xyz(tags.get(t)) for t in (b"rXYZ", b"gXYZ", b"bXYZ")]
    curves = [_curve(tags.get(t)) for t in (b"rTRC", b"gTRC", b"bTRC")]
    if any(c is None for c in columns) or any(c is None for c in curves):
        return None
    return curves, np.column_stack(columns)   # type: ignore[return-value]


@functools.lru_cache(maxsize=1)
def _srgb_shaper() -> tuple[list[Curve], np.ndarray]:
    """littleCMS's own sRGB profile (the target of every conversion here), parsed the same way."""
    shaper = _matrix_shaper(srgb_profile_bytes())
    assert shaper is not None
    return shaper


# The curves are tabulated at every 16-bit level (16-bit pixels are exact indices), not raised
# to a power per pixel.
_LEVELS16 = np.linspace(0.0, 1.0, 65536)


def _level16(values: np.ndarray) -> np.ndarray:
    """The 16-bit level (a table index) of each value, clipped to [0, 1]."""
    return np.rint(np.clip(values, 0.0, 1.0) * 65535.0).astype(np.int32)


def exact_to_srgb(icc: bytes) -> Callable[[np.ndarray], np.ndarray] | None:
    """For a matrix/TRC RGB profile: a function taking float RGB pixels (..., 3) in [0, 1] to sRGB
    (float32, [0, 1]; colours outside sRGB clipped per channel, as littleCMS does for 8-bit
    photos), worked out in float; None for any other profile (use `lut_to_srgb`)."""
    shaper = _matrix_shaper(icc)
    if shaper is None:
        return None
    from .space import linear_to_srgb, mat3

    curves, to_xyz = shaper
    to_srgb = np.linalg.inv(_srgb_shaper()[1]) @ to_xyz
    tables = [np.asarray(curve(_LEVELS16), dtype=np.float32) for curve in curves]
    encode = linear_to_srgb(_LEVELS16.astype(np.float32))

    def convert(pixels: np.ndarray) -> np.ndarray:
        index = _level16(pixels)
        linear = np.stack([t.take(index[..., c]) for c, t in enumerate(tables)], axis=-1)
        return encode.take(_level16(mat3(linear, to_srgb.astype(np.float32))))
    return convert


def exact_grey_to_srgb(icc: bytes) -> Callable[[np.ndarray], np.ndarray] | None:
    """For a grey profile with a tone curve (Gray Gamma 2.2, Dot Gain 20%, a linear grey): float
    grey values in [0, 1] to sRGB, worked out in float; None for any other profile."""
    if len(icc) < 20 or icc[16:20] != b"GRAY":
        return None
    curve = _curve(_tags(icc).get(b"kTRC"))
    if curve is None:
        return None
    from .space import linear_to_srgb

    table = linear_to_srgb(np.clip(curve(_LEVELS16), 0.0, 1.0).astype(np.float32))
    return lambda pixels: table.take(_level16(pixels))


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
    return matrix_trc_profile(ADOBE_RGB_FROM_EXIF, ((0.6097412, 0.3111115, 0.0194702),
                                                    (0.2052765, 0.6256714, 0.0608673),
                                                    (0.1491852, 0.0632172, 0.7445679)), 563 / 256)


def matrix_trc_profile(name: str, colorants: tuple[tuple[float, float, float], ...], gamma: float) -> bytes:
    """An ICC v2 RGB display profile: three D50-adapted colorants (XYZ of red, green, blue), one
    pure-gamma tone curve for all three channels, a D65 white point."""
    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)

    text = name.encode("ascii")
    desc = (b"desc\0\0\0\0" + struct.pack(">I", len(text) + 1) + text + b"\0"
            + b"\0" * 8 + b"\0\0\0" + b"\0" * 67)              # no Unicode or Mac script versions
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    tags = [(b"desc", desc), (b"cprt", b"text\0\0\0\0No copyright, use freely\0"),
            (b"wtpt", xyz(0.9504547, 1.0, 1.0890503)),
            *((signature, xyz(*c)) for signature, c in zip((b"rXYZ", b"gXYZ", b"bXYZ"), colorants)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
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
