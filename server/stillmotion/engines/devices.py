"""Which accelerator to run generative models on, in what precision, with how much memory.

Kept apart from the engines so `models list`, `doctor` and `GET /v1/engines` can
answer "usable here, and why not" without loading any model. torch is imported
lazily: the parallax engine and the CLI must start without it.
"""

from __future__ import annotations

import importlib
import platform
from dataclasses import asdict, dataclass
from typing import Any, Mapping

GIB = 1024 ** 3

DTYPES = ("float32", "float16", "bfloat16")
KINDS = ("cuda", "mps", "cpu")


@dataclass(frozen=True)
class Device:
    kind: str                  # "cuda" | "mps" | "cpu"
    name: str                  # e.g. "NVIDIA H100 80GB HBM3", "Apple M2 Max", "CPU (8 threads)"
    total_gb: float            # accelerator memory (unified RAM on MPS, RAM on CPU)
    free_gb: float             # free now
    bf16: bool                 # bfloat16 supported at full speed

    @property
    def torch_device(self) -> str:
        return "cuda" if self.kind == "cuda" else self.kind

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ram_gb() -> tuple[float, float]:
    import psutil

    vm = psutil.virtual_memory()
    return vm.total / GIB, vm.available / GIB


def detect(preference: str = "auto") -> Device:
    """The device to use: `preference` is auto | cuda | mps | cpu (config [engines] device)."""
    try:
        import torch
    except ImportError:  # no torch: generative engines cannot run at all
        total, free = _ram_gb()
        return Device("cpu", "CPU (torch not installed)", total, free, False)
    if preference in ("auto", "cuda") and torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info(0)
        return Device("cuda", torch.cuda.get_device_name(0), total / GIB, free / GIB,
                      bool(torch.cuda.is_bf16_supported()))
    mps = getattr(torch.backends, "mps", None)
    if preference in ("auto", "mps") and mps is not None and mps.is_available():
        total, free = _ram_gb()
        # Unified memory: the GPU shares RAM with Lightroom and Photoshop.
        macos14 = bool(getattr(mps, "is_macos_or_newer", lambda *_: False)(14, 0))
        return Device("mps", f"Apple Silicon ({platform.machine()})", total, free, macos14)
    total, free = _ram_gb()
    return Device("cpu", f"CPU ({torch.get_num_threads()} threads)", total, free, False)


def free_gb(device: Device) -> float:
    """Free memory on `device` now (it changes as models load and other apps run)."""
    if device.kind == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(0)
        return free / GIB
    return _ram_gb()[1]


def pick_dtype(device: Device, preferred: str) -> str:
    """The precision a model runs in here: its preferred half precision on accelerators, float32 on CPU.

    CPU half precision is slow and unsupported for many kernels, so the CPU always
    gets float32 (at twice the memory). bfloat16 falls back to float16 where the
    hardware lacks it (pre-Ampere CUDA, MPS before macOS 14).
    """
    if device.kind == "cpu":
        return "float32"
    if preferred == "bfloat16" and not device.bf16:
        return "float16"
    return preferred if preferred in DTYPES else "float16"


def torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


def empty_cache(device: Device | None = None) -> None:
    """Hand freed accelerator memory back to the system (other apps need it)."""
    import gc

    gc.collect()
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        mps.empty_cache()


def device_report(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """For `stillmotion doctor` and GET /v1/engines: the device, its memory, precisions."""
    engines_cfg = (config or {}).get("engines", {})
    dev = detect(engines_cfg.get("device", "auto"))
    out: dict[str, Any] = dev.to_dict()
    out["precision"] = {"half": pick_dtype(dev, "bfloat16"), "cpu": "float32"}
    try:
        import torch

        out["torch"] = torch.__version__
        out["threads"] = torch.get_num_threads()
    except ImportError:
        out["torch"] = None
    out["diffusers"] = _installed_version("diffusers")
    return out


def _installed_version(package: str) -> str | None:
    """`package`'s version, read from its installed metadata: importing diffusers to read its
    __version__ took ~2 s more than torch alone (it loads torch._dynamo), doubling `doctor`
    and holding up the daemon's first /v1/engines. None when it is not installed."""
    from importlib import metadata, util

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        pass
    if util.find_spec(package) is None:
        return None
    module = importlib.import_module(package)    # (a source checkout on the path: no metadata)
    return str(getattr(module, "__version__", "unknown"))
