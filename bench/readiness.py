"""Benchmark: video-readiness analysis of a 24-megapixel photo.

A 6000x4000 JPEG (24 MP) is made from a real photo (the Golden Gate photo from the
shared fixtures, else scikit-image's astronaut), upscaled with Lanczos and given a
little sensor-like noise so it is not unrealistically smooth. Same process, same
run, median of --repeat runs:

- baseline: decode the JPEG with the safe loader (`photo.load`) and merely shrink
  it to the ~1 MP working copy the analysis uses;
- `readiness.analyze(photo)` on the decoded photo (the cost the pipeline adds for
  `--profile auto` once the photo is loaded anyway). Target: under 1 s;
- `readiness.analyze_path(path)`: decode + analysis, what `stillmotion analyze`
  and `POST /v1/analyze` pay.

Usage: python3 bench/readiness.py [--repeat 5] [--megapixels 24]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from stillmotion import photo as photo_mod
from stillmotion import readiness
from stillmotion.readiness import grid

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO.parent / "shared" / "fixtures" / "photos" / "IMG_1252.jpg"


def make_photo(folder: Path, megapixels: float) -> Path:
    if FIXTURE.is_file():
        source = cv2.imread(str(FIXTURE))
    else:
        from skimage import data

        source = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    h, w = source.shape[:2]
    scale = (megapixels * 1e6 / (w * h)) ** 0.5
    big = cv2.resize(source, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LANCZOS4)
    noise = np.random.default_rng(0).normal(0.0, 2.0, big.shape)
    big = np.clip(big.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    path = folder / "big.jpg"
    cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--megapixels", type=float, default=24.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = make_photo(Path(tmp), args.megapixels)
        loaded = photo_mod.load(path)
        print(f"photo: {loaded.width}x{loaded.height} ({loaded.width * loaded.height / 1e6:.1f} MP), "
              f"JPEG {path.stat().st_size / 1e6:.1f} MB; median of {args.repeat} runs")
        readiness.analyze(loaded)  # warm-up: imports, the face cascade

        t_base, _ = timed(lambda: grid.downscale(photo_mod.load(path).pixels), args.repeat)
        t_shrink, _ = timed(lambda: grid.downscale(loaded.pixels), args.repeat)
        t_analyze, report = timed(lambda: readiness.analyze(loaded), args.repeat)
        t_path, _ = timed(lambda: readiness.analyze_path(path), args.repeat)

    print(f"baseline  decode + shrink to ~1 MP      {t_base:6.3f} s")
    print(f"          (of which the shrink alone    {t_shrink:6.3f} s)")
    print(f"analyze(photo), photo already loaded    {t_analyze:6.3f} s   "
          f"ratio to baseline {t_analyze / t_base:.2f}x   target < 1 s: {'met' if t_analyze < 1 else 'MISSED'}")
    print(f"analyze_path (decode + analysis)        {t_path:6.3f} s   ratio to baseline {t_path / t_base:.2f}x")
    print(f"report: {report.score:.2f} {report.verdict}, profile {report.suggested_profile}, "
          f"subject box {tuple(round(v, 2) for v in report.subject_box)}")


if __name__ == "__main__":
    main()
