"""finish_clip as the pipeline uses it: sizes, counts, anchors, streaming, errors."""

from __future__ import annotations

from typing import Iterator

import cv2
import numpy as np
import pytest

from stillmotion import config as config_mod
from stillmotion.engines.base import Clip
from stillmotion.errors import Canceled, ConfigError, InputError, JobError
from stillmotion.progress import CancelToken
from stillmotion.video.finish import FinishSettings, finish_clip
from stillmotion.video.interpolate import output_anchor, output_times
from support import skimage_photo


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo, 320x180 (16:9)."""
    return cv2.resize(skimage_photo("coffee"), (320, 180), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def panning(photo: np.ndarray, n: int, size: tuple[int, int], step: float = 1.5) -> list[np.ndarray]:
    """Frames of the photo panning right by `step` pixels (at `size`) per frame; frame 0 is the photo."""
    small = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    out = []
    for k in range(n):
        m = np.float32([[1, 0, -step * k], [0, 1, 0]])
        out.append(cv2.warpAffine(small, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return out


def make_clip(frames: list[np.ndarray], fps: float, anchor: int | None = 0, n_frames: int | None = None) -> Clip:
    h, w = frames[0].shape[:2]
    return Clip(frames=iter(frames), n_frames=n_frames or len(frames), fps=fps, width=w, height=h,
                anchor_index=anchor, seed=7, info={"engine": "test"})


def test_a_clip_already_at_delivery_size_and_rate_is_returned_untouched(photo: np.ndarray) -> None:
    clip = make_clip(panning(photo, 4, (320, 180)), 24.0)
    assert finish_clip(clip, photo=photo, target_size=(320, 180), target_fps=24.0) is clip


def test_model_clip_becomes_delivery_clip(photo: np.ndarray) -> None:
    """8 fps at 160x90 -> 24 fps at 320x180: size, count, rate, anchor, info."""
    clip = make_clip(panning(photo, 5, (160, 90)), 8.0)
    out = finish_clip(clip, photo=photo, target_size=(320, 180), target_fps=24.0, n_frames=15)
    assert (out.width, out.height, out.fps, out.n_frames, out.anchor_index, out.seed) == (320, 180, 24.0, 15, 0, 7)
    frames = list(out.frames)
    assert len(frames) == 15
    assert all(f.shape == (180, 320, 3) and f.dtype == np.float32 for f in frames)
    assert all(0.0 <= f.min() and f.max() <= 1.0 for f in frames)
    # The anchor frame is the photo itself at the delivery size.
    assert np.abs(frames[0] - photo).mean() < 0.01
    assert out.info["engine"] == "test"
    assert set(out.info["finish"]) >= {"upscale", "retime", "seconds"}


def test_anchor_at_the_end_stays_the_last_frame_and_exact() -> None:
    """With the photo last, the output grid ends on it and every third frame is an input."""
    times = output_times(5, 8.0, 24.0, 4, n_out=15)
    assert times[-1] == 4 and output_anchor(times, 4) == 14
    assert [t for t in times if abs(t - round(t)) < 1e-9] == [0, 1, 2, 3, 4]
    # Anchor at the start: the grid starts on it, the last two frames extrapolate past the end.
    times = output_times(5, 8.0, 24.0, 0, n_out=15)
    assert times[0] == 0 and output_anchor(times, 0) == 0 and times[-1] > 4


def test_anchor_end_clip(photo: np.ndarray) -> None:
    frames = panning(photo, 5, (160, 90))[::-1]          # the photo is the last frame
    out = finish_clip(make_clip(frames, 8.0, anchor=4), photo=photo, target_size=(320, 180),
                      target_fps=24.0, n_frames=15)
    result = list(out.frames)
    assert out.anchor_index == 14 and len(result) == 15
    assert np.abs(result[-1] - photo).mean() < 0.01


def test_non_integer_rate_ratio_and_no_anchor(photo: np.ndarray) -> None:
    """SVD-like 6 fps -> 25 fps, no frame is the photo: counts and sizes still right."""
    clip = make_clip(panning(photo, 7, (128, 72)), 6.0, anchor=None)
    out = finish_clip(clip, photo=photo, target_size=(320, 180), target_fps=25.0)
    assert out.n_frames == round(7 * 25 / 6) and out.anchor_index is None
    assert sum(1 for _ in out.frames) == out.n_frames


def test_aspect_mismatch_is_cropped_to_the_delivery_shape(photo: np.ndarray) -> None:
    clip = make_clip(panning(photo, 3, (160, 90)), 8.0)
    out = finish_clip(clip, photo=photo, target_size=(180, 320), target_fps=8.0,
                      subject_box=(0.6, 0.2, 0.8, 0.8))
    frames = list(out.frames)
    x0, y0, x1, y1 = out.info["finish"]["crop"]
    assert (x1 - x0) / (y1 - y0) == pytest.approx(9 / 16, abs=0.02)
    assert x0 <= 0.6 * 160 and x1 >= 0.8 * 160           # the subject is inside
    assert frames[0].shape == (320, 180, 3)
    # Frame 0 is the photo's own crop.
    crop = photo[:, round(x0 * 2):round(x1 * 2)]
    assert np.abs(frames[0] - cv2.resize(crop, (180, 320), interpolation=cv2.INTER_AREA)).mean() < 0.02


def test_frames_stream_with_bounded_lookahead(photo: np.ndarray) -> None:
    """Finishing pulls the model's frames only a few ahead of the output (bounded memory)."""
    pulled = []

    def source() -> Iterator[np.ndarray]:
        for i, f in enumerate(panning(photo, 30, (160, 90), step=0.3)):
            pulled.append(i)
            yield f

    clip = Clip(frames=source(), n_frames=30, fps=8.0, width=160, height=90, anchor_index=0, seed=0)
    frames = finish_clip(clip, photo=photo, target_size=(320, 180), target_fps=24.0).frames
    for _ in range(6):                                     # output frames 0..5 need inputs 0..2
        next(frames)
    assert len(pulled) <= 3 + 6                            # plus the few rendered ahead
    assert sum(1 for _ in frames) == 90 - 6 and len(pulled) == 30


