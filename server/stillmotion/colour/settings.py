"""The colour matcher's settings ([colour]), checked where they are made.

Apart from match.py, which pulls in OpenCV and NumPy: reading and checking the config
(`config.load`) uses this class and should import neither.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

from ..config import check_range


@dataclass(frozen=True)
class MatchSettings:
    lut_size: int = 17
    fit_grid: int = 9
    fit_smoothness: float = 0.05
    fit_size: int = 256
    stats_size: int = 128
    min_alignment: float = 0.5
    temporal_radius: int = 6
    max_anchor_lookahead: int = 15
    deflicker: float = 1.0
    drift: float = 1.0
    min_corresponding: float = 0.2
    fallback_drift: float = 0.5
    unchanged_below: float = 1.5

    def __post_init__(self) -> None:
        limits = {"lut_size": (5, 65), "fit_grid": (3, 33), "fit_smoothness": (0.0, 100.0),
                  "fit_size": (32, 2048), "stats_size": (16, 1024), "min_alignment": (-1.0, 1.0),
                  "temporal_radius": (0, 32), "max_anchor_lookahead": (0, 64),
                  "deflicker": (0.0, 1.0), "drift": (0.0, 1.0), "min_corresponding": (0.0, 1.0),
                  "fallback_drift": (0.0, 1.0), "unchanged_below": (0.0, 255.0)}
        for name, (lo, hi) in limits.items():
            check_range("colour", name, getattr(self, name), lo, hi)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> "MatchSettings":
        """From a whole config (its [colour] table) or from the table itself."""
        if not config:
            return cls()
        table = config.get("colour", config)
        known = {f.name: f.type for f in fields(cls)}
        return cls(**{k: (float(v) if known[k] == "float" else int(v))
                      for k, v in table.items() if k in known})
