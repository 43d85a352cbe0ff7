"""The parallax engine: a 2.5-D camera move over the photo, on any CPU, no weights.

A near-ness map (engines/depth.py) decides how far each pixel travels: near
parts of the scene move and scale more than far ones, which is what makes a
still read as a camera move. Each output frame is a backward warp (cv2.remap)
of the photo through a sampling map built from that near-ness and an eased
camera curve, so frames are rendered one at a time on demand.

Guarantees the tests check:
- anchor start: frame 0 is the photo (identity map); anchor end: the last frame is;
- loop: the curve goes out and back over one cycle of n frames, frame n being frame 0 again:
  played on repeat, the last frame leads into the first as any frame into the next (the
  first is not repeated at the end, which held it for two frames at every seam);
- no border is ever shown: each frame's map is pulled towards the centre just
  enough that every sample lies inside the photo (dynamic overscan, 1.0 at the
  anchor frame);
- no halo: each bicubic sample stays within the 2x2 photo pixels it lies between
  (`footprint.FootprintClamp`; a photo smaller than the frame is enlarged the same way by
  `photo.resize`), yet frames stay sharper than a bilinear warp;
- a move that would strobe (anything crossing the frame faster than STROBE_CROSSING_S at 24
  fps allows) is said in the clip's note, with what would move it smoothly; the move is the one
  asked for, the same path at every frame rate;
- the same seed gives the same clip; different seeds give different takes of the
  same move (`Take`: amount, easing, path angle, where a push-in aims, ...), each
  kept inside what the camera name promises. Seed 0 is the reference take: the
  move exactly as named (centred, standard amount and easing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import cv2
import numpy as np

from .. import photo as photo_mod
from ..buffers import FramePool
from ..footprint import FootprintClamp
from ..progress import CancelToken
from ..request import AnimateRequest
from . import depth as depth_mod
from .base import Clip, EngineStatus

# Frames a job holds at once: the colour stage's look-ahead ([colour] temporal_radius 6, plus
# the frame in hand and the one being corrected) and the encoder's queue (2) and frame.
FRAMES_IN_FLIGHT = 14
# Recorded as the clip's engine revision: "2" since the seed varies the take (under "1"
# only an orbit's or a breathing drift's direction followed the seed); "3" since a face is
# near all alike (depth.py), so a photo with a face renders otherwise than under "2"; "4"
# since depth is averaged along vertical structures (depth.py), so upright things lean or
# bend far less in a pan or an orbit, and most photos render otherwise than under "3"; "5"
# since a --loop is a cycle that does not come back to its first frame (its frames are
# spaced i/n, not i/(n-1), along the move), so loops render otherwise than under "4"; "6"
# since each bicubic sample is held within the 2x2 pixels it lies between (`FootprintClamp`),
# so hard edges lose their one-pixel halo and every frame but the photo's own differs from "5";
# "7" since a photo smaller than the delivery size is enlarged without Lanczos's halo
# (photo.resize holds each pixel the same way), so such photos render otherwise than under "6"
# (photos at or above the delivery size render as under "6", bit for bit); "8" since an
# orbit's direction and tilt follow the seed's place in the variants' sequence (`choose_take`),
# so orbits of most seeds but 0 render otherwise than under "7"; "9" since a face and the margin
# it travels over are held at one depth (depth.py `_one_depth`), so a face moves as one rigid
# piece instead of swelling or bending by 1-3 px at 1080p, and photos with a face render
# otherwise than under "8" (photos without one render as under "8", bit for bit); "10" since
# each pixel moves by the depth where its content comes from, not where it is shown (`Warp.maps`
# solves for it), so a near thing's outline and a straight edge across a depth change no longer
# bend (a Golden Gate tower top in an orbit at --motion 1: 4.0 -> 1.5 px off straight at 1080p),
# and every frame but the photo's own differs from "9"; "11" since a take's pace reshapes only
# the middle of the move (`ease`), its start, end and loop seam being the reference take's, so
# clips of most seeds but 0 render otherwise than under "10" (seed 0's, pace 1, bit for bit).
REVISION = "11"
# Steps of the fixed-point solve for the depth at each output pixel's source point (`Warp.maps`):
# even, so a disoccluded pixel settles on the background (one step left the near edge doubled there).
SOURCE_DEPTH_STEPS = 2
# Long edge of the grid the solve runs on: the near-ness map is an upscaled 384 px estimate
# (depth.py), so a finer grid solves no better; at 1080p the solve then costs ~1.5 ms a frame.
SOURCE_DEPTH_GRID = 480
# Move reversed in time for `--anchor end`: the clip then leads *into* the photo.
_REVERSED = {"push-in": "pull-out", "pull-out": "push-in", "pan-left": "pan-right",
             "pan-right": "pan-left", "rise": "fall", "orbit": "orbit", "none": "none"}


def ease(t: float, loop: bool, pace: float = 1.0) -> float:
    """Eased camera progress 0..1: cosine ease in/out, or out-and-back for loops.

    `pace` warps time before easing: below 1 the move does more early, above 1 more late
    (halfway through the clip it has done as much as under t ** pace). The warp,
    t + c sin^2(pi t), runs at the clip's own rate at both ends, so every take leaves and
    reaches its mark as the reference take does and a loop's seam is as smooth as its middle;
    t ** pace, used up to revision 10, lurched off the mark below 1 (its rate is infinite at 0)
    and rushed into the end and the seam above 1. 0 and 1 stay put, so anchors and loops hold.
    """
    if pace != 1.0:
        t += (0.5 ** pace - 0.5) * math.sin(math.pi * t) ** 2
    if loop:
        return 0.5 - 0.5 * math.cos(2 * math.pi * t)
    return 0.5 - 0.5 * math.cos(math.pi * t)


# How far a seed's take may stray from the reference move: small enough that the move
# keeps its name and its quality (no more overscan than a stronger --motion would need).
AMOUNT_RANGE = (0.85, 1.15)      # x the move's standard amplitude, never past what --motion 1 gives
PACE_LIMIT = 1.3                 # easing time warp (`ease`'s pace) between 1/1.3 and 1.3
MAX_ANGLE = 15.0                 # degrees a pan/rise path or an orbit's sweep may tilt
MAX_DRIFT_ANGLE = 60.0           # degrees the breathing drift (camera none) may lean off vertical
# Where a push-in/pull-out aims (x half-frame from the centre): drawn towards the subject
# (this share of its offset, itself capped), then round it, so inside the frame's middle half
SUBJECT_PULL = (0.7, 1.0)
SUBJECT_LIMIT = 0.25
AIM_RADIUS = (0.15, 0.25)
AIM_CLEARANCE = 0.15             # and no nearer the centre (the reference take's aim) than this
PIVOT_RANGE = (80.0, 95.0)       # orbit: near-ness percentile that stays still

# A move that crosses the frame in less than this many seconds at 24 fps strobes plainly (a near
# thing jumps across it): twice the speed of the usual judder limit (7 s), so that only a move
# that shows it is noted, not every short clip near the limit. Strobing is the step from one
# frame to the next, so at a higher --fps a faster move plays smoothly (60 fps: 3.5 x 24 / 60 s);
# at a lower one the limit stays (a choppy --fps is chosen). Such a move (a short --duration or
# a loop at a strong --motion) is made as asked: its note says it may strobe, and what would not.
STROBE_CROSSING_S = 3.5

_ZOOMS = ("push-in", "pull-out")
# Which way the sampling point travels (image space, y down) for each sliding move.
_SLIDES = {"pan-right": (1.0, 0.0), "pan-left": (-1.0, 0.0), "rise": (0.0, -1.0), "fall": (0.0, 1.0)}
# Golden-ratio sequence: successive seeds (a job's variants) land far apart on the
# take's main choice, where independent draws could land side by side; it starts at
# 0.5 (no tilt), the reference take's, so seed 1 is no near copy of seed 0 either.
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class Take:
    """What a seed chose for one clip: one variation inside the named camera move."""
    direction: float = 1.0                  # +1 / -1: orbit direction, breathing drift up or down
    amount: float = 1.0                     # x the move's standard amplitude
    pace: float = 1.0                       # easing time warp (see `ease`)
    angle: float = 0.0                      # degrees, counter-clockwise on screen: the path's tilt
    aim: tuple[float, float] = (0.0, 0.0)   # zoom centre, x half-frame from the centre (y down)
    pivot: float = 90.0                     # orbit: near-ness percentile that stays still

    def describe(self, camera: str) -> dict[str, Any]:
        """The choices this camera move uses, for the clip's info and XMP (no unused ones)."""
        used: dict[str, Any] = {"amount": self.amount, "pace": self.pace}
        if camera in _ZOOMS:
            used["aim"] = list(self.aim)
        elif camera in _SLIDES:
            used["angle"] = self.angle
        elif camera == "orbit":
            used.update(direction=self.direction, angle=self.angle, pivot=self.pivot)
        elif camera == "none":
            used.update(direction=self.direction, angle=self.angle)
        return used


