"""sRGB <-> CIE L*a*b* (D65) in vectorised numpy, and gamut mapping back into sRGB.

Matching and metrics work in Lab because distances there follow perception
(and CIEDE2000 is defined on it). Everything takes arrays of shape (..., 3).
"""

from __future__ import annotations

import cv2
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
    """x (..., 3) times the 3x3 matrix m transposed (m applied to each colour); a 3x4 `m`
    adds its last column (an affine map).

    OpenCV's `transform` (one SIMD pass, no temporaries): 30x faster than the same
    in numpy broadcasting on a statistics copy, and free of OpenBLAS's threads,
    which cost more than the product on small arrays (this runs per frame).
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float32)
    flat = np.ascontiguousarray(x, dtype=dtype).reshape(-1, 1, 3)
    if flat.shape[0] == 0:
        return np.empty(x.shape, dtype)
    return cv2.transform(flat, np.asarray(m, dtype=dtype)).reshape(x.shape)


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


# L*, a*, b* are affine in f(X/Xn), f(Y/Yn), f(Z/Zn): [L, a, b] = M @ f + [-16, 0, 0].
# As 3x4 matrices for `mat3`, both ways.
_F_TO_LAB = np.array([[0.0, 116.0, 0.0], [500.0, -500.0, 0.0], [0.0, 200.0, -200.0]])
_LAB_OFFSET = np.array([-16.0, 0.0, 0.0])
_F_TO_LAB_AFFINE = np.column_stack([_F_TO_LAB, _LAB_OFFSET])
_LAB_TO_F_AFFINE = np.column_stack([np.linalg.inv(_F_TO_LAB), -np.linalg.inv(_F_TO_LAB) @ _LAB_OFFSET])


def linear_to_lab(rgb: np.ndarray) -> np.ndarray:
    xyz = mat3(np.asarray(rgb, dtype=np.float32), _RGB_TO_XYZN)
    f = np.where(xyz > _EPS, np.cbrt(np.maximum(xyz, _EPS)), xyz / _KAPPA + 4.0 / 29.0)
    return mat3(f, _F_TO_LAB_AFFINE)


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    f = mat3(np.asarray(lab, dtype=np.float32), _LAB_TO_F_AFFINE)
    xyz = np.where(f > 6.0 / 29.0, f ** 3, _KAPPA * (f - 4.0 / 29.0))
    return mat3(xyz, _XYZN_TO_RGB)


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
    rgb = np.asarray(rgb, dtype=np.float32)
    out = np.array(rgb)
    flat, colours_out = rgb.reshape(-1, 3), out.reshape(-1, 3)
    if not len(flat):
        return out
    # (Per-pixel tests in OpenCV, and reductions over the three channels written out: numpy's
    # reductions along a length-3 axis cost more than the rest of this on a LUT's nodes.)
    inside = cv2.inRange(flat.reshape(-1, 1, 3), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)).ravel()
    outside = np.flatnonzero(inside == 0)
    if not len(outside):         # the usual case, per frame: nothing to map
        return out
    colours = flat[outside]      # only these (a LUT's saturated corners) pay for the mapping
    y = np.clip(luminance(colours), 0.0, 1.0)[..., None]
    d = colours - y
    with np.errstate(divide="ignore", invalid="ignore"):
        over = np.where(d > 0, (1.0 - y) / d, np.inf)      # largest t keeping y + t*d <= 1
        under = np.where(d < 0, -y / d, np.inf)              # ... and >= 0
    t = np.minimum(over, under)
    t = np.clip(np.minimum(np.minimum(t[:, 0], t[:, 1]), t[:, 2]), 0.0, 1.0)[:, None]
    colours_out[outside] = np.clip(y + t * d, 0.0, 1.0)
    return out
