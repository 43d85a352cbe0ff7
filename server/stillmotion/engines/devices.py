"""Which accelerator to run generative models on, in what precision, with how much memory.

Kept apart from the engines so `models list`, `doctor` and `GET /v1/engines` can
answer "usable here, and why not" without loading any model. torch is imported
lazily: the parallax engine and the CLI must start without it. The daemon does not
import it to answer (see keep_torch_out): it asks a short-lived child process, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing
import platform
import signal
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any, Mapping

from ..hangup import ignore_hangup_quietly

log = logging.getLogger(__name__)

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
    return Device(**_facts(preference)["device"])


# Why a generative engine cannot run where torch is missing (a torch-less venv, an install
# with --no-deps): said by the engines' status and by a job, instead of an ImportError.
NO_TORCH = ("torch is not installed in this Python: the generative engines need it "
            "(install torch as the README's Install section says; the parallax engine runs without it)")


def torch_installed(preference: str = "auto") -> bool:
    """Whether torch imports here, as the probe found it (this process never imports it for this)."""
    return _facts(preference)["torch"] is not None


def _detect_here(preference: str) -> Device:
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


# ---- probed in this process, or once in a child (the daemon) ---------------------------
PROBE_TIMEOUT_S = 120.0     # importing torch and starting CUDA on a busy machine
_probe_elsewhere = False
_probes: dict[str, Future[dict[str, Any]]] = {}   # preference -> its facts, for this process's lifetime
_probes_lock = threading.Lock()
_probe_children: set[multiprocessing.process.BaseProcess] = set()   # probes out now (end_probes)
_probe_threads: set[threading.Thread] = set()                          # ... and the threads reaping them
_ending = False             # end_probes was called: this process is stopping, nothing more is probed


class ProbeEnded(Exception):
    """The device probe was ended unanswered: the process asking is stopping (end_probes)."""

    def __init__(self) -> None:
        super().__init__("the daemon is stopping: the device probe was ended before it answered")


def keep_torch_out() -> None:
    """Never import torch in this process (the daemon): devices are probed in a short-lived
    child process, once per preference, and the answer kept (devices do not change while the
    daemon runs). Importing torch takes 1-2 s, most of it holding the GIL even in an executor
    thread: the event loop stalled for up to a second (progress polls, GET /v1/jobs, waited) on
    the first /v1/engines and the first engine choice with a model installed. It also kept a
    CUDA context, hundreds of MB of the GPU, in the daemon. Free memory is read again each
    time for RAM (CPU, Apple unified memory); a CUDA device's is as it was at the probe."""
    global _probe_elsewhere
    _probe_elsewhere = True


def preference_of(config: Mapping[str, Any] | None) -> str:
    """The device `config` asks for: [engines] device (auto | cuda | mps | cpu)."""
    return str(((config or {}).get("engines") or {}).get("device", "auto"))


def probe(preference: str) -> Future[dict[str, Any]] | None:
    """The child-process probe for `preference` (see keep_torch_out), started by the first
    caller in a thread of its own and shared by all: None where this process asks torch itself.
    Blocking callers wait on its result(); the event loop awaits it (wait_for_probe) without
    holding a thread: fifty /v1/engines right after start, each waiting in an executor thread,
    filled the default pool and GET /v1/jobs waited behind them for the whole probe (two
    minutes when the probe hangs)."""
    if not _probe_elsewhere or "torch" in sys.modules:   # (already paid for: ask it here)
        return None
    with _probes_lock:
        answer = _probes.get(preference)
        if answer is None:
            answer = Future()
            answer.set_running_or_notify_cancel()   # (a waiter that gives up cannot cancel it)
            if _ending:
                answer.set_exception(ProbeEnded())
                return answer
            _probes[preference] = answer
            thread = threading.Thread(target=_probe_into, args=(answer, preference),
                                      name="stillmotion-device-probe", daemon=True)
            _probe_threads.add(thread)
            thread.start()
    return answer


