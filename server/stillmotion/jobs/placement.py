"""Exactly one clip per job variant, even when the daemon dies just after placing it.

Placing a clip (a hard link or rename to its final name) and recording the job
as done are two steps; a crash between them used to re-run the job on restart
and leave a second clip (`IMG.motion-2.mp4`) beside the first. So before a
daemon job places a variant it writes a record of what it is about to place,
the device and inode of each finished temporary, in a hidden file in the
destination (`.stillmotion-placed-<job>-v<variant>.json`). Linking and renaming
keep the inode, so a rerun of the job finds a variant's clip under whatever name
it got, by inode, and takes it instead of rendering it again. The records go
when the job ends (done, failed or canceled); a requeued job keeps them.

Only daemon jobs (which have a job id) keep records; a one-off CLI run has
nothing to resume.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..place import PLACED_PREFIX, output_stem, replace_durably


def _record_path(folder: Path, job_id: str, variant: int) -> Path:
    return folder / f"{PLACED_PREFIX}{job_id}-v{variant}.json"


def record(folder: Path, job_id: str, variant: int, temps: dict[str, Path]) -> None:
    """Note the identity of the temporaries {suffix: path} about to be placed (written atomically)."""
    if not job_id:
        return
    ids = {}
    for suffix, path in temps.items():
        st = os.stat(path)
        ids[suffix] = [st.st_dev, st.st_ino]
    target = _record_path(folder, job_id, variant)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(ids), encoding="utf-8")
    # On the disk before the clip gets its name: an empty record after a power cut would
    # let the rerun render the variant again beside the clip it placed.
    replace_durably(tmp, target)


def recall(folder: Path, job_id: str, variant: int, stem: str) -> dict[str, Path] | None:
    """The outputs {suffix: path} this job already placed for `variant`, or None.

    Found by identity among the names placing gives (`stem.motion.ext`,
    `stem.motion-2.ext`, ...), so only what this job itself placed counts, never
    another job's clip of the same photo.
    """
    if not job_id:
        return None
    try:
        ids = json.loads(_record_path(folder, job_id, variant).read_text(encoding="utf-8"))
        wanted = {suffix: (int(dev), int(ino)) for suffix, (dev, ino) in ids.items()}
    except (OSError, ValueError, TypeError):
        return None
    by_identity = {ident: suffix for suffix, ident in wanted.items()}
    found: dict[str, Path] = {}
    stem = output_stem(stem, "motion")   # as placing cut it
    prefix = f"{stem}.motion"
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(prefix)]
    except OSError:
        return None
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        suffix = by_identity.get((st.st_dev, st.st_ino))
        if suffix is not None and _placed_name(entry.name, stem, suffix):
            found[suffix] = folder / entry.name
    return {suffix: found[suffix] for suffix in wanted} if len(found) == len(wanted) else None


def recall_all(folder: Path, job_id: str, variants: int, stem: str) -> list[Path]:
    """Every output this job placed (its clips and their sidecars, variant by variant) by its
    records: what a job whose render process was killed leaves in place."""
    placed: list[Path] = []
    for variant in range(variants):
        outputs = recall(folder, job_id, variant, stem)
        if outputs is not None:
            placed.extend(outputs.values())
    return placed


def _placed_name(name: str, stem: str, suffix: str) -> bool:
    """Whether `name` is one that placing gives (`stem.motion[-N]<suffix>`)."""
    base = f"{stem}.motion"
    if not (name.startswith(base) and name.endswith(suffix)):
        return False
    index = name[len(base):len(name) - len(suffix)]
    return index == "" or (index.startswith("-") and index[1:].isdigit())


def forget(folder: Path, job_id: str) -> None:
    """Remove every placement record of a job that has ended."""
    if job_id and folder.is_dir():
        for path in folder.glob(f"{PLACED_PREFIX}{job_id}-*"):
            path.unlink(missing_ok=True)
