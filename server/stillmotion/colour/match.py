"""Hold a clip to its graded photo's colour: fit once, apply to every frame, then keep it steady.

    photo + anchor frame --(aligned?)--> one smooth transform T (Lab 3-D LUT, or
                                         distribution match when not aligned)
    every frame f_t -> stats s_t of T(f_t) on a small copy
                       -> c_t, r_t: stats after T of the frame and of the anchor
                          on CORRESPONDING pixels only (the anchor aligned to the frame
                          by optical flow, both blurred alike, see correspond.py), so a
                          camera move that shows other content is not taken for drift
    tau_t  = s smoothed over neighbouring frames (local linear fit in time); likewise c, r
    F_t    = s_t   -> tau_t   deflicker: only what jumps from frame to frame
    D_t    = c_t   -> r_t     drift: only the slow part, so it cannot flicker (where too
                              little corresponds: tau_t -> whole-photo target, at reduced weight)
    frame' = f_t + strength * (D_t(F_t(T(f_t))) - f_t)

The transforms are composed at the nodes of one 3-D LUT per frame and applied
to the full frame in a single pass (see lut.py), so the per-frame cost is one
OpenCV remap; frames whose correction is below `unchanged_below` 8-bit levels
are passed through untouched (no pass at all), in runs of PASS_THROUGH_RUN or
more (a lone one between corrected frames would be a step: flicker). Frames
stream: about `temporal_radius` + READ_AHEAD + APPLY_BEHIND frames (or the
anchor look-ahead) are held, never the clip.

`match_video` is the same for any clip on disk (`stillmotion match`).
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

import cv2
import numpy as np

from ..errors import InputError
from ..photo import resize
from .align import align, picture_area
from .correspond import Alignment, Corresponding, ReferenceView
from .fit import fit_lab_lut
from .icc import apply_lut
from .lut import FrameLut, Workspace, grid_nodes
from .settings import MatchSettings   # (apart: checking the config imports no OpenCV)
from .space import lab_to_srgb, luminance, srgb_to_lab
from .stats import (ColourStats, balance_exposure, beyond_noise, blend, end_fade, lightness_offset,
                    match_statistics, smooth_in_time)

if TYPE_CHECKING:
    from ..video.decode import VideoInfo
    from ..video.settings import EncodeSettings

FLOW_SIZE = 2   # correspondence is found on copies this many times the statistics size (see correspond.py)
# How far the statistics of corresponding pixels differ where nothing has drifted (measured on
# parallax clips of real photos: flow error, content seen at another scale). A difference within
# this is no evidence of drift and is not corrected; one well beyond it is corrected nearly whole.
# A camera moves a pixel or so between frames at the correspondence copy's size, which its blur
# absorbs (and the pixels found corresponding are re-measured on every frame): the alignment (two
# optical flows) found on one frame serves the next three too. Measured at 1024x576 (bench/colour.py):
# every 2nd frame -> every 4th is ~1.3 ms less per frame, same CIEDE2000, flicker 0.0073 -> 0.0072.
ALIGN_EVERY = 4
# Frames whose correction would not show pass through untouched only in runs at least this long
# (see _PassThrough); the frames of a shorter run are held back until it is decided.
PASS_THROUGH_RUN = 4
# Pipeline depths (bench/colour.py, 1024x576, A/B in one process): the full-frame pass may run
# this many frames behind the planning (1 -> 2: +8% fps; one more corrected frame in flight) ...
APPLY_BEHIND = 2
# ... and frames are read (and their alignment started) this many frames beyond the smoothing
# window, so that measuring seldom waits for an alignment (1 -> 3: +5%; two more frames held).
READ_AHEAD = 3
# Fewer corresponding pixels than this are no measurement of drift (whole frames are used instead).
MIN_CORRESPONDING_PIXELS = 16
CORRESPONDENCE_NOISE = {"mean_lightness": 0.2, "lightness": 1.0, "chroma": 0.4, "spread": 0.08}


def _small(frame: np.ndarray, long_edge: int) -> np.ndarray:
    """A copy about `long_edge` pixels long, by an integer factor (OpenCV's fast area-average path).

    A sliver under the factor is cropped from the right/bottom edges when the size
    does not divide; fitting and correspondence do not miss it.
    """
    h, w = frame.shape[:2]
    factor = max(1, round(max(h, w) / long_edge))
    if factor == 1:
        return np.asarray(frame, dtype=np.float32)
    hh, ww = max(factor, h - h % factor), max(factor, w - w % factor)
    return cv2.resize(np.asarray(frame[:hh, :ww], dtype=np.float32), (ww // factor, hh // factor),
                      interpolation=cv2.INTER_AREA)


def _flow_copy(frame: np.ndarray, stats_size: int) -> np.ndarray:
    """The copy correspondence is found on (FLOW_SIZE x the statistics size), made per frame.

    Up to 4x smaller, a bilinear resize: each pixel the mean of the 2x2 pixels at its
    block's centre (0.06 ms at 1024x576 against 0.5 ms for the full area average). The
    copy is blurred before anything is measured on it, which is what absorbs the
    aliasing of the smaller footprint; further down, the area average.
    """
    h, w = frame.shape[:2]
    factor = max(1, round(max(h, w) / (FLOW_SIZE * stats_size)))
    if factor > 4:
        return _small(frame, FLOW_SIZE * stats_size)
    size = (max(1, w // factor), max(1, h // factor))
    return cv2.resize(np.asarray(frame[:size[1] * factor, :size[0] * factor], dtype=np.float32), size,
                      interpolation=cv2.INTER_LINEAR)


def _samples(frame: np.ndarray, long_edge: int) -> np.ndarray:
    """The statistics copy: every k-th pixel of the frame, about `long_edge` samples long.

    Samples, not averages: the correction is non-linear, so the mean L* of corrected
    block averages is not the mean L* of the corrected pixels, and the difference
    changes with every frame's correction. It showed as flicker the settled
    statistics could not see (bench/colour.py 1024x576: 0.0072 -> 0.0030 L* with
    samples). Samples are pixels the full frame has: what is settled is what it shows.
    """
    h, w = frame.shape[:2]
    step = max(1, round(max(h, w) / long_edge))
    return np.ascontiguousarray(frame[step // 2::step, step // 2::step], dtype=np.float32)


def _compress_highlights(lab: np.ndarray) -> np.ndarray:
    """Roll L* off smoothly above a knee when a fit overshoots white (instead of clipping)."""
    knee, top = 90.0, float(lab[..., 0].max())
    if top <= 100.0:
        return lab
    out = lab.copy()
    x = np.maximum(out[..., 0] - knee, 0.0)
    c = (top - knee) * (100.0 - knee) / (top - 100.0)   # maps `top` exactly to 100, slope 1 at the knee
    out[..., 0] = np.where(out[..., 0] > knee, knee + x / (1.0 + x / c), out[..., 0])
    return out


def _photo_to_align(photo: np.ndarray, settings: MatchSettings) -> np.ndarray:
    """The photo as frames are aligned with it: a huge one brought to a few times the fitting
    size once; alignment resamples it further (from much nearer, the two area resamplings
    differ enough to show in the fit)."""
    photo = np.asarray(photo, dtype=np.float32)
    scale = 4 * settings.fit_size / max(photo.shape[:2])
    if scale < 1.0:
        photo = resize(photo, max(8, round(photo.shape[1] * scale)), max(8, round(photo.shape[0] * scale)))
    return photo


def _framed_area(anchor: np.ndarray, photo: np.ndarray, settings: MatchSettings) -> tuple[slice, slice]:
    """The part of the anchor that shows the picture: inside black bars (see align.picture_area)
    where it lines up with the photo at least as well as the whole frame does (a photo that has
    black borders of its own keeps them)."""
    area = picture_area(anchor)
    if anchor[area].shape == anchor.shape:
        return area
    photo = _photo_to_align(photo, settings)
    inside = align(_small(anchor[area], settings.fit_size), photo).score
    whole = align(_small(anchor, settings.fit_size), photo).score
    return area if inside >= whole else (slice(None), slice(None))


@dataclass
class ReferenceFit:
    """The one transform fitted to the photo, and the statistics every frame is held to."""

    base_lab: np.ndarray       # (N, N, N, 3): Lab of T(node) at every LUT node
    lut: FrameLut              # T alone, to measure frames after T
    target: ColourStats        # statistics the clip is held to where frames show other content
    method: str                # "aligned" | "distribution"
    alignment: float           # structure correlation of anchor and photo


def fit_reference(anchor: np.ndarray, reference: np.ndarray, settings: MatchSettings) -> ReferenceFit:
    """T from `anchor` to the photo: on aligned pixels when they line up, else by distributions."""
    nodes = grid_nodes(settings.lut_size)
    node_lab = srgb_to_lab(nodes)
    anchor_fit = _small(anchor, settings.fit_size)
    photo = _photo_to_align(reference, settings)
    found = align(anchor_fit, photo)
    if found.score >= settings.min_alignment:
        # Light blur: sub-pixel misalignment and noise/grain should not look like colour error.
        src = cv2.GaussianBlur(anchor_fit, (0, 0), 0.8)[found.valid]
        dst = srgb_to_lab(cv2.GaussianBlur(found.reference, (0, 0), 0.8))[found.valid]
        offsets = fit_lab_lut(src, dst, grid=settings.fit_grid, smoothness=settings.fit_smoothness)
        base = node_lab + apply_lut(nodes, offsets)   # the fitted offsets, at the LUT's nodes
        method = "aligned"
    else:
        anchor_stats = ColourStats.measure(srgb_to_lab(_samples(anchor, settings.stats_size)))
        photo_stats = ColourStats.measure(srgb_to_lab(_samples(photo, settings.stats_size)))
        base = match_statistics(anchor_stats, photo_stats).apply(node_lab)
        method = "distribution"
    base = _compress_highlights(base)
    lut = FrameLut(lab_to_srgb(base) - nodes)
    if method == "aligned":
        target = ColourStats.measure(srgb_to_lab(lut.apply(_samples(anchor, settings.stats_size))))
    else:
        target = photo_stats
    return ReferenceFit(base, lut, target, method, found.score)


class _Finder:
    """Each frame's correspondence with the anchor (needs no T: it can start before the fit)."""

    def __init__(self, anchor: np.ndarray, settings: MatchSettings) -> None:
        self.stats_size = settings.stats_size
        self.view = ReferenceView(_flow_copy(anchor, settings.stats_size))
        self._alignment: Alignment | None = None

    def correspond(self, frame: np.ndarray, align: bool) -> Corresponding:
        """Found on a small copy, by an alignment found on this frame (`align`) or the last one
        found (so: called in frame order, from one thread)."""
        copy = _flow_copy(frame, self.stats_size)
        if align or self._alignment is None:
            self._alignment = self.view.align(copy)
        return self.view.match(copy, self._alignment)


@dataclass
class _Measured:
    """What one frame's correction is computed from."""

    small: np.ndarray     # the frame itself, small sRGB statistics copy
    lab: np.ndarray       # (n, 3) Lab of that copy after T
    whole: np.ndarray     # statistics vector of all of those pixels
    pair: np.ndarray      # statistics vectors of the pixels that correspond with the reference:
                          # the frame's, then the reference's (differences within noise taken out)
    weight: float         # 0..1: how far drift may be measured on correspondence alone


class _Corrector:
    """Per-frame: statistics on a small copy, then one composed LUT on the full frame."""

    def __init__(self, fit: ReferenceFit, settings: MatchSettings, strength: float) -> None:
        self.fit, self.settings, self.strength = fit, settings, strength
        self.nodes = grid_nodes(settings.lut_size)
        self.base = tuple(np.ascontiguousarray(fit.base_lab[..., c]) for c in range(3))   # L*, a*, b*
        self._reference: tuple[np.ndarray | None, ColourStats | None] = (None, None)
        self.workspace: Workspace | None = None

    def colours(self, found: Future[Corresponding]) -> tuple[np.ndarray, ColourStats | None, float]:
        """Lab after T of a frame's corresponding pixels, the statistics of the reference's (None
        when too few correspond), and the coverage. Called in frame order, so the reference's are
        measured once per alignment (the frames that share one share its pixels' array)."""
        c = found.result()
        if self._reference[0] is not c.reference:
            self._reference = (c.reference, ColourStats.measure(self._lab(c.reference))
                               if len(c.reference) >= MIN_CORRESPONDING_PIXELS else None)
        return self._lab(c.frame), self._reference[1], c.coverage

    def _lab(self, pixels: np.ndarray) -> np.ndarray:
        """Lab of (n, 3) sRGB pixels after T."""
        if not len(pixels):
            return np.empty((0, 3), np.float32)
        # One row, not one column: remap walks a column-shaped image row by row (3x slower here).
        return srgb_to_lab(self.fit.lut.apply(pixels.reshape(1, -1, 3)).reshape(-1, 3))

    def measure(self, frame: np.ndarray, colours: Future[tuple[np.ndarray, ColourStats | None, float]]) -> _Measured:
        """The frame's statistics; `colours`: its corresponding colours (see `colours`), being
        found on the correspondence thread."""
        small = _samples(frame, self.settings.stats_size)
        lab = srgb_to_lab(self.fit.lut.apply(small))
        whole = ColourStats.measure(lab).vector()
        # Full trust from `min_corresponding` of the frame corresponding, none below half of it.
        full = self.settings.min_corresponding
        frame_lab, reference, coverage = colours.result()
        weight = float(np.clip(2.0 * coverage / full - 1.0, 0.0, 1.0)) if full > 0 else 1.0
        if weight > 0 and reference is not None:   # (the frame's pixels are as many as the reference's)
            seen = ColourStats.measure(frame_lab)
            wanted = beyond_noise(seen, reference, **CORRESPONDENCE_NOISE)
            pair = np.concatenate([seen.vector(), wanted.vector()])
        else:
            weight, pair = 0.0, np.concatenate([whole, self.fit.target.vector()])
        return _Measured(small, lab.reshape(-1, 3), whole, pair, weight)

    def plan(self, m: _Measured, smoothed: np.ndarray, pair: np.ndarray, share: float) -> tuple[FrameLut, bool]:
        """The frame's correction as one LUT, and whether it would show (see `unchanged_below`)."""
        s = self.settings
        own, tau, target = ColourStats.from_vector(m.whole), ColourStats.from_vector(smoothed), self.fit.target
        nodes, small = self.base, m.lab[:, 0]
        steps = []
        if s.deflicker > 0:   # fast: exposure/white balance only, toward the smoothed statistics
            steps.append((balance_exposure(own, tau), s.deflicker))
        # Slow: the full correction, from smoothed statistics only. Measured on content the
        # frame and the reference both show (`share` of it), else on whole frames, trusted less.
        seen, wanted_seen = (ColourStats.from_vector(v) for v in np.split(pair, 2))
        fallback = (1.0 - share) * s.fallback_drift
        if s.drift > 0:   # (a part of no weight is not computed: every frame, most often the fallback)
            parts = [(match_statistics(src, dst), w) for src, dst, w in ((seen, wanted_seen, share),
                                                                      (tau, target, fallback)) if w > 0]
            if parts:
                steps.append((blend(*parts), s.drift))
        for transform, amount in steps:
            nodes = transform.apply_planar(*nodes, amount=amount)
            small = transform.lightness(small, amount)
        # The steps agree on mean lightness only approximately; settle it exactly (flicker is
        # judged on it): the mean the two steps aim for, minus the mean they give.
        wanted = (own.mean[0] + s.deflicker * (tau.mean[0] - own.mean[0])
                  + s.drift * (share * (wanted_seen.mean[0] - seen.mean[0])
                               + fallback * (target.mean[0] - tau.mean[0])))
        weight = max(float(end_fade(small).mean()), 0.2)
        offset = float(np.clip((wanted - small.mean()) / weight, -5.0, 5.0))
        nodes = np.stack(lightness_offset(offset).apply_planar(*nodes), axis=-1)
        lut = FrameLut((lab_to_srgb(nodes) - self.nodes) * np.float32(self.strength))
        return lut, float(np.abs(lut.apply(m.small) - m.small).max()) * 255.0 > s.unchanged_below

    def apply(self, frame: np.ndarray, lut: FrameLut) -> np.ndarray:
        """The full frame corrected (one pass; called from one thread at a time)."""
        if self.workspace is None or not self.workspace.fits(frame):
            self.workspace = Workspace(frame)
        return lut.apply(frame, self.workspace)


def _done(value: np.ndarray) -> Future[np.ndarray]:
    future: Future[np.ndarray] = Future()
    future.set_result(value)
    return future


def match_frames(frames: Iterable[np.ndarray], reference: np.ndarray, *, strength: float,
                 anchor_index: int | None, n_frames: int | None = None,
                 config: Mapping[str, Any] | None = None,
                 info: dict[str, Any] | None = None) -> Iterator[np.ndarray]:
    """Colour-match streamed frames (float32 HxWx3 sRGB [0, 1]) to the graded `reference` photo.

    `strength` 0 returns the frames untouched (the very same arrays); 1 holds the
    clip fully to the photo. `anchor_index` is the frame that shows the photo
    (None: no frame does; a negative index counts from the end and needs
    `n_frames`); the fit is made on it when it is within the look-ahead, else on
    the first frame. When `info` is given it receives how the match was made.
    """
    strength = float(min(1.0, max(0.0, strength)))
    if strength == 0.0:
        yield from frames
        return
    settings = MatchSettings.from_config(config)
    reference = np.asarray(reference, dtype=np.float32)
    if reference.ndim != 3 or reference.shape[2] != 3 or min(reference.shape[:2]) < 2:
        raise InputError(f"the reference photo must be an RGB image; got an array of shape {reference.shape}")
    if anchor_index is not None and anchor_index < 0:
        anchor_index = n_frames + anchor_index if n_frames else None
    look_ahead = anchor_index if anchor_index is not None and anchor_index <= settings.max_anchor_lookahead else None

    radius = max(0, settings.temporal_radius)
    # Read before the fit: the frames up to the anchor, and those the first corrections need
    # (their correspondence with the anchor is found while T is fitted: a tenth of a short
    # clip's time, on one core).
    source = iter(frames)
    buffer: deque[tuple[int, np.ndarray]] = deque()
    for frame in source:
        buffer.append((len(buffer), np.asarray(frame, dtype=np.float32)))
        if len(buffer) > max(look_ahead or 0, radius + READ_AHEAD):
            break
    if not buffer:
        return
    # Fit on the frame that shows the photo when it is within reach, else on the first frame
    # (which, in a clip with small motion, still often lines up with the photo: alignment decides).
    anchor = buffer[look_ahead][1] if look_ahead is not None and look_ahead < len(buffer) else buffer[0][1]
    # Black bars (a letterboxed or pillarboxed clip) are left out of everything measured and
    # fitted; the correction still runs over the whole frame, where it keeps black black.
    area = _framed_area(anchor, reference, settings)
    anchor = anchor[area]
    # Three threads: finding each frame's correspondence with the anchor as soon as it is read
    # (optical flow on every ALIGN_EVERY-th frame, and blurs: mostly outside the GIL), then its
    # colours after T; measuring and planning each frame here (small arrays: mostly Python,
    # under the GIL; measured on a thread of their own, the two fought over the GIL and ran 6%
    # slower); and the pass over the full frame (OpenCV/numpy, outside the GIL) a frame or two
    # behind. Each handles frames in order and results are only read once done, so the output
    # is the same as doing it all inline.
    finder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="colour-correspond")
    applier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="colour-apply")
    try:
        finding = _Finder(anchor, settings)
        found: dict[int, Future[Corresponding]] = {}

        def find(index: int, frame: np.ndarray) -> None:
            found[index] = finder.submit(finding.correspond, frame[area], index % ALIGN_EVERY == 0)

        for i, f in buffer:
            find(i, f)
        fit = fit_reference(anchor, reference, settings)
        # The photo is not needed past the fit: let it go (`match` of a 4K clip against a 45 MP
        # photo held 620 MB more through the whole clip; the caller may hold it for itself).
        del reference
        if info is not None:
            info.update(colour_method=fit.method, colour_alignment=round(fit.alignment, 3),
                        colour_strength=strength)
        corrector = _Corrector(fit, settings, strength)

        def read(index: int, frame: np.ndarray) -> tuple[np.ndarray, Future[tuple[np.ndarray, ColourStats | None, float]]]:
            """What measuring the frame takes: it, and its corresponding colours (being found)."""
            return frame[area], finder.submit(corrector.colours, found.pop(index))

        pending = {i: read(i, f) for i, f in buffer}
        measured: dict[int, _Measured] = {}
        passing = _PassThrough(PASS_THROUGH_RUN)
        output: deque[Future[np.ndarray]] = deque()

        def send(decided: list[tuple[np.ndarray, FrameLut | None]]) -> None:
            for frame, lut in decided:   # the pass over the full frame, or the frame as it is
                output.append(applier.submit(corrector.apply, frame, lut) if lut is not None else _done(frame))

        next_read = len(buffer)
        exhausted = False
        while buffer:
            index, frame = buffer[0]
            while not exhausted and next_read <= index + radius + READ_AHEAD:
                nxt = next(source, None)
                if nxt is None:
                    exhausted = True
                    break
                nxt = np.asarray(nxt, dtype=np.float32)
                buffer.append((next_read, nxt))
                find(next_read, nxt)
                pending[next_read] = read(next_read, nxt)
                next_read += 1
            for k in [k for k in pending if k <= index + radius]:
                measured[k] = corrector.measure(*pending.pop(k))
            buffer.popleft()
            near = sorted(k for k in measured if abs(k - index) <= radius)
            times, sigma = np.array(near, dtype=np.float64), max(1.0, radius / 2.0)
            smoothed = smooth_in_time(np.stack([measured[k].whole for k in near]), times, float(index), sigma)
            trust = np.array([measured[k].weight for k in near])
            nearness = np.exp(-0.5 * ((times - index) / sigma) ** 2)
            share = float((nearness * trust).sum() / nearness.sum())
            pair = (smooth_in_time(np.stack([measured[k].pair for k in near]), times, float(index), sigma,
                                   weights=trust) if share > 0 else measured[index].pair)
            lut, shows = corrector.plan(measured[index], smoothed, pair, share)
            send(passing.add(frame, lut, shows))
            del frame, lut
            # The pass over the full frame runs APPLY_BEHIND frames behind.
            while len(output) > APPLY_BEHIND:
                yield output.popleft().result()
            for k in [k for k in measured if k < index - radius]:
                del measured[k]
        send(passing.finish())
        while output:
            yield output.popleft().result()
        if info is not None:
            info["colour_frames_unchanged"] = passing.passed
    finally:
        for executor in (finder, applier):
            executor.shutdown(wait=True, cancel_futures=True)


