"""Encode streamed float sRGB frames with PyAV, colour-tagged and colour-correct.

Video formats carry BT.709 primaries and matrix, limited range, and the transfer
characteristics of what the frames are, the photo's sRGB-encoded values: sRGB (13) in an MP4
([output] transfer = "bt709" tags 1 instead, see settings.TRANSFERS), BT.709 (1) in ProRes; the
RGB->Y'CbCr conversion uses the BT.709 matrix explicitly (swscale's default is
BT.601, which shifts colours in a file tagged 709), applied here in both cases: for
8-bit H.264/HEVC from the float frame, each sample rounded once (_YCbCr420); for
10-bit ProRes on 16-bit RGB, swscale only subsampling the chroma (_AVWriter.write
says why). Frames are written as they arrive: the encoder
never holds the clip (GIF and WebP come at web size by default, [output] web_long_edge:
see jobs.pipeline).

  mp4  H.264 yuv420p (or HEVC, tagged hvc1 for Apple players), CRF/preset from config;
       yuv420p10le (High 10, Main 10) when `match` keeps a 10-bit clip's depth
  mov  ProRes 422 HQ, 10-bit yuv422p10le; ProRes 4444 (yuv444p10le, yuva444p10le with the
       alpha plane passed through) when `match` keeps a 4444 master's
  gif  palette from the first frame (stable over time), maximum coverage, Floyd-Steinberg in
       which a pixel that did not change keeps its index, each frame as its changes
  webp animated, lossy q=90 (libwebp), every frame whole, sRGB ICC embedded
  tiff a folder of 16-bit RGB TIFFs (frame_000001.tif, ...), sRGB ICC embedded
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import av
import cv2
import numpy as np
from PIL import GifImagePlugin, Image

from ..colour import ycbcr
from ..errors import InputError, JobError
from ..photo import to_uint8
from ..progress import CancelToken
from .settings import EncodeSettings   # (apart: checking the config imports no PyAV or OpenCV)

_BT709 = 1  # ISO/IEC 23091-2 code point of BT.709's primaries and matrix (and transfer)
_LIMITED = 1  # AVCOL_RANGE_MPEG

WEBP_QUALITY = 90    # lossy; what Pillow's writer was given before
# An MP4's longest stretch between keyframes: x264's and x265's default, 250 frames (10 s at
# 24 fps), made an editor scrubbing a long clip wait while up to 249 frames were decoded.
KEYFRAME_SECONDS = 2.0
SUFFIX = {"mp4": ".mp4", "mov": ".mov", "gif": ".gif", "webp": ".webp", "tiff": ""}


@dataclass
class FrameTimes:
    """A variable-rate clip's own frame times, kept in its re-encoded copy (`stillmotion match`;
    see decode.frame_times): frame k is shown at stamps[k] * time_base. A frame beyond the
    list, or whose stamp is not after the one before, is shown a nominal frame after it.
    """
    time_base: Fraction
    stamps: list[int]


def frame_rate(fps: float) -> Fraction:
    """The exact rate a container is given: 23.976 (or 23.98) is NTSC film's 24000/1001, and
    likewise 29.97, 47.952, 59.94, 119.88; other rates as the nearest fraction over <= 1001."""
    for whole in (24, 30, 48, 60, 120):
        ntsc = Fraction(whole * 1000, 1001)
        if abs(fps - float(ntsc)) < 0.006:
            return ntsc
    return Fraction(fps).limit_denominator(1001)


def _add_stream(container: av.container.OutputContainer, codec: str, rate: Fraction) -> av.VideoStream:
    """A video stream with `codec`; an FFmpeg build without that encoder is a clear job error."""
    try:
        return container.add_stream(codec, rate=rate)
    except av.codec.codec.UnknownCodecError:
        container.close()
        raise JobError(f"this installation's FFmpeg (PyAV) has no {codec} encoder; "
                       "`stillmotion doctor` lists the codecs it has") from None


# The longest side each format's encoder takes (measured: libx264 refuses 16,385 pixels, libwebp
# 16,384; a GIF's sizes are 16-bit). ProRes and TIFF sequences take any size asked here.
MAX_SIDE = {"mp4": 16384, "webp": 16383, "gif": 65535}
# H.264's and HEVC's highest level (6.2) holds at most 139,264 16x16 macroblocks a frame (35.7 MP,
# e.g. 8192x4352). x264 writes bigger frames (a 60 MP photo at --size source: 9504x6336) into a
# file marked level 6.2 that breaks it, and that hardware decoders (phones, Macs) refuse to play.
MAX_MACROBLOCKS = {"mp4": 139_264}


def check_frame_size(fmt: str, width: int, height: int) -> None:
    """Before any work: a clip too large for its format's encoder is one line, not an encoder
    traceback after the whole render (a 6000x600 panorama at --size 2160p is 21600x2160)."""
    limit = MAX_SIDE.get(fmt)
    if limit is not None and max(width, height) > limit:
        raise InputError(f"a {width}x{height} {fmt.upper()} clip is more than its encoder takes "
                         f"({limit} pixels a side at most); ask for a smaller --size, or --format mov")
    blocks = MAX_MACROBLOCKS.get(fmt)
    if blocks is not None and -(-width // 16) * -(-height // 16) > blocks:
        raise InputError(f"a {width}x{height} {fmt.upper()} clip ({width * height / 1e6:.0f} MP a frame) is more "
                         f"than H.264 and HEVC allow ({blocks * 256 / 1e6:.1f} MP at most; players refuse "
                         "larger); ask for a smaller --size, or --format mov")


def even_size(width: int, height: int) -> tuple[int, int]:
    """Largest even size not above (width, height): yuv420p needs even dimensions."""
    return max(2, width - width % 2), max(2, height - height % 2)


class _Muxing:
    """A writer whose frames go through one PyAV stream into one container."""

    container: av.container.OutputContainer
    stream: av.VideoStream
    sent = 0                          # frames sent so far
    times: FrameTimes | None = None   # the source's frame times, kept; else evenly spaced at the rate
    _last_pts: int | None = None

    def _keep_times(self, times: FrameTimes | None) -> None:
        """Count timestamps in the source's time base (set before the stream is opened)."""
        self.times = times
        if times is not None:
            self.stream.codec_context.time_base = self.stream.time_base = times.time_base

    def _send(self, frame: av.VideoFrame) -> None:
        frame.pts = self._next_pts()
        if self.times is not None:
            frame.time_base = self.times.time_base
        self.sent += 1
        for packet in self.stream.encode(frame):
            self._mux(packet)

    def _mux(self, packet: av.Packet) -> None:
        self.container.mux(packet)

    def _next_pts(self) -> int:
        if self.times is None:
            return self.sent               # in 1/fps
        stamps, k = self.times.stamps, self.sent
        pts = stamps[k] if k < len(stamps) else None
        if pts is None or (self._last_pts is not None and pts <= self._last_pts):
            if self._last_pts is None:
                pts = 0
            else:
                nominal = 1 / (self.stream.codec_context.framerate * self.times.time_base)
                pts = self._last_pts + max(1, round(nominal))
        self._last_pts = pts
        return pts

    def close(self) -> None:
        for packet in self.stream.encode():
            self._mux(packet)
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:
            pass


