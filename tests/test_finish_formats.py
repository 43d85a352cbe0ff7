"""Every delivery format decodes completely, at the right size and frame count, colour-tagged.

Video through PyAV, GIF / WebP / TIFF through Pillow (and the 16-bit TIFF values
through OpenCV). Frames are small finished frames of a real photo.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from stillmotion import cli
from stillmotion.video.decode import frame_times, read_frames
from stillmotion.video.encode import EncodeSettings, FrameTimes, encode
from stillmotion.video.settings import CRF_RANGE
from support import save_photo, skimage_photo

SIZE = (160, 96)
N = 6


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """A short pan over a real photo at 160x96."""
    photo = cv2.resize(skimage_photo("chelsea"), (200, 120), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    return [np.ascontiguousarray(photo[10:10 + SIZE[1], 5 * k:5 * k + SIZE[0]]) for k in range(N)]


def write(frames: list[np.ndarray], path: Path, fmt: str, codec: str = "h264") -> int:
    return encode(iter(frames), path, width=SIZE[0], height=SIZE[1], fps=24.0,
                  settings=EncodeSettings(fmt=fmt, codec=codec, preset="ultrafast"), n_frames=N)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


@pytest.mark.parametrize("fmt, codec, name, tag, pix_fmt, trc", [
    ("mp4", "h264", "h264", "avc1", "yuv420p", 13),
    ("mp4", "hevc", "hevc", "hvc1", "yuv420p", 13),         # hvc1, not hev1: Apple players need it
    ("mov", "h264", "prores", "apch", "yuv422p10le", 1),    # apch = ProRes 422 HQ
])
def test_video_formats(frames: list[np.ndarray], tmp_path: Path, fmt: str, codec: str, name: str,
                       tag: str, pix_fmt: str, trc: int) -> None:
    path = tmp_path / f"clip.{fmt}"
    assert write(frames, path, fmt, codec) == N
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        assert ctx.name == name and ctx.codec_tag == tag and ctx.pix_fmt == pix_fmt
        assert (ctx.width, ctx.height) == SIZE
        assert float(stream.average_rate) == 24.0
        # BT.709 primaries and matrix, limited range; the transfer sRGB in an MP4, BT.709 in ProRes.
        assert (int(ctx.color_primaries), int(ctx.color_trc), int(ctx.colorspace), int(ctx.color_range)) == (1, trc, 1, 1)
        # Square pixels said, not left unspecified (ffprobe's "0:1"): a 'pasp' box, and in the
        # H.264/HEVC stream's own header.
        assert stream.sample_aspect_ratio == 1
        decoded = sum(1 for _ in container.decode(stream))
    assert b"pasp" in path.read_bytes()
    assert decoded == N
    back = list(read_frames(path))
    assert len(back) == N and psnr(back[2], frames[2]) > 30


def _colr(data: bytes) -> tuple[bytes, tuple[int, int, int]]:
    """The first `colr` atom's kind (nclx, nclc) and its primaries, transfer, matrix."""
    at = data.index(b"colr")
    return data[at + 4:at + 8], struct.unpack(">HHH", data[at + 8:at + 14])


