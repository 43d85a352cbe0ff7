"""Synthetic colour drift, as generative video models show it, with the truth kept alongside.

Tests and the benchmark need clips whose correct colours are known: a real
photo with a small camera move is the truth; the drifted clip adds what video
models do to it over time (white balance warming, saturation fading, a gamma
change darkening the midtones) growing from nothing at frame 0 to the full
amount at the last frame, plus per-frame exposure/white-balance jitter
(flicker). `drifted_clip` yields (truth, drifted) pairs, one frame at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from ..photo import resize
from .align import cover_crop
from .space import linear_to_srgb, luminance, srgb_to_linear


@dataclass(frozen=True)
class Drift:
    white_balance: float = 0.2    # at the last frame: red gain 1+x, blue gain 1-x (linear light)
    desaturation: float = 0.5     # at the last frame: blend this far toward grey
    gamma: float = 0.5            # at the last frame: sRGB values raised to 1+x (darker midtones)
    jitter: float = 0.04          # per-frame exposure jitter, std of log gain (linear light)
    wb_jitter: float = 0.015      # per-frame white-balance jitter, std of log channel gain
    shift_px: float = 3.0         # camera move over the clip, in pixels
    seed: int = 0

    @classmethod
    def none(cls) -> "Drift":
        """No drift and no jitter: only the camera move."""
        return cls(white_balance=0.0, desaturation=0.0, gamma=0.0, jitter=0.0, wb_jitter=0.0)


def truth_frame(photo: np.ndarray, width: int, height: int, progress: float, shift_px: float) -> np.ndarray:
    """The photo framed to width x height, moved by `progress` of the camera move (sub-pixel)."""
    base = resize(np.ascontiguousarray(cover_crop(photo, width, height)), width, height)
    if shift_px == 0 or progress == 0:
        return base
    dx, dy = shift_px * progress, -0.6 * shift_px * progress
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(base, m, (width, height), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT101).clip(0.0, 1.0)


def apply_drift(frame: np.ndarray, progress: float, drift: Drift, rng: np.random.Generator) -> np.ndarray:
    """`frame` with `progress` (0..1) of the drift and one draw of jitter."""
    gains = np.array([1 + drift.white_balance * progress, 1.0, 1 - drift.white_balance * progress])
    gains = gains * np.exp(rng.normal(0.0, drift.jitter)) * np.exp(rng.normal(0.0, drift.wb_jitter, 3))
    linear = np.clip(srgb_to_linear(frame) * gains.astype(np.float32), 0.0, 1.0)
    grey = luminance(linear)[..., None]
    linear = linear + drift.desaturation * progress * (grey - linear)
    out = linear_to_srgb(linear) ** (1.0 + drift.gamma * progress)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def drifted_clip(photo: np.ndarray, width: int, height: int, n_frames: int,
                 drift: Drift = Drift()) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(truth, drifted) frame pairs; frame 0 of the truth is the photo framed to the clip."""
    rng = np.random.default_rng(drift.seed)
    photo = np.asarray(photo, dtype=np.float32)
    for t in range(n_frames):
        progress = t / max(1, n_frames - 1)
        truth = truth_frame(photo, width, height, progress, drift.shift_px)
        yield truth, apply_drift(truth, progress, drift, rng)
