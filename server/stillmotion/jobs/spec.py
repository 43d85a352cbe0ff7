"""What a job is given and what it gives back: `JobSpec` and `JobResult`.

Kept apart from the pipeline, which imports every stage (OpenCV, PyAV, SciPy: ~0.5 s): the
job store, the API, the watcher and the worker name jobs without running them (the daemon
renders in a child process), and a daemon or watcher that imported the whole pipeline to
name a job answered its first request that much later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..request import AnimateRequest


@dataclass
class JobSpec:
    photo_path: Path                       # the pixels to animate (an upload or the original)
    request: AnimateRequest
    sidecar_path: Path | None = None       # an XMP sidecar sent with the photo
    develop: dict[str, Any] | None = None  # Lightroom develop settings (plug-in JSON)
    original_path: Path | None = None      # the result goes beside this file (default: photo_path)
    out_dir: Path | None = None            # or into this folder
    temp_tag: str = ""                      # marks this job's temporaries (the daemon's job id)
    notes: list[str] = field(default_factory=list)   # said before the job (animate --like), kept in its XMP

    @property
    def destination(self) -> Path:
        if self.out_dir is not None:
            return Path(self.out_dir)
        if self.request.out_dir:
            return Path(self.request.out_dir).expanduser()
        return (self.original_path or self.photo_path).parent

    @property
    def stem(self) -> str:
        return Path(self.original_path or self.photo_path).stem


@dataclass
class JobResult:
    outputs: list[Path] = field(default_factory=list)   # clips and their sidecars, in order
    info: dict[str, Any] = field(default_factory=dict)  # engine (and why), profile, seeds, prompt...
