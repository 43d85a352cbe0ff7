"""Each generative adapter running a real (tiny, random) diffusers pipeline, end to end.

The tiny pipelines (tests/tiny_models.py) are saved with save_pretrained and
loaded back by the engines' own loader from `--model <folder>`, on the CPU, with
2 denoising steps, and sockets refused: a job never touches the network.
"""

from __future__ import annotations

import gc
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stillmotion import cli, config as config_mod, engines
from stillmotion.engines import memory, models
from stillmotion.errors import Canceled, EngineUnavailable
from stillmotion.jobs.pipeline import JobSpec, run_job
from stillmotion.progress import CancelToken
from stillmotion.request import AnimateRequest
from stillmotion.video.decode import probe, read_frames

from support import save_photo, skimage_photo
from tiny_models import refuse_network, registry_toml, tiny_model


@pytest.fixture(autouse=True)
def offline_and_fresh(monkeypatch):
    """No network; engines built for each test's config; no pipeline left warm afterwards."""
    attempts = refuse_network(monkeypatch)
    engines._instances.clear()
    yield
    engines._instances.clear()
    memory.unload()
    assert attempts == []


def tiny_config(home: Path, extra: str = "") -> config_mod.Config:
    """STILLMOTION_HOME's config: fast output, 2 denoising steps, the tiny models registered."""
    text = ('[output]\nlong_edge = 320\npreset = "ultrafast"\n'
            f'[engines]\nsteps = 2\n{extra}\n' + registry_toml())
    (home / "config.toml").write_text(text, encoding="utf-8")
    return config_mod.load()


@pytest.fixture
def home(fast_config):
    return fast_config.parent


