"""Engines: `get(name)` returns an engine; `choose(request, config)` resolves `auto`.

Engines are imported lazily: diffusers and torch are heavy, and the parallax
engine must start instantly on any machine.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from ..errors import EngineUnavailable, InputError
from .base import Clip, Engine, EngineStatus

# name -> "module:Class"
# Order matters: `auto` takes the first usable generative engine (fastest good results first).
REGISTRY: dict[str, str] = {
    "parallax": "stillmotion.engines.parallax:ParallaxEngine",
    "ltx": "stillmotion.engines.ltx:LTXEngine",
    "wan": "stillmotion.engines.wan:WanEngine",
    "cogvideox": "stillmotion.engines.cogvideox:CogVideoXEngine",
    "svd": "stillmotion.engines.svd:SVDEngine",
}

# name -> (the config it was built with, the engine). Engines stay warm between jobs; a
# different config (a test, a reloaded daemon) builds a fresh one so settings always apply.
_instances: dict[str, tuple[Any, Engine]] = {}


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str, config: Mapping[str, Any] | None = None) -> Engine:
    """The engine instance for `name` (engines stay warm between jobs)."""
    if name not in REGISTRY:
        raise InputError(f"unknown engine '{name}' (available: {', '.join(REGISTRY)})")
    cached = _instances.get(name)
    if cached is not None and cached[0] == config:
        return cached[1]
    module_name, cls_name = REGISTRY[name].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    try:
        engine = cls(config) if _accepts_config(cls) else cls()
    except ImportError as exc:
        raise EngineUnavailable(f"engine '{name}' cannot be loaded here: {exc}") from None
    _instances[name] = (config, engine)
    return engine


def import_all() -> None:
    """Import every engine's module: code only (weights and torch load on first use), what the
    first `auto` choice of a process imports anyway."""
    for target in REGISTRY.values():
        importlib.import_module(target.split(":")[0])


def _accepts_config(cls: type) -> bool:
    import inspect

    try:
        return len(inspect.signature(cls).parameters) >= 1
    except (TypeError, ValueError):
        return False


def statuses(config: Mapping[str, Any] | None = None) -> list[EngineStatus]:
    out = []
    for name in REGISTRY:
        try:
            out.append(get(name, config).status())
        except Exception as exc:  # an engine that cannot even report is unusable, not fatal
            out.append(EngineStatus(name=name, usable=False, reason=str(exc)))
    return out


def choose(engine: str, config: Mapping[str, Any] | None = None, *, model: str | None = None) -> tuple[Engine, str]:
    """Resolve `auto`: the best usable generative engine with a model installed, else parallax.

    Returns the engine and the reason, which the job record keeps.
    """
    if engine != "auto":
        eng = get(engine, config)
        if engine == "parallax" and model is not None:
            # It takes no model: refused, as the daemon refuses it at submission, with the
            # engine the model is for (or why it is no model), not made without it.
            from .models import resolve

            resolve(model, engine, config)
            raise InputError(f"the parallax engine takes no model; use --engine auto with --model {model}")
        status = eng.status()
        if not status.usable and engine != "parallax" and model is None:
            raise EngineUnavailable(f"engine '{engine}' is not usable here: {status.reason}")
        if model is not None:
            return eng, f"requested explicitly with --model {model}"
        return eng, f"requested explicitly ({status.reason})"
    if model is not None:
        from .models import engine_for

        name = engine_for(model, config)
        return get(name, config), f"auto: --model {model} is a {name} model"
    # A generative model on a CPU-only machine takes tens of minutes a clip: only when asked for.
    on_cpu = bool(((config or {}).get("engines") or {}).get("auto_on_cpu", False))
    for status in statuses(config):
        if status.name != "parallax" and status.usable and (status.device != "cpu" or on_cpu):
            return get(status.name, config), f"auto: {status.name} is installed and usable ({status.reason})"
    return get("parallax", config), "auto: no generative model installed and usable here, using the built-in parallax engine"


__all__ = ["Clip", "Engine", "EngineStatus", "REGISTRY", "choose", "get", "import_all", "names", "statuses"]