@pytest.mark.parametrize("transfer, trc", [("srgb", 13), ("bt709", 1)])
@pytest.mark.parametrize("codec, ten_bit", [("h264", False), ("hevc", False), ("h264", True)])
def test_an_mp4_says_its_frames_are_srgb_encoded(tmp_path: Path, transfer: str, trc: int, codec: str,
                                                 ten_bit: bool) -> None:
    """The frames are the photo's sRGB values (only the BT.709 matrix applied): tagged BT.709's
    transfer, Apple's players (QuickTime, Safari, Photos, iPhone) decode them with the camera
    curve (~gamma 1.96) and show the clip lighter than the photo. The stream (VUI), its frames
    and the MP4's nclx atom carry 1-13-1 by default, 1-1-1 with [output] transfer = "bt709"."""
    ramp = np.repeat(np.repeat(np.linspace(0, 1, 32, dtype=np.float32)[None, :, None], 16, 0), 3, 2)
    path = tmp_path / "clip.mp4"
    encode(iter([ramp] * 2), path, width=32, height=16, fps=24.0,
           settings=EncodeSettings.from_config("mp4", codec, {"transfer": transfer, "preset": "ultrafast"})
           if not ten_bit else EncodeSettings(transfer=transfer, ten_bit=True, preset="ultrafast"))
    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        frame = next(container.decode(video=0))
    assert (int(ctx.color_primaries), int(ctx.color_trc), int(ctx.colorspace), int(ctx.color_range)) == (1, trc, 1, 1)
    assert int(frame.color_trc) == trc
    assert _colr(path.read_bytes()) == (b"nclx", (1, trc, 1))


def test_prores_stays_tagged_bt709_whatever_the_mp4_transfer(tmp_path: Path) -> None:
    """Editors take a ProRes master as Rec.709 (and its frame header is known to carry BT.709)."""
    path = tmp_path / "clip.mov"
    encode(iter([np.full((16, 32, 3), 0.5, np.float32)] * 2), path, width=32, height=16, fps=24.0,
           settings=EncodeSettings(fmt="mov", transfer="srgb"))
    assert _colr(path.read_bytes()) == (b"nclc", (1, 1, 1))


@pytest.mark.parametrize("rgb, ycbcr", [
    ((1.0, 1.0, 1.0), (940, 512, 512)),             # white is legal white, not 943
    ((0.0, 0.0, 0.0), (64, 512, 512)),
    ((200 / 255, 60 / 255, 30 / 255), (365, 403, 763)),  # BT.709: 364.9, 402.9, 762.8
    ((0.0, 0.0, 1.0), (127, 960, 471)),
])
def test_prores_levels_are_bt709_limited_range(tmp_path: Path, rgb: tuple, ycbcr: tuple) -> None:
    """A flat colour comes back as the 10-bit code values an editor's scopes expect (swscale's
    16-bit RGB path scaled by 1023/255: white was 943, every colour 0.35 % too bright)."""
    frame = np.empty((32, 64, 3), np.float32)
    frame[...] = rgb
    path = tmp_path / "flat.mov"
    encode(iter([frame] * 2), path, width=64, height=32, fps=24.0, settings=EncodeSettings(fmt="mov"))
    with av.open(str(path)) as container:
        decoded = next(container.decode(video=0))
    planes = [np.frombuffer(plane, np.uint16).reshape(plane.height, -1)[:, :plane.width] for plane in decoded.planes]
    assert tuple(int(np.median(plane)) for plane in planes) == ycbcr


def test_an_h264_sky_is_as_smooth_and_as_blue_as_8_bits_allow(tmp_path: Path) -> None:
    """A smooth 16-bit sky gradient in an MP4 keeps its colour and shows no steps beyond 8-bit
    4:2:0's own: swscale's Y'CbCr from RGB rounded to 8 bits truncated its chroma, so the sky
    came back up to 1/255 less blue on average and 2.5-2.8/255 off in bands."""
    rows = np.linspace(0.0, 0.04, 96, dtype=np.float32)[:, None, None]
    sky = np.broadcast_to(np.array([0.35, 0.55, 0.80], np.float32) + rows * np.array([1, 1, 0.8], np.float32),
                          (96, 160, 3)).copy()
    path = tmp_path / "sky.mp4"
    encode(iter([sky] * 3), path, width=160, height=96, fps=24.0, settings=EncodeSettings(fmt="mp4"))
    error = (next(read_frames(path)) - sky) * 255
    assert np.abs(error).max() < 2.0
    assert np.abs(error.mean(axis=(0, 1))).max() < 0.4, error.mean(axis=(0, 1))
    assert np.abs(cv2.GaussianBlur(error, (0, 0), 4)[8:-8, 8:-8]).max() < 1.2   # bands as the eye sees them


