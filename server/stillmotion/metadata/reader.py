"""`read(photo)`: everything the pipeline uses from a photo's metadata, in one object."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import descriptive as descriptive_mod, develop as develop_mod, values
from .descriptive import Descriptive
from .develop import DevelopSettings
from .sources import DEFAULT_MAX_XMP_BYTES, Sources, gather

MAX_PROMPT_CHARS = 2000  # same bound as AnimateRequest.prompt


@dataclass
class PhotoMetadata:
    develop: DevelopSettings = field(default_factory=DevelopSettings)
    descriptive: Descriptive = field(default_factory=Descriptive)
    per_photo_prompt: str | None = None   # stillmotion:prompt, or the plug-in's "stillmotionPrompt"
    document_id: str | None = None        # xmpMM:DocumentID of the photo
    sources: list[str] = field(default_factory=list)  # what was read, weakest first
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types (tuples become lists); what `stillmotion inspect` prints."""
        return _jsonable(dataclasses.asdict(self))


def read(photo_path: str | Path, *, sidecar: Path | None = None, develop: Mapping[str, Any] | None = None,
         max_xmp_bytes: int = DEFAULT_MAX_XMP_BYTES, discover_sidecar: bool = True) -> PhotoMetadata:
    """Read and merge a photo's metadata: EXIF < embedded XMP < sidecar < plug-in develop JSON.

    The sidecar is `sidecar` if given (a broken one is an InputError), else one found
    beside the photo (a broken one is a warning). Unparseable values are warnings.
    """
    from ..photo import check_is_file

    photo = Path(photo_path)
    check_is_file(photo)   # a folder, a missing name, a device: the same lines as `animate`
    sources = gather(photo, sidecar=Path(sidecar) if sidecar is not None else None, develop=develop,
                     max_xmp_bytes=max_xmp_bytes, discover_sidecar=discover_sidecar)
    return from_sources(sources)


def from_sources(sources: Sources) -> PhotoMetadata:
    warnings = list(sources.warnings)
    meta = PhotoMetadata(
        develop=develop_mod.parse(sources, warnings),
        descriptive=descriptive_mod.parse(sources, warnings),
        per_photo_prompt=_prompt(sources, warnings),
        document_id=_text_field(sources, "xmpMM:DocumentID", warnings),
        sources=list(sources.used),
    )
    meta.warnings = warnings
    return meta


def _text_field(sources: Sources, key: str, warnings: list[str]) -> str | None:
    found = sources.get(key)
    if found is None:
        return None
    try:
        return values.text(found.value).strip() or None
    except ValueError as exc:
        warnings.append(f"{key} ({found.origin}): {exc}; ignored")
        return None


def _prompt(sources: Sources, warnings: list[str]) -> str | None:
    prompt = _text_field(sources, "stillmotion:prompt", warnings)
    if prompt is not None and len(prompt) > MAX_PROMPT_CHARS:
        warnings.append(f"stillmotion:prompt is longer than {MAX_PROMPT_CHARS} characters; cut")
        prompt = prompt[:MAX_PROMPT_CHARS]
    return prompt


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
