"""Configuration and request validation: clear errors, explicit values win, nothing clamped."""

from __future__ import annotations

import re

import pytest

from stillmotion import config, paths, profiles
from stillmotion.errors import ConfigError, InputError
from stillmotion.request import AnimateRequest


def test_defaults_load_and_every_key_is_commented():
    cfg = config.load(path=None, environ={})
    assert cfg["output"]["long_edge"] == 1920
    text = config.paths.default_config_file().read_text(encoding="utf-8").splitlines()
    # A model registry entry's fields are documented once, in the comment above [models.registry].
    registry_at = text.index("[models.registry]")
    doc_from = max(i for i in range(registry_at) if not text[i].startswith("#")) + 1
    registry_doc = "\n".join(text[doc_from:registry_at])
    table = ""
    for i, line in enumerate(text):
        stripped = line.strip()
        if stripped.startswith("["):
            table = stripped
        elif stripped and not stripped.startswith(("#", "]", "}")) and "=" in stripped:
            if table.startswith("[models.registry."):
                key = stripped.split("=")[0].strip()
                assert re.search(rf"\b{key}\b", registry_doc), f"registry field not documented: {line}"
            else:
                assert text[i - 1].strip().startswith("#"), f"uncommented key: {line}"


def test_user_file_overrides_and_env_overrides(tmp_path):
    user = tmp_path / "config.toml"
    user.write_text("[output]\nlong_edge = 1280\n", encoding="utf-8")
    cfg = config.load(user, environ={"STILLMOTION__OUTPUT__CRF": "23"})
    assert cfg["output"]["long_edge"] == 1280 and cfg["output"]["crf"] == 23
    assert cfg["output"]["preset"] == "medium"  # untouched default


