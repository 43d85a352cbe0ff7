"""The watcher: folder events in, watch jobs out, each photo exactly once.

    watchdog observer ──events──▶ intake thread: settle ─▶ pair sidecar ─▶ hash ─▶ ledger claim + job

The observer thread only queues events; one intake thread owns all state (the
settler, the sidecar pairing, the ledger's database connection), so nothing here
needs a lock. On start, and every `rescan_seconds`, the folders are walked too:
that finds what arrived while nothing was watching, and what an event queue
overflow or a network share's missing events would otherwise lose.

A watched folder that is not there (an unplugged drive), or goes (deleted, renamed,
unmounted: the observer's watch dies with it), is looked for every
FOLDER_CHECK_SECONDS and watched again, and scanned, once it is back.
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import threading
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

from .. import photo as photo_mod
from ..errors import ConfigError, DamagedImageError, InputError
from ..jobs.spec import JobSpec
from ..jobs.store import CANCELED, DONE, FAILED, QUEUED, RUNNING, JobStore, file_digest
from ..metadata.sources import find_sidecar
from .claims import CLAIMS_FOLDER, DONE as CLAIM_DONE, FAILED as CLAIM_FAILED, Claims, forget_ended
from .confine import link_out
from .ledger import Ledger, idempotency_key
from .names import has_text_name, is_hidden_folder, is_ignored, is_session_trash, is_sidecar, printable
from .pairing import SidecarPairing, SidecarState
from .settings import FOLDER_FILE, FolderFileCache, FolderSettings, WatchedFolder
from .settle import Settler

log = logging.getLogger("stillmotion.watch")

FOLDER_CHECK_SECONDS = 1.0   # how often watched folders are checked for having gone or come back


class _Queue(FileSystemEventHandler):
    """Runs on the observer's thread: hand every event to the intake thread, nothing more."""

    def __init__(self, events: "queue.SimpleQueue[FileSystemEvent | None]") -> None:
        self.events = events

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.events.put(event)