@pytest.fixture
def photo() -> np.ndarray:
    """A real photo at 96x64 (3:2), float sRGB."""
    image = Image.fromarray(skimage_photo("astronaut")).resize((96, 64), Image.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 255.0


def resolved(cfg, **fields) -> AnimateRequest:
    base = {"duration": 1.0, "seed": 11}
    base.update(fields)
    return AnimateRequest.from_dict(base).resolve("portrait", cfg["animate"])


def run(engine: str, cfg, photo, *, seed: int = 11, progress=None, cancel=None, **fields):
    req = resolved(cfg, engine=engine, model=str(tiny_model(engine)), **fields)
    return engines.get(engine, cfg).generate(photo, req, seed=seed, progress=progress or (lambda f: None),
                                             cancel=cancel or CancelToken(), context={"prompt": "a person"})


# ------------------------------------------------------------------ every adapter, its real pipeline
@pytest.mark.parametrize("engine,fps,loop_placement", [
    ("svd", 7, "pingpong"), ("ltx", 8, "both"), ("wan", 8, "both"), ("cogvideox", 8, "pingpong")])
def test_adapter_runs_its_tiny_pipeline_from_a_folder(engine, fps, loop_placement, home, photo):
    cfg = tiny_config(home)
    fractions: list[float] = []
    clip = run(engine, cfg, photo, progress=fractions.append)
    frames = list(clip.frames)
    assert len(frames) == clip.n_frames == round(1.0 * fps) and clip.fps == pytest.approx(fps)
    assert clip.anchor_index == 0 and clip.seed == 11
    for frame in frames:
        assert frame.dtype == np.float32 and frame.shape == (clip.height, clip.width, 3)
        assert 0.0 <= frame.min() and frame.max() <= 1.0
    assert clip.width / clip.height == pytest.approx(96 / 64, rel=0.1)   # the photo's aspect, not the model's
    info = clip.info
    assert info["model_path"] == str(tiny_model(engine)) and info["seed"] == 11 and info["steps"] == 2
    assert (info["device"], info["dtype"], info["offload"]) == ("cpu", "float32", "none")
    assert info["seconds_per_step"] is not None
    # Progress: load, each denoising step, done; never backwards.
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 4
    # The same adapter ends a clip on the photo, and loops, through its own pipeline.
    end = run(engine, cfg, photo, anchor="end", duration=0.5)
    assert end.anchor_index == end.n_frames - 1 and len(list(end.frames)) == end.n_frames
    loop = run(engine, cfg, photo, loop=True, duration=0.5)
    assert loop.info["placement"] == loop_placement and loop.anchor_index == 0
    loop_frames = list(loop.frames)
    if loop_placement == "pingpong":
        assert np.array_equal(loop_frames[0], loop_frames[-1])
    # The loop's last frame is the next cycle's first (finishing leaves it out): its steps last the duration.
    assert (loop.n_frames - 1) / loop.fps == pytest.approx(0.5, abs=0.5 / fps)
    if engine == "wan":
        assert loop.info["model"] == "tiny-wan-flf2v" and "tiny-wan-flf2v" in loop.info["model_note"]


def test_same_seed_same_clip_other_seed_other_clip(home, photo):
    cfg = tiny_config(home)
    a = np.stack(list(run("cogvideox", cfg, photo, seed=5).frames))
    b = np.stack(list(run("cogvideox", cfg, photo, seed=5).frames))
    c = np.stack(list(run("cogvideox", cfg, photo, seed=6).frames))
    assert np.array_equal(a, b) and np.abs(a - c).mean() > 1e-3


def test_a_long_prompt_is_cut_in_its_scene_so_the_camera_and_motion_still_reach_the_model(home, photo, capsys,
                                                                                          tmp_path, monkeypatch):
    """The text encoder reads max_sequence_length tokens (LTX 256, CogVideoX 226) and the camera,
    motion and style phrases come last: a long caption lost exactly those, silently, while the
    clip's XMP said the model had been told them."""
    from stillmotion.engines import prompts

    cfg = tiny_config(home, f'[models.registry.short-ltx]\nengine = "ltx"\npath = "{tiny_model("ltx")}"\n'
                            'size = [64, 64]\nfps = 8\nframes = 17\nmax_sequence_length = 40\n')
    told: list[str] = []
    avoided: list[str] = []
    scene = "a person with hair that moves in the wind " * 12
    req = resolved(cfg, engine="ltx", model="short-ltx", duration=0.5, camera="pan-left")
    from diffusers import LTXConditionPipeline

    encode = LTXConditionPipeline.encode_prompt
    monkeypatch.setattr(LTXConditionPipeline, "encode_prompt",
                        lambda pipe, prompt, *a, **k: (told.append(prompt), avoided.append(k["negative_prompt"]),
                                                       encode(pipe, prompt, *a, **k))[2])
    ltx = engines.get("ltx", cfg)
    clip = ltx.generate(photo, req, seed=1, progress=lambda f: None, cancel=CancelToken(), context={"prompt": scene})
    tokenizer = memory.WARM.pipeline.tokenizer
    assert len(told) == 1 and told[0] == clip.info["prompt"] == clip.info["args"]["prompt"]
    assert told[0].startswith("a person with hair") and len(told[0]) < len(scene)
    assert told[0].endswith(prompts.CAMERA_PHRASES["pan-left"] + ". " + prompts.MOTION_TIERS[1][1] + ". "
                            + prompts.STYLE_PHRASE + ".")
    assert len(tokenizer(told[0]).input_ids) <= 40
    assert "to fit short-ltx's 40-token text encoder" in clip.info["prompt_note"]
    # The negative prompt goes through the same encoder: what it read is what the clip records.
    assert avoided[0] == clip.info["negative_prompt"] == clip.info["args"]["negative_prompt"]
    assert len(tokenizer(avoided[0]).input_ids) <= 40 and avoided[0] != req.negative_prompt
    assert "the negative prompt was cut after" in clip.info["prompt_note"]
    # A prompt that fits is left alone, and says nothing of itself.
    short = ltx.generate(photo, req, seed=1, progress=lambda f: None, cancel=CancelToken(), context={"prompt": "a person"})
    assert short.info["prompt"].startswith("a person. the camera pans")
    assert "the prompt was cut" not in short.info["prompt_note"]
    # The photographer is told, once per job.
    shot = save_photo(tmp_path / "IMG_0009.jpg", skimage_photo("astronaut"), (96, 64))
    code = cli.main(["animate", str(shot), "--engine", "ltx", "--model", "short-ltx", "--duration", "0.5",
                     "--variants", "2", "--prompt", scene.strip()])
    err = capsys.readouterr().err
    assert code == 0 and err.count("note: the prompt was cut after") == 1, err


def test_pickled_weights_are_refused(home, photo, tmp_path):
    from tiny_models import build_cogvideox

    folder = tmp_path / "pickled-cogvideox"
    build_cogvideox().save_pretrained(folder, safe_serialization=False)     # .bin files: torch.load would unpickle
    cfg = tiny_config(home)
    req = resolved(cfg, engine="cogvideox", model=str(folder))
    with pytest.raises(EngineUnavailable, match="cannot load pickled-cogvideox"):
        engines.get("cogvideox", cfg).generate(photo, req, seed=1, progress=lambda f: None, cancel=CancelToken())


def test_weights_load_whichever_variant_the_folder_holds(home, photo, tmp_path):
    """`models pull svd` fetches only the fp16 files: `--model <that folder>` failed with 'no file
    named model.safetensors'; and a registry entry with variant = "fp16" over a download holding
    only the plain files failed with 'no such modeling files are available'."""
    import shutil

    pulled = Path(shutil.copytree(tiny_model("svd"), tmp_path / "svd"))
    for weights in pulled.glob("*/*.safetensors"):       # as pulled: only the fp16 variant's files
        weights.rename(weights.with_suffix(".fp16.safetensors"))
    cfg = tiny_config(home, "")
    clip = engines.get("svd", cfg).generate(photo, resolved(cfg, engine="svd", model=str(pulled), duration=0.5),
                                            seed=1, progress=lambda f: None, cancel=CancelToken())
    assert clip.info["model_path"] == str(pulled) and len(list(clip.frames)) == clip.n_frames
    cfg = tiny_config(home, f'[models.registry.my-svd]\nengine = "svd"\npath = "{tiny_model("svd")}"\n'
                            'variant = "fp16"\n')
    engines._instances.clear()
    clip = engines.get("svd", cfg).generate(photo, resolved(cfg, engine="svd", model="my-svd", duration=0.5),
                                            seed=1, progress=lambda f: None, cancel=CancelToken())
    assert clip.info["model"] == "my-svd" and len(list(clip.frames)) == clip.n_frames


def test_short_memory_asks_for_vae_tiling_only_where_the_vae_has_it(home, photo, monkeypatch):
    """With memory short (a 12 GB GPU under model offload, a forced offload, a busy Mac or PC) the
    plan asks for VAE tiling; SVD's temporal VAE has none and diffusers raised
    NotImplementedError from enable_tiling, so SVD could not load at all."""
    from stillmotion.engines import devices

    monkeypatch.setattr(devices, "free_gb", lambda device: 0.5)
    cfg = tiny_config(home)
    svd = run("svd", cfg, photo, duration=0.5)
    assert len(list(svd.frames)) == svd.n_frames
    assert svd.info["vae_tiling"] is False and svd.info["args"]["decode_chunk_size"] == 1
    memory.unload()
    ltx = run("ltx", cfg, photo, duration=0.5)
    assert ltx.info["vae_tiling"] is True and memory.WARM.pipeline.vae.use_tiling


def test_pipeline_stays_warm_then_unloads_when_idle(home, photo):
    run("cogvideox", tiny_config(home, "idle_unload_seconds = 300"), photo)
    key, pipe = memory.WARM.loaded_key, memory.WARM.pipeline
    assert key is not None and key[0] == str(tiny_model("cogvideox"))
    engines._instances.clear()
    run("cogvideox", tiny_config(home, "idle_unload_seconds = 0.3"), photo)
    assert memory.WARM.pipeline is pipe, "loaded again"       # reused, not reloaded (a reload has the same key)
    deadline = time.monotonic() + 10
    while memory.WARM.loaded_key is not None:                 # memory given back after the idle timeout
        assert time.monotonic() < deadline, "still loaded 10 s after a 0.3 s idle timeout"
        time.sleep(0.05)
    cfg = tiny_config(home, "idle_unload_seconds = 0")
    engines._instances.clear()
    run("cogvideox", cfg, photo)
    assert memory.WARM.loaded_key is None


# ------------------------------------------------------------------ cancel in the middle of denoising
def test_cancel_mid_denoising_stops_within_one_step_and_frees_memory(home, photo):
    cfg = tiny_config(home, "idle_unload_seconds = 300")
    engines.get("svd", cfg)
    cancel = CancelToken()
    outputs: list[weakref.ref] = []
    calls = []

    def progress(fraction: float) -> None:
        if fraction > 0.05 and not cancel.cancelled:          # the first denoising step is done
            cancel.cancel()

    # Watch the UNet: how often it runs and whether its outputs stay referenced.
    run("svd", cfg, photo, duration=0.5)                       # load once (warm)
    unet = memory.WARM.pipeline.unet
    def watch(module, args, out) -> None:
        calls.append(1)
        outputs.append(weakref.ref(out[0]))

    handle = unet.register_forward_hook(watch)
    try:
        steps_cfg = tiny_config(home, "idle_unload_seconds = 300\n")
        steps_cfg["engines"]["steps"] = 12
        engines._instances.clear()
        started = time.monotonic()
        with pytest.raises(Canceled):
            run("svd", steps_cfg, photo, progress=progress, cancel=cancel)
        assert len(calls) == 1                                 # one step ran, not twelve
        assert time.monotonic() - started < 10
    finally:
        handle.remove()
    gc.collect()
    assert outputs and all(ref() is None for ref in outputs)   # no latents/noise kept alive by the traceback
    assert memory.WARM.loaded_key is not None and memory.WARM.in_use == 0


def test_canceled_job_writes_no_file(home, tmp_path):
    cfg = tiny_config(home)
    cfg["engines"]["steps"] = 20
    folder = tmp_path / "shoot"
    folder.mkdir()
    photo = save_photo(folder / "IMG_0042.jpg", skimage_photo("astronaut"), (96, 64))
    cancel = CancelToken()
    seen = []

    def progress(stage: str, fraction: float) -> None:
        seen.append(stage)
        if stage == "generate" and fraction > 0.05:
            cancel.cancel()

    request = AnimateRequest.from_dict({"engine": "svd", "model": str(tiny_model("svd")), "duration": 1.0})
    with pytest.raises(Canceled):
        run_job(JobSpec(photo_path=photo, request=request), cfg, progress=progress, cancel=cancel)
    assert sorted(p.name for p in folder.iterdir()) == ["IMG_0042.jpg"]   # nothing, not even a hidden temp
    assert "encode" not in seen


# ------------------------------------------------------------------ stillmotion animate, end to end
def test_cli_animate_with_svd_tiny_model_two_variants(home, tmp_path, capsys):
    tiny_config(home)
    folder = tmp_path / "shoot"
    folder.mkdir()
    photo = save_photo(folder / "IMG_0007.jpg", skimage_photo("astronaut"), (96, 64), quality=95)
    code = cli.main(["animate", str(photo), "--engine", "svd", "--model", str(tiny_model("svd")),
                     "--duration", "1", "--fps", "12", "--seed", "41", "--variants", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    clips = [Path(p) for p in out.split()]
    assert [c.name for c in clips if c.suffix == ".mp4"] == ["IMG_0007.motion.mp4", "IMG_0007.motion-2.mp4"]
    for clip, seed in zip([c for c in clips if c.suffix == ".mp4"], (41, 42)):
        info = probe(clip)
        assert info.n_frames == 12 and (info.width, info.height) == (96, 64)   # requested frames, delivery size
        sidecar = clip.with_suffix(".xmp")
        assert sidecar.is_file()
        xmp = sidecar.read_text(encoding="utf-8")
        assert "svd" in xmp and str(seed) in xmp and "tiny-svd" in xmp
    # Colour-matched: the clip's anchor frame carries the photo's colour, though the tiny model's own is noise.
    photo_px = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float32) / 255
    first = next(read_frames(clips[0]))
    assert np.abs(first.mean(axis=(0, 1)) - photo_px.mean(axis=(0, 1))).max() < 0.06


def test_the_ai_disclosure_names_the_model_not_the_folder_typed(home, tmp_path, capsys):
    """`--model ./models/my-svd` was disclosed as AISystemUsed 'models/my-svd' with
    AISystemVersionUsed = Stillmotion's version, as if that were the model's; a pulled registry
    model was disclosed by its nickname ('svd') rather than its Hugging Face id."""
    import json
    import shutil

    import pyexiv2

    pulled = home / "models" / "tiny-svd-pulled"
    shutil.copytree(tiny_model("svd"), pulled)
    (pulled / models.COMPLETE_MARKER).write_text(json.dumps({"hf_id": "acme/tiny-svd"}), encoding="utf-8")
    tiny_config(home, '[models.registry.tiny-svd-pulled]\nengine = "svd"\nhf_id = "acme/tiny-svd"\n'
                      'revision = "9e43909"\n')
    photo = save_photo(tmp_path / "IMG_0011.jpg", skimage_photo("astronaut"), (96, 64))
    disclosed = []
    for model in ("tiny-svd-pulled", str(tiny_model("svd"))):
        code = cli.main(["animate", str(photo), "--engine", "svd", "--model", model, "--duration", "0.5"])
        out, err = capsys.readouterr()
        assert code == 0, err
        with pyexiv2.Image(next(p for p in out.split() if p.endswith(".xmp"))) as image:
            written = image.read_xmp()
        disclosed.append((written["Xmp.iptcExt.AISystemUsed"], written.get("Xmp.iptcExt.AISystemVersionUsed")))
        assert written["Xmp.stillmotion.model"] == model                 # reproduction keeps what was asked
    assert disclosed == [("acme/tiny-svd", "9e43909"), ("tiny-svd", None)]


def test_a_loop_played_out_and_back_for_want_of_a_first_last_frame_model_is_said(home, tmp_path, capsys):
    """`--loop` on Wan with its first-last-frame model not pulled made a ping-pong loop; the reason
    and the pull command were only in the XMP."""
    tiny_config(home, f'[models.registry.wan-i2v]\nengine = "wan"\npath = "{tiny_model("wan")}"\n'
                      'size = [48, 32]\nfps = 8\nframes = 17\nloop_model = "wan-flf2v"\n'
                      '[models.registry.wan-flf2v]\nengine = "wan"\nhf_id = "acme/wan-flf2v"\nflf2v = true\n')
    photo = save_photo(tmp_path / "IMG_0012.jpg", skimage_photo("astronaut"), (96, 64))
    code = cli.main(["animate", str(photo), "--model", "wan-i2v", "--loop", "--duration", "0.5"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert ("IMG_0012.jpg: note: wan-flf2v is not installed (`stillmotion models pull wan-flf2v`): "
            "the loop plays out and back") in err


def test_a_prompted_engine_takes_the_caption_as_its_prompt_and_discloses_it(home, tmp_path, capsys):
    """With no --prompt, the photo's caption is what LTX is told (and what the clip's XMP says
    it was told); the request's own prompt wins over it."""
    import pyexiv2

    tiny_config(home)
    photo = save_photo(tmp_path / "IMG_0008.jpg", skimage_photo("coffee"), (96, 64), quality=95)
    photo.with_suffix(".xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description><rdf:Alt>'
        '<rdf:li xml:lang="x-default">steam rises from the cup</rdf:li></rdf:Alt></dc:description>'
        '</rdf:Description></rdf:RDF></x:xmpmeta>', encoding="utf-8")
    for extra, told, source in (([], "steam rises from the cup", "caption"),
                                (["--prompt", "the cup turns"], "the cup turns", "request")):
        code = cli.main(["animate", str(photo), "--engine", "ltx", "--model", str(tiny_model("ltx")),
                         "--duration", "0.5", "--fps", "8", *extra])
        out, err = capsys.readouterr()
        assert code == 0 and "note:" not in err, err
        with pyexiv2.Image(next(p for p in out.split() if p.endswith(".xmp"))) as image:
            written = image.read_xmp()
        assert written["Xmp.iptcExt.AIPromptInformation"].startswith(told)
        assert written["Xmp.stillmotion.prompt_source"] == source


def test_daemon_job_with_svd_tiny_model(home, tmp_path):
    from stillmotion.api.client import DaemonClient
    from test_api import LiveServer, wait_done

    cfg = tiny_config(home, "idle_unload_seconds = 300")
    folder = tmp_path / "shoot"
    folder.mkdir()
    photo = save_photo(folder / "IMG_0100.jpg", skimage_photo("chelsea"), (96, 64), quality=95)
    live = LiveServer(cfg, home / "data")
    try:
        with live.client() as client:
            assert isinstance(client, DaemonClient)
            svd = next(e for e in client.engines() if e["name"] == "svd")
            assert svd["prompt"] is False and "reason" in svd
            job = client.submit(image_path=photo, settings={"engine": "svd", "model": str(tiny_model("svd")),
                                                           "duration": 1, "fps": 7, "seed": 9})
            done = wait_done(client, job["id"], timeout=120)
    finally:
        live.stop()
    assert done["status"] == "done", done
    clip = Path(done["outputs"][0])
    assert clip == folder / "IMG_0100.motion.mp4" and probe(clip).n_frames == 7
    assert (folder / "IMG_0100.motion.xmp").is_file()


# `stillmotion serve`, with the modules it imported written down as it exits.
_SERVE_AND_SAY_IF_TORCH = """
import atexit, sys
atexit.register(lambda: open(sys.argv[1], "w").write(" ".join(m for m in ("torch", "diffusers") if m in sys.modules)))
from stillmotion.cli import main
sys.exit(main(["serve", "--port", sys.argv[2]]))
"""


def test_the_daemon_never_imports_torch_its_probe_and_render_processes_do(home, tmp_path):
    """Importing torch (1-2 s, mostly holding the GIL, even in an executor thread) stalled the
    daemon's event loop for up to a second, on its first /v1/engines and its first engine
    choice with a model installed: the plug-in's progress polls waited. The device is probed in
    a child process now, and the job renders in the render process, as before."""
    import os
    import signal
    import subprocess
    import sys

    import torch

    from stillmotion.api.client import DaemonClient
    from test_api import wait_done
    from test_api_crash import free_port

    (home / "config.toml").write_text('[output]\nlong_edge = 320\npreset = "ultrafast"\n'
                                      '[engines]\nsteps = 2\nauto_on_cpu = true\n'
                                      '[jobs]\nrender_nice = 0\nrender_idle = false\n'
                                      + registry_toml(("ltx",)), encoding="utf-8")
    photo = save_photo(tmp_path / "IMG_0200.jpg", skimage_photo("chelsea"), (96, 64), quality=95)
    port, said = free_port(), tmp_path / "modules.txt"
    daemon = subprocess.Popen([sys.executable, "-c", _SERVE_AND_SAY_IF_TORCH, str(said), str(port)],
                              env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "daemon on http" in daemon.stdout.readline()
        token = (home / "data" / "token").read_text().strip()
        with DaemonClient(f"http://127.0.0.1:{port}", token, timeout=120) as client:
            report = client.request("GET", "/v1/engines").raise_for_error()
            ltx = next(e for e in report["engines"] if e["name"] == "ltx")
            assert ltx["usable"] and ltx["device"] == "cpu", ltx
            assert report["device"]["torch"] == str(torch.__version__) and report["device"]["threads"] >= 1
            assert next(m for m in report["models"] if m["name"] == "tiny-ltx")["usable"]
            job = client.submit(image_path=photo, settings={"duration": 1, "seed": 5})    # engine: auto
            done = wait_done(client, job["id"], timeout=120)
        assert done["status"] == "done" and done["engine"] == "ltx", done
    finally:
        daemon.send_signal(signal.SIGINT)
        out = daemon.communicate(timeout=60)[0]
    assert daemon.returncode == 0, out
    assert said.read_text() == ""        # neither torch nor diffusers in the daemon's process


def test_a_device_probe_that_dies_is_reported_as_a_cpu_saying_so(monkeypatch):
    """A torch that crashes on import (a broken CUDA install) now crashes the probe's process,
    not the daemon: the device is reported, with why."""
    import sys

    from stillmotion.engines import devices

    monkeypatch.setattr(devices, "_send_probe", sys.exit)     # (called with two arguments: exits with 1)
    facts = devices._probe_in_child("auto")
    assert facts["torch"] is None and facts["device"]["kind"] == "cpu"
    assert facts["device"]["name"] == "CPU (device probe failed: it exited with code 1)"


def test_a_loop_played_out_and_back_cycles_to_its_first_frame_after_colour_matching(home, tmp_path, capsys):
    """SVD has no first-last-frame model: its loop is played out and back. Matched whole, the way
    back was corrected with other neighbours than the way out, and the last frame missed the first
    by up to 17 levels (mean 2): a jump at every turn of the loop. Then the last frame was the
    first again: a one-frame hold at every turn."""
    tiny_config(home)
    photo = save_photo(tmp_path / "IMG_0013.jpg", skimage_photo("astronaut"), (96, 64))
    code = cli.main(["animate", str(photo), "--engine", "svd", "--model", str(tiny_model("svd")), "--loop",
                     "--duration", "1", "--fps", "12", "--format", "tiff"])
    out, err = capsys.readouterr()
    assert code == 0, err
    sequence = sorted(Path(next(p for p in out.split() if not p.endswith(".xmp"))).glob("*.tif"))
    frames = [np.asarray(Image.open(f), dtype=np.float32) for f in sequence]
    assert len(frames) == 12
    steps = [np.abs(b - a).mean() for a, b in zip(frames, frames[1:])]
    seam = np.abs(frames[0] - frames[-1]).mean()
    # Played on repeat, the last frame leads into the first as the first into the second: it was
    # the first frame again, the photo held for two frames at every seam.
    # (The seam mirrors the first step: equal to it up to the float rounding of the two decodes.)
    assert 0 < seam <= 1.01 * max(steps)
    assert np.abs(frames[-1] - frames[1]).mean() <= 0.1 * seam     # the way back mirrors the way out
    assert np.abs(frames[len(frames) // 2] - frames[0]).mean() > 0      # (and it does move)
