"""The parallax engine: a 2.5-D camera move over the photo, on any CPU, no weights.

A near-ness map (engines/depth.py) decides how far each pixel travels: near
parts of the scene move and scale more than far ones, which is what makes a
still read as a camera move. Each output frame is a backward warp (cv2.remap)
of the photo through a sampling map built from that near-ness and an eased
camera curve, so frames are rendered one at a time on demand.

Guarantees the tests check:
- anchor start: frame 0 is the photo (identity map); anchor end: the last frame is;
- loop: the curve goes out and back, so the last frame equals the first;
- no border is ever shown: each frame's map is pulled towards the centre just
  enough that every sample lies inside the photo (dynamic overscan, 1.0 at the
  anchor frame);
- the same seed gives the same clip (the seed only picks small variations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import cv2
import numpy as np

from .. import photo as photo_mod
from ..buffers import FramePool
from ..progress import CancelToken
from ..request import AnimateRequest
from . import depth as depth_mod
from .base import Clip, EngineStatus

# Frames a job holds at once: the colour stage's look-ahead ([colour] temporal_radius 6, plus
# the frame in hand and the one being corrected) and the encoder's queue (2) and frame.
FRAMES_IN_FLIGHT = 14
# Move reversed in time for `--anchor end`: the clip then leads *into* the photo.
_REVERSED = {"push-in": "pull-out", "pull-out": "push-in", "pan-left": "pan-right",
             "pan-right": "pan-left", "rise": "fall", "orbit": "orbit", "none": "none"}


def ease(t: float, loop: bool) -> float:
    """Eased camera progress 0..1: cosine ease in/out, or out-and-back for loops."""
    if loop:
        return 0.5 - 0.5 * math.cos(2 * math.pi * t)
    return 0.5 - 0.5 * math.cos(math.pi * t)


@dataclass(frozen=True)
class MoveParams:
    camera: str
    motion: float           # 0..1
    direction: float        # +1 / -1 (orbit direction, breathing drift), from the seed


def _affine(n: np.ndarray, slope: float, offset: float, gain: float, *, out: np.ndarray) -> np.ndarray:
    """gain * (offset + slope * n), computed in `out` (no full-size temporaries)."""
    np.multiply(n, slope, out=out)
    out += offset
    out *= gain
    return out


class Warp:
    """Builds per-frame sampling maps for a camera move over a near-ness map."""

    def __init__(self, near: np.ndarray, params: MoveParams) -> None:
        h, w = near.shape
        self.h, self.w = h, w
        self.cx, self.cy = (w - 1) / 2.0, (h - 1) / 2.0
        xs = np.arange(w, dtype=np.float32) - self.cx
        ys = np.arange(h, dtype=np.float32) - self.cy
        self.dx = np.broadcast_to(xs[None, :], (h, w))
        self.dy = np.broadcast_to(ys[:, None], (h, w))
        self.near = near
        self.p = params
        subject = float(np.percentile(near, 90))
        self.rel_near = near - subject  # orbit pivots around the subject's depth
        self._buffers: tuple[np.ndarray, ...] | None = None

    def maps(self, e: float) -> tuple[np.ndarray, np.ndarray]:
        """Sampling maps (map_x, map_y) for camera progress `e` in 0..1.

        The maps are this Warp's own buffers, overwritten by the next call: a clip
        needs a fresh set per frame, and fresh full-size arrays cost the kernel a
        page-zeroing pass each (at 1080p, ~70 MB a frame; it showed as kernel time
        that held the API's requests up while a clip rendered).
        """
        a, cam, n = self.p.motion, self.p.camera, self.near
        if self._buffers is None:
            self._buffers = tuple(np.empty((self.h, self.w), np.float32) for _ in range(4))
        mx, my, scale, shift = self._buffers
        tx: float | np.ndarray = 0.0
        ty: float | np.ndarray = 0.0
        if e == 0.0:
            scale = None
        elif cam in ("push-in", "pull-out", "none"):
            amp = {"push-in": 0.14, "pull-out": -0.10, "none": 0.02}[cam] * a * e
            _affine(n, 0.8, 0.5, amp, out=scale)                  # 1 + amp * (0.5 + 0.8 n)
            scale += 1.0
            if cam == "none":
                ty = np.multiply(n, 0.004 * a * self.h * self.p.direction * math.sin(math.pi * e), out=shift)
        elif cam in ("pan-left", "pan-right"):
            sign = -1.0 if cam == "pan-left" else 1.0
            scale = None
            tx = _affine(n, 0.7, 0.3, sign * 0.07 * a * e * self.w, out=shift)
        elif cam in ("rise", "fall"):
            sign = -1.0 if cam == "rise" else 1.0
            scale = None
            ty = _affine(n, 0.7, 0.3, sign * 0.07 * a * e * self.h, out=shift)
        elif cam == "orbit":
            _affine(n, 1.0, 0.5, 0.03 * a * e, out=scale)         # 1 + 0.03 a e (0.5 + n)
            scale += 1.0
            tx = np.multiply(self.rel_near, self.p.direction * 0.09 * a * e * self.w, out=shift)
        else:  # pragma: no cover - AnimateRequest validates cameras
            raise ValueError(f"unknown camera move {cam!r}")
        if scale is None:
            np.add(self.dx, tx, out=mx)
            np.add(self.dy, ty, out=my)
        else:
            np.divide(self.dx, scale, out=mx)
            mx += tx
            np.divide(self.dy, scale, out=my)
            my += ty
        # Dynamic overscan: pull the whole map in until every sample is inside.
        k = max(1.0,
                float(-mx.min()) / self.cx if self.cx else 1.0,
                float(mx.max()) / self.cx if self.cx else 1.0,
                float(-my.min()) / self.cy if self.cy else 1.0,
                float(my.max()) / self.cy if self.cy else 1.0)
        if k > 1.0:
            k *= 1.0 + 1e-4
        for m, c in ((mx, self.cx), (my, self.cy)):
            m /= np.float32(k)
            m += np.float32(c)
        return mx, my


class ParallaxEngine:
    name = "parallax"

    def status(self) -> EngineStatus:
        return EngineStatus(name=self.name, usable=True, kind="parallax", prompt=False, device="cpu",
                            reason="built in: renders a 2.5-D camera move on the CPU, no model weights")

    def generate(self, photo: np.ndarray, request: AnimateRequest, *, seed: int,
                 progress: Callable[[float], None], cancel: CancelToken,
                 context: dict[str, Any] | None = None) -> Clip:
        context = context or {}
        width, height = context.get("target_size") or (photo.shape[1], photo.shape[0])
        fps = float(request.fps)
        n_frames = request.n_frames
        rng = np.random.default_rng(seed)
        direction = 1.0 if rng.random() < 0.5 else -1.0

        near_small = depth_mod.estimate(photo, faces=context.get("faces", ()),
                                        subject_box=context.get("subject_box"))
        source = photo_mod.resize(photo, width, height)
        near = cv2.resize(near_small, (width, height), interpolation=cv2.INTER_LINEAR)
        camera = request.camera
        reverse = request.anchor == "end" and not request.loop
        if reverse:
            camera = _REVERSED[camera]
        warp = Warp(near, MoveParams(camera=camera, motion=float(request.motion), direction=direction))
        anchor_index = 0 if not reverse else n_frames - 1

        # Frames in flight (the colour stage's look-ahead, the encoder's queue) come back to
        # the pool once encoded; a fresh 1080p frame costs a page-zeroing pass (see buffers.py).
        pool = FramePool(keep=FRAMES_IN_FLIGHT)

        def frames() -> Iterator[np.ndarray]:
            for i in range(n_frames):
                cancel.raise_if_cancelled()
                t = i / (n_frames - 1)
                if reverse:
                    t = 1.0 - t
                e = ease(t, request.loop)
                if e == 0.0:
                    yield source.copy()
                else:
                    map_x, map_y = warp.maps(e)
                    frame = cv2.remap(source, map_x, map_y, interpolation=cv2.INTER_CUBIC,
                                      borderMode=cv2.BORDER_REPLICATE, dst=pool.empty(source.shape))
                    yield np.clip(frame, 0.0, 1.0, out=frame)  # bicubic overshoots at hard edges
                progress((i + 1) / n_frames)

        return Clip(frames=frames(), n_frames=n_frames, fps=fps, width=width, height=height,
                    anchor_index=anchor_index, seed=seed,
                    info={"engine": self.name, "model": "stillmotion-parallax", "revision": "1",
                          "camera_rendered": camera, "direction": direction,
                          "depth": "focus+position+faces heuristic, guided-filter refined"})
