"""Compact colour statistics of an image, and the smooth Lab transforms fitted between two sets.

The statistics are few and robust (measured on a downsampled frame, averaged
over time): the mean Lab colour, quantiles of L*, and for each of three tonal
bands (shadows, midtones, highlights) the mean L* and the mean and spread of
a* and b*.

Two transform families, both functions of L* only (so they are tabulated over
L* once and applied to any number of colours with one gather):

- `match_statistics`: the full correction, low-dimensional so that it cannot
  follow the content of one frame: a monotone tone curve through matched L*
  quantiles (black and white pinned, so highlights are never clipped) and, per
  tonal band, a chroma gain and offset on a*/b* (white balance shifts more in
  highlights than in shadows; desaturation scales the spread).
- `balance_exposure`: what flicker is made of, and nothing more: an exposure
  gain on L* (a gain in linear light is a gain on L*) and an a*/b* offset.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

L_QUANTILES = np.array([0.01, 0.05, 0.15, 0.3, 0.5, 0.7, 0.85, 0.95, 0.99])
N_BANDS = 3
_N_L = len(L_QUANTILES)
_SAMPLES = np.linspace(0.0, 100.0, 1001, dtype=np.float32)   # L* at the table rows
_ROWS_PER_L = 10.0
MIN_SPREAD = 0.05          # a*/b* spread (std) below which a band counts as neutral grey


@dataclass(frozen=True)
class ColourStats:
    mean: np.ndarray          # (3,) mean L*, a*, b*
    l_quantiles: np.ndarray   # (9,) L* at L_QUANTILES
    band_l: np.ndarray        # (3,) mean L* of each tonal band
    band_mean: np.ndarray     # (3, 2) mean a*, b* per band
    band_std: np.ndarray      # (3, 2) std of a*, b* per band

    @classmethod
    def measure(cls, lab: np.ndarray) -> "ColourStats":
        """Statistics of Lab pixels (..., 3)."""
        # L*, a*, b* as separate arrays: numpy's gathers and sums over interleaved channels
        # cost several times more than over contiguous ones (this runs twice a frame).
        planes = [p.ravel() for p in cv2.split(np.ascontiguousarray(lab, dtype=np.float32).reshape(-1, 1, 3))]
        n = len(planes[0])
        pos, kth, bounds = _ranks(n)
        # A partial sort of L* is enough: the order statistics we need, and the tonal bands
        # as the runs of ranks between them.
        order = np.argpartition(planes[0], kth)
        lq = np.interp(pos, kth, planes[0][order[kth]])
        ranked = np.stack([p.take(order) for p in planes]).astype(np.float64)   # (3, n), by rank
        counts = np.diff(bounds).astype(np.float64)
        sums = np.add.reduceat(ranked, bounds[:-1], axis=1)
        squares = np.add.reduceat(ranked[1:] * ranked[1:], bounds[:-1], axis=1)
        empty = counts == 0          # (only when n < 3; reduceat gives a pixel, not 0, there)
        sums[:, empty], squares[:, empty] = 0.0, 0.0
        band_mean = (sums / np.maximum(counts, 1.0)).T                                # (3 bands, L a b)
        band_var = np.maximum(squares.T / np.maximum(counts, 1.0)[:, None] - band_mean[:, 1:] ** 2, 0.0)
        return cls(sums.sum(axis=1) / n, lq, band_mean[:, 0], band_mean[:, 1:], np.sqrt(band_var))

    def vector(self) -> np.ndarray:
        return np.concatenate([self.mean, self.l_quantiles, self.band_l, self.band_mean.ravel(),
                               self.band_std.ravel()])

    @classmethod
    def from_vector(cls, v: np.ndarray) -> "ColourStats":
        """Inverse of `vector`, repairing what averaging/extrapolating over time may bend."""
        mean, v = v[:3], v[3:]
        lq = np.maximum.accumulate(np.clip(v[:_N_L], 0.0, 100.0))
        v = v[_N_L:]
        band_l = np.maximum.accumulate(np.clip(v[:N_BANDS], 0.0, 100.0))
        band_mean = v[N_BANDS:3 * N_BANDS].reshape(N_BANDS, 2)
        band_std = np.maximum(v[3 * N_BANDS:].reshape(N_BANDS, 2), 0.0)
        return cls(mean, lq, band_l, band_mean, band_std)


@functools.lru_cache(maxsize=16)
def _ranks(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For n pixels: the fractional ranks of the L* quantiles, the ranks a partial sort must
    place (the quantiles' neighbours and the band edges), and the bands' rank bounds."""
    pos = L_QUANTILES * (n - 1)
    edges = [i * n // N_BANDS for i in range(1, N_BANDS)]
    kth = np.unique(np.concatenate([np.floor(pos), np.ceil(pos), edges]).astype(np.intp))
    return pos, kth, np.array([0] + edges + [n])


def _table_rows(L: np.ndarray) -> np.ndarray:
    """The table row of each L* value (the nearest 0.1 L* step, clipped to 0..100)."""
    return np.clip(L * _ROWS_PER_L + 0.5, 0, len(_SAMPLES) - 1).astype(np.intp)


class LabTransform:
    """A Lab -> Lab transform that depends on the source L* only, tabulated in 0.1 L* steps.

    Table columns: L* change, a* gain, b* gain, a* offset, b* offset.
    """

    def __init__(self, table: np.ndarray) -> None:
        self.table = table.astype(np.float32)

    def apply(self, lab: np.ndarray, amount: float = 1.0) -> np.ndarray:
        """Transformed Lab (..., 3); `amount` in [0, 1] blends from the identity."""
        lab = np.asarray(lab, dtype=np.float32)
        return np.stack(self.apply_planar(*(lab[..., c] for c in range(3)), amount=amount), axis=-1)

    def apply_planar(self, L: np.ndarray, a: np.ndarray, b: np.ndarray,
                     amount: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`apply` on L*, a* and b* held as separate arrays (what a sequence of transforms keeps:
        numpy's gathers and arithmetic on interleaved channels cost several times more)."""
        t = self.table
        if amount != 1.0:
            t = t * np.float32(amount)
            t[:, 1:3] += np.float32(1.0 - amount)
        columns = np.ascontiguousarray(t.T)
        idx = _table_rows(L)
        return (L + columns[0].take(idx), a * columns[1].take(idx) + columns[3].take(idx),
                b * columns[2].take(idx) + columns[4].take(idx))

    def lightness(self, L: np.ndarray, amount: float = 1.0) -> np.ndarray:
        """Only the transformed L* (what `apply` gives in channel 0), for when a*/b* are not needed."""
        idx = _table_rows(L)
        return L + np.float32(amount) * self.table[idx, 0]


def end_fade(L: np.ndarray) -> np.ndarray:
    """1 in the body of the tone range, falling to 0 at pure black and white (kept neutral)."""
    return np.clip(L / 8.0, 0.0, 1.0) * np.clip((100.0 - L) / 4.0, 0.0, 1.0)


def _tone_curve(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """A monotone L* -> L* curve through (0,0), the matched quantiles and (100,100), tabulated."""
    xs, ys = [0.0], [0.0]
    for x, y in zip(src, dst):
        # Knots must rise in both coordinates; too-close ones would make the curve steep.
        if x - xs[-1] >= 0.5 and y >= ys[-1] and x <= 99.5 and y <= 100.0:
            xs.append(float(x))
            ys.append(float(y))
    xs.append(100.0)
    ys.append(100.0)
    return _pchip(np.array(xs), np.array(ys), _SAMPLES)


def _pchip(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Monotone piecewise-cubic Hermite interpolation (Fritsch-Carlson slopes, as scipy's PCHIP).

    Written out because scipy's PchipInterpolator costs more in argument checks
    than the few knots of a tone curve are worth, once per frame.
    """
    h = np.diff(x)
    delta = np.diff(y) / h
    slope = np.zeros_like(y)
    if len(x) == 2:
        slope[:] = delta[0]
    else:
        w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
        same = (delta[:-1] * delta[1:]) > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            harmonic = (w1 + w2) / (w1 / delta[:-1] + w2 / delta[1:])
        slope[1:-1] = np.where(same, harmonic, 0.0)
        for end, (h0, h1, d0, d1) in ((0, (h[0], h[1], delta[0], delta[1])),
                                      (-1, (h[-1], h[-2], delta[-1], delta[-2]))):
            d = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
            if np.sign(d) != np.sign(d0):
                d = 0.0
            elif np.sign(d0) != np.sign(d1) and abs(d) > abs(3 * d0):
                d = 3 * d0
            slope[end] = d
    k = np.clip(np.searchsorted(x, at, side="right") - 1, 0, len(x) - 2)
    t = (at - x[k]) / h[k]
    t2, t3 = t * t, t * t * t
    return ((2 * t3 - 3 * t2 + 1) * y[k] + (t3 - 2 * t2 + t) * h[k] * slope[k]
            + (-2 * t3 + 3 * t2) * y[k + 1] + (t3 - t2) * h[k] * slope[k + 1])


def match_statistics(src: ColourStats, dst: ColourStats, *, max_gain: float = 2.0) -> LabTransform:
    """The tone curve + per-band chroma transform taking statistics `src` to `dst`."""
    L = _SAMPLES
    gain = np.clip(np.maximum(dst.band_std, MIN_SPREAD) / np.maximum(src.band_std, MIN_SPREAD),
                   1.0 / max_gain, max_gain)                                    # (3, 2)
    offset = dst.band_mean - gain * src.band_mean                               # (3, 2)
    fade = end_fade(L)
    table = np.empty((len(L), 5))
    table[:, 0] = _tone_curve(src.l_quantiles, dst.l_quantiles) - L
    for c in (0, 1):
        # Band parameters, interpolated over the source L* between band centres.
        table[:, 1 + c] = 1.0 + fade * (np.interp(L, src.band_l, gain[:, c]) - 1.0)
        table[:, 3 + c] = fade * np.interp(L, src.band_l, offset[:, c])
    return LabTransform(table)


def balance_exposure(src: ColourStats, dst: ColourStats, *, max_change: float = 0.25) -> LabTransform:
    """Exposure (a gain on L*, easing into white) and a*/b* offset taking mean `src` to mean `dst`."""
    L = _SAMPLES
    gain = float(np.clip(dst.mean[0] / max(src.mean[0], 1e-3), 1.0 - max_change, 1.0 + max_change))
    # Above the knee the gain eases to none at L* 100, so a brighter exposure never clips white.
    ease = np.clip((100.0 - L) / 15.0, 0.0, 1.0)
    table = np.zeros((len(L), 5))
    table[:, 0] = L * (gain - 1.0) * ease
    table[:, 1:3] = 1.0
    fade = end_fade(L)
    for c in (0, 1):
        table[:, 3 + c] = fade * (dst.mean[1 + c] - src.mean[1 + c])
    return LabTransform(table)


def lightness_offset(offset: float) -> LabTransform:
    """Add `offset` to L* in the body of the tone range (black and white stay put)."""
    table = np.zeros((len(_SAMPLES), 5))
    table[:, 0] = offset * end_fade(_SAMPLES)
    table[:, 1:3] = 1.0
    return LabTransform(table)


def blend(*parts: tuple[LabTransform, float]) -> LabTransform:
    """Weighted sum of transforms, the weight left over (1 - sum of weights) going to the identity."""
    identity = np.array([0.0, 1.0, 1.0, 0.0, 0.0], dtype=np.float32)
    table = identity * np.float32(1.0 - sum(w for _, w in parts))
    for transform, weight in parts:
        table = table + np.float32(weight) * transform.table
    return LabTransform(table)


def _garrote(d: np.ndarray, noise: float | np.ndarray) -> np.ndarray:
    """`d` shrunk: 0 within +-noise, d - noise^2/d beyond (continuous; nearly d when |d| >> noise)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(d) > noise, d - noise * noise / d, 0.0)


def beyond_noise(src: ColourStats, dst: ColourStats, *, mean_lightness: float, lightness: float,
                 chroma: float, spread: float) -> ColourStats:
    """`dst`, with each difference from `src` smaller than the measurement's noise taken out.

    `mean_lightness`: noise of the mean L*; `lightness` and `chroma`: of L*
    quantiles and of a*/b* values (Lab units); `spread`: relative noise of the
    a*/b* spreads. A difference well above the noise passes nearly whole; one
    below it is no evidence of a colour change.
    """
    mean = src.mean + _garrote(dst.mean - src.mean, np.array([mean_lightness, chroma, chroma]))
    lq = src.l_quantiles + _garrote(dst.l_quantiles - src.l_quantiles, lightness)
    band_l = src.band_l + _garrote(dst.band_l - src.band_l, lightness)
    band_mean = src.band_mean + _garrote(dst.band_mean - src.band_mean, chroma)
    ratio = np.log(np.maximum(dst.band_std, MIN_SPREAD) / np.maximum(src.band_std, MIN_SPREAD))
    band_std = np.maximum(src.band_std, MIN_SPREAD) * np.exp(_garrote(ratio, spread))
    return ColourStats(mean, np.maximum.accumulate(lq), np.maximum.accumulate(band_l), band_mean, band_std)


def smooth_in_time(vectors: np.ndarray, times: np.ndarray, at: float, sigma: float,
                   weights: np.ndarray | None = None) -> np.ndarray:
    """Local linear (Gaussian-weighted) estimate of a statistics vector at time `at`.

    A weighted straight-line fit rather than a plain average, so a steady drift
    is followed without lag even at the ends of the clip, where the window is
    one-sided. `weights` (per vector, >= 0, not all 0) say how far each
    measurement is trusted.
    """
    if len(vectors) == 1:
        return vectors[0]
    dt = times - at
    w = np.exp(-0.5 * (dt / sigma) ** 2)
    if weights is not None:
        w = w * weights
    sw = w.sum()
    mean_t = (w * dt).sum() / sw
    var_t = (w * (dt - mean_t) ** 2).sum() / sw
    mean_v = (w[:, None] * vectors).sum(axis=0) / sw
    if var_t < 1e-6:
        return mean_v
    slope = (w[:, None] * (dt - mean_t)[:, None] * (vectors - mean_v)).sum(axis=0) / sw / var_t
    return mean_v - slope * mean_t
