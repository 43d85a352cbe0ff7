"""Which motion profile suits the photo: portrait, action, environmental or still life.

Each profile gets a 0..1 score from the cues a photographer would use:

- portrait: a person's face of a real size in the frame (>= 1.5 % of it), or an
  isolated subject in natural, unsaturated colour (fur, feathers: an animal portrait).
- action: implied movement in progress (fast shutter, long lens, motion streaks).
- environmental: a scene rather than an object: front-to-back sharpness, sky,
  water and foliage, a wide lens or a small aperture, no dominant subject.
- still life: an isolated subject that is not a person and shows vivid colour
  (paint, dye, glaze, plastic, flowers) beyond what fur, skin or wood reach.

The highest score wins; its reason travels with the report. When no profile scores
at least NO_EVIDENCE (a blank or abstract frame), still life is chosen: minimal
motion invents the least.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import profiles
from .cues import Exif, Nature
from .faces import Face
from .grid import Grid
from .curves import ramp
from .subject import Subject, textured

# CIELAB chroma of the subject's more colourful quarter: fur, feathers, skin and wood
# rarely pass 40; paint, dye, glaze, plastic and flowers commonly reach 50-80.
NATURAL_CHROMA, VIVID_CHROMA = 40.0, 55.0
NO_EVIDENCE = 0.15     # below this best score the photo gives no hint of its genre
MONOCHROME_CHROMA = 5.0   # no block more colourful than this: a black-and-white photo


@dataclass(frozen=True)
class Choice:
    name: str
    reason: str
    scores: dict[str, float]


def subject_chroma(grid: Grid, subject: Subject) -> float:
    """CIELAB chroma of the subject's more colourful quarter (75th percentile)."""
    chroma = np.hypot(grid.lab_mean[..., 1], grid.lab_mean[..., 2])
    return float(np.percentile(chroma[subject.mask], 75)) if subject.mask.any() else 0.0


def choose(grid: Grid, subject: Subject, faces: list[Face], exif: Exif, *, isolation: float,
           action: float, action_reasons: list[str], sky: float, nature: Nature) -> Choice:
    face_area = faces[0].area if faces else 0.0
    box = subject.box
    area = (box[2] - box[0]) * (box[3] - box[1])
    whole_frame = subject.mask.mean() > 0.9

    # How much the frame is a scene rather than a subject.
    # (A frame without texture has no measured spread, not a deep one: nothing is sharp.)
    deep = ramp(subject.focus_spread, 0.15, 0.08) if textured(grid).any() else 0.0
    focal = exif.focal_35mm
    wide = ramp(focal, 50.0, 24.0) if focal else 0.0
    stopped_down = ramp(exif.f_number, 5.6, 11.0) if exif.f_number else 0.0
    open_view = max(ramp(sky, 0.03, 0.15), ramp(nature.water + nature.foliage, 0.05, 0.3))
    no_main_subject = 1.0 if whole_frame or area < 0.03 else 0.0
    environmental = (0.4 * deep + 0.3 * open_view + 0.2 * max(wide, stopped_down)
                     + 0.1 * no_main_subject)

    # An isolated subject: what kind?
    isolated = 0.0 if whole_frame else isolation * (1.0 - 0.5 * deep)
    manufactured = ramp(subject_chroma(grid, subject), NATURAL_CHROMA, VIVID_CHROMA)
    person = ramp(face_area, 0.003, 0.015)
    portrait = max(person, 0.8 * isolated * (1.0 - manufactured))
    still_life = isolated * manufactured * (1.0 - 0.5 * open_view) * (1.0 - person)

    scores = {"portrait": float(portrait), "action": float(action),
              "environmental": float(environmental), "still-life": float(still_life)}
    name = max(profiles.NAMES, key=lambda n: scores[n])   # ties: NAMES order
    if scores[name] < NO_EVIDENCE:
        return Choice("still-life", "nothing points to a genre: minimal motion is the safe choice",
                      scores)
    if name == "portrait":
        if person >= 0.5:
            reason = "a person's face"
        elif float(np.hypot(grid.lab_mean[..., 1], grid.lab_mean[..., 2]).max()) < MONOCHROME_CHROMA:
            # Faces are confirmed by skin colour, so in black and white none is: say so
            # rather than call a monochrome headshot an animal in natural colours.
            reason = ("an isolated subject in a black-and-white photo (a person or an animal? "
                      "faces are only recognised in colour)")
        else:
            reason = "an isolated subject in natural colours (an animal portrait?)"
    elif name == "action":
        reason = "implied movement: " + "; ".join(action_reasons)
    elif name == "environmental":
        signs = [words for words, value in (("sharp from front to back", deep),
                                            ("sky, water or foliage", open_view),
                                            ("a wide or stopped-down lens", max(wide, stopped_down)),
                                            ("no single main subject", no_main_subject))
                 if value >= 0.5]
        reason = "a scene rather than a single subject" + (": " + ", ".join(signs) if signs else "")
    else:
        reason = "an isolated object in vivid, man-made or floral colours"
    return Choice(name, reason, scores)
