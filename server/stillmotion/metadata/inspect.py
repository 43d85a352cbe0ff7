"""`stillmotion inspect`: the metadata exactly as the pipeline reads it, and the profile,
engine and prompt a plain `stillmotion animate PHOTO` would use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping


def inspect_report(photo: str | Path, xmp: str | Path | None = None, *,
                   config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """JSON-ready report: develop + descriptive metadata, sources, warnings, and what a run
    without options would use: the motion profile (auto decided by the readiness analysis),
    the engine, and the prompt that engine is given (none for engines that follow no text).
    Settled by the pipeline's own `plan_job`, so the report and a run cannot disagree."""
    from .. import photo as photo_mod
    from ..jobs.pipeline import default_request, plan_job

    if config is None:
        from .. import config as config_mod
        config = config_mod.load()
    path = Path(photo)
    pixels = photo_mod.load(path, float(config.get("limits", {}).get("max_megapixels", 200)))
    plan = plan_job(pixels, default_request(config), config if isinstance(config, dict) else dict(config), path,
                    sidecar=Path(xmp) if xmp is not None else None)
    report: dict[str, Any] = {"photo": str(photo)}
    report.update(plan.meta.to_json())
    report["prompt"] = {"text": plan.prompt, "source": plan.prompt_source, "profile": plan.profile}
    report["engine"] = {"name": plan.engine.name, "reason": plan.engine_reason}
    if plan.notes:
        report["notes"] = plan.notes
    return report


def render_report(report: Mapping[str, Any]) -> str:
    """The report for reading: one `name: value` line per setting that is set (the JSON, with
    --json, lists every field, unset ones as null), nested settings indented under their group."""
    return "\n".join(line for key, value in report.items() for line in _lines(str(key), value, 0))


def _lines(name: str, value: Any, depth: int) -> list[str]:
    if value is None or value == {} or value == [] or value == "":
        return []
    pad = "  " * depth
    if isinstance(value, Mapping):
        inner = [line for key, item in value.items() for line in _lines(str(key), item, depth + 1)]
        return [f"{pad}{name}:"] + inner if inner else []
    if isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value):
        return [f"{pad}{name}: {json.dumps(value, ensure_ascii=False, default=str)}"]   # a curve's points
    if isinstance(value, list):
        return [f"{pad}{name}: {', '.join(str(v) for v in value)}"]
    return [f"{pad}{name}: {value}"]