class _PassThrough:
    """Which frames go through untouched: those whose correction would not show, in long runs only.

    Skipping the pass for a correction too small to see is free speed, and leaves a
    clip whose colour is right bit for bit as it was. But a lone frame passed through
    between corrected ones (often the anchor, which needs least) is a step of up to
    `unchanged_below` levels against its neighbours: flicker. So a run of such frames
    is held back until it is `run` frames long (then it, and the rest of the run, pass
    through) or a frame that needs correcting ends it (then the held ones are corrected
    too). A clip that ends inside a short run passes it through only if no frame of the
    clip was corrected.
    """

    def __init__(self, run: int) -> None:
        self.run = max(1, run)
        self.held: list[tuple[np.ndarray, FrameLut]] = []
        self.passing = False       # inside a run that is long enough
        self.corrected = False     # any frame of the clip corrected so far
        self.passed = 0

    def add(self, frame: np.ndarray, lut: FrameLut, shows: bool) -> list[tuple[np.ndarray, FrameLut | None]]:
        """The frames now decided, in order, each with its LUT or None to pass it through."""
        if shows:
            self.passing, self.corrected = False, True
            return self._release(correct=True) + [(frame, lut)]
        if self.passing:
            self.passed += 1
            return [(frame, None)]
        self.held.append((frame, lut))
        if len(self.held) < self.run:
            return []
        self.passing = True
        return self._release(correct=False)

    def finish(self) -> list[tuple[np.ndarray, FrameLut | None]]:
        """The frames still held at the end of the clip."""
        return self._release(correct=self.corrected)

    def _release(self, *, correct: bool) -> list[tuple[np.ndarray, FrameLut | None]]:
        """The held frames, corrected or passed through."""
        released: list[tuple[np.ndarray, FrameLut | None]] = [(f, lut if correct else None) for f, lut in self.held]
        if not correct:
            self.passed += len(self.held)
        self.held = []
        return released


