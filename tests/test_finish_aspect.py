"""Aspect presets: the crop keeps the subject, has the right shape, never leaves the image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from stillmotion.errors import InputError
from stillmotion.video import aspect
from support import skimage_photo


def detect_faces(pixels: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Faces found by scikit-image's LBP cascade, independently of the code under test."""
    from skimage import data, feature

    cascade = feature.Cascade(data.lbp_frontal_face_cascade_filename())
    found = cascade.detect_multi_scale(img=(pixels * 255).astype(np.uint8), scale_factor=1.2, step_ratio=1,
                                       min_size=(60, 60), max_size=(300, 300))
    return [(f["c"], f["r"], f["c"] + f["width"], f["r"] + f["height"]) for f in found]


@pytest.fixture(scope="module")
def wide_portrait() -> np.ndarray:
    """The astronaut's face near the left of a wide frame (the rest: the coffee photo).

    A centred 9:16 crop misses the face here, so only a subject-aware crop keeps it.
    """
    astronaut = skimage_photo("astronaut")[:, :400]
    coffee = cv2.resize(skimage_photo("coffee"), (700, 512), interpolation=cv2.INTER_AREA)
    return np.concatenate([astronaut, coffee], axis=1).astype(np.float32) / 255


def inside(box: tuple[int, int, int, int], window: tuple[int, int, int, int]) -> bool:
    return window[0] <= box[0] and window[1] <= box[1] and box[2] <= window[2] and box[3] <= window[3]


def cut(pixels: np.ndarray, preset: str, box: tuple[float, ...] | None = None) -> np.ndarray:
    """The photo cut as the job cuts it before generation."""
    x0, y0, x1, y1 = aspect.subject_window(pixels, preset, box)
    return pixels[y0:y1, x0:x1]


def test_9_16_crop_keeps_the_face(wide_portrait: np.ndarray) -> None:
    faces = detect_faces(wide_portrait)
    assert faces, "the test photo must have a detectable face"
    height, width = wide_portrait.shape[:2]
    window = aspect.subject_window(wide_portrait, "9:16")      # no box given: estimated
    assert not inside(faces[0], aspect.crop_window(width, height, "9:16")), "a centred crop would keep it anyway"
    assert all(inside(face, window) for face in faces)
    cropped = cut(wide_portrait, "9:16")
    assert cropped.shape[1] / cropped.shape[0] == pytest.approx(9 / 16, abs=0.01)
    # The face is found again in the crop itself.
    assert detect_faces(np.ascontiguousarray(cropped))


@pytest.mark.parametrize("preset, ratio", [("16:9", 16 / 9), ("1:1", 1.0), ("4:5", 0.8), ("9:16", 9 / 16)])
def test_every_preset_has_its_shape(wide_portrait: np.ndarray, preset: str, ratio: float) -> None:
    box = (0.1, 0.1, 0.3, 0.5)
    out = cut(wide_portrait, preset, box)
    assert out.shape[1] / out.shape[0] == pytest.approx(ratio, abs=0.01)


def test_source_is_no_crop(wide_portrait: np.ndarray) -> None:
    assert cut(wide_portrait, "source").shape == wide_portrait.shape


def test_the_same_window_crops_every_frame() -> None:
    xs = np.broadcast_to(np.arange(160, dtype=np.float32), (90, 160))
    frames = [np.stack([xs, np.full((90, 160), k, np.float32), xs], axis=2) for k in range(3)]
    window = aspect.crop_window(160, 90, "1:1", (0.7, 0.2, 0.9, 0.6))
    out = list(aspect.crop_frames(iter(frames), window))
    assert [f.shape for f in out] == [(90, 90, 3)] * 3
    assert [int(f[0, 0, 1]) for f in out] == [0, 1, 2]          # each frame, in order
    assert all(int(f[0, 0, 0]) == window[0] == 160 - 90 for f in out)   # subject at the right: flush right
    assert all(f.flags.c_contiguous for f in out)


