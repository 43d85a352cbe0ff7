"""A daemon that dies between placing a clip and recording the job as done makes no second clip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stillmotion import config as config_mod
from stillmotion.jobs import placement
from stillmotion.jobs.pipeline import JobSpec, run_job
from stillmotion.place import is_own_output, stale_temps
from stillmotion.request import AnimateRequest
from support import save_photo, skimage_photo


class Died(BaseException):
    """The process going away (kill -9) right after a step."""


def _spec(photo: Path, job_id: str, **settings) -> JobSpec:
    request = AnimateRequest.from_dict({"engine": "parallax", "duration": 0.5, "fps": 8, **settings})
    return JobSpec(photo_path=photo, request=request, temp_tag=job_id)


def _clips(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".mp4"))


def _run_dying_after_placing(spec: JobSpec, cfg: dict, variants_placed: int) -> None:
    placed = 0

    def progress(stage: str, fraction: float) -> None:
        nonlocal placed
        if stage == "place":
            placed += 1
            if placed == variants_placed:
                raise Died()

    with pytest.raises(Died):
        run_job(spec, cfg, progress=progress)


def _recover(folder: Path, job_id: str) -> None:
    """What the daemon does on restart: a dead job's temporaries go, then it runs again."""
    for tmp in stale_temps(folder, job_id):
        tmp.unlink()


def test_a_rerun_after_a_crash_just_after_placing_takes_the_placed_clip(photo_jpg, fast_config):
    cfg = config_mod.load()
    spec = _spec(photo_jpg, "job1")
    _run_dying_after_placing(spec, cfg, variants_placed=1)
    folder = photo_jpg.parent
    assert _clips(folder) == ["IMG_1234.motion.mp4"]
    before = os.stat(folder / "IMG_1234.motion.mp4")

    _recover(folder, "job1")
    result = run_job(spec, cfg)
    assert _clips(folder) == ["IMG_1234.motion.mp4"]                     # not a second clip
    assert [p.name for p in result.outputs] == ["IMG_1234.motion.mp4", "IMG_1234.motion.xmp"]
    assert os.stat(folder / "IMG_1234.motion.mp4").st_mtime_ns == before.st_mtime_ns   # not rendered again
    assert result.info["variants"][0]["recovered"] is True


def test_only_the_variants_not_yet_placed_are_rendered_again(photo_jpg, fast_config):
    cfg = config_mod.load()
    spec = _spec(photo_jpg, "job2", variants=2)
    _run_dying_after_placing(spec, cfg, variants_placed=1)
    _recover(photo_jpg.parent, "job2")
    result = run_job(spec, cfg)
    assert _clips(photo_jpg.parent) == ["IMG_1234.motion-2.mp4", "IMG_1234.motion.mp4"]
    assert [v.get("recovered", False) for v in result.info["variants"]] == [True, False]


def test_another_jobs_clip_of_the_same_photo_is_not_taken(photo_jpg, fast_config):
    cfg = config_mod.load()
    run_job(_spec(photo_jpg, "other"), cfg)             # an earlier job's clip: IMG_1234.motion.mp4
    spec = _spec(photo_jpg, "job3")
    _run_dying_after_placing(spec, cfg, variants_placed=1)
    _recover(photo_jpg.parent, "job3")
    result = run_job(spec, cfg)
    assert [p.name for p in result.outputs] == ["IMG_1234.motion-2.mp4", "IMG_1234.motion-2.xmp"]
    assert _clips(photo_jpg.parent) == ["IMG_1234.motion-2.mp4", "IMG_1234.motion.mp4"]


def test_records_are_hidden_from_watch_folders_and_go_when_the_job_ends(photo_jpg, fast_config):
    cfg = config_mod.load()
    _run_dying_after_placing(_spec(photo_jpg, "job4"), cfg, variants_placed=1)
    records = list(photo_jpg.parent.glob(".stillmotion-placed-job4-*"))
    assert len(records) == 1 and is_own_output(records[0])
    placement.forget(photo_jpg.parent, "job4")
    assert not list(photo_jpg.parent.glob(".stillmotion-placed-*"))


def test_a_cli_run_keeps_no_records(photo_jpg, fast_config):
    run_job(_spec(photo_jpg, ""), config_mod.load())
    assert not list(photo_jpg.parent.glob(".stillmotion-placed-*"))


@pytest.mark.parametrize("stem", ["a" * 245, "写真" * 41 + "写"], ids=["ascii-245-bytes", "cjk-249-bytes"])
def test_a_photo_whose_name_is_near_the_limit_gets_its_clips(tmp_path, fast_config, stem):
    """`stem.motion.mp4` would pass the file system's 255-byte name limit: the stem is cut
    (at a character boundary), clip and sidecar still pair, a rerun after a crash still
    finds what it placed, and the next clip takes the next index."""
    photo = save_photo(tmp_path / f"{stem}.jpg", skimage_photo("astronaut"), (160, 120), quality=90)
    cfg = config_mod.load()
    spec = _spec(photo, "job7")
    _run_dying_after_placing(spec, cfg, variants_placed=1)
    _recover(tmp_path, "job7")
    first = run_job(spec, cfg).outputs
    second = run_job(_spec(photo, ""), cfg).outputs
    names = sorted(p.name for p in first + second)
    assert len(names) == 4 and len(_clips(tmp_path)) == 2          # no clip made twice
    for name in names:
        assert len(name.encode()) <= 255
        name.encode("utf-8")                                       # no half character kept
    cut = names[0].split(".motion")[0]
    assert stem.startswith(cut) and len(cut) > len(stem) - 12
    assert [n.split(".motion")[1] for n in names] == ["-2.mp4", "-2.xmp", ".mp4", ".xmp"]
    assert all(is_own_output(p) for p in first + second)           # a watch folder skips them


def test_a_companion_that_cannot_be_placed_takes_the_clip_back(tmp_path, monkeypatch):
    """The disk fills while the .xmp is linked after the clip: neither stays visible (the
    error then says "nothing was left there", and it is true), both temporaries remain to clean."""
    import errno

    from stillmotion import place

    clip_tmp, xmp_tmp = tmp_path / ".stillmotion-tmp-a.mp4", tmp_path / ".stillmotion-tmp-a.xmp"
    clip_tmp.write_bytes(b"clip")
    xmp_tmp.write_bytes(b"xmp")
    real_claim = place.claim

    def claim(src, dst):
        if dst.suffix == ".xmp":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_claim(src, dst)

    monkeypatch.setattr(place, "claim", claim)
    with pytest.raises(OSError):
        place.place_group({".mp4": clip_tmp, ".xmp": xmp_tmp}, tmp_path, "IMG_0001")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".stillmotion-tmp-a.mp4", ".stillmotion-tmp-a.xmp"]
    assert clip_tmp.read_bytes() == b"clip"
