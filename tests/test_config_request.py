"""Configuration and request validation: clear errors, explicit values win, nothing clamped."""

from __future__ import annotations

import pytest

from stillmotion import config, profiles
from stillmotion.errors import ConfigError, InputError
from stillmotion.request import AnimateRequest


def test_defaults_load_and_every_key_is_commented():
    cfg = config.load(path=None, environ={})
    assert cfg["output"]["long_edge"] == 1920
    text = config.paths.default_config_file().read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(text):
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "[")) and "=" in stripped and not stripped.startswith(("]", "}")):
            # A key line: the line above is its comment (or another key's continuation of a table).
            assert text[i - 1].strip().startswith("#") or "=" in text[i - 1], f"uncommented key: {line}"


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
    with pytest.raises(ConfigError, match=r"config\.toml: '\[limits\] max_megapixels' must be above 0, got -1"):
        config.load(user, environ={})
    user.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"environment: '\[limits\] max_upload_mb' must be above 0"):
        config.load(user, environ={"STILLMOTION__LIMITS__MAX_UPLOAD_MB": "0"})
    assert config.load(user, environ={"STILLMOTION__LIMITS__MAX_UPLOAD_MB": "2"})["limits"]["max_upload_mb"] == 2


def test_broken_toml_is_a_config_error(tmp_path):
    user = tmp_path / "config.toml"
    user.write_text("[output\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(user, environ={})


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
