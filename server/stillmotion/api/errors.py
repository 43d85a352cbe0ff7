"""One error shape for every failure: {"error": {"code", "message"}} with a 4xx/5xx status."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Mapping

from aiohttp import web

from ..errors import EngineUnavailable, InputError, StillmotionError
from ..place import NO_ROOM_ERRNOS

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "unprocessable", 500: "internal", 503: "unavailable",
              507: "insufficient_storage"}

# The daemon's own disk refusing to keep a request (its upload, its job record): full, over
# quota, or read-only: place.NO_ROOM_ERRNOS. (Permission errors are not among them: the daemon
# could not have started.)


class ApiError(Exception):
    """Raised by handlers and middlewares; answered as the JSON error shape."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, dict(headers or {})


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def status_for(exc: StillmotionError) -> int:
    if isinstance(exc, InputError):
        return int(getattr(exc, "http_status", 400))
    if isinstance(exc, EngineUnavailable):
        return 503
    return 500


def storage_failure(exc: BaseException, data: Path) -> ApiError | None:
    """The request was sound but the daemon could not keep it: its data folder's disk is full
    or read-only (507), or another program holds its job store locked (503). The plug-in's
    user is told which, not "internal error"; None for anything else."""
    full = isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)   # "database or disk is full"
    if full or (isinstance(exc, OSError) and exc.errno in NO_ROOM_ERRNOS):
        reason = exc.strerror if isinstance(exc, OSError) else exc
        return ApiError(507, "insufficient_storage", f"the daemon cannot store the request in {data}: "
                        f"{reason}; make room there (or move STILLMOTION_HOME) and send it again")
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        # Another program (a backup, a database browser) holds it.
        return ApiError(503, "unavailable", f"the job store in {data} is locked by another program ({exc}); "
                        "send it again when that program is done", headers={"Retry-After": "30"})
    return None