def test_unknown_key_names_file_and_key(tmp_path):
    user = tmp_path / "config.toml"
    user.write_text("[output]\nlong_egde = 1280\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        config.load(user, environ={})
    assert str(user) in str(err.value) and "output.long_egde" in str(err.value)


def test_wrong_type_names_expected_type(tmp_path):
    user = tmp_path / "config.toml"
    user.write_text('[output]\nlong_edge = "big"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"output.long_edge' must be an integer, got a string"):
        config.load(user, environ={})


def test_limits_at_or_below_zero_name_the_setting(tmp_path):
    user = tmp_path / "config.toml"
    user.write_text("[limits]\nmax_megapixels = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.toml: \[limits\] max_megapixels must be above 0; got -1"):
        config.load(user, environ={})
    user.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^environment \(STILLMOTION__LIMITS__MAX_UPLOAD_MB\): "
                                          r"\[limits\] max_upload_mb must be above 0"):
        config.load(user, environ={"STILLMOTION__LIMITS__MAX_UPLOAD_MB": "0"})
    assert config.load(user, environ={"STILLMOTION__LIMITS__MAX_UPLOAD_MB": "2"})["limits"]["max_upload_mb"] == 2


def test_broken_toml_is_a_config_error(tmp_path):
    user = tmp_path / "config.toml"
    user.write_text("[output\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(user, environ={})


NOTEPAD_TEXT = '# réglages du studio\r\n[output]\r\nlong_edge = 640\r\n[animate]\r\nengine = "parallax"\r\n'


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-8"])
def test_a_config_saved_by_windows_notepad_is_read(tmp_path, encoding):
    """Notepad saves CRLF and, by choice, a byte-order mark (UTF-8 with BOM) or UTF-16
    ("Unicode"): the first was "not valid TOML: Invalid statement (at line 1, column 1)",
    the second a UnicodeDecodeError traceback."""
    user = tmp_path / "config.toml"
    user.write_bytes(NOTEPAD_TEXT.encode(encoding))
    cfg = config.load(user, environ={})
    assert cfg["output"]["long_edge"] == 640 and cfg["animate"]["engine"] == "parallax"


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16-le"])
def test_a_config_in_another_encoding_says_so_in_one_line(tmp_path, encoding):
    user = tmp_path / "config.toml"
    user.write_bytes(NOTEPAD_TEXT.encode(encoding))
    with pytest.raises(ConfigError) as err:
        config.load(user, environ={})
    assert str(err.value) == f"{user}: not UTF-8 text; save it as UTF-8 (in Notepad: Save as, Encoding UTF-8)"


def test_a_config_folder_that_cannot_be_searched_is_one_line(fast_config, monkeypatch):
    """A config folder copied from another account (mode 700, another owner): is_file() raised
    PermissionError as a traceback; now the file is tried and says why it cannot be read."""
    import pathlib

    def refused(real):
        def method(self, *args, **kwargs):
            if self == fast_config:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *args, **kwargs)
        return method

    monkeypatch.setattr(pathlib.Path, "stat", refused(pathlib.Path.stat))
    monkeypatch.setattr(pathlib.Path, "read_bytes", refused(pathlib.Path.read_bytes))
    with pytest.raises(ConfigError) as err:
        config.load(environ={})
    assert str(err.value) == f"{fast_config}: cannot read: Permission denied"


def test_user_file_in_stillmotion_home_is_used(fast_config):
    assert config.load(environ={})["output"]["long_edge"] == 320


@pytest.mark.parametrize("field,value,message", [
    ("motion", 1.2, "motion must be between"),
    ("style_consistency", -0.1, "style_consistency must be between"),
    ("duration", 0.1, "duration must be between"),
    ("fps", 0, "fps must be between"),
    ("variants", 40, "variants must be between"),
    ("camera", "zoom", "camera must be one of"),
    ("profile", "wedding", "profile must be one of"),
    ("seed", -1, "seed must be between"),
    ("motion", "lots", "motion must be a number"),
    ("loop", "perhaps", "loop must be true or false"),
    ("colour", 1, "unknown setting 'colour'"),
    ("prompt", "x" * 2001, "prompt is longer than 2000 characters"),
    # (the negative prompt had no limit: a megabyte of it went into the job store and every XMP)
    ("negative_prompt", "x" * 2001, "negative_prompt is longer than 2000 characters"),
])
def test_bad_request_fields_rejected_not_clamped(field, value, message):
    with pytest.raises(InputError, match=message):
        AnimateRequest.from_dict({field: value})


def test_a_codec_for_a_format_it_does_not_apply_to_is_refused_not_ignored():
    with pytest.raises(InputError, match="codec hevc is for mp4 clips, not gif"):
        AnimateRequest.from_dict({"format": "gif", "codec": "hevc"})
    AnimateRequest.from_dict({"format": "mp4", "codec": "hevc"})
    AnimateRequest.from_dict({"format": "mov"})                       # the default codec: nothing asked
    unset = AnimateRequest.from_dict({"codec": "hevc"})               # format from the config, later
    with pytest.raises(InputError, match="not mov"):
        unset.resolve("portrait", {"format": "mov"})
    assert unset.resolve("portrait", {"format": "mp4"}).codec == "hevc"


def test_web_formats_refuse_rates_browsers_would_slow_down():
    """A 60 fps GIF/WebP would play at 1/6 speed in a browser (frames under 20 ms become 100 ms)."""
    with pytest.raises(InputError, match=r"gif clips play at most 50 frames per second.*got fps 60"):
        AnimateRequest.from_dict({"format": "gif", "fps": 60})
    with pytest.raises(InputError, match=r"webp clips play at most 50"):
        AnimateRequest.from_dict({"format": "webp", "fps": 59.94})
    AnimateRequest.from_dict({"format": "webp", "fps": 50})
    AnimateRequest.from_dict({"format": "mp4", "fps": 120})
    with pytest.raises(InputError, match="gif clips play at most 50"):          # format and rate from the config
        AnimateRequest.from_dict({}).resolve("portrait", {"format": "gif", "fps": 60})


def test_profile_defaults_and_explicit_values_win():
    req = AnimateRequest.from_dict({"motion": 0.9}).resolve("portrait", {"fps": 24})
    portrait = profiles.get("portrait")
    assert req.motion == 0.9                          # explicit wins
    assert req.duration == portrait.duration          # profile default
    assert 2.0 <= req.duration <= 3.0
    assert req.camera == portrait.camera and req.fps == 24
    assert req.n_frames == round(req.duration * 24)


def test_motion_and_style_a_user_sets_in_the_config_hold_for_every_profile(tmp_path, photo_jpg, fast_config):
    """default.toml's [animate] motion and style_consistency were never used (every profile has
    its own); set by the user, they hold for every clip whose request leaves them open."""
    import pickle

    from stillmotion.jobs.pipeline import JobSpec, run_job

    plain = config.load(fast_config)
    assert config.user_values(plain, "animate") == {}
    with open(fast_config, "a", encoding="utf-8") as fh:   # a user file begun as a copy of default.toml
        fh.write("[animate]\nmotion = 0.6\nstyle_consistency = 0.8\n")
    assert config.user_values(config.load(fast_config), "animate") == {}
    fast_config.write_text(fast_config.read_text(encoding="utf-8").replace(
        "[animate]\nmotion = 0.6\nstyle_consistency = 0.8\n", ""), encoding="utf-8")
    with open(fast_config, "a", encoding="utf-8") as fh:
        fh.write("[animate]\nmotion = 0.25\nstyle_consistency = 0.5\n")
    mine = config.load(fast_config)
    preferred = config.user_values(mine, "animate")
    assert preferred == {"motion": 0.25, "style_consistency": 0.5}
    assert config.user_values(pickle.loads(pickle.dumps(mine)), "animate") == preferred   # to a render process
    for name in ("portrait", "action"):
        req = AnimateRequest.from_dict({}).resolve(name, mine["animate"], preferred=preferred)
        assert (req.motion, req.style_consistency) == (0.25, 0.5)
        assert AnimateRequest.from_dict({"motion": 0.9}).resolve(name, mine["animate"], preferred=preferred).motion == 0.9
        default = AnimateRequest.from_dict({}).resolve(name, plain["animate"], preferred={})
        assert default.motion == profiles.get(name).motion
    result = run_job(JobSpec(photo_path=photo_jpg, request=AnimateRequest.from_dict(
        {"engine": "parallax", "profile": "action", "duration": 0.5, "fps": 8})), mine)
    assert (result.info["request"]["motion"], result.info["request"]["style_consistency"]) == (0.25, 0.5)


def test_profile_rule_of_thumb_durations_and_generic_defaults():
    ranges = {"portrait": (2, 3), "action": (3, 5), "environmental": (4, 8), "still-life": (1, 2)}
    for name, (lo, hi) in ranges.items():
        assert lo <= profiles.get(name).duration <= hi
    assert profiles.get("still-life").motion < profiles.get("portrait").motion < profiles.get("action").motion
    generic = AnimateRequest().resolve("generic", {})
    assert generic.motion == 0.6 and generic.style_consistency == 0.8 and generic.camera == "none"


def test_seeds_are_successive_and_recorded():
    req = AnimateRequest.from_dict({"seed": 10, "variants": 3}).resolve("generic", {})
    assert req.seeds() == [10, 11, 12]
    assert AnimateRequest().resolve("generic", {}).seed is not None


def test_job_progress_counts_streamed_stages_side_by_side_and_shows_them_in_order():
    from stillmotion.progress import STAGES, JobProgress

    seen: list[tuple[str, float]] = []
    progress = JobProgress(lambda stage, overall, eta: seen.append((stage, overall)), min_interval=0.0)
    progress("prepare", 1.0)
    for i in range(1, 11):          # frames rendered, coloured, finished and encoded together
        f = i / 10
        for name in ("generate", "colour", "finish", "encode"):
            progress(name, f)
        if i == 5:
            # Half the frames done = about half the job, not 80 % (no stage counted done early).
            assert abs(progress.overall - (STAGES["prepare"] + 0.5 * (1 - STAGES["prepare"] - STAGES["place"]))) < 1e-6
    progress("place", 1.0)
    overall = [o for _, o in seen]
    assert overall == sorted(overall) and overall[-1] == 1.0
    order = list(STAGES)
    shown = [order.index(s) for s, _ in seen]
    assert shown == sorted(shown)


def test_job_progress_shows_each_variants_stages_not_place_for_the_rest_of_the_job():
    """variants = 3: the pipeline reports each variant's stages scaled into its third of the
    job; once the first clip is placed, the second's rendering shows as generate, colour, ...
    again (it showed "place" for two thirds of the job)."""
    from stillmotion.progress import JobProgress

    seen: list[str] = []
    progress = JobProgress(lambda stage, overall, eta: seen.append(stage), min_interval=0.0)
    progress("prepare", 1.0)
    variants = 3
    for v in range(variants):
        def stage(name: str, frac: float) -> None:      # as run_job reports a variant
            progress(name, (v + frac) / variants)
        for i in range(1, 5):
            stage("generate", i / 4)
        for i in range(1, 5):
            for name in ("colour", "finish", "encode"):
                stage(name, i / 4)
        stage("place", 1.0)
    runs = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]   # each change of stage shown
    rendering = ["generate", "colour", "finish", "encode", "place"]
    assert runs == ["prepare"] + rendering * variants, runs
    assert progress.overall == 1.0


