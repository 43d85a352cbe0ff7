"""Scene cues the measures and the profile choice share: EXIF facts, sky, straight
lines, natural textures and directional blur. Each is a plain, documented heuristic."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

import cv2
import numpy as np

from .grid import Grid
from .subject import Subject, textured

# Sky: a smooth region touching the top edge that is blue (dusk skies are dark) or a
# bright neutral (overcast); a mid-grey studio backdrop is neither.
SKY_MAX_ENERGY = 0.02
SKY_MIN_VALUE = 0.30
SKY_NEUTRAL_MIN_VALUE = 0.65
# A straight line counts when it is at least this share of the frame diagonal.
LINE_MIN_LENGTH = 0.04
LINES_LONG_EDGE = 640     # lines are looked for on a copy this size
# Directional blur: a block is streaked when one axis is this much softer than the other.
STREAK_DIFFERENCE = 0.15
# ... and the softer axis is at least this soft (crisp detail is never motion blurred).
STREAK_SOFT = 0.40


@dataclass(frozen=True)
class Exif:
    exposure_time: float | None = None   # seconds
    focal_35mm: float | None = None      # 35 mm-equivalent focal length when known
    focal_mm: float | None = None        # actual focal length (sensor unknown)
    f_number: float | None = None
    iso: float | None = None


def _number(value: Any) -> float | None:
    """EXIF numbers arrive as floats, ints, IFDRationals, "1/250" strings or 1-tuples."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(Fraction(value.strip())) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if np.isfinite(number) and number > 0 else None


def read_exif(exif: Mapping[str, Any] | None) -> Exif:
    exif = exif or {}
    return Exif(exposure_time=_number(exif.get("ExposureTime")),
                focal_35mm=_number(exif.get("FocalLengthIn35mmFilm")),
                focal_mm=_number(exif.get("FocalLength")),
                f_number=_number(exif.get("FNumber")),
                iso=_number(exif.get("ISOSpeedRatings", exif.get("PhotographicSensitivity"))))


def sky_share(grid: Grid) -> tuple[float, np.ndarray]:
    """Share of the frame that is sky-like and connected to the top edge."""
    hue, sat, val = grid.hsv_mean[..., 0], grid.hsv_mean[..., 1], grid.hsv_mean[..., 2]
    blue = (hue > 180) & (hue < 260)
    neutral = (sat < 0.25) & (val > SKY_NEUTRAL_MIN_VALUE)
    candidate = (grid.energy < SKY_MAX_ENERGY) & (val > SKY_MIN_VALUE) & (blue | neutral)
    count, labels = cv2.connectedComponents(candidate.astype(np.uint8))
    touching_top = [label for label in np.unique(labels[0]) if label > 0]
    sky = np.isin(labels, touching_top) if touching_top else np.zeros_like(candidate)
    return float(sky.mean()), sky


@dataclass(frozen=True)
class Lines:
    density: float        # total length of long straight segments, in frame diagonals
    diagonal_share: float # share of that length running 20..70 degrees off the axes


def straight_lines(grid: Grid) -> Lines:
    """Long straight segments (OpenCV's LSD detector) and how many run diagonally."""
    gray = grid.gray
    scale = LINES_LONG_EDGE / max(gray.shape)
    if scale < 1.0:   # long lines survive a downscale; LSD's cost falls with the pixel count
        gray = cv2.resize(gray, (round(gray.shape[1] * scale), round(gray.shape[0] * scale)),
                          interpolation=cv2.INTER_AREA)
    segments = cv2.createLineSegmentDetector().detect((gray * 255).astype(np.uint8))[0]
    if segments is None:
        return Lines(0.0, 0.0)
    seg = segments.reshape(-1, 4)
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    diagonal = float(np.hypot(*gray.shape))
    long = length > LINE_MIN_LENGTH * diagonal
    if not long.any():
        return Lines(0.0, 0.0)
    angle = np.degrees(np.arctan2(seg[:, 3] - seg[:, 1], seg[:, 2] - seg[:, 0])) % 180.0
    off_axis = np.minimum(angle % 90.0, 90.0 - angle % 90.0)
    total = float(length[long].sum())
    return Lines(total / diagonal, float(length[long & (off_axis > 20)].sum()) / total)


@dataclass(frozen=True)
class Nature:
    foliage: float   # share of frame: textured green
    water: float     # share of frame: textured blue/cyan below the top third


def natural_textures(grid: Grid) -> Nature:
    hue, sat = grid.hsv_mean[..., 0], grid.hsv_mean[..., 1]
    tex = textured(grid)
    below_top_third = (np.arange(grid.rows)[:, None] >= grid.rows // 3)
    foliage = (hue > 60) & (hue < 170) & (sat > 0.2) & tex
    water = (hue > 170) & (hue < 260) & tex & below_top_third
    return Nature(float(foliage.mean()), float(water.mean()))


@dataclass(frozen=True)
class Streaks:
    subject: float    # share of the subject's textured blocks blurred along one common axis only
    background: float # the same outside the subject


def directional_blur(grid: Grid, subject: Subject) -> Streaks:
    """Motion blur softens detail along the direction of motion only.

    A block is streaked when its blur ratio along one axis is clearly higher than
    along the other and that axis is really soft. Oriented textures (fur, waves,
    curtain folds) look the same block by block, but their direction varies over a
    region while a motion blur's does not, so a region's streak share is the share
    streaked along its dominant axis minus the share streaked along the other.
    """
    tex = textured(grid)
    vertical, horizontal = grid.blur_xy
    soft = np.maximum(vertical, horizontal) >= STREAK_SOFT
    along_columns = (vertical - horizontal > STREAK_DIFFERENCE) & soft & tex
    along_rows = (horizontal - vertical > STREAK_DIFFERENCE) & soft & tex

    def share(where: np.ndarray) -> float:
        where = where & tex
        if not where.any():
            return 0.0
        a, b = float(along_columns[where].mean()), float(along_rows[where].mean())
        return max(a, b) - min(a, b)

    return Streaks(share(subject.mask), share(~subject.mask))