def test_cancel_stops_between_frames(photo: np.ndarray) -> None:
    token = CancelToken()
    out = finish_clip(make_clip(panning(photo, 5, (160, 90)), 8.0), photo=photo, target_size=(320, 180),
                      target_fps=24.0, cancel=token)
    frames = out.frames
    next(frames)
    token.cancel()
    with pytest.raises(Canceled):
        next(frames)


def test_a_clip_shorter_than_announced_is_an_error_not_a_short_file(photo: np.ndarray) -> None:
    clip = make_clip(panning(photo, 3, (160, 90)), 8.0, n_frames=5)
    out = finish_clip(clip, photo=photo, target_size=(320, 180), target_fps=8.0)
    with pytest.raises(JobError, match="3 frames where 5"):
        list(out.frames)


def test_frames_of_the_wrong_size_are_refused(photo: np.ndarray) -> None:
    frames = panning(photo, 3, (160, 90))
    clip = Clip(frames=iter(frames), n_frames=3, fps=8.0, width=150, height=90, anchor_index=0, seed=0)
    with pytest.raises(JobError, match="160x90"):
        list(finish_clip(clip, photo=photo, target_size=(320, 180), target_fps=8.0).frames)


def test_bad_targets_are_input_errors(photo: np.ndarray) -> None:
    clip = make_clip(panning(photo, 2, (160, 90)), 8.0)
    with pytest.raises(InputError):
        finish_clip(clip, photo=photo, target_size=(0, 180), target_fps=24.0)
    with pytest.raises(InputError):
        finish_clip(clip, photo=photo, target_size=(320, 180), target_fps=0.0)
    with pytest.raises(InputError, match="RGB"):
        finish_clip(clip, photo=photo[..., 0], target_size=(320, 180), target_fps=24.0)


def test_settings_come_from_the_config_and_are_checked(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    cfg = config_mod.load(environ={})
    assert FinishSettings.from_config(cfg["finish"]) == FinishSettings()
    with pytest.raises(ConfigError, match="interpolation"):
        FinishSettings.from_config({"interpolation": "magic"})
    with pytest.raises(ConfigError, match="detail"):
        FinishSettings.from_config({"detail": -1.0})