def choose_take(seed: int, camera: str, motion: float, subject: tuple[float, float] = (0.0, 0.0)) -> Take:
    """The take for `seed`: seed 0 the reference move, any other a reproducible variation.

    `subject` (x half-frame from the centre) is where the scene's nearest part lies; a
    push-in aims round it. `motion` caps the amount: motion x amount stays within 1, the
    strongest move the engine is checked at (borders, colour). Values are rounded, so
    what the XMP records is what was used.
    """
    rng = np.random.default_rng(seed)
    direction = 1.0 if rng.random() < 0.5 else -1.0   # the first draw, as before takes varied (orbit: below)
    if seed == 0:
        return Take(direction=direction)
    spread = (0.5 + seed * _GOLDEN) % 1.0             # the main choice: see _GOLDEN
    amount = min(rng.uniform(*AMOUNT_RANGE), math.floor(1000 / motion) / 1000 if motion > 0 else math.inf)
    pace = math.exp(rng.uniform(-1.0, 1.0) * math.log(PACE_LIMIT))
    pivot = rng.uniform(*PIVOT_RANGE)
    pull, radius = rng.uniform(*SUBJECT_PULL), rng.uniform(*AIM_RADIUS)
    heading = 2 * math.pi * spread
    ax, ay = (pull * float(np.clip(s, -SUBJECT_LIMIT, SUBJECT_LIMIT)) + radius * u
              for s, u in zip(subject, (math.cos(heading), math.sin(heading))))
    if math.hypot(ax, ay) < AIM_CLEARANCE:   # a ring round the subject can cross the centre
        ax, ay = (AIM_CLEARANCE * u for u in (math.cos(heading), math.sin(heading)))
    lean = MAX_DRIFT_ANGLE if camera == "none" else MAX_ANGLE
    if camera == "orbit":
        # Left or right is what sets orbits apart; a coin toss gave runs of one way (seeds
        # 4-7 all -1), so three variants could be one sweep tilted a few degrees. The spread
        # picks it: one half of the sequence sweeps one way, the other half the other, each
        # half spanning the tilts, so takes in a row sweep opposite ways or tilt 14 deg apart.
        direction = 1.0 if spread < 0.5 else -1.0
        spread = (spread % 0.5) * 2.0
    return Take(direction=direction, amount=round(amount, 3), pace=round(pace, 3),
                angle=round((2 * spread - 1) * lean, 1), aim=(round(ax, 3), round(ay, 3)),
                pivot=round(pivot, 1))