# BT.709 to limited range at 16 bits: Y' 16..235, Cb and Cr 16..240 around 128, times 256.
_TO_LIMITED16 = ycbcr.rgb_to_ycbcr_matrix("itu709").T * np.array([219, 224, 224], np.float32) * 256
_LIMITED16_OFFSET = np.array([16, 128, 128], np.float32) * 256 + 0.5   # + 0.5: rounds as it truncates


# The same at 8 bits, as cv2.transform's affine rows (offset last): Y'; Cb and Cr.
_TO_LIMITED8 = np.hstack([_TO_LIMITED16.T / 256, [[16], [128], [128]]]).astype(np.float32)


class _YCbCr420:
    """Float sRGB-encoded RGB [0,1] (HxWx3, even sizes) as a limited-range BT.709 yuv420p frame,
    each sample computed in float and rounded once.

    swscale's 8-bit RGB -> yuv420p (given RGB already rounded to 8 bits) truncated its chroma
    and rounded twice: a smooth blue sky came out 0.6/255 less blue on average, with steps of
    2.5/255 where 1.3 is all 8-bit 4:2:0 needs. Chroma is the mean of each 2x2 block (centred,
    as swscale sited it). Buffers are kept from frame to frame (a fresh full-size one costs a
    page-zeroing pass, kernel time that also delays the daemon's requests); as fast as swscale.
    """

    def __init__(self, width: int, height: int, transfer: int = _BT709) -> None:
        self.size = (width, height)
        self.transfer = transfer   # the transfer characteristics each frame is tagged with
        self.clipped = np.empty((height, width, 3), np.float32)
        self.luma = np.empty((height, width), np.float32)
        self.half = np.empty((height // 2, width // 2, 3), np.float32)
        self.chroma = np.empty((height // 2, width // 2), np.float32)
        self.planes = np.empty((height * 3 // 2, width), np.uint8)   # Y', then Cb, then Cr
        # The Cb and Cr planes as images of their own (views: written in place).
        self.cb_cr = self.planes[height:].reshape(2, height // 2, width // 2)

    def __call__(self, frame: np.ndarray) -> av.VideoFrame:
        width, height = self.size
        cv2.max(frame, 0.0, dst=self.clipped)
        cv2.min(self.clipped, (1.0, 1.0, 1.0, 1.0), dst=self.clipped)
        cv2.transform(self.clipped, _TO_LIMITED8[:1], dst=self.luma)
        cv2.convertScaleAbs(self.luma, dst=self.planes[:height])    # rounds, saturates; all >= 16
        # At exactly half the (even) size, bilinear samples each 2x2 block's centre: the block's
        # mean, as INTER_AREA gives it (to a float rounding), at a third of its time.
        cv2.resize(self.clipped, (width // 2, height // 2), dst=self.half, interpolation=cv2.INTER_LINEAR)
        # One plane at a time: OpenCV's 3 -> 1 channel transform is vectorised, its 3 -> 2 one
        # is not (2.9 ms a 1080p frame against 0.3 ms for both), and each goes straight in place.
        for row, plane in zip((1, 2), self.cb_cr):
            cv2.transform(self.half, _TO_LIMITED8[row:row + 1], dst=self.chroma)
            cv2.convertScaleAbs(self.chroma, dst=plane)
        out = av.VideoFrame.from_ndarray(self.planes, format="yuv420p")
        out.color_range, out.colorspace = _LIMITED, _BT709
        out.color_primaries, out.color_trc = _BT709, self.transfer
        return out


def _ycbcr709_limited16(frame: np.ndarray) -> np.ndarray:
    """Float sRGB-encoded RGB [0,1] (HxWx3) as limited-range BT.709 Y'CbCr 4:4:4, 16-bit."""
    out = np.clip(frame, 0.0, 1.0) @ _TO_LIMITED16
    out += _LIMITED16_OFFSET
    return out.astype(np.uint16)


class _AVWriter(_Muxing):
    """MP4 (H.264, HEVC) and MOV (ProRes). Each packet out is one frame encoded: `on_encoded`
    is told their count. (x264's lookahead holds ~40 frames: counted as they went in, a 3 s
    clip's progress sat at 95 % with an ETA of 0 s for 6 of its 20 s while the encoder finished
    them; PyAV's flush hands back its packets together, so the wait is now where the ETA is.)"""

    encoded = 0
    on_encoded: Callable[[int], None] | None = None

    def __init__(self, path: Path, width: int, height: int, fps: float, settings: EncodeSettings,
                 times: FrameTimes | None = None, timecode: str | None = None,
                 created: str | None = None, pixel_aspect: Fraction = Fraction(1)) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"video size must be even, got {width}x{height}")
        self.width, self.height = width, height
        rate = frame_rate(fps)
        options: dict[str, str] = {}
        if settings.fmt == "mov":
            self.container = av.open(str(path), "w", format="mov")
            self.stream = _add_stream(self.container, "prores_ks", rate)
            if settings.prores_4444:
                self.stream.pix_fmt = self.pix_fmt = "yuva444p10le" if settings.alpha else "yuv444p10le"
                options = {"profile": "4", "vendor": "apl0"}  # 4 = ProRes 4444 (alpha: 16-bit)
            else:
                self.stream.pix_fmt = self.pix_fmt = "yuv422p10le"
                options = {"profile": "3", "vendor": "apl0"}  # 3 = ProRes 422 HQ
        else:
            self.container = av.open(str(path), "w", format="mp4",
                                     options={"movflags": "+faststart+write_colr"})
            name = "libx265" if settings.codec == "hevc" else "libx264"
            self.stream = _add_stream(self.container, name, rate)
            self.stream.pix_fmt = self.pix_fmt = "yuv420p10le" if settings.ten_bit else "yuv420p"
            options = {"crf": str(settings.crf), "preset": settings.preset}
            self.stream.codec_context.gop_size = max(1, round(KEYFRAME_SECONDS * rate))
            if settings.codec == "hevc":
                self.stream.codec_tag = "hvc1"  # Apple players refuse the default hev1
                options["x265-params"] = "log-level=error"
        # When the clip was made (the time its XMP's xmp:CreateDate says), or a source clip's own
        # (a phone's recording, matched: Photos keeps it beside the original): left out, the
        # movie header says 1904-01-01, and editors and Photos file the clip under that date.
        self.container.metadata["creation_time"] = created or time.strftime("%Y-%m-%dT%H:%M:%S.000000Z",
                                                                            time.gmtime())
        if timecode:   # the muxer writes it as a timecode track, at the stream's rate
            self.container.metadata["timecode"] = timecode
        self.stream.width, self.stream.height = width, height
        ctx = self.stream.codec_context
        ctx.color_primaries = ctx.colorspace = _BT709
        # MP4: [output] transfer (sRGB by default); ProRes: BT.709, what editors' Rec.709
        # timelines take a master as (and the SDR transfer its frame header is known to carry).
        self.transfer = settings.transfer_code if settings.fmt == "mp4" else _BT709
        ctx.color_trc = self.transfer   # the muxers' colr atom follows the stream
        ctx.color_range = _LIMITED
        # Square pixels, said: left unspecified (no 'pasp' box, no aspect in the stream's header),
        # it was for each player, editor and upload checker to assume. A matched HDV or anamorphic
        # clip keeps its own: labelled square, it showed squeezed.
        ctx.sample_aspect_ratio = Fraction(pixel_aspect)
        if settings.threads:
            ctx.thread_count = settings.threads
        self.stream.options = options
        self._keep_times(times)
        self._to_420: _YCbCr420 | None = None

    def write(self, frame: np.ndarray, alpha: np.ndarray | None = None) -> None:
        """`alpha` (uint16 0..1023, HxW): a ProRes 4444 stream's alpha plane for this frame."""
        if frame.shape[:2] != (self.height, self.width):
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]}, stream is {self.width}x{self.height}")
        if (alpha is not None) != (self.pix_fmt == "yuva444p10le"):
            raise ValueError(f"an alpha plane goes with a yuva444p10le stream only, this is {self.pix_fmt}")
        if self.pix_fmt == "yuv420p":
            if self._to_420 is None:
                self._to_420 = _YCbCr420(self.width, self.height, self.transfer)
            yuv = self._to_420(frame)
        else:
            # swscale scales 16-bit RGB to 10-bit limited range by 1023/255 instead of 4:
            # white came out at Y' 943, not 940 (0.35 % too bright, over legal white in
            # an editor's scopes). So the matrix is applied here, and swscale only
            # subsamples the chroma of 16-bit Y'CbCr, whose range it leaves alone.
            vf = av.VideoFrame.from_ndarray(_ycbcr709_limited16(frame), format="yuv444p16le")
            yuv = vf.reformat(format=self.pix_fmt, src_colorspace="itu709", dst_colorspace="itu709",
                              src_color_range="MPEG", dst_color_range="MPEG",
                              dst_color_trc=self.transfer, dst_color_primaries=_BT709,
                              interpolation="BICUBIC")
            if alpha is not None:   # (swscale made it opaque: the source's goes in its place)
                plane = yuv.planes[3]
                np.frombuffer(plane, np.uint16).reshape(plane.height, -1)[:, :plane.width] = alpha
        self._send(yuv)

    def _mux(self, packet: av.Packet) -> None:
        super()._mux(packet)
        self.encoded += 1
        if self.on_encoded is not None:
            self.on_encoded(self.encoded)


class _WebPWriter(_Muxing):
    """Animated WebP through libwebp (FFmpeg's libwebp encoder and webp muxer), frame by frame
    straight into the file, each frame whole.

    libwebp's animation encoder (FFmpeg's libwebp_anim, Pillow's save_all) sends a frame as its
    changes from the frame before and, lossy, takes a pixel that changed by less than ~3 levels
    (at q=90) as unchanged: in a slow move (a portrait's breathing) those changes piled up, each
    frame further from the clip (a portrait loop's frames drifted to 4.9 levels off, its first
    1.9), and a loop jumped back at its restart. Pillow's keyframes every 3-5 frames only bound
    the drift (2.4 levels, still a pulse at each keyframe). Whole frames stay as close as the
    first and a loop's seam is like any other step, at 1.1-1.7x the size (bench/web_formats.py).

    Frames go in as BGRA, so libwebp makes its own Y'CbCr. The sRGB profile is added after
    (FFmpeg's muxer writes none): a WebP carries its colour space.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, settings: EncodeSettings) -> None:
        self.path, self.size = path, (width, height)
        self.container = av.open(str(path), "w", format="webp", options={"loop": "0"})
        self.stream = _add_stream(self.container, "libwebp", frame_rate(fps))
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "bgra"
        self.stream.options = {"quality": str(WEBP_QUALITY), "compression_level": "4"}

    def write(self, frame: np.ndarray) -> None:
        self._send(av.VideoFrame.from_ndarray(to_uint8(frame), format="rgb24"))

    def close(self) -> None:
        super().close()
        if not self.sent:
            raise ValueError("no frames to encode")
        from ..colour import icc
        _add_icc_to_webp(self.path, icc.srgb_profile_bytes(), *self.size)


def _add_icc_to_webp(path: Path, profile: bytes, width: int, height: int) -> None:
    """Give an extended (VP8X) WebP an ICCP chunk, as the WebP container spec places it: right
    after VP8X, with VP8X's ICC flag set. Written as a new file, the frames copied over in
    blocks (read whole, a long clip's file was held in memory three times), then renamed over
    `path` (an in-place rewrite that runs out of disk would leave a cut file and say nothing).

    FFmpeg's muxer writes a one-frame clip (`encode` given one frame; animate makes two at least)
    as a simple, still WebP (one VP8/VP8L chunk): it is given the VP8X header the ICC profile
    needs, with the `width` x `height` canvas."""
    staged = path.with_name(path.name + ".icc")
    try:
        with open(path, "rb") as src:
            head = src.read(30)     # RIFF header (12 bytes), then VP8X's (8) and its 10 bytes
            if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
                raise ValueError(f"{path.name}: not a WebP")
            if head[12:16] in (b"VP8 ", b"VP8L"):
                canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
                vp8x, rest = b"VP8X" + (10).to_bytes(4, "little") + bytes([0x20, 0, 0, 0]) + canvas, 12
            elif head[12:16] == b"VP8X":
                vp8x, rest = head[12:20] + bytes([head[20] | 0x20]) + head[21:30], 30
            else:
                raise ValueError(f"{path.name}: not a simple or an extended WebP")
            iccp = b"ICCP" + len(profile).to_bytes(4, "little") + profile + b"\0" * (len(profile) & 1)
            size = 4 + len(vp8x) + len(iccp) + os.fstat(src.fileno()).st_size - rest
            src.seek(rest)
            with open(staged, "wb") as fh:
                fh.write(b"RIFF" + size.to_bytes(4, "little") + b"WEBP" + vp8x + iccp)
                shutil.copyfileobj(src, fh, 1 << 20)
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


GIF_MIN_DELAY_CS = 2   # browsers show a shorter GIF frame delay as 100 ms


def gif_delays_cs(fps: float) -> Iterator[int]:
    """Each frame's GIF delay in whole centiseconds (all a GIF can store), spread so that the
    running total stays on k*100/fps: at 30 fps 3, 4, 3, 3, 4, 3, ... (a flat 3 cs would play
    a 2 s clip in 1.8 s). Never under GIF_MIN_DELAY_CS."""
    step = 100 / frame_rate(fps)          # exact: 23.976 fps is 24000/1001
    elapsed = 0
    k = 0
    while True:
        k += 1
        target = int(k * step + Fraction(1, 2))   # round half up, the same at every rate
        delay = max(GIF_MIN_DELAY_CS, target - elapsed)
        elapsed += delay
        yield delay


GIF_PALETTE_LONG_EDGE = 640   # the first frame is shrunk to this for its palette (see _gif_palette)


def _gif_palette(frame: np.ndarray) -> Image.Image:
    """The clip's 255 colours, chosen from its first frame by maximum coverage.

    Pillow's median cut splits the colours by how many pixels have them, so a photo's few most
    saturated ones were left out of the palette, and no dithering can reach a colour outside it:
    a yellow helmet (Kodak's kodim05) came out mustard, 70 levels off over whole areas, the
    astronaut's flag 27. Maximum coverage keeps them (3-10x closer, measured through a blur as
    the eye sees dither) and does as well on smooth skies. Its time grows faster than the
    number of colours (9 s for a 1920-wide JPEG, 0.4 s at 640), so a larger frame is shrunk
    first: its colours are the same ones.
    """
    height, width = frame.shape[:2]
    scale = GIF_PALETTE_LONG_EDGE / max(width, height)
    if scale < 1:
        frame = cv2.resize(frame, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    return Image.fromarray(to_uint8(frame), "RGB").quantize(colors=255, method=Image.Quantize.MAXCOVERAGE)


GIF_KEPT = 255   # the transparent index: the palette has 255 colours, 0-254


def _fs_diagonals(height: int, width: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Floyd-Steinberg's pixels in an order that can go many at a time: a pixel takes error
    from its left and the three above it, so the pixels with the same x + 2y (a steep
    diagonal) depend only on those before them. For each: the pixels' flat indices into the
    frame and into _fs_dither's error rows (two columns wider: the error off either edge)."""
    out = []
    for t in range(width + 2 * (height - 1)):
        ys = np.arange(max(0, -(-(t - width + 1) // 2)), min(height - 1, t // 2) + 1, dtype=np.int32)
        xs = t - 2 * ys
        out.append((ys * width + xs, ys * (width + 2) + xs + 1))
    return out


class _NearestColour:
    """The index of the nearest palette colour to 8-bit RGB values, each answer kept (16 MB):
    a clip's frames ask for the same colours again and again."""

    def __init__(self, colours: np.ndarray) -> None:
        self.colours = colours
        self._transposed = np.ascontiguousarray(colours.T)
        self._half_norms = 0.5 * (colours ** 2).sum(axis=1)
        self._known = np.full(1 << 24, GIF_KEPT, np.uint8)   # GIF_KEPT: not asked yet

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        keys = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
        found = self._known[keys]
        new = found == GIF_KEPT
        if new.any():
            nearest = np.argmax(rgb[new].astype(np.float32) @ self._transposed - self._half_norms, axis=1)
            found[new] = nearest
            self._known[keys[new]] = nearest
        return found


def _fs_dither(rgb: np.ndarray, nearest: _NearestColour, diagonals: list[tuple[np.ndarray, np.ndarray]],
               kept: np.ndarray | None = None, last: tuple[np.ndarray, np.ndarray] | None = None,
               ) -> tuple[np.ndarray, np.ndarray]:
    """Floyd-Steinberg to the nearest palette colour: each pixel's index and the error it passed on.

    A `kept` pixel keeps its index from `last` (indices, errors) and passes on the error it
    passed then, so its neighbours are dithered as they were around it; the error that reaches
    it is dropped, as at the frame's edge.
    """
    height, width = rgb.shape[:2]
    row = width + 2
    source = rgb.reshape(-1, 3).astype(np.float32)
    indices = np.empty(height * width, np.uint8)
    errors = np.zeros(((height + 1) * row, 3), np.float32)   # a pixel's at its _fs_diagonals place
    todo = None   # the pixels to dither: all of them, or those not kept
    if kept is not None and last is not None:
        indices[:] = last[0].reshape(-1)
        padded = errors[row:].reshape(height, row, 3)
        padded[:, 1:-1] = np.where(kept[..., None], last[1], 0)
        todo = ~kept.reshape(-1)
    # Each pixel takes the error of its left neighbour (7/16) and the three above it (3, 5, 1/16
    # from above right, above, above left); errors[0:row] is the row above the frame.
    upstream = np.int32([-1, -row + 1, -row, -row - 1])
    weights = np.float32([7, 3, 5, 1]) / 16
    for pixels, at in diagonals:
        if todo is not None:
            pick = todo[pixels]
            if not pick.any():
                continue
            pixels, at = pixels[pick], at[pick]
        value = source[pixels] + errors[at[:, None] + row + upstream].transpose(0, 2, 1) @ weights
        value = np.clip(value, 0, 255)
        index = nearest(np.rint(value).astype(np.int32))
        indices[pixels] = index
        errors[at + row] = value - nearest.colours[index]
    return indices.reshape(height, width), errors[row:].reshape(height, row, 3)[:, 1:-1]


class _GifWriter:
    """GIF through Pillow's encoder, frame by frame into the file (its `save_all` would hold
    every frame to the end). One palette for the whole clip, from the first frame: no palette
    flicker. Frame delays come from gif_delays_cs, so the clip lasts its length to within a
    centisecond.

    Floyd-Steinberg dither in which a pixel whose colour is the same as in the frame before
    keeps that frame's index (_fs_dither). Dithered afresh, each pixel's index depended on every
    pixel before it: about half (48-50 %) of the pixels whose colour had not changed flipped when anything
    above them moved, and a still sky crawled; keeping them without dithering around them left
    speckles. Ordered (Bayer, blue-noise) dithering is stable too, but with a photo's 255
    scattered colours it is 2-4x further off, seen through a blur. A frame is then written as
    what changed: the box around the pixels whose index changed, the others in it transparent
    (shown as they were, disposal 1), which LZW packs into little.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, settings: EncodeSettings) -> None:
        self.params = {"loop": 0, "optimize": False, "disposal": 1}
        self._delays = gif_delays_cs(fps)
        self._palette: Image.Image | None = None
        self._nearest: _NearestColour | None = None
        self._diagonals: list[tuple[np.ndarray, np.ndarray]] = []
        # The frame before: its pixels, indices and dither errors (one frame, never the clip).
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._file = open(path, "wb")
        self.count = 0

    def _frame(self, indices: np.ndarray) -> Image.Image:
        assert self._palette is not None
        image = Image.fromarray(indices, "P")
        image.putpalette(self._palette.getpalette())
        return image

    def write(self, frame: np.ndarray) -> None:
        rgb = to_uint8(frame)
        if self._palette is None:
            self._palette = _gif_palette(frame)
            self._nearest = _NearestColour(np.float32(self._palette.getpalette()[:3 * GIF_KEPT]).reshape(-1, 3))
            self._diagonals = _fs_diagonals(*rgb.shape[:2])
        if self._last is None:
            indices, errors = _fs_dither(rgb, self._nearest, self._diagonals)
        else:
            kept = (rgb == self._last[0]).all(axis=2)
            indices, errors = _fs_dither(rgb, self._nearest, self._diagonals, kept, self._last[1:])
        params = dict(self.params, duration=10 * next(self._delays))   # Pillow counts in ms
        offset = (0, 0)
        if self._last is None:   # the header: screen size, the global palette, loop forever
            frame_image = self._frame(indices)
            frame_image.encoderinfo = dict(params)
            header, _ = GifImagePlugin.getheader(frame_image, None, frame_image.encoderinfo)
            self._file.write(b"".join(header))
        else:   # what changed, in its box; the rest of the box transparent
            changed = indices != self._last[1]
            rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
            if not rows.size:   # nothing changed: one transparent pixel keeps the frame's time
                rows = cols = np.zeros(1, int)
            box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            frame_image = self._frame(np.where(changed[box], indices[box], np.uint8(GIF_KEPT)))
            params["transparency"] = GIF_KEPT
            offset = (int(cols[0]), int(rows[0]))
        self._file.write(b"".join(GifImagePlugin.getdata(frame_image, offset, **params)))
        self._last = (rgb, indices, errors)
        self.count += 1

    def written(self) -> int:
        """Bytes of the file so far."""
        return self._file.tell()

    def close(self) -> None:
        if not self.count:
            self._file.close()
            raise ValueError("no frames to encode")
        self._file.write(b";")   # the GIF trailer
        self._file.close()

    def abort(self) -> None:
        self._file.close()


class _TiffSequenceWriter:
    """A 16-bit TIFF frame sequence for colourists: `path` is a folder of frame_000001.tif, ...

    Each file is 16 bits per channel RGB, lossless Deflate with the horizontal
    predictor (fast at level 1; a real photo's 16-bit frames keep 85-90% of the raw size:
    their low bits are fine detail, not runs), carries the
    sRGB ICC profile (the frames are sRGB-encoded, not linear) and notes its
    frame number and the clip's rate in ImageDescription, since a TIFF has no
    frame rate. The folder is the unit that is placed: it is filled under its
    temporary name and renamed into place whole, so no one sees half a sequence.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, settings: EncodeSettings) -> None:
        from ..colour import icc

        self.path, self.width, self.height, self.fps = path, width, height, fps
        self.count = 0
        self._icc = icc.srgb_profile_bytes()
        path.mkdir()

    def write(self, frame: np.ndarray) -> None:
        import tifffile

        if frame.shape[:2] != (self.height, self.width):
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]}, sequence is {self.width}x{self.height}")
        self.count += 1
        pixels = (np.clip(frame, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
        tifffile.imwrite(self.path / f"frame_{self.count:06d}.tif", pixels, photometric="rgb",
                         compression="zlib", compressionargs={"level": 1}, predictor=True,
                         iccprofile=self._icc, metadata=None, software="Stillmotion",
                         description=f"Stillmotion frame {self.count} at {self.fps:g} fps, sRGB, 16-bit")

    def written(self) -> int:
        """Bytes of the frames so far."""
        return sum(f.stat().st_size for f in self.path.iterdir())

    def close(self) -> None:
        if not self.count:
            raise ValueError("no frames to encode")

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _bytes_text(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


def _check_room(path: Path, what: str, written: int, n_frames: int) -> None:
    """After the first frame of a clip written frame by frame to the disk (a TIFF sequence, a
    GIF): a JobError when the disk cannot hold the rest at that frame's size (4K TIFFs at 120 fps
    for 30 s are ~150 GB, a 30 s GIF at 2160p ~2.3 GB), rather than a full disk after an hour's
    render. The first frame's size is about the others' (it is the photo itself, which
    compresses best: later frames of a parallax clip are 1-2x its size; a GIF's, written as
    changes, mostly less), so a clip refused here would not have fit; one let through may still
    fill the disk."""
    needed = written * (n_frames - 1)
    free = shutil.disk_usage(path if path.is_dir() else path.parent).free
    if needed > free:
        raise JobError(f"{what} needs about {_bytes_text(needed)} more ({_bytes_text(written)} a frame) "
                       f"and its disk has {_bytes_text(free)} free; ask for a shorter --duration, a lower "
                       "--fps or a smaller --size, or free some space")


# The writers whose file grows on the disk frame by frame (what _check_room sees), by what
# their clip is called.
_WRITTEN_AS_IT_GOES = {_TiffSequenceWriter: "TIFF sequence", _GifWriter: "GIF"}


def open_writer(path: Path, width: int, height: int, fps: float, settings: EncodeSettings,
                times: FrameTimes | None = None, timecode: str | None = None, created: str | None = None,
                pixel_aspect: Fraction = Fraction(1)) -> _AVWriter | _WebPWriter | _GifWriter | _TiffSequenceWriter:
    """A writer for `settings.fmt`; `times`, `timecode`, `created` and `pixel_aspect` (MP4 and
    MOV only) keep a source clip's frame times, start timecode, creation time and pixel shape."""
    if settings.fmt in ("mp4", "mov"):
        return _AVWriter(path, width, height, fps, settings, times, timecode, created, pixel_aspect)
    if pixel_aspect != 1:
        raise ValueError(f"non-square pixels are kept in MP4 and MOV only, not {settings.fmt}")
    if times is not None:
        raise ValueError(f"frame times are kept in MP4 and MOV only, not {settings.fmt}")
    if settings.fmt in ("gif", "webp"):
        return (_GifWriter if settings.fmt == "gif" else _WebPWriter)(path, width, height, fps, settings)
    if settings.fmt == "tiff":
        return _TiffSequenceWriter(path, width, height, fps, settings)
    raise ValueError(f"unknown output format {settings.fmt!r}")


def encode(frames: Iterable[np.ndarray], path: str | os.PathLike, *, width: int, height: int,
           fps: float, settings: EncodeSettings, n_frames: int | None = None,
           progress: Callable[[float], None] | None = None,
           cancel: CancelToken | None = None, times: FrameTimes | None = None,
           timecode: str | None = None, created: str | None = None,
           pixel_aspect: Fraction = Fraction(1), alpha: Iterable[np.ndarray] | None = None) -> int:
    """Encode `frames` (float32 HxWx3 sRGB [0,1]) into `path`; returns the frame count.
    `alpha` (ProRes 4444 with `settings.alpha`): each frame's alpha plane, 10-bit (decode.read_alpha).

    Frames are evenly spaced at `fps`, or shown at `times` (a source clip's own, MP4/MOV);
    `timecode` ("01:00:00:00", MP4/MOV) is where the clip starts in an editor's timeline;
    `created` (ISO 8601, MP4/MOV) its creation time, else now; `pixel_aspect` (MP4/MOV) the
    shape of its pixels (width : height), square unless a source clip's were not.

    `path` should be a temporary name: on any error or cancel the partial file is
    removed and the exception propagates.
    """
    path = Path(path)
    try:
        writer = open_writer(path, width, height, fps, settings, times, timecode, created, pixel_aspect)
    except BaseException:
        path.unlink(missing_ok=True)   # the container may have created it already
        raise

    def report(done: int) -> None:
        if progress and n_frames:
            progress(min(1.0, done / n_frames))

    # Progress counts frames in the file: out of the encoder for video, as written for the rest.
    counts_output = isinstance(writer, _AVWriter)
    if counts_output:
        writer.on_encoded = report
    count = 0
    alphas = iter(alpha) if alpha is not None else None
    grows_as_it_goes = _WRITTEN_AS_IT_GOES.get(type(writer))   # (its clip's name: the room is checked)
    try:
        for frame in frames:
            if cancel is not None:
                cancel.raise_if_cancelled()
            if alphas is not None:
                writer.write(frame, next(alphas))
            else:
                writer.write(frame)
            count += 1
            if count == 1 and n_frames and grows_as_it_goes:
                _check_room(path, f"a {n_frames}-frame {width}x{height} {grows_as_it_goes}", writer.written(),
                            n_frames)
            if not counts_output:
                report(count)
        writer.close()
    except BaseException:
        writer.abort()
        path.unlink(missing_ok=True)
        raise
    return count
