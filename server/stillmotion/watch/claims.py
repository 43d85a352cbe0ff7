"""Claims: several stations watching one shared folder (a NAS hot folder) animate each photo once.

Each station (a `serve` or `watch` with its own data folder, on this machine or another) keeps
its own job store and ledger, so without a word between them every station took every photo:
two clips (`IMG.motion.mp4`, `IMG.motion-2.mp4`) and twice the GPU time. Before a station
submits a photo it claims it in the photo's own folder, where every station sees it:

    .stillmotion-claims/<hash of the photo's name and content>.json

created exclusively (place.claim: a hard link of a finished temporary, so no station ever
reads half a claim), saying which station took it and how it went: `taken` (queued or being
animated), `done` or `failed`. A station that finds another's claim passes the photo over:

- `done`: animated there; not taken here (and not again when it is copied in again).
- `failed`: not taken, unless the photo was written again since (fixed, or copied again
  after a passing fault), as a station does with its own failures.
- `taken`: left alone while its station keeps it fresh (it touches its claims every
  HEARTBEAT_SECONDS while the job waits or runs); one left unchanged for STALE_SECONDS (the
  station was switched off or lost the share) is taken over, and the photo animated here.
  Staleness is judged by this station's own clock from when it first saw that claim
  unchanged, so clocks that disagree between machines do not matter.

Two stations of one data folder (the daemon and `stillmotion watch` side by side) are one
station: they share a store and meet at the job's idempotency key instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..place import read_regular, write_file

log = logging.getLogger("stillmotion.watch")

CLAIMS_FOLDER = ".stillmotion-claims"   # hidden: never walked by a watcher
HEARTBEAT_SECONDS = 30.0     # how often a station touches the claims of its unfinished jobs
STALE_SECONDS = 300.0        # a `taken` claim unchanged this long is taken over

TAKEN, DONE, FAILED = "taken", "done", "failed"
# An ended claim whose photo has left the folder is forgotten once it is this old: a hot folder
# emptied daily kept one file per photo it ever held (100k photos: ~400 MB of disk blocks).
FORGET_AFTER_SECONDS = 30 * 86400.0
CLAIM_MAX_BYTES = 64 * 1024   # a claim is a few hundred bytes


def this_station() -> tuple[str, str]:
    """(id, name): the id tells stations apart, the name is for people (host and data folder).

    The id is made once, at random, and kept in the data folder (`station-id`): host and data
    folder alone are not enough (a studio's Macs cloned from one image share a host name and
    user, and each took the other's claims for its own), and a network card's number changes
    with a VPN or a dock (a station then took its own claims for another's and skipped its
    own queued photos). A data folder that cannot be written falls back to host and folder."""
    host = socket.gethostname() or "this computer"
    folder = paths.data_dir()
    return f"{host}:{_station_key(folder) or folder}", f"{host} ({folder})"


def _station_key(folder: Path) -> str | None:
    """This data folder's random station key, made on first use (by one process of several)."""
    kept = folder / "station-id"
    for _ in range(2):
        try:
            key = kept.read_text(encoding="ascii").strip()
            if key:
                return key
        except (OSError, ValueError):
            pass
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # (another process may have made it meanwhile: that one is read)
            write_file(kept, uuid.uuid4().hex + "\n", exclusive=True)
        except OSError:
            return None
    return None


def claim_path(photo: Path, digest: str) -> Path:
    key = hashlib.sha256(f"{photo.name}\0{digest}".encode()).hexdigest()[:32]
    return photo.parent / CLAIMS_FOLDER / f"{key}.json"


@dataclass(frozen=True)
class Claim:
    path: Path
    station_id: str
    station: str
    state: str
    photo: str                       # the photo's name, in the claim's folder
    photo_key: tuple[int, int]      # the photo's (size, mtime_ns) when it was claimed
    mtime_ns: int                    # the claim file's own: its heartbeat


def read(path: Path) -> Claim | None:
    """The claim at `path`; None when there is none. One that cannot be read as a claim (a
    fallback exclusive create caught half-way, an odd file) counts as another's fresh `taken`."""
    try:
        mtime_ns = os.stat(path).st_mtime_ns
        data = json.loads(_read_claim_file(path))
        return Claim(path, str(data["station_id"]), str(data["station"]), str(data["state"]), str(data["photo"]),
                     (int(data["photo_size"]), int(data["photo_mtime_ns"])), mtime_ns)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        try:
            mtime_ns = os.stat(path).st_mtime_ns
        except OSError:
            return None
        return Claim(path, "?", "another station", TAKEN, "", (-1, -1), mtime_ns)


def _read_claim_file(path: Path) -> str:
    """The text of a claim file. Whoever can write the folder can put a named pipe or a link to
    /dev/zero under a claim's name (it follows from the photo): neither is read (ValueError)."""
    data = read_regular(path, CLAIM_MAX_BYTES)
    if data is None:
        raise ValueError(f"{path} is not a regular file")
    return data.decode("utf-8")


class Claims:
    """This station's claims: made, kept fresh, and marked when their jobs end."""

    def __init__(self) -> None:
        self.station_id, self.station = this_station()
        self.held: dict[Path, tuple[str, str, tuple[int, int]]] = {}   # claim -> (job, photo name, photo key)
        self._first_seen: dict[Path, tuple[int, float]] = {}       # others' claims: (mtime, when seen)
        self._unwritable: set[Path] = set()    # folders said to take no claim (said once: a shoot is hundreds)
        self._next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS

    def _write(self, path: Path, photo: str, state: str, photo_key: tuple[int, int], *, exclusive: bool) -> bool:
        path.parent.mkdir(exist_ok=True)
        return write_file(path, json.dumps({"photo": photo, "station": self.station, "station_id": self.station_id,
                                            "state": state, "photo_size": photo_key[0],
                                            "photo_mtime_ns": photo_key[1], "at": time.time()}), exclusive=exclusive)

    def acquire(self, photo: Path, digest: str, photo_key: tuple[int, int]) -> Claim | None:
        """Claim the photo for this station: None when it is ours to take (claimed now, or
        already ours), else the other station's claim that passes it over. A folder where no
        claim can be written (read-only to this station) is taken without one."""
        path = claim_path(photo, digest)
        try:
            for _ in range(3):
                if self._write(path, photo.name, TAKEN, photo_key, exclusive=True):
                    self._first_seen.pop(path, None)
                    return None
                other = read(path)
                if other is None:
                    continue                      # gone meanwhile (a failure withdrawn): try again
                if other.station_id == self.station_id or self._may_take_over(other, photo_key):
                    self._write(path, photo.name, TAKEN, photo_key, exclusive=False)
                    self._first_seen.pop(path, None)
                    return None
                return other
        except OSError as exc:
            if photo.parent not in self._unwritable:
                self._unwritable.add(photo.parent)
                log.warning("%s: cannot write its claim in %s (%s); it and the folder's other photos are "
                            "taken without one: another station watching this folder may animate them too",
                            photo, photo.parent, exc.strerror or exc)
        return None

    def _may_take_over(self, other: Claim, photo_key: tuple[int, int]) -> bool:
        if other.state == FAILED:
            return other.photo_key != photo_key          # written again since it failed
        if other.state != TAKEN or not self._stale(other):
            return False
        log.warning("%s: %s's claim was not renewed for %g s (switched off, or lost the folder?); taken over",
                    other.path.parent, other.station, STALE_SECONDS)
        return True

    def _stale(self, other: Claim) -> bool:
        """Whether `other` (a `taken` claim) has been seen unchanged for STALE_SECONDS, by this
        station's clock: its first sighting, or a renewal, starts the count."""
        seen = self._first_seen.get(other.path)
        if seen is None or seen[0] != other.mtime_ns:
            self._first_seen[other.path] = (other.mtime_ns, time.monotonic())
            return False
        return time.monotonic() - seen[1] >= STALE_SECONDS

    def still_taken(self, photo: Path, digest: str) -> bool:
        """Whether another station's `taken` claim, kept fresh, still passes the photo over: then
        there is nothing new to look at (checked without claiming or reading the photo)."""
        other = read(claim_path(photo, digest))
        return (other is not None and other.state == TAKEN and other.station_id != self.station_id
                and not self._stale(other))

    def hold(self, photo: Path, digest: str, job_id: str, photo_key: tuple[int, int]) -> None:
        """Keep the claim of `photo` fresh while `job_id` waits or runs."""
        self.held[claim_path(photo, digest)] = (job_id, photo.name, photo_key)

    def holds(self, job_id: str) -> bool:
        return any(held_job == job_id for held_job, _, _ in self.held.values())

    def ended(self, job_id: str, state: str | None) -> None:
        """The job ended: `done`/`failed` is written into its claim; None (skipped, canceled: no
        clip and no fault of the photo) withdraws the claim, so any station may take it later."""
        for path, (held_job, photo, photo_key) in list(self.held.items()):
            if held_job != job_id:
                continue
            del self.held[path]
            try:
                current = read(path)
                if current is None or current.station_id != self.station_id:
                    continue                        # taken over meanwhile: theirs now
                if state is None:
                    path.unlink(missing_ok=True)
                else:
                    self._write(path, photo, state, photo_key, exclusive=False)
            except OSError as exc:
                log.warning("cannot update the claim %s (%s)", path, exc.strerror or exc)

    def heartbeat(self, force: bool = False) -> bool:
        """Touch the claims of unfinished jobs, every HEARTBEAT_SECONDS; True when it did."""
        if not force and time.monotonic() < self._next_heartbeat:
            return False
        self._next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
        for path in list(self.held):
            try:
                os.utime(path)
            except OSError:
                pass
        return True


def forget_ended(folder: Path, now: float | None = None) -> int:
    """Remove the `done`/`failed` claims in `folder`'s claims folder whose photo is no longer in
    `folder` and that were last written over FORGET_AFTER_SECONDS ago; returns how many. A
    claim being taken or renewed, or whose photo is still there, is kept."""
    claims = folder / CLAIMS_FOLDER
    now = time.time() if now is None else now
    forgotten = 0
    try:
        entries = list(os.scandir(claims))
    except OSError:
        return 0
    for entry in entries:
        try:
            if not entry.name.endswith(".json") or now - entry.stat().st_mtime < FORGET_AFTER_SECONDS:
                continue
            ended = read(Path(entry.path))   # (one that cannot be read counts as `taken`: kept)
            if (ended is None or ended.state not in (DONE, FAILED) or not ended.photo or os.sep in ended.photo
                    or (folder / ended.photo).exists()):
                continue
            os.unlink(entry.path)
            forgotten += 1
        except OSError:
            continue
    return forgotten
