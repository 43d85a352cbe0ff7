"""Upscale model frames to the delivery size with the photo's own detail.

A model renders a small, soft version of the photo. Plain resampling keeps it
soft. But the full-resolution photo is at hand, and wherever a frame still shows
what the photo shows (static background, slow drift, the anchor frame itself) the
photo's fine detail is the truth. So each frame becomes

    lanczos(frame) + confidence * detail(warp(photo, flow frame -> reference))

where the flow (DIS, measured at the model's size) aligns the photo to the frame,
`detail(x) = x - lanczos(area(x))` is what the aligned photo has beyond what a
frame of the model's size can hold (taken *after* warping, so it matches the
frame's own sampling phase and aliasing), and `confidence` fades it out wherever
the alignment is doubtful: misalignment and occlusions (new content) show up as
the reference pulled along the flow not looking like the frame, and tears in the
flow mark moving edges. Moving areas then stay as clean as plain Lanczos;
nothing is invented. No model weights.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import cv2
import numpy as np

from ..errors import InputError
from ..footprint import sharp_resize
from .flow import FlowEstimator, flow_grid_size, grey8, resize_flow, soft_confidence, warp
from .threads import ordered_map

# Mean RGB difference (0..1) between the frame and the reference pulled along the flow, both
# slightly blurred (aliasing in fine texture is not misalignment), at which detail is down to 1/e.
PHOTOMETRIC_SCALE = 0.05
PHOTOMETRIC_BLUR = 1.0
# Local flow spread (max - min over 5x5, flow-grid pixels) at which the detail is down to 1/e:
# a tear in the flow is a moving edge, where misplaced detail would show as a ghost.
FLOW_TEAR_SCALE = 1.0


def resample(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average when shrinking (no aliasing), Lanczos when enlarging (without its halo at
    hard edges: footprint.py); float in, float out."""
    h, w = image.shape[:2]
    if (w, h) == size:
        return image
    if size[0] * size[1] < w * h:
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return sharp_resize(image, size)