# An edited clip may fade in (from black, from white, from a title) over its first frames: the
# anchor is the first opening frame with at least this share of the opening's highest contrast.
ANCHOR_CONTRAST = 0.9


def _opening_anchor(frames: Iterable[np.ndarray], photo: np.ndarray, settings: MatchSettings) -> int:
    """Which of a clip's opening frames (up to `max_anchor_lookahead`) to fit on: the first that
    lines up with the photo (or, where none does, any) and shows nearly the opening's highest
    contrast. Alignment alone does not tell a fade: it is judged on structure, so a frame at a
    tenth of its brightness lines up as well as the photo, and fitted to the photo that dim
    frame brightened the whole clip manyfold. A clip made from the photo starts on it: 0."""
    photo = _photo_to_align(photo, settings)
    aligned: dict[int, float] = {}
    others: dict[int, float] = {}
    for index, frame in enumerate(islice(frames, settings.max_anchor_lookahead + 1)):
        small = _small(frame[picture_area(frame)], settings.fit_size)
        contrast = float(luminance(small).std())
        (aligned if align(small, photo).score >= settings.min_alignment else others)[index] = contrast
    candidates = aligned or others
    if not candidates:
        return 0
    best = max(candidates.values())
    return min(k for k, contrast in candidates.items() if contrast >= ANCHOR_CONTRAST * best)


