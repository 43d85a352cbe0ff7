"""Middlewares, outermost first: JSON errors, then the front door (Host, Origin, CORS
preflights), then auth; and the CORS headers every answer to a configured origin carries."""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from aiohttp import hdrs, web

from ..engines import devices
from ..errors import StillmotionError
from ..jobs.store import error_dict
from .errors import HTTP_CODES, ApiError, error_response, status_for, storage_failure
from .state import AUTHENTICATED, CORS_ORIGIN, FOLDERS, FRONT_DOOR

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/v1/health"})   # answer without a token (status only)

# For pages of [server] allowed_origins: what a browser asks before it sends the token
# (a preflight carries no credentials), and which answer headers scripts may read.
CORS_PREFLIGHT = {"Access-Control-Allow-Methods": "GET, POST, DELETE",
                  "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key",
                  "Access-Control-Max-Age": "600"}
CORS_EXPOSED = "Location, Idempotent-Replayed, WWW-Authenticate, Content-Disposition"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return error_response(exc.status, HTTP_CODES.get(exc.status, "http_error"), exc.reason, headers)
    except StillmotionError as exc:
        return error_response(status_for(exc), **error_dict(exc))
    except devices.ProbeEnded as exc:    # (the daemon is stopping)
        return error_response(503, "unavailable", str(exc))
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as exc:
        failure = storage_failure(exc, request.app[FOLDERS].data)
        if failure is not None:
            log.warning("%s %s refused: %s", request.method, request.path, failure.message)
            return error_response(failure.status, failure.code, failure.message, failure.headers)
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error in the daemon (details are in its log)")


@web.middleware
async def front_door_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    door = request.app[FRONT_DOOR]
    host = request.headers.get(hdrs.HOST)
    if not door.host_allowed(host):
        raise ApiError(403, "forbidden_host",
                       f"Host {host!r} is not this daemon's; add it to [server] allowed_hosts if it should be")
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is not None and door.cors_allowed(origin):
        request[CORS_ORIGIN] = origin           # a page the user allowed: cross-site is its nature
        if request.method == "OPTIONS" and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers:
            headers = dict(CORS_PREFLIGHT)
            if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
                headers["Access-Control-Allow-Private-Network"] = "true"   # Chrome: a page reaching loopback
            return web.Response(status=204, headers=headers)
        return await handler(request)
    if origin is not None and not door.origin_allowed(origin, host or ""):
        raise ApiError(403, "forbidden_origin", f"requests from the web page at {origin!r} are not allowed; "
                       "add it to [server] allowed_origins if it should be")
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        raise ApiError(403, "forbidden_origin", "cross-site browser requests are not allowed")
    return await handler(request)


async def cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer to an allowed origin's page, errors and event streams
    included, says so; answers to anyone else carry no CORS header at all."""
    origin = request.get(CORS_ORIGIN)
    if origin is not None:
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = CORS_EXPOSED
        response.headers.add(hdrs.VARY, "Origin")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    door = request.app[FRONT_DOOR]
    header = request.headers.get(hdrs.AUTHORIZATION)
    if door.token_ok(header):
        request[AUTHENTICATED] = True
    elif header is None and request.path in PUBLIC_PATHS:
        request[AUTHENTICATED] = False
    else:
        what = "a wrong token" if header else "no token"
        raise ApiError(401, "unauthorized",
                       f"{what}: send 'Authorization: Bearer <token>' with the token from the daemon's "
                       "data folder (file 'token')", headers={"WWW-Authenticate": 'Bearer realm="stillmotion"'})
    return await handler(request)
