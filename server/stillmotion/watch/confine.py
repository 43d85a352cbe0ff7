"""A watch job reads and writes only inside its photo's folder, never through a link out of it.

Whoever can write a watched folder (every freelancer and upload tool on a NAS share) is not
whoever runs Stillmotion (a service account that can read and write far more). A link dropped
into the folder would have the service read a file elsewhere (another client's photo or its
sidecar) into a clip the folder's writers can read, or write clips into the folder it points to.
Asked by the watcher before it takes a photo and by the worker again just before the job
runs (the link may be made while the job waits in the queue).
"""

from __future__ import annotations

from pathlib import Path

from ..metadata.sources import find_sidecar


def link_out(photo: Path, destination: Path) -> str | None:
    """Why a watch folder's photo must not be animated (a link out of its folder); None: it may be."""
    if photo.is_symlink():
        return "it is a link to a file elsewhere; only files saved into the watched folder are animated"
    sidecar = find_sidecar(photo)
    if sidecar is not None and sidecar.is_symlink():
        return (f"its sidecar {sidecar.name} is a link to a file elsewhere; "
                "only sidecars saved into the watched folder are read")
    if destination != photo.parent:
        here = photo.parent.resolve()
        # resolve() follows the links of the part that exists (the `output` subfolder, made later, may not).
        try:
            inside = destination.resolve().is_relative_to(here)
        except (OSError, RuntimeError):   # a link loop (`ln -s motion motion`): RuntimeError before 3.13
            return (f"its output folder {destination.name} is a link that leads to no folder; "
                    "clips are written only inside the watched folder")
        if not inside:
            return (f"its output folder {destination.name} is a link to a folder elsewhere; "
                    "clips are written only inside the watched folder")
    return None
