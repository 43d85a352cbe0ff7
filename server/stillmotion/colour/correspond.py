"""Which pixels of a frame show what the reference shows, and the reference's colour there.

Colour drift is the SAME content changing colour. A camera move changes the
content instead (less sky, more shadow), which whole-frame statistics cannot
tell from drift. So drift is measured on corresponding pixels only: the
reference (the anchor frame after the fitted transform) is aligned to each frame
by dense optical flow on small copies (flow at 128 px is off by most of a
pixel after a large move, at 256 px by a fifth; it is found at ~190 px and
used on copies twice the size of the statistics copy),
and a pixel counts only where the flow is reliable: the forward and backward
flows agree (occluded, newly revealed or mismatched pixels fail that) and it
lands inside the reference (content the reference never showed has no colour
to compare with).

Both sides are then blurred the same way, over trusted pixels only: a camera
move shows the same content at another scale (a push-in magnifies it), and
at a copy's resolution that changes the spread of values - the darkest
shadows get darker - which would read as a tone change. Blurred, the two agree
to a few tenths of a Delta E where nothing has drifted.

Flow is computed on luma; DIS compares mean-normalised patches, so a frame
that has drifted darker or warmer still aligns.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..video.flow import FlowEstimator, grey8, resize_flow, round_trip_error, warp
from .space import srgb_to_lab

MAX_ROUND_TRIP = 0.01     # forward-backward disagreement, as a fraction of the copy's long edge
BLUR = 0.012              # sigma of the common blur, as a fraction of the copy's long edge
FLOW_SCALE = 0.75         # flow is found at this fraction of the copy's size: nearly as precise, 40% less work
MIN_SIDE_PX = 16          # below this a copy is too small for flow: nothing is said to correspond


@dataclass
class Corresponding:
    frame_lab: np.ndarray       # (n, 3) Lab of the frame's pixels that the reference also shows
    reference_lab: np.ndarray   # (n, 3) Lab of the same content in the reference
    coverage: float             # the fraction of the frame that the reference shows


def _masked_blur(weighted: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur over weighted pixels only (normalised convolution); `weighted` = image * weight."""
    total = cv2.GaussianBlur(weighted, (0, 0), sigma)
    return total / np.maximum(cv2.GaussianBlur(weight, (0, 0), sigma), 1e-6)[..., None]


class ReferenceView:
    """The reference, ready to be aligned to the copies of one clip's frames."""

    def __init__(self, reference: np.ndarray) -> None:
        """`reference`: float32 sRGB, the size of the frames' copies (see `match`)."""
        self.reference = np.ascontiguousarray(reference, dtype=np.float32)
        self._sized: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None
        self._flow = FlowEstimator("ultrafast")

    def _at(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(sRGB at a frame copy's size, grey8 at its flow size); the same unless frames change size."""
        if self._sized is None or self._sized[0] != shape:
            h, w = shape
            ref = self.reference
            if ref.shape[:2] != shape:
                ref = cv2.resize(ref, (w, h), interpolation=cv2.INTER_AREA)
            size = (max(MIN_SIDE_PX, round(w * FLOW_SCALE)), max(MIN_SIDE_PX, round(h * FLOW_SCALE)))
            self._sized = (shape, ref, grey8(ref, size))
        return self._sized[1], self._sized[2]

    def match(self, frame: np.ndarray) -> Corresponding:
        """The pixels of `frame` (a float sRGB copy of a frame, made like the reference's) it shares."""
        h, w = frame.shape[:2]
        if min(h, w) < MIN_SIDE_PX:
            empty = np.empty((0, 3), np.float32)
            return Corresponding(empty, empty, 0.0)
        ref, ref_grey = self._at((h, w))
        size = (max(MIN_SIDE_PX, round(w * FLOW_SCALE)), max(MIN_SIDE_PX, round(h * FLOW_SCALE)))
        forward, backward = self._flow.both_ways(grey8(frame, size), ref_grey)
        consistent = round_trip_error(forward, backward) < MAX_ROUND_TRIP * max(size)
        forward = resize_flow(forward, (w, h))
        trusted = cv2.resize(consistent.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        x = forward[..., 0] + np.arange(w, dtype=np.float32)
        y = forward[..., 1] + np.arange(h, dtype=np.float32)[:, None]
        trusted &= (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
        coverage = float(trusted.mean())
        if not trusted.any():
            empty = np.empty((0, 3), np.float32)
            return Corresponding(empty, empty, 0.0)
        seen = warp(ref, forward)   # the reference's colour of each frame pixel's content
        # Blurred at half the size (a quarter of the work; plenty for statistics once blurred):
        # 2x2 blocks are averaged over their trusted pixels, weighted by how many there are.
        half = (max(1, w // 2), max(1, h // 2))
        mask = trusted.astype(np.float32)
        weight = cv2.resize(mask, half, interpolation=cv2.INTER_AREA)
        sigma = BLUR * max(half)
        frame_blurred = _masked_blur(cv2.resize(frame * mask[..., None], half, interpolation=cv2.INTER_AREA),
                                     weight, sigma)
        seen_blurred = _masked_blur(cv2.resize(seen * mask[..., None], half, interpolation=cv2.INTER_AREA),
                                    weight, sigma)
        keep = weight >= 0.99   # whole blocks of trusted pixels only
        return Corresponding(srgb_to_lab(frame_blurred[keep]), srgb_to_lab(seen_blurred[keep]), coverage)
