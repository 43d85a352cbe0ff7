"""A power cut never leaves a clip, sidecar, note, placement record or the Lightroom plug-in
empty under its final name.

A new file's data may reach the disk after its name: each file Stillmotion names is
fsync'ed before it gets the name, and its folder after.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stillmotion import cli, install_plugin
from stillmotion.jobs import failure_note, placement
from stillmotion.place import temp_path

pytestmark = pytest.mark.skipif(os.name != "posix", reason="folders are synced on POSIX only")


@pytest.fixture
def disk(monkeypatch):
    """The order in which data was synced and names were given: ("sync", inode) and
    ("name", inode, final path), an inode being what a name will point at."""
    events: list[tuple] = []
    fsync, link, replace = os.fsync, os.link, os.replace

    def spy_fsync(fd: int) -> None:
        fsync(fd)
        events.append(("sync", os.fstat(fd).st_ino))

    def spy_link(src, dst, *args, **kwargs) -> None:
        link(src, dst, *args, **kwargs)
        events.append(("name", os.stat(dst).st_ino, Path(dst)))

    def spy_replace(src, dst, *args, **kwargs) -> None:
        replace(src, dst, *args, **kwargs)
        events.append(("name", os.stat(dst).st_ino, Path(dst)))

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "link", spy_link)
    monkeypatch.setattr(os, "replace", spy_replace)
    return events


def assert_durable(events: list[tuple], final: Path) -> None:
    """`final` named only after its data was synced, and its folder synced after that."""
    named = max(i for i, e in enumerate(events) if e[0] == "name" and e[2] == final)
    files = [p for p in final.rglob("*") if p.is_file()] if final.is_dir() else [final]
    synced = {e[1] for e in events[:named] if e[0] == "sync"}
    for path in files:
        assert path.stat().st_ino in synced, f"{path.name}: named before its data was on the disk"
    after = {e[1] for e in events[named:] if e[0] == "sync"}
    assert final.parent.stat().st_ino in after, f"{final.name}: its folder was not synced after it was named"


@pytest.mark.parametrize("fmt", ["gif", "webp", "tiff"])
def test_a_clip_and_its_sidecar_are_on_the_disk_before_they_have_their_names(photo_jpg, fast_config, disk, fmt):
    assert cli.main(["animate", str(photo_jpg), "--engine", "parallax", "--duration", "0.5", "--fps", "4",
                     "--format", fmt]) == 0
    outputs = sorted(p for p in photo_jpg.parent.iterdir() if p.name.startswith("IMG_1234.motion"))
    assert len(outputs) == 2
    for path in outputs:
        assert_durable(disk, path)


def test_a_failure_note_is_on_the_disk_before_it_has_its_name(tmp_path, disk):
    photo = tmp_path / "IMG_1.jpg"
    note = failure_note.write(tmp_path, photo, "job1", "the photo is cut short")
    assert note is not None and note.read_text().startswith("Stillmotion could not animate IMG_1.jpg")
    assert_durable(disk, note)


def test_a_placement_record_is_on_the_disk_before_the_clip_is_placed(tmp_path, disk):
    clip = temp_path(tmp_path, ".mp4", "job1")
    clip.write_bytes(b"clip")
    placement.record(tmp_path, "job1", 0, {".mp4": clip})
    record = next(tmp_path.glob(".stillmotion-placed-job1-v0.json"))
    assert_durable(disk, record)


def test_the_installed_plug_in_is_on_the_disk_before_it_replaces_the_old_copy(tmp_path, disk):
    install_plugin.install(tmp_path)
    install_plugin.install(tmp_path)     # a reinstall: the old copy goes once the new one is whole
    assert_durable(disk, tmp_path / install_plugin.PLUGIN_NAME)
