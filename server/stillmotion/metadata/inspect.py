"""`stillmotion inspect`: the metadata exactly as the pipeline reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .. import profiles
from .job import read_for_job
from .prompt import choose_prompt


def inspect_report(photo: str | Path, xmp: str | Path | None = None, *,
                   config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """JSON-ready report: develop + descriptive metadata, sources, warnings, and the prompt
    the pipeline would choose without a --prompt (for the configured profile)."""
    if config is None:
        from .. import config as config_mod
        config = config_mod.load()
    meta = read_for_job(photo, config, sidecar=Path(xmp) if xmp is not None else None)
    animate = config.get("animate", {})
    profile = profiles.PROFILES.get(str(animate.get("profile", "auto")), profiles.GENERIC)
    prompt, source = choose_prompt(None, meta, profile, bool(animate.get("caption_as_prompt", True)))
    report: dict[str, Any] = {"photo": str(photo)}
    report.update(meta.to_json())
    report["prompt"] = {"text": prompt, "source": source, "profile": profile.name}
    return report
