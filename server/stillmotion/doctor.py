"""`stillmotion doctor`: what this machine can do, in one report."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

from . import __version__, paths


def _codecs() -> dict[str, bool]:
    import av

    out = {}
    for name in ("libx264", "libx265", "prores_ks", "libwebp"):
        try:
            av.codec.Codec(name, "w")
            out[name] = True
        except Exception:
            out[name] = False
    return out


def _photo_formats() -> dict[str, bool]:
    """Which photo formats open here (HEIF needs pillow-heif, whose wheel not every platform has)."""
    from PIL import Image

    from . import photo   # registers the HEIF opener when pillow-heif is there

    Image.init()
    opened = set(Image.OPEN) | set(Image.ID)
    return {name: (name in opened) for name in sorted(photo.SUPPORTED_FORMATS - {"MPO"})}


def _check_for_serve(cfg: Any) -> None:
    """What `serve` and `watch` check of the config beyond the loader: the [[watch.folders]]
    tables (checked where they are used, so a broken one does not stop `animate`). Without it
    doctor passed a config the daemon then refused to start with."""
    from .watch.settings import folders_from_config

    folders_from_config(cfg)


def _unread_configs(config_path: str | os.PathLike | None) -> list[str]:
    """Files beside where the user config is looked for, named like it, when it is not there:
    Windows Notepad saves "config.toml" as config.toml.txt (its extension hidden), and nothing
    else would say why the settings in it do nothing."""
    user = paths.user_config_file()
    if config_path is not None or user.is_file():
        return []
    try:
        return sorted(str(p) for p in user.parent.iterdir()
                      if p.name.lower().startswith("config") and p.name != user.name and p.is_file())
    except OSError:
        return []


def _suggest_models_that_fit(statuses: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """An engine with no model installed says to pull its registry default, judged without the
    device (the daemon asks often and does not probe for it). Doctor has the device: where that
    model cannot run here (a 60 GB LTX on a 24 GB laptop) it names one of the engine's models
    that can, or says none can."""
    from .engines.models import pull_command

    by_name = {row["name"]: row for row in rows}
    for status in statuses:
        named = status.get("suggested")
        if not named or named not in by_name or by_name[named]["fits"]:
            continue
        other = next((row for row in rows if row["engine"] == status["name"] and row["fits"]
                      and not row["installed"] and not row.get("loop_only")), None)
        if other is not None:
            status["reason"] = status["reason"].replace(pull_command(named), pull_command(other["name"]))
            status["suggested"] = other["name"]
        else:
            status["reason"] = (status["reason"].replace(f": run `{pull_command(named)}`", "")
                                + ": none of its models would run on this machine (see models below)")
            status["suggested"] = None


def report(config_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """`config_path`: the file `serve --config` is given (default: the user config)."""
    from . import config as config_mod, engines
    from .engines import devices, models

    try:
        cfg = config_mod.load(config_path)
        config_info: dict[str, Any] = {"ok": True, "sources": cfg.sources}
    except Exception as exc:  # a broken config is exactly what doctor must show
        cfg, config_info = None, {"ok": False, "error": str(exc)}
    config_info["not_read"] = _unread_configs(config_path)
    user = paths.user_config_file()
    # Where overrides go, while there are none (the only file named otherwise is default.toml).
    config_info["user_file_missing"] = str(user) if config_path is None and not user.is_file() else None
    if cfg is not None:
        try:
            _check_for_serve(cfg)
        except Exception as exc:
            config_info.update(ok=False, error=str(exc))
    statuses = [vars(s) for s in engines.statuses(cfg)]
    rows = models.list_models(cfg) if cfg is not None else []
    _suggest_models_that_fit(statuses, rows)
    return {
        "stillmotion": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "device": devices.device_report(cfg),
        "codecs": _codecs(),
        "photo_formats": _photo_formats(),
        "engines": statuses,
        "models": rows,
        "config": config_info,
        # (the models folder [models] dir names, where `models pull` puts them and engines look)
        "folders": {"config": str(paths.config_dir()), "data": str(paths.data_dir()),
                    "models": str(models.models_dir(cfg))},
    }


def render(data: dict[str, Any]) -> str:
    from .engines.models import render_list

    device = data["device"]
    lines = [
        f"Stillmotion {data['stillmotion']} on Python {data['python']} ({data['platform']})",
        f"torch {device.get('torch') or 'not installed'}, diffusers {device.get('diffusers') or 'not installed'}",
        f"device: {device.get('name', device.get('kind'))}, {device.get('free_gb', 0):.1f} of "
        f"{device.get('total_gb', 0):.1f} GB free, half precision: {device['precision']['half']}",
        "codecs: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in data["codecs"].items()),
        "photos: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in data["photo_formats"].items()),
        "engines:",
    ]
    for eng in data["engines"]:
        lines.append(f"  {eng['name']:10} {'usable' if eng['usable'] else 'not usable':11} {eng['reason']}")
    if data["models"]:
        lines.append("models:")
        lines.extend("  " + line for line in render_list(data["models"]).splitlines())
    cfg = data["config"]
    lines.append("config: " + (", ".join(cfg["sources"]) if cfg["ok"] else f"ERROR {cfg['error']}"))
    if cfg.get("user_file_missing"):
        lines.append(f"config: your settings go in {cfg['user_file_missing']} (not made yet; default.toml "
                     "lists every setting)")
    for name in cfg.get("not_read", []):
        lines.append(f"config: NOTE {name} is not read: settings are read from config.toml in that folder "
                     "(rename it; Windows may have added .txt)")
    for name, folder in data["folders"].items():
        lines.append(f"{name} folder: {folder}")
    return "\n".join(lines)
