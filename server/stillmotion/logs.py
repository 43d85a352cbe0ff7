"""How the daemon and `stillmotion watch` write their log: one entry per line it starts.

A log names files dropped by whoever can write a watch folder, and a file name may hold a
newline: `X\n2026-12-05 19:00:00 ERROR forged.jpg` would print a line that reads as an entry
of its own. Every line after an entry's first (of its message, of a traceback) is indented,
so only real entries start at the margin.
"""

from __future__ import annotations

import logging

CONTINUATION = "\n    "


class EntryFormatter(logging.Formatter):
    """A logging.Formatter whose entries' later lines are indented."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "\\r").replace("\n", CONTINUATION)


def handler_format(handler: logging.Handler, fmt: str) -> None:
    """Give `handler` an EntryFormatter of `fmt`."""
    handler.setFormatter(EntryFormatter(fmt))
