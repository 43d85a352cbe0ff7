"""Watch folders: hot drops for Capture One and everything else, each photo animated once.

    stillmotion watch DIR...          -> watch_folders(dirs, config_path=)
    the daemon                         -> app.cleanup_ctx.append(cleanup_ctx(config, STORE))

settings.py  the [watch] config and per-folder stillmotion.toml
names.py     which names are photos, sidecars, temporaries, our own outputs
settle.py    when a file is complete (stable size/mtime, or closed)
pairing.py   a photo waits briefly for its XMP sidecar
ledger.py    what was taken (path + content hash), in the job store's database
claims.py    which station animates a photo in a folder several stations watch
watcher.py   observer events -> settle -> pair -> ledger -> watch job
service.py   running it inside the daemon or standalone
"""

from typing import Any

__all__ = ["cleanup_ctx", "start_watcher", "watch_folders"]


def __getattr__(name: str) -> Any:
    """service.py's names, imported on first use: it pulls in the watcher, the job store and
    the pipeline (OpenCV, PyAV), which the config loader's check of [watch] (settings.py) does
    not need."""
    if name in __all__:
        from . import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