def test_the_best_crf_the_config_takes_is_still_a_high_profile_h264(frames: list[np.ndarray], tmp_path: Path) -> None:
    """crf 0 was lossless H.264, High 4:4:4 Predictive, which QuickTime, Safari and phones refuse."""
    path = tmp_path / "best.mp4"
    encode(iter(frames), path, width=SIZE[0], height=SIZE[1], fps=24.0,
           settings=EncodeSettings(crf=CRF_RANGE[0]))       # (ultrafast would be Baseline)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.profile == "High"


def test_progress_counts_the_frames_the_encoder_has_finished(frames: list[np.ndarray], tmp_path: Path) -> None:
    """x264 holds its lookahead's frames: progress said 100 % as the last frame went in, and a
    3 s clip's bar sat at 95 % for 6 of its 20 s while the encoder finished them."""
    reports: list[float] = []
    at_last_frame: list[float] = []

    def clip():
        yield from frames
        at_last_frame.append(reports[-1] if reports else 0.0)   # the last frame has gone in

    encode(clip(), tmp_path / "clip.mp4", width=SIZE[0], height=SIZE[1], fps=24.0,
           settings=EncodeSettings(preset="medium"), n_frames=N, progress=reports.append)
    assert at_last_frame[0] < 1.0          # the encoder still had frames to finish
    assert reports == sorted(reports) and reports[-1] == 1.0 and len(reports) == N


@pytest.mark.parametrize("fmt", ["mp4", "mov"])
def test_a_clips_own_frame_times_are_kept(frames: list[np.ndarray], tmp_path: Path, fmt: str) -> None:
    """A variable-rate source's frames keep their times; one not after the frame before, or
    beyond the list, is shown a nominal frame (here 1/24 s = 25 ticks of 1/600) after it."""
    times = FrameTimes(Fraction(1, 600), [0, 40, 40, 100, 160])
    path = tmp_path / f"clip.{fmt}"
    assert encode(iter(frames), path, width=SIZE[0], height=SIZE[1], fps=24.0, times=times,
                  settings=EncodeSettings(fmt=fmt, preset="ultrafast")) == N
    base, stamps = frame_times(path)                  # (in the muxer's own time base)
    assert [stamp * base for stamp in stamps] == [Fraction(t, 600) for t in (0, 40, 65, 100, 160, 185)]


def _webp_frame_durations(data: bytes) -> list[int]:
    """Each ANMF chunk's duration (ms): the 24-bit field after its 12 bytes of offset and size."""
    import struct

    durations, at = [], 12
    while at + 8 <= len(data):
        tag, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        if tag == b"ANMF":
            durations.append(int.from_bytes(data[at + 20:at + 23], "little"))
        at += 8 + size + (size & 1)
    return durations