def test_job_progress_eta_follows_the_frames_pace_not_the_time_spent_preparing(monkeypatch):
    """A 60 MP photo took 5 s to prepare (5 % of the job) and 6 s for the rest: the first ETA
    said 92 s, and it was 3 to 4 times too long until the end."""
    from stillmotion import progress as progress_mod

    clock = [100.0]
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: clock[0])
    etas: list[float | None] = []
    progress = progress_mod.JobProgress(lambda stage, overall, eta: etas.append(eta), min_interval=0.0)
    progress("prepare", 0.0)
    clock[0] += 5.0                      # decoding the photo
    progress("prepare", 1.0)
    assert etas[-1] is None              # no pace known yet
    for i in range(11):                  # the frames: 6 s in all
        for name in ("generate", "colour", "finish", "encode"):
            progress(name, i / 10)
        if i == 5:
            assert 2.5 < etas[-1] < 4.0      # half the frames in 3 s: about 3 s to go (it said 8)
        clock[0] += 0.6


def test_job_progress_eta_leaves_out_the_setup_before_the_first_frame(monkeypatch):
    """A big GIF's first ETA was 125 s for 32 s of work (at 7 %): the depth estimate and colour
    fit before the first frame (a one-off, like preparing) were counted into the frames' pace."""
    from stillmotion import progress as progress_mod

    clock = [100.0]
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: clock[0])
    etas: list[float | None] = []
    progress = progress_mod.JobProgress(lambda stage, overall, eta: etas.append(eta), min_interval=0.0)
    progress("prepare", 1.0)
    progress("generate", 0.0)            # the engine starts: depth, colour fit
    clock[0] += 8.0
    for i in range(1, 21):               # then 20 frames, 1 s each
        for name in ("generate", "colour", "finish", "encode"):
            progress(name, i / 20)
        if i == 4:
            assert 14.0 < etas[-1] < 18.5    # 16 frames to go, 1 s each (it said 42)
        clock[0] += 1.0


