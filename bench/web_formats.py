"""Benchmark: animated WebP and GIF through Stillmotion's writers (frame by frame: WebP by
libwebp_anim, GIF by Pillow's frame encoder) against Pillow's `save_all` writers, which hold
every frame until the end (as Stillmotion wrote both before).

Each method runs in a process of its own (peak memory is per process), on the same clip: a
real photo (scikit-image's coffee) panned across a 960x640 window, `--seconds` at 24 fps.
Prints time, peak RSS and file size for each, and the ratios.

    python bench/web_formats.py [--seconds 10] [--formats webp,gif]
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

import numpy as np

WIDTH, HEIGHT, FPS = 960, 640, 24


def _frames(n: int):
    from PIL import Image
    from skimage import data

    photo = np.asarray(Image.fromarray(data.coffee()).resize((WIDTH + 240, HEIGHT + 160)), dtype=np.float32) / 255
    for i in range(n):   # a slow diagonal pan
        y, x = (i * 2) % 160, (i * 3) % 240
        yield np.ascontiguousarray(photo[y:y + HEIGHT, x:x + WIDTH])


def _run(method: str, fmt: str, n: int, out: Path) -> dict:
    start = time.perf_counter()
    if method == "pillow":
        from PIL import Image

        rgb = (Image.fromarray((f * 255 + 0.5).astype(np.uint8)) for f in _frames(n))
        if fmt == "gif":   # as Stillmotion did: one palette from the first frame, each frame kept quantized
            images, palette = [], None
            for image in rgb:
                palette = palette or image.quantize(colors=255, method=Image.Quantize.MEDIANCUT)
                images.append(image.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG))
            images[0].save(out, format="GIF", save_all=True, append_images=images[1:],
                           duration=round(1000 / FPS), loop=0, optimize=False, disposal=1)
        else:
            images = list(rgb)
            images[0].save(out, format="WEBP", save_all=True, append_images=images[1:],
                           duration=round(1000 / FPS), loop=0, quality=90, method=4)
    else:
        from stillmotion.video.encode import EncodeSettings, encode

        encode(_frames(n), out, width=WIDTH, height=HEIGHT, fps=FPS, settings=EncodeSettings(fmt=fmt))
    return {"seconds": time.perf_counter() - start, "size_kb": out.stat().st_size / 1024,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--formats", default="webp,gif")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n = max(2, round(args.seconds * FPS))
    if args.child:
        method, fmt = args.child
        with tempfile.TemporaryDirectory() as folder:
            print(json.dumps(_run(method, fmt, n, Path(folder) / f"clip.{fmt}")))
        return 0
    print(f"{n} frames of {WIDTH}x{HEIGHT} ({args.seconds:g} s at {FPS} fps)")
    for fmt in args.formats.split(","):
        rows = {}
        for method in ("pillow", "stillmotion"):
            done = subprocess.run([sys.executable, __file__, "--seconds", str(args.seconds), "--child", method, fmt],
                                  capture_output=True, text=True, check=True, env=os.environ)
            rows[method] = json.loads(done.stdout.strip().splitlines()[-1])
        for method, r in rows.items():
            print(f"  {fmt:4} {method:12} {r['seconds']:6.1f} s  peak {r['peak_mb']:6.0f} MB  {r['size_kb']:8.0f} KB")
        ours, base = rows["stillmotion"], rows["pillow"]
        # One direction for every ratio, so a figure under 1 cannot read as its opposite ("0.9x less memory").
        print(f"  {fmt}: stillmotion / Pillow's save_all (baseline): time {ours['seconds'] / base['seconds']:.2f}x, "
              f"peak memory {ours['peak_mb'] / base['peak_mb']:.2f}x, size {ours['size_kb'] / base['size_kb']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
