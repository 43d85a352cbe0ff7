"""How the common request maps onto each video model's own arguments (no weights needed).

The registry's real model entries (SVD-XT, LTX-Video, Wan, CogVideoX) are planned
exactly as a job would plan them; only the pipeline call itself is left out.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from stillmotion import config as config_mod, engines
from stillmotion.engines import devices, framing, memory, prompts
from stillmotion.engines.models import ResolvedModel, registry
from stillmotion.engines.svd import decode_chunk
from stillmotion.request import AnimateRequest


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    empty = tmp_path_factory.mktemp("config") / "config.toml"
    empty.write_text("", encoding="utf-8")
    return config_mod.load(empty, environ={})


def engine(cfg, name: str):
    """A fresh engine for this config (engines.get keeps the first config it saw)."""
    module, cls = engines.REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)(cfg)


def model(cfg, name: str) -> ResolvedModel:
    """A registry model as `resolve` returns it, without weights (configs absent: registry facts only)."""
    entry = registry(cfg)[name]
    return ResolvedModel(name=name, engine=entry.engine, path=Path("/nonexistent"), pipeline_class="",
                         hf_id=entry.hf_id, options=dict(entry.options))


def request(cfg, **fields) -> AnimateRequest:
    base = {"seed": 1, "duration": 3.0, "motion": 0.5, "style_consistency": 0.8, "camera": "push-in"}
    base.update(fields)
    return AnimateRequest.from_dict(base).resolve("portrait", cfg["animate"])


def plan(cfg, name: str, width: int = 1200, height: int = 800, prompt: str = "a harbour at dawn", **fields):
    m = model(cfg, name)
    return engine(cfg, m.engine).plan(width, height, request(cfg, engine=m.engine, **fields), m, {"prompt": prompt})


# ------------------------------------------------------------------ motion / style -> model arguments
def test_svd_motion_raises_bucket_and_noise_and_style_raises_guidance(cfg):
    low, high = plan(cfg, "svd-xt", motion=0.2).kwargs, plan(cfg, "svd-xt", motion=0.9).kwargs
    assert low["motion_bucket_id"] < high["motion_bucket_id"]
    assert low["noise_aug_strength"] < high["noise_aug_strength"]
    assert 1 <= low["motion_bucket_id"] <= 255 and 0 < high["noise_aug_strength"] <= 0.1
    loose, strict = plan(cfg, "svd-xt", style_consistency=0.2).kwargs, plan(cfg, "svd-xt", style_consistency=0.9).kwargs
    assert loose["max_guidance_scale"] < strict["max_guidance_scale"]
    assert loose["min_guidance_scale"] == strict["min_guidance_scale"] == 1.0
    assert "prompt" not in low    # SVD takes no prompt


def test_ltx_motion_and_style_move_the_conditioning_noise(cfg):
    low, high = plan(cfg, "ltx-0.9.5", motion=0.2).kwargs, plan(cfg, "ltx-0.9.5", motion=0.9).kwargs
    assert low["image_cond_noise_scale"] < high["image_cond_noise_scale"]
    exact = plan(cfg, "ltx-0.9.5", style_consistency=1.0).kwargs
    assert exact["image_cond_noise_scale"] == 0.0            # full consistency: the photo frame is kept exact
    assert plan(cfg, "ltx-0.9.5", style_consistency=0.3).kwargs["image_cond_noise_scale"] > low["image_cond_noise_scale"]


@pytest.mark.parametrize("name", ["ltx-0.9.5", "wan2.1-i2v-480p", "cogvideox-5b-i2v"])
def test_prompt_models_get_camera_and_motion_phrases_monotonic_in_motion(cfg, name):
    low, high = plan(cfg, name, motion=0.2), plan(cfg, name, motion=0.9)
    assert low.kwargs["prompt"].startswith("a harbour at dawn.")
    assert prompts.CAMERA_PHRASES["push-in"] in low.kwargs["prompt"]
    assert prompts.MOTION_TIERS[0][1] in low.kwargs["prompt"]
    assert prompts.MOTION_TIERS[-1][1] in high.kwargs["prompt"]
    # The negative prompt keeps the profile's and adds the opposite of what was asked.
    assert "flicker" in low.kwargs["negative_prompt"] and "camera shake" in low.kwargs["negative_prompt"]
    assert "frozen" in high.kwargs["negative_prompt"]
    tiers = [prompts.motion_tier(m) for m in np.linspace(0, 1, 21)]
    assert tiers == sorted(tiers) and tiers[0] == 0 and tiers[-1] == len(prompts.MOTION_TIERS) - 1


@pytest.mark.parametrize("camera", ["push-in", "pan-left", "orbit"])
def test_a_profiles_own_prompt_never_contradicts_the_camera_or_motion_asked_for(cfg, camera):
    """A portrait with its default push-in told LTX 'the camera holds steady. the camera slowly
    pushes in'; --motion 0.9 got 'subtle' or 'almost imperceptible' from the profile's words."""
    from stillmotion import metadata, profiles

    for profile in [*profiles.PROFILES.values(), profiles.GENERIC]:
        scene, source = metadata.choose_prompt(None, None, profile, True)
        assert source == "profile"
        told = plan(cfg, "ltx-0.9.5", prompt=scene, camera=camera, motion=0.9).kwargs["prompt"]
        for word in ("steady", "static", "subtle", "imperceptible", "gently", "slightly"):
            assert word not in told, (profile.name, told)
        assert told.count("camera") == prompts.CAMERA_PHRASES[camera].count("camera")


def test_a_long_prompt_without_spaces_is_cut_not_dropped_and_the_negative_is_cut_too():
    """A Chinese or Japanese caption has no spaces to cut at: one too long for the encoder was
    dropped whole (the model got only the camera and motion phrases; the note said "cut after 0
    of its 1 words"). The negative prompt goes through the same encoder and was cut there,
    silently, while the clip's metadata recorded all of it."""
    per_character = len        # a stand-in tokenizer: one token a character
    scene = "東京の夜景が静かに広がり、川面に街の灯りが揺れている" * 4
    negative = ", ".join(f"artefact {i}" for i in range(30))
    text = prompts.build(scene, "pan-left", 0.3, negative, reversed_in_time=False)
    limit = len(text.directions) + 30
    fitted = text.within(per_character, limit)
    assert fitted.scene and scene.startswith(fitted.scene) and len(fitted.prompt) <= limit
    assert fitted.prompt.endswith(text.directions + ".")
    phrases = [f"artefact {i}" for i in range(30)]
    kept = max(k for k in range(30) if len(", ".join(phrases[:k])) <= limit)     # cut at a phrase
    assert fitted.negative == ", ".join(phrases[:kept])
    assert fitted.cuts == (f"the prompt was cut after {len(fitted.scene)} of its {len(scene)} characters",
                           f"the negative prompt was cut after {kept} of its 33 phrases")
    spaced = text.within(per_character, 10_000)
    assert spaced == text and spaced.cuts == ()


def test_distilled_ltx_keeps_its_schedule_and_guidance_one(cfg):
    p = plan(cfg, "ltx-0.9.7-distilled")
    assert p.kwargs["guidance_scale"] == 1.0
    assert p.kwargs["timesteps"] == [1000.0, 993.0, 987.0, 981.0, 975.0, 909.0, 725.0, 0.03]
    assert p.kwargs["num_inference_steps"] == 8
    assert p.kwargs["decode_timestep"] == 0.05


def test_steps_setting_overrides_model_default_but_not_a_distilled_schedule(cfg):
    fast = config_mod.merge(cfg, {"engines": {"steps": 6}}, "test")
    assert plan(fast, "svd-xt").kwargs["num_inference_steps"] == 6
    assert plan(fast, "ltx-0.9.7-distilled").kwargs["num_inference_steps"] == 8


# ------------------------------------------------------------------ frame counts
@pytest.mark.parametrize("name,step,fps", [("ltx-0.9.5", 8, 24), ("wan2.1-i2v-480p", 4, 16),
                                           ("wan2.2-ti2v-5b", 4, 24)])
def test_frame_counts_follow_each_models_rule_and_the_clip_lasts_the_duration(cfg, name, step, fps):
    for duration in (1.0, 2.5, 3.3):
        p = plan(cfg, name, duration=duration)
        assert (p.kwargs["num_frames"] - 1) % step == 0
        assert p.kwargs["num_frames"] >= p.frames.wanted == round(duration * fps)
        assert p.frames.n_frames / p.frames.fps == pytest.approx(duration, abs=0.5 / fps)


def test_cogvideox_always_generates_49_frames_and_uses_the_leading_ones(cfg):
    p = plan(cfg, "cogvideox-5b-i2v", duration=2.0)
    assert p.kwargs["num_frames"] == 49 and p.frames.n_frames == 16 and p.frames.fps == 8
    assert (p.kwargs["width"], p.kwargs["height"]) == (720, 480)


def test_svd_xt_longer_than_25_frames_is_slowed_to_keep_the_duration(cfg):
    p = plan(cfg, "svd-xt", duration=6.0)
    assert p.kwargs["num_frames"] == 25 and p.kwargs["fps"] == 7
    assert p.frames.n_frames == 25 and p.frames.n_frames / p.frames.fps == pytest.approx(6.0)


# ------------------------------------------------------------------ anchor and loop placement
def test_anchor_and_loop_placement_per_model(cfg):
    # Image-first models: --anchor end plays the clip backwards; --loop goes out and back.
    end = plan(cfg, "svd-xt", anchor="end")
    assert end.frames.placement == "reverse" and end.frames.anchor_index == end.frames.n_frames - 1
    loop = plan(cfg, "svd-xt", loop=True, duration=3.0)
    assert loop.frames.placement == "pingpong" and loop.frames.anchor_index == 0
    assert loop.kwargs["num_frames"] == (loop.frames.n_frames + 1) // 2
    # LTX conditions on the photo where it belongs.
    assert plan(cfg, "ltx-0.9.5", anchor="end").frames.placement == "end"
    assert plan(cfg, "ltx-0.9.5", loop=True).frames.placement == "both"
    # Wan I2V loops out and back unless its first-last-frame model is installed; the FLF2V model loops itself.
    assert plan(cfg, "wan2.1-i2v-480p", loop=True).frames.placement == "pingpong"
    assert plan(cfg, "wan2.1-flf2v-720p", loop=True).frames.placement == "both"


@pytest.mark.parametrize("name", ["svd-xt", "ltx-0.9.5", "wan2.1-i2v-480p", "wan2.1-flf2v-720p",
                                  "cogvideox-5b-i2v"])
def test_a_loop_is_a_cycle_whose_steps_last_the_duration(cfg, name):
    """A loop's last frame is its first again (the photo), the next cycle's first frame, which
    finishing leaves out; its n - 1 steps, not its n frames, span the duration, or the delivered
    clip ended on the photo and held it for two frames at every seam."""
    for duration in (1.0, 2.0, 3.3):
        p = plan(cfg, name, loop=True, duration=duration)
        assert p.frames.placement in ("pingpong", "both")
        assert (p.frames.n_frames - 1) / p.frames.fps == pytest.approx(duration, abs=0.5 * duration / p.frames.wanted)


def test_reversed_clips_ask_the_model_for_the_opposite_camera_move(cfg):
    forward = plan(cfg, "wan2.1-i2v-480p", camera="push-in")
    backward = plan(cfg, "wan2.1-i2v-480p", camera="push-in", anchor="end")
    assert forward.info["camera"] == "push-in" and backward.info["camera"] == "pull-out"
    # LTX conditions the last frame instead, so the move is asked for as is.
    assert plan(cfg, "ltx-0.9.5", camera="pan-left", anchor="end").info["camera"] == "pan-left"


def test_arrange_reverses_and_pingpongs_with_the_photo_at_the_anchor():
    spec = framing.ModelSpec(size=(64, 64), fixed_size=False, multiple=8, fps=8, frame_step=1, min_frames=2,
                             max_frames=40, steps=2, guidance=1.0, dtype="float16")
    raw = np.arange(20, dtype=np.float32)[:, None, None, None] * np.ones((1, 2, 2, 3), np.float32)
    for placement in ("start", "reverse", "pingpong"):
        fp = framing.plan_frames(1.5, placement, spec)      # 12 frames wanted
        out = framing.arrange(raw[:fp.generate], fp)
        assert len(out) == fp.n_frames
        assert out[fp.anchor_index, 0, 0, 0] == 0.0          # the model's first frame is the photo
        if placement == "pingpong":
            assert out[-1, 0, 0, 0] == 0.0 and fp.n_frames in (12, 13)    # back where it started
        else:
            assert fp.n_frames == 12


# ------------------------------------------------------------------ fitting the photo
@pytest.mark.parametrize("size", [(1200, 800), (800, 1200), (1000, 1000), (4000, 1000), (1920, 1080)])
def test_photo_fits_the_native_area_with_its_aspect(cfg, size):
    w, h = size
    for name in ("svd-xt", "ltx-0.9.5", "wan2.2-ti2v-5b"):
        spec = engine(cfg, model(cfg, name).engine).spec(model(cfg, name))
        fit = framing.fit_canvas(w, h, spec)
        cw, ch = fit.canvas
        assert cw % spec.multiple == 0 and ch % spec.multiple == 0
        x, y, fw, fh = fit.content
        assert 0 <= x and 0 <= y and x + fw <= cw and y + fh <= ch
        assert fw / fh == pytest.approx(w / h, rel=0.04)          # aspect kept (even-pixel rounding)
        assert 0.7 < cw * ch / (spec.size[0] * spec.size[1]) < 1.3    # the model's own pixel budget
        if w / h <= spec.max_aspect:
            assert fw * fh > 0.9 * cw * ch                         # hardly any padding needed


def test_fixed_size_model_pads_a_portrait_photo_and_crops_it_back(cfg):
    m = model(cfg, "cogvideox-5b-i2v")
    spec = engine(cfg, "cogvideox").spec(m)
    fit = framing.fit_canvas(800, 1200, spec)
    assert fit.canvas == (720, 480)
    x, y, w, h = fit.content
    assert (h, y) == (480, 0) and w == 320 and x == 200
    photo = np.zeros((1200, 800, 3), np.float32)
    photo[:, :, 0] = np.linspace(0, 1, 800)[None, :]              # a red ramp left to right
    canvas = framing.render_canvas(photo, fit).astype(np.float32) / 255
    assert np.abs(canvas[:, x:x + w, 0].mean(axis=0) - np.linspace(0, 1, w)).max() < 0.03
    margin = np.concatenate([canvas[:, :x], canvas[:, x + w:]], axis=1)
    assert margin[..., 0].mean() > 0.2                             # filled from the photo, not black bars


# ------------------------------------------------------------------ memory policy
def test_offload_policy_follows_free_memory():
    need = memory.Needs(full_gb=20, offload_gb=12, min_gb=5, cpu_gb=40)
    gpu = devices.Device("cuda", "test GPU", 24, 24, True)
    assert memory.memory_plan(need, gpu, 22).offload == "none"
    assert memory.memory_plan(need, gpu, 15).offload == "model"
    small = memory.memory_plan(need, gpu, 8)
    assert small.offload == "group" and small.vae_tiling
    assert memory.memory_plan(need, gpu, 22, forced="sequential").offload == "sequential"
    cpu = devices.Device("cpu", "CPU", 64, 60, False)
    assert memory.memory_plan(need, cpu, 60).offload == "none"
    assert devices.pick_dtype(cpu, "bfloat16") == "float32"
    assert devices.pick_dtype(devices.Device("cuda", "T4", 16, 16, False), "bfloat16") == "float16"
    assert devices.pick_dtype(gpu, "bfloat16") == "bfloat16"


def test_usable_here_says_why_not():
    options = {"vram_gb": 40.0, "offload_vram_gb": 24.0, "min_vram_gb": 10.0, "params_b": 10.0}
    assert memory.usable_on(options, devices.Device("cuda", "g", 80, 80, True)) == (True, "fits in 80 GB VRAM")
    ok, why = memory.usable_on(options, devices.Device("cuda", "g", 12, 12, True))
    assert ok and "group offload" in why
    ok, why = memory.usable_on(options, devices.Device("cuda", "g", 8, 8, True))
    assert not ok and "at least 10 GB" in why
    ok, why = memory.usable_on(options, devices.Device("cpu", "c", 24, 20, False))
    assert not ok and "44 GB RAM" in why


def test_svd_decode_chunk_grows_with_free_memory():
    chunks = [decode_chunk(free, 1024, 576, "float16", 25) for free in (2, 6, 12, 40)]
    assert chunks == sorted(chunks) and chunks[0] == 1 and chunks[-1] == 25
    assert decode_chunk(6, 1024, 576, "float32", 25) < decode_chunk(6, 1024, 576, "float16", 25)


# ------------------------------------------------------------------ an interrupted pipeline call
class _FakePipe:
    """Calls back once per step like a diffusers pipeline; can run out of memory instead."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail, self.freed, self.steps = fail, 0, 0

    def maybe_free_model_hooks(self) -> None:
        self.freed += 1

    def __call__(self, num_inference_steps, callback_on_step_end, **kwargs):
        if self.fail:
            raise self.fail
        for i in range(num_inference_steps):
            self.steps += 1
            callback_on_step_end(self, i, 999 - i, {})
        return type("Out", (), {"frames": np.ones((1, 3, 4, 4, 3), np.float32) * 1.5})


def test_run_pipeline_reports_steps_stops_on_cancel_and_turns_oom_into_a_job_error():
    import torch

    from stillmotion.engines.diffusion import run_pipeline
    from stillmotion.errors import Canceled, JobError
    from stillmotion.progress import CancelToken

    seen: list[float] = []
    pipe = _FakePipe()
    frames, reporter = run_pipeline(pipe, {"num_inference_steps": 4}, 4, seen.append, CancelToken())
    assert frames.shape == (3, 4, 4, 3) and frames.max() == 1.0            # clipped to [0, 1]
    assert len(seen) == 4 and seen == sorted(seen) and reporter.steps_done == 4

    cancel = CancelToken()
    pipe = _FakePipe()
    with pytest.raises(Canceled):
        run_pipeline(pipe, {"num_inference_steps": 10}, 10, lambda f: cancel.cancel(), cancel)
    assert pipe.steps == 1 and pipe.freed == 1                            # stopped after one step, hooks freed

    pipe = _FakePipe(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"))
    with pytest.raises(JobError, match="offload"):
        run_pipeline(pipe, {"num_inference_steps": 2}, 2, lambda f: None, CancelToken())
    assert pipe.freed == 1
    # Arguments the model cannot take (a registry size against its learned embeddings): the CLI
    # printed the pipeline's 40-line traceback; now one line naming the pipeline, hooks freed.
    pipe = _FakePipe(RuntimeError("The size of tensor a (63) must match the size of tensor b (19)"))
    with pytest.raises(JobError, match=r"^_FakePipe failed: RuntimeError: The size of tensor a \(63\)"):
        run_pipeline(pipe, {"num_inference_steps": 2}, 2, lambda f: None, CancelToken())
    assert pipe.freed == 1


# ------------------------------------------------------------------ a model read from its own configs
def configs_only(folder: Path, name: str, engine_name: str, **components: dict) -> ResolvedModel:
    """A model folder holding only its components' config.json (what `derive` reads), no weights."""
    import json

    for component, config in components.items():
        (folder / component).mkdir(parents=True)
        (folder / component / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return ResolvedModel(name=name, engine=engine_name, path=folder, pipeline_class="CogVideoXImageToVideoPipeline")


_COG_VAE = {"block_out_channels": [128, 256, 256, 512], "temporal_compression_ratio": 4}


def test_cogvideox_1_5_folder_runs_at_its_own_size_and_16_fps_not_the_raw_position_grid(cfg, tmp_path):
    """CogVideoX1.5-5B-I2V's transformer says sample 300x300 latents (its rotary grid, not a size):
    read as a fixed size it asked for 2400x2400, and at 1.0's 8 fps its 16-fps motion ran at half speed."""
    m = configs_only(tmp_path / "CogVideoX1.5-5B-I2V", "CogVideoX1.5-5B-I2V", "cogvideox", vae=_COG_VAE,
                     transformer={"sample_width": 300, "sample_height": 300, "sample_frames": 81, "patch_size_t": 2,
                                  "temporal_compression_ratio": 4, "use_learned_positional_embeddings": False,
                                  "max_text_seq_length": 224})
    eng = engine(cfg, "cogvideox")
    p = eng.plan(1200, 800, request(cfg, engine="cogvideox", duration=5.0), m, {"prompt": "a harbour"})
    cw, ch = p.fit.canvas
    assert min(cw, ch) >= 768 and max(cw, ch) <= 1360 and cw % 16 == 0 and ch % 16 == 0   # its model card
    assert cw / ch == pytest.approx(1.5, rel=0.05)                     # the photo's aspect, no bars
    assert p.spec.fps == 16 and p.frames.generate == 81 and (p.frames.generate - 1) % 16 == 0
    assert p.frames.fps == pytest.approx(16, rel=0.02)                 # 5 s at the model's own rate
    wide = eng.plan(3000, 1000, request(cfg, engine="cogvideox"), m, {"prompt": "a harbour"}).fit.canvas
    assert min(wide) >= 768 and max(wide) <= 1360
    # CogVideoX 1.0 I2V (learned position embeddings) keeps its one size and 49 frames.
    old = configs_only(tmp_path / "CogVideoX-5b-I2V", "CogVideoX-5b-I2V", "cogvideox", vae=_COG_VAE,
                       transformer={"sample_width": 90, "sample_height": 60, "sample_frames": 49,
                                    "temporal_compression_ratio": 4, "use_learned_positional_embeddings": True})
    p = eng.plan(1200, 800, request(cfg, engine="cogvideox", duration=5.0), old, {"prompt": "a harbour"})
    assert p.fit.canvas == (720, 480) and p.spec.fps == 8 and p.frames.generate == 49
