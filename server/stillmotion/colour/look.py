"""The photo's look re-applied to the clip: Lightroom film grain and post-crop vignette.

A graded export carries its grain and vignette baked into the pixels. Animated
as they are, both move with the content: frozen grain slides over the image
like dirt on the lens, and the vignette drifts off the frame edges. So the job
takes them out of the photo before generation (`remove_look`) and puts them
back on every delivered frame (`apply_look`): the vignette locked to the frame,
the grain synthesised afresh for each frame from a seed (reproducible).

Slider semantics follow Lightroom's Effects panel (XMP crs: names in brackets):
- Grain Amount [GrainAmount] 0..100: strength; Size [GrainSize] 0..100
  (default 25): particle size, relative to the picture (grain looks the same
  at any delivery size); Roughness [GrainFrequency] 0..100 (default 50):
  0 is an even, fine grain, higher mixes in coarser, clumpier grain.
  Grain is monochrome and strongest in the midtones, as film's is.
- Post-Crop Vignetting Amount [PostCropVignetteAmount] -100..100 (negative
  darkens), Midpoint (where it starts, 0 = near the centre), Roundness
  (-100 rectangular .. 0 the frame's own proportions .. 100 a circle), Feather
  (0 a hard edge .. 100 very soft), Highlights [..HighlightContrast] (bright
  areas keep their light under a darkening vignette) and Style [..Style]:
  1 Highlight Priority, 2 Color Priority (both work as exposure in linear
  light, so hues stay), 3 Paint Overlay (a blend toward black or white).
This is a model of Lightroom's rendering, not a copy of it; applying it and
removing it are exact inverses, so the anchor frame still equals the photo.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any, Iterable, Iterator, Mapping

import cv2
import numpy as np


GRAIN_VIEW_EDGE = 2000.0   # grain size is defined for a picture seen ~2000 px wide
MAX_GRAIN_STD = 0.10       # sRGB std of Amount 100 grain in the midtones
GRAIN_WORK_SIGMA = 2.0     # px: the grain blur's reach; a longer one runs on a scaled-down copy
MAX_VIGNETTE_STOPS = 2.5   # darkening at full mask for Amount -100 (styles 1 and 2)

_CRS_NAMES = {
    "GrainAmount": "grain_amount", "GrainSize": "grain_size", "GrainFrequency": "grain_frequency",
    "PostCropVignetteAmount": "vignette_amount", "PostCropVignetteMidpoint": "vignette_midpoint",
    "PostCropVignetteRoundness": "vignette_roundness", "PostCropVignetteFeather": "vignette_feather",
    "PostCropVignetteHighlightContrast": "vignette_highlights", "PostCropVignetteStyle": "vignette_style",
}


@dataclass(frozen=True)
class LookSettings:
    grain_amount: float = 0.0
    grain_size: float = 25.0
    grain_frequency: float = 50.0     # Lightroom's "Roughness"
    vignette_amount: float = 0.0
    vignette_midpoint: float = 50.0
    vignette_roundness: float = 0.0
    vignette_feather: float = 50.0
    vignette_highlights: float = 0.0
    vignette_style: int = 1

    @property
    def has_grain(self) -> bool:
        return self.grain_amount > 0

    @property
    def has_vignette(self) -> bool:
        return self.vignette_amount != 0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "LookSettings":
        """From field names or Lightroom crs: names (with or without the prefix); unset keys keep defaults."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            name = _CRS_NAMES.get(str(key).removeprefix("crs:"), key)
            if name in known and value is not None:
                values[name] = value
        return cls._checked(values)

    @classmethod
    def from_develop(cls, develop: Any) -> "LookSettings":
        """From metadata's DevelopSettings (develop.grain.amount, develop.vignette.midpoint, ...).

        Also accepts flat attributes (grain_amount, ...) and a mapping. Missing
        or None values keep Lightroom's defaults.
        """
        if develop is None:
            return cls()
        if isinstance(develop, Mapping):
            return cls.from_mapping(develop)
        grain, vignette = getattr(develop, "grain", None), getattr(develop, "vignette", None)
        nested = {
            "grain_amount": getattr(grain, "amount", None), "grain_size": getattr(grain, "size", None),
            "grain_frequency": getattr(grain, "frequency", None),
            "vignette_amount": getattr(vignette, "amount", None),
            "vignette_midpoint": getattr(vignette, "midpoint", None),
            "vignette_roundness": getattr(vignette, "roundness", None),
            "vignette_feather": getattr(vignette, "feather", None),
            "vignette_highlights": getattr(vignette, "highlight_contrast", None),
            "vignette_style": getattr(vignette, "style", None),
        }
        values = {name: nested[name] if nested[name] is not None else getattr(develop, name, None)
                  for name in nested}
        return cls._checked({k: v for k, v in values.items() if v is not None})

    @classmethod
    def _checked(cls, values: dict[str, Any]) -> "LookSettings":
        ranges = {"grain_amount": (0, 100), "grain_size": (0, 100), "grain_frequency": (0, 100),
                  "vignette_amount": (-100, 100), "vignette_midpoint": (0, 100),
                  "vignette_roundness": (-100, 100), "vignette_feather": (0, 100),
                  "vignette_highlights": (0, 100)}
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name == "vignette_style":
                out[name] = int(value) if int(value) in (1, 2, 3) else 1
                continue
            lo, hi = ranges[name]
            out[name] = float(min(hi, max(lo, float(value))))   # Lightroom's own slider ranges
        return cls(**out)


