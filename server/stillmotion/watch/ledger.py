"""The watch ledger: what the watcher took, kept in the job store's database.

One row per photo path taken: the content hash of the bytes that were animated,
the job it became, and the size/mtime last examined (so a restart's scan skips
unchanged files without hashing them).

Exactly once: the job is submitted with an idempotency key made of the path, the
content hash and how often that path was taken before, and the ledger row is
written after it. A crash between the two is harmless: after the restart the
same photo gives the same key, and the store returns the job it already has
instead of a second one. Two watchers of the same folder (the daemon and
`stillmotion watch`) meet at the same key the same way.

A file is new when no row has its path, and no photo with the same content was
taken from the same watched folder (a photo moved or renamed inside the folder
is not a new photo). A path whose content changed is taken again only when its
folder says `retake_changed`.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS watch_ledger (
    path TEXT PRIMARY KEY,        -- absolute path of the photo
    root TEXT NOT NULL,           -- the watched folder it was found in
    content_hash TEXT NOT NULL,   -- sha256 of the bytes that were animated
    size INTEGER NOT NULL,        -- size and mtime when last examined
    mtime_ns INTEGER NOT NULL,
    job_id TEXT,                  -- the job it became (NULL when not taken: a copy, or changed)
    taken_at REAL NOT NULL,       -- unix time of the claim
    note TEXT NOT NULL,           -- why: taken | retaken | same content as ... | changed, not retaken
    takes INTEGER NOT NULL DEFAULT 0  -- how often this path became a job
);
CREATE INDEX IF NOT EXISTS watch_ledger_content ON watch_ledger (root, content_hash);
"""


def idempotency_key(path: Path, digest: str, times_taken: int) -> str:
    """The store's Idempotency-Key for taking this content at this path (n-th time): <= 200 chars."""
    return "watch:" + hashlib.sha256(f"{path}\0{digest}\0{times_taken}".encode()).hexdigest()


@dataclass(frozen=True)
class Decision:
    take: bool
    note: str            # taken | retaken | why not
    takes: int = 0       # how often the path had become a job when this was decided: the key's
                         # count (read later, a second watcher's take in between made another key)


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


