"""sRGB <-> CIE L*a*b* (D65) in vectorised numpy, and gamut mapping back into sRGB.

Matching and metrics work in Lab because distances there follow perception
(and CIEDE2000 is defined on it). Everything takes arrays of shape (..., 3).
"""

from __future__ import annotations

import numpy as np

# sRGB (D65) linear RGB -> XYZ, and the D65 white point.
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE = _RGB_TO_XYZ.sum(axis=1)
# Rows fold the white-point normalisation into the matrices.
_RGB_TO_XYZN = _RGB_TO_XYZ / _WHITE[:, None]
_XYZN_TO_RGB = _XYZ_TO_RGB * _WHITE[None, :]
LUMA = _RGB_TO_XYZ[1]                      # relative luminance Y of linear RGB
_EPS = (6.0 / 29.0) ** 3
_KAPPA = 3.0 * (6.0 / 29.0) ** 2


def mat3(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """x (..., 3) times the 3x3 matrix m transposed, i.e. m applied to each colour.

    Written out rather than `x @ m.T`: on small arrays OpenBLAS's threads cost
    more than the product (badly so on a busy machine), and this runs per frame.
    """
    m = np.asarray(m, dtype=np.float32)
    x0, x1, x2 = x[..., 0:1], x[..., 1:2], x[..., 2:3]
    return x0 * m[:, 0] + x1 * m[:, 1] + x2 * m[:, 2]


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance Y (..., ) of linear RGB."""
    w = LUMA.astype(np.float32)
    return rgb[..., 0] * w[0] + rgb[..., 1] * w[1] + rgb[..., 2] * w[2]


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((np.maximum(c, 0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float32)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.maximum(c, 0.0031308) ** (1 / 2.4) - 0.055)


def linear_to_lab(rgb: np.ndarray) -> np.ndarray:
    xyz = mat3(rgb, _RGB_TO_XYZN)
    f = np.where(xyz > _EPS, np.cbrt(np.maximum(xyz, _EPS)), xyz / _KAPPA + 4.0 / 29.0)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1).astype(np.float32)


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    lab = np.asarray(lab, dtype=np.float32)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = np.where(f > 6.0 / 29.0, f ** 3, _KAPPA * (f - 4.0 / 29.0))
    return mat3(xyz, _XYZN_TO_RGB).astype(np.float32)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> Lab (L* 0..100)."""
    return linear_to_lab(srgb_to_linear(rgb))


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """Lab -> sRGB, gamut-mapped into [0, 1] (see `fit_gamut`)."""
    return linear_to_srgb(fit_gamut(lab_to_linear(lab)))


def fit_gamut(rgb: np.ndarray) -> np.ndarray:
    """Bring linear RGB into [0, 1] by desaturating toward the grey of equal luminance.

    Clipping channels one by one flattens highlight detail and shifts hue; this
    keeps luminance (so distinct highlight levels stay distinct) and hue, and
    only gives up chroma where the colour cannot be shown.
    """
    y = np.clip(luminance(rgb), 0.0, 1.0)[..., None]
    d = rgb - y
    with np.errstate(divide="ignore", invalid="ignore"):
        over = np.where(d > 0, (1.0 - y) / d, np.inf)      # largest t keeping y + t*d <= 1
        under = np.where(d < 0, -y / d, np.inf)              # ... and >= 0
    t = np.clip(np.minimum(over, under).min(axis=-1, keepdims=True), 0.0, 1.0)
    return np.clip(y + t * d, 0.0, 1.0).astype(np.float32)
