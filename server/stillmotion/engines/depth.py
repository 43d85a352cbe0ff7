"""A depth estimate from the photo itself, with no model weights.

Cues, each a map in [0, 1] where 1 is near:
- focus: in a shallow depth-of-field photo the sharp subject is near; weighted by
  how much sharpness actually varies (an all-sharp landscape gets little weight),
- position: lower in the frame is usually nearer (ground plane),
- faces / subject box (from the readiness analysis, when given): near,
- a mild centre prior.
Along vertical structures (a pole, a door frame, a building's edge) the blend is then
averaged up and down the structure: such things stand upright, at one depth from top to
bottom, where the position prior alone made a pole's foot nearer than its top, and a pan
or an orbit leaned or bent it.
The blend is refined with a guided filter so depth edges sit on the image's edges,
which keeps the 2.5-D warp from tearing objects apart. Last, each face is set to one depth
over its box and a margin round it (`_one_depth`), so the warp moves it as one rigid piece.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

WORK_LONG_EDGE = 384


def _box(img: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(img, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (grey guide): edge-preserving, O(1) per pixel."""
    mean_i, mean_p = _box(guide, r), _box(src, r)
    cov_ip = _box(guide * src, r) - mean_i * mean_p
    var_i = _box(guide * guide, r) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return _box(a, r) * guide + _box(b, r)


# Along a vertical structure a row takes up to this share of its depth from its neighbour row
# (0.995 let a full-height pole keep a third of its lean: the carry fades over ~1/(1 - c)
# rows), and two vertical edges this far apart (x the working width) carry the region between.
CARRY_MAX = 0.999
CARRY_SPREAD = 1 / 32
# Below this (a Sobel gradient of about 0.1, i.e. a step of ~6 levels) horizontal contrast is
# noise or a soft gradient, not a structure's edge (flat sky would carry otherwise).
STRUCTURE_FLOOR = 0.01


def vertical_structure(grey: np.ndarray) -> np.ndarray:
    """How much each pixel lies on a near-vertical structure, in [0, CARRY_MAX].

    From the structure tensor: its vertical share ((Jxx - Jyy) / (Jxx + Jyy)) times the
    horizontal contrast's strength; spread sideways so a pole's or a facade's inside carries
    with its edges, and softened so neighbouring columns carry alike (a column-by-column
    carry left hard vertical steps in the depth where the photo has no edge).
    """
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    jxx = cv2.GaussianBlur(gx * gx, (0, 0), 2.0)
    jyy = cv2.GaussianBlur(gy * gy, (0, 0), 2.0)
    upright = np.clip((jxx - jyy) / (jxx + jyy + 1e-6), 0.0, 1.0)
    typical = float(np.median(jxx[::4, ::4]))   # a sample: the full median costs as much as the rest
    strength = np.clip(jxx / max(typical, STRUCTURE_FLOOR), 0.0, 1.0)
    carry = np.clip(3.0 * upright * strength, 0.0, 1.0) * CARRY_MAX   # a third upright is enough
    spread = max(1, round(grey.shape[1] * CARRY_SPREAD))
    carry = cv2.dilate(carry, np.ones((1, 2 * spread + 1), np.uint8))
    return cv2.GaussianBlur(carry, (0, 0), sigmaX=4.0, sigmaY=3.0)


def smooth_along_verticals(values: np.ndarray, carry: np.ndarray) -> np.ndarray:
    """`values` averaged up and down columns where `carry` is high (vertical structures).

    A recursive filter, out = (1 - c) v + c (out of the row before), run from the bottom up and from
    the top down (the two passes side by side in one array: one Python loop over the rows).
    """
    w = values.shape[1]
    v = np.concatenate([values, values[::-1]], axis=1)
    c = np.concatenate([carry, carry[::-1]], axis=1)
    out = (1.0 - c) * v
    out[-1] = v[-1]
    tmp = np.empty(2 * w, np.float32)
    for y in range(out.shape[0] - 2, -1, -1):
        np.multiply(c[y], out[y + 1], out=tmp)
        out[y] += tmp
    return 0.5 * (out[:, :w] + out[::-1, w:])


def _normalise(x: np.ndarray, lo_pct: float = 2, hi_pct: float = 98) -> np.ndarray:
    lo, hi = np.percentile(x, [lo_pct, hi_pct])
    if hi - lo < 1e-6:
        return np.zeros_like(x)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def _box_map(shape: tuple[int, int], box: Sequence[float], soften: float, *, flat: bool = False) -> np.ndarray:
    """A soft blob over a box given in 0..1 image coordinates (x0, y0, x1, y1).

    `flat`: 1 over the whole box, falling off only outside it (a plateau, not a peak).
    """
    h, w = shape
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sx, sy = max(2.0, (x1 - x0) * w * soften), max(2.0, (y1 - y0) * h * soften)
    if flat:   # distance outside the box, 0 inside
        ox = np.maximum(0.0, np.maximum(x0 * w - xx, xx - x1 * w))
        oy = np.maximum(0.0, np.maximum(y0 * h - yy, yy - y1 * h))
        return np.exp(-((ox / sx) ** 2 + (oy / sy) ** 2) / 2).astype(np.float32)
    cx, cy = (x0 + x1) / 2 * w, (y0 + y1) / 2 * h
    return np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2) / 2).astype(np.float32)