# ---- values checked at load: [section] key, what it accepts, where the value came from ----------
BAD_VALUES = [
    # (section, key, TOML value, what the message must say it accepts)
    ("animate", "format", '"avi"', "one of mp4, mov, gif, webp, tiff; got 'avi'"),
    ("animate", "fps", "500", "between 1 and 120"),
    ("animate", "fps", "0.5", "between 1 and 120"),
    ("animate", "style_consistency", "5", "between 0.0 and 1.0"),
    ("animate", "motion", "-0.1", "between 0.0 and 1.0"),
    ("animate", "engine", '"sora"', "one of auto, parallax, svd, ltx, wan, cogvideox"),
    ("animate", "profile", '"wedding"', "one of auto, portrait"),
    ("output", "preset", '"bogus"', "one of ultrafast, superfast, veryfast, faster, fast, medium, slow, "
                                    "slower, veryslow, placebo; got 'bogus'"),
    ("output", "crf", "99", "between 1 and 51; got 99"),
    ("output", "crf", "0", "between 1 and 51; got 0"),   # lossless H.264: Apple players refuse it
    ("output", "long_edge", "0", "between 64 and 16384; got 0"),
    ("output", "web_long_edge", "-5", "between 64 and 16384"),
    ("colour", "lut_size", "3", "between 5 and 65"),
    ("finish", "interpolation", '"magic"', "one of motion, blend"),
    ("finish", "threads", "0", "between 1 and 64"),
    ("jobs", "per_device", "0", "between 1 and 64"),
    ("jobs", "render_nice", "-5", "between 0 and 19"),
    ("jobs", "retention_days", "-1", "between 0 and 36500"),
    ("jobs", "isolation", '"fork"', "one of process, thread"),
    ("engines", "device", '"tpu"', "one of auto, cuda, mps, cpu"),
    ("engines", "offload", '"disk"', "one of auto, none, model, group, sequential"),
    ("engines", "steps", "-1", "between 0 and 500"),
    ("engines", "idle_unload_seconds", "-1", "between 0 and"),
    ("watch", "rescan_seconds", "-1", "between 0 and 86400"),
    ("limits", "max_megapixels", "0", "above 0"),
]