# ---------------------------------------------------------------- vignette
# Masks are kept for frame sizes (every frame of a clip uses one); a photo-sized one (taking the
# vignette out, once a job) is not: at 100 MP it is 400 MB, and the render process lives on.
MASK_CACHE_PIXELS = 4096 * 2304


def vignette_mask(width: int, height: int, midpoint: float, roundness: float, feather: float) -> np.ndarray:
    """(h, w) float32 in [0, 1]: how much of the vignette each pixel gets (0 in the centre);
    read-only when it comes from the cache."""
    if width * height > MASK_CACHE_PIXELS:
        return _vignette_mask(width, height, midpoint, roundness, feather)
    return _cached_vignette_mask(width, height, midpoint, roundness, feather)


def _vignette_mask(width: int, height: int, midpoint: float, roundness: float, feather: float) -> np.ndarray:
    x = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / (width / 2)
    y = (np.arange(height, dtype=np.float32) + 0.5 - height / 2) / (height / 2)
    xx, yy = np.meshgrid(x, y)
    if roundness >= 0:
        # Blend the frame-shaped ellipse toward a circle (radius: half the short side).
        t = roundness / 100.0
        short = min(width, height)
        xx = xx * (1 - t) + xx * (width / short) * t
        yy = yy * (1 - t) + yy * (height / short) * t
        power = 2.0
    else:
        power = 2.0 + 6.0 * (-roundness / 100.0)       # a superellipse: toward a rounded rectangle
    r = (np.abs(xx) ** power + np.abs(yy) ** power) ** (1.0 / power)
    centre = 0.35 + 0.95 * midpoint / 100.0
    half = 0.5 * (0.02 + 0.9 * feather / 100.0)
    u = np.clip((r - (centre - half)) / (2 * half), 0.0, 1.0)
    return (u * u * (3.0 - 2.0 * u)).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _cached_vignette_mask(*args: float) -> np.ndarray:
    mask = _vignette_mask(*args)   # type: ignore[arg-type]
    mask.setflags(write=False)     # (shared by every caller)
    return mask


_LUMA = np.array([[0.2126, 0.7152, 0.0722]], np.float32)
_OFFSET = (0.055, 0.055, 0.055, 0.0)    # the sRGB curve's offset, as an OpenCV per-channel scalar


def _luma(frame: np.ndarray) -> np.ndarray:
    """Rec. 709 luma of an (h, w, 3) float32 frame, (h, w). (One OpenCV pass: numpy's arithmetic
    on the interleaved channels made five, and cost as much as the rest of the grain.)"""
    return cv2.transform(np.asarray(frame, dtype=np.float32), _LUMA)


def _three(plane: np.ndarray) -> np.ndarray:
    """An (h, w) map as (h, w, 3) float32: OpenCV's arithmetic takes no (h, w, 1) broadcast,
    and numpy's over a trailing length-3 axis is 2-4x slower than OpenCV on the same data."""
    return cv2.merge([np.asarray(plane, dtype=np.float32)] * 3)


