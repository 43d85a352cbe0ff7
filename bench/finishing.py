"""Benchmark: finishing a model clip for delivery, against encoding it.

A model-size clip is made from a real photo (the Golden Gate photo from the
shared fixtures, or scikit-image's astronaut): 1024x576 at 8 fps, a slow push-in
with a pan, frame 0 being the photo. All in one process, same run:

- upscaling 1024x576 -> 1920x1080 with the photo's detail, frames/s
  (baseline: plain Lanczos resizing of the same frames);
- 8 -> 24 fps motion-compensated interpolation at 1920x1080, output frames/s
  (baseline: cross-fading the same frames);
- finishing a whole 4 s clip (32 model frames -> 96 delivery frames) with
  `finish_clip`, against encoding those 96 frames with the configured encoder
  (H.264, [output] crf/preset). Target: finishing takes less time than encoding.

Wall and CPU seconds are both printed: on a shared machine the wall clock follows
the load, CPU seconds (all threads of this process) much less.

Usage: python3 bench/finishing.py [--seconds 4] [--frames 12] [--repeat 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO.parent / "shared" / "fixtures" / "photos" / "IMG_1252.jpg"
MODEL = (1024, 576)
DELIVERY = (1920, 1080)


def load_photo() -> np.ndarray:
    """The photo at 1920x1080 (16:9), float sRGB."""
    if FIXTURE.is_file():
        pixels = cv2.cvtColor(cv2.imread(str(FIXTURE)), cv2.COLOR_BGR2RGB)
    else:
        from skimage import data

        pixels = data.astronaut()
    h, w = pixels.shape[:2]
    crop_h = min(h, round(w * 9 / 16))
    pixels = pixels[(h - crop_h) // 2:(h - crop_h) // 2 + crop_h]
    return cv2.resize(pixels, DELIVERY, interpolation=cv2.INTER_LANCZOS4).astype(np.float32) / 255


def model_frames(photo: np.ndarray, n: int) -> list[np.ndarray]:
    """What a model returns: the photo at 1024x576, slowly pushing in (4%) and panning (1.5%)."""
    small = cv2.resize(photo, MODEL, interpolation=cv2.INTER_AREA)
    cx, cy = MODEL[0] / 2, MODEL[1] / 2
    out = []
    for k in range(n):
        e = k / max(1, n - 1)
        m = cv2.getRotationMatrix2D((cx, cy), 0.0, 1.0 + 0.04 * e)
        m[0, 2] -= 0.015 * MODEL[0] * e
        out.append(cv2.warpAffine(small, m, MODEL, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT))
    return [np.clip(f, 0, 1) for f in out]


def report(label: str, count: int, seconds: float, cpu: float) -> None:
    print(f"  {label:<40} {count / seconds:7.1f} frames/s  ({count} frames in {seconds:6.2f} s wall, "
          f"{cpu:6.2f} s CPU)")


def timed(label: str, count: int, run) -> tuple[float, float]:
    """Wall and CPU seconds of run() (CPU: all threads of this process)."""
    start, cpu = time.perf_counter(), time.process_time()
    run()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    report(label, count, seconds, cpu)
    return seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length for the finish-vs-encode run")
    parser.add_argument("--frames", type=int, default=12, help="model frames for the per-step rates")
    parser.add_argument("--repeat", type=int, default=2, help="alternating finish/encode runs (best counts)")
    args = parser.parse_args()

    from stillmotion import config
    from stillmotion.engines.base import Clip
    from stillmotion.video.encode import EncodeSettings, encode
    from stillmotion.video.finish import FinishSettings, finish_clip
    from stillmotion.video.interpolate import MotionInterpolator, output_times, retime
    from stillmotion.video.upscale import resample, upscale_frames

    cfg = config.load(environ={})
    settings = FinishSettings.from_config(cfg["finish"])
    photo = load_photo()
    frames = model_frames(photo, args.frames)
    print(f"cv2 threads: {cv2.getNumThreads()}; model {MODEL[0]}x{MODEL[1]} -> delivery {DELIVERY[0]}x{DELIVERY[1]}")

    print("upscaling:")
    lanczos, _ = timed("plain Lanczos (baseline)", len(frames),
                    lambda: [resample(f, DELIVERY) for f in frames])
    upscaled: list[np.ndarray] = []
    detail, _ = timed("with the photo's detail", len(frames), lambda: upscaled.extend(upscale_frames(
        frames, photo=photo, target_size=DELIVERY, anchor_index=0, strength=settings.detail,
        flow_long_edge=settings.upscale_flow_edge, flow_preset=settings.flow_preset,
        workers=settings.threads)))
    print(f"  ratio detail/Lanczos time: {detail / lanczos:.2f}")

    print("8 -> 24 fps at 1920x1080:")
    times = output_times(len(upscaled), 8.0, 24.0, 0)
    blend, _ = timed("cross-fade (baseline)", len(times), lambda: list(retime(upscaled, times, blend_only=True)))
    interpolator = MotionInterpolator(flow_long_edge=settings.interpolate_flow_edge,
                                      flow_preset=settings.flow_preset, min_trust=settings.min_flow_trust)
    motion, _ = timed("motion-compensated", len(times),
                   lambda: list(retime(upscaled, times, interpolator=interpolator, workers=settings.threads)))
    print(f"  ratio motion/cross-fade time: {motion / blend:.2f}")
    del upscaled

    n_model = max(2, round(args.seconds * 8))
    n_out = round(args.seconds * 24)
    clip_frames = model_frames(photo, n_model)
    print(f"a {args.seconds:g} s clip ({n_model} model frames at 8 fps -> {n_out} at 24 fps):")
    encode_settings = EncodeSettings.from_config("mp4", "h264", cfg["output"])
    finished: list[np.ndarray] = []

    def finish() -> None:
        finished.clear()
        clip = Clip(frames=iter(clip_frames), n_frames=n_model, fps=8.0, width=MODEL[0], height=MODEL[1],
                    anchor_index=0, seed=0)
        out = finish_clip(clip, photo=photo, target_size=DELIVERY, target_fps=24.0, n_frames=n_out,
                          settings=settings)
        # All kept, as the encoder gets them (about 2.4 GB for 4 s at 1080p).
        finished.extend(out.frames)

    def encode_them() -> None:
        with tempfile.TemporaryDirectory() as folder:
            encode(iter(finished), Path(folder) / "bench.mp4", width=DELIVERY[0], height=DELIVERY[1],
                   fps=24.0, settings=encode_settings)

    # Alternated and repeated: on a shared machine the load drifts; the best of each counts.
    runs = {"finish": [], "encode": []}
    for _ in range(args.repeat):
        runs["finish"].append(timed("finish_clip", n_out, finish))
        runs["encode"].append(timed(f"encode (H.264 crf {encode_settings.crf}, {encode_settings.preset})",
                                    n_out, encode_them))
    finish_wall, encode_wall = (min(w for w, _ in runs[k]) for k in ("finish", "encode"))
    finish_cpu, encode_cpu = (min(c for _, c in runs[k]) for k in ("finish", "encode"))
    ratio = finish_wall / encode_wall
    print(f"best of {args.repeat}: finishing {finish_wall:.2f} s, encoding {encode_wall:.2f} s wall")
    print(f"ratio finishing/encoding (wall): {ratio:.2f} (target < 1): {'met' if ratio < 1 else 'NOT met'}")
    print(f"ratio finishing/encoding (CPU):  {finish_cpu / encode_cpu:.2f}")

if __name__ == "__main__":
    main()