def _ends_in_separator(path: str) -> bool:
    return path.endswith(tuple(sep for sep in (os.sep, os.altsep) if sep))


def match_video(video: str | os.PathLike, photo: str | os.PathLike, *, out: str | os.PathLike | None = None,
                strength: float = 1.0, config: Mapping[str, Any] | None = None,
                warnings: list[str] | None = None, progress: Callable[[float], None] | None = None,
                details: dict[str, Any] | None = None) -> list[Path]:
    """Colour-match a clip on disk (made here or anywhere) to its source photo; returns the new
    files: the clip, then its .xmp sidecar when one was written.

    Written beside the video as VIDEO.matched.mp4 (then .matched-2.mp4, ...; a ProRes
    clip as ProRes, VIDEO.matched.mov; _master_settings says what a master keeps), or to
    `out` (a folder, or a new .mp4/.mov file, which decides the format; a name ending in a
    separator is a folder, made with its parents if missing, as `animate --out` makes one);
    nothing is ever overwritten and
    the file appears only when complete. The anchor is the first frame, or the first that
    shows the photo whole where the clip fades in (see _opening_anchor): if it is aligned
    with the photo the fit uses its pixels, otherwise the photo's colour distribution. The
    clip's sound is carried over (video.audio).
    `warnings`, when given, receives what the user should know but that does not stop the
    match (its XMP not carried, its sidecar not written), one line each; `progress`, the
    fraction of the clip's frames written so far; `details`, how the match was made
    (`match_frames`' info: colour_method, colour_alignment, ...).
    """
    from .. import config as config_mod, photo as photo_mod
    from ..place import check_destination, claim, place_group, sweep_abandoned, temp_path, write_failure
    from ..video.decode import frame_times, probe, read_alpha, read_frames
    from ..video.audio import av_version, keeps_timecode_with_sound, with_audio
    from ..video.encode import SUFFIX, EncodeSettings, FrameTimes, encode, even_size
    from ..metadata.job import carries_place, packet_switches
    from ..metadata.writer import store_packet

    cfg = config if config is not None else config_mod.load()
    made = details if details is not None else {}   # how the match was made (match_frames' info)
    video, out_path = Path(video), Path(out).expanduser() if out is not None else None
    photo_mod.check_is_file(video, "video clip")   # (missing: one plain line, not FFmpeg's errno)
    # `newdir/` (Path drops the separator) names a folder, whether or not it is there yet.
    out_folder = out_path is not None and (out_path.is_dir() or _ends_in_separator(os.fspath(out)))
    if out_path is None:
        folder = video.parent
    elif out_folder:
        folder = out_path
    else:
        if out_path.suffix.lower() not in (".mp4", ".mov"):
            raise InputError(f"--out {out_path.name}: write a .mp4 or .mov file (or give a folder: "
                             f"{out_path.name}{os.sep} is made if missing)")
        if out_path.exists():
            raise InputError(f"{out_path} already exists; not overwriting it")
        folder = out_path.parent
        if not folder.is_dir():
            raise InputError(f"--out: folder {folder} does not exist")
    # Before any work: a read-only card or share, a folder without permission, a file in the way
    # (found only once the clip was matched, it came as a traceback).
    check_destination(folder)
    picture = photo_mod.load(photo, float(cfg.get("limits", {}).get("max_megapixels", 200)))
    info = probe(video)
    if info.n_frames < 2 or info.width < 2 or info.height < 2:
        raise InputError(f"{video.name}: not a video clip ({info.n_frames} frame(s) of {info.width}x{info.height})")
    hdr = photo_mod.HDR_TRANSFERS.get(info.color_trc)
    if hdr:
        # Decoded as SDR its colours would be wrong, and matched to the photo wronger still.
        raise InputError(f"{video.name}: an HDR clip ({hdr}); stillmotion match works on SDR (BT.709) "
                         "clips: export an SDR version (phones: the 'most compatible' or SDR setting)")
    # A ProRes master stays a master (ProRes .mov); anything else becomes MP4, unless an --out
    # file names the format.
    if out_path is not None and not out_folder:
        fmt = out_path.suffix.lower().lstrip(".")
    else:
        fmt = "mov" if info.codec == "prores" else "mp4"
    width, height = even_size(info.width, info.height)
    # A variable-rate clip (a phone's) keeps each frame's time: respaced evenly it would drift
    # against its sound. (Matching keeps the frames' order and number.)
    variable = frame_times(video)
    times = FrameTimes(*variable) if variable is not None else None
    anchor = 0
    if strength > 0:
        with closing(read_frames(video)) as opening:   # (decoded twice: a few frames, not the clip)
            anchor = _opening_anchor(opening, picture.pixels, MatchSettings.from_config(cfg))
    frames = (f[:height, :width] for f in read_frames(video))   # yuv420p needs even sizes
    matched = match_frames(frames, picture.pixels, strength=strength, anchor_index=anchor,
                           n_frames=info.n_frames, config=cfg, info=made)
    settings = _master_settings(info, EncodeSettings.from_config(fmt, "h264", cfg.get("output", {})))
    if info.alpha and not settings.alpha and warnings is not None:
        warnings.append("its alpha channel is not kept: an MP4 holds none (matched to a .mov, "
                        "a ProRes 4444 master keeps it)")
    folder.mkdir(parents=True, exist_ok=True)
    sweep_abandoned(folder)
    tmp, picture, xmp_tmp = temp_path(folder, SUFFIX[fmt]), temp_path(folder, SUFFIX[fmt]), temp_path(folder, ".xmp")
    # The clip's own XMP (how it was made, that it is AI-generated) comes along, as [metadata] says.
    max_xmp = int(float(cfg.get("limits", {}).get("max_xmp_mb", 16)) * 1024 * 1024)
    packet = _clip_xmp(video, SUFFIX[fmt], warnings, encoding=settings, max_sidecar_bytes=max_xmp)
    want_sidecar, embed = packet_switches(cfg)
    if packet is not None and not carries_place(cfg):
        packet = _without_place(packet)
    try:
        alpha = (a[:height, :width] for a in read_alpha(video)) if settings.alpha else None
        encode(matched, picture, width=width, height=height, fps=info.fps or 24.0, settings=settings,
               n_frames=info.n_frames, times=times, timecode=info.timecode, created=info.created,
               pixel_aspect=info.pixel_aspect, progress=progress, alpha=alpha)
        # The clip's sound (a cloud service's soundtrack) comes along; without any, the picture is the file.
        if with_audio(picture, video, tmp) is None:
            os.replace(picture, tmp)
        elif info.timecode and not keeps_timecode_with_sound() and warnings is not None:
            warnings.append(f"its start timecode ({info.timecode}) is not kept: carrying it beside the sound "
                            f"needs PyAV 18 or newer (this is {av_version()}; PyAV 18 needs Python 3.11)")
        temps = {SUFFIX[fmt]: tmp}
        if packet is not None:
            store_packet(tmp, xmp_tmp if want_sidecar else None, _set_colour(packet, strength, made), embed=embed)
            if want_sidecar:
                temps[".xmp"] = xmp_tmp
        if out_path is not None and not out_folder:
            if not claim(tmp, out_path):
                raise InputError(f"{out_path} already exists; not overwriting it")
            sidecar = out_path.with_suffix(".xmp")
            if ".xmp" not in temps:
                return [out_path]
            if claim(xmp_tmp, sidecar):
                return [out_path, sidecar]
            if warnings is not None:
                warnings.append(f"{sidecar} already exists (not overwritten): the clip's XMP is "
                                f"embedded in {out_path.name} only")
            return [out_path]
        return list(place_group(temps, folder, video.stem, tag="matched").values())   # (the clip first)
    except OSError as exc:
        failure = write_failure(exc, folder, f"the matched clip of {video.name}")
        if failure is not None:
            raise failure from exc
        raise
    finally:
        for leftover in (tmp, picture, xmp_tmp):
            leftover.unlink(missing_ok=True)


