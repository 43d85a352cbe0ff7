"""Ordered work-ahead on a few threads: finishing keeps both cores busy, in order.

Frame work here is numpy/OpenCV, which releases the GIL, so threads overlap well.
At most `ahead` results are pending at once, so memory stays bounded by a few
frames whatever the clip's length.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], *, workers: int = 2, ahead: int = 2) -> Iterator[R]:
    """fn(item) for each item, computed up to `ahead` items early on `workers` threads,
    yielded in the items' order. Exceptions surface at the item that raised them.
    `items` is consumed in the caller's thread."""
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    pending: deque[Future[R]] = deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stillmotion-finish")
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        # A consumer that stops early (cancel, error) must not leave work running.
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
