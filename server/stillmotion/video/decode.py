"""Decode any clip into float sRGB frames, honouring its colour matrix and range."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np

from ..colour import ycbcr
from ..errors import InputError, one_line

_MATRIX_NAMES = {1: "itu709", 5: "itu601", 6: "itu601", 9: "bt2020", 10: "bt2020"}


@dataclass
class VideoInfo:
    width: int                # as shown: a phone's portrait clip, stored on its side, is taller than wide
    height: int
    fps: float
    n_frames: int
    codec: str
    pix_fmt: str
    color_primaries: int
    color_trc: int
    colorspace: int
    color_range: int
    rotation: int = 0         # degrees counter-clockwise the stored frames are turned to be shown
    timecode: str | None = None   # where a master's timecode track starts ("01:00:00:00"), if it has one
    created: str | None = None    # when it was recorded or made (its creation_time), if it says
    pixel_aspect: Fraction = Fraction(1)   # width : height of one pixel as shown (HDV, DV, anamorphic: not 1)
    profile: str | None = None    # the codec's profile as FFmpeg names it ("4444", "HQ", "High 10", "Main 10")

    @property
    def bits(self) -> int:
        """Bits a sample as decoded (8; 10 for H.264 High 10 or HEVC Main 10; 12 for ProRes 4444)."""
        try:
            return max(c.bits for c in av.VideoFormat(self.pix_fmt).components)
        except (ValueError, av.FFmpegError):
            return 8

    @property
    def alpha(self) -> bool:
        """Whether its frames carry an alpha plane (a ProRes 4444 master's, decoded yuva444p12le)."""
        return self.pix_fmt.startswith("yuva")


def probe(path: str | os.PathLike) -> VideoInfo:
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            ctx = stream.codec_context
            first = next(container.decode(stream), None)
            rotation = _quarter_turns(first) * 90 if first is not None else 0
            n = stream.frames or (first is not None) + sum(1 for _ in container.decode(stream))
            width, height = (ctx.height, ctx.width) if rotation in (90, 270) else (ctx.width, ctx.height)
            # The container's (MP4/MOV 'pasp') first, else the stream's; unset (0 or None) is square.
            aspect = Fraction(stream.sample_aspect_ratio or ctx.sample_aspect_ratio or 1) or Fraction(1)
            return VideoInfo(width, height, float(stream.average_rate or stream.guessed_rate or 0),
                             n, ctx.name, ctx.pix_fmt or "", int(ctx.color_primaries), int(ctx.color_trc),
                             int(ctx.colorspace), int(ctx.color_range), rotation, _timecode(container),
                             container.metadata.get("creation_time") or None,
                             1 / aspect if rotation in (90, 270) else aspect, ctx.profile or None)
    except (av.FFmpegError, IndexError) as exc:
        raise _unreadable(path, exc) from None


def _timecode(container: av.container.InputContainer) -> str | None:
    """The clip's start timecode: FFmpeg gives a timecode track's to its stream and to the video's."""
    for tags in [s.metadata for s in container.streams] + [container.metadata]:
        if tags.get("timecode"):
            return str(tags["timecode"])
    return None


def read_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield float32 (H, W, 3) sRGB frames in [0, 1], upright as players show them.

    The Y'CbCr->RGB matrix follows the file's tag (BT.601 when untagged SD,
    BT.709 when untagged HD, as players do). A clip whose display matrix turns
    its frames (a phone held upright records on its side and says so) is turned
    here, as ffmpeg and players do, so a copy made from the frames is upright
    without the tag.
    """
    yield from _upright(path, _pixels)


def read_alpha(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield each frame's alpha plane, upright, as 10-bit samples (uint16 0..1023) as ProRes 4444
    takes them: a matched master's alpha comes along untouched (not matched: it is no colour).
    FFmpeg's ProRes decoder gives 12 bits; a 10-bit alpha, as encoders write it, comes back as it was."""
    def alpha(frame: av.VideoFrame) -> np.ndarray:
        plane = frame.reformat(format="yuva444p10le").planes[3]
        return np.frombuffer(plane, np.uint16).reshape(plane.height, -1)[:, :plane.width]

    yield from _upright(path, alpha)


def _upright(path: str | os.PathLike, convert: Callable[[av.VideoFrame], np.ndarray]) -> Iterator[np.ndarray]:
    """`convert` of each decoded frame of the clip at `path`, turned upright by its display matrix."""
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise _unreadable(path, exc) from None
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in _decoded(container, stream, Path(path).name):
            turns = _quarter_turns(frame)
            array = convert(frame)
            yield np.ascontiguousarray(np.rot90(array, turns)) if turns else np.ascontiguousarray(array)


def frame_times(path: str | os.PathLike) -> tuple[Fraction, list[int]] | None:
    """A variable-rate clip's frame times (time base, each frame's time from the first, in
    display order); None for a constant-rate clip, whose frames are evenly spaced at its rate.

    A phone records at a variable rate (fewer frames in low light), as do screen recorders:
    a copy that spaced its frames evenly would drift against its sound. Read from the
    demuxed packets, sorted (decoded frames' own stamps are not display times in every
    container: AVI gives decode times), without decoding anything. A clip whose frames are
    all one frame apart within a tick of its time base is constant-rate (Matroska stores
    milliseconds: 24 fps is 41 or 42 ms a frame).
    """
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            base, rate = stream.time_base, stream.average_rate or stream.guessed_rate
            stamps = sorted(packet.pts if packet.pts is not None else packet.dts
                            for packet in container.demux(stream)
                            if packet.size and not packet.is_discard
                            and (packet.pts is not None or packet.dts is not None))
    except (av.FFmpegError, IndexError) as exc:
        raise _unreadable(path, exc) from None
    if len(stamps) < 3 or not base or not rate:
        return None
    nominal = float(1 / (rate * base))   # one frame, in ticks
    if all(abs(b - a - nominal) <= 1.0 for a, b in zip(stamps, stamps[1:])):
        return None
    return Fraction(base), [stamp - stamps[0] for stamp in stamps]


def _quarter_turns(frame: av.VideoFrame) -> int:
    """How many quarter turns counter-clockwise (0-3) the frame's display matrix asks for
    (flips, which phones do not write, are not followed)."""
    return round(float(getattr(frame, "rotation", 0) or 0) / 90.0) % 4   # (PyAV 14.0 added it)


def _unreadable(path: str | os.PathLike, exc: BaseException) -> InputError:
    name = Path(path).name
    if isinstance(exc, IndexError):   # (streams.video[0] of a file with none)
        return InputError(f"{name}: no picture in it (sound only); give the video clip itself")
    if _is_animated_webp(path):
        # FFmpeg reads a WebP's first picture only, and an animated one not at all ("Invalid
        # data found", as if the file were damaged): Stillmotion's own .webp clips among them.
        return InputError(f"{name}: an animated WebP, which FFmpeg cannot decode; match the clip "
                          "as MP4 or MOV (animate --format mp4 or mov makes one)")
    # (an FFmpegError's str() is "[Errno 1094995529] Invalid data found ...: 'clip.mp4'")
    detail = getattr(exc, "strerror", None) or one_line(exc)
    return InputError(f"{name}: not a video Stillmotion can read ({detail})")


def _is_animated_webp(path: str | os.PathLike) -> bool:
    """RIFF/WEBP with an extended header (VP8X) whose animation flag is set."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(21)
    except OSError:
        return False
    return (len(head) == 21 and head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X"
            and bool(head[20] & 0x02))


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
            raise InputError(f"{name}: the video data is damaged or truncated ({exc.strerror or one_line(exc)})") from None
        yield from frames
