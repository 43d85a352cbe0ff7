"""Finishing: bring any engine's clip to the delivery size, aspect and frame rate.

    clip = finish_clip(clip, photo=pixels, target_size=(1920, 1080), target_fps=24)

Called by the pipeline for every engine, between colour matching and encoding.
In order, each step only when needed:

1. aspect: a clip whose shape differs from the delivery shape (an engine with a
   fixed size) is cut to it around the subject (video/aspect.py);
2. size: frames are upscaled with the photo's own detail (video/upscale.py);
3. frame rate: motion-compensated interpolation to the delivery rate and frame
   count (video/interpolate.py), the photo-anchored frame passed through exactly.

Frames stream through: nothing at the delivery size is accumulated. A clip that
is already at the delivery size and rate (the parallax engine renders so) is
returned as it is.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..engines.base import Clip
from ..errors import InputError, JobError
from ..progress import CancelToken
from . import aspect as aspect_mod
from .interpolate import MotionInterpolator, output_anchor, output_times, retime
from .settings import FinishSettings   # (apart: checking the config imports no OpenCV)
from .upscale import fit_photo_to_frame, upscale_frames


def _checked(frames: Iterable[Any], size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The engine's frames, each checked to be what the Clip promised."""
    for frame in frames:
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
            raise JobError("finishing expects float RGB frames (H, W, 3); got "
                           f"{getattr(frame, 'shape', type(frame))}")
        if (frame.shape[1], frame.shape[0]) != size:
            raise JobError(f"a frame is {frame.shape[1]}x{frame.shape[0]}, the clip says {size[0]}x{size[1]}")
        yield frame if frame.dtype == np.float32 else frame.astype(np.float32)


def finish_clip(clip: Clip, *, photo: np.ndarray, target_size: tuple[int, int], target_fps: float,
                anchor_index: int | None = None, n_frames: int | None = None,
                subject_box: Sequence[float] | None = None, settings: FinishSettings | None = None,
                cancel: CancelToken | None = None,
                progress: Callable[[float], None] | None = None) -> Clip:
    """The clip at `target_size` (w, h) and `target_fps`, streamed.

    `photo` is the full-resolution image the clip was made from (float sRGB,
    the same field of view as the frames; a different aspect is centre-cropped
    to the frames', as fixed-size engines do). `anchor_index` is the frame that
    shows the photo (default: the clip's own). `n_frames`: the delivered frame
    count (default: the clip's duration at `target_fps`). `subject_box` (0..1 in
    the frames' coordinates) guides an aspect crop; estimated when None.
    """
    settings = settings or FinishSettings()
    width, height = int(target_size[0]), int(target_size[1])
    if width < 2 or height < 2:
        raise InputError(f"delivery size must be at least 2x2; got {width}x{height}")
    if not target_fps > 0:
        raise InputError(f"delivery frame rate must be positive; got {target_fps}")
    if not isinstance(photo, np.ndarray) or photo.ndim != 3 or photo.shape[2] != 3 or min(photo.shape[:2]) < 2:
        raise InputError(f"the photo must be RGB pixels (H, W, 3); got {getattr(photo, 'shape', type(photo))}")
    if clip.n_frames < 1 or clip.fps <= 0:
        raise InputError(f"cannot finish a clip of {clip.n_frames} frames at {clip.fps} fps")
    anchor = clip.anchor_index if anchor_index is None else anchor_index
    n_out = int(n_frames) if n_frames is not None else max(1, round(clip.n_frames * target_fps / clip.fps))
    same_size = (clip.width, clip.height) == (width, height)
    same_rate = abs(clip.fps - target_fps) < 1e-6 and n_out == clip.n_frames
    if same_size and same_rate:
        return clip

    frame_size = (clip.width, clip.height)
    frames: Iterator[np.ndarray] = _checked(clip.frames, frame_size)
    steps: dict[str, Any] = {}

    # 1. aspect: cut the clip (and the photo with it) to the delivery shape.
    if abs(clip.width / clip.height - width / height) > 0.01 * width / height:
        fitted = fit_photo_to_frame(photo, frame_size)
        if subject_box is None:
            subject_box = aspect_mod.estimate_subject(fitted)
        window = aspect_mod.fit_window(clip.width, clip.height, width / height, subject_box)
        photo_window = aspect_mod.scale_window(window, frame_size, (fitted.shape[1], fitted.shape[0]))
        photo = fitted[photo_window[1]:photo_window[3], photo_window[0]:photo_window[2]]
        frames = aspect_mod.crop_frames(frames, window)
        frame_size = (window[2] - window[0], window[3] - window[1])
        steps["crop"] = list(window)

    # 2. size: upscale with the photo's detail (or shrink).
    if frame_size != (width, height):
        frames = upscale_frames(frames, photo=photo, target_size=(width, height), anchor_index=anchor,
                                strength=settings.detail, flow_long_edge=settings.upscale_flow_edge,
                                flow_preset=settings.flow_preset, workers=settings.threads)
        steps["upscale"] = {"from": list(frame_size), "detail": settings.detail}

    # 3. frame rate: retime onto the delivery grid, the anchor exact.
    out_anchor = anchor
    if not same_rate:
        times = output_times(clip.n_frames, clip.fps, target_fps, anchor, n_out)
        out_anchor = output_anchor(times, anchor)
        interpolator = MotionInterpolator(flow_long_edge=settings.interpolate_flow_edge,
                                          flow_preset=settings.flow_preset,
                                          min_trust=settings.min_flow_trust)
        frames = retime(frames, times, interpolator=interpolator,
                        blend_only=settings.interpolation == "blend", workers=settings.threads)
        steps["retime"] = {"from_fps": clip.fps, "frames_in": clip.n_frames,
                           "interpolation": settings.interpolation}

    info = dict(clip.info)
    info["finish"] = steps
    return Clip(frames=_watched(frames, n_out, cancel, progress, steps), n_frames=n_out,
                fps=float(target_fps), width=width, height=height, anchor_index=out_anchor,
                seed=clip.seed, info=info)


def _watched(frames: Iterator[np.ndarray], n_out: int, cancel: CancelToken | None,
             progress: Callable[[float], None] | None, steps: dict[str, Any]) -> Iterator[np.ndarray]:
    """Cancel checks and progress per delivered frame; the time spent is noted in `steps`."""
    count = 0
    spent = 0.0
    iterator = iter(frames)
    while True:
        if cancel is not None:
            cancel.raise_if_cancelled()
        start = time.perf_counter()
        try:
            frame = next(iterator)
        except StopIteration:
            break
        spent += time.perf_counter() - start
        count += 1
        steps["seconds"] = round(spent, 3)
        if progress is not None:
            progress(min(1.0, count / n_out))
        yield frame
    if count != n_out:
        raise JobError(f"finishing delivered {count} frames where {n_out} were expected "
                       "(the engine's clip was shorter than it said)")
