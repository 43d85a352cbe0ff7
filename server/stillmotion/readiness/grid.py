"""The working copy every measure reads: a ~1 MP downscale plus per-block statistics.

Everything is computed once here so the measures stay cheap: the photo is shrunk
with area averaging (which also averages away sensor noise the delivered clip will
never show), converted to grey and CIELAB, and cut into a grid of about 40 blocks
along the long edge. Per block we keep:

- `blur`: the Crete-Roffet no-reference blur ratio (2007). Re-blur the block with a
  9-pixel box filter and ask how much of its pixel-to-pixel variation survives:
  crisp detail is destroyed by the re-blur (ratio near 0.1), detail that was already
  soft barely changes (ratio towards 1). Unlike mean gradient energy it does not care
  how much texture or contrast the block has, so a soft cheek and a sharp eyelash
  can be compared on one scale.
- `energy`: mean absolute pixel difference (how much texture/contrast the block has).
- `noise`: Immerkaer's (1996) Laplacian-difference noise estimate (sigma, 0..1 units).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ANALYSIS_PIXELS = 1_000_000   # the working copy's pixel budget (~1224 x 816 for 3:2)
GRID_BLOCKS = 40              # blocks along the long edge
REBLUR = 9                    # Crete-Roffet re-blur length in pixels


def downscale(pixels: np.ndarray, max_pixels: int = ANALYSIS_PIXELS) -> np.ndarray:
    """Area-averaged float32 copy with at most `max_pixels` pixels (never enlarged)."""
    h, w = pixels.shape[:2]
    scale = min(1.0, (max_pixels / float(h * w)) ** 0.5)
    if scale >= 1.0:
        return np.ascontiguousarray(pixels, dtype=np.float32)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(np.asarray(pixels, dtype=np.float32), size, interpolation=cv2.INTER_AREA)


def block_sums(values: np.ndarray, block: int, rows: int, cols: int) -> np.ndarray:
    """Sum of `values` over each block of the grid (trailing pixels dropped)."""
    cut = np.ascontiguousarray(values[:rows * block, :cols * block], dtype=np.float32)
    # Area resampling by an exact integer factor is the block mean, and far faster
    # than a numpy reshape-sum.
    means = cv2.resize(cut, (cols, rows), interpolation=cv2.INTER_AREA)
    return means.reshape((rows, cols) + cut.shape[2:]) * float(block * block)


@dataclass
class Grid:
    rgb: np.ndarray        # float32 (h, w, 3) sRGB 0..1, the working copy
    gray: np.ndarray       # float32 (h, w) luma 0..1
    lab: np.ndarray        # float32 (h, w, 3) CIELAB (L 0..100)
    block: int             # block edge in working-copy pixels
    blur: np.ndarray       # (rows, cols) Crete-Roffet blur ratio, 0 crisp .. 1 soft
    blur_xy: np.ndarray    # (2, rows, cols) the same along rows (vertical) and columns (horizontal)
    energy: np.ndarray     # (rows, cols) mean |pixel difference|, 0..1
    noise: np.ndarray      # (rows, cols) noise sigma estimate, 0..1
    lab_mean: np.ndarray   # (rows, cols, 3) block mean CIELAB
    hsv_mean: np.ndarray   # (rows, cols, 3) HSV of the block mean colour (H in degrees)

    @property
    def rows(self) -> int:
        return self.blur.shape[0]

    @property
    def cols(self) -> int:
        return self.blur.shape[1]

    def box_mask(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """Blocks whose centres lie inside `box` (x0, y0, x1, y1 in 0..1)."""
        ys = (np.arange(self.rows) + 0.5) / self.rows
        xs = (np.arange(self.cols) + 0.5) / self.cols
        inside_y = (ys >= box[1]) & (ys <= box[3])
        inside_x = (xs >= box[0]) & (xs <= box[2])
        mask = inside_y[:, None] & inside_x[None, :]
        if not mask.any():  # a box smaller than a block: take the block under its centre
            cy = min(self.rows - 1, int((box[1] + box[3]) / 2 * self.rows))
            cx = min(self.cols - 1, int((box[0] + box[2]) / 2 * self.cols))
            mask[cy, cx] = True
        return mask


def _blur_and_energy(gray: np.ndarray, block: int, rows: int,
                     cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    diffs, kepts = [], []
    for axis, ksize in ((0, (1, REBLUR)), (1, (REBLUR, 1))):  # cv2 ksize is (width, height)
        reblurred = cv2.blur(gray, ksize, borderType=cv2.BORDER_REFLECT)
        d_orig = np.abs(np.diff(gray, axis=axis, append=gray.take([-1], axis=axis)))
        d_blur = np.abs(np.diff(reblurred, axis=axis, append=reblurred.take([-1], axis=axis)))
        kept = np.maximum(d_orig - d_blur, 0.0)   # variation the re-blur destroyed
        diffs.append(block_sums(d_orig, block, rows, cols).astype(np.float64))
        kepts.append(block_sums(kept, block, rows, cols).astype(np.float64))
    diff_sum, kept_sum = diffs[0] + diffs[1], kepts[0] + kepts[1]
    blur = (diff_sum - kept_sum) / np.maximum(diff_sum, 1e-9)
    blur_xy = np.stack([(d - k) / np.maximum(d, 1e-9) for d, k in zip(diffs, kepts)])
    energy = diff_sum / (2.0 * block * block)
    return blur.astype(np.float32), blur_xy.astype(np.float32), energy.astype(np.float32)


_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def _noise(gray: np.ndarray, block: int, rows: int, cols: int) -> np.ndarray:
    response = np.abs(cv2.filter2D(gray, -1, _IMMERKAER, borderType=cv2.BORDER_REFLECT))
    return (block_sums(response, block, rows, cols) * np.sqrt(np.pi / 2.0)
            / (6.0 * block * block)).astype(np.float32)


def build(pixels: np.ndarray, max_pixels: int = ANALYSIS_PIXELS) -> Grid:
    """Working copy + block statistics of float sRGB `pixels` (H, W, 3) in 0..1."""
    # NaN/inf never come from a decoded photo, but pixels handed in directly might.
    rgb = np.clip(np.nan_to_num(downscale(pixels, max_pixels), nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    h, w = gray.shape
    block = min(max(4, int(round(max(h, w) / GRID_BLOCKS))), h, w)
    rows, cols = h // block, w // block
    blur, blur_xy, energy = _blur_and_energy(gray, block, rows, cols)
    noise = _noise(gray, block, rows, cols)
    lab_mean = block_sums(lab, block, rows, cols) / float(block * block)
    rgb_mean = block_sums(rgb, block, rows, cols) / float(block * block)
    hsv_mean = cv2.cvtColor(np.clip(rgb_mean, 0.0, 1.0).astype(np.float32), cv2.COLOR_RGB2HSV)
    return Grid(rgb=rgb, gray=gray, lab=lab, block=block, blur=blur, blur_xy=blur_xy, energy=energy, noise=noise,
                lab_mean=lab_mean, hsv_mean=hsv_mean)