def _master_settings(info: VideoInfo, settings: EncodeSettings) -> EncodeSettings:
    """`settings` made to keep what a master has that the format can hold: a ProRes 4444 clip
    stays 4444 in a .mov (4:4:4, its alpha plane passed through), and a 10-bit H.264 or HEVC
    clip stays 10-bit, in its own codec, in an .mp4 (matched to 8 bits, a graded sky bands).
    Anything else is encoded as `settings` says (8-bit H.264; ProRes 422 HQ)."""
    if settings.fmt == "mov" and info.codec == "prores" and (info.profile or "").startswith("4444"):
        return replace(settings, prores_4444=True, alpha=info.alpha)
    if settings.fmt == "mp4" and info.codec in ("h264", "hevc") and info.bits > 8:
        return replace(settings, codec=info.codec, ten_bit=True)
    return settings


def _clip_xmp(video: Path, suffix: str, warnings: list[str] | None = None,
              encoding: Any = None, max_sidecar_bytes: int = 16 << 20) -> bytes | None:
    """The clip's XMP packet, vetted, for the result: its dc:format the result's (an H.264 .mov
    becomes an .mp4), a document and instance ID of its own (two files, one identity, would
    confuse an asset manager) and, for a Stillmotion clip, the result's own encoding
    (`encoding`: its EncodeSettings; the source's codec, crf, preset and thread count described
    another file: an HEVC clip matched to H.264 still said hevc); None without a sound one (why,
    in `warnings`, for one that is there but refused).
    The packet embedded in `video` (MP4/MOV); failing that, the clip's own sidecar (VIDEO.xmp)
    when it is a Stillmotion clip's record: a GIF keeps its record, and that it is
    AI-generated, there only. Any other sidecar is left alone: beside a clip named like its
    photo it may be the photo's."""
    import uuid

    from ..metadata.packet import MEDIA_TYPES
    from ..metadata.record import embedded_packet
    from ..metadata.sources import vet_packet

    packet = embedded_packet(video) or _own_sidecar(video, max_sidecar_bytes)
    try:
        packet = vet_packet(packet, f"the XMP in {video.name}") if packet else None
    except InputError as exc:
        if warnings is not None:
            warnings.append(f"{exc}; not carried over to the matched clip")
        return None
    if packet is None:
        return None
    packet = _set_simple(packet, b"dc:format", MEDIA_TYPES[suffix].encode())
    if encoding is not None:
        packet = _set_encoding(packet, encoding)
    packet = _set_simple(packet, b"xmpMM:DocumentID", f"xmp.did:{uuid.uuid4()}".encode())
    return _set_simple(packet, b"xmpMM:InstanceID", f"xmp.iid:{uuid.uuid4()}".encode())


