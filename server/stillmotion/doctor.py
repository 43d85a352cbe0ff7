"""`stillmotion doctor`: what this machine can do, in one report."""

from __future__ import annotations

import platform
import sys
from typing import Any

from . import __version__, paths


def _torch() -> dict[str, Any]:
    try:
        import torch
    except ImportError as exc:
        return {"installed": False, "error": str(exc)}
    device = "cpu"
    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        device = "mps (Apple Silicon)"
    return {"installed": True, "version": torch.__version__, "device": device,
            "threads": torch.get_num_threads()}


def _codecs() -> dict[str, bool]:
    import av

    out = {}
    for name in ("libx264", "libx265", "prores_ks", "libwebp_anim"):
        try:
            av.codec.Codec(name, "w")
            out[name] = True
        except Exception:
            out[name] = False
    return out


def report() -> dict[str, Any]:
    from . import config as config_mod, engines

    try:
        cfg = config_mod.load()
        config_info: dict[str, Any] = {"ok": True, "sources": cfg.sources}
    except Exception as exc:  # a broken config is exactly what doctor must show
        cfg, config_info = None, {"ok": False, "error": str(exc)}
    return {
        "stillmotion": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": _torch(),
        "codecs": _codecs(),
        "engines": [vars(s) for s in engines.statuses(cfg)],
        "config": config_info,
        "folders": {"config": str(paths.config_dir()), "data": str(paths.data_dir()),
                    "models": str(paths.models_dir())},
    }


def render(data: dict[str, Any]) -> str:
    torch = data["torch"]
    lines = [
        f"Stillmotion {data['stillmotion']} on Python {data['python']} ({data['platform']})",
        ("torch " + torch["version"] + f", device: {torch['device']}") if torch.get("installed")
        else f"torch: not installed ({torch.get('error')})",
        "codecs: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in data["codecs"].items()),
        "engines:",
    ]
    for eng in data["engines"]:
        lines.append(f"  {eng['name']:10} {'usable' if eng['usable'] else 'not usable':11} {eng['reason']}")
    cfg = data["config"]
    lines.append("config: " + (", ".join(cfg["sources"]) if cfg["ok"] else f"ERROR {cfg['error']}"))
    for name, folder in data["folders"].items():
        lines.append(f"{name} folder: {folder}")
    return "\n".join(lines)
