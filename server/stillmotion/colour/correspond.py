"""Which pixels of a frame show what the reference shows, and the reference's colour there.

Colour drift is the SAME content changing colour. A camera move changes the
content instead (less sky, more shadow), which whole-frame statistics cannot
tell from drift. So drift is measured on corresponding pixels only: the
reference (the clip's anchor frame) is aligned to each frame
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
to a few tenths of a Delta E where nothing has drifted. The result is sRGB:
the caller applies the colour transform the statistics are wanted after (the
clip's fitted T) to the blurred pixels that are kept, not to the copies (a
fifth of the pixels, and the measured flicker came out lower on all four sample
photos in bench/colour.py); so correspondence needs no T and can be found while
T is being fitted.

Flow is computed on luma; DIS compares mean-normalised patches, so a frame
that has drifted darker or warmer still aligns.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..video.flow import FlowEstimator, grey8, resize_flow, round_trip_error, warp

MAX_ROUND_TRIP = 0.01     # forward-backward disagreement, as a fraction of the copy's long edge
BLUR = 0.012              # sigma of the common blur, as a fraction of the copy's long edge
FLOW_SCALE = 0.75         # flow is found at this fraction of the copy's size: nearly as precise, 40% less work
MIN_SIDE_PX = 16          # below this a copy is too small for flow: nothing is said to correspond


@dataclass
class Corresponding:
    frame: np.ndarray           # (n, 3) sRGB of the frame's pixels that the reference also shows (blurred)
    reference: np.ndarray       # (n, 3) sRGB of the same content in the reference (one array per alignment)
    coverage: float             # the fraction of the frame that the reference shows


@dataclass
class Alignment:
    """Where a frame copy's content is in the reference: the expensive half of a match."""

    shape: tuple[int, int]
    mask: np.ndarray            # (h, w, 3) float 1/0: trusted pixels of the copy (per channel)
    norm: np.ndarray            # (h/2, w/2, 3): 1 / the blurred fraction of trusted pixels
    keep: np.ndarray            # flat indices of the half-size pixels made of trusted pixels only
    sigma: float                # of the common blur, in half-size pixels
    reference: np.ndarray       # (n, 3) the reference's blurred colours at the kept pixels
    coverage: float

    @classmethod
    def of(cls, trusted: np.ndarray, sigma: float, reference: np.ndarray) -> "Alignment":
        """From the (h, w) bool map of trusted pixels, and the reference pulled onto the copy."""
        h, w = trusted.shape
        mask = trusted.astype(np.float32)
        weight = cv2.resize(mask, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
        keep = np.flatnonzero(weight >= 0.99)
        norm = 1.0 / np.maximum(cv2.GaussianBlur(weight, (0, 0), sigma), 1e-6)
        found = cls((h, w), cv2.merge([mask] * 3), cv2.merge([norm] * 3), keep, sigma,
                    np.empty((0, 3), np.float32), float(trusted.mean()) if len(keep) else 0.0)
        if len(keep):
            found.reference = found.blur(reference)
        return found

    def blur(self, image: np.ndarray) -> np.ndarray:
        """(n, 3): `image` at half size, Gaussian-blurred over the trusted pixels only
        (normalised convolution), at the kept pixels.

        Half size is a quarter of the work and plenty for statistics once blurred; 2x2
        blocks are averaged over their trusted pixels and weighted by how many there are.
        (Masks and weights come in three channels, made once per alignment: numpy's
        broadcasting over a trailing length-3 axis costs more than the blur.)
        """
        half = cv2.resize(cv2.multiply(image, self.mask), self.norm.shape[1::-1], interpolation=cv2.INTER_AREA)
        total = cv2.multiply(cv2.GaussianBlur(half, (0, 0), self.sigma), self.norm)
        return total.reshape(-1, 3)[self.keep]


class ReferenceView:
    """The reference, ready to be aligned to the copies of one clip's frames."""

    def __init__(self, reference: np.ndarray) -> None:
        """`reference`: float32 sRGB, the size of the frames' copies (see `match`)."""
        self.reference = np.ascontiguousarray(reference, dtype=np.float32)
        self._sized: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None
        self._flow = FlowEstimator("ultrafast")

    def _at(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(sRGB at a frame copy's size, grey8 at its flow size); the same unless frames change size."""
        sized = self._sized
        if sized is None or sized[0] != shape:
            h, w = shape
            ref = self.reference
            if ref.shape[:2] != shape:
                ref = cv2.resize(ref, (w, h), interpolation=cv2.INTER_AREA)
            self._sized = sized = (shape, ref, grey8(ref, _flow_size(w, h)))
        return sized[1], sized[2]

    def match(self, frame: np.ndarray, found: Alignment) -> Corresponding:
        """The pixels of `frame` (a float sRGB copy of a frame, made like the reference's) that
        the reference shows, by the alignment `align` found for it or for a frame near it.

        A camera moves a pixel or so between frames at this size, which the common blur
        absorbs; the caller decides how many frames share an alignment (see match.ALIGN_EVERY).
        """
        if found.coverage == 0.0 or found.shape != frame.shape[:2]:
            empty = np.empty((0, 3), np.float32)
            return Corresponding(empty, empty, 0.0)
        return Corresponding(found.blur(frame), found.reference, found.coverage)

    def align(self, frame: np.ndarray) -> Alignment:
        """Where the content of `frame` (a copy, as for `match`) is in the reference (thread-safe)."""
        h, w = frame.shape[:2]
        sigma = BLUR * max(max(1, w // 2), max(1, h // 2))
        if min(h, w) < MIN_SIDE_PX:
            return Alignment.of(np.zeros((h, w), bool), sigma, frame)
        ref, ref_grey = self._at((h, w))
        size = _flow_size(w, h)
        forward, backward = self._flow.both_ways(grey8(frame, size), ref_grey)
        consistent = round_trip_error(forward, backward) < MAX_ROUND_TRIP * max(size)
        forward = resize_flow(forward, (w, h))
        trusted = cv2.resize(consistent.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        x = forward[..., 0] + np.arange(w, dtype=np.float32)
        y = forward[..., 1] + np.arange(h, dtype=np.float32)[:, None]
        trusted &= (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
        # The reference's colour of each frame pixel's content.
        return Alignment.of(trusted, sigma, warp(ref, forward))


def _flow_size(w: int, h: int) -> tuple[int, int]:
    return max(MIN_SIDE_PX, round(w * FLOW_SCALE)), max(MIN_SIDE_PX, round(h * FLOW_SCALE))
