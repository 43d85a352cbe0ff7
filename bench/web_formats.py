"""Benchmark: animated WebP and GIF through Stillmotion's writers (frame by frame: WebP by
FFmpeg's libwebp, every frame whole; GIF by Pillow's frame encoder) against Pillow's `save_all`
writers, which hold every frame until the end (as Stillmotion wrote both before).

Each method runs in a process of its own (peak memory is per process), on the same clip: a
real photo (scikit-image's coffee) panned across a 960x640 window, `--seconds` at 24 fps, by
whole pixels or (`--subpixel`) slowly by fractions of one, as a portrait's parallax moves.
Prints time, peak RSS, file size and, for WebP, each frame's error against the clip (mean
absolute difference in 8-bit levels: the mean over the frames and the worst frame), and the
ratios. A writer that sends a frame as its changes from the one before (libwebp's animation
encoder: FFmpeg's libwebp_anim, which Stillmotion used, or Pillow's save_all with a full frame
every 3-5) drifts in a sub-pixel move: its worst frame is further off than its first.

    python bench/web_formats.py [--seconds 10] [--formats webp,gif] [--subpixel | --subject]

For GIF it also prints, through the same clip, the share of the pixels whose colour did not
change that the GIF shows in another colour (a still area shimmering) and the error seen through
a blur (sigma 3 px, as the eye sees dither: RMS over the frames and the worst pixel). `--subject`
keeps the photo still and moves a part of it 1 px a frame (a still background).

Measured (10 s, 2 shared cores; WebP at quality 90, error as mean / worst frame, levels):

                      whole-pixel pan                     sub-pixel pan
  Pillow save_all     21.0 s  896 MB  17.5 MB  1.66/1.73  16.1 s  875 MB  11.5 MB  1.76/2.06
  libwebp_anim (was)  14.8 s  208 MB  17.6 MB  1.67/1.73  10.6 s  207 MB  10.2 MB  4.24/7.03
  Stillmotion         12.8 s  182 MB  17.5 MB  1.65/1.71  14.7 s  186 MB  17.5 MB  1.63/1.71

In a whole-pixel pan every pixel changes, so the animation encoders send whole frames too
(the same error and size); in a slow sub-pixel move they send changes, smaller, and drift.

GIF, 2 s (48 frames), the same machine; still pixels flipped, seen error RMS / worst (levels).
"Pillow" is Floyd-Steinberg afresh each frame (as Stillmotion did, but with median cut's
palette, hence its worst); Stillmotion keeps a still pixel's index and writes changes:

                      whole-pixel pan                  sub-pixel pan                    --subject
  Pillow save_all      1.4 s  18.6 MB  37 %  1.05/37   1.4 s  18.6 MB  31 %  1.06/38   1.3 s  8.3 MB  4.6 %  1.06/38
  Stillmotion         12.7 s  16.7 MB   0 %  0.82/8.3  8.6 s   9.5 MB   0 %  0.72/8.4  4.9 s  1.7 MB  0 %    0.32/6.4
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


def _frames(n: int, subpixel: bool = False, subject: bool = False):
    import cv2
    from PIL import Image
    from skimage import data

    photo = np.asarray(Image.fromarray(data.coffee()).resize((WIDTH + 240, HEIGHT + 160)), dtype=np.float32) / 255
    for i in range(n):
        if subject:      # the photo still, a part of it moving right 1 px a frame
            frame = np.ascontiguousarray(photo[80:80 + HEIGHT, 120:120 + WIDTH])
            frame[200:440, 300 + i % 200:600 + i % 200] = photo[280:520, 420:720]
            yield frame
        elif subpixel:     # out and back over 6 px a second: 0.25 px a frame at most
            x = 0.5 * 6 * n / FPS / np.pi * (1 - np.cos(2 * np.pi * i / n))
            move = np.float32([[1, 0, -x], [0, 1, -x * 2 / 3]])
            yield cv2.warpAffine(photo, move, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
        else:            # a diagonal pan by whole pixels
            y, x = (i * 2) % 160, (i * 3) % 240
            yield np.ascontiguousarray(photo[y:y + HEIGHT, x:x + WIDTH])


def _webp_error(path: Path, n: int, subpixel: bool) -> tuple[float, float]:
    """Each shown frame's mean absolute difference from the clip's (8-bit levels): mean, worst.
    A frame the encoder merged into the one before (a longer duration) counts at each time."""
    from PIL import Image

    shown, ends, end = [], [], 0
    with Image.open(path) as image:
        for index in range(image.n_frames):
            image.seek(index)
            shown.append(np.asarray(image.convert("RGB"), np.float32))
            end += image.info["duration"]
            ends.append(end)
    errors = [float(np.mean(np.abs(shown[min(sum(e <= k * 1000 / FPS + 1 for e in ends), len(shown) - 1)]
                                   - frame * 255)))
              for k, frame in enumerate(_frames(n, subpixel))]
    return float(np.mean(errors)), max(errors)


def _gif_stability(path: Path, n: int, subpixel: bool, subject: bool) -> tuple[float, float, float]:
    """Percent of the pixels whose 8-bit colour is the same as in the frame before that the GIF
    shows in another colour; the error seen through a blur: RMS (mean over frames), worst."""
    import cv2
    from PIL import Image

    flips, rms, worst = [], [], 0.0
    with Image.open(path) as image:
        last = last_shown = None
        for index, frame in enumerate(_frames(n, subpixel, subject)):
            image.seek(index)
            shown = np.asarray(image.convert("RGB"), np.float32)
            pixels = (frame * 255 + 0.5).astype(np.uint8)
            seen = cv2.GaussianBlur(shown - pixels, (0, 0), 3)[8:-8, 8:-8]
            rms.append(float(np.sqrt(np.mean(seen ** 2))))
            worst = max(worst, float(np.abs(seen).max()))
            if last is not None:
                still = (pixels == last).all(axis=2)
                flips.append(float(((shown != last_shown).any(axis=2) & still).sum() / max(1, still.sum())))
            last, last_shown = pixels, shown
    return 100 * float(np.mean(flips)), float(np.mean(rms)), worst


def _run(method: str, fmt: str, n: int, out: Path, subpixel: bool, subject: bool = False) -> dict:
    start = time.perf_counter()
    if method == "pillow":
        from PIL import Image

        rgb = (Image.fromarray((f * 255 + 0.5).astype(np.uint8)) for f in _frames(n, subpixel, subject))
        if fmt == "gif":   # as Stillmotion did: one palette from the first frame, each frame kept quantized
            images, palette = [], None
            for image in rgb:
                palette = palette or image.quantize(colors=255, method=Image.Quantize.MEDIANCUT)
                images.append(image.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG))
            images[0].save(out, format="GIF", save_all=True, append_images=images[1:],
                           duration=round(1000 / FPS), loop=0, optimize=False, disposal=1)
        else:
            images = list(rgb)
            ends = [round(k * 1000 / FPS) for k in range(1, n + 1)]   # the times Stillmotion's frames have
            images[0].save(out, format="WEBP", save_all=True, append_images=images[1:],
                           duration=[b - a for a, b in zip([0] + ends, ends)], loop=0, quality=90, method=4)
    else:
        from stillmotion.video.encode import EncodeSettings, encode

        encode(_frames(n, subpixel, subject), out, width=WIDTH, height=HEIGHT, fps=FPS, settings=EncodeSettings(fmt=fmt))
    done = {"seconds": time.perf_counter() - start, "size_kb": out.stat().st_size / 1024,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if fmt == "webp":
        done["error"] = _webp_error(out, n, subpixel)
    else:
        done["stability"] = _gif_stability(out, n, subpixel, subject)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--formats", default="webp,gif")
    parser.add_argument("--subpixel", action="store_true", help="a slow move by fractions of a pixel")
    parser.add_argument("--subject", action="store_true", help="the photo still, a part of it moving")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n = max(2, round(args.seconds * FPS))
    if args.child:
        method, fmt = args.child
        with tempfile.TemporaryDirectory() as folder:
            print(json.dumps(_run(method, fmt, n, Path(folder) / f"clip.{fmt}", args.subpixel, args.subject)))
        return 0
    print(f"{n} frames of {WIDTH}x{HEIGHT} ({args.seconds:g} s at {FPS} fps), "
          f"{'a still photo, a part moving' if args.subject else 'a sub-pixel pan' if args.subpixel else 'a whole-pixel pan'}")
    for fmt in args.formats.split(","):
        rows = {}
        for method in ("pillow", "stillmotion"):
            child = [sys.executable, __file__, "--seconds", str(args.seconds), "--child", method, fmt]
            done = subprocess.run(child + ["--subpixel"] * args.subpixel + ["--subject"] * args.subject,
                                  capture_output=True, text=True, check=True, env=os.environ)
            rows[method] = json.loads(done.stdout.strip().splitlines()[-1])
        for method, r in rows.items():
            error = ("  error mean {:.2f} worst {:.2f} levels".format(*r["error"]) if "error" in r else
                     "  still pixels flipped {:.1f} %  seen error rms {:.2f} worst {:.1f} levels".format(*r["stability"]))
            print(f"  {fmt:4} {method:12} {r['seconds']:6.1f} s  peak {r['peak_mb']:6.0f} MB  {r['size_kb']:8.0f} KB{error}")
        ours, base = rows["stillmotion"], rows["pillow"]
        # One direction for every ratio, so a figure under 1 cannot read as its opposite ("0.9x less memory").
        print(f"  {fmt}: stillmotion / Pillow's save_all (baseline): time {ours['seconds'] / base['seconds']:.2f}x, "
              f"peak memory {ours['peak_mb'] / base['peak_mb']:.2f}x, size {ours['size_kb'] / base['size_kb']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