def _own_sidecar(video: Path, max_bytes: int) -> bytes | None:
    """VIDEO.xmp when it is the record Stillmotion wrote for this clip (it names the engine that
    made it), else None."""
    from ..metadata._exiv2 import STILLMOTION_NS
    from ..metadata.sources import read_packet_file

    sidecar = video.with_suffix(".xmp")
    if not sidecar.is_file():
        return None
    try:
        data = read_packet_file(sidecar, max_bytes)
    except InputError:
        return None
    return data if STILLMOTION_NS.encode() in data and b"stillmotion:engine" in data else None


def _set_encoding(packet: bytes, encoding: EncodeSettings) -> bytes:
    """A Stillmotion clip's record of its encoding (metadata.job.encoding_record) made the
    result's: format and codec, and for an MP4 its crf, preset, encoder threads and transfer
    (a ProRes .mov has none: they are dropped). Properties the packet does not have stay absent."""
    from ..metadata.job import encoding_record

    for name, value in encoding_record(encoding).items():
        tag = b"stillmotion:" + name.encode()
        packet = _drop_simple(packet, tag) if value is None else _set_simple(packet, tag, str(value).encode())
    return packet


def _set_colour(packet: bytes, strength: float, made: Mapping[str, Any]) -> bytes:
    """A Stillmotion clip's record of its colour made the result's: held to the photo at
    `strength`, by the method `made` says (a parallax clip's record said `exact`, and a clip
    made with matching off said it was not matched, of a file that now was)."""
    if strength <= 0:
        return packet
    packet = _set_simple(packet, b"stillmotion:match", b"True")
    packet = _set_simple(packet, b"stillmotion:style_consistency", f"{strength:g}".encode())
    if made.get("colour_method"):
        packet = _set_simple(packet, b"stillmotion:colour_method", str(made["colour_method"]).encode())
    return packet