class Vignette:
    """The post-crop vignette for one frame size: out = x * K + B per pixel, clipped.

    A darkening vignette in styles 1 and 2 is exposure: scaling (x + 0.055) by
    g^(1/2.4) is exactly a gain g in linear light on the sRGB curve's power
    segment, so hues stay; Highlights makes the gain depend on the pixel's own
    brightness. Paint overlay (3), and any lightening vignette, blend toward
    black or white. The per-pixel maps are computed once per frame size.
    """

    def __init__(self, width: int, height: int, look: LookSettings) -> None:
        self.look = look
        self.mask = vignette_mask(width, height, look.vignette_midpoint, look.vignette_roundness,
                                  look.vignette_feather)
        a = look.vignette_amount / 100.0
        self.exposure = a < 0 and look.vignette_style != 3
        self.per_pixel = self.exposure and look.vignette_highlights > 0
        if self.exposure:
            self.stops = MAX_VIGNETTE_STOPS * a * self.mask
            self.k = np.exp2(self.stops / 2.4).astype(np.float32)[..., None]
            self.k3 = None if self.per_pixel else _three(self.k[..., 0])
        else:
            self.w = np.minimum((abs(a) if look.vignette_style == 3 else 0.6 * a) * self.mask, 0.95)[..., None]
            self.target = np.float32(1.0 if a > 0 else 0.0)
            self.keep3, self.add3 = _three((1.0 - self.w)[..., 0]), _three((self.w * self.target)[..., 0])

    def _gain(self, frame: np.ndarray) -> np.ndarray:
        if not self.per_pixel:
            return self.k
        bright = np.clip((_luma(frame) - 0.5) / 0.5, 0.0, 1.0)
        spare = 1.0 - (self.look.vignette_highlights / 100.0) * bright * bright
        return np.exp2(self.stops * spare / 2.4).astype(np.float32)[..., None]

    def apply(self, frame: np.ndarray) -> np.ndarray:
        frame = np.asarray(frame, dtype=np.float32)
        if self.exposure and self.per_pixel:
            out = (frame + np.float32(0.055)) * self._gain(frame) - np.float32(0.055)
        elif self.exposure:   # (the same arithmetic as above, on three-channel maps: 2-4x faster)
            out = cv2.add(frame, _OFFSET)
            cv2.multiply(out, self.k3, dst=out)
            cv2.subtract(out, _OFFSET, dst=out)
        else:
            out = cv2.add(cv2.multiply(frame, self.keep3), self.add3)
        return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)

    def remove(self, frame: np.ndarray) -> np.ndarray:
        """The inverse of `apply` (what the picture looked like before it)."""
        if not self.exposure:
            return np.clip((frame - self.w * self.target) / (1.0 - self.w), 0.0, 1.0).astype(np.float32, copy=False)
        # With Highlights the gain depends on the original's brightness: settle it by iterating.
        original = frame
        for _ in range(8 if self.per_pixel else 1):
            original = np.clip((frame + np.float32(0.055)) / self._gain(original) - np.float32(0.055), 0.0, 1.0)
        return original.astype(np.float32, copy=False)   # (a float32 frame's result is float32 already)


def apply_vignette(frame: np.ndarray, look: LookSettings) -> np.ndarray:
    return Vignette(frame.shape[1], frame.shape[0], look).apply(frame)


def remove_vignette(frame: np.ndarray, look: LookSettings) -> np.ndarray:
    return Vignette(frame.shape[1], frame.shape[0], look).remove(frame)


# ---------------------------------------------------------------- grain
def grain_sigma(look: LookSettings, width: int, height: int) -> float:
    """Grain particle size in pixels of a width x height picture."""
    return max(0.5, (0.6 + 2.4 * look.grain_size / 100.0) * max(width, height) / GRAIN_VIEW_EDGE)


def _unit_blur(noise: np.ndarray, sigma: float) -> np.ndarray:
    """White noise blurred by `sigma`, rescaled to unit standard deviation."""
    if sigma < 0.3:
        return noise
    size = int(round(sigma * 8 + 1)) | 1
    kernel = cv2.getGaussianKernel(size, sigma, cv2.CV_64F)
    blurred = cv2.GaussianBlur(noise, (size, size), sigma)
    return blurred / np.float32(np.sum(kernel ** 2))   # the blurred noise's std is sum(k^2) (separable)


def grain_field(width: int, height: int, look: LookSettings, rng: np.random.Generator) -> np.ndarray:
    """(h, w) float32 grain pattern: zero mean, unit standard deviation."""
    sigma = grain_sigma(look, width, height)
    rough = look.grain_frequency / 100.0
    white = rng.standard_normal((height, width), dtype=np.float32)
    # Roughness: coarser grain mixed in, and its amplitude clumps from place to place.
    mix = 0.6 * rough
    field = np.sqrt(1.0 - mix) * _unit_blur(white, sigma) + np.sqrt(mix) * _unit_blur(white, 2.5 * sigma)
    if rough > 0:
        clumps = _unit_blur(rng.standard_normal((height, width), dtype=np.float32), 6.0 * sigma)
        field *= np.clip(1.0 + 0.5 * rough * clumps, 0.2, 2.0)
    field -= field.mean()
    field /= max(float(field.std()), 1e-6)
    return field.astype(np.float32)