def end_probes(timeout: float = 5.0) -> None:
    """The daemon is stopping: kill the probe children still out and reap them, their waiters
    answered ProbeEnded. A probe that hung (a driver, a network home folder) held a request
    open, and with it the daemon's stop, for PROBE_TIMEOUT_S (two minutes after Ctrl-C).
    From now on this process probes nothing."""
    global _ending
    with _probes_lock:
        _ending = True
        children, threads = list(_probe_children), list(_probe_threads)
    for proc in children:
        with contextlib.suppress(OSError, ValueError):    # (ended meanwhile)
            proc.kill()
    deadline = time.monotonic() + timeout
    for thread in threads:    # (each reaps its child: no zombie left behind)
        thread.join(max(0.0, deadline - time.monotonic()))


def _probe_into(answer: Future[dict[str, Any]], preference: str) -> None:
    try:
        answer.set_result(_probe_in_child(preference))
    except BaseException as exc:    # (not a failed child, which is an answer: the next ask tries again)
        with _probes_lock:
            _probes.pop(preference, None)
        answer.set_exception(exc)
    finally:
        with _probes_lock:
            _probe_threads.discard(threading.current_thread())


async def wait_for_probe(config: Mapping[str, Any] | None) -> None:
    """Until the device `config` asks for is known, awaited on the event loop: after it, the
    functions that ask (device_report, detect) answer without waiting."""
    answer = probe(preference_of(config))
    if answer is not None:
        await asyncio.wrap_future(answer)


def _facts(preference: str) -> dict[str, Any]:
    """{"device": Device's fields, "torch": version or None, "threads": torch's CPU threads,
    "diffusers": version or None}."""
    answer = probe(preference)
    if answer is None:
        return _probe_here(preference)
    facts = answer.result()
    if facts["device"]["kind"] != "cuda":
        facts = {**facts, "device": {**facts["device"], "free_gb": _ram_gb()[1]}}
    return facts


def _probe_here(preference: str) -> dict[str, Any]:
    facts = {"device": _detect_here(preference).to_dict(), "torch": None, "threads": None,
             "diffusers": _installed_version("diffusers")}
    try:
        import torch
    except ImportError:
        return facts
    # (str: torch's TorchVersion, unpickled in the daemon, would import torch there)
    return {**facts, "torch": str(torch.__version__), "threads": torch.get_num_threads()}


def _send_probe(conn: Connection, preference: str) -> None:
    # Ctrl-C or a closing terminal reaches the daemon's whole process group: the daemon decides
    # (as for its render process); this child lives a few seconds and answers once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ignore_hangup_quietly()
    conn.send(_probe_here(preference))


def _probe_in_child(preference: str) -> dict[str, Any]:
    """_probe_here in a child process; a child that fails (a torch that crashes on import, a
    driver that hangs) is reported as a CPU device saying so, never as the daemon's crash."""
    ctx = multiprocessing.get_context("spawn")       # never fork a threaded daemon
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_send_probe, args=(child, preference), name="stillmotion-device-probe", daemon=True)
    try:
        try:
            proc.start()
        finally:
            child.close()
        with _probes_lock:
            _probe_children.add(proc)
            if _ending:               # (end_probes came while it started)
                proc.kill()
        if not parent.poll(PROBE_TIMEOUT_S):          # (also wakes when end_probes kills it: EOF)
            raise TimeoutError(f"no answer in {PROBE_TIMEOUT_S:.0f} s")
        return parent.recv()
    except (OSError, EOFError) as exc:               # (EOFError: it died before answering)
        if _ending:
            raise ProbeEnded() from None
        if isinstance(exc, EOFError):
            proc.join(5)            # (its exit code is only known once it is reaped)
            why = f"it exited with code {proc.exitcode}"
        else:
            why = str(exc)
        log.warning("the device probe failed (%s): generative engines are reported on the CPU", why)
        total, free = _ram_gb()
        return {"device": Device("cpu", f"CPU (device probe failed: {why})", total, free, False).to_dict(),
                "torch": None, "threads": None, "diffusers": None}
    finally:
        parent.close()
        if proc.pid is not None:                     # (started)
            if proc.is_alive():
                proc.kill()
            proc.join()
            with _probes_lock:
                _probe_children.discard(proc)


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
    facts = _facts(preference_of(config))
    dev = Device(**facts["device"])
    out: dict[str, Any] = dev.to_dict()
    out["precision"] = {"half": pick_dtype(dev, "bfloat16"), "cpu": "float32"}
    out["torch"] = facts["torch"]
    if facts["torch"] is not None:
        out["threads"] = facts["threads"]
    out["diffusers"] = facts["diffusers"]
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
