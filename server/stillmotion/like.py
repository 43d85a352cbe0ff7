"""`animate PHOTO --like CLIP`: the take a Stillmotion clip was made with, read from its record
(the clip's XMP), as the settings of a new run; an option given on the command line overrides
the record's. What keeps the new clip from being the same take (another engine revision, a
model not installed here, another photo) is said in a note."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from . import engines
from .digests import file_digest
from .errors import EngineUnavailable, InputError, StillmotionError
from .metadata import values
from .metadata.record import read_clip_record
from .request import WEB_MAX_FPS, AnimateRequest

# The settings that decide the take: record name -> (request field, parser). Delivery (format,
# codec, size) is not the take: it comes from the command line and the config, as for any clip.
TAKE: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "engine": ("engine", values.text),
    "model": ("model", values.text),
    "seed": ("seed", values.integer),
    "profile": ("profile", values.text),
    "motion": ("motion", values.number),
    "camera": ("camera", values.text),
    "anchor": ("anchor", values.text),
    "loop": ("loop", values.boolean),
    "duration": ("duration", values.number),
    "fps": ("fps", values.number),
    "prompt": ("prompt", values.text),
    "negative_prompt": ("negative_prompt", values.text),
    "colour/match": ("colour_match", values.boolean),
    "colour/style_consistency": ("style_consistency", values.number),
    "aspect": ("aspect", values.text),
}


@dataclass
class Like:
    clip: Path
    fields: dict[str, Any]                             # AnimateRequest fields, overrides applied
    notes: list[str] = field(default_factory=list)     # why the take will not be the same
    photo_sha256: str | None = None                    # the photo the clip was made from

    def photo_note(self, photo: Path) -> str | None:
        """A note when `photo` is not the file the clip was made from (a re-exported photo with
        new grading is a fair use: its pixels, the take's settings)."""
        if not self.photo_sha256 or not photo.is_file():
            return None      # (a named pipe would be read for good: the job refuses what is no file)
        try:
            if file_digest(photo) == self.photo_sha256:
                return None
        except OSError:      # (the job says what is wrong with the photo)
            return None
        return (f"the photo is not the one {self.clip.name} was made from (its SHA-256 differs: another "
                "photo, or this one exported again): the take's settings are used on this one")


def like(clip: Path, given: Mapping[str, Any], config: Mapping[str, Any]) -> Like:
    """The request fields for a run like `clip`'s take: its record's, then `given` (the options
    typed, None where not given) over them."""
    max_bytes = int(float(config.get("limits", {}).get("max_xmp_mb", 16)) * 1024 * 1024)
    record = read_clip_record(clip, max_bytes)
    taken: dict[str, Any] = {}
    for name, (field_name, parse) in TAKE.items():
        if name in record:
            try:
                taken[field_name] = parse(record[name])
            except ValueError as exc:
                raise InputError(f"{clip}: its record's {name} ({record[name]!r}): {exc}") from None
    try:
        AnimateRequest.from_dict(taken)
    except InputError as exc:
        raise InputError(f"{clip}: its record: {exc}") from None

    typed = {key: value for key, value in given.items() if value is not None}
    if "model" in typed and "engine" not in typed:
        typed["engine"] = "auto"           # a --model brings its own engine
    same_engine = typed.get("engine", taken["engine"]) == taken["engine"]
    if taken["engine"] == "parallax" or not same_engine:
        taken.pop("model", None)           # (parallax records its own name; another engine, other models)
    fields = {**taken, **typed}
    _drop_unfollowed(fields, taken, typed, config)
    _check_rate_fits(clip, fields, typed, config)

    notes = []
    if same_engine and "model" not in typed:
        notes.extend(_revision_notes(clip.name, record, fields["engine"], fields.get("model"), config))
    return Like(clip=clip, fields=fields, notes=notes, photo_sha256=record.get("photo_sha256"))


def _drop_unfollowed(fields: dict[str, Any], taken: Mapping[str, Any], typed: Mapping[str, Any],
                     config: Mapping[str, Any]) -> None:
    """The record's settings the engine that will run does not follow (a prompt for parallax,
    a camera for SVD, style consistency for parallax, the anchor of a loop): left out, so that
    the run does not say the photographer's settings went unused; typed ones stay."""
    try:
        status = engines.choose(fields["engine"], config, model=fields.get("model"))[0].status()
    except StillmotionError:
        status = None                      # (the job says why it cannot run)
    unfollowed = set()
    if status is not None:
        unfollowed |= {"prompt", "negative_prompt"} if not status.prompt else set()
        unfollowed |= {"camera"} if not status.camera else set()
        unfollowed |= {"style_consistency"} if status.colour_exact else set()
    if fields.get("loop"):
        unfollowed.add("anchor")           # (a loop starts on the photo)
    for name in unfollowed:
        if name in taken and name not in typed:
            fields.pop(name, None)


def _check_rate_fits(clip: Path, fields: Mapping[str, Any], typed: Mapping[str, Any],
                     config: Mapping[str, Any]) -> None:
    """A take's rate that the format asked for cannot play (a 60 fps MP4 take as a WebP) is
    refused naming the take: the request's own line said "got fps 60" to one who typed none."""
    fmt = fields.get("format") or config.get("animate", {}).get("format")
    fps = fields.get("fps")
    if "fps" not in typed and fmt in ("gif", "webp") and fps is not None and fps > WEB_MAX_FPS:
        raise InputError(f"{clip}: its take is {fps:g} fps, and {fmt} clips play at most {WEB_MAX_FPS} "
                         f"frames per second (browsers slow shorter frames down): give --fps {WEB_MAX_FPS} "
                         "or less, or another --format")


def _revision_notes(clip_name: str, record: Mapping[str, Any], engine: str, model: str | None,
                    config: Mapping[str, Any]) -> list[str]:
    """Whether the engine (or model) here is the one the clip's record names."""
    recorded = record.get("revision")
    if engine == "parallax":
        from .engines.parallax import REVISION

        if recorded and recorded != REVISION:
            return [f"{clip_name} was made by parallax engine revision {recorded}, and this is revision "
                    f"{REVISION}: the same settings make a different take"]
        return []
    from .engines.models import pull_command, resolve

    try:
        here = resolve(model, engine, config).revision
    except (EngineUnavailable, InputError):
        shown = model or f"the {engine} engine's model"
        if model is None or Path(model).expanduser().is_absolute() or model.startswith("."):
            how = "see `stillmotion models list`"     # (a folder that is gone: no download brings it)
        else:
            how = f"`{pull_command(model)}`"
        return [f"{clip_name} was made with {shown}, which is not installed here: its take cannot be made "
                f"again until it is ({how})"]
    if recorded and here and recorded != here:
        return [f"{clip_name} was made with {model} at revision {recorded}, and here it is at revision {here}: "
                "the same settings may make a different take"]
    return []
