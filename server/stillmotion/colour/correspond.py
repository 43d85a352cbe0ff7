"""Which pixels of a frame show what the reference shows, and the reference's colour there.

Colour drift is the SAME content changing colour. A camera move changes the
content instead (less sky, more shadow), which whole-frame statistics cannot
tell from drift. So drift is measured on corresponding pixels only: the
reference (the anchor frame after the fitted transform) is aligned to each frame
by dense optical flow on small copies (about twice the statistics copy: flow
at 128 px is off by most of a pixel after a large move, at 256 px by a fifth),
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

from ..video.flow import FlowEstimator, grey8, round_trip_error, warp
from .space import srgb_to_lab

MAX_ROUND_TRIP = 0.01     # forward-backward disagreement, as a fraction of the copy's long edge
BLUR = 0.012              # sigma of the common blur, as a fraction of the copy's long edge
MIN_SIDE_PX = 16          # below this a copy is too small for flow: nothing is said to correspond


@dataclass
class Corresponding:
    frame_lab: np.ndarray       # (n, 3) Lab of the frame's pixels that the reference also shows
    reference_lab: np.ndarray   # (n, 3) Lab of the same content in the reference
    coverage: float             # the fraction of the frame that the reference shows


def _masked_blur(image: np.ndarray, mask: np.ndarray, blurred_mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of `image` over the pixels in `mask` only (normalised convolution)."""
    total = cv2.GaussianBlur(image * mask[..., None], (0, 0), sigma)
    return total / np.maximum(blurred_mask, 1e-6)[..., None]


class ReferenceView:
    """The reference, ready to be aligned to the copies of one clip's frames."""

    def __init__(self, reference: np.ndarray) -> None:
        """`reference`: float32 sRGB, the size of the frames' copies (see `match`)."""
        self.reference = np.ascontiguousarray(reference, dtype=np.float32)
        self._sized: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None
        self._flow = FlowEstimator("ultrafast")

    def _at(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(sRGB, grey8) of the reference at a frame copy's size (the same, unless frames change size)."""
        if self._sized is None or self._sized[0] != shape:
            h, w = shape
            ref = self.reference
            if ref.shape[:2] != shape:
                ref = cv2.resize(ref, (w, h), interpolation=cv2.INTER_AREA)
            self._sized = (shape, ref, grey8(ref))
        return self._sized[1], self._sized[2]

    def match(self, frame: np.ndarray) -> Corresponding:
        """The pixels of `frame` (a float sRGB copy of a frame, made like the reference's) it shares."""
        h, w = frame.shape[:2]
        if min(h, w) < MIN_SIDE_PX:
            empty = np.empty((0, 3), np.float32)
            return Corresponding(empty, empty, 0.0)
        ref, ref_grey = self._at((h, w))
        forward, backward = self._flow.both_ways(grey8(frame), ref_grey)
        trusted = round_trip_error(forward, backward) < MAX_ROUND_TRIP * max(h, w)
        x = forward[..., 0] + np.arange(w, dtype=np.float32)
        y = forward[..., 1] + np.arange(h, dtype=np.float32)[:, None]
        trusted &= (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
        coverage = float(trusted.mean())
        if not trusted.any():
            empty = np.empty((0, 3), np.float32)
            return Corresponding(empty, empty, 0.0)
        seen = warp(ref, forward)   # the reference's colour of each frame pixel's content
        mask = trusted.astype(np.float32)
        sigma = BLUR * max(h, w)
        weight = cv2.GaussianBlur(mask, (0, 0), sigma)
        frame_blurred = _masked_blur(frame, mask, weight, sigma)
        seen_blurred = _masked_blur(seen, mask, weight, sigma)
        # Every other pixel is plenty for statistics once blurred (and a quarter of the work).
        keep = trusted[::2, ::2]
        return Corresponding(srgb_to_lab(frame_blurred[::2, ::2][keep]),
                             srgb_to_lab(seen_blurred[::2, ::2][keep]), coverage)
