"""What every diffusers image-to-video engine shares: loading, running, the Clip.

An adapter (svd.py, ltx.py, wan.py, cogvideox.py) only says how the common
request maps onto its pipeline's arguments. The rest is shared:

- framing.py: the photo fitted into the model's frame (aspect kept), the frame
  count by the model's rule, anchor/loop placement;
- memory.py: precision and offload from free memory, one warm pipeline per
  process, unloaded after an idle timeout;
- here: lazy loading from a local folder only (`local_files_only`), progress per
  denoising step through `callback_on_step_end`, cancel by raising from that
  callback (SVD has no interrupt flag) after which offload hooks and memory are
  released, and the Clip with everything needed to reproduce it in `info`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ..config import check_choice
from ..errors import Canceled, ConfigError, EngineUnavailable, InputError, JobError
from ..progress import CancelToken
from ..request import AnimateRequest
from . import devices, models, prompts
from .base import Clip, EngineStatus
from .framing import Fit, FramePlan, ModelSpec, arrange, fit_canvas, plan_frames, render_canvas
from .memory import OFFLOADS, WARM, Loaded, apply_memory_plan, memory_plan, needs_of, usable_on
from .settings import DEVICES

log = logging.getLogger("stillmotion.engines")

# Share of the generate stage: loading, then denoising (decoding takes the rest).
_LOAD_SHARE, _DENOISE_SHARE = 0.05, 0.85


# ================================================================== running with progress and cancel
class _StepReporter:
    """callback_on_step_end: progress per denoising step; raising Canceled stops the pipeline."""

    def __init__(self, total: int, progress: Callable[[float], None], cancel: CancelToken,
                 slow_device: str | None = None) -> None:
        self.total = max(1, total)
        self.progress = progress
        self.cancel = cancel
        self.slow_device = slow_device      # say how long the rest will take after the first step
        self.steps_done = 0
        self.started = time.monotonic()
        self.step_seconds: list[float] = []

    def __call__(self, pipe: Any, step: int, timestep: Any, callback_kwargs: dict) -> dict:
        now = time.monotonic()
        self.step_seconds.append(now - self.started)
        self.started = now
        self.steps_done = step + 1
        if self.slow_device and step == 0 and self.total > 1:
            log.warning("%s: %.1f s per denoising step, %s of denoising for this clip", self.slow_device,
                        self.step_seconds[0], _minutes_more(self.step_seconds[0] * (self.total - 1)))
        self.progress(_LOAD_SHARE + _DENOISE_SHARE * min(1.0, self.steps_done / self.total))
        self.cancel.raise_if_cancelled()
        return {}


def _minutes_more(seconds: float) -> str:
    """'under a minute more', 'about 1 more minute', 'about 12 more minutes' (not 'about 0 more minutes')."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute more"
    return f"about {minutes} more minute{'s' if minutes > 1 else ''}"


def run_pipeline(pipe: Any, kwargs: dict[str, Any], total_steps: int, progress: Callable[[float], None],
                 cancel: CancelToken, slow_device: str | None = None) -> tuple[np.ndarray, _StepReporter]:
    """Call the pipeline once; returns frames (F, H, W, 3) float32 in [0, 1]."""
    import torch

    reporter = _StepReporter(total_steps, progress, cancel, slow_device)
    canceled = oom = False
    failed = ""
    try:
        with torch.inference_mode():
            out = pipe(**kwargs, output_type="np", callback_on_step_end=reporter,
                       callback_on_step_end_tensor_inputs=[])
    except Canceled:
        canceled = True       # leave the except block first: its traceback pins the latents
    except (RuntimeError, ValueError) as exc:   # CUDA's OutOfMemoryError is one; MPS says so in the message
        oom = "out of memory" in str(exc).lower()
        # Anything else: arguments this model cannot take (a registry size or max_sequence_length
        # against its learned embeddings): one line, not the pipeline's traceback.
        failed = "" if oom else f"{type(pipe).__name__} failed: {type(exc).__name__}: {exc}"
        log.debug("pipeline call failed", exc_info=True)
    if canceled or oom or failed:
        release_after_interrupt(pipe)
        if canceled:
            raise Canceled("canceled")
        if failed:
            raise JobError(failed)
        raise JobError("out of accelerator memory; set [engines] offload = \"group\" or close other GPU apps")
    frames = np.asarray(out.frames[0], dtype=np.float32)
    del out
    return np.clip(frames, 0.0, 1.0), reporter


