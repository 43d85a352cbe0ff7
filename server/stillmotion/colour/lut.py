"""3-D colour LUTs over the sRGB cube, and applying them fast to full frames.

A transform is sampled at the nodes of an N x N x N grid of sRGB inputs; frames
are corrected by trilinear interpolation of the *difference* (output - input),
added back to the exact input, so an identity transform returns the frame
unchanged and precision is never limited by the grid.

Speed: interpolating a 3-D table in numpy costs dozens of passes over the
frame. Instead the red axis is pre-interpolated to 256 levels (an 8-bit red
index loses nothing a smooth transform can show: the error is the table's slope
times about 1/480) and the table is laid out as a 2-D image of (red level x green)
rows by blue columns, so one OpenCV bilinear `remap` does the green/blue
interpolation for every pixel in a single SIMD, multi-threaded pass.

The red levels are where OpenCV's bilinear `resize` puts them when it stretches
the n node rows to 256 (pixel centres: level k lies at node position
(k + 0.5) n / 256 - 0.5), so one `resize` builds a frame's table (0.05 ms
against 0.2 ms for the same interpolation in numpy, on every frame); the
levels outside the nodes' span are never looked up.
"""

from __future__ import annotations

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


def red_level_scale(n: int) -> tuple[float, float]:
    """(alpha, beta): the red level of sRGB red value R is round(alpha R + beta), for n nodes.

    Inverts where `resize` puts level k: at node position (k + 0.5) n / RED_LEVELS - 0.5,
    which is red value R = that / (n - 1).
    """
    alpha = (n - 1) * RED_LEVELS / n
    return alpha, 0.5 * RED_LEVELS / n - 0.5


class FrameLut:
    """A colour transform ready to apply: the node differences laid out for `remap`."""

    def __init__(self, delta: np.ndarray) -> None:
        """`delta`: (n, n, n, 3) output minus input at the grid nodes."""
        n = delta.shape[0]
        self.size = n
        self.is_identity = not np.any(delta)
        # Four channels (the fourth unused): OpenCV's 4-channel float remap is SIMD, 2.4x faster.
        rows = cv2.cvtColor(np.ascontiguousarray(delta, dtype=np.float32).reshape(n, n * n, 3),
                            cv2.COLOR_RGB2RGBA)
        # Red axis: linear interpolation from n nodes to 256 levels (see the module's docstring).
        fine = cv2.resize(rows, (n * n, RED_LEVELS), interpolation=cv2.INTER_LINEAR)
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
        # The channels apart first (one SIMD pass): every step after it reads contiguous data.
        r, g, b = cv2.split(frame, [plane[:h] for plane in ws.planes])
        alpha, beta = red_level_scale(n)
        cv2.convertScaleAbs(r, dst=red, alpha=alpha, beta=beta)   # rounded red level
        cv2.addWeighted(red, float(n), g, float(n - 1), 0.0, dst=map_y, dtype=cv2.CV_32F)
        np.multiply(b, np.float32(n - 1), out=map_x)
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
        self.planes = [np.empty((h, w), np.float32) for _ in range(3)]
        self.red = np.empty((h, w), np.uint8)
        self.map_x = np.empty((h, w), np.float32)
        self.map_y = np.empty((h, w), np.float32)
        self.change = np.empty((h, w, 4), np.float32)
        self.outputs = FramePool()      # corrected frames, reused once the consumer drops them

    def fits(self, frame: np.ndarray) -> bool:
        return self.shape == frame.shape[:2]
