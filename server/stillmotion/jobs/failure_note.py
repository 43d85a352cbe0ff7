"""A note where a watch-folder photo's clip would have gone, saying why it could not be made.

Whoever drops photos into a hot folder (a Capture One recipe, a studio assistant) looks
at the folder, not at the daemon's log: a photo whose job fails gets
`IMG.motion.failed.txt` beside where `IMG.motion.mp4` would be, with the reason and
what to do. A later take of the photo (it is taken again once it is written again)
replaces the note if it fails too, and removes it when its clip is made. The name is
Stillmotion's own (watch folders never take it, see place.is_own_output); a file of that
name that is not such a note is left alone.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..place import output_stem, read_regular, write_file

log = logging.getLogger("stillmotion.jobs")

SUFFIX = ".failed.txt"
_OPENING = "Stillmotion could not animate "


def note_path(destination: Path, photo: Path) -> Path:
    """`IMG.motion.failed.txt` in the folder the photo's clips go into."""
    return destination / f"{output_stem(photo.stem, 'motion')}.motion{SUFFIX}"


def _is_note(path: Path, about: Path | None = None) -> bool:
    """A note of ours; with `about`, one saying that photo failed (SHOT.jpg and SHOT.tif share
    the note's name, and the clip of one must not take away the note of the other)."""
    opening = _OPENING + (f"{about.name} (" if about is not None else "")
    try:
        # (A named pipe under the note's name would hold the job at open: it is no note.)
        return read_regular(path, len(opening.encode())) == opening.encode()
    except OSError:
        return False


def write(destination: Path, photo: Path, job_id: str, message: str) -> Path | None:
    """Write (or replace) the note for `photo`; None when it could not be (said in the log)."""
    path = note_path(destination, photo)
    if path.exists() and not _is_note(path):
        log.warning("%s is not a note of Stillmotion's: left alone (the failure is in this log only)", path)
        return None
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    text = (f"{_OPENING}{photo.name} (job {job_id}, {when}):\n\n{message}\n\n"
            "Once it is fixed, save or copy the photo into the folder again: it is animated then,\n"
            "and this note is removed when its clip is made.\n")
    try:
        destination.mkdir(exist_ok=True)   # an `output` subfolder not made yet (no clip so far)
        write_file(path, text, tag=job_id)   # whole or not at all, as every output
    except OSError as exc:
        log.warning("cannot write %s (%s): the failure is in this log only", path, exc.strerror or exc)
        return None
    return path


def clear(destination: Path, photo: Path) -> None:
    """Remove the note for `photo`, if there is one (its clip has been made)."""
    path = note_path(destination, photo)
    if _is_note(path, about=photo):
        try:
            path.unlink()
        except OSError as exc:
            log.warning("cannot remove %s (%s); its photo has been animated since", path, exc.strerror or exc)
