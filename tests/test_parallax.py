"""The parallax engine's guarantees, checked on frames before encoding."""

from __future__ import annotations

import numpy as np
import pytest

from stillmotion.engines import depth
from stillmotion.engines.parallax import ParallaxEngine
from stillmotion.errors import Canceled
from stillmotion.progress import CancelToken
from stillmotion.request import AnimateRequest

from support import skimage_photo


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    import cv2

    return cv2.resize(skimage_photo("astronaut"), (256, 256)).astype(np.float32) / 255.0


def render(photo, seed=1, **settings):
    request = AnimateRequest.from_dict({"duration": 1.0, "fps": 12, **settings}).resolve("generic", {})
    clip = ParallaxEngine().generate(photo, request, seed=seed, progress=lambda f: None,
                                     cancel=CancelToken(), context={"target_size": (256, 256)})
    return clip, list(clip.frames)


def test_anchor_start_frame_zero_is_the_photo_exactly(photo):
    clip, frames = render(photo, camera="pan-left")
    assert clip.anchor_index == 0 and len(frames) == clip.n_frames == 12
    assert np.array_equal(frames[0], photo)


def test_loop_last_frame_equals_first_exactly(photo):
    _, frames = render(photo, camera="orbit", loop=True)
    assert np.array_equal(frames[-1], frames[0])
    assert np.abs(frames[6] - frames[0]).mean() > 0.01


def test_anchor_end_last_frame_is_the_photo(photo):
    clip, frames = render(photo, camera="push-in", anchor="end")
    assert clip.anchor_index == len(frames) - 1
    assert np.array_equal(frames[-1], photo)


def test_motion_intensity_scales_amplitude_and_is_eased(photo):
    _, weak = render(photo, camera="pan-right", motion=0.2)
    _, strong = render(photo, camera="pan-right", motion=0.9)
    weak_d = np.abs(weak[-1] - weak[0]).mean()
    strong_d = np.abs(strong[-1] - strong[0]).mean()
    assert strong_d > 1.5 * weak_d
    steps = [np.abs(strong[i + 1] - strong[i]).mean() for i in range(len(strong) - 1)]
    # Eased start and stop: the first and last steps are smaller than the middle ones.
    assert steps[0] < max(steps) and steps[-1] < max(steps)


def test_same_seed_same_clip(photo):
    _, a = render(photo, seed=5, camera="orbit")
    _, b = render(photo, seed=5, camera="orbit")
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_near_objects_move_more_than_far(photo):
    """Parallax: the near-ness map decides the displacement."""
    near = depth.estimate(photo)
    assert near.shape[0] > 0 and 0.0 <= near.min() and near.max() <= 1.0
    # The astronaut (centre-bottom, sharp) is nearer than the top corners (plain background).
    h, w = near.shape
    assert near[int(h * 0.7), w // 2] > near[int(h * 0.05), int(w * 0.05)]


def test_cancel_between_frames(photo):
    request = AnimateRequest.from_dict({"duration": 2.0, "fps": 12}).resolve("generic", {})
    token = CancelToken()
    clip = ParallaxEngine().generate(photo, request, seed=1, progress=lambda f: None, cancel=token,
                                     context={"target_size": (256, 256)})
    frames = iter(clip.frames)
    next(frames)
    token.cancel()
    with pytest.raises(Canceled):
        next(frames)
