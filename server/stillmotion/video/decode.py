"""Decode any clip into float sRGB frames, honouring its colour matrix and range."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from ..colour import ycbcr
from ..errors import InputError

_MATRIX_NAMES = {1: "itu709", 5: "itu601", 6: "itu601", 9: "bt2020", 10: "bt2020"}


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    n_frames: int
    codec: str
    pix_fmt: str
    color_primaries: int
    color_trc: int
    colorspace: int
    color_range: int
    time_base: Fraction      # of the stream's timestamps (read_timed_frames counts in it)


def probe(path: str | os.PathLike) -> VideoInfo:
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            ctx = stream.codec_context
            n = stream.frames or sum(1 for _ in container.decode(stream))
            return VideoInfo(ctx.width, ctx.height, float(stream.average_rate or stream.guessed_rate or 0),
                             n, ctx.name, ctx.pix_fmt or "", int(ctx.color_primaries), int(ctx.color_trc),
                             int(ctx.colorspace), int(ctx.color_range),
                             Fraction(stream.time_base or Fraction(1, 90000)))
    except (av.FFmpegError, IndexError) as exc:
        raise InputError(f"{Path(path).name}: not a video Stillmotion can read ({exc})") from None


def read_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield float32 (H, W, 3) sRGB frames in [0, 1].

    The Y'CbCr->RGB matrix follows the file's tag (BT.601 when untagged SD,
    BT.709 when untagged HD, as players do).
    """
    for pixels, _ in read_timed_frames(path):
        yield pixels


def read_timed_frames(path: str | os.PathLike) -> Iterator[tuple[np.ndarray, int | None]]:
    """As `read_frames`, each frame with its presentation timestamp, in the stream's time base
    (`probe(path).time_base`), or None where the file gives it none. A phone's clip (or a
    screen recording) is often variable-rate: its frames are not evenly spaced, and a copy
    that spaced them evenly would drift against its sound."""
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise InputError(f"{Path(path).name}: not a video Stillmotion can read ({exc})") from None
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in _decoded(container, stream, Path(path).name):
            yield _pixels(frame), frame.pts


def _pixels(frame: av.VideoFrame) -> np.ndarray:
    """float32 (H, W, 3) sRGB in [0, 1]."""
    if frame.format.name.startswith(("rgb", "bgr", "gbr", "pal", "gray")):
        return frame.to_ndarray(format="rgb48le").astype(np.float32) / 65535.0
    matrix = _MATRIX_NAMES.get(int(frame.colorspace), "itu709" if frame.height >= 720 else "itu601")
    full = int(frame.color_range) == 2
    exact = ycbcr.frame_to_rgb(frame, matrix, full)   # swscale's own decode runs ~2/255 dark
    if exact is not None:
        return exact
    rgb = frame.reformat(format="rgb48le", src_colorspace=matrix, dst_colorspace=matrix,
                         src_color_range="JPEG" if full else "MPEG", dst_color_range="JPEG",
                         interpolation="BICUBIC").to_ndarray()
    return rgb.astype(np.float32) / 65535.0


def _decoded(container: av.container.InputContainer, stream: av.VideoStream, name: str) -> Iterator[av.VideoFrame]:
    """The stream's frames; a file cut short or damaged mid-way is an InputError that says so,
    not a decoder traceback and not a quietly shorter clip (the demuxer marks the packet a
    short read cut into as corrupt; the frames after it are simply missing)."""
    for packet in container.demux(stream):
        if packet.is_corrupt:
            raise InputError(f"{name}: the video data is damaged or truncated (packet at {packet.pts} cut short)")
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            raise InputError(f"{name}: the video data is damaged or truncated ({exc})") from None
        yield from frames