class Ledger:
    """Decisions and records on its own sqlite3 connection to the job store's database.

    Its connection is in autocommit mode: each statement is its own transaction.
    """

    def __init__(self, db_path: Path) -> None:
        # Its own connection to the store's file: WAL lets it read while workers write.
        self.conn = sqlite3.connect(db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout=30000")
        ensure_schema(self.conn)

    def close(self) -> None:
        self.conn.close()

    def unchanged_since_examined(self, path: Path, size: int, mtime_ns: int) -> bool:
        """True when this path was examined before with the same size and mtime: nothing new."""
        row = self.conn.execute("SELECT size, mtime_ns FROM watch_ledger WHERE path = ?",
                                (str(path),)).fetchone()
        return row is not None and (row[0], row[1]) == (size, mtime_ns)

    def decide(self, root: Path, path: Path, digest: str, retake_changed: bool,
               last_failed: bool = False) -> Decision:
        """Whether to take `path` (written since it was last examined) with content `digest`.
        `last_failed`: the job it last became failed, so no clip was made of it: written again
        (fixed, or only copied again after a passing fault) it is taken again."""
        row = self.conn.execute("SELECT content_hash, job_id, takes FROM watch_ledger WHERE path = ?",
                                (str(path),)).fetchone()
        takes = row[2] if row is not None else 0
        if row is not None and row[1] is not None:
            if last_failed:
                return Decision(True, "taken again (its last job failed)", takes)
            if row[0] == digest:
                return Decision(False, "already taken", takes)
            if not retake_changed:
                return Decision(False, "changed after it was taken; not taken again (retake_changed = false)", takes)
            return Decision(True, "retaken", takes)
        twin = self.conn.execute(
            "SELECT path FROM watch_ledger WHERE root = ? AND content_hash = ? AND job_id IS NOT NULL LIMIT 1",
            (str(root), digest)).fetchone()
        if twin is not None:
            return Decision(False, f"same content as {twin[0]}, already taken", takes)
        return Decision(True, "taken", takes)

    def content_of(self, path: Path) -> str | None:
        """The content hash recorded for this path (what was animated, when it became a job)."""
        row = self.conn.execute("SELECT content_hash FROM watch_ledger WHERE path = ?", (str(path),)).fetchone()
        return row[0] if row else None

    def job_of(self, path: Path) -> str | None:
        """The job this path last became, if any."""
        row = self.conn.execute("SELECT job_id FROM watch_ledger WHERE path = ?", (str(path),)).fetchone()
        return row[0] if row else None

    def jobs_named(self, folder: Path, stem: str) -> list[tuple[Path, str]]:
        """(path, job) of each photo in `folder` named `stem`.<anything> that became a job."""
        prefix = str(folder / stem) + "."
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.conn.execute("SELECT path, job_id FROM watch_ledger WHERE job_id IS NOT NULL "
                                 "AND path LIKE ? ESCAPE '\\'", (escaped + "%",)).fetchall()
        return [(Path(path), job_id) for path, job_id in rows if Path(path).stem == stem]

    def times_taken(self, path: Path) -> int:
        """How often this path became a job (skipped ones included: each take has its own key)."""
        row = self.conn.execute("SELECT takes FROM watch_ledger WHERE path = ?", (str(path),)).fetchone()
        return row[0] if row else 0

    def release(self, path: Path, job_id: str, note: str) -> None:
        """The job never ran (its photo went away first): the path counts as not taken."""
        # size -1: whatever comes back to this path later is examined afresh.
        self.conn.execute("UPDATE watch_ledger SET job_id = NULL, note = ?, size = -1 WHERE path = ? AND job_id = ?",
                          (note, str(path), job_id))

    def failed(self, path: Path, job_id: str, note: str) -> None:
        """The job failed: no clip was made of the path, so written again (fixed, or copied again
        after a passing fault) it is taken again. Said here, not only by the job's status: a
        finished job is forgotten after [jobs] retention_days, and its photo with it."""
        # size and mtime stay: unchanged, the photo is not tried again at every rescan.
        self.conn.execute("UPDATE watch_ledger SET job_id = NULL, note = ? WHERE path = ? AND job_id = ?",
                          (note, str(path), job_id))

    def record_taken(self, root: Path, path: Path, digest: str, size: int, mtime_ns: int, job_id: str,
                     decision: Decision) -> None:
        """The path became `job_id` by `decision` (so its take count is the decision's plus one,
        also when a second watcher records the same job)."""
        takes, note = decision.takes + 1, decision.note
        self.conn.execute(
            "INSERT OR REPLACE INTO watch_ledger "
            "(path, root, content_hash, size, mtime_ns, job_id, taken_at, note, takes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(path), str(root), digest, size, mtime_ns, job_id, time.time(), note, takes))

    def record_not_taken(self, root: Path, path: Path, digest: str, size: int, mtime_ns: int,
                         note: str) -> None:
        """Remember the examined size/mtime, so an unchanged file is not hashed again.

        A path that became a job keeps the hash of what was animated; one that never did
        (a copy of a photo already taken) is remembered with its current content."""
        updated = self.conn.execute(
            "UPDATE watch_ledger SET size = ?, mtime_ns = ?,"
            " content_hash = CASE WHEN job_id IS NULL THEN ? ELSE content_hash END,"
            " note = CASE WHEN job_id IS NULL THEN ? ELSE note END WHERE path = ?",
            (size, mtime_ns, digest, note, str(path))).rowcount
        if not updated:
            self.conn.execute(
                "INSERT INTO watch_ledger (path, root, content_hash, size, mtime_ns, job_id, taken_at, note) "
                "VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
                (str(path), str(root), digest, size, mtime_ns, time.time(), note))

    def taken(self, root: Path | None = None) -> list[dict]:
        """Rows (for tests and troubleshooting: no route lists them), oldest first."""
        sql = "SELECT path, root, content_hash, job_id, taken_at, note FROM watch_ledger"
        args: tuple = ()
        if root is not None:
            sql, args = sql + " WHERE root = ?", (str(root),)
        cols = ("path", "root", "content_hash", "job_id", "taken_at", "note")
        return [dict(zip(cols, row)) for row in self.conn.execute(sql + " ORDER BY taken_at", args)]
