"""The check of the generative engines' settings ([engines]).

Apart from diffusion.py, which pulls in NumPy and the engines' machinery (and, when an engine
runs, torch and diffusers): reading and checking the config (`config.load`) uses it.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..config import check_choice, check_range
from .devices import KINDS
from .memory import OFFLOADS

DEVICES = ("auto",) + KINDS


def check_engines_config(settings: Mapping[str, Any]) -> None:
    """[engines]: a device that is no device kind made every generative engine unusable, so
    `--engine auto` quietly fell back to parallax; negative steps were ignored."""
    check_choice("engines", "device", settings.get("device", "auto"), DEVICES)
    check_choice("engines", "offload", settings.get("offload", "auto"), ("auto",) + OFFLOADS)
    check_range("engines", "steps", settings.get("steps", 0), 0, 500)
    # (a week: far larger values overflow threading's timer; the model would never be given back)
    check_range("engines", "idle_unload_seconds", settings.get("idle_unload_seconds", 300.0), 0, 7 * 86400)
