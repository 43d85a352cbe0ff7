"""Parse single XMP/EXIF/JSON values into Python types.

Each parser takes what pyexiv2 or the plug-in's JSON hands over (strings such as
"+0.35", "True", "0, 0", "50,5.3752490N"; or JSON numbers and lists) and returns a
typed value or raises ValueError with a short reason. Callers turn that reason
into a warning naming the field; nothing here decides policy.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

Point = tuple[float, float]

MAX_CURVE_POINTS = 256  # Lightroom stores at most a few dozen; more is junk


def number(raw: Any) -> float:
    """'+0.35', '-83', '0.0', 12, 1.5 -> float. Rejects booleans, NaN and infinities."""
    if isinstance(raw, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError("not a number") from None
    else:
        raise ValueError(f"expected a number, got {type(raw).__name__}")
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def integer(raw: Any) -> int:
    value = number(raw)
    if not value.is_integer():
        raise ValueError("not a whole number")
    return int(value)


def boolean(raw: Any) -> bool:
    """XMP Booleans are 'True'/'False'; tolerate case, 1/0 and JSON true/false."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
    raise ValueError("not True or False")


def text(raw: Any) -> str:
    """A simple text value; a language alternative gives its x-default (else first) entry."""
    if isinstance(raw, dict):
        if not raw:
            raise ValueError("empty language alternative")
        for key, value in raw.items():
            if "x-default" in key:
                return str(value)
        return str(next(iter(raw.values())))
    if isinstance(raw, (list, tuple)):
        raise ValueError("expected text, got a list")
    if isinstance(raw, str):
        if raw.startswith('type="'):  # how pyexiv2 shows a struct or array node
            raise ValueError("expected text, got a structure")
        return raw
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return str(raw)
    raise ValueError(f"expected text, got {type(raw).__name__}")


def text_list(raw: Any) -> list[str]:
    """An XMP Bag/Seq of text (pyexiv2 gives a list); a lone string counts as one item."""
    if isinstance(raw, str):
        return [raw] if raw and not raw.startswith('type="') else []
    if isinstance(raw, (list, tuple)):
        return [str(item) for item in raw if isinstance(item, (str, int, float)) and str(item) != ""]
    raise ValueError(f"expected a list of text, got {type(raw).__name__}")


def curve(raw: Any) -> list[Point]:
    """A tone curve as [(x, y), ...] with 0 <= x, y <= 255.

    Accepts XMP's Seq of "x, y" strings, the Lightroom SDK's flat {x1, y1, x2, y2, ...}
    number list, and a list of [x, y] pairs. pyexiv2 before 2.16 splits each "x, y" item
    in two: the flat list of number strings it returns counts as the flat number list.
    """
    if not isinstance(raw, (list, tuple)):
        raise ValueError("expected a list of points")
    points: list[Point] = []
    if raw and all((isinstance(v, (int, float)) and not isinstance(v, bool))
                   or (isinstance(v, str) and re.fullmatch(r"\s*[-+0-9.eE]+\s*", v)) for v in raw):
        if len(raw) % 2:
            raise ValueError("flat point list has an odd number of values")
        pairs = [(raw[i], raw[i + 1]) for i in range(0, len(raw), 2)]
    else:
        pairs = []
        for item in raw:
            if isinstance(item, str):
                parts = [p for p in re.split(r"[,\s]+", item.strip()) if p]
            elif isinstance(item, (list, tuple)):
                parts = list(item)
            else:
                raise ValueError(f"point {item!r} is not 'x, y'")
            if len(parts) != 2:
                raise ValueError(f"point {item!r} is not 'x, y'")
            pairs.append((parts[0], parts[1]))
    if len(pairs) > MAX_CURVE_POINTS:
        raise ValueError(f"more than {MAX_CURVE_POINTS} points")
    for x_raw, y_raw in pairs:
        x, y = number(x_raw), number(y_raw)
        if not (0 <= x <= 255 and 0 <= y <= 255):
            raise ValueError(f"point ({x:g}, {y:g}) is outside 0..255")
        points.append((x, y))
    if any(b[0] < a[0] for a, b in zip(points, points[1:])):
        raise ValueError("points are not in increasing x order")
    return points


def rational(raw: Any) -> float:
    """EXIF-in-XMP rationals like '375/100', or a plain number."""
    if isinstance(raw, str) and "/" in raw:
        num, _, den = raw.partition("/")
        d = number(den)
        if d == 0:
            raise ValueError("rational with zero denominator")
        return number(num) / d
    return number(raw)


_XMP_GPS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)(?:\s*,\s*(\d+(?:\.\d+)?))?\s*([NSEWnsew])\s*$")


def xmp_gps(raw: Any, *, is_latitude: bool) -> float:
    """XMP GPSCoordinate 'DDD,MM.mmk' or 'DDD,MM,SSk' -> signed decimal degrees."""
    match = _XMP_GPS.match(text(raw))
    if not match:
        raise ValueError("not a GPS coordinate like '50,5.37N'")
    deg, minutes, seconds, ref = match.groups()
    value = float(deg) + float(minutes) / 60 + (float(seconds) / 3600 if seconds else 0.0)
    return _signed(value, ref.upper(), is_latitude)


def exif_gps(raw: Any, ref: Any, *, is_latitude: bool) -> float:
    """EXIF GPS 'd/1 m/1 s/100' plus its N/S/E/W reference -> signed decimal degrees."""
    parts = text(raw).split()
    if not 1 <= len(parts) <= 3:
        raise ValueError("not an EXIF GPS coordinate")
    dms = [rational(p) for p in parts] + [0.0] * (3 - len(parts))
    value = dms[0] + dms[1] / 60 + dms[2] / 3600
    return _signed(value, text(ref).strip().upper()[:1] or ("N" if is_latitude else "E"), is_latitude)


def _signed(value: float, ref: str, is_latitude: bool) -> float:
    allowed = "NS" if is_latitude else "EW"
    if ref not in allowed:
        raise ValueError(f"reference {ref!r} is not {' or '.join(allowed)}")
    limit = 90 if is_latitude else 180
    if value > limit:
        raise ValueError(f"{value:g} degrees is out of range")
    return -value if ref in "SW" else value


_EXIF_DATE = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(.*)$")
_ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def date(raw: Any) -> str:
    """An XMP date (ISO 8601 subset) or EXIF 'YYYY:MM:DD HH:MM:SS' -> ISO 8601 text, checked."""
    value = text(raw).strip()
    exif = _EXIF_DATE.match(value)
    if exif:
        y, m, d, clock, rest = exif.groups()
        value = f"{y}-{m}-{d}T{clock}{rest.strip()}"
    if not _ISO_DATE.match(value):
        raise ValueError("not a date")
    # Calendar check (month 13, day 2147483647 ...): parse the date part for real.
    parts = value[:10].split("-")
    try:
        datetime(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, int(parts[2]) if len(parts) > 2 else 1)
    except ValueError:
        raise ValueError("not a calendar date") from None
    return value