@pytest.mark.parametrize("section,key,value,accepts", BAD_VALUES)
def test_a_bad_value_names_key_range_and_environment_variable(tmp_path, monkeypatch, section, key, value, accepts):
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    variable = f"STILLMOTION__{section.upper()}__{key.upper()}"
    with pytest.raises(ConfigError) as err:
        config.load(environ={variable: value})
    message = str(err.value)
    assert message.startswith(f"environment ({variable}): [{section}] {key} must be "), message
    assert accepts in message and "\n" not in message


@pytest.mark.parametrize("section,key,value,accepts", BAD_VALUES[:12])
def test_a_bad_value_in_a_file_names_the_file(tmp_path, section, key, value, accepts):
    user = tmp_path / "mine.toml"
    user.write_text(f"[{section}]\n{key} = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        config.load(user, environ={})
    assert str(err.value).startswith(f"{user}: [{section}] {key} must be "), str(err.value)
    assert accepts in str(err.value)


def test_the_source_named_is_the_one_that_set_the_bad_value(tmp_path):
    user = tmp_path / "config.toml"
    user.write_text("[output]\ncrf = 99\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{tmp_path}/config\.toml: \[output\] crf"):
        config.load(user, environ={"STILLMOTION__OUTPUT__PRESET": '"fast"'})   # a good value from env
    # The environment overrides the file's bad value with a good one: nothing to complain about.
    assert config.load(user, environ={"STILLMOTION__OUTPUT__CRF": "23"})["output"]["crf"] == 23
    user.write_text('[animate]\nformat = "gif"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^environment \(STILLMOTION__ANIMATE__FPS\): \[animate\] fps and format: "
                                          r"gif clips play at most 50 frames per second"):
        config.load(user, environ={"STILLMOTION__ANIMATE__FPS": "60"})


def test_type_errors_from_the_environment_name_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match=r"^environment \(STILLMOTION__OUTPUT__CRF\): 'output.crf' must be an integer"):
        config.load(environ={"STILLMOTION__OUTPUT__CRF": "high"})
    with pytest.raises(ConfigError, match=r"'server.allowed_hosts' must be an array of strings, got \[1\]"):
        config.load(environ={"STILLMOTION__SERVER__ALLOWED_HOSTS": "[1]"})
    with pytest.raises(ConfigError, match=r"'output.allowed_dirs' must be an array of strings"):
        config.load(environ={"STILLMOTION__OUTPUT__ALLOWED_DIRS": '["/a", 2]'})


def test_limits_are_the_requests_and_the_encoders(tmp_path, monkeypatch):
    """The edges of each range are accepted: the same limits as --fps, --motion, --style."""
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    good = {"ANIMATE__FPS": "120", "ANIMATE__MOTION": "0", "ANIMATE__STYLE_CONSISTENCY": "1",
            "ANIMATE__FORMAT": '"tiff"', "OUTPUT__CRF": "51", "OUTPUT__PRESET": '"placebo"',
            "OUTPUT__LONG_EDGE": "64", "JOBS__RENDER_NICE": "0", "ENGINES__STEPS": "0"}
    cfg = config.load(environ={f"STILLMOTION__{k}": v for k, v in good.items()})
    assert cfg["animate"]["fps"] == 120.0 and cfg["output"]["preset"] == "placebo"
    with pytest.raises(InputError, match="fps must be between 1 and 120"):      # the request says the same
        AnimateRequest.from_dict({"fps": 121})
    with pytest.raises(ConfigError, match=r"\[animate\] fps must be between 1 and 120"):
        config.load(environ={"STILLMOTION__ANIMATE__FPS": "121"})


def test_default_toml_itself_passes_its_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))    # no user file
    cfg = config.load(environ={})
    assert cfg.sources == [str(config.paths.default_config_file())]
    config.check(cfg)