def subject_point(near: np.ndarray) -> tuple[float, float]:
    """Centre of the nearest tenth of the scene, x half-frame from the frame's centre."""
    h, w = near.shape
    ys, xs = np.nonzero(near >= np.percentile(near, 90))
    return (round(float(xs.mean() / max(w - 1, 1) * 2 - 1), 3),
            round(float(ys.mean() / max(h - 1, 1) * 2 - 1), 3))


@dataclass(frozen=True)
class MoveParams:
    camera: str
    motion: float           # 0..1
    take: Take = Take()     # the seed's variation


def _affine(n: np.ndarray, slope: float, offset: float, gain: float, *, out: np.ndarray) -> np.ndarray:
    """gain * (offset + slope * n), computed in `out` (no full-size temporaries)."""
    np.multiply(n, slope, out=out)
    out += offset
    out *= gain
    return out


def _turn(vx: float, vy: float, degrees: float) -> tuple[float, float]:
    """Image-space vector (y down) turned `degrees` counter-clockwise as seen on screen.

    At 0 degrees the vector comes back exactly (x + 0.0, y - 0.0), so the reference take
    renders the very maps it always did.
    """
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return vx * c + vy * s, vy * c - vx * s


class Warp:
    """Builds per-frame sampling maps for a camera move over a near-ness map."""

    def __init__(self, near: np.ndarray, params: MoveParams, subject: float | None = None) -> None:
        h, w = near.shape
        self.h, self.w = h, w
        self.cx, self.cy = (w - 1) / 2.0, (h - 1) / 2.0
        xs = np.arange(w, dtype=np.float32) - self.cx
        ys = np.arange(h, dtype=np.float32) - self.cy
        self.dx = np.broadcast_to(xs[None, :], (h, w))
        self.dy = np.broadcast_to(ys[:, None], (h, w))
        # A zoom centres on the take's aim point, fixed for the clip: d - aim is made here, once
        # (a full pass per axis and frame otherwise), on the 1-D axes.
        zooms = params.camera in ("push-in", "pull-out")
        self.aim = (params.take.aim[0] * self.cx, params.take.aim[1] * self.cy) if zooms else (0.0, 0.0)
        self.dx_aimed = np.broadcast_to((xs - self.aim[0])[None, :], (h, w))
        self.dy_aimed = np.broadcast_to((ys - self.aim[1])[:, None], (h, w))
        self.near = near
        self.p = params
        # An orbit pivots around the subject's depth (the take's percentile).
        self.subject = float(np.percentile(near, params.take.pivot)) if subject is None else subject
        self._buffers: tuple[np.ndarray, ...] | None = None
        # The same move over a coarse copy of the near-ness map, for the depth solve (see `maps`).
        # (None: this map itself. Not `self`: a Warp referring to itself is freed only when the
        # garbage collector runs, and with it its frame-sized buffers.)
        self._grid: Warp | None = None
        if max(h, w) > SOURCE_DEPTH_GRID:
            f = SOURCE_DEPTH_GRID / max(h, w)
            small = cv2.resize(near, (max(2, round(w * f)), max(2, round(h * f))), interpolation=cv2.INTER_AREA)
            self._grid = Warp(small, params, subject=self.subject)

    def maps(self, e: float) -> tuple[np.ndarray, np.ndarray]:
        """Sampling maps (map_x, map_y) for camera progress `e` in 0..1.

        Output pixel x shows the photo at x + offset(d), offset growing with near-ness d. Taking
        d at x itself moved each pixel by the depth of whatever lies under its destination: the
        leading edge of a near thing took the background's depth, so its outline bent and a
        straight edge crossing a depth change kinked (a Golden Gate tower top in an orbit: 5.7 px
        RMS off straight at 1080p). d is the depth at the source point instead, the fixed point
        d = near(x + offset(d)), reached in SOURCE_DEPTH_STEPS steps from d = near(x) (where a
        near and a far point both land on x, the near one wins, as it should).

        The maps are this Warp's own buffers, overwritten by the next call: a clip
        needs a fresh set per frame, and fresh full-size arrays cost the kernel a
        page-zeroing pass each (at 1080p, ~70 MB a frame; it showed as kernel time
        that held the API's requests up while a clip rendered).
        """
        self._solve(self.near if e == 0.0 else self._source_near(e), e)
        map_x, map_y, *_ = self._own_buffers()
        return map_x, map_y

    def _own_buffers(self) -> tuple[np.ndarray, ...]:
        """map_x, map_y, scale, x and y offsets, near-ness: full-size scratch, reused every frame."""
        if self._buffers is None:
            self._buffers = tuple(np.empty((self.h, self.w), np.float32) for _ in range(6))
        return self._buffers

    def _source_near(self, e: float) -> np.ndarray:
        """Near-ness at each output pixel's source point (the fixed point `maps` describes)."""
        grid = self._grid or self
        sampled = grid._own_buffers()[5]
        near = grid.near
        for _ in range(SOURCE_DEPTH_STEPS):
            grid._solve(near, e)
            near = cv2.remap(grid.near, grid._buffers[0], grid._buffers[1], interpolation=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE, dst=sampled)
        if grid is self:
            return near
        return cv2.resize(near, (self.w, self.h), dst=self._own_buffers()[5], interpolation=cv2.INTER_LINEAR)

    def _solve(self, n: np.ndarray, e: float) -> None:
        """The maps for near-ness `n` at each output pixel, into this Warp's map buffers.

        An orbit writes n - subject into the near-ness buffer, which may be `n` itself (its
        scale is taken from `n` first).
        """
        a, cam, take = self.p.motion, self.p.camera, self.p.take
        mx, my, scale, x_buf, y_buf, sampled = self._own_buffers()
        tx: float | np.ndarray = 0.0
        ty: float | np.ndarray = 0.0
        if e == 0.0:
            scale = None
        elif cam in ("push-in", "pull-out", "none"):
            amp = {"push-in": 0.14, "pull-out": -0.10, "none": 0.02}[cam] * a * e * take.amount
            _affine(n, 0.8, 0.5, amp, out=scale)                  # 1 + amp * (0.5 + 0.8 n)
            scale += 1.0
            if cam == "none":   # breathing drift, up or down (direction) and leaning by angle
                ux, uy = _turn(0.0, take.direction, take.angle)
                drift = 0.004 * a * self.h
                tx = np.multiply(n, drift * ux * math.sin(math.pi * e) * take.amount, out=x_buf) if ux else 0.0
                ty = np.multiply(n, drift * uy * math.sin(math.pi * e) * take.amount, out=y_buf) if uy else 0.0
        elif cam in _SLIDES:
            scale = None
            ux, uy = _turn(*_SLIDES[cam], take.angle)
            length = self.w if cam.startswith("pan") else self.h
            tx = _affine(n, 0.7, 0.3, ux * 0.07 * a * e * length * take.amount, out=x_buf) if ux else 0.0
            ty = _affine(n, 0.7, 0.3, uy * 0.07 * a * e * length * take.amount, out=y_buf) if uy else 0.0
        elif cam == "orbit":
            _affine(n, 1.0, 0.5, 0.03 * a * e * take.amount, out=scale)   # 1 + 0.03 a e (0.5 + n)
            scale += 1.0
            ux, uy = _turn(take.direction, 0.0, take.angle)
            sweep = 0.09 * a * e * self.w * take.amount
            rel = np.subtract(n, np.float32(self.subject), out=sampled)
            tx = np.multiply(rel, ux * sweep, out=x_buf) if ux else 0.0
            ty = np.multiply(rel, uy * sweep, out=y_buf) if uy else 0.0
        else:  # pragma: no cover - AnimateRequest validates cameras
            raise ValueError(f"unknown camera move {cam!r}")
        for m, d, aimed, t, centre in ((mx, self.dx, self.dx_aimed, tx, self.aim[0]),
                                       (my, self.dy, self.dy_aimed, ty, self.aim[1])):
            if scale is None:
                np.add(d, t, out=m)
            else:               # scale about the aim point c: (d - c) / s + c
                np.divide(aimed, scale, out=m)
                if centre:
                    m += centre
                if isinstance(t, np.ndarray):
                    m += t
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


