"""The three shapes every score here is built from."""

from __future__ import annotations

import math


def ramp(value: float, bad: float, good: float) -> float:
    """0 at `bad`, 1 at `good`, linear between (either direction), clipped."""
    if good == bad:
        return 1.0 if value >= good else 0.0
    return min(1.0, max(0.0, (value - bad) / (good - bad)))


def falling(value: float, half: float, width: float) -> float:
    """Logistic: ~1 well below `half`, 0.5 at `half`, towards 0 above. Strictly falling,
    so worse damage always scores lower (a clipped ramp would flatten at 0)."""
    return 1.0 / (1.0 + math.exp(min(50.0, (value - half) / width)))


def decay(excess: float, scale: float) -> float:
    """1 up to a tolerated amount (excess <= 0), then exp(-excess / scale)."""
    return math.exp(-max(0.0, excess) / scale)
