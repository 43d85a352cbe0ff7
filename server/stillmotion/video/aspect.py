"""Aspect presets: crop a photo, or every frame of a clip, around the subject.

    window = crop_window(width, height, "9:16", subject_box)    # pixel rectangle
    window = subject_window(pixels, "9:16")                     # the subject estimated if no box
    frames = crop_frames(frames, window)                        # after generation

The crop is the largest rectangle of the wanted aspect that fits the image,
slid to keep the subject in it. `subject_box` is (x0, y0, x1, y1) in 0..1 image
coordinates, as `readiness.analyze(...).subject_box` gives it; without one the
readiness analysis is asked (faces first, then saliency with a centre prior).
One window serves the whole clip: a crop that chases the subject frame by frame
reads as a nervous camera, and the photo-anchored frame must stay the photo's
crop exactly.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

from ..errors import InputError

RATIOS: dict[str, float] = {"16:9": 16 / 9, "9:16": 9 / 16, "1:1": 1.0, "4:5": 4 / 5}
# Where the subject's centre sits from the top of a crop that cuts the height: a little
# above the middle, so a head keeps its headroom and a body is not cut at the knees.
SUBJECT_HEIGHT = 0.42

Box = tuple[float, float, float, float]
Window = tuple[int, int, int, int]   # x0, y0, x1, y1 in pixels, end-exclusive


def aspect_ratio(aspect: str, width: int, height: int) -> float:
    """Width / height of a preset ("source": the image's own)."""
    if aspect == "source":
        return width / height
    if aspect not in RATIOS:
        raise InputError(f"aspect must be one of source, {', '.join(RATIOS)}; got {aspect!r}")
    return RATIOS[aspect]


def _check_box(box: Sequence[float]) -> Box:
    if len(box) != 4:
        raise InputError(f"subject box must be (x0, y0, x1, y1) in 0..1; got {tuple(box)!r}")
    x0, y0, x1, y1 = (min(1.0, max(0.0, float(v))) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise InputError(f"subject box must have x1 > x0 and y1 > y0; got {tuple(box)!r}")
    return x0, y0, x1, y1


def _place(length: int, crop: int, lo: float, hi: float, centre_at: float) -> int:
    """Start of a `crop`-long span in [0, length) that holds [lo, hi) (pixels) as well as it can.

    A subject that fits is placed with its centre at `centre_at` of the crop, then
    nudged so none of it is cut; a larger one keeps its start (a head, say) in
    proportion to `centre_at` (0.5: its middle).
    """
    span = hi - lo
    if span >= crop:
        start = lo + (span - crop) * centre_at
    else:
        start = (lo + hi) / 2 - crop * centre_at
        start = min(max(start, hi - crop), lo)
    return int(round(min(max(start, 0.0), length - crop)))


def crop_window(width: int, height: int, aspect: str, subject_box: Sequence[float] | None = None) -> Window:
    """The pixel rectangle of preset `aspect` to cut from a width x height image (see `fit_window`)."""
    return fit_window(width, height, aspect_ratio(aspect, width, height), subject_box)


def fit_window(width: int, height: int, ratio: float, subject_box: Sequence[float] | None = None) -> Window:
    """The biggest rectangle of width/height `ratio` inside the image, placed to hold the
    subject (centred across, a little above the middle down). No box: centred."""
    if width / height > ratio:
        crop_w, crop_h = max(1, min(width, round(height * ratio))), height
    else:
        crop_w, crop_h = width, max(1, min(height, round(width / ratio)))
    box = _check_box(subject_box) if subject_box is not None else (0.0, 0.0, 1.0, 1.0)
    x0 = _place(width, crop_w, box[0] * width, box[2] * width, 0.5)
    y0 = _place(height, crop_h, box[1] * height, box[3] * height,
                SUBJECT_HEIGHT if subject_box is not None else 0.5)
    return x0, y0, x0 + crop_w, y0 + crop_h


def estimate_subject(pixels: np.ndarray) -> Box:
    """Where the subject is when no one said: the readiness analysis's subject box
    (faces grown to head and shoulders, else the main salient blob), or the whole
    frame for an image too small to analyse."""
    from .. import readiness  # imported late: the analysis is only needed without a box

    try:
        return _check_box(readiness.analyze_pixels(pixels).subject_box)
    except InputError:
        return 0.0, 0.0, 1.0, 1.0


def subject_window(pixels: np.ndarray, aspect: str, subject_box: Sequence[float] | None = None) -> Window:
    """`crop_window` for these pixels, estimating the subject when the aspect needs a crop."""
    height, width = pixels.shape[:2]
    if aspect == "source":
        return 0, 0, width, height
    if subject_box is None and abs(width / height - aspect_ratio(aspect, width, height)) > 1e-3:
        subject_box = estimate_subject(pixels)
    return crop_window(width, height, aspect, subject_box)


def box_in_window(box: Sequence[float], window: Window, size: tuple[int, int]) -> Box | None:
    """A 0..1 box of a (w, h) image as a 0..1 box of `window` cut from it: clipped to the
    window, None when nothing of it is inside."""
    w, h = size
    if tuple(window) == (0, 0, w, h):
        return tuple(box)   # type: ignore[return-value]  # uncropped: the box as it was
    wx0, wy0, wx1, wy1 = window
    x0, x1 = ((v * w - wx0) / (wx1 - wx0) for v in (box[0], box[2]))
    y0, y1 = ((v * h - wy0) / (wy1 - wy0) for v in (box[1], box[3]))
    x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(1.0, x1), min(1.0, y1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def scale_window(window: Window, from_size: tuple[int, int], to_size: tuple[int, int]) -> Window:
    """The same region of the picture in an image of another size (w, h)."""
    sx, sy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    x0, y0 = round(window[0] * sx), round(window[1] * sy)
    w, h = round((window[2] - window[0]) * sx), round((window[3] - window[1]) * sy)
    w, h = min(max(1, w), to_size[0]), min(max(1, h), to_size[1])
    x0, y0 = min(max(0, x0), to_size[0] - w), min(max(0, y0), to_size[1] - h)
    return x0, y0, x0 + w, y0 + h


def crop_frames(frames: Iterable[np.ndarray], window: Window) -> Iterator[np.ndarray]:
    """Every frame cut to `window` (after generation)."""
    x0, y0, x1, y1 = window
    for frame in frames:
        yield np.ascontiguousarray(frame[y0:y1, x0:x1])
