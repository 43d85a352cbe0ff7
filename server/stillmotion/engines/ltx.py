"""LTX-Video (0.9.5 and later, distilled included) through LTXConditionPipeline.

Mapping from the common request:
- prompt: the scene (caption, --prompt or the profile's motion description) plus
  camera and motion phrases; the profile's negative prompt plus what to avoid;
- the photo is a conditioning frame: index 0 (--anchor start), the last frame
  (--anchor end: the clip leads into the photo), or both ends (--loop);
- style consistency -> image_cond_noise_scale: 0 keeps the conditioning frame
  exact; less consistency (and more motion) lets the model stray further;
- frames 8k+1 (the VAE's temporal compression), sizes multiples of 32;
- distilled models carry their own timestep schedule and guidance 1.0 in the
  registry (`timesteps`, `guidance`); `decode_timestep`/`decode_noise_scale` for
  the timestep-aware VAE (0.9.1+).
"""

from __future__ import annotations

from typing import Any

from ..request import AnimateRequest
from . import prompts
from .diffusion import DiffusionEngine, motion_and_style
from .framing import Fit, FramePlan, ModelSpec
from .models import ResolvedModel


def image_cond_noise(motion: float, style: float) -> float:
    return round((1.0 - style) * 0.1 * (0.5 + motion), 4)


class LTXEngine(DiffusionEngine):
    name = "ltx"
    label = "LTX-Video"
    pipeline_class = "LTXConditionPipeline"
    prompted = True
    defaults = {"size": [768, 512], "multiple": 32, "fps": 24, "frames": 257, "frame_step": 8, "min_frames": 9,
                "steps": 40, "guidance": 3.0, "dtype": "bfloat16"}

    def derive(self, model: ResolvedModel) -> dict[str, Any]:
        vae = model.read_config("vae")
        out: dict[str, Any] = {}
        temporal = vae.get("temporal_compression_ratio")
        if not temporal and vae.get("spatio_temporal_scaling"):
            # Temporal compression = patch_size_t x 2 per temporally scaling block.
            temporal = int(vae.get("patch_size_t", 1)) * 2 ** sum(bool(s) for s in vae["spatio_temporal_scaling"])
        if temporal:
            out.update(frame_step=int(temporal), min_frames=int(temporal) + 1)
        if vae.get("timestep_conditioning"):
            out.setdefault("decode_timestep", 0.05)
            out.setdefault("decode_noise_scale", 0.025)
        return out

    def placement(self, request: AnimateRequest, model: ResolvedModel) -> str:
        if request.loop:
            return "both"
        return "end" if request.anchor == "end" else "start"

    def model_args(self, request: AnimateRequest, spec: ModelSpec, fit: Fit, frames: FramePlan,
                   text: prompts.Prompts | None) -> tuple[dict[str, Any], dict[str, Any]]:
        motion, style = motion_and_style(request)
        args: dict[str, Any] = {"guidance_scale": spec.guidance, "frame_rate": round(spec.fps),
                                "image_cond_noise_scale": image_cond_noise(motion, style)}
        if spec.timesteps:
            args["timesteps"] = list(spec.timesteps)
        for key in ("decode_timestep", "decode_noise_scale", "guidance_rescale", "max_sequence_length"):
            if key in spec.options:
                args[key] = spec.options[key]
        return args, {}

    def image_args(self, image: Any, frames: FramePlan) -> dict[str, Any]:
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        last = frames.generate - 1
        indices = {"start": [0], "end": [last], "both": [0, last]}[frames.placement]
        return {"conditions": [LTXVideoCondition(image=image, frame_index=i) for i in indices]}
