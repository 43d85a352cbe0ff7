"""`stillmotion animate PHOTO --like CLIP`: the take a clip was made with, made again from its
record (its XMP), with any option typed overriding it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stillmotion import cli
from stillmotion.engines.parallax import REVISION
from stillmotion.metadata.record import read_clip_record
from stillmotion.video.decode import probe, read_frames

from support import save_photo, skimage_photo

FAST = ("--duration", "0.5", "--fps", "8")


def animate(*args: str) -> int:
    return cli.main(["animate", *args])


def takes(photo: Path, capsys) -> list[Path]:
    """Three takes of `photo` (random seeds, as the photographer's --variants run)."""
    assert animate(str(photo), "--variants", "3", *FAST) == 0
    capsys.readouterr()
    return [photo.with_name(f"{photo.stem}.motion{suffix}.mp4") for suffix in ("", "-2", "-3")]


def largest_difference(a: Path, b: Path) -> float:
    first, second = list(read_frames(a)), list(read_frames(b))
    assert len(first) == len(second)
    return max(float(np.abs(x - y).max()) for x, y in zip(first, second))


def test_a_take_made_like_a_clip_is_that_take_frame_for_frame(photo_jpg, fast_config, capsys):
    liked = takes(photo_jpg, capsys)[1]
    assert animate(str(photo_jpg), "--like", str(liked)) == 0
    out, err = capsys.readouterr()
    again = photo_jpg.with_name("IMG_1234.motion-4.mp4")
    assert out.split() == [str(again), str(again.with_suffix(".xmp"))]   # one clip: variants default to 1
    assert "note:" not in err
    assert largest_difference(again, liked) <= 2 / 255                   # the same take (encoder noise at most)
    assert largest_difference(again, photo_jpg.with_name("IMG_1234.motion.mp4")) > 0.1   # not any take
    assert read_clip_record(again)["seed"] == read_clip_record(liked)["seed"]


def test_an_option_typed_overrides_the_record_and_the_sidecar_serves_as_the_clip(photo_jpg, fast_config, capsys):
    liked = takes(photo_jpg, capsys)[2]
    assert animate(str(photo_jpg), "--like", str(liked.with_suffix(".xmp")), "--format", "mov",
                   "--duration", "1") == 0
    made = photo_jpg.with_name("IMG_1234.motion-4.mov")
    assert made.is_file() and probe(made).codec == "prores" and probe(made).n_frames == 8   # 1 s at the take's 8 fps
    record, original = read_clip_record(made), read_clip_record(liked)
    for kept in ("engine", "seed", "profile", "motion", "camera", "anchor", "loop", "colour/match", "aspect"):
        assert record[kept] == original[kept], kept
    assert record["duration"] == "1.0" and record["format"] == "mov"


def test_another_engine_revision_is_said_in_a_note(photo_jpg, fast_config, capsys):
    liked = takes(photo_jpg, capsys)[0]
    sidecar = liked.with_suffix(".xmp")
    older = photo_jpg.with_name("older.xmp")
    older.write_bytes(sidecar.read_bytes().replace(f"<stillmotion:revision>{REVISION}<".encode(),
                                                   b"<stillmotion:revision>10<"))
    assert animate(str(photo_jpg), "--like", str(older)) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert len(notes) == 1 and "revision 10" in notes[0] and f"revision {REVISION}" in notes[0]


def test_another_photo_is_a_note_not_an_error(photo_jpg, fast_config, capsys):
    liked = takes(photo_jpg, capsys)[0]
    regraded = save_photo(photo_jpg.with_name("IMG_1234-edit.jpg"), skimage_photo("astronaut"), (320, 240), quality=80)
    assert animate(str(regraded), "--like", str(liked)) == 0
    err = capsys.readouterr().err
    assert err.count("note:") == 1 and "not the one IMG_1234.motion.mp4 was made from" in err
    assert regraded.with_name("IMG_1234-edit.motion.mp4").is_file()
    assert read_clip_record(regraded.with_name("IMG_1234-edit.motion.mp4"))["seed"] == read_clip_record(liked)["seed"]


def test_a_model_not_installed_is_said_in_a_note(photo_jpg, fast_config, capsys):
    liked = takes(photo_jpg, capsys)[0]
    record = photo_jpg.with_name("svd-take.xmp")
    record.write_bytes(liked.with_suffix(".xmp").read_bytes()
                       .replace(b"<stillmotion:engine>parallax<", b"<stillmotion:engine>svd<")
                       .replace(b"<stillmotion:model>stillmotion-parallax<", b"<stillmotion:model>svd-xt<"))
    animate(str(photo_jpg), "--like", str(record))
    notes = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert len(notes) == 1 and "svd-xt, which is not installed here" in notes[0]
    assert "stillmotion models pull svd-xt" in notes[0]


def test_a_file_with_no_stillmotion_record_is_one_line_and_exit_2(photo_jpg, fast_config, capsys):
    assert animate(str(photo_jpg), "--like", str(photo_jpg)) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"stillmotion: error: {photo_jpg}: no Stillmotion record in it (its XMP names no "
                   "stillmotion:engine); --like takes a clip Stillmotion made, or the .xmp beside it"]
    assert not list(photo_jpg.parent.glob("*.motion*"))
    # A clip that is not there says it was --like's (it read as the photo's).
    assert animate(str(photo_jpg), "--like", str(photo_jpg.with_name("nope.mp4"))) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"stillmotion: error: {photo_jpg.with_name('nope.mp4')}: no such file (--like takes a clip "
        "Stillmotion made, or the .xmp beside it)"]


