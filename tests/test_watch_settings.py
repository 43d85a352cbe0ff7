"""[watch] config, [[watch.folders]] and per-folder stillmotion.toml: validated, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stillmotion import config as config_mod
from stillmotion.errors import ConfigError
from stillmotion.watch.names import is_ignored
from stillmotion.watch.settings import FolderFileCache, folder_for_dir, folders_from_config


def load(fast_config: Path, text: str) -> config_mod.Config:
    fast_config.write_text(fast_config.read_text() + text, encoding="utf-8")
    return config_mod.load()


def test_folder_tables_are_read_with_their_own_settings(tmp_path, fast_config):
    cfg = load(fast_config, f"""
[watch]
patterns = ["*.tif"]
[[watch.folders]]
path = "{tmp_path / 'c1'}"
recursive = true
output = "motion"
settings = {{ profile = "portrait", duration = 3 }}
[[watch.folders]]
path = "{tmp_path / 'plain'}"
""")
    first, second = folders_from_config(cfg)
    assert first.recursive and first.base.output == "motion" and first.base.patterns == ("*.tif",)
    assert first.base.request.profile == "portrait" and first.base.request.duration == 3.0
    assert first.base.out_dir(tmp_path / "c1" / "IMG.tif") == tmp_path / "c1" / "motion"
    assert not second.recursive and second.base.output == "beside"
    assert second.base.out_dir(tmp_path / "plain" / "IMG.tif") is None
    assert second.base.matches("IMG_1.TIF") and not second.base.matches("IMG_1.jpg")
    # A folder named on the command line takes its config entry's settings.
    assert folder_for_dir(cfg, tmp_path / "c1").base.output == "motion"
    assert folder_for_dir(cfg, tmp_path / "other").base.output == "beside"


@pytest.mark.parametrize("table, message", [
    ('path = "/x"\npatern = ["*.jpg"]', "unknown key 'patern'"),
    ('recursive = true', "'path' is required"),
    ('path = "/x"\nrecursive = "yes"', "'recursive' must be a boolean"),
    ('path = "/x"\nsettle_seconds = "2"', "'settle_seconds' must be a number"),
    ('path = "/x"\nsettle_seconds = -1', "between 0 and 3600"),
    ('path = "/x"\npatterns = []', "non-empty array of strings"),
    ('path = "/x"\npatterns = [1]', "non-empty array of strings"),
    ('path = "/x"\noutput = "../elsewhere"', "'output' must be \"beside\" or the name of a subfolder"),
    ('path = "/x"\noutput = "/abs"', "'output' must be"),
    ('path = "/x"\nsettings = { duration = 99 }', "duration must be between 0.5 and 30.0"),
    ('path = "/x"\nsettings = { speed = 2 }', "unknown setting 'speed'"),
    ('path = "/x"\nsettings = { out_dir = "/elsewhere" }', "use 'output'"),
])
def test_a_bad_folder_table_names_the_file_and_the_key(fast_config, table, message):
    cfg = load(fast_config, f"[[watch.folders]]\n{table}\n")
    with pytest.raises(ConfigError) as err:
        folders_from_config(cfg)
    assert message in str(err.value)
    assert str(fast_config) in str(err.value) and "[[watch.folders]] #1" in str(err.value)


def test_stillmotion_toml_overrides_its_folder_and_nearer_files_win(tmp_path, fast_config):
    cfg = load(fast_config, "")
    root = tmp_path / "hot"
    sub = root / "portraits"
    sub.mkdir(parents=True)
    (root / "stillmotion.toml").write_text(
        'output = "clips"\n[settings]\nduration = 2\nfps = 12\n', encoding="utf-8")
    (sub / "stillmotion.toml").write_text('[settings]\nprofile = "portrait"\nfps = 8\n', encoding="utf-8")
    folder = folder_for_dir(cfg, root)
    cache = FolderFileCache()
    top = folder.settings_for(root / "A.jpg", cache)
    inner = folder.settings_for(sub / "B.jpg", cache)
    assert top.output == "clips" and top.request.duration == 2.0 and top.request.fps == 12
    assert inner.output == "clips" and inner.request.fps == 8 and inner.request.duration == 2.0
    assert inner.request.profile == "portrait"


def test_folder_files_false_leaves_a_folders_stillmotion_toml_unread(tmp_path, fast_config):
    """On a share anyone can write, a stillmotion.toml dropped in set what the service rendered
    (30 s at 120 fps, 16 variants of every photo) with no way to turn that off but a watch
    folder nobody else can write. `[watch] folder_files = false` (or a folder's own) reads none."""
    root = tmp_path / "hot"
    root.mkdir()
    (root / "stillmotion.toml").write_text('[settings]\nduration = 30\nvariants = 16\n', encoding="utf-8")
    base = fast_config.read_text(encoding="utf-8")

    def config(text: str) -> config_mod.Config:
        fast_config.write_text(base + text, encoding="utf-8")
        return config_mod.load()

    assert folder_for_dir(config(""), root).settings_for(root / "A.jpg").request.variants == 16
    closed = folder_for_dir(config("[watch]\nfolder_files = false\n"), root).settings_for(root / "A.jpg")
    assert closed.request.variants in (None, 1) and closed.request.duration != 30
    (folder,) = folders_from_config(config(f'[[watch.folders]]\npath = "{root}"\nfolder_files = false\n'))
    assert folder.settings_for(root / "A.jpg").request.duration != 30
    (root / "stillmotion.toml").write_text("folder_files = false\n", encoding="utf-8")   # not the folder's to say
    with pytest.raises(ConfigError, match="unknown key 'folder_files'"):
        folder_for_dir(config(""), root).settings_for(root / "A.jpg")


@pytest.mark.parametrize("text, message", [
    ("output = 3\n", "'output' must be a string"),
    ("path = '/elsewhere'\n", "unknown key 'path'"),
    ("[settings]\ncamera = 'zoom'\n", "camera must be one of"),
    ("output = \n", "not valid TOML"),
    # A settings out_dir would send the clips anywhere (an absolute path, '..'), past the
    # rule 'output' keeps: a stillmotion.toml is written by whoever can write the folder.
    ("[settings]\nout_dir = '/elsewhere'\n", "'out_dir' is not a watch setting"),
    ("[settings]\nout = '../elsewhere'\n", "'out_dir' is not a watch setting"),
    # A model folder is loaded (and with older diffusers, code beside its weights run) by the
    # service account: a stillmotion.toml may name a registered model or a Hugging Face id only.
    ("[settings]\nmodel = '/srv/hot/evil-model'\n", "'model' here must be a name from [models.registry]"),
    ("[settings]\nmodel = './evil-model'\n", "'model' here must be a name from [models.registry]"),
    ("[settings]\nmodel = '~/evil'\n", "'model' here must be a name from [models.registry]"),
    ("[settings]\nmodel = 'a/b/c'\n", "'model' here must be a name from [models.registry]"),
    ("[settings]\nmodel = 'D:\\models\\svd'\n", "'model' here must be a name from [models.registry]"),
])
def test_a_bad_stillmotion_toml_is_an_error_naming_it(tmp_path, fast_config, text, message):
    cfg = load(fast_config, "")
    (tmp_path / "stillmotion.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        folder_for_dir(cfg, tmp_path).settings_for(tmp_path / "A.jpg")
    assert message in str(err.value) and str(tmp_path / "stillmotion.toml") in str(err.value)


def test_a_stillmotion_toml_may_name_a_registered_model_or_a_hugging_face_id(tmp_path, fast_config):
    cfg = load(fast_config, "")
    for model in ("svd-xt", "stabilityai/stable-video-diffusion-img2vid-xt"):
        (tmp_path / "stillmotion.toml").write_text(f"[settings]\nmodel = '{model}'\n", encoding="utf-8")
        assert folder_for_dir(cfg, tmp_path).settings_for(tmp_path / "A.jpg").request.model == model


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes and /dev/zero are POSIX")
@pytest.mark.parametrize("make, message", [
    (lambda p: p.symlink_to("/dev/zero"), "not a regular file"),      # read on and on: the daemon's memory
    (lambda p: os.mkfifo(p), "not a regular file"),                    # read blocked the watcher for good
    (lambda p: p.write_bytes(b"# " + b"x" * (1 << 20) + b"\n"), "over 1 MB"),
])
def test_a_stillmotion_toml_that_is_no_settings_file_is_refused_not_read_forever(tmp_path, fast_config, make, message):
    """Anyone who can write the folder can make its stillmotion.toml a link to /dev/zero or a
    named pipe: the watcher read it whole, on and on (until the daemon ran out of memory) or
    waiting for a writer that never came (no photo in any folder was taken after that)."""
    cfg = load(fast_config, "")
    make(tmp_path / "stillmotion.toml")
    with pytest.raises(ConfigError) as err:
        folder_for_dir(cfg, tmp_path).settings_for(tmp_path / "A.jpg")
    assert message in str(err.value) and str(tmp_path / "stillmotion.toml") in str(err.value)


def test_a_broken_stillmotion_toml_at_the_top_stops_watch_at_start(tmp_path, fast_config, capsys):
    """As the README says: the top one is read at start; broken, `watch` does not start."""
    from stillmotion import cli

    hot = tmp_path / "hot"
    hot.mkdir()
    (hot / "stillmotion.toml").write_text("[animate]\nfps = 8\n", encoding="utf-8")
    assert cli.main(["watch", str(hot)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(hot / "stillmotion.toml") in err[0] and "unknown key 'animate'" in err[0]


def test_a_stillmotion_toml_saved_by_notepad_is_read(tmp_path, fast_config):
    """A Capture One hot folder's stillmotion.toml edited on Windows: UTF-8 with a byte-order
    mark was "not valid TOML" and the folder's photos were held."""
    cfg = load(fast_config, "")
    (tmp_path / "stillmotion.toml").write_bytes('\ufeff# réglages\r\n[settings]\r\nfps = 8\r\n'.encode("utf-8"))
    assert folder_for_dir(cfg, tmp_path).settings_for(tmp_path / "A.jpg").request.fps == 8


@pytest.mark.parametrize("name, ignored", [
    ("IMG_1.jpg", False), ("IMG_1.jpg.part", True), ("IMG_1.tmp", True), ("IMG_1.jpg~", True),
    ("~$IMG_1.jpg", True), (".IMG_1.jpg", True), ("IMG_1.motion.mp4", True), ("IMG_1.motion-2.gif", True),
    (".stillmotion-tmp-abc.mp4", True), ("stillmotion.toml", True), ("IMG_1.crdownload", True),
    ("Thumbs.db", True), ("desktop.ini", True),
])
def test_temporary_hidden_and_own_files_are_never_candidates(tmp_path, name, ignored):
    assert is_ignored(tmp_path / name, tmp_path) is ignored
    assert is_ignored(tmp_path / ".hidden" / "IMG.jpg", tmp_path)


@pytest.mark.parametrize("folder", ["CaptureOne/Cache/Thumbnails", "@eaDir/IMG_1.jpg", "#recycle/shoot"])
def test_other_programs_folders_are_never_candidates(tmp_path, folder):
    """Capture One's cache and settings, a Synology's per-photo thumbnail JPEGs, a NAS recycle
    bin: in a recursive watch they were animated like photos."""
    assert is_ignored(tmp_path / folder / "SYNOPHOTO_THUMB_XL.jpg", tmp_path)
    assert is_ignored(tmp_path / folder.split("/")[0], tmp_path)
    assert not is_ignored(tmp_path / "Capture" / "IMG_1.jpg", tmp_path)


def test_watch_on_a_folder_not_yet_made_says_to_make_it(tmp_path, fast_config, capsys):
    """The README's first `stillmotion watch ~/Pictures/Stillmotion-Hot` on a fresh machine said
    "not a folder", which reads as if the path were a file and leaves the user guessing."""
    from stillmotion import cli

    hot = tmp_path / "Stillmotion-Hot"
    assert cli.main(["watch", str(hot)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"no folder {hot}" in err[0] and "make it first" in err[0]
    assert not hot.exists()   # made by the user, not guessed at


def test_watch_on_a_file_says_it_is_a_file(tmp_path, fast_config, capsys):
    from stillmotion import cli

    photo = tmp_path / "IMG.jpg"
    photo.write_bytes(b"x")
    assert cli.main(["watch", str(photo)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{photo} is a file, not a folder" in err[0]


@pytest.mark.parametrize("model", ["srv/share", "share"])
def test_a_stillmotion_toml_may_not_name_a_folder_where_the_service_runs(tmp_path, fast_config, monkeypatch, model):
    """A service's working folder is often / (systemd, launchd): 'mnt/nas' or 'Volumes/Share'
    reads as a Hugging Face id, yet the model lookup takes an existing folder first, so a
    stillmotion.toml could have the service load the share itself (weights and code its
    writers put there) as the model."""
    service_cwd = tmp_path / "root"
    (service_cwd / "srv" / "share").mkdir(parents=True)
    (service_cwd / "share").mkdir()
    monkeypatch.chdir(service_cwd)
    hot = tmp_path / "hot"
    hot.mkdir()
    (hot / "stillmotion.toml").write_text(f"[settings]\nmodel = '{model}'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'model' here must be a name from"):
        folder_for_dir(load(fast_config, ""), hot).settings_for(hot / "A.jpg")