class ParallaxEngine:
    name = "parallax"

    def status(self) -> EngineStatus:
        return EngineStatus(name=self.name, usable=True, kind="parallax", prompt=False, device="cpu",
                            colour_exact=True,
                            reason="built in: renders a 2.5-D camera move on the CPU, no model weights")

    def generate(self, photo: np.ndarray, request: AnimateRequest, *, seed: int,
                 progress: Callable[[float], None], cancel: CancelToken,
                 context: dict[str, Any] | None = None) -> Clip:
        context = context or {}
        width, height = context.get("target_size") or (photo.shape[1], photo.shape[0])
        fps = float(request.fps)
        n_frames = request.n_frames
        near_small = depth_mod.estimate(photo, faces=context.get("faces", ()),
                                        subject_box=context.get("subject_box"))
        source = photo_mod.resize(photo, width, height)
        near = cv2.resize(near_small, (width, height), interpolation=cv2.INTER_LINEAR)
        camera = request.camera
        reverse = request.anchor == "end" and not request.loop
        if reverse:
            camera = _REVERSED[camera]
        take = choose_take(seed, camera, float(request.motion), subject_point(near_small))
        steps = n_frames if request.loop else n_frames - 1
        crossing = crossing_seconds(near_small, MoveParams(camera, float(request.motion), take),
                                    width, [ease(i / steps, request.loop, take.pace) for i in range(steps + 1)], fps)
        warp = Warp(near, MoveParams(camera=camera, motion=float(request.motion), take=take))
        anchor_index = 0 if not reverse else n_frames - 1

        # Frames in flight (the colour stage's look-ahead, the encoder's queue) come back to
        # the pool once encoded; a fresh 1080p frame costs a page-zeroing pass (see buffers.py).
        pool = FramePool(keep=FRAMES_IN_FLIGHT)

        def frames() -> Iterator[np.ndarray]:
            # A loop is a cycle: its frame n_frames would be frame 0 again, so it is not made.
            clamp = FootprintClamp(source)
            for i in range(n_frames):
                cancel.raise_if_cancelled()
                t = i / steps
                if reverse:
                    t = 1.0 - t
                e = ease(t, request.loop, take.pace)
                if e == 0.0:
                    yield source.copy()
                else:
                    map_x, map_y = warp.maps(e)
                    frame = cv2.remap(source, map_x, map_y, interpolation=cv2.INTER_CUBIC,
                                      borderMode=cv2.BORDER_REPLICATE, dst=pool.empty(source.shape))
                    yield clamp(frame, map_x, map_y)
                progress((i + 1) / n_frames)

        info = {"engine": self.name, "model": "stillmotion-parallax", "revision": REVISION,
                "camera_rendered": camera, "take": take.describe(camera),
                "depth": "focus+position+faces heuristic, even along verticals, guided-filter refined, faces at one depth"}
        notes = [_widening_note(request)] if camera == "pull-out" else []
        smooth = STROBE_CROSSING_S * 24.0 / max(fps, 24.0)
        if crossing < smooth:
            notes.append(_judder_note(request, fps, crossing, smooth))
        if notes:
            info["model_note"] = "; ".join(notes)
        return Clip(frames=frames(), n_frames=n_frames, fps=fps, width=width, height=height,
                    anchor_index=anchor_index, seed=seed, info=info, colour_exact=True)


