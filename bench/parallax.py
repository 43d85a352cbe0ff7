"""Benchmark: the main job on the CPU against the encoder's own floor.

A 4 s, 24 fps, 1920x1080 parallax clip from a real photo (the Golden Gate photo
from the shared fixtures, or scikit-image's astronaut, upscaled to 3200x1800 (16:9) so a
1080p clip needs no upscaling). Measured in separate processes, same run:

- job:   `run_job` wall time and its peak RSS,
- floor: encoding the same 96 frames, already rendered and in memory, with the
         same encoder settings (what this machine cannot go below).

Prints both, the ratio job/floor (target <= 1.5) and the peak RSS (target <= 1.5 GB).
Usage: python3 bench/parallax.py [--seconds 4] [--fps 24]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO.parent / "shared" / "fixtures" / "photos" / "IMG_1252.jpg"


def make_photo(folder: Path) -> Path:
    from PIL import Image

    if FIXTURE.is_file():
        image = Image.open(FIXTURE).convert("RGB")
    else:
        from skimage import data

        image = Image.fromarray(data.astronaut())
    path = folder / "bench_photo.jpg"
    image.resize((3200, 1800), Image.LANCZOS).save(path, quality=95)
    return path


def request(seconds: float, fps: int):
    from stillmotion.request import AnimateRequest

    return AnimateRequest.from_dict({"duration": seconds, "fps": fps, "camera": "push-in", "motion": 0.6,
                                     "seed": 1, "engine": "parallax", "profile": "environmental"})


def run_job(photo: Path, seconds: float, fps: int) -> dict:
    from stillmotion import config
    from stillmotion.jobs.pipeline import JobSpec, run_job as pipeline_run

    cfg = config.load(environ={})
    with tempfile.TemporaryDirectory() as out:   # the clip is not kept
        start = time.perf_counter()
        result = pipeline_run(JobSpec(photo_path=photo, request=request(seconds, fps), out_dir=Path(out)), cfg)
        wall = time.perf_counter() - start
    return {"wall_s": wall, "outputs": [p.name for p in result.outputs],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_floor(photo: Path, seconds: float, fps: int) -> dict:
    """Render the same frames into memory first, then time only the encoder."""
    from stillmotion import config, photo as photo_mod
    from stillmotion.engines.parallax import ParallaxEngine
    from stillmotion.jobs.pipeline import delivery_size
    from stillmotion.progress import CancelToken
    from stillmotion.video.encode import EncodeSettings, encode

    cfg = config.load(environ={})
    req = request(seconds, fps).resolve("environmental", cfg["animate"])
    loaded = photo_mod.load(photo)
    width, height = delivery_size(loaded.width, loaded.height, req, cfg["output"])
    clip = ParallaxEngine().generate(loaded.pixels, req, seed=1, progress=lambda f: None, cancel=CancelToken(),
                                     context={"target_size": (width, height)})
    frames = list(clip.frames)
    settings = EncodeSettings.from_config("mp4", "h264", cfg["output"])
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        encode(iter(frames), Path(out) / "floor.mp4", width=width, height=height, fps=clip.fps, settings=settings)
        wall = time.perf_counter() - start
    return {"wall_s": wall, "frames": len(frames), "size": [width, height]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--child", choices=["job", "floor"])
    parser.add_argument("--photo", type=Path)
    args = parser.parse_args()
    if args.child:
        fn = run_job if args.child == "job" else run_floor
        print(json.dumps(fn(args.photo, args.seconds, args.fps)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        photo = make_photo(Path(tmp))
        results = {}
        for child in ("floor", "job"):
            proc = subprocess.run([sys.executable, __file__, "--child", child, "--photo", str(photo),
                                   "--seconds", str(args.seconds), "--fps", str(args.fps)],
                                  capture_output=True, text=True, check=True, env=os.environ.copy())
            results[child] = json.loads(proc.stdout.strip().splitlines()[-1])
    job, floor = results["job"], results["floor"]
    ratio = job["wall_s"] / floor["wall_s"]
    print(f"clip: {floor['frames']} frames at {floor['size'][0]}x{floor['size'][1]}, {args.fps} fps")
    print(f"encode floor (ready-made frames): {floor['wall_s']:.2f} s")
    print(f"parallax job (decode..place):     {job['wall_s']:.2f} s")
    print(f"ratio job/floor: {ratio:.2f}  (target <= 1.5)  {'OK' if ratio <= 1.5 else 'OVER'}")
    print(f"job peak RSS: {job['peak_rss_mb']:.0f} MB  (target <= 1536 MB)  "
          f"{'OK' if job['peak_rss_mb'] <= 1536 else 'OVER'}")


if __name__ == "__main__":
    main()