def release_after_interrupt(pipe: Any) -> None:
    """After an interrupted call: put offloaded components back and free what the run held."""
    try:
        pipe.maybe_free_model_hooks()    # offloads components and re-arms model CPU offload
    except Exception as exc:             # a half-run pipeline must not mask the cancel itself
        log.debug("maybe_free_model_hooks after interrupt: %s", exc)
    devices.empty_cache()


# ================================================================== the engine base
@dataclass(frozen=True)
class Plan:
    spec: ModelSpec
    fit: Fit
    frames: FramePlan
    kwargs: dict[str, Any]            # model arguments other than the image, generator and callback
    info: dict[str, Any]
    text: prompts.Prompts | None = None   # what a prompt model is told (fitted to its encoder once loaded)


class DiffusionEngine:
    """Base class of the diffusers adapters; subclasses fill in the mapping."""

    name = ""
    label = ""                        # e.g. "Stable Video Diffusion"
    pipeline_class = ""               # diffusers class name, imported lazily
    prompted = False                  # follows a text prompt
    defaults: dict[str, Any] = {}     # native size, fps, frames, steps... when neither registry nor configs say

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config = config or {}

    # ---------------------------------------------------------- settings
    @property
    def settings(self) -> Mapping[str, Any]:
        return self.config.get("engines", {}) or {}

    def device(self) -> devices.Device:
        wanted = str(self.settings.get("device", "auto"))
        check_choice("engines", "device", wanted, DEVICES)
        if not devices.torch_installed(wanted):
            raise EngineUnavailable(devices.NO_TORCH)
        found = devices.detect(wanted)
        if wanted not in ("auto", found.kind):
            raise EngineUnavailable(f"[engines] device = {wanted!r}, but this machine has no {wanted} device "
                                    f"(found: {found.name})")
        return found

    def offload_setting(self) -> str:
        value = str(self.settings.get("offload", "auto"))
        check_choice("engines", "offload", value, ("auto",) + OFFLOADS)
        return value

    # ---------------------------------------------------------- status
    def status(self) -> EngineStatus:
        registered = [e for e in models.registry(self.config).values() if e.engine == self.name]
        found = models.installed(self.name, self.config)
        on_disk = {e.name for e, _ in found}
        listing = [{"name": e.name, "hf_id": e.hf_id, "installed": e.name in on_disk, "loop_only": e.loop_only}
                   for e in registered]
        if not [e for e, _ in found if not e.loop_only]:
            best = models.default_entry(self.name, self.config)
            hint = f": run `{models.pull_command(best.name)}`" if best else ""
            return EngineStatus(name=self.name, usable=False, device="none", prompt=self.prompted,
                                camera=self.prompted, models=listing, reason=f"no {self.label} model installed{hint}",
                                suggested=best.name if best else None)
        try:
            device = self.device()
        except (ConfigError, EngineUnavailable) as exc:
            return EngineStatus(name=self.name, usable=False, device="none", prompt=self.prompted,
                                camera=self.prompted, models=listing, reason=str(exc))
        why = ""
        for entry, folder in found:
            if entry.loop_only:
                continue
            ok, why = usable_on(entry.options, device, folder)
            if ok:
                return EngineStatus(name=self.name, usable=True, device=device.kind, prompt=self.prompted,
                                    camera=self.prompted, models=listing, reason=f"{entry.name}: {why}")
        return EngineStatus(name=self.name, usable=False, device=device.kind, prompt=self.prompted,
                            camera=self.prompted, models=listing, reason=f"installed models cannot run here: {why}")

    # ---------------------------------------------------------- to be filled by adapters
    def derive(self, model: models.ResolvedModel) -> dict[str, Any]:
        """Facts read from the model's own configs (no weights), e.g. its trained frame count."""
        return {}

    def placement(self, request: AnimateRequest, model: models.ResolvedModel) -> str:
        """How anchor/loop are realised; image-first models reverse and ping-pong."""
        if request.loop:
            return "pingpong"
        return "reverse" if request.anchor == "end" else "start"

    def model_args(self, request: AnimateRequest, spec: ModelSpec, fit: Fit, frames: FramePlan,
                   text: prompts.Prompts | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The pipeline's own arguments for this request but the prompt, and what to record about them."""
        raise NotImplementedError

    def image_args(self, image: Any, frames: FramePlan) -> dict[str, Any]:
        """How the photo is handed to the pipeline (as `image`, or as conditions)."""
        return {"image": image}

    def load_dtype(self, dtype: Any) -> Any:
        """torch_dtype for from_pretrained (a dict keeps some components in float32)."""
        return dtype

    def select_model(self, request: AnimateRequest, model: models.ResolvedModel) -> tuple[models.ResolvedModel, str]:
        """A chance to switch to a sibling model (e.g. Wan's first-last-frame model for loops)."""
        return model, ""

    # ---------------------------------------------------------- shared
    def spec(self, model: models.ResolvedModel) -> ModelSpec:
        merged: dict[str, Any] = dict(self.defaults)
        merged.update(self.derive(model))
        merged.update(model.options)      # the registry has the last word
        steps_override = int(self.settings.get("steps", 0) or 0)
        timesteps = merged.get("timesteps")
        return ModelSpec(
            size=tuple(merged["size"]), fixed_size=bool(merged.get("fixed_size", False)),
            multiple=int(merged.get("multiple", 8)), fps=float(merged["fps"]),
            frame_step=int(merged.get("frame_step", 1)), min_frames=int(merged.get("min_frames", 2)),
            max_frames=int(merged["frames"]),
            steps=steps_override if steps_override > 0 and not timesteps else int(merged["steps"]),
            guidance=float(merged.get("guidance", 1.0)), dtype=str(merged.get("dtype", "bfloat16")),
            max_aspect=float(merged.get("max_aspect", 2.4)),
            timesteps=tuple(float(t) for t in timesteps) if timesteps else None, options=merged)

    def plan(self, photo_w: int, photo_h: int, request: AnimateRequest, model: models.ResolvedModel,
             context: Mapping[str, Any] | None = None) -> Plan:
        """Everything about a run that does not need the weights (tested without any model)."""
        spec = self.spec(model)
        fit = fit_canvas(photo_w, photo_h, spec)
        frames = plan_frames(float(request.duration), self.placement(request, model), spec)
        text = None
        if self.prompted:
            # Frames played backwards (the photo ends the clip): the model is asked for the opposite move.
            text = prompts.for_request(request, context or {}, motion_and_style(request)[0],
                                       reversed_in_time=frames.placement == "reverse")
        kwargs, info = self.model_args(request, spec, fit, frames, text)
        kwargs = {"height": fit.canvas[1], "width": fit.canvas[0], "num_frames": frames.generate,
                  "num_inference_steps": len(spec.timesteps) if spec.timesteps else spec.steps,
                  **(text.args() if text else {}), **kwargs}
        info = {"canvas": list(fit.canvas), "content": list(fit.content), "placement": frames.placement,
                "generated_frames": frames.generate, "model_fps": spec.fps, **(text.record() if text else {}), **info}
        return Plan(spec, fit, frames, kwargs, info, text)

    def _load(self, key: tuple, model: models.ResolvedModel, spec: ModelSpec, device: devices.Device) -> Loaded:
        import diffusers

        dtype = devices.pick_dtype(device, spec.dtype)
        need = needs_of(model.options, model.path)
        memory = memory_plan(need, device, devices.free_gb(device), self.offload_setting())
        if device.kind == "cpu":
            log.warning("%s runs on the CPU in float32: expect minutes per denoising step at full size "
                        "(a GPU takes seconds)", model.name)
        _quiet_libraries()
        cls = getattr(diffusers, self.pipeline_class)
        started = time.monotonic()
        try:
            # safetensors only: a folder named over HTTP must not be able to run pickled code.
            pipe = cls.from_pretrained(model.path, **{_dtype_keyword(): self.load_dtype(devices.torch_dtype(dtype))},
                                       variant=model.variant, local_files_only=True, use_safetensors=True)
        except (OSError, ValueError) as exc:
            raise EngineUnavailable(f"cannot load {model.name} from {model.path}: {exc}") from None
        memory = apply_memory_plan(pipe, memory, device)
        pipe.set_progress_bar_config(disable=True)
        return Loaded(key=key, pipe=pipe, device=device, dtype=dtype, memory=memory,
                      load_s=time.monotonic() - started)

    def generate(self, photo: np.ndarray, request: AnimateRequest, *, seed: int,
                 progress: Callable[[float], None], cancel: CancelToken,
                 context: dict[str, Any] | None = None) -> Clip:
        model = models.resolve(request.model, self.name, self.config)   # fails before torch is imported
        model, switch_note = self.select_model(request, model)
        try:
            import torch
        except ImportError:
            raise EngineUnavailable(devices.NO_TORCH) from None
        from PIL import Image

        plan = self.plan(photo.shape[1], photo.shape[0], request, model, context)
        spec = plan.spec
        progress(0.0)
        cancel.raise_if_cancelled()
        device = self.device()
        key = (str(model.path), model.variant, device.kind, devices.pick_dtype(device, spec.dtype),
               self.pipeline_class)
        loaded = WARM.acquire(key, lambda: self._load(key, model, spec, device))
        try:
            progress(_LOAD_SHARE)
            cancel.raise_if_cancelled()
            image = Image.fromarray(render_canvas(photo, plan.fit))
            kwargs = dict(plan.kwargs)
            kwargs.update(self.runtime_args(plan, loaded))
            text, limit = fit_to_encoder(plan.text, loaded.pipe, kwargs) if plan.text else (None, None)
            if text is not None:
                kwargs.update(text.args())
            kwargs.update(self.image_args(image, plan.frames))
            kwargs["generator"] = torch.Generator("cpu").manual_seed(int(seed))
            started = time.monotonic()
            slow = f"{model.name} on the CPU" if loaded.device.kind == "cpu" else None
            raw, reporter = run_pipeline(loaded.pipe, kwargs, kwargs["num_inference_steps"], progress, cancel, slow)
            elapsed = time.monotonic() - started
        finally:
            WARM.release(float(self.settings.get("idle_unload_seconds", 300)))
        x, y, w, h = plan.fit.content
        frames = arrange(raw[:, y:y + h, x:x + w], plan.frames)
        del raw
        if frames.shape[1:3] != (h, w) or len(frames) != plan.frames.n_frames:
            raise JobError(f"{model.name} returned {frames.shape} frames, expected "
                           f"{plan.frames.n_frames} x {h} x {w}")
        progress(1.0)
        info = {"engine": self.name, "model": model.name, "hf_id": model.hf_id, "revision": model.revision,
                "model_path": str(model.path), "pipeline": self.pipeline_class, "device": loaded.device.kind,
                "dtype": loaded.dtype, "offload": loaded.memory.offload, "memory_reason": loaded.memory.reason,
                "vae_tiling": loaded.memory.vae_tiling, "seed": int(seed),
                "steps": kwargs["num_inference_steps"], "load_s": round(loaded.load_s, 2),
                "generate_s": round(elapsed, 2),
                "seconds_per_step": round(float(np.median(reporter.step_seconds)), 3) if reporter.step_seconds else None,
                "args": _jsonable({k: v for k, v in kwargs.items() if k not in ("image", "generator", "conditions",
                                                                                 "last_image")}),
                **plan.info}
        if text is not None and text.cuts:
            info.update(text.record(), prompt_note=(
                f"{'; '.join(text.cuts)} to fit {model.name}'s {limit}-token text encoder"
                + (" with the camera and motion directions" if text.scene != plan.text.scene else "")))
        if switch_note:
            info["model_note"] = switch_note
        stream = (frames[i] for i in range(len(frames)))
        return Clip(frames=stream, n_frames=len(frames), fps=plan.frames.fps, width=w, height=h,
                    anchor_index=plan.frames.anchor_index, seed=int(seed), info=info)

    def runtime_args(self, plan: Plan, loaded: Loaded) -> dict[str, Any]:
        """Arguments that depend on the loaded pipeline or free memory (e.g. SVD's decode chunk)."""
        return {}


def fit_to_encoder(text: prompts.Prompts, pipe: Any, kwargs: Mapping[str, Any]) -> tuple[prompts.Prompts, int | None]:
    """`text` within what the pipeline's text encoder reads (max_sequence_length tokens), and that limit."""
    import inspect

    tokenizer = getattr(pipe, "tokenizer", None)
    limit = kwargs.get("max_sequence_length")
    if limit is None:
        parameter = inspect.signature(pipe.__call__).parameters.get("max_sequence_length")
        limit = parameter.default if parameter is not None else None
    if tokenizer is None or not isinstance(limit, int):
        return text, None
    return text.within(lambda prompt: len(tokenizer(prompt).input_ids), limit), limit


def _quiet_libraries() -> None:
    """Our own progress replaces diffusers'/transformers' loading bars and per-call chatter."""
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
    except ImportError:
        pass


def _dtype_keyword() -> str:
    """diffusers renamed from_pretrained's torch_dtype to dtype (the old name warns)."""
    try:
        from diffusers.utils import deprecation_utils
    except ImportError:
        return "torch_dtype"
    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        elif isinstance(value, (list, tuple)):
            out[key] = [v if isinstance(v, (str, int, float, bool)) else str(v) for v in value]
        else:
            out[key] = str(value)
    return out


def motion_and_style(request: AnimateRequest) -> tuple[float, float]:
    if request.motion is None or request.style_consistency is None or request.duration is None:
        raise InputError("the request must be resolved before it reaches an engine")
    return float(request.motion), float(request.style_consistency)