class GrainPlate:
    """A grain texture twice the frame's size; every frame shows a different random part of it.

    Synthesising grain is the costly part, so it is done once per clip; each
    frame then takes its own seeded random window (as film grain plates are
    used), so no two frames share a grain pattern in place.
    """

    def __init__(self, width: int, height: int, look: LookSettings, seed: int) -> None:
        self.width, self.height, self.seed = width, height, int(seed) & 0xFFFFFFFF
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x6772]))
        self.texture = grain_field(2 * width, 2 * height, look, rng)

    def window(self, index: int) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, index + 1]))
        y, x = int(rng.integers(0, self.height + 1)), int(rng.integers(0, self.width + 1))
        return self.texture[y:y + self.height, x:x + self.width]


def add_grain(frame: np.ndarray, look: LookSettings, grain: np.ndarray) -> np.ndarray:
    """`frame` plus monochrome `grain` (unit std), strongest in the midtones."""
    frame = np.asarray(frame, dtype=np.float32)
    luma = _luma(frame)
    strength = cv2.multiply(luma, 1.0 - luma)
    np.maximum(strength, np.float32(0.0375), out=strength)
    strength = cv2.multiply(strength, np.asarray(grain, dtype=np.float32),
                            scale=float(np.float32(4.0 * MAX_GRAIN_STD * look.grain_amount / 100.0)))
    out = cv2.add(frame, _three(strength))
    return np.clip(out, 0.0, 1.0, out=out)


def remove_grain(pixels: np.ndarray, look: LookSettings) -> np.ndarray:
    """Suppress the photo's baked grain (an edge-preserving blur at the grain's scale).

    The blur's cost per pixel grows with the square of its reach, and the grain's size is
    relative to the picture: at full size a 45 MP photo took 26-37 s of CPU. Where the reach is
    over GRAIN_WORK_SIGMA px, the grain is found on a copy scaled down to that reach (~2200 px
    wide at Size 25, whatever the photo's size; the grain, smooth at the photo's own pixel
    scale, is all in it) and taken out of the full-size pixels, whose finer detail stays.
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    h, w = pixels.shape[:2]
    sigma_space = 1.5 * grain_sigma(look, w, h)
    sigma_colour = float(3.0 * MAX_GRAIN_STD * look.grain_amount / 100.0)
    scale = GRAIN_WORK_SIGMA / sigma_space
    if scale >= 1.0:
        return cv2.bilateralFilter(pixels, d=-1, sigmaColor=sigma_colour, sigmaSpace=float(sigma_space))
    small_w, small_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(pixels, (small_w, small_h), interpolation=cv2.INTER_AREA)
    grain = small - cv2.bilateralFilter(small, d=-1, sigmaColor=sigma_colour,
                                        sigmaSpace=float(sigma_space * small_w / w))
    out = cv2.resize(grain, (w, h), interpolation=cv2.INTER_CUBIC)
    np.subtract(pixels, out, out=out)
    return np.clip(out, 0.0, 1.0, out=out)


# ---------------------------------------------------------------- the surface
def _switches(config: Mapping[str, Any] | None) -> tuple[bool, bool]:
    table = (config or {}).get("look", config or {})
    return bool(table.get("grain", True)), bool(table.get("vignette", True))


def _as_look(look: LookSettings | Mapping[str, Any] | Any) -> LookSettings:
    return look if isinstance(look, LookSettings) else LookSettings.from_develop(look)


def apply_look(frames: Iterable[np.ndarray], look: LookSettings | Mapping[str, Any], *, seed: int,
               config: Mapping[str, Any] | None = None) -> Iterator[np.ndarray]:
    """Each frame with the vignette (locked to the frame) and fresh grain (seed, frame index).

    `config`: the whole config or its [look] table (grain / vignette switches).
    Without grain or vignette, frames pass through untouched.
    """
    look = _as_look(look)
    grain_on, vignette_on = _switches(config)
    grain_on, vignette_on = grain_on and look.has_grain, vignette_on and look.has_vignette
    plate: GrainPlate | None = None
    vignette: Vignette | None = None
    for index, frame in enumerate(frames):
        size = (frame.shape[1], frame.shape[0])
        if vignette_on:
            if vignette is None or vignette.mask.shape != frame.shape[:2]:
                vignette = Vignette(*size, look)
            frame = vignette.apply(frame)
        if grain_on:
            if plate is None or (plate.width, plate.height) != size:
                plate = GrainPlate(*size, look, seed)
            frame = add_grain(frame, look, plate.window(index))
        yield frame


def remove_look(pixels: np.ndarray, look: LookSettings | Mapping[str, Any],
                config: Mapping[str, Any] | None = None) -> np.ndarray:
    """The photo without the grain and vignette that `apply_look` will put back on every frame."""
    look = _as_look(look)
    grain_on, vignette_on = _switches(config)
    # Undo in the reverse order of apply_look: grain went on last.
    if grain_on and look.has_grain:
        pixels = remove_grain(pixels, look)
    if vignette_on and look.has_vignette:
        pixels = remove_vignette(pixels, look)
    return pixels
