"""Colour-fidelity metrics used by tests and benchmarks.

- `signature_delta_e`: CIEDE2000 between two images' colour statistics. The
  statistics ("signature") are the 5/25/50/75/95 % quantiles of L*, a* and b*,
  taken as five Lab triplets; comparing them is insensitive to small motion (a
  moving frame is compared with a still photo) yet sees a white-balance shift
  (a*/b* move), desaturation (the a*/b* spread shrinks) and gamma (L* moves).
- `clip_delta_e`: the mean of that over a clip, frame by frame.
- `flicker`: standard deviation of the per-frame mean L* after removing a
  quadratic trend, so slow drift or a fade does not count, only frame-to-frame
  jumps.
- `psnr`, `pixel_delta_e`: pixel-wise, for frames that should equal the photo.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .space import srgb_to_lab

SIGNATURE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (kL = kC = kH = 1) between Lab arrays (..., 3)."""
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    L1, a1, b1 = np.moveaxis(lab1, -1, 0)
    L2, a2, b2 = np.moveaxis(lab2, -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2.0
    g = 0.5 * (1.0 - np.sqrt(c_bar ** 7 / (c_bar ** 7 + 25.0 ** 7)))
    a1p, a2p = a1 * (1.0 + g), a2 * (1.0 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0
    zero = (c1p * c2p) == 0
    dh = h2p - h1p
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(zero, 0.0, dh)
    dL, dC = L2 - L1, c2p - c1p
    dH = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2.0)
    L_bar, c_bar_p = (L1 + L2) / 2.0, (c1p + c2p) / 2.0
    h_sum = h1p + h2p
    h_bar = np.where(np.abs(h1p - h2p) > 180.0,
                     np.where(h_sum < 360.0, h_sum + 360.0, h_sum - 360.0), h_sum) / 2.0
    h_bar = np.where(zero, h_sum, h_bar)
    t = (1.0 - 0.17 * np.cos(np.radians(h_bar - 30.0)) + 0.24 * np.cos(np.radians(2.0 * h_bar))
         + 0.32 * np.cos(np.radians(3.0 * h_bar + 6.0)) - 0.20 * np.cos(np.radians(4.0 * h_bar - 63.0)))
    d_theta = 30.0 * np.exp(-(((h_bar - 275.0) / 25.0) ** 2))
    r_c = 2.0 * np.sqrt(c_bar_p ** 7 / (c_bar_p ** 7 + 25.0 ** 7))
    s_l = 1.0 + 0.015 * (L_bar - 50.0) ** 2 / np.sqrt(20.0 + (L_bar - 50.0) ** 2)
    s_c = 1.0 + 0.045 * c_bar_p
    s_h = 1.0 + 0.015 * c_bar_p * t
    r_t = -np.sin(np.radians(2.0 * d_theta)) * r_c
    return np.sqrt((dL / s_l) ** 2 + (dC / s_c) ** 2 + (dH / s_h) ** 2
                   + r_t * (dC / s_c) * (dH / s_h))


def _lab_pixels(frame: np.ndarray, max_pixels: int = 200_000) -> np.ndarray:
    """Lab of a frame's pixels, subsampled on a regular grid beyond `max_pixels`."""
    step = max(1, int(np.ceil(np.sqrt(frame.shape[0] * frame.shape[1] / max_pixels))))
    return srgb_to_lab(np.asarray(frame, dtype=np.float32)[::step, ::step]).reshape(-1, 3)


def colour_signature(frame: np.ndarray) -> np.ndarray:
    """(5, 3) Lab triplets: the signature quantiles of L*, a*, b* (see module doc)."""
    return np.quantile(_lab_pixels(frame), SIGNATURE_QUANTILES, axis=0)


def signature_delta_e(frame: np.ndarray, reference: np.ndarray) -> float:
    """Mean CIEDE2000 between two images' colour signatures."""
    return float(ciede2000(colour_signature(frame), colour_signature(reference)).mean())


def clip_delta_e(frames: Iterable[np.ndarray], references: Iterable[np.ndarray] | np.ndarray) -> float:
    """Mean over frames of `signature_delta_e`; `references` is one image or one per frame."""
    if isinstance(references, np.ndarray) and references.ndim == 3:
        ref_sig = colour_signature(references)
        values = [float(ciede2000(colour_signature(f), ref_sig).mean()) for f in frames]
    else:
        values = [signature_delta_e(f, r) for f, r in zip(frames, references, strict=True)]
    return float(np.mean(values))


def mean_lightness(frames: Iterable[np.ndarray]) -> np.ndarray:
    """Mean L* of every pixel of each frame (no subsampling: flicker is a small number)."""
    return np.array([float(srgb_to_lab(np.asarray(f, dtype=np.float32))[..., 0].mean(dtype=np.float64))
                     for f in frames])


def flicker(lightness: Sequence[float] | Iterable[np.ndarray]) -> float:
    """Std of the per-frame mean L* with its quadratic trend removed.

    Accepts the per-frame mean L* values or the frames themselves.
    """
    values = list(lightness)
    if values and isinstance(values[0], np.ndarray) and np.ndim(values[0]) == 3:
        values = list(mean_lightness(values))
    y = np.asarray(values, dtype=np.float64)
    if y.size < 4:
        return 0.0
    t = np.linspace(-1.0, 1.0, y.size)
    trend = np.polyval(np.polyfit(t, y, 2), t)
    return float(np.std(y - trend))


def psnr(frame: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for [0, 1] images of the same size."""
    mse = float(np.mean((np.asarray(frame, np.float64) - np.asarray(reference, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def pixel_delta_e(frame: np.ndarray, reference: np.ndarray) -> float:
    """Mean per-pixel CIEDE2000 between two aligned images of the same size."""
    return float(ciede2000(srgb_to_lab(frame), srgb_to_lab(reference)).mean())
