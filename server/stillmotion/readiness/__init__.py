"""Video readiness: will this photo move well, and which motion profile suits it?

    report = analyze(photo)            # a stillmotion.photo.Photo
    report = analyze_path("IMG.jpg")   # load + analyze
    report.suggested_profile, report.duration, report.subject_box, report.to_dict()

Everything runs on a ~1 MP working copy (see grid.py), so a 24 MP photo takes a
fraction of a second after decoding (bench/readiness.py measures it).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Mapping

import numpy as np

from .. import photo as photo_mod
from .. import profiles
from ..errors import InputError
from . import cues, faces as faces_mod, grid as grid_mod, measures, subject as subject_mod
from .faces import Face
from .profile import choose
from .report import POOR, READY, USABLE, Measure, ReadinessReport

__all__ = ["analyze", "analyze_path", "analyze_pixels", "ReadinessReport", "Measure", "Face"]

MIN_EDGE = 16   # smaller than this is not a photo anyone will animate

# Weights of the overall score. The technical measures also act as a gate (below):
# a photo that is blurred or blown out is not rescued by nice light.
WEIGHTS = {"resolution": 0.15, "focus": 0.20, "noise": 0.10, "exposure": 0.15,
           "isolation": 0.15, "lighting": 0.10, "motion": 0.15}
# In a landscape the scene is the subject: isolation matters little, moving elements more.
ENVIRONMENTAL_WEIGHTS = {**WEIGHTS, "isolation": 0.05, "motion": 0.25}
TECHNICAL = ("resolution", "focus", "noise", "exposure")
READY_AT, USABLE_AT = 0.70, 0.45


def overall(scores: Mapping[str, float], weights: Mapping[str, float] = WEIGHTS) -> float:
    mean = sum(weights[n] * scores[n] for n in weights) / sum(weights.values())
    worst = min(scores[n] for n in TECHNICAL)
    return mean * (0.5 + 0.5 * min(1.0, worst / 0.5))


def analyze_pixels(pixels: np.ndarray, *, exif: Mapping[str, Any] | None = None,
                   path: str | None = None) -> ReadinessReport:
    """Analyse float sRGB pixels (H, W, 3) in 0..1 at their delivered size."""
    start = time.perf_counter()
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise InputError(f"expected an RGB image, got pixels of shape {pixels.shape}")
    height, width = pixels.shape[:2]
    if min(height, width) < MIN_EDGE:
        name = os.path.basename(path) if path else "the image"
        raise InputError(f"{name}: {width}x{height} pixels is too small to animate "
                         f"(at least {MIN_EDGE} pixels on the short side)")
    ex = cues.read_exif(exif)
    grid = grid_mod.build(pixels)
    faces = faces_mod.detect(grid.rgb)
    subject = subject_mod.find(grid, faces)
    sky, _ = cues.sky_share(grid)
    lines = cues.straight_lines(grid)
    nature = cues.natural_textures(grid)
    streaks = cues.directional_blur(grid, subject)

    isolation = measures.isolation(grid, subject, faces)
    motion, action, action_reasons = measures.motion(ex, streaks, lines, subject, sky, nature, faces)
    choice = choose(grid, subject, faces, ex, isolation=isolation.score, action=action,
                    action_reasons=action_reasons, sky=sky, nature=nature)
    weights = WEIGHTS
    if choice.name == "environmental":
        weights = ENVIRONMENTAL_WEIGHTS
        if isolation.advice:
            isolation = dataclasses.replace(
                isolation, reason=isolation.reason + " (fine for a landscape: the scene is the subject)",
                advice="")
    found = (measures.resolution(width, height), measures.focus(grid, subject, faces),
             measures.noise(grid, ex), measures.exposure(grid, subject), isolation,
             measures.lighting(grid, subject, faces), motion)
    scores = {m.name: m.score for m in found}
    score = overall(scores, weights)
    verdict = READY if score >= READY_AT else (USABLE if score >= USABLE_AT else POOR)
    return ReadinessReport(
        path=path, width=width, height=height, measures=found, score=score, verdict=verdict,
        suggested_profile=choice.name, duration=profiles.get(choice.name).duration,
        profile_reason=choice.reason, profile_scores=choice.scores,
        subject_box=tuple(float(v) for v in subject.box), faces=tuple(faces),
        seconds=time.perf_counter() - start)


def analyze(photo: photo_mod.Photo, *, exif: Mapping[str, Any] | None = None) -> ReadinessReport:
    """Readiness of a loaded photo. `exif` (e.g. from XMP) is merged over `photo.exif`."""
    merged = dict(photo.exif or {})
    merged.update(exif or {})
    return analyze_pixels(photo.pixels, exif=merged, path=str(photo.path) if photo.path else None)


def analyze_path(path: str | os.PathLike, *,
                 max_megapixels: float = photo_mod.DEFAULT_MAX_MEGAPIXELS) -> ReadinessReport:
    """Load `path` safely (InputError on anything unreadable) and analyse it."""
    return analyze(photo_mod.load(path, max_megapixels))
