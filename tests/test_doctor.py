"""`stillmotion doctor` tells what this machine can do."""

from __future__ import annotations

import json

from stillmotion import cli


def test_doctor_reports_device_codecs_engines_models_and_folders(fast_config, capsys):
    assert cli.main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["device"]["kind"] in ("cpu", "cuda", "mps")
    assert data["codecs"]["libx264"] is True
    assert data["photo_formats"] == {"HEIF": True, "JPEG": True, "PNG": True, "TIFF": True, "WEBP": True}
    parallax = next(e for e in data["engines"] if e["name"] == "parallax")
    assert parallax["usable"] is True
    assert {m["name"] for m in data["models"]} >= {"svd-xt"}
    assert data["config"]["ok"] and str(fast_config) in data["config"]["sources"]
    assert data["folders"]["data"].startswith(str(fast_config.parent))


def test_doctor_shows_a_broken_config_instead_of_failing(fast_config, capsys):
    """The whole report still comes; the status says it is broken (a health check passed on it)."""
    fast_config.write_text("[output]\nlong_edge = 'x'\n", encoding="utf-8")
    assert cli.main(["doctor"]) == 2
    out = capsys.readouterr().out
    assert "config: ERROR" in out and "output.long_edge" in out and "codecs" in out
    assert cli.main(["doctor", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["config"]["ok"] is False


def test_doctor_shows_a_broken_watch_folder_that_serve_would_refuse(fast_config, capsys):
    """docs/daemon.md: doctor before `serve` (ExecStartPre) exits 2 on a config the daemon
    refuses. A typo in a [[watch.folders]] table passed (exit 0), and `serve` then refused it."""
    fast_config.write_text(fast_config.read_text(encoding="utf-8")
                           + '\n[[watch.folders]]\npath = "/photos/hot"\nrecursve = true\n', encoding="utf-8")
    assert cli.main(["doctor"]) == 2
    out = capsys.readouterr().out
    assert (f"config: ERROR {fast_config}: [[watch.folders]] #1 (/photos/hot): unknown key 'recursve'") in out
    assert "codecs" in out


def test_doctor_shows_the_models_folder_the_config_names(fast_config, capsys, tmp_path):
    """[models] dir = "..." moved the models (`models pull` downloads there, engines look there),
    but doctor went on showing the default folder."""
    fast_config.write_text(fast_config.read_text(encoding="utf-8") + f'\n[models]\ndir = "{tmp_path / "weights"}"\n',
                           encoding="utf-8")
    assert cli.main(["doctor"]) == 0
    assert f"models folder: {tmp_path / 'weights'}" in capsys.readouterr().out.splitlines()


def test_doctor_checks_the_file_serve_is_given(fast_config, capsys, tmp_path):
    """`serve --config /etc/stillmotion.toml` with doctor before it (docs/daemon.md's
    ExecStartPre=): doctor had no --config and checked another file, passing a broken one."""
    service = tmp_path / "service.toml"
    service.write_text("[server]\nport = 70000\n", encoding="utf-8")
    assert cli.main(["doctor"]) == 0
    capsys.readouterr()
    assert cli.main(["doctor", "--config", str(service)]) == 2
    assert f"config: ERROR {service}: [server] port must be between 1 and 65535; got 70000" in capsys.readouterr().out


def test_doctor_says_a_config_saved_under_another_name_is_not_read(fast_config, capsys):
    """Notepad saves "config.toml" as config.toml.txt (the extension hidden): its settings did
    nothing, and doctor showed only default.toml as the config, with no word of why."""
    saved = fast_config.with_name("config.toml.txt")
    fast_config.rename(saved)
    assert cli.main(["doctor"]) == 0
    assert (f"config: NOTE {saved} is not read: settings are read from config.toml in that folder (rename it; "
            "Windows may have added .txt)") in capsys.readouterr().out.splitlines()
    saved.rename(fast_config)
    assert cli.main(["doctor"]) == 0
    assert "NOTE" not in capsys.readouterr().out


def test_a_relative_stillmotion_home_is_taken_from_the_working_folder(fast_config, capsys, monkeypatch, tmp_path):
    """`STILLMOTION_HOME=sm-home stillmotion install-plugin` recorded "sm-home/data" as the
    daemon's data folder: the plug-in, which runs in Lightroom's own folder, never found the token."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STILLMOTION_HOME", "sm-home")
    assert cli.main(["doctor", "--json"]) == 0
    folders = json.loads(capsys.readouterr().out)["folders"]
    assert folders["data"] == str(tmp_path / "sm-home" / "data")
    assert cli.main(["install-plugin", "--dest", str(tmp_path / "Modules")]) == 0
    record = json.loads((tmp_path / "Modules" / "stillmotion.lrplugin" / "stillmotion-install.json").read_text())
    assert record["data_dir"] == str(tmp_path / "sm-home" / "data")


def test_the_device_report_names_the_diffusers_version_without_importing_it():
    """Importing diffusers to read its version took ~2 s on top of torch's (it loads
    torch._dynamo): `stillmotion doctor` took 4 s where 2 do, and the daemon's first
    /v1/engines held its event loop longer. The version comes from the installed metadata."""
    import subprocess
    import sys
    from importlib import metadata

    script = ("import json, sys\n"
              "sys.modules['torch'] = None   # (no torch: this test is about diffusers alone)\n"
              "from stillmotion.engines import devices\n"
              "report = devices.device_report()\n"
              "print(json.dumps([report['diffusers'], 'diffusers' in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [metadata.version("diffusers"), False]


def test_doctor_says_where_your_own_settings_go_before_there_are_any(fast_config, capsys):
    """A fresh install: doctor's only config line named the packaged default.toml, so the
    README's "put overrides in config.toml in the config folder (doctor shows where)" left a
    newcomer editing default.toml (replaced on every upgrade) or guessing the file's name."""
    fast_config.unlink()
    assert cli.main(["doctor"]) == 0
    assert (f"config: your settings go in {fast_config} (not made yet; default.toml lists every "
            "setting)") in capsys.readouterr().out.splitlines()
    fast_config.write_text("[output]\nlong_edge = 320\n", encoding="utf-8")
    assert cli.main(["doctor"]) == 0
    assert "not made yet" not in capsys.readouterr().out


def test_doctor_suggests_only_models_that_would_run_on_this_machine(fast_config, capsys, monkeypatch):
    """On a 16 GB laptop doctor said "no LTX-Video model installed: run `stillmotion models pull
    ltx-0.9.7-distilled`" (a 60 GB download), while its own model list said that model needs
    about 75 GB of RAM here. It now names a model of the engine that can run, or says none can."""
    from stillmotion.engines import devices

    laptop = devices.Device(kind="cpu", name="CPU (8 threads)", total_gb=16.0, free_gb=12.0, bf16=False)
    monkeypatch.setattr(devices, "detect", lambda preference="auto": laptop)
    assert cli.main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    fits = {m["name"] for m in data["models"] if m["fits"]}
    engines = {e["name"]: e for e in data["engines"]}
    assert "svd-xt" in fits and not any(m["fits"] for m in data["models"] if m["engine"] == "ltx")
    assert engines["svd"]["reason"].endswith("run `stillmotion models pull svd-xt`")
    assert engines["ltx"]["reason"] == ("no LTX-Video model installed: none of its models would run on this "
                                        "machine (see models below)")
    assert engines["ltx"]["suggested"] is None and "models pull" not in engines["wan"]["reason"]