def test_bad_aspect_and_box_are_input_errors() -> None:
    with pytest.raises(InputError, match="aspect"):
        aspect.crop_window(100, 100, "2:1")
    with pytest.raises(InputError, match="x1 > x0"):
        aspect.crop_window(100, 100, "1:1", (0.5, 0.5, 0.4, 0.9))
    with pytest.raises(InputError, match="subject box"):
        aspect.crop_window(100, 100, "1:1", (0.5, 0.5))


@settings(max_examples=300, deadline=None)
@given(width=st.integers(8, 5000), height=st.integers(8, 5000),
       preset=st.sampled_from(["16:9", "9:16", "1:1", "4:5"]),
       x=st.floats(0, 0.95), y=st.floats(0, 0.95), w=st.floats(0.01, 1), h=st.floats(0.01, 1))
def test_window_properties(width: int, height: int, preset: str, x: float, y: float, w: float, h: float) -> None:
    box = (x, y, min(1.0, x + w), min(1.0, y + h))
    x0, y0, x1, y1 = aspect.crop_window(width, height, preset, box)
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    # The largest window of that shape: it spans the whole width or the whole height.
    assert x1 - x0 == width or y1 - y0 == height
    assert (x1 - x0) / (y1 - y0) == pytest.approx(aspect.RATIOS[preset], abs=1.0 / min(x1 - x0, y1 - y0) + 1e-9,
                                                  rel=0.01)
    # A subject that fits in the window is wholly inside it.
    bx0, by0, bx1, by1 = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    if bx1 - bx0 <= x1 - x0:
        assert x0 <= bx0 + 0.5 and bx1 - 0.5 <= x1
    if by1 - by0 <= y1 - y0:
        assert y0 <= by0 + 0.5 and by1 - 0.5 <= y1


@pytest.mark.parametrize("photo_size", [(451, 300), (1697, 1132), (300, 451)])
@pytest.mark.parametrize("preset, size, expected", [
    ("9:16", "1080p", (1080, 1920)), ("16:9", "2160p", (3840, 2160)), ("4:5", "1080p", (1080, 1350)),
    ("1:1", "1440p", (1440, 1440)),
])
def test_a_social_aspect_at_a_delivery_size_is_its_exact_shape(photo_size, preset, size, expected) -> None:
    """`--aspect 9:16 --size 1080p` on a 451x300 photo came out 1080x1916: the size followed the
    cropped photo (168x300 px, a pixel off 9:16) instead of the preset a platform asks for."""
    from stillmotion.jobs.pipeline import delivery_size
    from stillmotion.request import AnimateRequest

    window = aspect.crop_window(*photo_size, preset)
    crop_w, crop_h = window[2] - window[0], window[3] - window[1]
    request = AnimateRequest.from_dict({"aspect": preset, "size": size})
    assert delivery_size(crop_w, crop_h, request, {"long_edge": 1920}) == expected


def test_a_box_in_the_crop_is_the_same_part_of_the_picture() -> None:
    window = (100, 0, 244, 256)                                   # a 9:16 cut of a 256 x 256 image
    x0, y0, x1, y1 = aspect.box_in_window((0.5, 0.25, 0.75, 0.5), window, (256, 256))
    assert (x0 * 144 + 100, y0 * 256, x1 * 144 + 100, y1 * 256) == pytest.approx((128, 64, 192, 128))
    assert aspect.box_in_window((0.9, 0.1, 1.0, 0.2), window, (256, 256))[2] == 1.0   # clipped to the cut
    assert aspect.box_in_window((0.0, 0.1, 0.2, 0.2), window, (256, 256)) is None     # outside it
    box = (0.1, 0.2, 0.3, 0.4)
    assert aspect.box_in_window(box, (0, 0, 256, 256), (256, 256)) == box            # uncropped: as it was
