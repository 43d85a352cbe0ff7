"""Dense optical flow and warping: the measuring tape shared by upscaling and retiming.

Conventions (used everywhere in video/):
- a flow is float32 (h, w, 2) in pixels of the grid it lives on;
- `flow_ab` maps frame a's pixels into frame b: a(x) ~ b(x + flow_ab(x));
- `warp(b, flow_ab)` therefore pulls b onto a's grid (backward warping).

OpenCV's DIS flow is used because it is fast on a CPU (a few ms at 1024x576) and
needs no model weights. Flow is computed on small grey images and scaled up:
motion fields are smooth, so precision is limited by content, not resolution.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import cv2
import numpy as np

# "ultrafast": for tiny grids where only which pixels correspond matters (colour drift measure).
_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


def grey8(frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 luma of a float sRGB frame, optionally area-resized to `size` (w, h)."""
    if size is not None and (frame.shape[1], frame.shape[0]) != size:
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.float32), cv2.COLOR_RGB2GRAY)
    return (np.clip(grey, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def flow_grid_size(width: int, height: int, long_edge: int) -> tuple[int, int]:
    """Size (w, h) at which to measure flow: the frame's, shrunk so its long edge <= long_edge."""
    scale = min(1.0, long_edge / max(width, height))
    return max(16, round(width * scale)), max(16, round(height * scale))


class FlowEstimator:
    """DIS flow between two grey images of the same size.

    The presets' patch search is kept but always carried down to the finest
    pyramid level: detail is placed by this flow, and a flow stopped at 1/2 or 1/4
    resolution (the presets' default) tears moving edges. Callers bound the cost
    with the size of the grid they measure on instead.
    """

    def __init__(self, preset: str = "fast", refinement_iterations: int | None = None) -> None:
        """`refinement_iterations`: variational refinement per level (None: the preset's);
        it buys sub-pixel precision, which placing detail needs and retiming much less."""
        if preset not in _PRESETS:
            raise ValueError(f"flow preset must be one of {', '.join(_PRESETS)}; got {preset!r}")
        self._preset = _PRESETS[preset]
        self._refinement = refinement_iterations
        self._local = threading.local()   # a DIS object keeps working buffers: one per thread

    def flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """flow_ab for two uint8 grey images of the same size (safe to call from several threads)."""
        dis = getattr(self._local, "dis", None)
        if dis is None:
            dis = self._local.dis = cv2.DISOpticalFlow_create(self._preset)
            dis.setFinestScale(0)
            if self._refinement is not None:
                dis.setVariationalRefinementIterations(self._refinement)
        return dis.calc(a, b, None)

    def both_ways(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.flow(a, b), self.flow(b, a)


@lru_cache(maxsize=4)
def _grid(height: int, width: int) -> np.ndarray:
    """(h, w, 2) pixel coordinates (x, y); read-only, shared."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid = np.dstack([xs, ys])
    grid.setflags(write=False)
    return grid


def warp(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR,
         scale: float = 1.0) -> np.ndarray:
    """Pull `image` onto the flow's grid: out(x) = image(x + scale * flow(x)) (edges replicated)."""
    grid = _grid(*flow.shape[:2])
    coords = cv2.scaleAdd(flow, scale, grid) if scale != 1.0 else cv2.add(flow, grid)
    return cv2.remap(image, coords, None, interpolation, borderMode=cv2.BORDER_REPLICATE)


def resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Flow resampled to `size` (w, h), its vectors rescaled to the new pixel units."""
    h, w = flow.shape[:2]
    if (w, h) == size:
        return flow
    out = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(out, (size[0] / w, size[1] / h, 0.0, 0.0), dst=out)  # per-channel scale


def round_trip_error(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """|flow_ab(x) + flow_ba(x + flow_ab(x))| in pixels, on a's grid.

    Near zero where the two directions agree; large at occlusions (a's pixel is
    hidden in b) and where either estimate failed.
    """
    dx, dy = cv2.split(cv2.add(flow_ab, warp(flow_ba, flow_ab)))
    return cv2.magnitude(dx, dy)   # (numpy's sum over the length-2 axis costs 15x more)


def soft_confidence(error: np.ndarray, scale: float) -> np.ndarray:
    """1 where error << scale, falling smoothly to 0 (Gaussian in error/scale)."""
    return np.exp(-((error / scale) ** 2)).astype(np.float32)
