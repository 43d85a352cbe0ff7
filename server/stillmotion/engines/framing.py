"""Fitting a photo into a video model's frame, and planning its frame count.

Pure functions of the photo size, the request and the model's facts (ModelSpec):
no torch, no weights, so every mapping is tested without a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

PLACEMENTS = ("start", "reverse", "pingpong", "end", "both")


@dataclass(frozen=True)
class ModelSpec:
    """What a model needs and produces, from its registry entry and its own configs."""

    size: tuple[int, int]            # native (width, height); its area is kept for other aspects
    fixed_size: bool                 # only this exact size works (learned position embeddings)
    multiple: int                    # width and height must be multiples of this
    fps: float                       # frames per second the model was trained for
    frame_step: int                  # frame counts are frame_step * k + 1 (1: any count)
    min_frames: int
    max_frames: int
    steps: int                       # denoising steps by default
    guidance: float
    dtype: str                       # preferred half precision on accelerators
    max_aspect: float = 2.4          # wider photos are padded, not squeezed
    timesteps: tuple[float, ...] | None = None   # a distilled model's own schedule
    options: Mapping[str, Any] = field(default_factory=dict)

    def valid_frames(self, wanted: int) -> int:
        """The smallest valid frame count >= wanted, within the model's range."""
        lo = max(self.min_frames, 1)
        hi = self.max_frames
        n = min(max(wanted, lo), hi)
        if self.frame_step > 1:
            k = math.ceil((n - 1) / self.frame_step)
            n = self.frame_step * k + 1
            if n > hi:
                n = self.frame_step * ((hi - 1) // self.frame_step) + 1
        return n


# ================================================================== fitting the photo
@dataclass(frozen=True)
class Fit:
    canvas: tuple[int, int]                  # (width, height) the model generates
    content: tuple[int, int, int, int]       # (x, y, width, height) of the photo inside it


def fit_canvas(photo_w: int, photo_h: int, spec: ModelSpec) -> Fit:
    """Where the photo goes in the model's frame.

    Flexible models get a canvas of their native pixel area at the photo's
    aspect (clamped to max_aspect), in multiples of `multiple`; fixed-size models
    get their size. The photo is scaled to fit inside and centred; the margin
    (a few pixels of rounding, or real bars for odd aspects on fixed models) is
    padded, and the frames are cropped back to the content box, so the clip
    keeps the photo's exact framing and aspect.
    """
    aspect = photo_w / photo_h
    if spec.fixed_size:
        cw, ch = spec.size
    else:
        area = spec.size[0] * spec.size[1]
        a = min(max(aspect, 1 / spec.max_aspect), spec.max_aspect)
        m = spec.multiple
        cw = max(m, round(math.sqrt(area * a) / m) * m)
        ch = max(m, round(math.sqrt(area / a) / m) * m)
    scale = min(cw / photo_w, ch / photo_h)
    # Even content sizes: H.264 4:2:0 and most finishing steps want them.
    w = min(cw, max(2, 2 * round(photo_w * scale / 2)))
    h = min(ch, max(2, 2 * round(photo_h * scale / 2)))
    return Fit(canvas=(cw, ch), content=((cw - w) // 2, (ch - h) // 2, w, h))


def render_canvas(photo: np.ndarray, fit: Fit) -> np.ndarray:
    """The model's input frame: the photo at the content box over a blurred fill (uint8 RGB)."""
    import cv2

    from .. import photo as photo_mod

    cw, ch = fit.canvas
    x, y, w, h = fit.content
    canvas = np.empty((ch, cw, 3), np.float32)
    if (w, h) != (cw, ch):
        # Blurred cover fill: the model sees plausible surroundings, not mirrored subjects or black bars.
        ph, pw = photo.shape[:2]
        cover = max(cw / pw, ch / ph)
        bw, bh = max(cw, round(pw * cover)), max(ch, round(ph * cover))
        back = cv2.resize(photo, (bw, bh), interpolation=cv2.INTER_AREA)
        bx, by = (bw - cw) // 2, (bh - ch) // 2
        sigma = max(cw, ch) / 40.0
        canvas[:] = cv2.GaussianBlur(back[by:by + ch, bx:bx + cw], (0, 0), sigma)
    canvas[y:y + h, x:x + w] = photo_mod.resize(photo, w, h)
    return photo_mod.to_uint8(canvas)


# ================================================================== frames: counts and placement
@dataclass(frozen=True)
class FramePlan:
    placement: str        # start | reverse | pingpong | end | both
    generate: int         # frames the model generates
    keep: int             # of those, the leading frames used (extra ones from rounding are dropped)
    n_frames: int         # frames in the returned clip
    fps: float            # its frame rate (the model's, adjusted so the clip lasts the request's duration)
    anchor_index: int     # which frame is (the model's rendering of) the photo
    wanted: int           # duration x model fps


def plan_frames(duration: float, placement: str, spec: ModelSpec) -> FramePlan:
    """How many frames to generate for `duration` seconds and where the photo ends up.

    start:    the photo conditions frame 0.
    reverse:  frame 0 as above, frames played backwards (photo last: --anchor end
              on models that can only start from an image).
    pingpong: frames out and back (a loop on models that cannot end on an image).
    end:      the photo conditions the last frame.
    both:     the photo conditions the first and the last frame (a loop).
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"unknown placement {placement!r}")
    wanted = max(2, round(duration * spec.fps))
    # A loop (pingpong, both) ends on its first frame: a cycle of n_frames - 1 steps whose last
    # frame is the next cycle's first, and finishing leaves it out (delivered, it held the photo
    # for two frames at every seam). Its steps, not its frames, span the duration.
    closed = placement in ("pingpong", "both")
    if placement == "pingpong":
        need = (wanted + 3) // 2          # 2m - 2 >= wanted
    else:
        need = wanted + 1 if closed else wanted
    generate = spec.valid_frames(need)
    # Frames conditioned at the end must stay the last one, so only other plans may trim.
    keep = generate if placement in ("end", "both") else min(generate, need)
    n_frames = 2 * keep - 1 if placement == "pingpong" else keep
    # = model fps unless the model cannot make that many frames
    fps = spec.fps * (n_frames - 1 if closed else n_frames) / wanted
    anchor = n_frames - 1 if placement in ("reverse", "end") else 0
    return FramePlan(placement, generate, keep, n_frames, fps, anchor, wanted)


def arrange(frames: np.ndarray, plan: FramePlan) -> np.ndarray:
    """Model output (F, H, W, 3) -> the clip's frames in playing order."""
    frames = frames[:plan.keep]
    if plan.placement == "reverse":
        return frames[::-1]
    if plan.placement == "pingpong":
        return np.concatenate([frames, frames[-2::-1]], axis=0)
    return frames


