"""The job pipeline: the one place where the stages are strung together.

    prepare -> generate -> colour -> finish -> encode -> place

It reads top to bottom like the algorithm. Frames stream from the engine through
colour matching and finishing into the encoder, so a job never holds the whole
clip. The CLI, the daemon's worker and the watch folders all call `run_job`.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import cv2
import numpy as np

from .. import __version__, config as config_mod, engines, metadata, photo as photo_mod, profiles, readiness
from ..digests import file_digest
from ..progress import CancelToken, ProgressSink, null_progress
from ..colour.look import LookSettings, apply_look, remove_look
from ..colour.match import match_frames
from ..place import check_destination, place_group, remove_temp, sweep_abandoned, temp_path, write_failure
from ..request import AnimateRequest
from ..video.aspect import RATIOS, box_in_window, subject_window
from ..video.encode import SUFFIX, EncodeSettings, check_frame_size, encode, even_size
from ..video.finish import FinishSettings, finish_clip
from . import placement
from .prefetch import prefetch
from .spec import JobResult, JobSpec

SIZE_SHORT_EDGE = {"1080p": 1080, "1440p": 1440, "2160p": 2160}


WEB_FORMATS = ("gif", "webp")    # formats for web pages and messages: sized by [output] web_long_edge


def _out_and_back(frames: Iterator[np.ndarray], n_frames: int,
                  match: Callable[[Iterator[np.ndarray], int], Iterator[np.ndarray]]) -> Iterator[np.ndarray]:
    """A clip played out and back (a loop from a model that cannot end on the photo), matched:
    the way out is matched, and the way back is it, played backwards. Matched whole, each frame
    of the way back was corrected with other neighbours than its twin on the way out, and the
    loop's last frame was not its first (up to 17 levels apart on SVD). The way out is held
    (the way back replays it); each frame goes out as a copy of its own, as later stages may
    change the frames they are given in place."""
    out_frames = (n_frames + 1) // 2
    matched = [frame.copy() for frame in match(itertools.islice(frames, out_frames), out_frames)]
    for _ in frames:   # the way back, as the model made it: not needed
        pass
    for index in [*range(out_frames), *range(n_frames - out_frames - 1, -1, -1)]:
        yield matched[index].copy()


def delivery_size(width: int, height: int, request: AnimateRequest, output_cfg: dict) -> tuple[int, int]:
    """The clip's size: --size (short edge) or [output] long_edge (web_long_edge for GIF and
    animated WebP). Without --size it is never above the source unless [output]
    upscale_beyond_source; an explicit --size is the user's request and is delivered as asked
    (a 400 px photo at --size 1080p comes out 1080 px, upscaled). With --aspect, scaled sizes
    take the preset's exact shape: a photo cropped to 9:16 is a pixel or so off it (168x300 px),
    and at --size 1080p that made 1080x1916, not the 1080x1920 a platform asks for."""
    aspect = RATIOS.get(request.aspect, width / height)
    if request.size == "source":
        w, h = width, height
    elif request.size in SIZE_SHORT_EDGE:
        short = SIZE_SHORT_EDGE[request.size]
        w, h = (round(short * aspect), short) if width >= height else (short, round(short / aspect))
    else:
        long_edge = int(output_cfg.get("long_edge", 1920))
        if request.format in WEB_FORMATS:   # a 2 s GIF at 1696 px was 57 MB; at 960 px ~ a third
            long_edge = min(long_edge, int(output_cfg.get("web_long_edge", 960)))
        ratio = aspect if width >= height else 1.0 / aspect     # long side / short side
        short = _even(long_edge / ratio)
        if short < readiness.MIN_EDGE:
            # A long thin strip keeps a legible short side (a 5000x16 one at 320 px was 320x1,
            # then stretched to the 2 px the codec needs); the long side follows, the photo's at most.
            short, long_edge = readiness.MIN_EDGE, round(readiness.MIN_EDGE * ratio)
        w, h = (long_edge, short) if width >= height else (short, long_edge)
    if not output_cfg.get("upscale_beyond_source", False) and request.size is None and max(w, h) > max(width, height):
        w, h = width, height
    return even_size(w, h)


def _even(length: float) -> int:
    """The even number of pixels nearest `length`: rounded, then down to even, a 53.3 px side was
    52 (2.5 % squashed) where 54 is 1.2 % off."""
    return 2 * round(length / 2)


def trim_to_even(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """The photo without the odd last column or row the delivery size leaves out (yuv420p wants
    even sides). Resampling 1697 px to 1696 instead interpolated every pixel: the clip's anchor
    frame, meant to be the photo, lost ~40% of its fine detail (variance of the Laplacian)."""
    extra_w, extra_h = pixels.shape[1] - width, pixels.shape[0] - height
    if 0 <= extra_w <= 1 and 0 <= extra_h <= 1:
        return np.ascontiguousarray(pixels[:height, :width])
    return pixels


# What an engine found out while running that the user should hear: a loop played out and back
# for want of a first-last-frame model, a caption cut to the model's text encoder.
ENGINE_NOTES = ("model_note", "prompt_note")


@dataclass
class JobPlan:
    """What a job settles before it renders: the profile, every setting, the prompt, the engine."""
    request: AnimateRequest          # resolved: every field set, for the concrete profile
    profile: str                     # the motion profile used (auto decided; "generic" if none fits)
    fit: Any                         # the readiness analysis (profile for auto, subject, faces)
    meta: Any                        # the photo's metadata (metadata.PhotoMetadata)
    prompt: str | None               # what the engine is given; None for engines that follow no text
    prompt_source: str
    engine: Any
    engine_reason: str
    notes: list[str] = field(default_factory=list)   # things the user should know (an unused prompt)


def plan_job(photo: photo_mod.Photo, request: AnimateRequest, config: dict, photo_path: Path, *,
             sidecar: Path | None = None, develop: dict | None = None) -> JobPlan:
    """Settle a job's profile, settings, prompt and engine, as `run_job` renders it and as
    `stillmotion inspect` reports it (one function, so that the two cannot disagree)."""
    # The readiness analysis picks the profile for --profile auto, and finds the subject and
    # faces that aspect crops and the parallax depth estimate keep in view (~10 ms at 1 MP).
    fit = readiness.analyze(photo)
    profile_name = fit.suggested_profile if request.profile == "auto" else request.profile
    asked = request
    request = request.resolve(profile_name, config.get("animate", {}),
                              preferred=config_mod.user_values(config, "animate"))
    meta = metadata.read_for_job(photo_path, config, sidecar=sidecar, develop=develop)
    profile = profiles.PROFILES.get(profile_name, profiles.GENERIC)
    prompt, prompt_source = metadata.choose_prompt(
        request.prompt, meta, profile, bool(config.get("animate", {}).get("caption_as_prompt", True)))
    engine, why = engines.choose(request.engine, config, model=request.model)
    notes: list[str] = []
    if photo.transparent:
        notes.append("the photo's transparency was not kept (a clip has none): its see-through areas "
                     "show the colour stored under them")
    if photo.gain_map:
        notes.append("its HDR gain map was not used: the clip is the photo's SDR rendition "
                     "(Stillmotion makes SDR clips)")
    status = engine.status()
    if not status.prompt:
        # Parallax and SVD follow no text: recording a prompt would claim it shaped the clip.
        if prompt_source in (metadata.prompt.REQUEST, metadata.prompt.PHOTO):   # a person's words
            notes.append(f"the prompt was not used: the {engine.name} engine follows no text prompt")
        prompt, prompt_source = None, "none: the engine follows no prompt"
    notes.extend(unused_settings(asked, status))
    made = request.n_frames / request.fps
    if made > 1.25 * request.duration:   # (a clip has at least two frames)
        notes.append(f"the clip lasts {made:g} s, not the {request.duration:g} s asked: a clip has at least "
                     f"two frames, which at {request.fps:g} fps take {made:g} s")
    if _crop_not_in_pixels(meta.develop):
        notes.append("its Lightroom crop was not applied: the photo's XMP says its pixels are the original "
                     "(AlreadyApplied false), so the clip shows the whole uncropped frame; export the photo "
                     "from Lightroom to animate it cropped")
    if _rotation_not_in_pixels(meta.develop, photo):
        notes.append(f"its Lightroom rotation was not applied: the photo's XMP turns it (orientation "
                     f"{meta.develop.orientation}) but its pixels are the original (AlreadyApplied false) and "
                     "its EXIF does not, so the clip shows the photo as stored; export the photo from "
                     "Lightroom to animate it as you see it there")
    return JobPlan(request=request, profile=profile.name, fit=fit, meta=meta, prompt=prompt, prompt_source=prompt_source,
                   engine=engine, engine_reason=why, notes=notes)


def _crop_not_in_pixels(develop: Any) -> bool:
    """A Lightroom crop in the settings of a photo whose pixels do not carry them: nothing
    here renders a crop, so the clip shows the whole original frame."""
    crop = develop.crop
    if develop.already_applied is not False or not crop.has_crop:
        return False
    edges = (crop.top or 0.0, crop.left or 0.0, 1.0 - (crop.bottom or 1.0), 1.0 - (crop.right or 1.0))
    return max(edges) > 1e-3 or abs(crop.angle or 0.0) > 1e-3


def _rotation_not_in_pixels(develop: Any, photo: photo_mod.Photo) -> bool:
    """A Lightroom rotation (or flip) in the XMP of a photo whose pixels do not carry it: the photo
    is turned by its EXIF orientation only, which Lightroom's rotation of a JPEG may leave as it was."""
    if develop.already_applied is not False or develop.orientation is None:
        return False
    return develop.orientation != photo.orientation