def crossing_seconds(near: np.ndarray, params: MoveParams, width: int, curve: list[float],
                     fps: float) -> float:
    """How long the fastest part of the picture would take to cross a `width`-wide frame at the
    move's fastest (inf for no move): the farthest any pixel travels over the move (the maps at
    full progress, overscan included, on the near-ness map `near` at any size) times the largest
    step of the eased `curve` (progress per frame)."""
    h, w = near.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    step = max((abs(b - a) for a, b in zip(curve, curve[1:])), default=0.0)
    map_x, map_y = Warp(near, params).maps(1.0)
    speed = float(np.hypot(map_x - xs, map_y - ys).max()) * width / w * step * fps   # px a second
    return width / speed if speed > 0 else math.inf


def _judder_note(request: AnimateRequest, fps: float, crossing: float, smooth: float) -> str:
    """That the move may strobe, and what would make it smooth (the move's speed is near-linear
    in the motion and inverse to the duration). In words, not flags: Lightroom's report shows it."""
    share = crossing / smooth
    span = f"{request.duration:g} s" + (" (a loop, out and back)" if request.loop else "")
    cures = [f"a motion of {math.floor(request.motion * share * 100) / 100:g} or less",
             f"a duration of {math.ceil(request.duration / share * 10) / 10:g} s or more"]
    if STROBE_CROSSING_S * 24.0 / 60.0 <= crossing and fps < 60:
        cures.append("60 fps")
    return (f"the move may strobe: at motion {request.motion:g} over {span}, the nearest things cross the "
            f"frame in {crossing:.1f} s, under the {smooth:.1f} s below which a move strobes at "
            f"{max(fps, 24.0):g} fps ({', or '.join(cures)} moves smoothly)")


