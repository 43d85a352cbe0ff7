"""Benchmark: the parallax engine's depth estimate (engines/depth.py), against ground truth
and against vertical lines, with and without its smoothing along vertical structures
(without it, the estimate is engine revision 3's), in the same run.

- spearman: rank correlation of `estimate()` with the ground-truth disparity of
  scikit-image's motorcycle stereo pair (larger disparity = nearer; unknown disparities,
  inf or 0, left out). 1 is a perfect depth order.
- lean: along each long near-vertical line (OpenCV's line segment detector, within 10 degrees
  of vertical, at least 15% of the height) in photos with upright structures, the depth's
  standard deviation 3 px to the side of the line (the steadier side: the line's own object),
  over the whole map's; the mean over photos. 0: upright things are at one depth.
- bend: the same lines' depth spread (5th to 95th percentile) as pixels of sideways slide
  between a line's two ends in a 1920 px wide --camera pan-right --motion 1 (the pan moves a
  pixel 0.07 x 1920 x (0.3 + 0.7 near)): how far a pole leans.
- ms: `estimate()` on the Golden Gate photo (1697x1132), the best of 15 runs, the two
  estimates taking turns.

Usage: python3 bench/depth.py [-v]   (scipy and scikit-image; the shared fixtures when present)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "server"))
FIXTURES = REPO.parent / "shared" / "fixtures" / "photos"
LEAN_PHOTOS = ["skimage:brick", "skimage:rocket", "skimage:camera", "skimage:motorcycle",
               "kodim08.png", "kodim03.png", "kodim21.png", "IMG_1252.jpg"]
PAN_SLIDE = 0.07 * 0.7 * 1920   # px of slide per unit of near-ness, 1920 px pan at --motion 1


def load(name: str) -> np.ndarray | None:
    from skimage import data

    if name == "skimage:motorcycle":
        img = data.stereo_motorcycle()[0]
    elif name.startswith("skimage:"):
        img = getattr(data, name.split(":", 1)[1])()
    elif (FIXTURES / name).is_file():
        img = cv2.cvtColor(cv2.imread(str(FIXTURES / name), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    else:
        return None
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, 2)
    return img[..., :3].astype(np.float32) / 255.0


def spearman(estimate: Callable[[np.ndarray], np.ndarray]) -> float:
    from scipy.stats import spearmanr
    from skimage import data

    left, _, disparity = data.stereo_motorcycle()
    near = estimate(left.astype(np.float32) / 255.0)
    near = cv2.resize(near, (disparity.shape[1], disparity.shape[0]), interpolation=cv2.INTER_LINEAR)
    known = np.isfinite(disparity) & (disparity > 0)
    return float(spearmanr(near[known], disparity[known]).statistic)


def vertical_lines(grey: np.ndarray) -> list[tuple[float, float, float, float]]:
    found = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD).detect(grey)[0]
    lines = []
    for x0, y0, x1, y1 in (found.reshape(-1, 4) if found is not None else ()):
        length = float(np.hypot(x1 - x0, y1 - y0))
        if length >= 0.15 * grey.shape[0] and abs(x1 - x0) / length < np.sin(np.radians(10)):
            lines.append((x0, y0, x1, y1))
    return lines


def lean(near: np.ndarray, pixels: np.ndarray) -> tuple[int, float, float]:
    """(lines found, mean relative std along them, mean bend in px) for one photo."""
    h, w = near.shape
    small = cv2.resize(pixels, (w, h), interpolation=cv2.INTER_AREA)
    grey = (cv2.cvtColor(small, cv2.COLOR_RGB2GRAY) * 255).astype(np.uint8)
    spread = float(near.std()) + 1e-6
    rel, bend = [], []
    for x0, y0, x1, y1 in vertical_lines(grey):
        t = np.linspace(0.0, 1.0, int(np.hypot(x1 - x0, y1 - y0)), dtype=np.float32)
        xs, ys = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        sides = []
        for offset in (-3, 3):
            along = cv2.remap(near, (xs + offset)[None], ys[None], cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)[0]
            sides.append((float(along.std()), float(np.percentile(along, 95) - np.percentile(along, 5))))
        std, span = min(sides)
        rel.append(std / spread)
        bend.append(span * PAN_SLIDE)
    if not rel:
        return 0, 0.0, 0.0
    return len(rel), float(np.mean(rel)), float(np.mean(bend))


def measure(estimate: Callable[[np.ndarray], np.ndarray], photos: dict[str, np.ndarray]) -> dict:
    per_photo = {name: lean(estimate(pixels), pixels) for name, pixels in photos.items()}
    with_lines = [v for v in per_photo.values() if v[0]]
    return {"spearman": spearman(estimate), "lean": float(np.mean([v[1] for v in with_lines])),
            "bend": float(np.mean([v[2] for v in with_lines])), "photos": per_photo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="per-photo lean and bend")
    args = parser.parse_args()
    from stillmotion.engines import depth

    photos = {name: img for name in LEAN_PHOTOS if (img := load(name)) is not None}
    structure, smoothing = depth.vertical_structure, depth.smooth_along_verticals
    variants = {"without vertical smoothing (revision 3)": (lambda grey: None, lambda values, carry: values),
                "current": (structure, smoothing)}
    timed = photos.get("IMG_1252.jpg", photos["skimage:motorcycle"])
    results: dict[str, dict] = {}
    times: dict[str, list[float]] = {label: [] for label in variants}
    try:
        for label, patch in variants.items():
            depth.vertical_structure, depth.smooth_along_verticals = patch
            results[label] = measure(depth.estimate, photos)
        for _ in range(15):   # interleaved: the machine's load changes under a long run
            for label, patch in variants.items():
                depth.vertical_structure, depth.smooth_along_verticals = patch
                start = time.perf_counter()
                depth.estimate(timed)
                times[label].append(time.perf_counter() - start)
    finally:
        depth.vertical_structure, depth.smooth_along_verticals = structure, smoothing
    for label in variants:
        results[label]["ms"] = min(times[label]) * 1000
    print(f"{len(photos)} photos: {', '.join(photos)}")
    for label, r in results.items():
        print(f"{label:40s} spearman {r['spearman']:.3f}  lean {r['lean']:.3f}  bend {r['bend']:5.1f} px  "
              f"estimate {r['ms']:.1f} ms")
        if args.verbose:
            for name, (n, rel, bend) in r["photos"].items():
                print(f"    {name:22s} lines {n:3d}  lean {rel:.3f}  bend {bend:5.1f} px")
    base, now = results[next(iter(variants))], results["current"]
    print(f"current vs revision 3 (baseline, same run): spearman {now['spearman'] - base['spearman']:+.3f}  "
          f"lean {now['lean'] / base['lean']:.2f}x  bend {now['bend'] / base['bend']:.2f}x  "
          f"estimate time {now['ms'] / base['ms']:.2f}x")


if __name__ == "__main__":
    main()