# A face's box grown on each side by this share of its size (the cascade's box stops short of
# the forehead, the ears and the chin) plus this share of the frame (how far a strong move shifts
# the face against what is around it: up to engine revision 9 each output pixel took the depth
# found where it lies, not where its sample comes from, so the plateau had to cover where the face
# goes too; since revision 10 the warp solves for the source point's depth, approximately: on
# a coarse grid, in two steps; the margin was kept as it was).
FACE_MARGIN = 0.15
FACE_TRAVEL = 0.05
# How far the face's depth fades into the map around it, x the grown box's size: the change of
# depth (a stretch in the warp) falls in the hair and the background just outside the face.
FACE_FADE = 0.25


def _one_depth(near: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """`near` with a face at one depth: its (grown) box set to the face's level, fading out.

    The blend put a face on a plateau, but what came after (the subject's blob, the
    normalising, the guided filter) left a dome across it that peaked in the middle: a
    push-in swelled the nose against the cheeks, a rise stretched the chin against the
    forehead, 3 px across the face at 1080p. The margin also covers where a strong move
    takes the face (see FACE_TRAVEL).
    """
    h, w = near.shape
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * FACE_MARGIN + FACE_TRAVEL, (y1 - y0) * FACE_MARGIN + FACE_TRAVEL
    grown = (max(0.0, x0 - mx), max(0.0, y0 - my), min(1.0, x1 + mx), min(1.0, y1 + my))
    inside = near[int(y0 * h):max(int(y0 * h) + 1, round(y1 * h)), int(x0 * w):max(int(x0 * w) + 1, round(x1 * w))]
    level = float(np.percentile(inside, 90))
    weight = _box_map(near.shape, grown, FACE_FADE, flat=True)
    return weight * level + (1.0 - weight) * near


def estimate(pixels: np.ndarray, *, faces: Sequence[Sequence[float]] = (),
             subject_box: Sequence[float] | None = None) -> np.ndarray:
    """Near-ness map in [0, 1] (float32) at a working resolution (long edge 384).

    `faces` and `subject_box` are boxes in 0..1 coordinates (x0, y0, x1, y1).
    """
    h, w = pixels.shape[:2]
    scale = WORK_LONG_EDGE / max(h, w)
    sw, sh = max(8, round(w * scale)), max(8, round(h * scale))
    small = cv2.resize(pixels, (sw, sh), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)

    # Focus: local Laplacian energy, pooled over a neighbourhood, in log space.
    lap = np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=3))
    pool = max(3, sw // 24)
    energy = np.log1p(200.0 * cv2.GaussianBlur(lap, (0, 0), pool))
    focus = _normalise(energy)
    p10, p90 = np.percentile(energy, [10, 90])
    # How much the sharpness varies decides how much we trust it (0.1 .. 0.6).
    focus_weight = float(np.clip((p90 - p10) / (p90 + 1e-6), 0.1, 0.6))

    yy = np.linspace(0.0, 1.0, sh, dtype=np.float32)[:, None] * np.ones((1, sw), np.float32)
    xx = np.linspace(-1.0, 1.0, sw, dtype=np.float32)[None, :] * np.ones((sh, 1), np.float32)
    position = yy ** 1.5
    centre = 1.0 - np.clip(np.abs(xx), 0, 1) ** 2

    near = focus_weight * focus + 0.35 * position + 0.1 * centre
    near = smooth_along_verticals(near.astype(np.float32), vertical_structure(grey))
    for box in faces:
        # A face and the body below it are near; the face all alike (a plateau over its box, not
        # a peak at its centre: a peak moved the middle of the face more than its sides, and an
        # orbit or a pan stretched one cheek and squeezed the other).
        x0, y0, x1, y1 = box
        body = (x0 - (x1 - x0) * 0.3, y0, x1 + (x1 - x0) * 0.3, min(1.0, y1 + (y1 - y0) * 2.5))
        near = np.maximum(near, 0.9 * np.maximum(_box_map((sh, sw), box, 0.7, flat=True), _box_map((sh, sw), body, 0.6)))
    if subject_box is not None:
        near = near + 0.3 * _box_map((sh, sw), subject_box, 0.6)
    near = _normalise(near, 1, 99)
    refined = guided_filter(grey, near.astype(np.float32), r=max(2, sw // 48), eps=1e-3)
    refined = np.clip(cv2.GaussianBlur(refined, (0, 0), 1.0), 0.0, 1.0)
    for box in faces:
        refined = _one_depth(refined, box)
    return refined.astype(np.float32)
