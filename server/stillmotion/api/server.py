"""`create_app(config)`: the daemon as an aiohttp Application; `serve(...)`: run it.

The job store and the worker live exactly as long as the app (cleanup_ctx): on start
the worker first recovers jobs a killed daemon left running, then takes the queue;
on shutdown (Ctrl-C, SIGTERM) running jobs are interrupted and put back in the
queue, to be resumed by the next start.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import AsyncIterator

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.web_protocol import RequestPayloadError

from .. import __version__, config as config_mod, paths
from ..errors import one_line
from ..hangup import ignore_hangup, restore_hangup
from ..config import Config
from ..engines import devices
from ..jobs.store import JobStore
from ..jobs.worker import Worker
from ..logs import handler_format
from ..watch import cleanup_ctx as watch_folders_ctx
from .events import JobEvents
from .middleware import auth_middleware, cors_headers, error_middleware, front_door_middleware
from .routes import setup_routes
from .security import TOKEN_FILE, FrontDoor, ensure_token, host_name, is_loopback
from .state import CONFIG, EVENTS, FOLDERS, FRONT_DOOR, POLICY, STORE, WORKER, Folders
from .submit import SubmitPolicy

log = logging.getLogger(__name__)


class _ClientFaultsInOneLine(logging.Filter):
    """A client that hangs up mid-upload, or sends HTTP that cannot be parsed (a header over
    8 KB, a body that is not what its Content-Encoding says), is the client's doing: aiohttp
    logs each as an ERROR with a traceback that reads like the daemon's fault. One line at
    INFO says what happened."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (ConnectionResetError, BadHttpMessage, RequestPayloadError)):
            record.msg, record.args = f"{record.getMessage()}: {one_line(exc)}", ()
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


_CLIENT_FAULTS = _ClientFaultsInOneLine()


def create_app(config: Config, *, data_dir: Path | None = None, bind_host: str | None = None) -> web.Application:
    data = Path(data_dir) if data_dir else paths.data_dir()
    logging.getLogger("aiohttp.server").addFilter(_CLIENT_FAULTS)   # (added once: the same object)
    folders = Folders(data=data, uploads=data / "uploads", outputs=data / "outputs")
    token, _ = ensure_token(data)
    server_cfg = config["server"]
    app = web.Application(middlewares=[error_middleware, front_door_middleware, auth_middleware])
    app[CONFIG] = config
    app[FOLDERS] = folders
    app[FRONT_DOOR] = FrontDoor.build(token, server_cfg["allowed_hosts"], server_cfg["allowed_origins"],
                                      bind_host=bind_host)
    app[POLICY] = SubmitPolicy.from_config(config, folders.outputs)
    app.on_response_prepare.append(cors_headers)
    app.cleanup_ctx.append(_jobs)
    app.on_shutdown.append(_end_event_streams)
    app.cleanup_ctx.append(watch_folders_ctx(config, STORE))   # the [watch] folders, while it runs
    setup_routes(app)
    return app


async def _jobs(app: web.Application) -> AsyncIterator[None]:
    """The store, change notifications and the worker, for the lifetime of the app."""
    loop = asyncio.get_running_loop()
    store = JobStore.open(app[FOLDERS].data)
    events = JobEvents(loop)
    store.add_listener(events.notify)
    worker = Worker(store, app[CONFIG], outputs_root=app[FOLDERS].outputs)
    await loop.run_in_executor(None, worker.start)     # recovery touches the disk
    app[STORE], app[EVENTS], app[WORKER] = store, events, worker
    try:
        yield
    finally:
        await loop.run_in_executor(None, worker.stop)
        store.remove_listener(events.notify)
        store.close()


async def _end_event_streams(app: web.Application) -> None:
    """Shutdown, before aiohttp waits for open requests: end the event streams, which would
    otherwise hold the daemon (and the job they watch rendering) for minutes after Ctrl-C."""
    if EVENTS in app:
        app[EVENTS].close()


async def _stopping(app: web.Application, listening: threading.Event) -> None:
    """Shutdown has begun (Ctrl-C, SIGTERM; or the port was taken: not `listening`). Say so,
    and make another Ctrl-C or SIGTERM while running jobs go back to the queue a log line:
    aiohttp's handler, still in place, raised its GracefulExit again, and the daemon exited
    with status 1 and not a word (a service manager reads 1 as a failure), while still
    waiting for those jobs before it could exit."""
    if listening.is_set():
        log.info("stopping: running jobs go back in the queue, to be finished at the next start")
    loop = asyncio.get_running_loop()
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, log.info, "already stopping")
    except NotImplementedError:   # (Windows)
        pass


async def _end_device_probes(app: web.Application) -> None:
    """Shutdown, before aiohttp waits for open requests: a device probe still out (a driver
    that hangs) is killed, and the requests waiting on it answered 503, not two minutes on."""
    await asyncio.to_thread(devices.end_probes)


def _announce(banner: str, listening: threading.Event) -> None:
    listening.set()
    print(banner, flush=True)


def _bind_failure(exc: OSError) -> str:
    """Why the port could not be bound, in plain words. (asyncio's strerror repeats the
    address as a Python tuple: "error while attempting to bind on address ('127.0.0.1', 8765):
    address already in use".)"""
    if exc.errno == errno.EADDRINUSE:
        # most often the daemon itself, started by the plug-in or in another terminal
        return ("the port is already in use (is Stillmotion already running? use that daemon), "
                "or choose another port with --port or [server] port")
    if exc.errno and exc.errno > 0:    # (a host name that does not resolve: negative, its own words)
        return os.strerror(exc.errno)
    return exc.strerror or str(exc)


def serve(config_path: str | os.PathLike | None = None, host: str | None = None, port: int | None = None) -> int:
    """`stillmotion serve`: run the daemon until Ctrl-C / SIGTERM (SIGHUP is logged and ignored,
    see hangup.py). Returns the exit status."""
    if not logging.getLogger().handlers:    # (as basicConfig: a host's logging set up already stays)
        handler = logging.StreamHandler()
        handler_format(handler, "%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.basicConfig(level=logging.INFO, handlers=[handler])
    cfg = config_mod.load(config_path)
    host = host or cfg["server"]["host"]
    port = port if port is not None else int(cfg["server"]["port"])
    if not 1 <= port <= 65535:
        print(f"stillmotion: error: port {port} is not a TCP port (1 to 65535; [server] port or --port)",
              file=sys.stderr)
        return 2
    if not is_loopback(host_name(host)):
        log.warning("listening on %s: other machines can reach the daemon (by a name or address in [server] "
                    "allowed_hosts); the token is all that stops them", host)
    devices.keep_torch_out()           # its import would stall the event loop for up to a second
    app = create_app(cfg, bind_host=host)
    listening = threading.Event()      # set once the port is bound: the banner is printed
    app.on_shutdown.append(functools.partial(_stopping, listening=listening))
    app.on_shutdown.append(_end_device_probes)     # (the probe is a child only here: keep_torch_out)
    token_file = app[FOLDERS].data / TOKEN_FILE
    banner = f"Stillmotion {__version__} daemon on http://{host}:{port} (token: {token_file})"
    previous_hangup = ignore_hangup(log, "daemon")
    try:
        web.run_app(app, host=host, port=port, access_log=None, print=lambda _: _announce(banner, listening))
    except OSError as exc:
        print(f"stillmotion: error: cannot listen on {host}:{port}: {_bind_failure(exc)}", file=sys.stderr)
        return 1
    finally:
        restore_hangup(previous_hangup)
    return 0
