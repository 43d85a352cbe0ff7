"""Where is the subject? A block saliency map and the box around its main blob.

Three classic cues, each cheap on the block grid:

- colour contrast against the frame's border (the "boundary prior": what touches
  the edges of a photo is usually background, Wei et al. 2012). Each block's mean
  CIELAB colour is compared with its nearest border colours.
- focus: where the photo is sharper than its own typical sharpness. This cue only
  gets weight when the photo really has a shallow depth of field (its sharp and
  soft blocks differ clearly), otherwise everything is in focus and it says nothing.
- a mild centre prior (photographers place subjects away from the very edges).

Faces, when found, override all of that: the subject is the person, and the box is
grown from the face to head and shoulders.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .faces import Face
from .grid import Grid

Box = tuple[float, float, float, float]

TEXTURED_PERCENTILE = 30   # blocks below this energy percentile are "flat" (sky, walls)
FOCUS_SPREAD_FULL = 0.20   # blur-ratio spread at which the focus cue gets full weight
CENTRE_SIGMA = 0.30        # centre prior width, in frame widths/heights
BLOB_HIGH = 0.60           # clearly salient, as a share of the peak
BLOB_LOW = 0.45            # salient enough to join a clearly salient neighbour
MIN_SALIENCY = 0.02        # peak below this (~0.4 CIELAB units of contrast, invisible): no subject


@dataclass
class Subject:
    box: Box
    mask: np.ndarray        # (rows, cols) bool: subject blocks
    saliency: np.ndarray    # (rows, cols) 0..1
    focus_spread: float     # how much sharper the sharpest blocks are than the typical ones
    from_faces: bool


def textured(grid: Grid) -> np.ndarray:
    """Blocks with enough texture for a blur ratio to mean something."""
    return grid.energy >= max(np.percentile(grid.energy, TEXTURED_PERCENTILE), 0.004)


def _colour_contrast(grid: Grid) -> np.ndarray:
    lab = grid.lab_mean
    border = np.concatenate([lab[0], lab[-1], lab[1:-1, 0], lab[1:-1, -1]])
    dist = np.linalg.norm(lab[:, :, None, :] - border[None, None, :, :], axis=-1)
    nearest = max(3, border.shape[0] // 10)
    contrast = np.sort(dist, axis=-1)[..., :nearest].mean(axis=-1)
    # Normalise by a fixed colour difference (20 CIELAB units is an obvious difference)
    # rather than by the image's own maximum, so a frame without any outstanding colour
    # does not invent one.
    return np.clip(contrast / 20.0, 0.0, 1.5)


def _focus(grid: Grid, tex: np.ndarray) -> tuple[np.ndarray, float]:
    if not tex.any():
        return np.zeros_like(grid.blur), 0.0
    typical = float(np.percentile(grid.blur[tex], 70))
    sharpest = float(np.percentile(grid.blur[tex], 5))
    spread = typical - sharpest
    focus = np.clip((typical - grid.blur) / max(spread, 0.05), 0.0, 1.0) * tex
    # Sharpness is only measurable where there is texture, but it belongs to surfaces:
    # a cup's smooth porcelain is as much in focus as its rim. Normalised convolution
    # spreads the measured values into the flat blocks around them.
    weight = cv2.GaussianBlur(tex.astype(np.float32), (0, 0), 1.5)
    focus = cv2.GaussianBlur(focus.astype(np.float32), (0, 0), 1.5) / np.maximum(weight, 1e-3)
    return np.clip(focus, 0.0, 1.0), spread


def _centre_prior(rows: int, cols: int) -> np.ndarray:
    yy, xx = np.mgrid[0:rows, 0:cols]
    dy = (yy + 0.5) / rows - 0.5
    dx = (xx + 0.5) / cols - 0.5
    return np.exp(-(dx ** 2 + dy ** 2) / (2 * CENTRE_SIGMA ** 2))


def head_and_shoulders(face: Box) -> Box:
    """A face box grown to the head and shoulders a portrait crop must keep."""
    w, h = face[2] - face[0], face[3] - face[1]
    return (max(0.0, face[0] - 0.6 * w), max(0.0, face[1] - 0.5 * h),
            min(1.0, face[2] + 0.6 * w), min(1.0, face[3] + 1.2 * h))


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def find(grid: Grid, faces: list[Face]) -> Subject:
    tex = textured(grid)
    focus, spread = _focus(grid, tex)
    colour = _colour_contrast(grid)
    focus_weight = float(np.clip(spread / FOCUS_SPREAD_FULL, 0.0, 1.0))
    saliency = (colour * (1.0 - 0.5 * focus_weight) + focus * focus_weight)
    saliency = saliency * (0.4 + 0.6 * _centre_prior(grid.rows, grid.cols))
    peak = float(saliency.max())
    # On a flat frame float rounding leaves contrasts of 1e-4; normalised, they made a subject.
    saliency = saliency / peak if peak >= MIN_SALIENCY else np.zeros_like(saliency)
    if faces:
        # Faces at least a quarter the size of the largest belong to the subject (a couple,
        # a small group); tiny faces in the background do not.
        main = [f.box for f in faces if f.area >= faces[0].area / 4]
        box = _union([head_and_shoulders(b) for b in main])
        return Subject(box, grid.box_mask(box), saliency, spread, True)
    # Hysteresis, as in Canny's edge detector: the subject is the strongest blob of
    # clearly salient blocks, grown through the moderately salient blocks it touches
    # (a cup's rim and saucer around its bright crema).
    smooth = cv2.GaussianBlur(saliency.astype(np.float32), (0, 0), 0.7)
    smooth = smooth / max(float(smooth.max()), 1e-6)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (smooth >= BLOB_LOW).astype(np.uint8), connectivity=8)
    strong = smooth >= BLOB_HIGH
    candidates = [i for i in range(1, count) if strong[labels == i].any()]
    if not candidates:
        box: Box = (0.0, 0.0, 1.0, 1.0)
        return Subject(box, np.ones_like(tex), saliency, spread, False)
    best = max(candidates, key=lambda i: float(smooth[(labels == i) & strong].sum()))
    x, y, w, h = (int(v) for v in stats[best, :4])
    box = (x / grid.cols, y / grid.rows, (x + w) / grid.cols, (y + h) / grid.rows)
    return Subject(box, labels == best, saliency, spread, False)