@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_web_formats(frames: list[np.ndarray], tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"clip.{fmt}"
    assert write(frames, path, fmt) == N
    with Image.open(path) as image:
        assert image.format == fmt.upper() and image.size == SIZE and image.n_frames == N
        for index in range(N):          # every frame decodes
            image.seek(index)
            image.convert("RGB").load()
        if fmt == "webp":               # WebP carries its colour space: sRGB
            profile = ImageCms.ImageCmsProfile(__import__("io").BytesIO(image.info["icc_profile"]))
            assert "sRGB" in ImageCms.getProfileDescription(profile)
            assert image.info["loop"] == 0
    if fmt == "webp":                   # frames last 1/24 s each (41-42 ms), the clip N/24 s
        durations = _webp_frame_durations(path.read_bytes())
        assert len(durations) == N and set(durations) <= {41, 42} and abs(sum(durations) - 1000 * N / 24) < 2
        # GIF has no colour tag: by convention it is sRGB, which the frames are.


def test_webp_of_a_clip_that_does_not_move_is_written(frames: list[np.ndarray], tmp_path: Path) -> None:
    """Identical frames (a flat photo, --motion 0 --camera none): libwebp's animation encoder,
    used before, wrote them as a still WebP without the extended header, and adding the ICC
    profile was a ValueError traceback and no clip."""
    path = tmp_path / "clip.webp"
    assert write([frames[0]] * N, path, "webp") == N
    with Image.open(path) as image:
        assert image.format == "WEBP" and image.size == SIZE
        profile = ImageCms.ImageCmsProfile(__import__("io").BytesIO(image.info["icc_profile"]))
        assert "sRGB" in ImageCms.getProfileDescription(profile)
        assert psnr(np.asarray(image.convert("RGB"), np.float32) / 255, frames[0]) > 30


def _webp_shown_frames(path: Path, n: int, fps: float = 24.0) -> list[np.ndarray]:
    """The frame a viewer shows at each of the clip's n frame times (a frame whose duration
    covers several times, merged by the encoder, is shown at each), in 0..255 levels."""
    shown, ends, end = [], [], 0
    with Image.open(path) as image:
        for index in range(image.n_frames):
            image.seek(index)
            shown.append(np.asarray(image.convert("RGB"), np.float32))
            end += image.info["duration"]
            ends.append(end)
    return [shown[min(sum(e <= k * 1000 / fps + 1 for e in ends), len(shown) - 1)] for k in range(n)]


def test_a_looped_webp_keeps_its_quality_as_it_plays_and_through_its_seam(tmp_path: Path) -> None:
    """libwebp's animation encoder (FFmpeg's libwebp_anim) sent each frame as its changes from the
    one before and, lossy, took a change of under ~3 levels as none: in a slow move the changes
    piled up, each frame further from the clip's (a portrait loop: 1.9 levels at its first
    frame, 4.9 at its worst), and the loop's restart on a clean first frame jumped, more than
    any step of the motion itself."""
    photo = cv2.resize(skimage_photo("chelsea"), (200, 120), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    n = 24
    clip = []
    for k in range(n):                       # a slow push-in and back: frame n would be frame 0
        zoom = 1 + 0.03 * np.sin(np.pi * k / n) ** 2
        move = np.float32([[zoom, 0, -20 * zoom - (zoom - 1) * 80], [0, zoom, -12 * zoom - (zoom - 1) * 48]])
        clip.append(cv2.warpAffine(photo, move, SIZE, flags=cv2.INTER_LINEAR))
    path = tmp_path / "loop.webp"
    encode(iter(clip), path, width=SIZE[0], height=SIZE[1], fps=24.0, settings=EncodeSettings(fmt="webp"))
    shown = _webp_shown_frames(path, n)
    error = [float(np.mean(np.abs(s - c * 255))) for s, c in zip(shown, clip)]
    assert max(error) < 1.1 * error[0], [round(e, 2) for e in error]          # was 3.24 vs 2.34
    steps = [float(np.mean(np.abs(b - a))) for a, b in zip(shown, shown[1:])]
    assert float(np.mean(np.abs(shown[0] - shown[-1]))) <= max(steps)        # was 2.16 vs 1.95


def test_a_long_webp_is_not_held_in_memory_to_add_its_colour_profile(tmp_path: Path) -> None:
    """The sRGB profile went in by reading the whole written file and copying it twice: a
    clip's memory grew with its length at the end (a 30 s 960 px clip held ~3x its 50 MB)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    noise = rng.random((240, 320, 3), dtype=np.float32)       # ~0.1 MB a frame in the file
    path = tmp_path / "long.webp"
    tracemalloc.start()
    try:
        encode((np.roll(noise, k, axis=1) for k in range(100)), path, width=320, height=240, fps=24.0,
               settings=EncodeSettings(fmt="webp"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < path.stat().st_size, (peak, path.stat().st_size)
    with Image.open(path) as image:
        assert image.n_frames == 100 and "sRGB" in ImageCms.getProfileDescription(
            ImageCms.ImageCmsProfile(__import__("io").BytesIO(image.info["icc_profile"])))


def gif_frames(path: Path) -> list[np.ndarray]:
    """The frames a GIF shows (each drawn over the one before), 8-bit RGB."""
    with Image.open(path) as image:
        assert image.info["loop"] == 0
        out = []
        for index in range(image.n_frames):
            image.seek(index)
            out.append(np.asarray(image.convert("RGB")))
        return out


def seen_error(shown: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """The GIF's error against the frame as the eye sees dither (through a blur), in 8-bit levels."""
    return cv2.GaussianBlur(shown.astype(np.float32) - frame * 255, (0, 0), 3)


def test_gif_written_frame_by_frame_shows_the_frames(frames: list[np.ndarray], tmp_path: Path) -> None:
    """The streamed GIF (one palette from the first frame) shows each frame of a pan, loops
    forever, and keeps the frame time."""
    path = tmp_path / "clip.gif"
    assert write(frames, path, "gif") == N
    shown = gif_frames(path)
    with Image.open(path) as image:
        assert image.info["duration"] == 40   # GIF counts 1/100 s
    assert len(shown) == N
    for picture, frame in zip(shown, frames):
        seen = seen_error(picture, frame)[6:-6, 6:-6]
        assert np.sqrt(np.mean(seen ** 2)) < 1 and np.abs(seen).max() < 8


def test_a_gif_still_area_does_not_shimmer(tmp_path: Path) -> None:
    """Floyd-Steinberg dithered afresh each frame made every pixel's dither depend on all the
    pixels before it: when a subject moved, half the pixels of the still photo around it flipped
    from frame to frame (a still sky crawled). A pixel whose colour did not change now shows the
    same colour, and the moving part is still dithered well around the kept pixels."""
    photo = cv2.resize(skimage_photo("coffee"), (160, 120), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    frames = []
    for k in range(4):   # the cup's rim moves 2 px a frame, the rest stands still
        frame = photo.copy()
        frame[40:80, 40 + 2 * k:100 + 2 * k] = photo[40:80, 40:100]
        frames.append(frame)
    path = tmp_path / "clip.gif"
    encode(iter(frames), path, width=160, height=120, fps=12.0, settings=EncodeSettings(fmt="gif"))
    shown = gif_frames(path)
    for k in range(1, 4):
        still = (np.rint(frames[k] * 255) == np.rint(frames[k - 1] * 255)).all(axis=2)
        flipped = (shown[k] != shown[k - 1]).any(axis=2) & still
        assert flipped.mean() < 0.001, f"frame {k}: {flipped.sum()} still pixels changed colour"
        seen = seen_error(shown[k], frames[k])[6:-6, 6:-6]
        assert np.sqrt(np.mean(seen ** 2)) < 1.5 and np.abs(seen).max() < 10


def test_a_gif_sky_has_no_banding_and_a_still_clip_costs_little(tmp_path: Path) -> None:
    """A smooth gradient (a sky) keeps its tone through the dither (no steps), and frames that
    do not change are written as nothing changed: a few bytes each, not the picture again."""
    y, x = np.mgrid[0:96, 0:160].astype(np.float32)
    sky = np.stack([0.25 + 0.35 * y / 96 + 0.05 * x / 160, 0.45 + 0.3 * y / 96, 0.8 + 0.15 * y / 96], axis=2)
    path = tmp_path / "sky.gif"
    encode(iter([sky] * 2), path, width=160, height=96, fps=12.0, settings=EncodeSettings(fmt="gif"))
    one = tmp_path / "one.gif"
    encode(iter([sky]), one, width=160, height=96, fps=12.0, settings=EncodeSettings(fmt="gif"))
    shown = gif_frames(path)
    assert np.array_equal(shown[0], shown[1])
    assert np.abs(seen_error(shown[1], sky)[6:-6, 6:-6]).max() < 1.5
    assert path.stat().st_size - one.stat().st_size < 100


def test_a_gif_keeps_the_photos_saturated_colours(tmp_path: Path) -> None:
    """Seen through a blur (as the eye sees dither), the GIF has the photo's colours: median cut
    left the most saturated out of the palette, the astronaut's flag and badge 27 levels off."""
    photo = cv2.resize(skimage_photo("astronaut"), (160, 160), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    path = tmp_path / "clip.gif"
    encode(iter([photo] * 2), path, width=160, height=160, fps=12.0, settings=EncodeSettings(fmt="gif"))
    with Image.open(path) as image:
        shown = np.asarray(image.convert("RGB"), np.float32) / 255
    seen = cv2.GaussianBlur((shown - photo) * 255, (0, 0), 3)
    assert np.abs(seen).max() < 8 and np.sqrt(np.mean(seen ** 2)) < 1


@pytest.mark.parametrize("fps", [12, 15, 24, 25, 30])
def test_gif_lasts_the_clips_length(tmp_path: Path, fps: int) -> None:
    """GIF stores whole centiseconds: a flat round(1000/fps) ms played a 2 s clip at 30 fps in
    1.8 s. The delays are spread (30 fps: 3, 3, 4 cs) so the clip lasts its length."""
    tile = np.full((8, 8, 3), 0.5, np.float32)
    frames = [tile * (0.5 + 0.5 * (k % 2)) for k in range(2 * fps + 1)]   # 2 s and a frame
    path = tmp_path / "clip.gif"
    encode(iter(frames), path, width=8, height=8, fps=float(fps), settings=EncodeSettings(fmt="gif"))
    with Image.open(path) as image:
        assert image.n_frames == len(frames)
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            durations.append(image.info["duration"])
    assert min(durations) >= 20
    assert abs(sum(durations) - 1000 * len(frames) / fps) <= 10
    # and at every point along the way, not just at the end
    assert all(abs(sum(durations[:k]) - 1000 * k / fps) <= 10 for k in range(1, len(frames) + 1))


def test_tiff_sequence_is_16_bit_srgb_and_exact(frames: list[np.ndarray], tmp_path: Path) -> None:
    folder = tmp_path / "clip"
    assert write(frames, folder, "tiff") == N
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == [f"frame_{i:06d}.tif" for i in range(1, N + 1)]
    for index, file in enumerate(files):
        with Image.open(file) as image:
            assert image.format == "TIFF" and image.size == SIZE
            assert image.tag_v2[258] == (16, 16, 16)              # bits per sample
            assert image.tag_v2[262] == 2                          # photometric RGB
            assert image.tag_v2[259] == 8                          # Deflate, lossless
            profile = ImageCms.ImageCmsProfile(__import__("io").BytesIO(image.info["icc_profile"]))
            assert "sRGB" in ImageCms.getProfileDescription(profile)
            assert f"frame {index + 1} at 24 fps" in image.tag_v2[270]
        pixels = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)[..., ::-1]
        assert pixels.dtype == np.uint16
        np.testing.assert_array_equal(pixels, (np.clip(frames[index], 0, 1) * 65535 + 0.5).astype(np.uint16))


def test_failed_tiff_sequence_leaves_nothing(frames: list[np.ndarray], tmp_path: Path) -> None:
    folder = tmp_path / "clip"

    def broken():
        yield frames[0]
        yield frames[1]
        raise RuntimeError("engine died")

    with pytest.raises(RuntimeError):
        encode(broken(), folder, width=SIZE[0], height=SIZE[1], fps=24.0, settings=EncodeSettings(fmt="tiff"))
    assert not folder.exists()


@pytest.mark.parametrize("fmt, name, n_frames, fps, free, refused", [
    # 30 s at 120 fps of 4K 16-bit TIFFs is ~150 GB: it rendered for an hour and only then failed.
    ("tiff", "clip", 3600, 120.0, 10**6, r"a 3600-frame .*TIFF sequence needs about .* more .* free"),
    # A 30 s GIF at 2160p is ~2.3 GB (0.46 bytes a pixel a frame): minutes of render, then a full disk.
    ("gif", "clip.gif", 720, 24.0, 10**5, r"a 720-frame .*GIF needs about .* more .* free"),
])
def test_a_clip_the_disk_cannot_hold_stops_after_its_first_frame(
        frames: list[np.ndarray], tmp_path: Path, monkeypatch, fmt, name, n_frames, fps, free, refused) -> None:
    """A clip written frame by frame to the disk (a TIFF sequence, a GIF) whose disk cannot hold
    it: its first frame's size tells what it needs; one line then, and nothing half-written left.
    With room enough it is made whole, as before."""
    from collections import namedtuple
    from stillmotion.errors import JobError
    from stillmotion.video import encode as encode_mod

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(encode_mod.shutil, "disk_usage", lambda _path: usage(10**9, 0, free))
    path, pulled = tmp_path / name, []

    def endless():   # (a few frames stand in for the many: the first one must be enough)
        for _ in range(3):
            pulled.append(1)
            yield frames[0]

    with pytest.raises(JobError, match=refused):
        encode(endless(), path, width=SIZE[0], height=SIZE[1], fps=fps, n_frames=n_frames,
               settings=EncodeSettings(fmt=fmt))
    assert len(pulled) == 1 and not path.exists()
    monkeypatch.setattr(encode_mod.shutil, "disk_usage", lambda _path: usage(10**12, 0, 10**11))
    assert encode(iter(frames[:3]), path, width=SIZE[0], height=SIZE[1], fps=fps, n_frames=3,
                  settings=EncodeSettings(fmt=fmt)) == 3


def test_animate_tiff_places_the_folder_atomically_and_never_overwrites(tmp_path: Path, fast_config) -> None:
    photo = save_photo(tmp_path / "IMG_7.png", skimage_photo("astronaut"), (240, 160))
    for _ in range(2):
        assert cli.main(["animate", str(photo), "--format", "tiff", "--aspect", "4:5", "--duration", "0.5",
                         "--fps", "8", "--engine", "parallax"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir() if p.name != "stillmotion-home")
    assert names == ["IMG_7.motion", "IMG_7.motion-2", "IMG_7.motion-2.xmp", "IMG_7.motion.xmp", "IMG_7.png"]
    for folder in ("IMG_7.motion", "IMG_7.motion-2"):
        files = sorted((tmp_path / folder).iterdir())
        assert len(files) == 4
        with Image.open(files[0]) as image:
            assert image.size == (128, 160)                      # 4:5 cut from the 3:2 photo
        # The sidecar names what the clip is: TIFF frames, not application/octet-stream.
        sidecar = (tmp_path / f"{folder}.xmp").read_text()
        assert "application/octet-stream" not in sidecar
        assert re.search(r'dc:format(="|>)image/tiff', sidecar), sidecar


def test_an_encoder_missing_from_this_ffmpeg_is_a_clear_job_error(frames, tmp_path, monkeypatch) -> None:
    """PyAV builds differ (a system FFmpeg may lack libwebp or libx265): one line, not a traceback."""
    from fractions import Fraction

    from stillmotion.errors import JobError
    from stillmotion.video import encode as encode_mod

    container = av.open(str(tmp_path / "probe.webp"), "w", format="webp")
    with pytest.raises(JobError, match=r"no libnotreal encoder; `stillmotion doctor`"):
        encode_mod._add_stream(container, "libnotreal", Fraction(24))
    (tmp_path / "probe.webp").unlink(missing_ok=True)

    real = encode_mod._add_stream

    def without(container, codec, rate):
        return real(container, "libnotreal" if codec in ("libwebp", "libx264") else codec, rate)

    monkeypatch.setattr(encode_mod, "_add_stream", without)
    for fmt in ("webp", "mp4"):
        with pytest.raises(JobError, match=r"no libnotreal encoder"):
            write(frames, tmp_path / f"clip.{fmt}", fmt)
    assert list(tmp_path.iterdir()) == []          # not even an empty file


@pytest.mark.parametrize("fmt, name", [("mp4", "made.mp4"), ("mov", "made.mov")])
def test_a_clip_says_when_it_was_made(frames: list[np.ndarray], tmp_path: Path, fmt: str, name: str) -> None:
    """The movie header's creation time was 0 (1904-01-01): editors and Photos filed the clip there."""
    import datetime

    path = tmp_path / name
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    encode(iter(frames), path, width=SIZE[0], height=SIZE[1], fps=24.0, settings=EncodeSettings(fmt=fmt))
    with av.open(str(path)) as container:
        made = datetime.datetime.fromisoformat(container.metadata["creation_time"].replace("Z", "+00:00"))
    assert before <= made <= datetime.datetime.now(datetime.timezone.utc)


_ENCODE_ON_ONE_CPU = """
import os, sys
import numpy as np
from pathlib import Path
from stillmotion.video.encode import EncodeSettings, encode
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})      # a machine with one core
frames = np.load(sys.argv[1])
encode(iter(frames), Path(sys.argv[2]), width=frames.shape[2], height=frames.shape[1], fps=24.0,
       settings=EncodeSettings.from_config("mp4", "h264", {"preset": "ultrafast"}), n_frames=len(frames))
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_an_h264_clip_decodes_to_the_same_frames_on_a_machine_with_fewer_cores(tmp_path: Path):
    """x264 left to pick its thread count takes 1.5 per core, and its frames depend on that count:
    the same photo, settings and seed decoded to other pixels on a laptop than on a workstation."""
    photo = cv2.resize(skimage_photo("chelsea"), (400, 240), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    frames = np.stack([photo[8:8 + 192, 4 * k:4 * k + 320] for k in range(16)])
    np.save(tmp_path / "frames.npy", frames)
    here, one_core = tmp_path / "here.mp4", tmp_path / "one-core.mp4"
    encode(iter(frames), here, width=320, height=192, fps=24.0,
           settings=EncodeSettings.from_config("mp4", "h264", {"preset": "ultrafast"}), n_frames=len(frames))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", _ENCODE_ON_ONE_CPU, str(tmp_path / "frames.npy"), str(one_core)],
                   check=True, env=env, timeout=60)
    decoded = [np.stack([f.to_ndarray(format="rgb24") for f in av.open(str(p)).decode(video=0)])
               for p in (here, one_core)]
    assert np.array_equal(*decoded)


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_an_mp4_has_a_keyframe_at_least_every_two_seconds(tmp_path: Path, codec: str) -> None:
    """x264's and x265's default put a keyframe every 250 frames (10.4 s at 24 fps): an editor
    scrubbing a 30 s clip in Premiere or Resolve waited while up to 249 frames were decoded
    to show one. Every 2 s (48 frames at 24, 60 at 29.97) keeps that wait short."""
    rng = np.random.default_rng(3)
    still = rng.random((16, 32, 3), dtype=np.float32)
    clip = [np.roll(still, k, axis=1) for k in range(150)]   # 6.26 s at 23.976: slow, no scene cut
    path = tmp_path / "long.mp4"
    encode(iter(clip), path, width=32, height=16, fps=23.976,
           settings=EncodeSettings(fmt="mp4", codec=codec, preset="ultrafast"), n_frames=len(clip))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        keys = sorted(float(p.pts * stream.time_base) for p in container.demux(stream)
                      if p.pts is not None and p.is_keyframe)
    assert keys[0] == 0.0
    assert max(b - a for a, b in zip(keys, keys[1:] + [150 / (24000 / 1001)])) <= 2.01, keys
