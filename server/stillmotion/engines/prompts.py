"""Prompt phrases for text-guided video models (LTX-Video, Wan, CogVideoX).

These models take motion and camera direction only through words, so the
request's camera move and motion intensity become phrases appended to the
scene prompt (the caption, the user's prompt or the profile's motion
description), and the opposite of what was asked goes into the negative prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from .parallax import _REVERSED as REVERSED_MOVE  # one table of "the same move, played backwards"

CAMERA_PHRASES = {
    "none": "static camera, the camera holds steady",
    "push-in": "the camera slowly pushes in toward the subject",
    "pull-out": "the camera slowly pulls back from the subject",
    "pan-left": "the camera pans slowly to the left",
    "pan-right": "the camera pans slowly to the right",
    "orbit": "the camera orbits slowly around the subject",
    "rise": "the camera rises slowly",
    "fall": "the camera lowers slowly",
}

# Motion intensity tiers, lowest first: (upper bound, phrase).
MOTION_TIERS = (
    (0.25, "barely perceptible, gentle motion"),
    (0.5, "subtle, natural motion"),
    (0.75, "clear, natural motion"),
    (1.01, "dynamic, energetic motion"),
)

STYLE_PHRASE = "true to the original photograph, the same colours, light and framing"
_TOO_STILL = "static image, frozen, no motion"
_TOO_BUSY = "fast motion, sudden movement, camera shake"


@dataclass(frozen=True)
class Prompts:
    negative: str
    camera: str          # the move the model was asked for (reversed when the clip is played backwards)
    motion_tier: int     # index into MOTION_TIERS
    scene: str = ""      # the scene part, which leads the prompt
    directions: str = "" # the camera, motion and style phrases after it
    cuts: tuple[str, ...] = field(default=(), compare=False)   # what `within` cut, in words

    @property
    def prompt(self) -> str:
        """The whole prompt: the scene, then the directions."""
        return _compose(self.scene, self.directions)

    def within(self, count: Callable[[str], int], limit: int) -> "Prompts":
        """This prompt with the scene cut so that the whole is at most `limit` tokens, and the
        negative prompt cut to `limit` tokens too; `cuts` says what was cut.

        A text encoder drops what is past its limit, and the camera, motion and style
        phrases come last: a long caption cost exactly those, silently. The negative prompt
        goes through the same encoder: cut here, the clip's metadata records what it read.
        """
        fitted = self
        if count(self.prompt) > limit and self.scene:
            scene, amount = _leading(self.scene, lambda text: count(_compose(text, self.directions)) <= limit)
            fitted = replace(fitted, scene=scene, cuts=fitted.cuts + (f"the prompt was cut after {amount}",))
        if count(self.negative) > limit:
            negative, amount = _leading(self.negative, lambda text: count(text) <= limit, phrases=True)
            fitted = replace(fitted, negative=negative,
                             cuts=fitted.cuts + (f"the negative prompt was cut after {amount}",))
        return fitted

    def args(self) -> dict[str, str]:
        """The pipeline arguments every prompt model takes."""
        return {"prompt": self.prompt, "negative_prompt": self.negative}

    def record(self) -> dict[str, str]:
        """What the clip's provenance keeps about the prompt."""
        return {**self.args(), "camera": self.camera}


def motion_tier(motion: float) -> int:
    for index, (upper, _) in enumerate(MOTION_TIERS):
        if motion < upper:
            return index
    return len(MOTION_TIERS) - 1


def build(scene: str, camera: str, motion: float, negative: str | None, *, reversed_in_time: bool) -> Prompts:
    """The prompt and negative prompt for one clip.

    `reversed_in_time`: the frames will be played backwards (the photo ends the
    clip), so the model is asked for the opposite camera move.
    """
    move = REVERSED_MOVE.get(camera, camera) if reversed_in_time else camera
    tier = motion_tier(motion)
    scene = scene.strip().rstrip(".")
    directions = ". ".join((CAMERA_PHRASES[move], MOTION_TIERS[tier][1], STYLE_PHRASE))
    avoid = _TOO_STILL if motion >= 0.5 else _TOO_BUSY
    negative_text = ", ".join(p for p in ((negative or "").strip().rstrip(","), avoid) if p)
    return Prompts(negative=negative_text, camera=move, motion_tier=tier, scene=scene, directions=directions)


def _leading(text: str, fits: Callable[[str], bool], *, phrases: bool = False) -> tuple[str, str]:
    """The longest leading part of `text` that `fits`, and how much of it that is ("12 of its
    40 words"): cut at a phrase (a comma) when `phrases`, else at a word, and between characters
    where not even the first word fits (Chinese, Japanese and Thai put no spaces between words:
    a long caption in one of them was dropped whole)."""
    cuts = [(text.split(","), ",", "phrases"), (text.split(), " ", "words"), (list(text), "", "characters")]
    for pieces, joiner, unit in cuts if phrases else cuts[1:]:
        keep, over = 0, len(pieces)            # the most leading pieces that fit (not all: the whole did not)
        while over - keep > 1:
            mid = (keep + over) // 2
            if fits(joiner.join(pieces[:mid]).strip()):
                keep = mid
            else:
                over = mid
        if keep:
            return joiner.join(pieces[:keep]).strip().rstrip(",;:."), f"{keep} of its {len(pieces)} {unit}"
    return "", f"0 of its {len(text.split())} words"


def _compose(scene: str, directions: str) -> str:
    return ". ".join(p for p in (scene, directions) if p) + "."


def for_request(request: Any, context: Mapping[str, Any], motion: float, *, reversed_in_time: bool) -> Prompts:
    """`build` for a resolved AnimateRequest: the scene is the prompt the pipeline chose."""
    return build(context.get("prompt") or request.prompt or "", request.camera or "none", motion,
                 request.negative_prompt, reversed_in_time=reversed_in_time)
