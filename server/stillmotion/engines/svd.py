"""Stable Video Diffusion (img2vid, img2vid-xt): the photo in, motion out, no prompt.

Mapping from the common request:
- motion 0..1 -> motion_bucket_id 20..220 (SVD's own default 127 is motion ~0.54) and
  noise_aug_strength 0.01..0.10 (rising with motion squared: more noise on the
  conditioning image frees the model to move further from it);
- style consistency 0..1 -> guidance from 1.0 on the first frame up to 1.5..3.5 on
  the last (higher keeps later frames closer to the photo's look);
- decode_chunk_size: how many frames the temporal VAE decodes at once, from the
  memory free when the clip is decoded;
- camera moves cannot be asked for (no prompt); --anchor end plays the clip
  backwards, --loop plays it out and back.
"""

from __future__ import annotations

import math
from typing import Any

from .. import request as request_mod
from . import devices
from .diffusion import DiffusionEngine, Plan, motion_and_style
from .framing import Fit, FramePlan, ModelSpec
from .memory import Loaded
from .models import ResolvedModel

# Decoding one 1024x576 frame with the temporal VAE in half precision, GB (estimate; bench/gpu.py measures).
_DECODE_GB_PER_FRAME = 0.9


def bucket_and_noise(motion: float) -> tuple[int, float]:
    return round(20 + 200 * motion), round(0.01 + 0.09 * motion ** 2, 4)


def guidance_range(style: float) -> tuple[float, float]:
    return 1.0, round(1.5 + 2.0 * style, 3)


def decode_chunk(free_gb: float, width: int, height: int, dtype: str, frames: int) -> int:
    per_frame = _DECODE_GB_PER_FRAME * (width * height) / (1024 * 576) * (2 if dtype == "float32" else 1)
    usable = max(0.0, free_gb - 1.0)      # keep a margin for the latents and the allocator
    return max(1, min(frames, int(usable / max(per_frame, 1e-6))))


class SVDEngine(DiffusionEngine):
    name = "svd"
    label = "Stable Video Diffusion"
    pipeline_class = "StableVideoDiffusionPipeline"
    prompted = False
    defaults = {"size": [1024, 576], "multiple": 64, "fps": 7, "frames": 25, "steps": 25,
                "guidance": 3.0, "dtype": "float16", "min_frames": 2}

    def derive(self, model: ResolvedModel) -> dict[str, Any]:
        unet, vae = model.read_config("unet"), model.read_config("vae")
        out: dict[str, Any] = {}
        if unet.get("num_frames"):
            out["frames"] = int(unet["num_frames"])          # 14 (img2vid) or 25 (xt)
        blocks = vae.get("block_out_channels")
        if unet.get("sample_size") and blocks:
            vae_scale = 2 ** (len(blocks) - 1)
            side = int(unet["sample_size"]) * vae_scale       # trained at side x side pixels of area
            # 16:9 at that area, as SVD was fine-tuned (1024x576 for the 768-pixel models).
            # The UNet halves the latents per down block; the pipeline also wants multiples of 8.
            multiple = math.lcm(8, vae_scale * 2 ** (len(unet.get("down_block_types", [0])) - 1))
            width = max(multiple, round(side * 4 / 3 / multiple) * multiple)
            height = max(multiple, round(side * 3 / 4 / multiple) * multiple)
            out.update(size=[width, height], multiple=multiple)
        return out

    def model_args(self, request: request_mod.AnimateRequest, spec: ModelSpec, fit: Fit, frames: FramePlan,
                   text: None) -> tuple[dict[str, Any], dict[str, Any]]:
        motion, style = motion_and_style(request)
        bucket, noise = bucket_and_noise(motion)
        lo, hi = guidance_range(style)
        args = {"motion_bucket_id": bucket, "noise_aug_strength": noise, "min_guidance_scale": lo,
                "max_guidance_scale": hi, "fps": max(1, round(spec.fps))}
        return args, {"prompt": None, "camera": "not controllable (Stable Video Diffusion takes no prompt)"}

    def runtime_args(self, plan: Plan, loaded: Loaded) -> dict[str, Any]:
        w, h = plan.fit.canvas
        return {"decode_chunk_size": decode_chunk(devices.free_gb(loaded.device), w, h, loaded.dtype,
                                                  plan.frames.generate)}
