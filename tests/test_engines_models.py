"""The model registry as a user meets it: `--model`, `models list|pull`, `--engine auto`.

No test touches the network: sockets are refused, and a model that is not on
disk must fail at once with the exact `stillmotion models pull` command.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from stillmotion import cli, config as config_mod, engines
from stillmotion.engines import models
from stillmotion.errors import ConfigError, EngineUnavailable, InputError, JobError

from tiny_models import refuse_network


@pytest.fixture
def no_network(monkeypatch):
    """Refuse every connection and remember that one was tried."""
    return refuse_network(monkeypatch)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty STILLMOTION_HOME and an empty Hugging Face cache."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("STILLMOTION_HOME", str(home))
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    for key in [k for k in __import__("os").environ if k.startswith("STILLMOTION__")]:
        monkeypatch.delenv(key)
    engines._instances.clear()
    yield home
    engines._instances.clear()


def fake_model(folder: Path, cls: str = "StableVideoDiffusionPipeline", components=("unet", "vae")) -> Path:
    """A diffusers-shaped folder (model_index.json + component folders), no weights."""
    folder.mkdir(parents=True, exist_ok=True)
    index = {"_class_name": cls, "_diffusers_version": "0.42.0"}
    for name in components:
        index[name] = ["diffusers", "Whatever"]
        (folder / name).mkdir(exist_ok=True)
        (folder / name / "config.json").write_text("{}", encoding="utf-8")
    (folder / "model_index.json").write_text(json.dumps(index), encoding="utf-8")
    return folder


def test_builtin_registry_is_valid_and_every_engine_has_a_model(home):
    cfg = config_mod.load()
    reg = models.registry(cfg)
    assert {e.engine for e in reg.values()} == set(models.ENGINES)
    assert reg["svd-xt"].hf_id == "stabilityai/stable-video-diffusion-img2vid-xt"
    for engine in models.ENGINES:
        assert models.default_entry(engine, cfg) is not None


def test_missing_model_fails_at_once_with_the_pull_command(home, no_network):
    cfg = config_mod.load()
    started = time.monotonic()
    with pytest.raises(EngineUnavailable) as err:
        models.resolve("svd-xt", "svd", cfg)
    assert "stillmotion models pull svd-xt" in str(err.value)
    with pytest.raises(EngineUnavailable) as err:
        models.resolve(None, "ltx", cfg)             # the engine's preferred model
    assert "stillmotion models pull ltx-0.9.7-distilled" in str(err.value)
    with pytest.raises(EngineUnavailable) as err:
        models.resolve("someone/some-video-model", None, cfg)
    assert "stillmotion models pull someone/some-video-model" in str(err.value)
    assert time.monotonic() - started < 2.0 and no_network == []


def test_cli_animate_with_a_missing_model_prints_the_pull_command(home, no_network, photo_jpg, capsys):
    assert cli.main(["animate", str(photo_jpg), "--engine", "svd", "--model", "svd-xt"]) == 1
    err = capsys.readouterr().err
    assert "stillmotion models pull svd-xt" in err and len(err.strip().splitlines()) == 1
    assert not list(photo_jpg.parent.glob("*.motion*")) and no_network == []


def test_cli_animate_refuses_a_model_the_parallax_engine_cannot_use(home, no_network, photo_jpg, capsys):
    """`--engine parallax --model X` is refused as the daemon refuses it (400), not made with
    the model silently ignored and "requested explicitly with --model X" as the reason."""
    assert cli.main(["animate", str(photo_jpg), "--engine", "parallax", "--model", "svd"]) == 2
    err = capsys.readouterr().err
    assert "model svd is a svd model; use --engine svd (or auto) with it" in err
    assert cli.main(["animate", str(photo_jpg), "--engine", "parallax", "--model", "no-such-model"]) == 2
    assert "unknown model 'no-such-model'" in capsys.readouterr().err
    assert not list(photo_jpg.parent.glob("*.motion*")) and no_network == []


def test_an_engine_that_cannot_run_here_stops_the_batch_with_one_line(home, no_network, photo_jpg, capsys):
    """`animate *.jpg --engine svd` with no model: the same error once per photo, each photo
    decoded and analysed first; the machine will not change between photos."""
    photos = [str(photo_jpg)]
    for name in ("IMG_2.jpg", "IMG_3.jpg"):   # (one photo named thrice is animated once)
        photos.append(str(photo_jpg.with_name(name)))
        photo_jpg.with_name(name).write_bytes(photo_jpg.read_bytes())
    assert cli.main(["animate", *photos, "--engine", "svd"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stillmotion models pull svd-xt" in err[0] and err[0].endswith("(2 more photo(s) not tried)")
    assert not list(photo_jpg.parent.glob("*.motion*"))


def test_model_argument_forms(home, tmp_path):
    cfg = config_mod.load()
    with pytest.raises(InputError, match="unknown model 'nope'"):
        models.resolve("nope", "svd", cfg)
    folder = fake_model(tmp_path / "my-svd")
    found = models.resolve(str(folder), "svd", cfg)
    assert (found.engine, found.path, found.pipeline_class) == ("svd", folder, "StableVideoDiffusionPipeline")
    assert models.engine_for(str(folder), cfg) == "svd"
    with pytest.raises(InputError, match="is a svd model; use --engine svd"):
        models.resolve(str(folder), "ltx", cfg)
    with pytest.raises(InputError, match="text-to-video"):
        models.resolve(str(fake_model(tmp_path / "t2v", "CogVideoXPipeline", ("transformer",))), None, cfg)
    # Wan's text-to-video models share WanPipeline with the 2.2 TI2V-5B (told apart by expand_timesteps):
    # one loaded as image-to-video failed after loading, on a tensor shape, with no word of why.
    wan_t2v = fake_model(tmp_path / "Wan2.1-T2V-14B", "WanPipeline", ("transformer", "vae"))
    with pytest.raises(InputError, match="Wan2.1-T2V-14B is a text-to-video model"):
        models.resolve(str(wan_t2v), "wan", cfg)
    ti2v = fake_model(tmp_path / "Wan2.2-TI2V-5B", "WanPipeline", ("transformer", "vae"))
    index = json.loads((ti2v / "model_index.json").read_text(encoding="utf-8"))
    (ti2v / "model_index.json").write_text(json.dumps({**index, "expand_timesteps": True}), encoding="utf-8")
    assert models.resolve(str(ti2v), "wan", cfg).engine == "wan"
    broken = fake_model(tmp_path / "broken", components=("unet", "vae"))
    (broken / "vae" / "config.json").unlink()
    (broken / "vae").rmdir()
    with pytest.raises(InputError, match="incomplete: missing vae"):
        models.resolve(str(broken), None, cfg)
    with pytest.raises(InputError, match="not a diffusers model folder"):
        models.resolve(str(tmp_path), None, cfg)


def test_pulled_and_hf_cache_models_are_found_without_network(home, tmp_path, no_network):
    cfg = config_mod.load()
    # Pulled into the models folder: found only once the completion marker exists.
    pulled = fake_model(home / "models" / "svd-xt")
    assert models.local_path(models.registry(cfg)["svd-xt"], cfg) is None
    (pulled / models.COMPLETE_MARKER).write_text("{}", encoding="utf-8")
    assert models.resolve("svd-xt", "svd", cfg).path == pulled
    # That folder typed as --model is the registry's model still (its native size, fps and frames):
    # Wan 2.2 TI2V-5B's 24 fps and 1280x704 were lost to the engine's Wan 2.1 defaults (16 fps, 832x480).
    wan = fake_model(home / "models" / "wan2.2-ti2v-5b", "WanImageToVideoPipeline", ("transformer", "vae"))
    (wan / models.COMPLETE_MARKER).write_text("{}", encoding="utf-8")
    typed = models.resolve(str(wan), "wan", cfg)
    assert (typed.name, typed.hf_id, typed.options["fps"], typed.options["size"]) == (
        "wan2.2-ti2v-5b", "Wan-AI/Wan2.2-TI2V-5B-Diffusers", 24, [1280, 704])
    # Already in the Hugging Face cache (from other tools): used as is.
    repo = tmp_path / "hf-cache" / "models--Lightricks--LTX-Video-0.9.5"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123", encoding="utf-8")
    fake_model(repo / "snapshots" / "abc123", "LTXConditionPipeline", ("transformer", "vae"))
    found = models.resolve("ltx-0.9.5", "ltx", cfg)
    assert found.path == repo / "snapshots" / "abc123" and found.engine == "ltx"
    assert no_network == []


def test_user_registry_entry_adds_to_the_builtin_ones(home, tmp_path):
    folder = fake_model(tmp_path / "fine-tune")
    (home / "config.toml").write_text(
        f'[models.registry.my-svd]\nengine = "svd"\npath = "{folder}"\nframes = 14\n'
        '[models.registry.svd-xt]\nrank = 99\n', encoding="utf-8")
    cfg = config_mod.load()
    reg = models.registry(cfg)
    assert reg["my-svd"].path == str(folder) and "svd" in reg and reg["svd-xt"].rank == 99
    assert reg["svd-xt"].hf_id.endswith("img2vid-xt")          # the rest of the built-in entry stays
    resolved = models.resolve(str(folder), None, cfg)            # a folder finds its registry entry
    assert resolved.name == "my-svd" and resolved.options["frames"] == 14
    (home / "config.toml").write_text('[models.registry.bad]\nengine = "sora"\nhf_id = "x/y"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="engine must be one of"):
        models.registry(config_mod.load())


def test_a_mistyped_registry_field_is_refused_at_load_naming_the_file(home, capsys):
    """`rnak = 99` was kept and never read (the user's ranking silently ignored), `rank = "high"`
    waited for `--engine auto` to stop on int("high"), and a broken entry's error named no file:
    `serve` started on it and `doctor` stopped with it instead of showing its report."""
    user = home / "config.toml"
    for body, said in (
            ("[models.registry.svd-xt]\nrnak = 99\n", "models.registry.svd-xt: unknown key 'rnak' (known here: "),
            ('[models.registry.svd-xt]\nrank = "high"\n', "models.registry.svd-xt.rank must be a number, got 'high'"),
            ('[models.registry.mine]\nengin = "svd"\npath = "/m"\n', "models.registry.mine: unknown key 'engin'"),
            ("[models.registry.svd]\nsize = [1024]\n", "models.registry.svd.size must be [width, height]")):
        user.write_text(body, encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            config_mod.load()
        assert str(err.value).startswith(f"{user}: {said}"), str(err.value)
        assert cli.main(["doctor"]) == 2
        assert f"config: ERROR {user}: {said}" in capsys.readouterr().out


def test_models_list_says_installed_size_and_why(home, capsys):
    assert cli.main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) >= {"svd", "svd-xt", "ltx-0.9.5", "wan2.2-ti2v-5b", "cogvideox-5b-i2v"}
    row = by_name["svd-xt"]
    assert row["installed"] is False and row["usable"] is False and row["size_gb"] > 1
    assert "stillmotion models pull svd-xt" in row["why"]
    assert cli.main(["models", "list"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split()[:3] == ["NAME", "ENGINE", "INSTALLED"] and "svd-xt" in text
    assert cli.main(["models"]) == 0                      # bare `models`: the same list
    assert capsys.readouterr().out == text


def test_models_list_and_the_engine_agree_on_a_local_model_too_big_for_this_machine(home, tmp_path, monkeypatch,
                                                                                     capsys):
    """A registered local folder was sized from its weights by the engine's status (doctor,
    GET /v1/engines: 'needs about 82 GB RAM') but not by `models list`, which said 'yes' for it."""
    from stillmotion.engines import devices

    monkeypatch.setattr(devices, "detect", lambda preference="auto": devices.Device("cpu", "CPU", 16.0, 12.0, False))
    folder = fake_model(tmp_path / "my-svd")
    with open(folder / "unet" / "diffusion_pytorch_model.safetensors", "wb") as weights:
        weights.truncate(20 * 1024 ** 3)                  # sparse: 20 GB as stored, nothing written
    (home / "config.toml").write_text(f'[models.registry.my-svd]\nengine = "svd"\npath = "{folder}"\n',
                                      encoding="utf-8")
    assert cli.main(["models", "list", "--json"]) == 0
    row = {r["name"]: r for r in json.loads(capsys.readouterr().out)}["my-svd"]
    status = engines.get("svd", config_mod.load()).status()
    assert row["installed"] is True and row["usable"] is False and status.usable is False
    assert "needs about 42 GB RAM" in row["why"] and "needs about 42 GB RAM" in status.reason


def test_pull_downloads_then_marks_complete(home, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, revision, local_dir, allow_patterns, ignore_patterns):
        calls.append((repo_id, revision, allow_patterns))
        for component in ("unet", "vae"):
            fake_model(Path(local_dir))
            (Path(local_dir) / component / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"w")
        return str(local_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    cfg = config_mod.load()
    path = models.pull("svd-xt", cfg)
    assert Path(path) == home / "models" / "svd-xt" and (Path(path) / models.COMPLETE_MARKER).is_file()
    repo, revision, patterns = calls[0]
    assert (repo, revision) == ("stabilityai/stable-video-diffusion-img2vid-xt", "main")
    assert "*/*.fp16.safetensors" in patterns and "*/*.safetensors" not in patterns   # the fp16 variant only
    assert models.resolve("svd-xt", "svd", cfg).path == Path(path)
    assert models.pull("svd-xt", cfg) == path and len(calls) == 1                     # already there


def test_pull_never_marks_a_model_whose_weights_are_missing(home, monkeypatch, capsys):
    """Run again offline after a download cut off mid-file, huggingface_hub hands back the
    existing folder as it is ("Returning existing local_dir ... as remote repo cannot be
    accessed") when its own record of the revision is gone (another HF_HOME, a cleared cache):
    the folders were all there, so the model was marked installed without its UNet's weights."""
    import huggingface_hub

    def offline_returns_the_folder(repo_id, revision, local_dir, **kwargs):
        folder = fake_model(Path(local_dir))
        (folder / "vae" / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"w")
        return str(local_dir)                     # unet/ has its config.json, not its weights

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline_returns_the_folder)
    assert cli.main(["models", "pull", "svd"]) == 1
    err = capsys.readouterr().err
    assert "unet" in err and "stillmotion models pull svd" in err
    assert not (home / "models" / "svd" / models.COMPLETE_MARKER).exists()
    assert models.local_path(models.registry(config_mod.load())["svd"], config_mod.load()) is None

    def sharded(repo_id, revision, local_dir, **kwargs):   # one shard of two
        folder = fake_model(Path(local_dir), components=("unet",))
        (folder / "unet" / "diffusion_pytorch_model.fp16.safetensors.index.json").write_text(json.dumps(
            {"weight_map": {"a": "diffusion_pytorch_model-00001-of-00002.fp16.safetensors",
                            "b": "diffusion_pytorch_model-00002-of-00002.fp16.safetensors"}}), encoding="utf-8")
        (folder / "unet" / "diffusion_pytorch_model-00001-of-00002.fp16.safetensors").write_bytes(b"w")
        return str(local_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", sharded)
    with pytest.raises(JobError, match="diffusion_pytorch_model-00002-of-00002"):
        models.pull("svd-xt", config_mod.load())
    assert not (home / "models" / "svd-xt" / models.COMPLETE_MARKER).exists()


def test_interrupted_pull_is_not_installed_and_says_how_to_resume(home, monkeypatch, capsys):
    import huggingface_hub

    def dies(repo_id, revision, local_dir, **kwargs):
        (Path(local_dir) / "model_index.json").write_text("{}", encoding="utf-8")
        # (huggingface_hub's offline error is several lines; the CLI prints one)
        raise ConnectionError("connection reset\nAn error happened while trying to locate the files on the Hub.")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", dies)
    assert cli.main(["models", "pull", "cogvideox-5b-i2v"]) == 1
    err = capsys.readouterr().err
    assert "connection reset" in err and "stillmotion models pull cogvideox-5b-i2v" in err
    assert models.local_path(models.registry(config_mod.load())["cogvideox-5b-i2v"], config_mod.load()) is None
    assert (home / "models" / "cogvideox-5b-i2v" / "model_index.json").is_file()   # kept, to resume
    with pytest.raises(InputError, match="unknown model"):
        models.pull("not a model")


def test_auto_engine_choice_and_its_reason(home, tmp_path, no_network):
    cfg = config_mod.load()
    engine, why = engines.choose("auto", cfg)
    assert engine.name == "parallax" and "no generative model" in why
    status = {s.name: s for s in engines.statuses(cfg)}
    assert status["svd"].usable is False and "stillmotion models pull svd-xt" in status["svd"].reason
    folder = fake_model(tmp_path / "svd-folder")
    engine, why = engines.choose("auto", cfg, model=str(folder))
    assert engine.name == "svd" and "svd model" in why
    # An installed model on a CPU-only machine: auto keeps parallax unless told otherwise.
    (home / "config.toml").write_text(
        f'[engines]\ndevice = "cpu"\n[models.registry.local-svd]\nengine = "svd"\npath = "{folder}"\n',
        encoding="utf-8")
    engines._instances.clear()
    cfg = config_mod.load()
    assert engines.choose("auto", cfg)[0].name == "parallax"
    svd_status = next(s for s in engines.statuses(cfg) if s.name == "svd")
    assert svd_status.usable and svd_status.device == "cpu" and "local-svd" in svd_status.reason
    engines._instances.clear()
    on_cpu = config_mod.merge(cfg, {"engines": {"auto_on_cpu": True}}, "test")
    engine, why = engines.choose("auto", on_cpu)
    assert engine.name == "svd" and "local-svd" in why
    assert no_network == []


def test_device_setting_is_checked(home, tmp_path):
    folder = fake_model(tmp_path / "svd-folder")
    (home / "config.toml").write_text(
        f'[engines]\ndevice = "cuda"\n[models.registry.local-svd]\nengine = "svd"\npath = "{folder}"\n',
        encoding="utf-8")
    status = next(s for s in engines.statuses(config_mod.load()) if s.name == "svd")
    assert not status.usable and "no cuda device" in status.reason
    assert next(m for m in status.models if m["name"] == "local-svd")["installed"] is True
    assert next(m for m in status.models if m["name"] == "svd-xt")["installed"] is False
    engines._instances.clear()
    (home / "config.toml").write_text('[engines]\ndevice = "tpu"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="device must be one of auto, cuda, mps, cpu"):
        config_mod.load()                                      # at load, not when a job asks
    with pytest.raises(ConfigError, match="device must be one of auto, cuda, mps, cpu"):
        engines.get("svd", {"engines": {"device": "tpu"}}).device()


def test_pull_refuses_local_entries(home, tmp_path):
    (home / "config.toml").write_text(
        f'[models.registry.mine]\nengine = "svd"\npath = "{tmp_path}"\n', encoding="utf-8")
    with pytest.raises(InputError, match="local folder"):
        models.pull("mine", config_mod.load())


def test_pull_errors_are_job_errors_with_a_next_step(home, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError

    def gated(*args, **kwargs):
        raise GatedRepoError("401 gated", response=_Response())

    monkeypatch.setattr(huggingface_hub, "snapshot_download", gated)
    with pytest.raises(JobError, match="accept its licence at https://huggingface.co/stabilityai") as refused:
        models.pull("svd", config_mod.load())
    assert "HF_TOKEN" in str(refused.value)       # (a server with no browser to log in from)


def test_a_failed_pull_leaves_no_folder_it_made_for_nothing(home, monkeypatch):
    """A pull that failed before a byte came (gated, unknown revision, no network) left an
    empty models/<name>/ folder; one that fetched a model no engine drives left it all."""
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError

    def gated(repo_id, revision, local_dir, **kwargs):
        hf_cache = Path(local_dir) / ".cache" / "huggingface"   # what huggingface_hub makes first
        hf_cache.mkdir(parents=True)
        (hf_cache / ".gitignore").write_text("*")
        raise GatedRepoError("401 gated", response=_Response())

    monkeypatch.setattr(huggingface_hub, "snapshot_download", gated)
    with pytest.raises(JobError, match="gated"):
        models.pull("svd-xt", config_mod.load())
    assert not (home / "models").exists()            # models/ was made by this pull too
    (home / "models" / "other").mkdir(parents=True)
    with pytest.raises(JobError, match="gated"):
        models.pull("svd-xt", config_mod.load())
    assert [p.name for p in (home / "models").iterdir()] == ["other"]   # what was there stays

    def text_to_video(repo_id, revision, local_dir, **kwargs):
        return str(fake_model(Path(local_dir), cls="CogVideoXPipeline", components=("transformer",)))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", text_to_video)
    with pytest.raises(InputError, match="text-to-video"):
        models.pull("someone/text-video", config_mod.load())
    assert [p.name for p in (home / "models").iterdir()] == ["other"]


class _Response:
    status_code = 401
    headers: dict = {}
    url = "https://huggingface.co"
    request = None

    def json(self):
        return {}


def test_a_damaged_component_config_is_one_readable_error(home, tmp_path, capsys):
    """A model folder whose unet/config.json is cut short failed with a JSONDecodeError
    traceback (CLI) and an 'internal' job error (daemon) before anything loaded."""
    from support import save_photo, skimage_photo

    folder = fake_model(tmp_path / "my-svd")
    (folder / "unet" / "config.json").write_text('{"num_frames": 1', encoding="utf-8")
    photo = save_photo(tmp_path / "IMG_1.jpg", skimage_photo("astronaut"), (96, 64))
    code = cli.main(["animate", str(photo), "--engine", "svd", "--model", str(folder), "--duration", "1"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "my-svd is damaged: unet/config.json cannot be read" in err


def test_a_model_without_torch_is_one_line_and_not_usable(home, tmp_path, monkeypatch, capsys):
    """torch missing (a venv where it could not be installed, an install with --no-deps):
    `animate --model FOLDER` ended in a ModuleNotFoundError traceback, and the engine with an
    installed model was listed as usable on the CPU."""
    from support import save_photo, skimage_photo

    monkeypatch.setitem(sys.modules, "torch", None)       # `import torch` raises ImportError
    folder = fake_model(tmp_path / "my-svd")
    photo = save_photo(tmp_path / "IMG_1.jpg", skimage_photo("astronaut"), (96, 64))
    code = cli.main(["animate", str(photo), "--model", str(folder), "--duration", "1"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "torch is not installed" in err
    assert not list(tmp_path.glob("*.motion*"))
    (home / "config.toml").write_text(f'[models.registry.local-svd]\nengine = "svd"\npath = "{folder}"\n',
                                      encoding="utf-8")
    status = next(s for s in engines.statuses(config_mod.load()) if s.name == "svd")
    assert not status.usable and "torch is not installed" in status.reason


def test_a_models_folder_that_cannot_be_made_is_one_line(home, capsys):
    """[models] dir (or STILLMOTION_HOME) under a file, or on a read-only disk: `models pull`
    ended in a NotADirectoryError/OSError traceback from mkdir."""
    from stillmotion import cli

    (home / "not-a-folder").write_text("a file")
    (home / "config.toml").write_text(f'[models]\ndir = "{home / "not-a-folder"}"\n', encoding="utf-8")
    assert cli.main(["models", "pull", "svd"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"stillmotion: error: {home / 'not-a-folder' / 'svd'}: cannot make the model's folder (")
    assert line.endswith("); set [models] dir (or STILLMOTION_HOME) to a folder you can write")


@pytest.mark.parametrize("per_step,steps,said", [(0.3, 3, "under a minute more of denoising"),
                                                 (2.4, 26, "about 1 more minute of denoising"),
                                                 (30.0, 25, "about 12 more minutes of denoising")])
def test_a_slow_device_says_how_long_the_rest_of_the_denoising_takes_in_plain_words(per_step, steps, said,
                                                                                    monkeypatch, caplog):
    """It once said "about 0 more minutes" and "about 1 more minutes"."""
    from stillmotion.engines import diffusion
    from stillmotion.progress import CancelToken

    clock = iter([100.0, 100.0 + per_step])
    monkeypatch.setattr(diffusion.time, "monotonic", lambda: next(clock))
    reporter = diffusion._StepReporter(steps, lambda f: None, CancelToken(), "tiny-svd on the CPU")
    with caplog.at_level("WARNING"):
        reporter(None, 0, None, {})
    assert caplog.messages == [f"tiny-svd on the CPU: {per_step:.1f} s per denoising step, {said} for this clip"]


def test_looking_for_models_in_an_empty_cache_does_not_load_the_cache_reader(tmp_path):
    """`animate --engine auto`, `inspect` and the daemon's first job look for every registered
    model in the Hugging Face cache; for models with no folder there (most, on most machines)
    that imported huggingface_hub's downloader and an HTTP client stack, ~0.1 s a run, to
    answer "not there". The answer is the same; the folder is looked for first."""
    import subprocess
    import sys

    script = ("import json, sys\n"
              "from stillmotion import config, engines\n"
              "usable = [s.name for s in engines.statuses(config.load()) if s.usable]\n"
              "print(json.dumps([usable, 'huggingface_hub.file_download' in sys.modules]))\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("STILLMOTION", "HF_"))}
    env.update(STILLMOTION_HOME=str(tmp_path / "home"), HF_HUB_CACHE=str(tmp_path / "hf-cache"))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [["parallax"], False]


_PULL_UNDER_WAY = """
import sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import huggingface_hub
from stillmotion import cli

def downloading(repo_id, revision, local_dir, **kwargs):
    # huggingface_hub fetches in worker threads and, stopped, waits for the files under way
    with ThreadPoolExecutor(2) as pool:
        pool.submit(time.sleep, 60)
        Path(sys.argv[1]).touch()
        pool.submit(time.sleep, 60).result()

huggingface_hub.snapshot_download = downloading
sys.exit(cli.main(["models", "pull", "svd"]))
"""


@pytest.mark.skipif(__import__("sys").platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_a_pull_at_once(home, tmp_path, signame):
    """Ctrl-C on a pull over a slow line did nothing, silently, until every file under way had
    finished downloading (a 10 GB shard: an hour on hotel Wi-Fi); it now stops there and then,
    says so, and the model is not installed."""
    import os
    import signal
    import subprocess
    import sys

    started = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", _PULL_UNDER_WAY, str(started)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 30
    while not started.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    sent = time.monotonic()
    proc.send_signal(getattr(signal, signame))
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 10, err
    assert proc.returncode == (130 if signame == "SIGINT" else 128 + signal.SIGTERM), err
    last = err.strip().splitlines()[-1]
    assert last.startswith("stillmotion: interrupted" if signame == "SIGINT" else "stillmotion: stopped by SIGTERM")
    assert "stillmotion models pull svd" in last and out == ""
    assert not (home / "models" / "svd" / models.COMPLETE_MARKER).exists()


def test_pull_is_quiet_when_stderr_is_not_a_terminal(home, monkeypatch, capsys):
    """`stillmotion models pull svd 2>pull.log` (or under cron, or a script): huggingface_hub's
    file-count bar was drawn into the log anyway, with carriage returns, and its warnings and our
    last line ran on after it on the same line."""
    import huggingface_hub
    from huggingface_hub.utils import are_progress_bars_disabled, tqdm as hf_tqdm

    def downloading(repo_id, revision, local_dir, **kwargs):
        for _ in hf_tqdm(range(3), desc="Fetching 3 files"):   # what snapshot_download draws
            pass
        folder = fake_model(Path(local_dir))
        for component in ("unet", "vae"):
            (folder / component / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"w")
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", downloading)
    assert cli.main(["models", "pull", "svd"]) == 0
    captured = capsys.readouterr()
    assert "Fetching" not in captured.err and captured.out.strip() == str(home / "models" / "svd")
    assert not are_progress_bars_disabled()        # (put back: the process may go on)


def test_a_full_disk_says_so_and_where_not_to_run_again(home, monkeypatch, capsys):
    """The disk filling mid-download said "No space left on device; run ... again to go on",
    which only fills it again: it now names the folder, the model's size and what to do."""
    import errno
    import huggingface_hub

    def fills_the_disk(repo_id, revision, local_dir, **kwargs):
        (Path(local_dir) / "model_index.json").write_text("{}", encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fills_the_disk)
    assert cli.main(["models", "pull", "ltx-0.9.5"]) == 1
    err = capsys.readouterr().err
    assert "disk is full" in err and str(home / "models") in err and "28 GB" in err
    assert "[models] dir" in err and "stillmotion models pull ltx-0.9.5" in err
    assert not (home / "models" / "ltx-0.9.5" / models.COMPLETE_MARKER).exists()
