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

from ..buffers import FramePool

RED_LEVELS = 256
BAND_PIXELS = 131072  # pixels corrected at a time (a band's scratch arrays stay in cache)


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
        flat = np.zeros((n, n * n, 4), dtype=np.float32)
        flat[..., :3] = delta.reshape(n, n * n, 3)
        flat = flat.reshape(n, -1)
        fine = np.subtract(flat[i0 + 1], flat[i0])
        fine *= f
        fine += flat[i0]
        # Four channels (the fourth unused): OpenCV's 4-channel float remap is SIMD, 2.4x faster.
        self.atlas = fine.reshape(RED_LEVELS * n, n, 4)

    def apply(self, frame: np.ndarray, workspace: "Workspace | None" = None) -> np.ndarray:
        """The corrected frame (float32, same shape, in [0, 1]; not `frame`, which is not modified).

        With a `workspace`, the array may be one this workspace returned before and
        that nothing references any more (see buffers.FramePool).

        `workspace` keeps the per-pixel scratch arrays between frames of one size: fresh
        multi-megabyte arrays cost page faults on every frame, as much as the remap itself.
        """
        frame = np.ascontiguousarray(frame, dtype=np.float32)
        if self.is_identity:
            return frame.copy()
        ws = workspace if workspace is not None and workspace.fits(frame) else Workspace(frame)
        out = ws.outputs.empty(frame.shape, np.float32)
        # In bands of rows that stay in cache: every pass after the first reads cached data.
        rows = ws.band_rows
        for y0 in range(0, frame.shape[0], rows):
            self._apply_band(frame[y0:y0 + rows], out[y0:y0 + rows], ws)
        return out

    def _apply_band(self, frame: np.ndarray, out: np.ndarray, ws: "Workspace") -> None:
        n, h = self.size, frame.shape[0]
        red, map_x, map_y, change = ws.red[:h], ws.map_x[:h], ws.map_y[:h], ws.change[:h]
        cv2.convertScaleAbs(frame[..., 0], dst=red, alpha=RED_LEVELS - 1)   # rounded 8-bit red index
        np.multiply(red, np.float32(n), out=map_y, casting="unsafe")
        np.multiply(frame[..., 1], np.float32(n - 1), out=map_x)
        map_y += map_x
        np.multiply(frame[..., 2], np.float32(n - 1), out=map_x)
        cv2.remap(self.atlas, map_x, map_y, cv2.INTER_LINEAR, dst=change, borderMode=cv2.BORDER_REPLICATE)
        cv2.cvtColor(change, cv2.COLOR_BGRA2BGR, dst=out)   # drop the spare channel (SIMD)
        out += frame
        np.clip(out, 0.0, 1.0, out=out)


class Workspace:
    """Scratch arrays for applying LUTs to frames of one size (reused from frame to frame)."""

    def __init__(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        self.shape = (h, w)
        self.band_rows = h = min(h, max(1, BAND_PIXELS // max(1, w)))   # a small copy: one band
        self.red = np.empty((h, w), np.uint8)
        self.map_x = np.empty((h, w), np.float32)
        self.map_y = np.empty((h, w), np.float32)
        self.change = np.empty((h, w, 4), np.float32)
        self.outputs = FramePool()      # corrected frames, reused once the consumer drops them

    def fits(self, frame: np.ndarray) -> bool:
        return self.shape == frame.shape[:2]