def unused_settings(asked: AnimateRequest, status: engines.EngineStatus) -> list[str]:
    """Notes for settings the user gave (not the profile's or the config's) that this engine
    cannot act on: said, as an unused prompt is, rather than silently dropped."""
    notes = []
    if asked.camera is not None and not status.camera:
        notes.append(f"the camera setting ({asked.camera}) was not used: the {status.name} engine takes no "
                     "camera direction, only the amount of motion")
    if asked.style_consistency is not None and status.colour_exact:
        notes.append(f"the style consistency ({asked.style_consistency:g}) was not used: a {status.name} clip "
                     "is the photo's own pixels, moved, so it keeps the photo's colour at any setting")
    if asked.loop and asked.anchor == "end":   # (every engine starts a loop on the photo)
        notes.append("the anchor setting (end) was not used: a loop starts on the photo and plays "
                     "seamlessly back into it")
    return notes


def look_record(look: LookSettings, config: Mapping[str, Any], *, removed: bool) -> dict[str, Any] | None:
    """The photo's grain and vignette as put on every frame (None: neither), for the clip's XMP:
    they come from develop settings that may be in no file (the plug-in's JSON), yet shape the pixels."""
    switches = config.get("look", {})
    kept = [prefix for prefix, on, present in (("grain_", switches.get("grain", True), look.has_grain),
                                               ("vignette_", switches.get("vignette", True), look.has_vignette))
            if on and present]
    if not kept:
        return None
    record: dict[str, Any] = {name: value for name, value in dataclasses.asdict(look).items()
                              if name.startswith(tuple(kept))}
    record["removed_from_photo"] = removed     # taken off the photo before animating, then put back
    return record


