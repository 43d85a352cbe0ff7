"""Reused frame buffers never change a frame anybody can still see; freed memory goes back when idle."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from stillmotion.buffers import FramePool
from stillmotion.colour.drift import Drift, drifted_clip
from stillmotion.colour.match import match_frames
from support import skimage_photo


def test_a_released_array_is_handed_out_again() -> None:
    pool = FramePool()
    first = pool.empty((4, 6, 3))
    address = first.__array_interface__["data"][0]
    del first
    assert pool.empty((4, 6, 3)).__array_interface__["data"][0] == address


def test_an_array_still_referenced_or_viewed_is_not_reused() -> None:
    pool = FramePool()
    held = pool.empty((4, 6, 3))
    assert pool.empty((4, 6, 3)) is not held
    view = pool.empty((4, 6, 3))[1:]
    again = pool.empty((4, 6, 3))
    assert again is not held and again.base is None and not np.shares_memory(again, view)


def test_the_pool_holds_at_most_keep_arrays_and_follows_a_new_size() -> None:
    pool = FramePool(keep=3)
    kept = [pool.empty((2, 2, 3)) for _ in range(5)]
    assert len(kept) == 5 and len({id(a) for a in kept}) == 5
    assert len(pool._arrays) == 3
    pool.empty((4, 4, 3))
    assert all(a.shape == (4, 4, 3) for a in pool._arrays)


def test_colour_matched_frames_kept_by_the_consumer_stay_intact() -> None:
    """A consumer that keeps every frame gets the same pixels as one that copies each at once."""
    photo = skimage_photo("coffee").astype(np.float32) / 255.0
    clip = [d for _, d in drifted_clip(photo, 160, 96, 16, Drift())]
    copied = [f.copy() for f in match_frames(iter(clip), photo, strength=1.0, anchor_index=0, n_frames=16)]
    kept = list(match_frames(iter(clip), photo, strength=1.0, anchor_index=0, n_frames=16))
    assert len({id(f) for f in kept}) == len(kept) == 16
    for a, b in zip(kept, copied):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(kept, clip))   # it did correct them


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_an_idle_render_process_gives_freed_memory_back():
    """keep_freed_memory holds what a render frees (fewer page faults frame to frame);
    release_freed_memory hands it back when the process goes idle. In a fresh process:
    400 MB in 4 MB arrays (heap-allocated under the raised mmap threshold), each followed by
    a small array that stays, then freed."""
    import subprocess

    script = """
import numpy as np, os
from stillmotion.buffers import keep_freed_memory, release_freed_memory
def rss_mb():
    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20
assert keep_freed_memory()
base = rss_mb()
blocks, pins = [], []
for _ in range(100):   # each freed block sits below a live one, as in a render: no top to trim
    blocks.append(np.ones(2**20, np.float32))
    pins.append(np.ones(2**14, np.float32))
del blocks
kept = rss_mb() - base
assert release_freed_memory()
print(round(kept), round(rss_mb() - base))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    kept, after = map(int, out.stdout.split())
    assert kept > 300 and after < 50, (kept, after)