class Watcher:
    """Watches folders and turns each complete photo into one watch job."""

    def __init__(self, folders: list[WatchedFolder], store: JobStore, *, rescan_seconds: float = 60.0,
                 tick_seconds: float | None = None) -> None:
        # Deepest first, so a photo belongs to the innermost of nested watched folders.
        self.folders = sorted(folders, key=lambda f: len(f.path.parts), reverse=True)
        self.store = store
        self.rescan_seconds = rescan_seconds
        shortest = min((f.base.settle_seconds for f in folders), default=1.0)
        self.tick = tick_seconds or min(0.25, max(0.02, shortest / 4))
        self._events: queue.SimpleQueue[FileSystemEvent | None] = queue.SimpleQueue()
        self._observer: Observer | None = None
        # Folders watched now: path -> (the observer's watch, the folder's (st_dev, st_ino)). A
        # folder replaced under the same name is another inode, which the old watch never sees.
        self._watches: dict[Path, tuple[ObservedWatch, tuple[int, int]]] = {}
        self._refused: set[Path] = set()   # there, but the system refused a watch: rescans only
        # A watched folder's real path (links followed), which the observer watches -> the
        # folder's own path (/private/tmp/... -> /tmp/... on macOS, a link's target -> the link).
        self._real_paths: dict[Path, Path] = {}
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._scanned = threading.Event()
        self._settler = Settler()
        self._pairing = SidecarPairing()
        self._sidecars: dict[Path, tuple[int, int]] = {}   # complete sidecars: path -> (size, mtime_ns)
        self._folder_files = FolderFileCache()
        self._said: set[str] = set()                       # problems already logged (log each once)
        self._passed_over: set[tuple[str, Path]] = set()  # (kind, watched folder): its files of that kind said passed over
        self._since = time.time()   # sidecars written before this are not looked at for being late
        self._close_events = False
        self._folders_went = False       # a folder was moved or deleted since the last folder check
        # Other stations (own data folders, other machines) watching the same folders: claims.py.
        self._claims = Claims()
        # Photos passed over for another station's claim: path -> ((size, mtime_ns), content hash)
        self._claimed_elsewhere: dict[Path, tuple[tuple[int, int], str]] = {}
        self._forget_claims_at = 0.0     # when the scans next forget old claims of photos gone (daily)
        self._forgetting = False         # this scan forgets them
        self._changed_jobs: queue.SimpleQueue[str] = queue.SimpleQueue()   # from the store's listener
        self.error: BaseException | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        # watchdog's inotify observer warns (on stderr, mid-log) when a folder it watches is
        # renamed over: each clip folder (a TIFF sequence) written under a temporary name and
        # renamed into place in a recursive watch. It re-registers the folder and carries on.
        warnings.filterwarnings("ignore", message="Callback with id .* already exists",
                                category=RuntimeWarning, module=r"watchdog\.")
        observer = Observer()
        # Only inotify reports a writer closing a file; elsewhere stability alone decides.
        self._close_events = type(observer).__name__ == "InotifyObserver"
        observer.start()
        self._observer = observer
        self.store.add_listener(self._changed_jobs.put, progress=False)
        for folder in self.folders:
            if _folder_identity(folder.path) is None:
                log.error("watch folder %s does not exist (or is not a folder); watching it once it appears",
                          folder.path)
            else:
                self._watch(folder)
        self._thread = threading.Thread(target=self._run, name="stillmotion-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
        self._events.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        self.store.remove_listener(self._changed_jobs.put)

    @property
    def watching(self) -> list[WatchedFolder]:
        """The folders being watched now (not those waiting to appear)."""
        return [folder for folder in self.folders if folder.path in self._watches]

    def _watch(self, folder: WatchedFolder) -> bool:
        """Start the observer's watch on `folder`; False when it is not there (or not a folder)."""
        identity = _folder_identity(folder.path)
        if identity is None or self._observer is None:
            return False
        if folder.path in self._watches:   # listed twice: one watch (the first entry's settings apply)
            return True
        # The real path is watched: inotify watching a link to a folder reports nothing (watchdog
        # sets IN_DONT_FOLLOW), and FSEvents reports real paths anyway. Events are named back
        # under the folder's own path (`_as_watched`).
        real = Path(os.path.realpath(folder.path))
        try:
            watch = self._observer.schedule(_Queue(self._events), str(real), recursive=folder.recursive)
        except OSError as exc:   # e.g. the system's limit on watches, in a big recursive tree
            self._refused.add(folder.path)
            instead = (f"found by the rescan every {self.rescan_seconds:g} s instead" if self.rescan_seconds > 0
                       else "not found until a restart ([watch] rescan_seconds = 0)")
            self._say(f"cannot watch {folder.path} for changes ({exc.strerror or exc}); its photos are {instead}")
            return False
        self._watches[folder.path] = (watch, identity)
        for old in [r for r, watched in self._real_paths.items() if watched == folder.path]:
            del self._real_paths[old]       # (a link re-pointed while the folder was away)
        if real != folder.path:
            self._real_paths[real] = folder.path
        return True

    def _as_watched(self, path: Path) -> Path:
        """An event's path named as its watched folder is, so that it matches the folder, the scans
        and the ledger (events named by a real path were dropped: photos waited for a rescan)."""
        if self._owner(path) is not None:
            return path
        for real in sorted(self._real_paths, key=lambda r: len(r.parts), reverse=True):
            try:
                return self._real_paths[real] / path.relative_to(real)
            except ValueError:
                continue
        return path

    def _unwatch(self, path: Path) -> None:
        watch, _ = self._watches.pop(path)
        if self._observer is not None:
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError, RuntimeError):   # its emitter already stopped with the folder
                pass

    def _lost(self, path: Path, ledger: Ledger, *, gone: bool) -> None:
        """A watched folder's watch is dead: it went (`gone`), or another folder took its name.
        Photos queued from it may have gone with it."""
        self._unwatch(path)
        self._skip_vanished_jobs(ledger)
        if gone:
            log.warning("watch folder %s is gone (removed, renamed or unmounted); "
                        "watching it again when it is back", path)

    def _check_folders(self, ledger: Ledger) -> None:
        """Notice watched folders that went (or were replaced), and ones that are (back) there."""
        for folder in self.folders:
            watched = self._watches.get(folder.path)
            identity = _folder_identity(folder.path)
            if (watched is not None and identity == watched[1]) or folder.path in self._refused:
                continue
            if watched is not None:
                self._lost(folder.path, ledger, gone=identity is None)
                if identity is None:
                    continue
            if identity is not None and self._watch(folder):
                log.info("watch folder %s is there %s; watching it", folder.path,
                         "now" if watched is None else "again (made anew under its name)")
                self._scan_dir(folder.path, ledger)

    def wait_scanned(self, timeout: float | None = None) -> bool:
        """True once the start-up scan has queued everything already in the folders."""
        return self._scanned.wait(timeout)

    # ---------------------------------------------------------------- intake thread
    def _run(self) -> None:
        ledger = Ledger(self.store.db_path)
        try:
            self._reclaim(ledger)
            self._scan_all(ledger)
            self._scanned.set()
            next_rescan = time.monotonic() + self.rescan_seconds
            next_check = time.monotonic() + FOLDER_CHECK_SECONDS
            while not self._stopping.is_set():
                try:
                    due = min(next_check, next_rescan) if self.rescan_seconds > 0 else next_check
                    self._drain(ledger, self._wait(due))
                    self._advance(ledger)
                    if time.monotonic() >= next_check:
                        self._check_folders(ledger)
                        if self._folders_went:
                            self._folders_went = False
                            self._skip_vanished_jobs(ledger)
                        next_check = time.monotonic() + FOLDER_CHECK_SECONDS
                    if self.rescan_seconds > 0 and time.monotonic() >= next_rescan:
                        self._scan_all(ledger)
                        next_rescan = time.monotonic() + self.rescan_seconds
                except Exception as exc:
                    # One odd file or a passing fault must not end watching for good (inside the
                    # daemon only the log would say so): said once, then the next round goes on.
                    self._say(f"watch folders: {exc}; watching goes on", exc_info=True)
                    self._stopping.wait(FOLDER_CHECK_SECONDS)
        except BaseException as exc:  # keep the reason for whoever started us
            self.error = exc
            log.exception("watching stopped: %s", exc)
        finally:
            self._scanned.set()
            ledger.close()

    def _wait(self, due: float) -> float:
        """How long the intake thread may wait for an event: a tick while files settle or photos
        wait for their sidecars (both are polled), else until `due`, the next folder check or
        rescan (waking 4 times a second with nothing to do kept a laptop's CPU from resting)."""
        if self._settler or self._pairing:
            return self.tick
        return min(max(0.0, due - time.monotonic()), FOLDER_CHECK_SECONDS)

    def _drain(self, ledger: Ledger, timeout: float) -> None:
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            return
        while event is not None:
            self._on_event(event, ledger)
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return

    def _on_event(self, event: FileSystemEvent, ledger: Ledger) -> None:
        src = self._as_watched(Path(os.fsdecode(event.src_path)))
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.event_type == "moved":
            if self._nameable(src):
                self._gone(src, ledger, moved=True)
            src = self._as_watched(Path(os.fsdecode(event.dest_path)))
        if not self._nameable(src):
            return
        if event.is_directory and event.event_type == "deleted" and src in self._watches:
            # The folder itself: its watch died with it (a folder made again under the name,
            # even one given the same inode number, is watched anew by _check_folders).
            self._lost(src, ledger, gone=True)
            return
        if event.is_directory:
            if event.event_type in ("moved", "deleted"):
                # Photos waiting in the queue may have gone with their folder (no event each):
                # looked for at the next folder check (a subtree deleted is an event per folder,
                # and each look reads the whole queue and looks for each photo on the disk).
                self._folders_went = True
            folder = self._owner(src)
            # (Not a hidden one: a clip folder being written under its temporary name, gone by
            # the time it would be listed. Nor a link: the observer reports a link to a folder,
            # inside a folder moved or copied in, as a folder of its own; it is not walked.)
            if (event.event_type in ("created", "moved") and folder is not None and not is_ignored(src, folder.path)
                    and not src.is_symlink()):
                self._scan_dir(src, ledger)
            return
        if event.event_type == "deleted":
            self._gone(src, ledger, moved=False)
            return
        if src.name == FOLDER_FILE:
            # New or edited folder settings: photos held back by a broken file may go now.
            self._scan_dir(src.parent, ledger)
            return
        self._track(src, written=event.event_type == "modified" and self._close_events,
                    closed=event.event_type in ("closed", "moved"))

    def _advance(self, ledger: Ledger) -> None:
        self._tend_claims()
        complete, vanished = self._settler.ready()
        for path in vanished:
            log.info("%s was removed before it was complete; skipped", path)
        for path in complete:
            if is_sidecar(path):
                self._sidecars[path] = _stat_key(path) or (0, 0)
                self._check_late(path, ledger)
                continue
            resolved = self._resolve(path)
            if resolved is not None:
                self._pairing.add(path, resolved[1].sidecar_wait_seconds)
        for photo, sidecar in self._pairing.due(self._sidecar_of):
            try:
                self._take(photo, sidecar, ledger)
            except Exception:   # e.g. the database busy past its timeout: not recorded, so retried
                log.exception("%s: not taken this time; it is tried again at the next scan", photo)

    # ---------------------------------------------------------------- files
    def _owner(self, path: Path) -> WatchedFolder | None:
        for folder in self.folders:
            if folder.contains(path):
                return folder
        return None

    def _resolve(self, path: Path) -> tuple[WatchedFolder, FolderSettings] | None:
        """The watched folder and effective settings for a photo; None when it is not one to take."""
        folder = self._owner(path)
        if folder is None or is_ignored(path, folder.path):
            return None
        try:
            settings = folder.settings_for(path, self._folder_files)
        except ConfigError as exc:
            self._say(f"{exc} -- photos in {path.parent} are held until it is fixed")
            return None
        return (folder, settings) if settings.matches(path.name) else None

    def _track(self, path: Path, *, written: bool = False, closed: bool = False) -> None:
        if path in self._settler:
            self._settler.touch(path, written=written, closed=closed)
            return
        folder = self._owner(path)
        if folder is None or is_ignored(path, folder.path):
            return
        if is_sidecar(path):
            self._sidecars.pop(path, None)
            self._settler.touch(path, folder.base.settle_seconds, written=written, closed=closed)
            return
        resolved = self._resolve(path)
        if resolved is None:
            suffix = path.suffix.lower()
            if suffix in photo_mod.CAMERA_RAW_SUFFIXES:
                # Not a photo to take, but one a photographer expects a clip of: said, or they wait
                # for a clip that never comes. Nothing is written beside it.
                self._say_passed_over("raw", folder, lambda where: (
                    f"{path}: a camera raw file, not taken (nor any other raw file in {where}): "
                    "Stillmotion animates the developed photo; export it as JPEG, TIFF or HEIC into "
                    "the watched folder (a Capture One process recipe, a Lightroom export)"))
            unread = photo_mod.UNREAD_PHOTO_FORMATS.get(suffix)
            if unread:   # (Lightroom's HDR exports: waited for in silence like a raw file)
                article = "an" if unread[0] in "AEIOU" else "a"
                self._say_passed_over("unread", folder, lambda where: (
                    f"{path}: {article} {unread} file, not taken (nor any other AVIF or JPEG XL file in "
                    f"{where}): Stillmotion does not read AVIF or JPEG XL (Lightroom's HDR export formats); "
                    "export the photo as JPEG, TIFF or HEIC (SDR) into the watched folder"))
            return
        self._pairing.forget(path)   # changed again while waiting for its sidecar: settle again
        self._settler.touch(path, resolved[1].settle_seconds, written=written, closed=closed)

    def _say_passed_over(self, kind: str, folder: WatchedFolder, line: Callable[[str], str]) -> None:
        """Say, once per watched folder and `kind`, that a file and the folder's other files of
        that kind are passed over (`line(where)`, naming the first): a watched session's capture
        folder holds hundreds of raw files, a recursive archive thousands of folders of them."""
        if (kind, folder.path) in self._passed_over:
            return
        self._passed_over.add((kind, folder.path))
        self._say(line(f"{folder.path} or its subfolders" if folder.recursive else f"{folder.path}"))

    def _gone(self, path: Path, ledger: Ledger, *, moved: bool) -> None:
        was_waiting = self._settler.forget(path) | self._pairing.forget(path)
        self._sidecars.pop(path, None)
        self._claimed_elsewhere.pop(path, None)
        if is_sidecar(path):
            return
        how = "moved away" if moved else "deleted"
        if was_waiting:
            log.info("%s was %s before its turn; skipped", path, how)
            return
        job_id = ledger.job_of(path)
        if job_id is not None:
            self._skip_queued(job_id, f"photo {how} before its turn", ledger)

    def _skip_queued(self, job_id: str, why: str, ledger: Ledger) -> None:
        """A queued watch job whose photo is gone ends as skipped (canceled, no error), not failed.

        The ledger forgets it was taken: if the photo shows up again (moved back, or renamed
        inside the folder) it was never animated, so it is new."""
        job = self.store.get(job_id)
        if job is None or job.status != QUEUED:
            return
        if self.store.finish(job.id, None, CANCELED, info={"skipped": why}) is not None:
            ledger.release(job.photo_path, job.id, why)
            log.info("%s: %s; job %s skipped", job.photo_path, why, job.id)

    def _skip_vanished_jobs(self, ledger: Ledger) -> None:
        """Queued watch jobs whose photo disappeared while nobody was watching."""
        for job in self.store.queue():
            if job.source == "watch" and not job.photo_path.exists():
                self._skip_queued(job.id, "photo removed before its turn", ledger)

    def _sidecar_of(self, photo: Path) -> SidecarState:
        sidecar = find_sidecar(photo)
        if sidecar is None:
            return "none", None
        if sidecar in self._settler:
            return "pending", sidecar
        key = _stat_key(sidecar)
        if key is not None and self._sidecars.get(sidecar) == key:
            return "ready", sidecar
        # Present but not seen complete (its event is still on the way): settle it first.
        folder = self._owner(sidecar)
        self._settler.touch(sidecar, folder.base.settle_seconds if folder else 1.0)
        return "pending", sidecar

    def _scan_all(self, ledger: Ledger) -> None:
        self._skip_vanished_jobs(ledger)
        self._refused.clear()   # their watches are tried again
        self._forgetting = time.monotonic() >= self._forget_claims_at
        if self._forgetting:
            self._forget_claims_at = time.monotonic() + 86400.0
        try:
            for folder in self.folders:
                if folder.path.is_dir():
                    self._scan_dir(folder.path, ledger)
        finally:
            self._forgetting = False

    def _scan_dir(self, directory: Path, ledger: Ledger) -> None:
        """Track every file below `directory` not already examined unchanged, oldest first: the
        folder lists them in no useful order, and photos waiting since before a restart (or a
        batch moved in) are then animated in the order they arrived, as dropped ones are."""
        found: list[tuple[int, str, Path]] = []
        for path in self._walk(directory):
            if path in self._settler or path in self._pairing or not self._nameable(path):
                continue
            key = _stat_key(path)
            if key is None or ledger.unchanged_since_examined(path, *key):
                continue
            if is_sidecar(path) and self._sidecars.get(path) == key:
                continue
            found.append((key[1], str(path), path))
        for _, _, path in sorted(found):
            self._track(path)

    def _walk(self, directory: Path) -> Iterator[Path]:
        folder = self._owner(directory / "x")   # the watched folder that owns files right in `directory`
        if folder is None:
            return
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            self._say(f"cannot list {directory}: {exc.strerror}")
            return
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_file():
                    yield path
                elif entry.name == CLAIMS_FOLDER and self._forgetting:
                    forget_ended(directory)
                # A linked folder is not walked, as the live watch does not follow it: its clips
                # would go wherever it points, and a link back up (`loop -> ..`) never ends.
                elif (entry.is_dir(follow_symlinks=False) and folder.recursive and not is_hidden_folder(entry.name)
                      and not is_session_trash(path)):
                    yield from self._walk(path)
            except OSError:
                continue

    # ---------------------------------------------------------------- taking
    def _take(self, photo: Path, sidecar: Path | None, ledger: Ledger) -> None:
        resolved = self._resolve(photo)
        if resolved is None:
            return
        folder, settings = resolved
        why = link_out(photo, settings.out_dir(photo) or photo.parent)
        if why is not None:
            self._say(f"{photo}: {why}; not taken")
            return
        before = _stat_key(photo)
        try:
            if before is None:
                raise FileNotFoundError(photo)
            if ledger.unchanged_since_examined(photo, *before):
                return
            seen = self._claimed_elsewhere.pop(photo, None)
            if seen is not None and seen[0] == before and self._claims.still_taken(photo, seen[1]):
                # Unchanged and still another station's (said at the first look): not read through
                # again at each rescan (its queue of TIFFs on a NAS, every minute).
                self._claimed_elsewhere[photo] = seen
                return
            digest = file_digest(photo)
        except FileNotFoundError:
            log.info("%s was removed before its turn; skipped", photo)
            return
        except OSError as exc:
            self._say(f"cannot read {photo}: {exc.strerror}; skipped")
            return
        if _stat_key(photo) != before:   # written to while we hashed it: not complete after all
            self._track(photo)
            return
        last = ledger.job_of(photo)
        last_job = self.store.get(last) if last is not None else None
        decision = ledger.decide(folder.path, photo, digest, settings.retake_changed,
                                 last_failed=last_job is not None and last_job.status == FAILED)
        if not decision.take:
            ledger.record_not_taken(folder.path, photo, digest, *before, decision.note)
            log.info("%s: %s", photo, decision.note)
            return
        try:
            # Stable is not always complete: a copy that stalls longer than the settle time (a
            # network share, a writer pausing where no close events are reported) leaves a cut
            # file. Such a file is not taken (a job would only fail on it): it is looked at
            # again when it changes, or at the next scan. (Read through only once the ledger
            # says it would be taken: duplicates and known photos cost no decode.)
            photo_mod.check_complete(photo, float("inf"))
        except DamagedImageError as exc:
            reason = str(exc).removeprefix(f"{photo.name}: ")
            self._say(f"{photo}: {reason}; not taken until the file changes")
            # Its size and mtime remembered: left as it is (for weeks, maybe), it is not read
            # through again at every rescan; the rest of the copy arriving changes them.
            ledger.record_not_taken(folder.path, photo, digest, *before, f"{reason}; not taken")
            return
        except InputError:
            pass   # not an image at all, or too large: its job says so, and the ledger remembers
        try:
            # The sidecar paired here is one found beside the photo, not one a user named: the
            # job finds it the same way, so a broken one is a warning and the clip is made
            # without it (named, it would fail the job, and the photo is not taken again).
            spec = JobSpec(photo_path=photo, request=settings.request, out_dir=settings.out_dir(photo))
        except InputError as exc:
            self._say(f"{photo}: {exc}")
            return
        other = self._claims.acquire(photo, digest, before)
        if other is not None:
            # Another station (its own data folder, maybe another machine) watching this folder took it.
            if other.state == CLAIM_DONE or other.state == CLAIM_FAILED:
                how = "animated" if other.state == CLAIM_DONE else "failed (written again, it is tried again)"
                note = f"already taken by {other.station}: {how}"
                ledger.record_not_taken(folder.path, photo, digest, *before, note)
                log.info("%s: %s", photo, note)
            else:
                # Not recorded: looked at again at the next scan, taken over if that claim is stale.
                self._claimed_elsewhere[photo] = (before, digest)
                log.info("%s: being animated by %s, which watches this folder too; passed over here",
                         photo, other.station)
            return
        # The key (path, content, n-th take) is also the fingerprint: a resubmission after a
        # crash, or by a second watcher, is the same job even if settings changed meanwhile.
        # The take count is the one the decision saw: read now, a second watcher's take
        # recorded while this one read the photo through would make another key (and clip).
        key = idempotency_key(photo, digest, decision.takes)
        submission = self.store.submit(spec, priority="watch", idempotency_key=key, fingerprint=key,
                                       source="watch")
        job_id = submission.job.id
        ledger.record_taken(folder.path, photo, digest, *before, job_id, decision)
        self._claims.hold(photo, digest, job_id, before)
        if submission.job.status not in (QUEUED, RUNNING):
            self._changed_jobs.put(job_id)     # (ended already: its claim says how)
        if submission.created:
            log.info("%s: %s as job %s%s", photo, decision.note, job_id,
                     f" (with {sidecar.name})" if sidecar else "")
        else:
            # The same take's job (a second watcher's, or this one's before a crash cut it off
            # from its ledger row), which may have ended meanwhile.
            status = submission.job.status
            state = "queued" if status == QUEUED else "being animated" if status == RUNNING else f"taken ({status})"
            log.info("%s: already %s as job %s", photo, state, job_id)

    def _tend_claims(self) -> None:
        """Say in their claims how this station's jobs ended; keep the others' claims fresh."""
        while True:
            try:
                job_id = self._changed_jobs.get_nowait()
            except queue.Empty:
                break
            if not self._claims.holds(job_id):
                continue
            job = self.store.get(job_id)
            if job is None or job.status == CANCELED:
                self._claims.ended(job_id, None)
            elif job.status == DONE:
                self._claims.ended(job_id, CLAIM_DONE)
            elif job.status == FAILED:
                self._claims.ended(job_id, CLAIM_FAILED)
        if self._claims.heartbeat():
            # Looked at again now and then: a job the other process of this data folder ran (the
            # daemon beside `stillmotion watch`) ends without a word to this one's listener.
            for held_job, _, _ in list(self._claims.held.values()):
                self._changed_jobs.put(held_job)

    def _reclaim(self, ledger: Ledger) -> None:
        """On start: keep up the claims of watch jobs still queued from before. One another station
        took over while this one was off is theirs now: the job here is skipped, not run twice."""
        for job in self.store.queue():
            digest = ledger.content_of(job.photo_path) if job.source == "watch" else None
            key = _stat_key(job.photo_path)
            if digest is None or key is None:
                continue
            other = self._claims.acquire(job.photo_path, digest, key)
            if other is not None and other.state != CLAIM_FAILED:
                self._skip_queued(job.id, f"taken over by {other.station}, which watches this folder too", ledger)
            else:
                self._claims.hold(job.photo_path, digest, job.id, key)

    def _check_late(self, sidecar: Path, ledger: Ledger) -> None:
        """Say so when a sidecar is written after its photo's clip was begun: the clip is made
        without it (an exporter that writes sidecars later than `sidecar_wait_seconds`, or
        metadata edited afterwards), which otherwise shows only as a clip missing its look.
        Only photos that became jobs can be late: the ledger names them (no folder listing)."""
        try:
            written = os.stat(sidecar).st_mtime
        except OSError:
            return
        if written < self._since:   # (a pair found at start: not news)
            return
        name = sidecar.name[:-len(".xmp")]
        named = sidecar.with_name(name)                     # IMG_1.jpg.xmp -> IMG_1.jpg
        job_id = ledger.job_of(named) if named.suffix else None
        candidates = [(named, job_id)] if job_id else ledger.jobs_named(sidecar.parent, name)   # IMG_1.xmp
        for photo, job_id in candidates:
            job = self.store.get(job_id)
            if job is None or job.started is None or written <= job.started or find_sidecar(photo) != sidecar:
                continue
            resolved = self._resolve(photo)
            wait = f" ([watch] sidecar_wait_seconds = {resolved[1].sidecar_wait_seconds:g} s)" if resolved else ""
            self._say(f"{sidecar} was written after the clip of {photo.name} was begun (job {job.id}): "
                      f"that clip is made without it; a sidecar must be there within the wait for its photo{wait}")

    def _nameable(self, path: Path) -> bool:
        """False (said once for a photo) when the name is not valid UTF-8: it cannot be recorded,
        so it is left alone rather than stopping the watcher."""
        if has_text_name(path):
            return True
        if not path.is_dir() and self._resolve(path) is not None:
            self._say(f"{printable(path)}: its name is not valid UTF-8 (from an older system?); "
                      "not taken: rename it to have it animated")
        return False

    def _say(self, message: str, *, exc_info: bool = False) -> None:
        if message not in self._said:
            self._said.add(message)
            log.warning("%s", message, exc_info=exc_info)


def _folder_identity(path: Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of a folder; None when there is no folder at `path`."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def _stat_key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns
