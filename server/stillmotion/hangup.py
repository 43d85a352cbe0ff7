"""SIGHUP for the long-lived commands, `serve` and `watch`: said in the log, otherwise ignored.

A service manager sends SIGHUP to ask for a reload (`systemctl reload`, `kill -HUP`), and a
terminal sends it to what it started when it closes. Python's default is to die at once,
which left the clip being rendered half-written (a hidden temporary beside the photo) and
its job `running` until the next start. There is nothing to reload: the config is read
once, at start, into the worker, the watchers and the daemon's front door; and the log is
stderr, which belongs to the service manager or the terminal, so no file needs reopening.
Ctrl-C and SIGTERM stop, cleanly.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

IGNORED = "SIGHUP ignored: the {what} keeps running (its config is read at start: restart it to apply " \
          "a change; Ctrl-C or SIGTERM stops it)"


def ignore_hangup(log: logging.Logger, what: str) -> Any:
    """Log and ignore SIGHUP from now on. Returns the handler replaced, for the caller to put
    back, or None where there is nothing to do (no SIGHUP: Windows; not the main thread)."""
    if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
        return None

    def noted(_signum: int, _frame: object) -> None:
        log.warning(IGNORED.format(what=what))
    return signal.signal(signal.SIGHUP, noted)


def restore_hangup(previous: Any) -> None:
    """Put back what `ignore_hangup` replaced."""
    if previous is not None:
        signal.signal(signal.SIGHUP, previous)


def ignore_hangup_quietly() -> None:
    """For a child process of `serve`/`watch` (the render process): a closed terminal sends
    SIGHUP to the whole process group, and the parent decides what happens to its job."""
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
