"""How the daemon and `stillmotion watch` write their log: one entry per line it starts.

A log names files dropped by whoever can write a watch folder, and a file name may hold a
newline: `X\n2026-12-05 19:00:00 ERROR forged.jpg` would print a line that reads as an entry
of its own. Every line after an entry's first (of its message, of a traceback) is indented,
so only real entries start at the margin. And whether a stream is a terminal, which decides
what is drawn on it (progress bars) and how much each line says (a time in a log file).
"""

from __future__ import annotations

import logging
from typing import Any

CONTINUATION = "\n    "


class EntryFormatter(logging.Formatter):
    """A logging.Formatter whose entries' later lines are indented."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "\\r").replace("\n", CONTINUATION)


def handler_format(handler: logging.Handler, fmt: str) -> None:
    """Give `handler` an EntryFormatter of `fmt`."""
    handler.setFormatter(EntryFormatter(fmt))


def is_terminal(stream: Any) -> bool:
    """Whether `stream` is a terminal a person watches (not a pipe, a file or a journal)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):   # (no file behind it, None, or a closed one)
        return False