def fit_photo_to_frame(photo: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """The photo centre-cropped to the frame's aspect ratio (engines that need a fixed
    size crop the photo to fill it); unchanged when the aspects already agree within 1%."""
    ph, pw = photo.shape[:2]
    fw, fh = frame_size
    if abs(pw / ph - fw / fh) <= 0.01 * (fw / fh):
        return photo
    if pw / ph > fw / fh:
        new_w = max(1, round(ph * fw / fh))
        x0 = (pw - new_w) // 2
        return photo[:, x0:x0 + new_w]
    new_h = max(1, round(pw * fh / fw))
    y0 = (ph - new_h) // 2
    return photo[y0:y0 + new_h]


class DetailUpscaler:
    """Upscales frames of one clip, restoring the photo's detail where it is still aligned.

    `reference` is the model-size frame that shows the photo (the anchor frame, or
    the photo itself shrunk to the model's size when no frame is the photo).
    """

    def __init__(self, photo: np.ndarray, reference: np.ndarray, target_size: tuple[int, int], *,
                 strength: float = 1.0, flow_long_edge: int = 512, flow_preset: str = "fast") -> None:
        self.target_size = target_size
        self.frame_size = (reference.shape[1], reference.shape[0])
        self.strength = float(strength)
        self._flow = FlowEstimator(flow_preset)
        self._flow_size = flow_grid_size(*self.frame_size, flow_long_edge)
        enlarging = target_size[0] > self.frame_size[0] or target_size[1] > self.frame_size[1]
        self._photo: np.ndarray | None = None
        if enlarging and self.strength > 0:
            self._photo = np.ascontiguousarray(
                resample(fit_photo_to_frame(photo, self.frame_size), target_size), dtype=np.float32)
            self._photo_detail = self.detail(self._photo)
            self._ref_small = resample(reference, self._flow_size)
            self._ref_grey = grey8(self._ref_small)

    def detail(self, image: np.ndarray) -> np.ndarray:
        """What a target-size image has beyond what a frame of the model's size can hold:
        the image minus its own round trip through that size (the resampling frames get)."""
        return image - resample(resample(image, self.frame_size), self.target_size)

    def confidence(self, frame_small: np.ndarray, flow_fr: np.ndarray) -> np.ndarray:
        """0..1 on the flow grid: how far to trust the photo's detail at each pixel of the frame.

        (A forward-backward round trip was measured too: it added nothing over these two
        checks for the detail and doubled the flow cost, so it is left to retiming.)
        """
        window = np.ones((5, 5), np.uint8)
        tear = np.maximum(*(cv2.dilate(flow_fr[..., i], window) - cv2.erode(flow_fr[..., i], window)
                            for i in range(2)))
        conf = soft_confidence(tear, FLOW_TEAR_SCALE)
        pulled = warp(self._ref_small, flow_fr)
        diff = (cv2.GaussianBlur(frame_small, (0, 0), PHOTOMETRIC_BLUR)
                - cv2.GaussianBlur(pulled, (0, 0), PHOTOMETRIC_BLUR))
        diff = cv2.GaussianBlur(np.abs(diff).mean(axis=2), (0, 0), 1.0)
        conf *= soft_confidence(diff, PHOTOMETRIC_SCALE)
        # Soften the fade so there is no visible seam where detail starts.
        return cv2.GaussianBlur(conf, (0, 0), 1.5)

    def upscale(self, frame: np.ndarray, *, is_reference: bool = False) -> np.ndarray:
        """One frame at the target size. `is_reference`: this frame is the photo's own frame."""
        if (frame.shape[1], frame.shape[0]) != self.frame_size:
            raise InputError(f"frame is {frame.shape[1]}x{frame.shape[0]}, the clip is "
                             f"{self.frame_size[0]}x{self.frame_size[1]}")
        if self._photo is None:
            return np.clip(resample(frame, self.target_size), 0.0, 1.0)
        if is_reference:
            return np.clip(resample(frame, self.target_size) + self.strength * self._photo_detail, 0.0, 1.0)
        small = resample(frame, self._flow_size)
        flow_fr = self._flow.flow(grey8(small), self._ref_grey)
        conf = self.confidence(small, flow_fr) * self.strength
        pulled = warp(self._photo, resize_flow(flow_fr, self.target_size), cv2.INTER_CUBIC)
        # lanczos(frame) + w * (pulled - lanczos(area(pulled))) with the two Lanczos passes folded
        # into one (Lanczos is linear and w is smooth, so w * lanczos(x) ~ lanczos(w_small * x)):
        # the same picture for one full-size resampling less.
        w_small = cv2.resize(conf, self.frame_size, interpolation=cv2.INTER_LINEAR)[..., None]
        out = resample(frame - w_small * resample(pulled, self.frame_size), self.target_size)
        pulled *= cv2.resize(conf, self.target_size, interpolation=cv2.INTER_LINEAR)[..., None]
        out += pulled
        return np.clip(out, 0.0, 1.0, out=out)


def upscale_frames(frames: Iterable[np.ndarray], *, photo: np.ndarray, target_size: tuple[int, int],
                   anchor_index: int | None, strength: float = 1.0, flow_long_edge: int = 512,
                   flow_preset: str = "fast", workers: int = 2) -> Iterator[np.ndarray]:
    """Stream `frames` upscaled to `target_size` (w, h) with the photo's detail.

    With the anchor first (the usual case) nothing is held back. With the anchor
    later, the model-size frames before it are kept until it arrives (model-size
    frames are small; delivery-size frames are never accumulated). With no anchor,
    the photo shrunk to the frame size is the reference. Frames are upscaled on
    `workers` threads, a few ahead, and yielded in order.
    """
    it = iter(frames)
    held: list[np.ndarray] = []
    reference: np.ndarray | None = None
    for index, frame in enumerate(it):
        held.append(frame)
        if index == anchor_index:
            reference = frame
            break
        if anchor_index is None:
            break
    if not held:
        return
    if reference is None:
        # No frame is the photo (or the anchor lies past the clip's end): the photo shrunk is.
        anchor_index = None
        size = (held[0].shape[1], held[0].shape[0])
        reference = resample(fit_photo_to_frame(photo, size), size)
    upscaler = DetailUpscaler(photo, reference, target_size, strength=strength,
                              flow_long_edge=flow_long_edge, flow_preset=flow_preset)

    def replay() -> Iterator[np.ndarray]:
        while held:
            yield held.pop(0)
        yield from it

    def one(item: tuple[int, np.ndarray]) -> np.ndarray:
        index, frame = item
        return upscaler.upscale(frame, is_reference=index == anchor_index)

    yield from ordered_map(one, enumerate(replay()), workers=workers)
