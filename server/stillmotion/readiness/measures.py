"""The seven readiness measures. Each returns a Measure: a 0..1 score, the reason in
plain words, advice when something needs doing, and the numbers behind the score.

The thresholds are photographic rules of thumb turned into ramps, not values fitted
to test photos; README-readiness.md explains each one.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .cues import Exif, Lines, Nature, Streaks
from .curves import decay, falling, ramp
from .faces import Face, skin_mask
from .grid import Grid
from .report import Measure
from .subject import Subject, textured

MIN_LONG_EDGE = 1024      # the floor for a clip
IDEAL_LONG_EDGE = 2048    # "2K ideal": a 1920/2048-wide clip without upscaling


# -- resolution ---------------------------------------------------------------------------

def resolution(width: int, height: int) -> Measure:
    long_edge, short_edge = max(width, height), min(width, height)
    # What a clip can use: its long edge, but no more than a 16:9 frame cut from the
    # photo allows (a 5000 x 40 strip has 71 usable pixels, not 5000).
    usable = min(long_edge, round(short_edge * 16 / 9))
    if usable >= MIN_LONG_EDGE:
        # 0.6 at 1024 px (acceptable), 1.0 at 2048 px and above.
        score = min(1.0, 0.6 + 0.4 * math.log2(usable / MIN_LONG_EDGE))
    else:
        score = 0.6 * (usable / MIN_LONG_EDGE) ** 2
    size = f"{width} x {height} px"
    if usable < long_edge:
        size += f" (a {'9:16' if height > width else '16:9'} frame cut from it is only {usable} px long)"
    if usable >= IDEAL_LONG_EDGE:
        reason, advice = f"{size}: enough for a 2K clip without upscaling", ""
    elif usable >= MIN_LONG_EDGE:
        reason = f"{size}: enough for an HD clip, short of the 2K ideal ({IDEAL_LONG_EDGE} px)"
        advice = "Export at full size if you have it: a 2K clip from this photo needs upscaling."
    else:
        reason = f"{size}: below the {MIN_LONG_EDGE} px long edge a clip needs"
        advice = (f"Resolution too low: use the full-size original (at least {MIN_LONG_EDGE} px, "
                  f"ideally {IDEAL_LONG_EDGE} px on the long edge); upscaled pixels look mushy in motion.")
    return Measure("resolution", score, reason, advice, {"long_edge": long_edge, "usable": usable})


# -- focus on the subject -----------------------------------------------------------------

# Blur ratio of the subject's sharpest fifth at the working size: crisp lenses give
# 0.12-0.25; a Gaussian blur of 1 px gives about 0.3, 1.5 px 0.4, 2 px 0.5, 3 px 0.7.
FOCUS_HALF = 0.38    # ratio scoring 0.5 ("soft": about a 1.5 px Gaussian blur)
FOCUS_WIDTH = 0.05   # how quickly the score falls around it


def focus(grid: Grid, subject: Subject, faces: list[Face]) -> Measure:
    tex = textured(grid)
    if not tex.any():
        # No block has texture (a lens cap, a flat colour, a frame defocused to mush): the
        # blur ratio of a flat block is 0, which would read as crisp. Nothing is in focus.
        return Measure("focus", 0.0, "no detail anywhere in the frame: nothing is in focus",
                       "No detail to animate: the frame is blank or featureless; check that "
                       "this is the photo you meant.",
                       {"subject_blur": None, "sharpest_blur": None, "focus_missed": False})
    # On a person, focus is judged on the face (the eyes), not on hair and shoulders.
    region = (grid.box_mask(faces[0].box) if faces else subject.mask) & tex
    if not region.any():
        region = tex
    # The sharpest fifth of the subject: eyes and eyelashes, not cheeks and out-of-focus ears.
    subject_blur = float(np.percentile(grid.blur[region], 20))
    frame_blur = float(np.percentile(grid.blur[tex], 5)) if tex.any() else subject_blur
    score = falling(subject_blur, FOCUS_HALF, FOCUS_WIDTH)
    where = "the face" if subject.from_faces else (
        "the subject" if subject.mask.mean() < 0.9 else "the frame")
    if score >= 0.8:
        reason, advice = f"{where} is crisp", ""
    elif score >= 0.5:
        reason = f"{where} is slightly soft"
        advice = "Slightly soft focus: sharpen a little, or pick a sharper frame of the sequence."
    else:
        reason = f"{where} is blurred (focus missed or motion blur)"
        advice = ("Blurred: pick a frame where the subject is in focus; softness shows more "
                  "once the picture moves, and engines cannot restore it.")
    missed = bool(subject_blur - frame_blur > 0.12 and subject.mask.mean() < 0.9)
    if missed:
        reason += "; the sharpest detail lies outside the subject"
        advice = advice or "The focus seems to sit beside the subject: check the point of focus."
    return Measure("focus", score, reason, advice,
                   {"subject_blur": round(subject_blur, 3), "sharpest_blur": round(frame_blur, 3),
                    "focus_missed": missed})


# -- noise --------------------------------------------------------------------------------

NOISE_CLEAN = 1.0    # sigma (8-bit levels) that counts as clean
NOISE_HALF = 4.0     # sigma above NOISE_CLEAN where the score halves


def noise(grid: Grid, exif: Exif) -> Measure:
    # Flat areas carry only noise, textured ones noise plus detail: the quietest fifth of
    # the blocks gives the noise floor. Measured on the working copy, i.e. at clip scale.
    sigma = float(np.percentile(grid.noise, 20)) * 255.0
    score = 1.0 / (1.0 + (max(0.0, sigma - NOISE_CLEAN) / NOISE_HALF) ** 2)
    iso = f" (ISO {exif.iso:g})" if exif.iso else ""
    if score >= 0.75:
        reason, advice = f"clean: noise about {sigma:.1f} levels in smooth areas{iso}", ""
    else:
        reason = f"noisy: about {sigma:.1f} levels of noise in smooth areas{iso}"
        advice = ("Too much noise: denoise before animating (e.g. Lightroom's Denoise); grain "
                  "and noise shimmer from frame to frame in generated video.")
    return Measure("noise", score, reason, advice, {"sigma_8bit": round(sigma, 2)})


# -- exposure and dynamic range -----------------------------------------------------------

CLIP_HIGH = 0.98           # channel value counted as blown
CLIP_LOW = 0.02            # brightest channel below this counts as crushed black


# Ends of the histogram (99th / 1st percentile of luma) that mean the whole frame sits
# low or high: no highlight above mid-grey, no shadow below it.
DARK_HIGHLIGHTS, BRIGHT_SHADOWS = 0.5, 0.5
UNDEREXPOSED_P99 = 0.4     # 99th percentile of luma that scores half (about two stops under)


def exposure(grid: Grid, subject: Subject) -> Measure:
    brightest = np.maximum(np.maximum(grid.rgb[..., 0], grid.rgb[..., 1]), grid.rgb[..., 2])
    blown = float((brightest >= CLIP_HIGH).mean())
    black = brightest <= CLIP_LOW
    crushed = float(black.mean())
    h, w = black.shape
    b = subject.box
    in_subject = black[int(b[1] * h):max(int(b[3] * h), int(b[1] * h) + 1),
                       int(b[0] * w):max(int(b[2] * w), int(b[0] * w) + 1)]
    crushed_subject = float(in_subject.mean())
    low, high = (float(v) for v in np.percentile(grid.gray, (1, 99)))
    mean = float(grid.gray.mean())
    # Specular glints (up to 1 %) are fine; each further 6 % of blown frame costs a factor
    # e (10 % blown: 0.22). Crushed blacks are judged mostly on the subject: a black
    # studio backdrop is a look, a black half-face is lost detail (3 % free, then a
    # factor e per 12 %); the frame as a whole may hold 15 % black before it counts.
    s_blown = decay(blown - 0.01, 0.06)
    s_crushed = decay(crushed_subject - 0.03, 0.12) * decay(crushed - 0.15, 0.2)
    s_range = 0.5 + 0.5 * ramp(high - low, 0.15, 0.6)   # flat, hazy tones
    s_key = min(1.0 - falling(mean, 0.08, 0.03), falling(mean, 0.85, 0.04))   # far too dark / bright
    # Nothing bright at all: a frame whose brightest 1 % stays near or below mid-grey is
    # underexposed even when its tonal range is wide (two stops under kept a 46 % range
    # and read "well exposed"). Every real photo here reaches 67 % or more.
    s_dark = 1.0 - falling(high, UNDEREXPOSED_P99, 0.05)
    score = s_blown * s_crushed * s_range * s_key * s_dark
    parts = [f"{blown * 100:.1f} % blown highlights", f"{crushed * 100:.1f} % crushed shadows",
             f"tonal range {round((high - low) * 100)} %"]
    advice = []
    if s_blown < 0.8:
        advice.append("Blown highlights: lower Highlights/Whites or exposure; clipped white "
                      "areas turn into flat patches that cannot move convincingly.")
    if s_crushed < 0.8:
        advice.append("Crushed shadows: lift Shadows/Blacks so the dark areas keep detail.")
    underexposed = f"Underexposed: the brightest tones reach only {round(high * 100)} %; " \
                   "raise Exposure or Whites before animating."
    if s_key < 0.8 and not (mean < 0.5 and s_dark < 0.8):
        advice.append("Overall exposure is far off: " + ("brighten" if mean < 0.5 else "darken")
                      + " the photo before animating.")
    if s_dark < 0.8:   # (a dark frame: said once, with what to raise, not twice)
        advice.append(underexposed)
    elif s_range < 0.8:
        # A narrow histogram that stops below mid-grey is an underexposed frame, not
        # haze (more contrast would sink it further); one that starts above it is washed out.
        if high < DARK_HIGHLIGHTS:
            advice.append(underexposed)
        elif low > BRIGHT_SHADOWS:
            advice.append(f"Washed out: the darkest tones are at {round(low * 100)} %; "
                          "lower Exposure or Blacks before animating.")
        else:
            advice.append("Flat, low-contrast tones: add contrast or dehaze.")
    verdict = "well exposed" if score >= 0.8 else ("exposure needs care" if score >= 0.5 else "badly exposed")
    return Measure("exposure", score, f"{verdict}: " + ", ".join(parts), " ".join(advice),
                   {"blown": round(blown, 4), "crushed": round(crushed, 4),
                    "crushed_subject": round(crushed_subject, 4),
                    "p1": round(low, 3), "p99": round(high, 3), "mean": round(mean, 3)})


# -- subject isolation --------------------------------------------------------------------

def _colour_separation(grid: Grid, subject: Subject) -> float:
    inside, outside = grid.lab_mean[subject.mask], grid.lab_mean[~subject.mask]
    if len(inside) == 0 or len(outside) == 0:
        return 0.0
    if len(outside) > 400:  # subsample for speed; colours of neighbouring blocks repeat
        outside = outside[:: len(outside) // 400 + 1]
    dist = np.linalg.norm(inside[:, None, :] - outside[None, :, :], axis=-1)
    nearest = np.sort(dist, axis=1)[:, : max(3, len(outside) // 20)].mean(axis=1)
    return ramp(float(np.median(nearest)), 5.0, 25.0)   # CIELAB units: 25 = clearly different


def isolation(grid: Grid, subject: Subject, faces: list[Face]) -> Measure:
    box = subject.box
    area = (box[2] - box[0]) * (box[3] - box[1])
    tex = textured(grid)
    whole_frame = subject.mask.mean() > 0.9
    colour_sep = 0.0 if whole_frame else _colour_separation(grid, subject)
    inside, outside = subject.mask & tex, ~subject.mask & tex
    if inside.any() and outside.any() and not whole_frame:
        depth_sep = ramp(float(np.median(grid.blur[outside]) - np.percentile(grid.blur[inside], 20)),
                          0.05, 0.30)
    else:
        depth_sep = 0.0
    size = min(ramp(area, 0.0, 0.02), 1.0 - 0.5 * ramp(area, 0.6, 1.0))
    face_bonus = 0.3 if faces else 0.0
    score = size * (1.0 - (1.0 - colour_sep) * (1.0 - depth_sep) * (1.0 - face_bonus))
    how = []
    if faces:
        how.append("a face" if len(faces) == 1 else f"{len(faces)} faces")
    if depth_sep >= 0.4:
        how.append("a softer background (shallow depth of field)")
    if colour_sep >= 0.4:
        how.append("colour that differs from the background")
    if whole_frame and subject.from_faces:
        reason = "head and shoulders fill the frame: little background to set them against"
    elif whole_frame:
        reason = "no distinct subject: interest is spread over the whole frame"
    elif how:
        reason = "the subject stands out by " + " and ".join(how)
    else:
        reason = "the subject blends into its background"
    if area < 0.02 and not whole_frame:
        reason += "; it is very small in the frame"
    if score >= 0.5:
        advice = ""
    elif whole_frame and subject.from_faces:
        # The subject is plain (a face); the trouble is the tight crop, not a busy scene.
        advice = ("Tight crop: engines need some background around the head to move it against; "
                  "if you cropped in, a looser crop separates the person better.")
    else:
        advice = ("Weak subject isolation: engines move subjects they can separate from the background; "
                  "prefer frames with a clear subject, a simpler background or shallower depth of field.")
    return Measure("isolation", score, reason, advice,
                   {"colour": round(colour_sep, 3), "depth": round(depth_sep, 3),
                    "subject_area": round(area, 4)})


# -- lighting direction -------------------------------------------------------------------

_DIRECTIONS = ["the right", "the lower right", "below", "the lower left", "the left",
               "the upper left", "above", "the upper right"]
SHADING_EDGE = 48          # the lit region is judged on a copy this small (large-scale shading)


def _shading_region(grid: Grid, subject: Subject, faces: list[Face]) -> tuple[np.ndarray, np.ndarray]:
    """Linear luminance of the region whose shading tells the light, and a mask of the
    pixels to trust (skin only on a face, so hair and eyes do not fake a direction)."""
    box = faces[0].box if faces else subject.box
    h, w = grid.gray.shape
    x0, x1 = int(box[0] * w), max(int(math.ceil(box[2] * w)), int(box[0] * w) + 2)
    y0, y1 = int(box[1] * h), max(int(math.ceil(box[3] * h)), int(box[1] * h) + 2)
    rgb = grid.rgb[y0:y1, x0:x1]
    scale = min(1.0, SHADING_EDGE / max(rgb.shape[:2]))
    size = (max(2, round(rgb.shape[1] * scale)), max(2, round(rgb.shape[0] * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    luminance = np.power(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), 2.2)
    trust = np.ones(luminance.shape, bool)
    if faces:
        skin = skin_mask(small)
        if skin.mean() >= 0.3:
            trust = skin
    return luminance, trust


def light_vector(luminance: np.ndarray, trust: np.ndarray) -> tuple[float, float, float]:
    """(dx, dy, stops): where the light-weighted centre of the region sits relative to its
    plain centre (in half-widths; it leans towards the light), and how many stops the lit
    half is brighter than the shadow half along that direction."""
    ys, xs = np.nonzero(trust)
    values = luminance[ys, xs].astype(np.float64)
    if values.size < 4 or values.sum() <= 1e-9:
        return 0.0, 0.0, 0.0
    half_w, half_h = max(1.0, luminance.shape[1] / 2.0), max(1.0, luminance.shape[0] / 2.0)
    cx, cy = xs.mean(), ys.mean()
    dx = float(((xs - cx) * values).sum() / values.sum() / half_w)
    dy = float(((ys - cy) * values).sum() / values.sum() / half_h)
    along = (xs - cx) * dx + (ys - cy) * dy
    lit, shadow = values[along > 0], values[along < 0]
    if lit.size == 0 or shadow.size == 0:
        return dx, dy, 0.0
    return dx, dy, math.log2((lit.mean() + 0.005) / (shadow.mean() + 0.005))


def lighting(grid: Grid, subject: Subject, faces: list[Face]) -> Measure:
    luminance, trust = _shading_region(grid, subject, faces)
    dx, dy, stops = light_vector(luminance, trust)
    lean = math.hypot(dx, dy)
    # Half a stop between lit and shadow side is barely modelled, 1.5 stops is classic
    # portrait modelling (a 3:1 ratio); beyond 4 stops the shadow side goes black.
    modelling = ramp(stops, 0.25, 1.5) * (1.0 - 0.4 * ramp(stops, 4.0, 6.0))
    score = 0.4 * ramp(lean, 0.02, 0.12) + 0.6 * modelling
    where = "the face" if faces else ("the subject" if subject.mask.mean() < 0.9 else "the frame")
    why = ("gives depth cues, so camera moves and parallax read as real depth rather than "
           "a sliding cut-out.")
    if lean >= 0.04 and stops >= 0.4:
        # Image y grows downwards; the vector leans towards the brighter side.
        side = _DIRECTIONS[int(round(math.degrees(math.atan2(dy, dx)) / 45.0)) % 8]
        reason = f"light on {where} comes from {side} ({stops:.1f} stops lit to shadow side)"
        # The light has a direction; what it lacks is modelling (the shadow side is barely darker).
        advice = (f"Soft modelling: the light from {side} leaves the shadow side only {stops:.1f} "
                  f"stops darker (about 1.5 stops, a 3:1 ratio, models a subject); stronger side "
                  f"or back light " + why)
    else:
        reason = f"flat light on {where}: no clear direction ({stops:.1f} stops lit to shadow side)"
        advice = "Flat light: directional (side or back) light " + why
    advice = "" if score >= 0.5 else advice
    return Measure("lighting", score, reason, advice,
                   {"direction": [round(dx, 4), round(dy, 4)], "stops": round(stops, 2)})


# -- motion cues --------------------------------------------------------------------------

def action_evidence(exif: Exif, streaks: Streaks, lines: Lines, subject: Subject) -> tuple[float, list[str]]:
    """0..1: how strongly the photo implies a movement in progress, and why."""
    evidence, why = 0.0, []
    focal = exif.focal_35mm or exif.focal_mm
    if exif.exposure_time and exif.exposure_time <= 1 / 1000:
        evidence += 0.4
        why.append(f"a fast shutter (1/{round(1 / exif.exposure_time)} s) froze movement")
    if focal and focal >= 200:
        evidence += 0.2
        why.append(f"a long lens ({focal:g} mm), as in sport and wildlife")
    partial = subject.mask.mean() < 0.9
    # Panning (a sharp subject on a streaked background) means the photographer followed
    # a moving subject: the strongest single sign of action a still can carry.
    if partial and streaks.background >= 0.35 and streaks.subject < 0.5 * streaks.background:
        evidence += 0.8
        why.append("the background is streaked while the subject is sharp (a panning shot)")
    elif partial and streaks.subject >= 0.35 and streaks.background < 0.5 * streaks.subject:
        evidence += 0.6
        why.append("the subject is streaked by motion blur")
    if lines.density >= 2.0 and lines.diagonal_share >= 0.5:
        evidence += 0.15
        why.append("strong diagonal lines")
    return min(1.0, evidence), why


def life_evidence(sky: float, nature: Nature, faces: list[Face]) -> tuple[float, list[str]]:
    """0..1: elements that move on their own: clouds, water, foliage, a person breathing."""
    why = []
    if faces:
        why.append("a person (breathing, blinking, hair)")
    if sky >= 0.08:
        why.append("sky")
    if nature.water >= 0.08:
        why.append("water")
    if nature.foliage >= 0.15:
        why.append("foliage")
    value = min(1.0, 1.5 * sky + 1.5 * nature.water + nature.foliage + (0.5 if faces else 0.0))
    return value, why


def motion(exif: Exif, streaks: Streaks, lines: Lines, subject: Subject, sky: float,
           nature: Nature, faces: list[Face]) -> tuple[Measure, float, list[str]]:
    action, action_why = action_evidence(exif, streaks, lines, subject)
    life, life_why = life_evidence(sky, nature, faces)
    score = 0.3 + 0.7 * max(action, life)
    parts = []
    if action_why:
        parts.append("implied movement (" + "; ".join(action_why) + ")")
    if life_why:
        parts.append("elements that move on their own: " + ", ".join(life_why))
    reason = "; ".join(parts) if parts else "no implied movement or moving elements found"
    advice = ""
    shake = streaks.subject >= 0.5 and streaks.background >= 0.5
    if shake:
        reason += "; the whole frame is smeared in one direction (camera shake?)"
        advice = "The whole frame looks smeared in one direction: camera shake shows badly in motion."
    elif score < 0.5:
        advice = ("Little to move: expect a subtle clip (minimal motion suits a still life); "
                  "frames with implied action, water, sky or foliage animate more naturally.")
    details = {"action": round(action, 3), "moving_elements": round(life, 3),
               "streaked_subject": round(streaks.subject, 3),
               "streaked_background": round(streaks.background, 3),
               "exposure_time": exif.exposure_time, "focal_length": exif.focal_35mm or exif.focal_mm}
    return Measure("motion", score, reason, advice, details), action, action_why