def default_request(config: Mapping[str, Any]) -> AnimateRequest:
    """The request of a plain `stillmotion animate PHOTO`: engine and profile from [animate]."""
    animate = config.get("animate", {})
    return AnimateRequest.from_dict({"engine": animate.get("engine", "auto"),
                                     "profile": animate.get("profile", "auto")})


def warm_up() -> None:
    """Do now the one-off work of a process's first run_job (~0.1 s on an idle machine): import
    the engines (its `auto` choice imports them all) and build OpenCV's 8-bit Lab tables (the
    readiness grid's first conversion). A render process does it before it lowers its priority:
    at idle priority on a busy machine, its first job waited seconds for it."""
    engines.import_all()
    cv2.cvtColor(np.zeros((1, 1, 3), np.uint8), cv2.COLOR_RGB2Lab)


def run_job(spec: JobSpec, config: dict, *, progress: ProgressSink = null_progress,
            cancel: CancelToken | None = None,
            placed: Callable[[list[Path]], None] | None = None,
            chose: Callable[[str], None] | None = None) -> JobResult:
    """Render `spec`; `placed(paths)` hears each variant's files (clip, then sidecar) as soon as
    they are in place, so the CLI prints a clip's path then, not once every variant is done;
    `chose(why)` hears which engine renders it and why, before it renders (the CLI said it
    after the clip, so the user learnt at the end what had been running)."""
    cancel = cancel or CancelToken()
    result = JobResult()
    limits, output_cfg = config.get("limits", {}), config.get("output", {})

    # -- prepare: decode the photo, read its metadata, settle every setting --------
    progress("prepare", 0.0)
    destination = spec.destination
    check_destination(destination)    # before any work: a wrong --out says so at once
    sweep_abandoned(destination)       # what killed one-off runs left there
    photo = photo_mod.load(spec.photo_path, float(limits.get("max_megapixels", 200)))
    photo_sha256 = file_digest(spec.photo_path)      # the clip's XMP names its photo by content too
    cancel.raise_if_cancelled()
    plan = plan_job(photo, spec.request, config, spec.photo_path, sidecar=spec.sidecar_path,
                    develop=spec.develop)
    request, fit, meta, engine, why = plan.request, plan.fit, plan.meta, plan.engine, plan.engine_reason
    prompt, prompt_source, notes = plan.prompt, plan.prompt_source, [*spec.notes, *plan.notes]
    # The photo's grain and vignette come out before animation and go back on every frame
    # (fresh grain, vignette locked to the frame); only if its pixels carry them.
    look = LookSettings.from_develop(meta.develop)
    # Held as `pixels` from here on, and only so: the photo's look removed (or its odd edge
    # trimmed) is a new array, and the photo's own pixels, kept beside it to the end of the job,
    # were a second full-size copy (1.15 GB more through the render of a 100 MP photo).
    pixels = photo.pixels
    del photo
    look_removed = getattr(meta.develop, "already_applied", None) is not False
    if look_removed:
        pixels = remove_look(pixels, look, config)
    # --aspect: every engine animates the photo already cut around its subject.
    full_size = (pixels.shape[1], pixels.shape[0])
    window = subject_window(pixels, request.aspect, fit.subject_box)
    pixels = pixels[window[1]:window[3], window[0]:window[2]]
    width, height = delivery_size(pixels.shape[1], pixels.shape[0], request, output_cfg)
    pixels = trim_to_even(pixels, width, height)
    check_frame_size(request.format, width, height)
    # Faces and the subject, in the cropped photo's coordinates: a 9:16 crop of a portrait once
    # went without them, and the parallax depth put the face behind most of the frame.
    faces = [box_in_window(face.box, window, full_size) for face in fit.faces]
    context: dict[str, Any] = {"target_size": (width, height), "prompt": prompt,
                               "faces": [box for box in faces if box is not None],
                               "subject_box": box_in_window(fit.subject_box, window, full_size)}
    result.info.update(prompt_source=prompt_source, metadata_warnings=meta.warnings, notes=notes,
                       readiness_score=round(fit.score, 3))
    if spec.request.profile == "auto":   # (the resolved request names the profile auto chose)
        result.info.update(profile_reason=fit.profile_reason)
    result.info.update(engine=engine.name, engine_reason=why, profile=request.profile, prompt=prompt,
                       request=request.to_dict(), seeds=request.seeds(), size=[width, height])
    progress("prepare", 1.0)

    destination.mkdir(parents=True, exist_ok=True)
    settings = EncodeSettings.from_config(request.format, request.codec, output_cfg)
    finish_settings = FinishSettings.from_config(config.get("finish", {}))
    if chose is not None and why:   # (once every check has passed: the render starts now)
        chose(why)
    job_notes = list(notes)   # (before any take's: each clip's record has the job's and its own)
    try:
        for variant, seed in enumerate(request.seeds()):
            def stage(name: str, frac: float, _v: int = variant) -> None:
                progress(name, (_v + frac) / request.variants)

            # A rerun after a crash that came just after this variant was placed: take that clip.
            earlier = placement.recall(destination, spec.temp_tag, variant, spec.stem)
            if earlier is not None:
                result.outputs.extend(earlier.values())
                if placed:
                    placed(list(earlier.values()))
                result.info.setdefault("variants", []).append(
                    {"seed": seed, "outputs": [str(p) for p in earlier.values()], "recovered": True})
                stage("place", 1.0)
                continue

            def streamed(*names: str, fraction: float) -> None:
                """Colour, finishing and encoding advance together, frame by frame."""
                for name in names:
                    stage(name, fraction)

            # -- generate -------------------------------------------------------------
            # Engines that render frames on demand (parallax) keep reporting "generate"
            # while the encoder pulls their frames.
            clip = engine.generate(pixels, request, seed=seed, progress=lambda f: stage("generate", f),
                                   cancel=cancel, context=context)
            frames: Iterator[np.ndarray] = clip.frames
            take_notes = [clip.info[key] for key in ENGINE_NOTES if clip.info.get(key)]
            notes.extend([n for n in take_notes if n not in notes])   # said once per job, not per variant
            # Its XMP's: the job's, and its own take's (a take's move, may it strobe, is its own).
            clip_notes = job_notes + [n for n in take_notes if n not in job_notes]

            # -- colour / finish (streamed) -------------------------------------------
            # Held to the photo's colour: one fitted transform, steady over time.
            colour_info: dict[str, Any] = {}
            matching = request.colour_match and config.get("colour", {}).get("enabled", True)
            if matching and clip.colour_exact:
                colour_info = {"colour_method": "exact"}   # the photo's own pixels: nothing to hold
            elif matching:
                def match(part: Iterator[np.ndarray], count: int) -> Iterator[np.ndarray]:
                    return match_frames(part, pixels, strength=float(request.style_consistency or 0.0),
                                        anchor_index=clip.anchor_index, n_frames=count, config=config,
                                        info=colour_info)
                if clip.info.get("placement") == "pingpong":
                    frames = _out_and_back(frames, clip.n_frames, match)
                else:
                    frames = match(frames, clip.n_frames)
            # Delivery size and rate with the photo's own detail; a no-op for a clip already
            # there (parallax). Its frames are rendered as the encoder pulls them.
            clip = finish_clip(dataclasses.replace(clip, frames=frames), photo=pixels, target_size=(width, height),
                               target_fps=float(request.fps), n_frames=request.n_frames,
                               settings=finish_settings, cancel=cancel)
            frames = apply_look(clip.frames, look, seed=seed, config=config)

            # -- encode into a hidden temporary beside the destination ----------------
            video_tmp = temp_path(destination, SUFFIX[request.format], spec.temp_tag)
            xmp_tmp = temp_path(destination, ".xmp", spec.temp_tag)
            ahead = prefetch(frames, depth=2)
            try:
                count = encode(ahead, video_tmp, width=clip.width, height=clip.height,
                               fps=clip.fps, settings=settings, n_frames=clip.n_frames,
                               progress=lambda f: streamed("colour", "finish", "encode", fraction=f),
                               cancel=cancel)
                cancel.raise_if_cancelled()
                # -- metadata: the clip's XMP, embedded and as a sidecar ------------------
                settings_used = metadata.provenance(
                    request, engine=engine.name, seed=seed, frames=count, fps=clip.fps,
                    size=(clip.width, clip.height), prompt=prompt, prompt_source=prompt_source,
                    engine_info=clip.info, colour=colour_info,
                    look=look_record(look, config, removed=look_removed), encoding=settings,
                    photo_sha256=photo_sha256, notes=clip_notes)
                extra = metadata.write_for_job(video_tmp, xmp_tmp, meta, settings_used, config,
                                               original_path=spec.original_path or spec.photo_path)
                # -- place: atomic, never overwriting -----------------------------------
                temps = {SUFFIX[request.format]: video_tmp, **extra}
                placement.record(destination, spec.temp_tag, variant, temps)
                in_place = place_group(temps, destination, spec.stem)
            except BaseException as exc:
                # The frames being rendered ahead stop now, not when the error's traceback lets go
                # of them: at the exit of a one-off run their threads were still in OpenCV, and the
                # process aborted ("terminate called without an active exception", status 134).
                ahead.close()
                remove_temp(video_tmp)
                xmp_tmp.unlink(missing_ok=True)
                what = f"the clip of {spec.photo_path.name}"
                if request.variants > 1:     # (the takes before it are in place: this one left nothing)
                    what = f"take {variant + 1} of {request.variants} of {spec.photo_path.name}"
                failure = write_failure(exc, destination, what)
                if failure is not None:
                    raise failure from exc
                raise
            stage("place", 1.0)
            result.outputs.extend(in_place.values())
            result.info.setdefault("variants", []).append(
                {"seed": seed, "frames": count, "fps": clip.fps, "anchor_index": clip.anchor_index,
                 "outputs": [str(p) for p in in_place.values()], **clip.info})
            if placed:
                placed(list(in_place.values()))
    except BaseException as exc:   # (KeyboardInterrupt: Ctrl-C or SIGTERM, the CLI)
        # Variants placed before a stop or a failure (a disk that filled at the third take)
        # are kept: listed, not lost.
        exc.outputs = [str(p) for p in result.outputs]   # type: ignore[union-attr]
        raise
    result.info["software"] = f"Stillmotion {__version__}"
    return result
