"""CogVideoX-5B-I2V (720x480, 49 frames at 8 fps) and CogVideoX1.5-5B-I2V, prompt-guided.

Mapping from the common request:
- prompt and negative prompt as for LTX (camera and motion become phrases);
- the size is fixed by the transformer's learned position embeddings
  (sample_width x sample_height latents): the photo is fitted inside, the
  margin padded, and the frames cropped back to the photo;
- the frame count is fixed too (sample_frames): shorter clips use the leading
  frames, --anchor end plays them backwards, --loop out and back;
- CogVideoX 1.5 (rotary position embeddings, patch_size_t set) takes any size
  with the short side >= 768 and the long side <= 1360 (its native 1360x768 area
  at the photo's aspect), 16N+1 frames at 16 fps; its sample_width/height
  (300x300 latents) bound the rotary grid and are not a size to run at;
- dynamic classifier-free guidance (use_dynamic_cfg), as the model card runs it.
"""

from __future__ import annotations

from typing import Any

from ..request import AnimateRequest
from . import prompts
from .diffusion import DiffusionEngine
from .framing import Fit, FramePlan, ModelSpec
from .models import ResolvedModel


class CogVideoXEngine(DiffusionEngine):
    name = "cogvideox"
    label = "CogVideoX"
    pipeline_class = "CogVideoXImageToVideoPipeline"
    prompted = True
    defaults = {"size": [720, 480], "fixed_size": True, "multiple": 16, "fps": 8, "frames": 49,
                "min_frames": 49, "frame_step": 4, "steps": 50, "guidance": 6.0, "dtype": "bfloat16"}

    def derive(self, model: ResolvedModel) -> dict[str, Any]:
        transformer, vae = model.read_config("transformer"), model.read_config("vae")
        out: dict[str, Any] = {}
        if transformer.get("max_text_seq_length"):
            out["max_sequence_length"] = int(transformer["max_text_seq_length"])
        if transformer.get("patch_size_t"):
            # 1.5: its model card's size range, frame rule (16N+1) and rate.
            out.update(size=[1360, 768], fixed_size=False, max_aspect=1360 / 768, fps=16, frame_step=16,
                       frames=int(transformer.get("sample_frames") or 81), min_frames=17)
            return out
        blocks = vae.get("block_out_channels")
        if transformer.get("sample_width") and blocks:
            scale = 2 ** (len(blocks) - 1)
            out["size"] = [int(transformer["sample_width"]) * scale, int(transformer["sample_height"]) * scale]
        if transformer.get("sample_frames"):
            frames = int(transformer["sample_frames"])      # 49 for CogVideoX 1.0 I2V
            out.update(frames=frames, min_frames=frames)
        if transformer.get("temporal_compression_ratio"):
            out["frame_step"] = int(transformer["temporal_compression_ratio"])
        return out

    def model_args(self, request: AnimateRequest, spec: ModelSpec, fit: Fit, frames: FramePlan,
                   text: prompts.Prompts | None) -> tuple[dict[str, Any], dict[str, Any]]:
        args: dict[str, Any] = {"guidance_scale": spec.guidance, "use_dynamic_cfg": True}
        if "max_sequence_length" in spec.options:
            args["max_sequence_length"] = int(spec.options["max_sequence_length"])
        return args, {}
