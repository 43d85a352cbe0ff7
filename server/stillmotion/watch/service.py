"""Running watchers: inside the daemon, or standalone (`stillmotion watch DIR...`).

Both put watch jobs into the same job store (the data folder's), where they run
at the lowest priority, behind interactive and batch jobs. Standalone, the
command starts its own worker on that store; if the daemon runs at the same
time, the two share the queue and the ledger, and each photo is still taken
once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable, Sequence

from .. import config as config_mod
from ..errors import InputError
from ..hangup import ignore_hangup, restore_hangup
from ..jobs.store import DONE, JobStore
from ..logs import handler_format, is_terminal
from .settings import WatchedFolder, folder_for_dir, folders_from_config
from .watcher import Watcher

log = logging.getLogger("stillmotion.watch")

# Jobs whose clips the printer remembers having printed. A job's change notifications come
# together (it ends once), so the last few are enough; all of them grew a watch left
# running for weeks by every photo it animated.
REPORTED_KEPT = 64


def start_watcher(cfg: config_mod.Config, store: JobStore,
                  folders: Iterable[WatchedFolder] | None = None) -> Watcher | None:
    """Watch `folders` (default: the config's [[watch.folders]]); None when there are none."""
    folders = list(folders_from_config(cfg) if folders is None else folders)
    if not folders:
        return None
    watcher = Watcher(folders, store, rescan_seconds=float(cfg["watch"]["rescan_seconds"]))
    watcher.start()
    for folder in watcher.watching:
        log.info("watching %s%s", folder.path, " and its subfolders" if folder.recursive else "")
    return watcher


def cleanup_ctx(cfg: config_mod.Config, store_key: Any) -> Callable[[Any], AsyncIterator[None]]:
    """An aiohttp `cleanup_ctx` entry: the daemon watches the [watch] folders while it runs.

        app.cleanup_ctx.append(_jobs)                      # puts the store in app[STORE]
        app.cleanup_ctx.append(watch.cleanup_ctx(config, STORE))

    The folders are validated here, when the app is built, so a broken [[watch.folders]]
    entry stops `serve` with the usual one-line config error; a folder that does not
    exist is logged and watched once it appears, so an unplugged drive does not stop the daemon.
    """
    folders = folders_from_config(cfg)

    async def watch_folders_ctx(app: Any) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        # Scheduling recursive inotify watches walks the tree: keep it off the event loop.
        watcher = await loop.run_in_executor(None, start_watcher, cfg, app[store_key], folders)
        try:
            yield
        finally:
            if watcher is not None:
                await loop.run_in_executor(None, watcher.stop)
    return watch_folders_ctx


def watch_folders(dirs: Sequence[Path], config_path: Path | None = None) -> int:
    """`stillmotion watch DIR...`: watch, animate, print each clip; Ctrl-C (or SIGTERM) stops;
    SIGHUP is logged and ignored (hangup.py)."""
    from ..jobs.worker import Worker

    cfg = config_mod.load(config_path)
    if dirs:
        for d in dirs:
            where = Path(d).expanduser()
            if where.is_file():
                raise InputError(f"{where} is a file, not a folder: give the folder to watch")
            if not where.is_dir():
                # Made by the user rather than here: a typo would otherwise become a new folder.
                raise InputError(f"no folder {where}: make it first, then watch it")
        folders = [folder_for_dir(cfg, Path(d)) for d in dirs]
    else:
        folders = folders_from_config(cfg)
        if not folders:
            raise InputError("no folders to watch: give DIR... or add [[watch.folders]] to the config file")
    for folder in folders:   # a broken stillmotion.toml at the top is an error now, not a held folder
        folder.settings_for(folder.path / "photo")
    _log_to_stderr()
    store = JobStore.open()
    worker = Worker(store, cfg)
    store.add_listener(_reporter(store))
    worker.start()
    stop = threading.Event()
    watcher = start_watcher(cfg, store, folders)
    previous = _on_terminate(stop)
    previous_hangup = ignore_hangup(log, "watcher")
    try:
        log.info("Ctrl-C stops; a clip being rendered then is finished next time")
        while not stop.wait(0.5):
            if watcher is not None and watcher.error is not None:
                raise watcher.error
    except KeyboardInterrupt:
        pass
    finally:
        log.info("stopping: a clip being rendered goes back in the queue, to be finished next time")
        previous_interrupt = _already_stopping()
        if watcher is not None:
            watcher.stop()
        worker.stop()          # a clip being rendered goes back to the queue, finished next time
        store.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if previous_interrupt is not None:
            signal.signal(signal.SIGINT, previous_interrupt)
        restore_hangup(previous_hangup)
    return 0


def _reporter(store: JobStore):
    """Print each finished watch job's clip paths on stdout (failures, and why, are the
    worker's log lines on stderr)."""
    reported: dict[str, None] = {}     # the last REPORTED_KEPT, oldest first
    lock = threading.Lock()
    stdout_gone = threading.Event()

    def report(job_id: str) -> None:
        job = store.get(job_id)
        if job is None or job.source != "watch" or job.status != DONE or stdout_gone.is_set():
            return
        with lock:
            if job_id in reported:
                return
            reported[job_id] = None
            if len(reported) > REPORTED_KEPT:
                del reported[next(iter(reported))]
        try:
            for out in job.outputs:
                print(out, flush=True)
        except OSError as exc:
            # Its reader quit (`stillmotion watch DIR | head`): the watching goes on, and the
            # log (stderr) still says what was done; said once, not a traceback per clip.
            stdout_gone.set()
            log.warning("cannot print clip paths on stdout (%s): watching goes on; "
                        "this log still names each clip", exc.strerror or exc)
    return report


def _log_to_stderr() -> None:
    root = logging.getLogger("stillmotion")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        # In a terminal the message says enough. In a file (launchd's StandardErrorPath, nohup,
        # `2>> watch.log`) or a service manager's journal, each line also says when and how
        # serious, as the daemon's do.
        prefix = "" if is_terminal(sys.stderr) else "%(asctime)s %(levelname)s "
        handler_format(handler, prefix + "stillmotion watch: %(message)s")
        root.addHandler(handler)
        root.setLevel(logging.INFO)


def _already_stopping():
    """Another Ctrl-C while stopping is a log line: it interrupted the worker's stop half-way,
    leaving the clip's partial file beside the photo and the process hung at exit."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, lambda *_: log.info("already stopping"))


def _on_terminate(stop: threading.Event):
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, lambda *_: stop.set())