def test_a_take_too_fast_for_a_web_format_is_said_as_the_takes_rate(photo_jpg, fast_config, capsys):
    """A 60 fps take liked into a WebP read "webp clips play at most 50 frames per second ...;
    got fps 60" though no --fps was typed: the rate is the take's, and the line says so."""
    assert animate(str(photo_jpg), "--duration", "0.5", "--fps", "60") == 0
    liked = photo_jpg.with_name("IMG_1234.motion.mp4")
    capsys.readouterr()
    assert animate(str(photo_jpg), "--like", str(liked), "--format", "webp") == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "IMG_1234.motion.mp4" in err[0] and "60 fps" in err[0] and "--fps" in err[0], err
    assert animate(str(photo_jpg), "--like", str(liked), "--format", "webp", "--fps", "30") == 0


def test_a_loop_or_an_unmatched_take_can_be_made_again_without_it(photo_jpg, fast_config, capsys):
    """--like a looped take kept the loop, and --like a --no-colour-match take kept its colour
    unmatched, with no option to say otherwise: --no-loop and --colour-match override them."""
    assert animate(str(photo_jpg), *FAST, "--loop", "--no-colour-match") == 0
    liked = photo_jpg.with_name("IMG_1234.motion.mp4")
    assert animate(str(photo_jpg), "--like", str(liked), "--no-loop", "--colour-match") == 0
    record = read_clip_record(photo_jpg.with_name("IMG_1234.motion-2.mp4"))
    assert record["loop"] == "False" and record["colour/match"] == "True", record
    assert record["seed"] == read_clip_record(liked)["seed"]


def test_a_named_pipe_given_as_the_photo_is_refused_not_waited_on(photo_jpg, fast_config, capsys):
    """`animate pipe.jpg --like CLIP` hung for good: the check of whether the photo is the one
    the clip was made from read the pipe before the job could refuse it, as it does without --like."""
    import os
    import subprocess
    import sys

    liked = takes(photo_jpg, capsys)[0]
    pipe = photo_jpg.with_name("pipe.jpg")
    os.mkfifo(pipe)
    run = subprocess.run([sys.executable, "-m", "stillmotion", "animate", str(pipe), "--like", str(liked)],
                         capture_output=True, text=True, timeout=20, env=os.environ)
    assert run.returncode == 2 and "pipe.jpg: not a regular file" in run.stderr, run.stderr
