"""Full-size frame arrays handed out again once nobody holds them any more.

Every stage of a clip makes a new frame per frame (a stage cannot know whether
its caller keeps the last one). A fresh multi-megabyte array costs more than
the memory: the kernel zeroes every page on first touch (clear_page showed as
7% of a render's CPU time) and, under a non-preemptible kernel, that work also
delays the daemon's requests. A `FramePool` keeps the arrays it handed out and
gives one back out when only the pool still references it: the consumer has
dropped it (an encoder that converted it; a viewer that moved on), so reusing
it cannot change anything anybody can see. A consumer that keeps every frame
(a list) simply never releases one, and the pool allocates as before.

Reference counts are CPython's, exact: a view, memoryview or wrapper of an
array holds a reference to it, so it is never reused while something can read it.
"""

from __future__ import annotations

import sys

import numpy as np

# References to a pooled array that is free: the pool's list, the loop variable, getrefcount's argument.
_FREE = 3


class FramePool:
    """Arrays of one shape and dtype, reused once released; at most `keep` are held."""

    def __init__(self, keep: int = 6) -> None:
        self.keep = keep
        self._arrays: list[np.ndarray] = []

    def empty(self, shape: tuple[int, ...], dtype: np.dtype | type = np.float32) -> np.ndarray:
        """An uninitialised array of `shape`: a released one when there is one, else a new one."""
        dtype = np.dtype(dtype)
        for array in self._arrays:
            if sys.getrefcount(array) == _FREE and array.shape == shape and array.dtype == dtype:
                return array
        array = np.empty(shape, dtype)
        # Arrays of another shape (the clip changed size) are dropped first, then the oldest.
        same = [a for a in self._arrays if a.shape == shape and a.dtype == dtype]
        self._arrays = same[max(0, len(same) - self.keep + 1):] + [array] if self.keep > 0 else []
        return array
