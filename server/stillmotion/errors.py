"""The error kinds every front end (CLI, HTTP, watcher) maps to its own answer."""

from __future__ import annotations

import os
from typing import Iterable


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (libraries' messages may run on), else its type."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


class StillmotionError(Exception):
    """Base class: the message is one readable line meant for the user."""

    code = "error"


class InputError(StillmotionError):
    """Bad input from the user: a broken photo, a wrong field. CLI exit 2, HTTP 4xx."""

    code = "bad_input"
    http_status = 400


class TooLargeError(InputError):
    """An image whose pixel count is over the limit (decompression bombs included)."""

    code = "too_large"
    http_status = 422


class DamagedImageError(InputError):
    """An image whose data is cut short or damaged: perhaps a file still being copied
    (a watch folder waits for it to change rather than failing a job on it)."""


class ConfigError(StillmotionError):
    """A configuration file that does not match the schema.

    `key` ("section", "name"), when the error is about one setting's value: the config loader
    then names where that value came from (a file, an environment variable)."""

    code = "bad_config"

    def __init__(self, message: str = "", *, key: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.key = key


class JobError(StillmotionError):
    """A job that failed while running. CLI exit 1, job status `failed`."""

    code = "job_failed"


class EngineUnavailable(JobError):
    """The requested engine or model cannot run here (not installed, no device)."""

    code = "engine_unavailable"


class Canceled(StillmotionError):
    """Raised inside a running job when its cancel token is set."""

    code = "canceled"

    def __init__(self, message: str = "canceled", outputs: "Iterable[str | os.PathLike]" = ()) -> None:
        super().__init__(message)
        # Clips the job finished (and placed) before the cancel reached it: kept, and listed.
        self.outputs = [os.fspath(p) for p in outputs]