# Where a clip's XMP says where it was made: what `[metadata] carry_gps = false` keeps out.
_PLACE_SIMPLE = (rb"exif:GPS\w+", rb"photoshop:(?:City|State|Country)", rb"Iptc4xmpCore:(?:Location|CountryCode)")
_PLACE_STRUCTS = (rb"Iptc4xmpExt:LocationCreated", rb"Iptc4xmpExt:LocationShown")


def _without_place(packet: bytes) -> bytes:
    """`packet` without GPS and the place's names (`[metadata] carry_gps = false`, which keeps
    them out of an animated clip: the matched copy of a clip that has them carried them on)."""
    import re

    for name in _PLACE_SIMPLE:
        packet = _drop_simple(packet, name)
    for name in _PLACE_STRUCTS:
        packet = re.sub(rb"\s*<" + name + rb"\b.*?</" + name + rb">", b"", packet, flags=re.S)
    return packet


def _drop_simple(packet: bytes, name: bytes) -> bytes:
    """`packet` without the simple property `name` (a regular expression: every property it
    matches), written as an element or as an attribute."""
    import re

    packet = re.sub(rb"\s*<(" + name + rb")>[^<]*</\1>", b"", packet)
    return re.sub(rb"""\s(?:""" + name + rb""")=(["'])[^"']*\1""", b"", packet)


def _set_simple(packet: bytes, name: bytes, value: bytes) -> bytes:
    """`packet` with the simple property `name` (as its writers prefix it) set to `value`,
    where it is written as an element or as an attribute; unchanged where it is absent."""
    import re

    packet = re.sub(rb"(<" + name + rb">)[^<]*(</" + name + rb">)", lambda m: m[1] + value + m[2], packet)
    return re.sub(rb"(\s" + name + rb"""=(["']))[^"']*(\2)""", lambda m: m[1] + value + m[2], packet)
