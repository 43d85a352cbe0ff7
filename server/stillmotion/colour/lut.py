"""3-D colour LUTs over the sRGB cube, and applying them fast to full frames.

A transform is sampled at the nodes of an N x N x N grid of sRGB inputs; frames
are corrected by trilinear interpolation of the *difference* (output - input),
added back to the exact input, so an identity transform returns the frame
unchanged and precision is never limited by the grid.

Speed: interpolating a 3-D table in numpy costs dozens of passes over the
frame. Instead the red axis is pre-interpolated to 256 levels (an 8-bit red
index loses nothing a smooth transform can show: the error is the table's slope
times 1/510) and the table is laid out as a 2-D image of (red level x green)
rows by blue columns, so one OpenCV bilinear `remap` does the green/blue
interpolation for every pixel in a single SIMD, multi-threaded pass.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

RED_LEVELS = 256


def grid_nodes(n: int) -> np.ndarray:
    """(n, n, n, 3) float32 sRGB node positions, indexed [r, g, b]."""
    axis = np.linspace(0.0, 1.0, n, dtype=np.float32)
    r, g, b = np.meshgrid(axis, axis, axis, indexing="ij")
    return np.stack([r, g, b], axis=-1)


@functools.lru_cache(maxsize=4)
def _red_upsampler(n: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of the 256 red levels: the lower node index and the weight of the upper one."""
    pos = np.arange(RED_LEVELS) * ((n - 1) / (RED_LEVELS - 1))
    i0 = np.minimum(pos.astype(np.intp), n - 2)
    return i0, (pos - i0).astype(np.float32)[:, None]


class FrameLut:
    """A colour transform ready to apply: the node differences laid out for `remap`."""

    def __init__(self, delta: np.ndarray) -> None:
        """`delta`: (n, n, n, 3) output minus input at the grid nodes."""
        n = delta.shape[0]
        self.size = n
        self.is_identity = not np.any(delta)
        # Red axis: linear interpolation from n nodes to 256 levels (no BLAS: see space.mat3).
        i0, f = _red_upsampler(n)
        flat = delta.reshape(n, -1)
        lower = flat[i0]
        fine = lower + f * (flat[i0 + 1] - lower)
        self.atlas = np.ascontiguousarray(fine.reshape(RED_LEVELS * n, n, 3), dtype=np.float32)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """The corrected frame (float32, same shape, in [0, 1]); `frame` is not modified."""
        frame = np.ascontiguousarray(frame, dtype=np.float32)
        if self.is_identity:
            return frame.copy()
        n = self.size
        red = cv2.convertScaleAbs(frame[..., 0], alpha=RED_LEVELS - 1)  # rounded 8-bit red index
        map_y = red.astype(np.float32)
        map_y *= n
        map_y += frame[..., 1] * (n - 1)
        map_x = frame[..., 2] * (n - 1)
        out = cv2.remap(self.atlas, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out += frame
        return np.clip(out, 0.0, 1.0, out=out)
