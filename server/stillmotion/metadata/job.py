"""The metadata steps of a job, as the pipeline calls them (one line each there)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .. import __version__
from .reader import PhotoMetadata, read
from .writer import write_clip_metadata

if TYPE_CHECKING:
    from ..video.settings import EncodeSettings


def read_for_job(photo: str | Path, config: Mapping[str, Any], *, sidecar: Path | None = None,
                 develop: Mapping[str, Any] | None = None) -> PhotoMetadata:
    """`read` with the limits and switches from config ([limits] max_xmp_mb, [metadata])."""
    limits, settings = config.get("limits", {}), config.get("metadata", {})
    return read(photo, sidecar=sidecar, develop=develop,
                max_xmp_bytes=int(float(limits.get("max_xmp_mb", 16)) * 1024 * 1024),
                discover_sidecar=bool(settings.get("discover_sidecar", True)))


def provenance(request: Any, *, engine: str, seed: int, frames: int, fps: float, size: tuple[int, int],
               prompt: str | None, prompt_source: str, engine_info: Mapping[str, Any] | None = None,
               colour: Mapping[str, Any] | None = None, look: Mapping[str, Any] | None = None,
               encoding: EncodeSettings, photo_sha256: str | None = None,
               notes: list[str] | None = None) -> dict[str, Any]:
    """Every setting needed to make the clip again, from the resolved AnimateRequest and the run.

    `look`: the grain and vignette put on every frame; `encoding`: the EncodeSettings, whose crf,
    preset and thread count decide an H.264 clip's decoded pixels; `photo_sha256`: the file animated;
    `notes`: what the run told the user (a setting not used, the photo's crop not applied), kept
    with the clip for whoever gets it without the terminal or the job's report.
    """
    info = dict(engine_info or {})
    return {
        "engine": engine,
        "model": request.model or info.pop("model", None),
        "revision": info.pop("revision", None),
        "seed": seed,
        "frames": frames,
        "fps": fps,
        "duration": request.duration,
        "size": list(size),
        "profile": request.profile,
        "motion": request.motion,
        "camera": request.camera,
        "anchor": request.anchor,
        "loop": request.loop,
        "prompt": prompt,
        "prompt_source": prompt_source,
        "negative_prompt": request.negative_prompt if prompt else None,
        "colour": {"match": request.colour_match, "style_consistency": request.style_consistency,
                   **dict(colour or {})},
        "aspect": request.aspect,
        **encoding_record(encoding),
        "look": dict(look) if look else None,
        "engine_info": info or None,
        "notes": list(notes) if notes else None,
        "photo_sha256": photo_sha256,
        "software_version": __version__,
    }


def encoding_record(encoding: EncodeSettings) -> dict[str, Any]:
    """How a clip is encoded, as its record says it (`provenance`, and `match` rewriting a
    record for its result): format and codec, and for an MP4 the crf, preset, encoder threads
    and transfer tag, which decide its decoded pixels and how players show them (None for
    the others: a ProRes .mov has none of them, a GIF no codec)."""
    lossy = encoding.fmt == "mp4"
    return {
        "format": encoding.fmt,
        "codec": encoding.codec_name if encoding.fmt in ("mp4", "mov") else None,
        "crf": encoding.crf if lossy else None,
        "preset": encoding.preset if lossy else None,
        "encoder_threads": encoding.threads if lossy else None,
        "transfer": encoding.transfer if lossy else None,   # the MP4's transfer tag (sRGB or BT.709)
    }


def write_for_job(video_tmp: Path, sidecar_tmp: Path, meta: PhotoMetadata | None,
                  settings: Mapping[str, Any], config: Mapping[str, Any], *,
                  original_path: str | os.PathLike) -> dict[str, Path]:
    """Embed the clip's XMP in `video_tmp` and write `sidecar_tmp`, as [metadata] says.

    Returns the extra temporaries to place beside the clip ({".xmp": sidecar_tmp} or {}).
    """
    want_sidecar, embed = packet_switches(config)
    write_clip_metadata(video_tmp, sidecar_tmp if want_sidecar else None, meta, settings,
                        original_path=original_path, embed=embed,
                        carry_gps=carries_place(config))
    return {".xmp": sidecar_tmp} if want_sidecar else {}


def packet_switches(config: Mapping[str, Any]) -> tuple[bool, bool]:
    """([metadata] write_sidecar, embed_in_video): where a clip's XMP packet goes."""
    switches = config.get("metadata", {})
    return bool(switches.get("write_sidecar", True)), bool(switches.get("embed_in_video", True))


def carries_place(config: Mapping[str, Any]) -> bool:
    """[metadata] carry_gps: whether a clip's metadata says where its photo was taken."""
    return bool(config.get("metadata", {}).get("carry_gps", True))
