"""Job change notifications on the event loop, and the Server-Sent Events stream.

The store calls `JobEvents.notify` from whatever thread changed a job (the worker's,
mostly); waiters on the loop wake and read the job's current record. Reading the
record, rather than queueing every update, means a slow client never makes the daemon
hold a backlog: it gets the latest state, in order, and never a stale one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Iterator

from aiohttp import web

from ..jobs.store import JobStore

POLL_S = 1.0          # re-read even without a notification: jobs run by another process
KEEPALIVE_S = 15.0    # a comment line so proxies and clients see the stream is alive


class JobEvents:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self.closing = False

    def close(self) -> None:
        """The daemon is stopping: every stream ends now (aiohttp waits for open requests
        before it stops the worker, so a watched job would go on rendering until they end)."""
        self.closing = True
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    def notify(self, job_id: str) -> None:
        """Thread-safe. Cheap when nobody listens (the loop is not even woken)."""
        if job_id in self._waiters and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):   # loop shutting down
                self._loop.call_soon_threadsafe(self._wake, job_id)

    def _wake(self, job_id: str) -> None:
        for event in self._waiters.get(job_id, ()):
            event.set()

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the job changes. Register before reading the job, so no
        change between the read and the wait is missed."""
        event = asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[job_id]

    async def wait_terminal(self, store: JobStore, job_id: str, timeout: float) -> None:
        """Wait up to `timeout` seconds for the job to finish (used by DELETE)."""
        deadline = time.monotonic() + timeout
        with self.watch(job_id) as changed:
            while True:
                changed.clear()
                job = store.get(job_id)
                left = deadline - time.monotonic()
                if job is None or job.terminal or left <= 0 or self.closing:
                    return
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(left, POLL_S))


def _event(seq: int, payload: dict) -> bytes:
    return f"id: {seq}\ndata: {json.dumps(payload, default=str)}\n\n".encode()


async def stream_job(request: web.Request, store: JobStore, events: JobEvents, job_id: str) -> web.StreamResponse:
    """Send the job's record each time it changes; end after a terminal status, or when the
    daemon stops (the job then waits in the queue; the client sees the stream end early)."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    last: dict | None = None
    seq = 0
    last_write = time.monotonic()
    try:
        with events.watch(job_id) as changed:
            while True:
                changed.clear()
                job = store.get(job_id)
                if job is None:          # pruned while we watched
                    break
                payload = job.to_dict()
                if payload != last:
                    seq += 1
                    await response.write(_event(seq, payload))
                    last, last_write = payload, time.monotonic()
                if job.terminal or events.closing:
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), POLL_S)
                if events.closing:
                    break
                if time.monotonic() - last_write >= KEEPALIVE_S:
                    await response.write(b": keep-alive\n\n")
                    last_write = time.monotonic()
        await response.write_eof()
    except ConnectionResetError:
        pass   # the client went away: nothing to clean up but the watch, done above
    return response