def _widening_note(request: AnimateRequest) -> str:
    """What the user should know when a move would have to show more than the photo.

    A warp of the photo has nothing outside its frame, so every frame but the photo's own is
    cut from inside it: a pull-out from the photo reads as a zoom in (skimage's astronaut and
    kodim21 at --motion 1: nothing in the frame gets smaller, far things grow up to 9%), only
    near things shrinking against far ones telling it apart; a push-in onto the photo is that
    clip reversed. The move is named as a move, not as `--camera`: it is often the profile's.
    """
    if request.loop:
        return ("a pull-out camera with --loop: the parallax engine cannot show more than the photo, so the loop "
                "tightens the view and comes back, which reads as a zoom in and out; without --loop, "
                "--anchor end gives a true pull-out")
    if request.camera == "push-in":
        return ("a push-in camera with --anchor end: the parallax engine cannot show more than the photo, so a "
                "push-in that ends on it starts inside it and widens onto it, which reads as a gentle pull-out; "
                "with --anchor start it is a true push-in")
    return ("a pull-out camera: the parallax engine cannot show more than the photo, so a pull-out that "
            "starts on it tightens the view as it goes and reads as a zoom in, with near things shrinking "
            "against far ones; with --anchor end it is a true pull-out, the clip widening onto the photo")
