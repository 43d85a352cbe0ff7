"""The readiness report: what the CLI prints, the API returns and the pipeline reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .faces import Face

READY, USABLE, POOR = "ready", "usable", "poor"
VERDICT_WORDS = {
    READY: "video-ready",
    USABLE: "usable, with the caveats below",
    POOR: "a poor candidate for a clip",
}


@dataclass(frozen=True)
class Measure:
    name: str                # "resolution", "focus", "noise", "exposure", "isolation", "lighting", "motion"
    score: float             # 0 (bad) .. 1 (ideal)
    reason: str              # what was found, in plain words
    advice: str = ""         # what to do about it ("" when nothing needs doing)
    details: dict[str, Any] = field(default_factory=dict)   # the numbers behind the score

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score": round(self.score, 3), "reason": self.reason,
                "advice": self.advice, "details": self.details}


@dataclass(frozen=True)
class ReadinessReport:
    path: str | None
    width: int
    height: int
    measures: tuple[Measure, ...]
    score: float                         # overall 0..1
    verdict: str                         # READY | USABLE | POOR
    suggested_profile: str               # one of profiles.NAMES
    duration: float                      # that profile's default clip length, seconds
    profile_reason: str
    profile_scores: dict[str, float]
    subject_box: tuple[float, float, float, float]   # x0, y0, x1, y1 in 0..1 image coordinates
    faces: tuple[Face, ...]
    seconds: float                       # analysis time

    def measure(self, name: str) -> Measure:
        for m in self.measures:
            if m.name == name:
                return m
        raise KeyError(name)

    @property
    def advice(self) -> list[str]:
        """Advice of the measures that need it, worst first."""
        return [m.advice for m in sorted(self.measures, key=lambda m: m.score) if m.advice]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "score": round(self.score, 3),
            "verdict": self.verdict,
            "verdict_text": VERDICT_WORDS[self.verdict],
            "suggested_profile": self.suggested_profile,
            "duration": self.duration,
            "profile_reason": self.profile_reason,
            "profile_scores": {k: round(v, 3) for k, v in self.profile_scores.items()},
            "subject_box": [round(v, 4) for v in self.subject_box],
            "faces": [f.to_dict() for f in self.faces],
            "measures": [m.to_dict() for m in self.measures],
            "advice": self.advice,
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        """The human summary `stillmotion analyze` prints."""
        name = self.path or "photo"
        lines = [f"{name}: {round(self.score * 100)}/100, {VERDICT_WORDS[self.verdict]}",
                 f"  profile: {self.suggested_profile} ({self.duration:g} s): {self.profile_reason}"]
        for m in self.measures:
            lines.append(f"  {m.name:<10} {round(m.score * 100):>3}  {m.reason}")
        for tip in self.advice:
            lines.append(f"  - {tip}")
        return "\n".join(lines)
