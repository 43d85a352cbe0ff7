"""Motion profiles: the photographers' rule of thumb for how a still should move.

portrait      subtle motion (breathing, blinking), 2-3 s
action        complete the implied movement, 3-5 s
environmental atmospheric motion (wind, water, clouds), 4-8 s
still-life    minimal, almost imperceptible, 1-2 s

A profile only supplies defaults: anything the request sets explicitly wins.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMES = ("portrait", "action", "environmental", "still-life")
CHOICES = ("auto",) + NAMES


@dataclass(frozen=True)
class Profile:
    name: str
    duration: float            # default clip length, seconds
    motion: float              # default motion intensity 0..1
    camera: str                # default camera move
    style_consistency: float
    # Default prompt when nothing better is known: what moves, never how much or the camera
    # (prompt models are told those from --motion and --camera, which a profile's words contradicted).
    motion_description: str
    negative_prompt: str


_NEGATIVE = ("flicker, colour shift, warping, morphing, distorted faces, extra limbs, "
             "text, watermark, jpeg artifacts, blurry, low quality")

PROFILES: dict[str, Profile] = {
    "portrait": Profile(
        "portrait", 2.5, 0.35, "push-in", 0.85,
        "the person breathes and blinks, hair moves in the air",
        _NEGATIVE + ", exaggerated expressions, talking, head turning"),
    "action": Profile(
        "action", 4.0, 0.8, "push-in", 0.75,
        "the movement in the photo continues naturally to its completion",
        _NEGATIVE + ", frozen subject, reversed motion"),
    "environmental": Profile(
        "environmental", 6.0, 0.6, "pan-right", 0.8,
        "wind moves through the scene, water flows and clouds drift",
        _NEGATIVE + ", sudden camera shake, fast motion"),
    "still-life": Profile(
        "still-life", 1.5, 0.15, "none", 0.9,
        "light and shadow shift over the objects",
        _NEGATIVE + ", objects moving, camera shake"),
}

# Used when no profile applies (profile detection unavailable): the defaults.
GENERIC = Profile("generic", 3.0, 0.6, "none", 0.8,
                  "the scene comes to life with natural motion", _NEGATIVE)


def get(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown motion profile '{name}' (choose from {', '.join(CHOICES)})") from None
