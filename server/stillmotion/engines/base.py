"""What every engine provides, and the Clip it returns.

Frames everywhere in Stillmotion are numpy float32 arrays (H, W, 3), sRGB-encoded
(not linear), values in [0, 1]. A Clip streams its frames: consumers iterate once
and must not assume the engine holds them all (the parallax engine renders each
frame on demand so a 4K clip never sits in memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

from ..progress import CancelToken
from ..request import AnimateRequest

if TYPE_CHECKING:   # (frames are numpy arrays; reading the config imports the engines' registry, not numpy)
    import numpy as np


@dataclass
class Clip:
    frames: Iterator[np.ndarray]          # float32 (H, W, 3) sRGB in [0, 1], streamed
    n_frames: int
    fps: float
    width: int
    height: int
    anchor_index: int | None              # which frame is the photo itself (None: none is)
    seed: int
    # Everything needed to reproduce the clip: engine, model, revision, sizes, args.
    info: dict[str, Any] = field(default_factory=dict)
    # Every frame is the photo's own pixels, moved (the parallax engine): its colour cannot
    # drift, so there is nothing to match, and a fit on a frame that is not the photo (the
    # first of an --anchor end clip, beyond the look-ahead) could only add error.
    colour_exact: bool = False


@dataclass
class EngineStatus:
    name: str
    usable: bool
    reason: str                           # why (not) usable, in plain words
    device: str = "cpu"
    kind: str = "generative"              # "parallax" | "generative"
    prompt: bool = False                  # whether the engine follows a text prompt
    camera: bool = True                   # whether it follows --camera (SVD takes no direction)
    colour_exact: bool = False            # its frames are the photo's own pixels: --style has nothing to hold
    models: list[dict[str, Any]] = field(default_factory=list)
    suggested: str | None = None          # with no model installed: the registry model `models pull` would fetch


class Engine(Protocol):
    name: str

    def status(self) -> EngineStatus:
        """Whether it can run on this machine, without loading anything heavy."""

    def generate(self, photo: np.ndarray, request: AnimateRequest, *, seed: int,
                 progress: Callable[[float], None], cancel: CancelToken,
                 context: dict[str, Any] | None = None) -> Clip:
        """Make one clip from `photo` (float32 sRGB, already oriented and prepared).

        `request` is resolved (every field set). `progress(f)` reports this stage's
        fraction; `cancel.raise_if_cancelled()` must be checked at least once per
        frame or denoising step. `context` carries extras such as the prompt chosen
        from metadata and a depth/subject hint.
        """
