"""One error shape for every failure: {"error": {"code", "message"}} with a 4xx/5xx status."""

from __future__ import annotations

from typing import Mapping

from aiohttp import web

from ..errors import EngineUnavailable, InputError, StillmotionError

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "unprocessable", 500: "internal", 503: "unavailable"}


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
