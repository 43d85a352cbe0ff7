"""The checks of the settings the worker ([jobs]) and the pipeline ([output] sizes) take.

Apart from worker.py and pipeline.py, which pull in the engines, OpenCV, PyAV and NumPy:
reading and checking the config (`config.load`) uses these and should import none of those.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..config import check_choice, check_range

ISOLATIONS = ("process", "thread")


def check_jobs_config(jobs_cfg: Mapping[str, Any]) -> None:
    """[jobs]: per_device 0 was taken as 1, a negative render_nice as 0, without a word."""
    check_range("jobs", "per_device", jobs_cfg.get("per_device", 1), 1, 64)
    check_range("jobs", "retention_days", jobs_cfg.get("retention_days", 14), 0, 36500)
    check_range("jobs", "render_nice", jobs_cfg.get("render_nice", 10), 0, 19)
    check_choice("jobs", "isolation", jobs_cfg.get("isolation", "process"), ISOLATIONS)


# [output] long_edge and web_long_edge, pixels: 0 made a 2x2 clip; 16384 is as wide as H.264/HEVC go.
LONG_EDGE_RANGE = (64, 16384)


def check_output_config(output_cfg: dict) -> None:
    """The [output] sizes (crf and preset are EncodeSettings')."""
    for key in ("long_edge", "web_long_edge"):
        if key in output_cfg:
            check_range("output", key, output_cfg[key], *LONG_EDGE_RANGE)
