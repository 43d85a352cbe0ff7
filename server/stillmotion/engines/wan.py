"""Wan image-to-video (2.1 I2V 480P/720P, 2.2 TI2V-5B) and Wan first-last-frame (FLF2V) for loops.

Mapping from the common request:
- prompt and negative prompt as for LTX (camera and motion become phrases);
- --loop: a first-last-frame model with first = last = the photo. When the
  chosen model is an I2V model, its registry entry's `loop_model` (an FLF2V
  model) is used if installed; otherwise the clip plays out and back;
- --anchor end: the frames play backwards (the model is asked for the opposite
  camera move so the clip shows the requested one);
- frames 4k+1 (the VAE's temporal compression); sizes multiples of the VAE
  scale x patch size (16 for 2.1, 32 for 2.2-5B);
- the VAE (and CLIP image encoder) stay in float32, as Wan's authors run them:
  half-precision VAE decoding bands and shifts colour.
"""

from __future__ import annotations

from typing import Any

from ..errors import EngineUnavailable, InputError
from ..request import AnimateRequest
from . import models, prompts
from .diffusion import DiffusionEngine
from .framing import Fit, FramePlan, ModelSpec
from .models import ResolvedModel


def is_first_last_frame(model: ResolvedModel) -> bool:
    """FLF2V transformers embed two CLIP images (pos_embed_seq_len is set)."""
    if model.options.get("flf2v"):
        return True
    return bool(model.read_config("transformer").get("pos_embed_seq_len"))


class WanEngine(DiffusionEngine):
    name = "wan"
    label = "Wan"
    pipeline_class = "WanImageToVideoPipeline"
    prompted = True
    defaults = {"size": [832, 480], "multiple": 16, "fps": 16, "frames": 81, "frame_step": 4, "min_frames": 5,
                "steps": 40, "guidance": 5.0, "dtype": "bfloat16"}

    def derive(self, model: ResolvedModel) -> dict[str, Any]:
        vae, transformer = model.read_config("vae"), model.read_config("transformer")
        out: dict[str, Any] = {}
        temporal = vae.get("scale_factor_temporal")
        if not temporal and vae.get("temperal_downsample"):
            temporal = 2 ** sum(bool(t) for t in vae["temperal_downsample"])
        if temporal:
            out.update(frame_step=int(temporal), min_frames=int(temporal) + 1)
        spatial = vae.get("scale_factor_spatial") or 8
        patch = transformer.get("patch_size") or [1, 2, 2]
        out["multiple"] = int(spatial) * int(patch[1])
        return out

    def select_model(self, request: AnimateRequest, model: ResolvedModel) -> tuple[ResolvedModel, str]:
        flf = is_first_last_frame(model)
        if flf and not request.loop:
            raise InputError(f"{model.name} is a first-last-frame model: it makes loops only (add --loop), "
                        "or use a Wan I2V model")
        if not request.loop or flf:
            return model, ""
        loop_name = model.options.get("loop_model")
        if not loop_name:
            return model, "no first-last-frame model configured: the loop plays out and back"
        try:
            return models.resolve(loop_name, self.name, self.config), f"loop made with {loop_name}"
        except EngineUnavailable:   # not installed: a ping-pong loop still returns to the photo
            return model, (f"{loop_name} is not installed (`{models.pull_command(loop_name)}`): "
                           "the loop plays out and back")

    def placement(self, request: AnimateRequest, model: ResolvedModel) -> str:
        if request.loop:
            return "both" if is_first_last_frame(model) else "pingpong"
        return "reverse" if request.anchor == "end" else "start"

    def load_dtype(self, dtype: Any) -> Any:
        import torch

        return {"default": dtype, "vae": torch.float32, "image_encoder": torch.float32}

    def model_args(self, request: AnimateRequest, spec: ModelSpec, fit: Fit, frames: FramePlan,
                   text: prompts.Prompts | None) -> tuple[dict[str, Any], dict[str, Any]]:
        args: dict[str, Any] = {"guidance_scale": spec.guidance}
        if "max_sequence_length" in spec.options:
            args["max_sequence_length"] = spec.options["max_sequence_length"]
        return args, {}

    def image_args(self, image: Any, frames: FramePlan) -> dict[str, Any]:
        if frames.placement == "both":
            return {"image": image, "last_image": image}
        return {"image": image}

