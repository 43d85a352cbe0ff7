"""AnimateRequest: the one validated description of a job.

Every front end (CLI flags, the HTTP `settings` JSON, a watch folder's settings)
builds one with `AnimateRequest.from_dict`, which rejects unknown fields, wrong
types and out-of-range values with a message; nothing is clamped silently.
Unset fields (None) are filled by `resolve` from the motion profile, then the
config's [animate] defaults.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, fields
from typing import Any, Mapping

from . import profiles
from .errors import ConfigError, InputError

ENGINES = ("auto", "parallax", "svd", "ltx", "wan", "cogvideox")
CAMERAS = ("none", "push-in", "pull-out", "pan-left", "pan-right", "orbit", "rise")
ANCHORS = ("start", "end")
FORMATS = ("mp4", "mov", "gif", "webp", "tiff")
CODECS = ("h264", "hevc")
SIZES = ("1080p", "1440p", "2160p", "source")
ASPECTS = ("source", "16:9", "9:16", "1:1", "4:5")
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class AnimateRequest:
    prompt: str | None = None            # what happens next; None: from metadata/profile
    negative_prompt: str | None = None
    engine: str = "auto"
    model: str | None = None             # registry name, HF id or local diffusers folder
    profile: str = "auto"
    duration: float | None = None        # seconds, 0.5..30
    fps: float | None = None             # 1..120; 23.976, 29.97, 59.94 are the NTSC rates (x 1000/1001)
    motion: float | None = None          # intensity 0..1
    camera: str | None = None
    style_consistency: float | None = None  # 0 = leave colour alone, 1 = full match
    seed: int | None = None
    variants: int = 1                    # 1..16, successive seeds
    anchor: str = "start"                # the photo is the first (start) or last (end) frame
    loop: bool = False                   # the clip plays seamlessly on repeat (any anchor: from the photo)
    format: str | None = None
    codec: str = "h264"                  # for mp4: h264 | hevc
    size: str | None = None              # delivery size; None: [output] long_edge
    aspect: str = "source"
    colour_match: bool = True
    out_dir: str | None = None           # None: beside the photo

    # ---- construction -------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AnimateRequest":
        if not isinstance(data, Mapping):
            raise InputError("settings must be a JSON object")
        known = {f.name: f for f in fields(cls)}
        aliases = {"style": "style_consistency", "color_match": "colour_match", "out": "out_dir"}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            name = aliases.get(key, key).replace("-", "_")
            if name not in known:
                raise InputError(f"unknown setting '{key}' (known: {', '.join(sorted(known))})")
            if value is None:
                continue
            kwargs[name] = _coerce(name, value)
        req = cls(**kwargs)
        req.validate()
        return req

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "AnimateRequest":
        return dataclasses.replace(self, **changes)

    # ---- validation ---------------------------------------------------
    def validate(self) -> None:
        _choice("engine", self.engine, ENGINES)
        _choice("profile", self.profile, profiles.CHOICES)
        _choice("anchor", self.anchor, ANCHORS)
        _choice("codec", self.codec, CODECS)
        _choice("aspect", self.aspect, ASPECTS)
        if self.camera is not None:
            _choice("camera", self.camera, CAMERAS)
        if self.format is not None:
            _choice("format", self.format, FORMATS)
        _codec_fits(self.codec, self.format)
        _rate_fits(self.fps, self.format)
        if self.size is not None:
            _choice("size", self.size, SIZES)
        _range("duration", self.duration, 0.5, 30.0)
        _range("fps", self.fps, 1, 120)
        _range("motion", self.motion, 0.0, 1.0)
        _range("style_consistency", self.style_consistency, 0.0, 1.0)
        _range("seed", self.seed, 0, MAX_SEED)
        _range("variants", self.variants, 1, 16)
        for name in ("prompt", "negative_prompt"):   # (both go into the job store and every clip's XMP)
            text = getattr(self, name)
            if text is not None and len(text) > 2000:
                raise InputError(f"{name} is longer than 2000 characters")
        if self.model is not None and not self.model.strip():
            raise InputError("model must not be empty")

    # ---- defaults -----------------------------------------------------
    def resolve(self, profile_name: str, animate_defaults: Mapping[str, Any],
                preferred: Mapping[str, Any] | None = None) -> "AnimateRequest":
        """Fill every unset field: explicit value > `preferred` > profile > config [animate] defaults.

        `profile_name` is the concrete profile (auto already decided by the caller)
        or "generic" when none applies. `preferred`: the [animate] motion and
        style_consistency a user set in their config, which hold for every clip.
        """
        preferred = preferred or {}
        prof = profiles.PROFILES.get(profile_name, profiles.GENERIC)
        seed = self.with_seed().seed
        fmt = self.format or animate_defaults.get("format", "mp4")
        fps = self.fps if self.fps is not None else float(animate_defaults.get("fps", 24))
        _codec_fits(self.codec, fmt)
        _rate_fits(fps, fmt)
        return self.replace(
            profile=prof.name if prof is not profiles.GENERIC else self.profile,
            duration=self.duration if self.duration is not None else prof.duration,
            fps=fps,
            motion=self.motion if self.motion is not None else float(preferred.get("motion", prof.motion)),
            camera=self.camera if self.camera is not None else prof.camera,
            style_consistency=(self.style_consistency if self.style_consistency is not None
                               else float(preferred.get("style_consistency", prof.style_consistency))),
            negative_prompt=(self.negative_prompt if self.negative_prompt is not None
                             else prof.negative_prompt),
            format=fmt,
            seed=seed,
        )

    def with_seed(self) -> "AnimateRequest":
        """This request with a random seed where it has none (a queued job keeps it, so a run
        finished after a restart makes the takes it began)."""
        if self.seed is not None:
            return self
        return self.replace(seed=random.SystemRandom().randrange(MAX_SEED))

    @property
    def n_frames(self) -> int:
        """Frames in the delivered clip: duration x fps (after `resolve`)."""
        assert self.duration is not None and self.fps is not None, "resolve() first"
        return max(2, round(self.duration * self.fps))

    def seeds(self) -> list[int]:
        """One seed per variant: successive seeds from the base seed."""
        assert self.seed is not None, "resolve() first"
        return [(self.seed + i) % (MAX_SEED + 1) for i in range(self.variants)]


# [animate] settings that are defaults of the request field of the same name (caption_as_prompt
# is not a request field: default.toml's type check is all it needs).
ANIMATE_DEFAULTS = ("engine", "profile", "fps", "motion", "style_consistency", "format")


def check_animate_config(animate: Mapping[str, Any]) -> None:
    """The config's [animate] defaults, held to the limits of the request fields they stand in
    for (--fps 1..120, format one of FORMATS, ...): one set of limits, not two. A format and a
    rate that do not go together (a 60 fps GIF) are refused too: every job would fail on them."""
    for key in ANIMATE_DEFAULTS:
        if key in animate:
            try:
                AnimateRequest.from_dict({key: animate[key]})
            except InputError as exc:
                raise ConfigError(f"[animate] {exc}", key=("animate", key)) from None
    try:
        _rate_fits(float(animate.get("fps", 24)), animate.get("format"))
    except InputError as exc:
        raise ConfigError(f"[animate] fps and format: {exc}", key=("animate", "fps")) from None


def _choice(name: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _codec_fits(codec: str, fmt: str | None) -> None:
    """`codec` chooses between H.264 and HEVC in MP4; asked of another format it would be
    silently ignored, so it is refused instead."""
    if codec != "h264" and fmt not in (None, "mp4"):
        raise InputError(f"codec {codec} is for mp4 clips, not {fmt} (mov clips are ProRes 422 HQ; "
                         "gif, webp and tiff have one encoding each)")


# Browsers show a GIF or WebP frame shorter than 20 ms for 100 ms (and GIF counts in 1/100 s):
# above 50 fps such a clip would play several times too slowly.
WEB_MAX_FPS = 50


def _rate_fits(fps: float | None, fmt: str | None) -> None:
    if fps is not None and fmt in ("gif", "webp") and fps > WEB_MAX_FPS:
        raise InputError(f"{fmt} clips play at most {WEB_MAX_FPS} frames per second (browsers slow "
                         f"shorter frames down); got fps {fps:g}")


def _range(name: str, value: Any, lo: float, hi: float) -> None:
    if value is not None and not (lo <= value <= hi):
        raise InputError(f"{name} must be between {lo} and {hi}; got {value}")


_TYPES = {f.name: f.type for f in fields(AnimateRequest)}


def _coerce(name: str, value: Any) -> Any:
    """Accept the JSON types a client may send; refuse anything else."""
    kind = _TYPES[name]
    if "bool" in kind:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise InputError(f"{name} must be true or false; got {value!r}")
    if "int" in kind:
        if isinstance(value, bool):
            raise InputError(f"{name} must be a whole number; got {value!r}")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        if isinstance(value, int):
            return value
        raise InputError(f"{name} must be a whole number; got {value!r}")
    if "float" in kind:
        if isinstance(value, bool):
            raise InputError(f"{name} must be a number; got {value!r}")
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a number; got {value!r}") from None
        if out != out or out in (float("inf"), float("-inf")):
            raise InputError(f"{name} must be a finite number; got {value!r}")
        return out
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string; got {value!r}")
    return value
