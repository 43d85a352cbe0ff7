"""The memory policy for generative models, and the one warm pipeline per process.

- needs: how much memory a model takes resident / with model CPU offload / with
  group offload / in float32 on the CPU (registry estimates, or from its weights);
- the offload policy chosen from free memory when a model loads;
- WarmPipeline: loaded lazily, reused while warm, unloaded after an idle timeout
  (config) so Lightroom and Photoshop get their memory back.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from . import devices

log = logging.getLogger("stillmotion.engines")


# ================================================================== memory policy
@dataclass(frozen=True)
class Needs:
    full_gb: float        # everything resident on the accelerator
    offload_gb: float     # with model CPU offload (one component at a time)
    min_gb: float         # with group offload (layers streamed in)
    cpu_gb: float         # RAM in float32 on the CPU


def needs_of(options: Mapping[str, Any], folder: Path | None = None) -> Needs:
    """Memory needs from the registry, or estimated from the weights on disk."""
    if "vram_gb" in options:
        full = float(options["vram_gb"])
        params = float(options.get("params_b", full / 2.5))
        return Needs(full, float(options.get("offload_vram_gb", full * 0.6)),
                     float(options.get("min_vram_gb", max(2.0, full * 0.25))), params * 4 + 4)
    weights = _weights_gb(folder) if folder else 0.0   # as stored (usually half precision)
    largest = max((_weights_gb(p) for p in folder.iterdir() if p.is_dir()), default=0.0) if folder else 0.0
    return Needs(weights * 1.3 + 2.0, largest * 1.3 + 2.0, 2.0, weights * 2 + 2.0)


def _weights_gb(folder: Path) -> float:
    total = 0
    for pattern in ("*.safetensors", "*.bin"):
        for file in folder.rglob(pattern):
            try:
                total += file.stat().st_size
            except OSError:
                pass
    return total / devices.GIB


def usable_on(options: Mapping[str, Any], device: devices.Device, folder: Path | None = None) -> tuple[bool, str]:
    """Whether a model can run on `device` at all, and how (for `models list` and engine status)."""
    need = needs_of(options, folder)
    if device.kind == "cpu":
        if device.total_gb < need.cpu_gb:
            return False, f"needs about {need.cpu_gb:.0f} GB RAM for float32 on the CPU, this machine has {device.total_gb:.0f} GB"
        return True, "CPU only, float32: very slow (minutes per denoising step for full-size models)"
    if device.kind == "mps":
        if device.total_gb < need.full_gb:
            return False, f"needs about {need.full_gb:.0f} GB unified memory, this Mac has {device.total_gb:.0f} GB"
        return True, f"Apple Silicon ({device.total_gb:.0f} GB unified memory)"
    if device.total_gb >= need.full_gb:
        return True, f"fits in {device.total_gb:.0f} GB VRAM"
    if device.total_gb >= need.offload_gb:
        return True, f"{device.total_gb:.0f} GB VRAM: with model CPU offload"
    if device.total_gb >= need.min_gb:
        return True, f"{device.total_gb:.0f} GB VRAM: with group offload (slower)"
    return False, f"needs at least {need.min_gb:.0f} GB VRAM, this GPU has {device.total_gb:.0f} GB"


@dataclass(frozen=True)
class MemoryPlan:
    offload: str          # none | model | group | sequential
    vae_tiling: bool
    reason: str


OFFLOADS = ("none", "model", "group", "sequential")


def memory_plan(need: Needs, device: devices.Device, free_gb: float, forced: str = "auto") -> MemoryPlan:
    """The offload policy for this load, from free memory now (or forced in config)."""
    if device.kind == "cpu":
        return MemoryPlan("none", free_gb < need.cpu_gb * 1.5, "CPU: weights stay in RAM")
    if forced in OFFLOADS:
        return MemoryPlan(forced, forced != "none", "set in config [engines] offload")
    if device.kind == "mps":
        # Unified memory: offloading would only copy between two views of the same RAM.
        return MemoryPlan("none", free_gb < need.full_gb * 1.2,
                          f"Apple Silicon, {free_gb:.0f} GB free of unified memory")
    if free_gb >= need.full_gb:
        return MemoryPlan("none", False, f"{free_gb:.0f} GB free >= {need.full_gb:.0f} GB: everything on the GPU")
    if free_gb >= need.offload_gb:
        return MemoryPlan("model", True, f"{free_gb:.0f} GB free: model CPU offload (one component on the GPU at a time)")
    return MemoryPlan("group", True, f"{free_gb:.0f} GB free < {need.offload_gb:.0f} GB: group offload (layers streamed)")


def apply_memory_plan(pipe: Any, plan: MemoryPlan, device: devices.Device) -> MemoryPlan:
    """Put `pipe` where `plan` says; returns the plan as applied (VAE tiling only where the VAE has it)."""
    import torch

    target = torch.device(device.torch_device)
    if plan.offload == "none":
        pipe.to(target)
    elif plan.offload == "model":
        pipe.enable_model_cpu_offload(device=target)
    elif plan.offload == "group":
        # Leaf-level groups with a CUDA stream overlap transfers with compute; the VAE stays resident.
        pipe.enable_group_offload(onload_device=target, offload_device=torch.device("cpu"),
                                  offload_type="leaf_level", use_stream=device.kind == "cuda",
                                  exclude_modules=["vae"])
    elif plan.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=target)
    vae = getattr(pipe, "vae", None)
    if plan.vae_tiling:
        try:
            vae.enable_tiling()
        except (AttributeError, NotImplementedError):
            # SVD's temporal VAE has none (it decodes decode_chunk_size frames at a time instead):
            # diffusers raises, which made SVD fail to load whenever memory was short.
            return dataclasses.replace(plan, vae_tiling=False)
    return plan


# ================================================================== the warm pipeline
@dataclass
class Loaded:
    key: tuple
    pipe: Any
    device: devices.Device
    dtype: str
    memory: MemoryPlan
    load_s: float


class WarmPipeline:
    """One loaded pipeline per process: reused while warm, unloaded after `idle_seconds`."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._loaded: Loaded | None = None
        self._users = 0
        self._timer: threading.Timer | None = None

    @property
    def loaded_key(self) -> tuple | None:
        return self._loaded.key if self._loaded else None

    @property
    def pipeline(self) -> Any | None:
        """The loaded pipeline (for inspection), or None."""
        return self._loaded.pipe if self._loaded else None

    @property
    def in_use(self) -> int:
        """Jobs running the loaded pipeline now."""
        return self._users

    def acquire(self, key: tuple, load: Callable[[], Loaded]) -> Loaded:
        with self._lock:
            self._cancel_timer()
            if self._loaded is not None and self._loaded.key != key:
                while self._users:       # another job still runs the old model
                    self._lock.wait()
                self._unload_locked()
            if self._loaded is None:
                self._loaded = load()
            self._users += 1
            return self._loaded

    def release(self, idle_seconds: float) -> None:
        with self._lock:
            self._users = max(0, self._users - 1)
            self._lock.notify_all()
            if self._users == 0 and self._loaded is not None:
                if idle_seconds <= 0:
                    self._unload_locked()
                else:
                    self._timer = threading.Timer(idle_seconds, self._idle_unload)
                    self._timer.daemon = True
                    self._timer.start()

    def unload(self) -> bool:
        """Drop the pipeline now (when idle); True if one was loaded."""
        with self._lock:
            if self._loaded is None or self._users:
                return False
            self._cancel_timer()
            self._unload_locked()
            return True

    def _idle_unload(self) -> None:
        with self._lock:
            if self._users == 0 and self._loaded is not None:
                log.info("unloading %s after the idle timeout", self._loaded.key[0])
                self._unload_locked()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _unload_locked(self) -> None:
        loaded, self._loaded = self._loaded, None
        if loaded is None:
            return
        device = loaded.device
        try:
            loaded.pipe.remove_all_hooks()     # accelerate offload hooks hold references to the weights
        except Exception:                      # hooks already gone: nothing to free
            pass
        del loaded
        devices.empty_cache(device)


WARM = WarmPipeline()


def unload() -> bool:
    """Give the warm pipeline's memory back now (e.g. from the daemon or a test)."""
    return WARM.unload()


