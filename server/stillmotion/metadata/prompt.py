"""Which prompt a clip gets, and why."""

from __future__ import annotations

import re

from ..profiles import Profile
from .reader import MAX_PROMPT_CHARS, PhotoMetadata

# Where the prompt came from, as recorded in the clip's metadata and job info.
REQUEST, PHOTO, CAPTION, PROFILE = "request", "photo", "caption", "profile"


def choose_prompt(request_prompt: str | None, meta: PhotoMetadata | None, profile: Profile,
                  caption_as_prompt: bool) -> tuple[str, str]:
    """(prompt, source), first that is set of:

    1. the request's prompt (CLI --prompt, API settings.prompt)
    2. the photo's own prompt (plug-in per-photo field / stillmotion:prompt in XMP)
    3. the caption (dc:description), when [animate] caption_as_prompt is on
    4. the motion profile's default motion description
    """
    candidates = [(request_prompt, REQUEST)]
    if meta is not None:
        candidates.append((meta.per_photo_prompt, PHOTO))
        if caption_as_prompt:
            candidates.append((meta.descriptive.caption, CAPTION))
    for text, source in candidates:
        cleaned = _clean(text)
        if cleaned:
            return cleaned, source
    return profile.motion_description, PROFILE


def _clean(text: str | None) -> str:
    """Collapse whitespace/newlines (captions are often multi-line) and bound the length."""
    if not text:
        return ""
    return re.sub(r"\s+", " ", text).strip()[:MAX_PROMPT_CHARS]
