"""Finishing quality on real photos against known truth.

A "clip" is made from a real photo with known motion (the background drifts by a
fraction of a pixel per frame, a disc cut from the photo glides across it, so
there are occlusions and moving edges) and rendered at full resolution: those
are the true frames. The model's view is the same clip shrunk 4x; finishing must
bring it back closer to the truth than plain Lanczos, without ghosts at the
moving edges. For retiming, every third true frame is kept (8 of 24 fps) and the
two between must be rebuilt better than by cross-fading.

Run with -s to see the PSNRs (they are quoted in the finishing note).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from stillmotion.engines.base import Clip
from stillmotion.video.finish import FinishSettings, finish_clip
from stillmotion.video.interpolate import MotionInterpolator, output_times, retime
from stillmotion.video.upscale import resample
from support import SHARED_FIXTURES, skimage_photo


def real_photo(name: str) -> np.ndarray:
    """float32 sRGB photo, cropped to a multiple of 4 on each side."""
    if name.startswith("kodim"):
        path = SHARED_FIXTURES / "photos" / f"{name}.png"
        if not path.is_file():
            pytest.skip(f"shared fixture {path} not found")
        pixels = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    else:
        pixels = skimage_photo(name)
    pixels = pixels.astype(np.float32) / 255.0
    return np.ascontiguousarray(pixels[:pixels.shape[0] // 4 * 4, :pixels.shape[1] // 4 * 4])


def moving_scene(photo: np.ndarray, n: int, *, bg_step: tuple[float, float], disc_step: tuple[float, float]
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """True frames of a drifting background with a gliding disc, and masks of the disc's edge."""
    height, width = photo.shape[:2]
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    radius = 0.18 * min(height, width)
    src_x, src_y = 0.3 * width, 0.35 * height
    frames, edges = [], []
    for k in range(n):
        bx, by = bg_step[0] * k, bg_step[1] * k
        cx, cy = 0.55 * width + disc_step[0] * k, 0.5 * height + disc_step[1] * k
        background = cv2.remap(photo, gx - bx, gy - by, cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT)
        disc = cv2.remap(photo, gx - cx + src_x, gy - cy + src_y, cv2.INTER_LANCZOS4,
                         borderMode=cv2.BORDER_REFLECT)
        distance = np.sqrt((gx - cx) ** 2 + (gy - cy) ** 2)
        alpha = np.clip(radius + 0.5 - distance, 0.0, 1.0)[..., None]
        frames.append(np.clip(background * (1 - alpha) + disc * alpha, 0, 1).astype(np.float32))
        edges.append(np.abs(distance - radius) < 6)
    return frames, edges


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def gradient_energy(frame: np.ndarray) -> float:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return float(np.mean(cv2.Sobel(grey, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(grey, cv2.CV_32F, 0, 1) ** 2))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "kodim03"])
def test_upscaling_restores_the_photos_detail_without_ghosts(name: str) -> None:
    photo = real_photo(name)
    height, width = photo.shape[:2]
    truth, edges = moving_scene(photo, 6, bg_step=(0.7, 0.3), disc_step=(3.0, 1.5))
    small = [resample(f, (width // 4, height // 4)) for f in truth]
    clip = Clip(frames=iter(small), n_frames=6, fps=8.0, width=width // 4, height=height // 4,
                anchor_index=0, seed=0)
    finished = finish_clip(clip, photo=truth[0], target_size=(width, height), target_fps=8.0)
    ours = list(finished.frames)
    assert len(ours) == 6 and ours[0].shape == (height, width, 3)
    # The anchor frame is the photo again.
    assert psnr(ours[0], truth[0]) > 40
    for k in range(1, 6):
        lanczos = np.clip(resample(small[k], (width, height)), 0, 1)
        p_ours, p_lanczos = psnr(ours[k], truth[k]), psnr(lanczos, truth[k])
        g_ours, g_lanczos, g_true = (gradient_energy(x) for x in (ours[k], lanczos, truth[k]))
        e_ours = float(np.mean((ours[k] - truth[k])[edges[k]] ** 2))
        e_lanczos = float(np.mean((lanczos - truth[k])[edges[k]] ** 2))
        print(f"{name} frame {k}: PSNR {p_ours:.2f} vs Lanczos {p_lanczos:.2f} dB; gradient energy "
              f"{g_ours:.4f} vs {g_lanczos:.4f} (true {g_true:.4f}); moving-edge MSE ratio {e_ours / e_lanczos:.3f}")
        assert p_ours > p_lanczos + 2.0
        assert g_lanczos < g_ours <= g_true * 1.05
        assert e_ours <= e_lanczos, "detail ghosted onto a moving edge"


def test_detail_strength_zero_is_plain_lanczos() -> None:
    photo = real_photo("astronaut")[:256, :256]
    truth, _ = moving_scene(photo, 3, bg_step=(0.7, 0.3), disc_step=(3.0, 1.5))
    small = [resample(f, (64, 64)) for f in truth]
    clip = Clip(frames=iter(small), n_frames=3, fps=8.0, width=64, height=64, anchor_index=0, seed=0)
    out = list(finish_clip(clip, photo=truth[0], target_size=(256, 256), target_fps=8.0,
                           settings=FinishSettings(detail=0.0)).frames)
    for mine, frame in zip(out, small):
        np.testing.assert_allclose(mine, np.clip(resample(frame, (256, 256)), 0, 1), atol=1e-6)


@pytest.mark.parametrize("name", ["astronaut", "chelsea"])
def test_8_to_24_fps_rebuilds_held_out_frames_better_than_blending(name: str) -> None:
    photo = real_photo(name)[:384, :384]
    truth, edges = moving_scene(photo, 13, bg_step=(1.0, 0.5), disc_step=(4.0, 2.0))
    kept = truth[::3]                                    # 8 fps out of 24
    times = output_times(len(kept), 8.0, 24.0, 0, n_out=13)
    ours = list(retime(iter(kept), times, interpolator=MotionInterpolator()))
    blended = list(retime(iter(kept), times, blend_only=True))
    held_out = [j for j in range(13) if j % 3]
    for j in range(0, 13, 3):
        assert ours[j] is kept[j // 3], "an input frame on the output grid must pass through untouched"
    p_ours = np.mean([psnr(ours[j], truth[j]) for j in held_out])
    p_blend = np.mean([psnr(blended[j], truth[j]) for j in held_out])
    e_ours = np.mean([np.mean((ours[j] - truth[j])[edges[j]] ** 2) for j in held_out])
    e_blend = np.mean([np.mean((blended[j] - truth[j])[edges[j]] ** 2) for j in held_out])
    print(f"{name} 8->24 fps held-out frames: PSNR motion {p_ours:.2f} vs blend {p_blend:.2f} dB; "
          f"moving-edge MSE {e_ours:.5f} vs {e_blend:.5f}")
    assert p_ours > p_blend + 6.0
    assert e_ours < e_blend


def test_unrelated_frames_fall_back_to_a_cross_fade() -> None:
    a = real_photo("astronaut")[:256, :256]
    b = real_photo("coffee")[:256, :256]
    interpolator = MotionInterpolator()
    motion = interpolator.measure(a, b)
    assert not motion.reliable
    np.testing.assert_allclose(interpolator.render(a, b, motion, 0.25), 0.75 * a + 0.25 * b, atol=1e-5)


@pytest.mark.parametrize("factor", [1.5, 2.0])
def test_a_hard_edge_in_a_model_frame_is_upscaled_without_a_halo(factor: float) -> None:
    """Lanczos put a halo along every hard edge of a model frame upscaled to the delivery size
    (0.2 -> 0.8 became 0.13 and 0.87). Each pixel now stays within the frame pixels it lies
    between, and the edge stays crisper than a bilinear upscale's; real photos keep far more
    fine detail than bilinear."""
    frame = np.full((16, 24, 3), 0.2, np.float32)
    frame[:, 12:] = 0.8
    size = (round(24 * factor), round(16 * factor))
    big = resample(frame, size)
    assert 0.2 - 0.5 / 255 <= big.min() and big.max() <= 0.8 + 0.5 / 255, (big.min() * 255, big.max() * 255)
    xs = np.arange(size[0])
    bilinear = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
    rise = [np.interp(0.74, r, xs) - np.interp(0.26, r, xs) for r in (big[0, :, 0], bilinear[0, :, 0])]
    assert rise[0] < rise[1], rise
    photo = real_photo("astronaut")[::4, ::4]
    size = (round(photo.shape[1] * factor), round(photo.shape[0] * factor))
    sharp, soft = resample(photo, size), cv2.resize(photo, size, interpolation=cv2.INTER_LINEAR)
    assert gradient_energy(sharp) > 1.2 * gradient_energy(soft)