# Keys whose every value of the right type is usable (booleans are all such), or that are
# checked where they are used: [[watch.folders]] by `serve`, `watch` and `doctor`, the model
# registry by engines.models.
UNCHECKED = {("server", "host"), ("models", "dir"), ("watch", "folders"),
             ("watch", "output"), ("output", "allowed_dirs"), ("server", "allowed_hosts"),
             ("server", "allowed_origins")}


def test_every_number_and_name_in_default_toml_is_checked(tmp_path, monkeypatch):
    """A new key in default.toml needs its owner's check (or a place in UNCHECKED): a value
    far out of range, or a name no setting has, is refused at load."""
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    cfg = config.load(environ={})
    for section, table in cfg.items():
        for key, default in table.items():
            if (section, key) in UNCHECKED or isinstance(default, (bool, dict)):
                continue
            if isinstance(default, list):
                bad = "[]"        # (watch.patterns: at least one)
            elif isinstance(default, str):
                bad = '"no-such-value"'
            else:
                bad = "-1000000"
            variable = f"STILLMOTION__{section.upper()}__{key.upper()}"
            with pytest.raises(ConfigError) as err:
                config.load(environ={variable: bad})
            assert str(err.value).startswith(f"environment ({variable}): [{section}]"), str(err.value)
            assert key in str(err.value)


HEAVY_MODULES = ("torch", "diffusers", "cv2", "av", "scipy", "numpy", "PIL")

# A user file that sets something in every section of default.toml (each one's owner checks it at load).
EVERY_SECTION = """\
[animate]
fps = 25.0
[output]
long_edge = 1600
crf = 20
preset = "slow"
[finish]
detail = 0.8
[colour]
lut_size = 21
[look]
grain = false
[limits]
max_megapixels = 150
[metadata]
carry_gps = false
[watch]
settle_seconds = 3.0
[[watch.folders]]
path = "/photos/hot"
[server]
port = 9100
[jobs]
per_device = 2
[engines]
steps = 20
[models]
dir = "/srv/models"
"""


