"""Watch folders: hot drops for Capture One and everything else, each photo animated once.

    stillmotion watch DIR...          -> watch_folders(dirs, config_path=)
    the daemon                         -> app.cleanup_ctx.append(cleanup_ctx(config, STORE))

settings.py  the [watch] config and per-folder stillmotion.toml
names.py     which names are photos, sidecars, temporaries, our own outputs
settle.py    when a file is complete (stable size/mtime, or closed)
pairing.py   a photo waits briefly for its XMP sidecar
ledger.py    what was taken (path + content hash), in the job store's database
watcher.py   observer events -> settle -> pair -> ledger -> watch job
service.py   running it inside the daemon or standalone
"""

from .service import cleanup_ctx, start_watcher, watch_folders

__all__ = ["cleanup_ctx", "start_watcher", "watch_folders"]
