"""Benchmark: generative engines on one CUDA GPU, Stillmotion's memory policy vs plain diffusers.

The real architectures at their real sizes with random weights (speed and memory
do not depend on the weights), built here from their configs, so nothing is
downloaded:

- svd-xt: Stable Video Diffusion XT (UNet 1.5B, temporal VAE, CLIP ViT-H/14),
  1024x576, 25 frames, fp16;
- ltx:    LTX-Video 2B transformer + T5-XXL text encoder + video VAE (the
  diffusers class defaults: the 0.9.1 VAE layout), 768x512, 97 frames, bf16.

For each, one clip twice in the same run on the same GPU:

- stillmotion: the engine's own generate() (loaded from the saved folder through
  the real loader, offload/tiling/decode chunk chosen from free memory);
- diffusers:   the plain documented call: from_pretrained(torch_dtype=...),
  pipe.to("cuda"), pipe(...) with the pipeline's defaults for everything the
  request does not set (same size, frames and steps).

Prints load and run wall time and peak VRAM for both, and the ratios
stillmotion/diffusers. Without CUDA it says so and exits 2 (use --tiny to check
the script itself on a CPU with toy models).

Usage: python3 bench/gpu.py [--models svd-xt ltx] [--steps N] [--workdir DIR] [--tiny]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# What each bench model generates (the registry's real values).
RUNS = {
    "svd-xt": {"engine": "svd", "size": (1024, 576), "frames": 25, "fps": 7, "steps": 25, "dtype": "float16"},
    "ltx": {"engine": "ltx", "size": (768, 512), "frames": 97, "fps": 24, "steps": 40, "dtype": "bfloat16"},
}


# ------------------------------------------------------------------ building random-weight pipelines
def tokenizer():
    sys.path.insert(0, str(REPO / "tests"))
    from tiny_models import tiny_tokenizer   # a word-list T5 tokenizer: the text is padded to a fixed length anyway

    return tiny_tokenizer()


def build_svd_xt(device: str):
    import torch
    from diffusers import (AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, StableVideoDiffusionPipeline,
                           UNetSpatioTemporalConditionModel)
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    with torch.device(device):
        unet = UNetSpatioTemporalConditionModel(sample_size=96, num_frames=25)   # class defaults = SVD's UNet
        vae = AutoencoderKLTemporalDecoder(block_out_channels=(128, 256, 512, 512), layers_per_block=2,
                                           down_block_types=("DownEncoderBlock2D",) * 4, latent_channels=4)
        encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
            image_size=224, patch_size=14, projection_dim=1024, hidden_act="gelu"))
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
        num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002,
        steps_offset=1, timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True)
    return StableVideoDiffusionPipeline(unet=unet, image_encoder=encoder, scheduler=scheduler, vae=vae,
                                        feature_extractor=CLIPImageProcessor())


def build_ltx(device: str):
    import torch
    from diffusers import (AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXConditionPipeline,
                           LTXVideoTransformer3DModel)
    from transformers import T5Config, T5EncoderModel

    tok = tokenizer()
    with torch.device(device):
        transformer = LTXVideoTransformer3DModel()      # class defaults = LTX-Video 2B
        vae = AutoencoderKLLTXVideo()
        text = T5EncoderModel(T5Config(vocab_size=32128, d_model=4096, d_ff=10240, d_kv=64, num_heads=64,
                                       num_layers=24, feed_forward_proj="gated-gelu",
                                       relative_attention_num_buckets=32))   # T5-XXL encoder
    return LTXConditionPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text,
                                tokenizer=tok, transformer=transformer)


def build_tiny(name: str):
    sys.path.insert(0, str(REPO / "tests"))
    import tiny_models

    return tiny_models.build_svd() if name == "svd-xt" else tiny_models.build_ltx()


def save_model(name: str, folder: Path, tiny: bool, device: str) -> Path:
    """Build once (on the GPU: random init of 7B parameters on a CPU takes minutes) and save."""
    import torch

    target = folder / name
    if (target / "model_index.json").is_file():
        return target
    pipe = build_tiny(name) if tiny else (build_svd_xt if name == "svd-xt" else build_ltx)(device)
    pipe.to(dtype=torch.float16 if RUNS[name]["dtype"] == "float16" else torch.bfloat16)
    pipe.save_pretrained(target)
    del pipe
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return target


# ------------------------------------------------------------------ the two ways to run
def photo_pixels(size):
    import numpy as np
    from PIL import Image
    from skimage import data

    w, h = size
    image = Image.fromarray(data.astronaut()).resize((w, h), Image.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 255.0


def measure(fn, device: str) -> dict:
    import torch

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device == "cuda":
        torch.cuda.synchronize()
    out["wall_s"] = round(time.perf_counter() - start, 2)
    if device == "cuda":
        out["peak_vram_gb"] = round(torch.cuda.max_memory_allocated() / 1024 ** 3, 2)
        out["peak_reserved_gb"] = round(torch.cuda.max_memory_reserved() / 1024 ** 3, 2)
    return out


def tiny_shape(name: str) -> tuple[int, int, int]:
    return (64, 48, 8) if name == "svd-xt" else (64, 64, 9)


TINY_FPS = 8


def run_stillmotion(name: str, folder: Path, steps: int, tiny: bool) -> dict:
    from stillmotion import config as config_mod, engines
    from stillmotion.engines import memory
    from stillmotion.progress import CancelToken
    from stillmotion.request import AnimateRequest

    spec = RUNS[name]
    w, h, frames = tiny_shape(name) if tiny else (*spec["size"], spec["frames"])
    fps = TINY_FPS if tiny else spec["fps"]
    entry = {"engine": spec["engine"], "path": str(folder), "size": [w, h], "fps": fps,
             "frames": frames, "steps": steps, "dtype": spec["dtype"]}
    cfg = config_mod.merge(config_mod.load(environ={}), {"models": {"registry": {f"bench-{name}": entry}},
                                                         "engines": {"idle_unload_seconds": 0.0}}, "bench")
    engines._instances.clear()
    request = AnimateRequest.from_dict({"engine": spec["engine"], "model": f"bench-{name}", "seed": 1,
                                        "duration": frames / fps, "motion": 0.6,
                                        "prompt": "waves roll onto the beach"})
    request = request.resolve("environmental", cfg["animate"])
    clip = engines.get(spec["engine"], cfg).generate(photo_pixels((w, h)), request, seed=1, progress=lambda f: None,
                                                     cancel=CancelToken(), context={"prompt": request.prompt})
    n = sum(1 for _ in clip.frames)
    memory.unload()
    info = clip.info
    return {"frames": n, "load_s": info["load_s"], "run_s": info["generate_s"], "offload": info["offload"],
            "vae_tiling": info["vae_tiling"], "dtype": info["dtype"], "memory_reason": info["memory_reason"],
            "decode_chunk_size": info["args"].get("decode_chunk_size")}


def run_diffusers(name: str, folder: Path, steps: int, tiny: bool, device: str) -> dict:
    import diffusers
    import torch
    from PIL import Image

    spec = RUNS[name]
    w, h, frames = tiny_shape(name) if tiny else (*spec["size"], spec["frames"])
    dtype = torch.float32 if device == "cpu" else getattr(torch, spec["dtype"])
    start = time.perf_counter()
    cls = diffusers.StableVideoDiffusionPipeline if name == "svd-xt" else diffusers.LTXConditionPipeline
    pipe = cls.from_pretrained(folder, torch_dtype=dtype).to(device)
    load_s = time.perf_counter() - start
    image = Image.fromarray((photo_pixels((w, h)) * 255).astype("uint8"))
    generator = torch.Generator("cpu").manual_seed(1)
    start = time.perf_counter()
    try:
        if name == "svd-xt":
            out = pipe(image, height=h, width=w, num_frames=frames, num_inference_steps=steps,
                       generator=generator, output_type="np")
        else:
            out = pipe(image=image, prompt="waves roll onto the beach", height=h, width=w, num_frames=frames,
                       num_inference_steps=steps, generator=generator, output_type="np")
    except torch.OutOfMemoryError:
        # The documented defaults do not fit this GPU: that is the result.
        return {"frames": 0, "load_s": round(load_s, 2), "run_s": float("nan"), "error": "out of memory"}
    n = len(out.frames[0])
    run_s = time.perf_counter() - start
    del pipe, out
    return {"frames": n, "load_s": round(load_s, 2), "run_s": round(run_s, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", choices=sorted(RUNS), default=sorted(RUNS))
    parser.add_argument("--steps", type=int, help="denoising steps (default: each model's own)")
    parser.add_argument("--workdir", type=Path, help="where the random-weight models are saved (reused)")
    parser.add_argument("--tiny", action="store_true", help="toy models on any device: checks the script only")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("bench/gpu.py: torch is not installed", file=sys.stderr)
        return 2
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cuda" and not args.tiny:
        print("bench/gpu.py: no CUDA GPU here; this benchmark needs one (run it on a GPU machine, "
              "or with --tiny to check the script on a CPU)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO / "server"))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="stillmotion-bench-gpu-"))
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    print(f"device: {gpu}; torch {torch.__version__}; models in {workdir}")
    if device == "cuda":
        # CUDA context and kernels warmed up first, so neither run pays for them.
        a = torch.randn(4096, 4096, device="cuda", dtype=torch.float16)
        (a @ a).sum().item()
        del a
    results = {}
    try:
        for name in args.models:
            steps = args.steps or (2 if args.tiny else RUNS[name]["steps"])
            folder = save_model(name, workdir, args.tiny, device)
            ours = measure(lambda: run_stillmotion(name, folder, steps, args.tiny), device)
            plain = measure(lambda: run_diffusers(name, folder, steps, args.tiny, device), device)
            results[name] = {"steps": steps, "stillmotion": ours, "diffusers": plain}
            ratio_t = ours["run_s"] / plain["run_s"] if plain["run_s"] else float("nan")
            line = (f"{name:7} {steps} steps  stillmotion: load {ours['load_s']:.1f}s run {ours['run_s']:.1f}s"
                    f"  diffusers: load {plain['load_s']:.1f}s run {plain['run_s']:.1f}s  run ratio {ratio_t:.2f}")
            if device == "cuda":
                line += (f"  peak VRAM {ours['peak_vram_gb']:.1f} GB vs {plain['peak_vram_gb']:.1f} GB "
                         f"(ratio {ours['peak_vram_gb'] / plain['peak_vram_gb']:.2f})")
            print(line + f"  [policy: {ours['offload']}, tiling {ours['vae_tiling']}, "
                         f"decode chunk {ours['decode_chunk_size']}]")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