def test_reading_the_config_and_simple_commands_import_no_heavy_module(tmp_path):
    """`config.load` imported every section's owner to check it (the colour matcher, the encoder,
    the pipeline: OpenCV, PyAV, SciPy), ~0.5 s before any command or `DaemonClient.local()` could
    start. Then only the owners of sections the user set were imported, and a config.toml with
    [output], [colour], [finish], [jobs] or [engines] still paid for them all; now each owner's
    check lives in a light module beside it (video/settings.py, colour/settings.py, ...), and a
    config that sets every section imports none of those modules, nor NumPy or Pillow."""
    import json
    import os
    import subprocess
    import sys

    assert {line.strip("[]").split(".")[0] for line in EVERY_SECTION.splitlines() if line.startswith("[")} >= set(
        config.read_toml(paths.default_config_file())), "EVERY_SECTION misses a section of default.toml"
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(EVERY_SECTION, encoding="utf-8")
    script = (
        "import contextlib, io, json, sys\n"
        "from stillmotion import cli, config\n"
        "from stillmotion.api.client import DaemonClient\n"
        "for argv in (['--version'], ['--help'], ['serve', '--help'], ['doctor', '--help'], ['watch', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        cli.main(argv)\n"
        "cfg = config.load()\n"
        "assert cfg['server']['port'] == 9100 and DaemonClient.local().port == 9100\n"
        "assert cfg['colour']['lut_size'] == 21 and cfg['jobs']['per_device'] == 2\n"
        f"print(json.dumps([m for m in {HEAVY_MODULES!r} if m in sys.modules]))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STILLMOTION")}
    env["STILLMOTION_HOME"] = str(home)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_a_bad_value_is_still_refused_at_load_in_every_section_the_user_sets(tmp_path):
    for section, line in (("colour", "lut_size = 999"), ("output", "crf = 99"), ("finish", "detail = -1.0"),
                          ("jobs", "per_device = 0"), ("engines", "steps = -3"), ("watch", "rescan_seconds = -1.0")):
        user = tmp_path / f"{section}.toml"
        user.write_text(f"[{section}]\n{line}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=rf"{section}.toml: \[{section}\] {line.split()[0]}"):
            config.load(user, environ={})


def test_a_port_out_of_range_or_an_origin_without_its_scheme_is_refused_naming_the_file(tmp_path, monkeypatch):
    """[server] port = 99999 passed `doctor` (exit 0) and `serve` refused it without naming the
    file; allowed_origins = ["localhost:3000"] was taken and never matched the page's Origin
    ("http://localhost:3000"), which was then refused as not allowed."""
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    user = tmp_path / "config.toml"
    user.write_text("[server]\nport = 99999\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(user))}: \[server\] port must be between 1 and 65535; "
                                          "got 99999$"):
        config.load(environ={})
    user.write_text('[server]\nallowed_origins = ["localhost:3000"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(user))}: \[server\] allowed_origins: 'localhost:3000' "
                                          "is not an origin"):
        config.load(environ={})
    origins = ["http://localhost:3000/", "https://studio.lan:8443"]
    user.write_text(f"[server]\nallowed_origins = {origins!r}\n".replace("'", '"'), encoding="utf-8")
    assert config.load(environ={})["server"]["allowed_origins"] == origins


def test_a_windows_path_in_double_quotes_says_how_to_write_it(tmp_path, monkeypatch):
    """TOML reads backslashes in "..." as escapes: "C:\\Users\\me" was 'Invalid hex value (at line
    1, column 19)' with no word of why, and "D:\\new" was taken as D:<line break>ew, a folder the
    user never named (an allowed_dirs entry that never matched, a watch folder never found)."""
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    user = tmp_path / "config.toml"
    hint = "in \"double quotes\" a backslash starts an escape"
    user.write_text('[output]\nallowed_dirs = ["C:\\Users\\me\\Videos"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(user))}: not valid TOML: .*line 2.*; {hint}"):
        config.load(environ={})
    user.write_text('[output]\nallowed_dirs = ["D:/ok", "D:\\new"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(user))}: 'output.allowed_dirs' holds a tab or line "
                                          rf"break \('D:\\new'\); {hint}"):
        config.load(environ={})
    user.write_text('[[watch.folders]]\npath = "E:\\temp"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'watch.folders.path' holds a tab or line break"):
        config.load(environ={})
    user.write_text("[output]\nallowed_dirs = ['D:\\new', \"D:/Delivery\"]\n[models]\ndir = 'D:\\Models'\n",
                    encoding="utf-8")
    cfg = config.load(environ={})
    assert cfg["output"]["allowed_dirs"] == ["D:\\new", "D:/Delivery"] and cfg["models"]["dir"] == "D:\\Models"


def test_an_environment_variable_with_one_underscore_is_refused_not_ignored(tmp_path, monkeypatch):
    """STILLMOTION__SERVER_PORT=9000 (one underscore where two belong) was silently ignored: the
    daemon came up on 8765 and nothing said why."""
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match=r"^environment \(STILLMOTION__SERVER_PORT\): not a setting: .*"
                                          r"STILLMOTION__SERVER__PORT"):
        config.load(environ={"STILLMOTION__SERVER_PORT": "9000"})
    assert config.load(environ={"STILLMOTION__SERVER__PORT": "9000"})["server"]["port"] == 9000


def test_a_key_or_table_written_twice_names_the_line(tmp_path, monkeypatch):
    """A key set twice at the end of a file without a final line break was 'Cannot overwrite a
    value (at end of document)': neither the key nor where; a table twice was "Cannot declare
    ('animate',) twice"."""
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    user = tmp_path / "config.toml"
    user.write_text("[output]\ncrf = 18\ncrf = 20", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        config.load(environ={})
    assert str(err.value) == (f"{user}: not valid TOML: a key set a second time (each key once in its table), "
                              "at line 3: crf = 20")
    user.write_text("[animate]\nfps = 25.0\n\n[animate]\nmotion = 0.3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        config.load(environ={})
    assert str(err.value) == (f"{user}: not valid TOML: table [animate] declared twice (put its keys under one "
                              "heading), at line 4: [animate]")


def test_a_watch_folder_written_with_single_brackets_says_to_double_them(tmp_path, monkeypatch):
    """[watch.folders] (one pair of brackets) said only "'watch.folders' must be an array, got a table"."""
    monkeypatch.setenv("STILLMOTION_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text('[watch.folders]\npath = "/photos/hot"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'watch.folders' must be an array, got a table .*; a list of tables is "
                                          r"written \[\[watch.folders\]\], with double brackets$"):
        config.load(environ={})
