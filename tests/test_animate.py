"""The main job as a user runs it: `stillmotion animate photo.jpg` -> a real clip beside it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stillmotion import cli
from stillmotion.errors import InputError
from stillmotion.video.decode import probe, read_frames

from support import disk_fills_at_encode, save_photo, skimage_photo


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(1.0 / mse)


def photo_at(path: Path, size: tuple[int, int]) -> np.ndarray:
    image = Image.open(path).convert("RGB").resize(size, Image.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 255.0


def animate(*args: str) -> int:
    return cli.main(["animate", *args])


def test_clip_beside_photo_with_frames_size_tags_and_anchor(photo_jpg, fast_config, capsys):
    assert animate(str(photo_jpg), "--duration", "1", "--fps", "12", "--camera", "push-in", "--seed", "7") == 0
    out = photo_jpg.with_name("IMG_1234.motion.mp4")
    assert capsys.readouterr().out.split() == [str(out), str(out.with_suffix(".xmp"))]  # clip + its XMP
    info = probe(out)
    assert (info.width, info.height) == (320, 240)           # aspect kept, long edge from config
    assert info.n_frames == 12                               # duration x fps
    assert info.codec == "h264" and info.pix_fmt == "yuv420p"
    # BT.709 primaries and matrix, limited range, and the sRGB transfer its frames are in (13).
    assert (info.color_primaries, info.color_trc, info.colorspace, info.color_range) == (1, 13, 1, 1)
    frames = list(read_frames(out))
    assert len(frames) == 12
    assert psnr(frames[0], photo_at(photo_jpg, (320, 240))) >= 35.0   # frame 0 is the photo
    # Real motion: the clip changes steadily, not a still.
    assert np.abs(frames[-1] - frames[0]).mean() > 0.02
    assert np.abs(frames[6] - frames[5]).mean() > 0.001


@pytest.mark.parametrize("camera", ["none", "push-in", "pull-out", "pan-left", "pan-right", "orbit", "rise"])
def test_every_camera_move_moves_without_dark_borders(photo_jpg, fast_config, camera):
    assert animate(str(photo_jpg), "--duration", "1", "--fps", "8", "--camera", camera, "--motion", "1") == 0
    frames = list(read_frames(photo_jpg.with_name("IMG_1234.motion.mp4")))
    source = photo_at(photo_jpg, (320, 240))
    darkest = np.percentile(source.mean(axis=2), 0.5)
    assert np.abs(frames[-1] - frames[0]).mean() > (0.002 if camera == "none" else 0.01)
    for frame in frames:
        lum = frame.mean(axis=2)
        border = np.concatenate([lum[0], lum[-1], lum[:, 0], lum[:, -1]])
        # No black or smeared-out border: border pixels are no darker than the photo's own pixels.
        assert np.mean(border < darkest - 0.02) < 0.02, camera


def test_loop_cycles_back_to_first_frame_and_anchor_end_finishes_on_photo(photo_jpg, fast_config):
    assert animate(str(photo_jpg), "--duration", "1", "--fps", "10", "--loop", "--camera", "orbit", "--seed", "0") == 0
    loop = list(read_frames(photo_jpg.with_name("IMG_1234.motion.mp4")))
    assert np.abs(loop[len(loop) // 2] - loop[0]).mean() > 0.01
    # Played on repeat, the last frame leads into the first as the first into the second (see
    # test_parallax): the photo is not held for two frames at the seam.
    assert psnr(loop[-1], loop[1]) >= 37.0 and psnr(loop[-1], loop[0]) < 37.0
    assert animate(str(photo_jpg), "--duration", "1", "--fps", "10", "--anchor", "end", "--camera", "push-in") == 0
    before = list(read_frames(photo_jpg.with_name("IMG_1234.motion-2.mp4")))
    source = photo_at(photo_jpg, (320, 240))
    assert psnr(before[-1], source) >= 35.0
    assert psnr(before[0], source) < 35.0


def test_second_run_never_overwrites_and_same_seed_same_clip(photo_jpg, fast_config):
    args = [str(photo_jpg), "--duration", "0.5", "--fps", "12", "--seed", "42", "--camera", "orbit"]
    assert animate(*args) == 0
    first = photo_jpg.with_name("IMG_1234.motion.mp4")
    before = first.read_bytes()
    assert animate(*args) == 0
    second = photo_jpg.with_name("IMG_1234.motion-2.mp4")
    assert first.read_bytes() == before
    a, b = list(read_frames(first)), list(read_frames(second))
    assert len(a) == len(b) == 6
    assert max(float(np.abs(x - y).max()) for x, y in zip(a, b)) == 0.0
    # Nothing half-written or temporary is left in the folder.
    assert sorted(p.name for p in photo_jpg.parent.iterdir()) == [
        "IMG_1234.jpg", "IMG_1234.motion-2.mp4", "IMG_1234.motion-2.xmp", "IMG_1234.motion.mp4",
        "IMG_1234.motion.xmp", "stillmotion-home"]


def test_variants_use_successive_seeds_and_distinct_names(photo_jpg, fast_config, capsys):
    assert animate(str(photo_jpg), "--duration", "0.5", "--fps", "8", "--variants", "2", "--seed", "3") == 0
    outputs = capsys.readouterr().out.split()
    assert [Path(p).name for p in outputs] == ["IMG_1234.motion.mp4", "IMG_1234.motion.xmp",
                                               "IMG_1234.motion-2.mp4", "IMG_1234.motion-2.xmp"]


def test_variants_are_different_takes_of_the_same_move(photo_jpg, fast_config):
    """QA: `--variants 3 --seed 10` made three pixel-identical clips with the parallax engine."""
    assert animate(str(photo_jpg), "--duration", "1", "--fps", "6", "--variants", "3", "--seed", "10") == 0
    names = ["IMG_1234.motion.mp4", "IMG_1234.motion-2.mp4", "IMG_1234.motion-3.mp4"]
    clips = [list(read_frames(photo_jpg.with_name(n))) for n in names]
    source = photo_at(photo_jpg, (320, 240))
    noise = np.abs(clips[0][0] - source).mean()              # the anchor frame: encoding noise only
    assert noise < 0.01
    for i, j in ((0, 1), (1, 2), (0, 2)):
        assert np.abs(clips[i][3] - clips[j][3]).mean() > 4 * noise, (i, j)
    for clip in clips:
        assert psnr(clip[0], source) >= 35.0                 # every take starts on the photo
    # Each clip's XMP says which take it is: its seed and what that seed chose.
    xmps = [photo_jpg.with_name(n).with_suffix(".xmp").read_text() for n in names]
    takes = {x[x.index("<stillmotion:take"):x.index("</stillmotion:take>")] for x in xmps}
    assert len(takes) == 3
    assert [f"<stillmotion:seed>{s}</stillmotion:seed>" in x for s, x in zip((10, 11, 12), xmps)] == [True] * 3


def test_out_folder_and_formats(photo_jpg, fast_config, tmp_path):
    out_dir = tmp_path / "clips"
    assert animate(str(photo_jpg), "--duration", "0.5", "--fps", "8", "--format", "mov", "--out", str(out_dir)) == 0
    info = probe(out_dir / "IMG_1234.motion.mov")
    assert info.codec == "prores" and info.pix_fmt == "yuv422p10le" and info.n_frames == 4
    # The clip's XMP says what it is encoded with (not the request's default H.264).
    assert "<stillmotion:codec>prores_422hq</stillmotion:codec>" in (out_dir / "IMG_1234.motion.xmp").read_text()
    for fmt in ("gif", "webp"):
        assert animate(str(photo_jpg), "--duration", "0.5", "--fps", "8", "--format", fmt) == 0
        # each clip pairs with its own IMG_1234.motion[-N].xmp, so the webp after the gif is -2
        clip = next(photo_jpg.parent.glob(f"IMG_1234.motion*.{fmt}"))
        with Image.open(clip) as im:
            assert im.n_frames == 4 and im.size == (320, 240)
        assert "stillmotion:codec" not in clip.with_suffix(".xmp").read_text()


def test_clip_is_never_larger_than_the_photo(tmp_path, fast_config):
    small = save_photo(tmp_path / "small.png", skimage_photo("coffee"), (200, 134))
    assert animate(str(small), "--duration", "0.5", "--fps", "8") == 0
    info = probe(tmp_path / "small.motion.mp4")
    assert (info.width, info.height) == (200, 134)


def test_a_photo_with_an_odd_side_starts_on_its_own_pixels(tmp_path, fast_config):
    """A 241 px wide photo makes a 240 px clip (yuv420p wants even sides): it was resampled to
    240 px, so frame 0, meant to be the photo, was interpolated throughout and lost ~40% of its
    fine detail (variance of the Laplacian). The odd column is now dropped instead."""
    import tifffile

    pixels = skimage_photo("chelsea")[:161, :241]
    photo = save_photo(tmp_path / "odd.png", pixels)
    assert animate(str(photo), "--format", "tiff", "--duration", "0.5", "--fps", "4", "--camera", "pan-left",
                   "--engine", "parallax") == 0
    first = sorted((tmp_path / "odd.motion").iterdir())[0]
    frame = tifffile.imread(first).astype(np.float32) / 65535.0
    assert frame.shape == (160, 240, 3)
    assert np.abs(frame - pixels[:160, :240] / 255.0).max() < 1e-3


def test_an_orbit_cut_to_9_16_turns_about_the_face_as_the_uncut_one_does(tmp_path, fast_config):
    """With --aspect 9:16 (4:5, 1:1, 16:9) the depth estimate was not told where the face was:
    the face sat at the 25th percentile of near-ness instead of the top, and an orbit meant to
    turn about it swung it 3.8 px across the 144 px frame. It now holds still (the pivot)."""
    import cv2
    import tifffile

    from stillmotion import photo as photo_mod, readiness
    from stillmotion.video.aspect import subject_window

    photo = save_photo(tmp_path / "face.png", skimage_photo("astronaut"), (256, 256))
    assert animate(str(photo), "--format", "tiff", "--aspect", "9:16", "--camera", "orbit", "--motion", "1",
                   "--seed", "0", "--duration", "1", "--fps", "8", "--engine", "parallax") == 0
    fit = readiness.analyze(photo_mod.load(photo, 200))
    x0, y0, _, _ = subject_window(photo_mod.load(photo, 200).pixels, "9:16", fit.subject_box)
    files = sorted((tmp_path / "face.motion").iterdir())
    first, last = ((cv2.cvtColor(tifffile.imread(f).astype(np.float32) / 65535, cv2.COLOR_RGB2GRAY) * 255)
                   .astype(np.uint8) for f in (files[0], files[-1]))
    flow_x = cv2.calcOpticalFlowFarneback(first, last, None, 0.5, 4, 21, 3, 5, 1.1, 0)[..., 0]
    box = fit.faces[0].box
    fx, fy = int((box[0] + box[2]) / 2 * 256 - x0), int((box[1] + box[3]) / 2 * 256 - y0)
    assert abs(float(np.median(flow_x[fy - 4:fy + 5, fx - 4:fx + 5]))) < 1.5
    assert np.percentile(flow_x, 95) - np.percentile(flow_x, 5) > 10      # while the orbit does sweep


def test_a_size_too_large_for_the_encoder_is_one_line_before_any_work(tmp_path, fast_config, capsys):
    """A wide panorama at --size 2160p is 21600 x 2160 (or here 34560 x 2160): more than H.264
    takes. It ended in an encoder traceback after the whole render."""
    import time

    pano = save_photo(tmp_path / "pano.jpg", skimage_photo("coffee"), (1600, 100))
    started = time.monotonic()
    assert animate(str(pano), "--size", "2160p", "--duration", "1", "--fps", "8") == 2
    err = capsys.readouterr().err.strip()
    assert err == ("stillmotion: error: a 34560x2160 MP4 clip is more than its encoder takes (16384 pixels "
                   "a side at most); ask for a smaller --size, or --format mov"), err
    assert time.monotonic() - started < 20 and not list(tmp_path.glob("pano.motion*"))


def test_an_mp4_frame_over_the_codecs_highest_level_is_one_line_before_any_work(tmp_path, fast_config, capsys):
    """A 60 MP photo at --size source made a 9504 x 6336 MP4: x264 wrote it into a file marked
    level 6.2 (35.7 MP a frame at most) that players refuse. The same here with a small photo
    and a 16384-pixel long edge."""
    fast_config.write_text("[output]\nlong_edge = 16384\nupscale_beyond_source = true\n", encoding="utf-8")
    photo = save_photo(tmp_path / "big.jpg", skimage_photo("coffee"), (300, 200))
    assert animate(str(photo), "--duration", "0.5", "--fps", "4") == 2
    assert capsys.readouterr().err.strip() == (
        "stillmotion: error: a 16384x10922 MP4 clip (179 MP a frame) is more than H.264 and HEVC allow "
        "(35.7 MP at most; players refuse larger); ask for a smaller --size, or --format mov")
    assert not list(tmp_path.glob("big.motion*"))


def test_the_codecs_highest_level_is_counted_in_macroblocks():
    from stillmotion.video.encode import check_frame_size

    check_frame_size("mp4", 8192, 4352)          # 512 x 272 = 139,264 macroblocks: the limit
    check_frame_size("mov", 9504, 6336)          # ProRes has no such limit
    with pytest.raises(InputError, match="9504x6336 MP4 clip"):
        check_frame_size("mp4", 9504, 6336)
    with pytest.raises(InputError, match="8194x4352 MP4 clip"):
        check_frame_size("mp4", 8194, 4352)      # 513 macroblocks wide


def test_web_formats_come_at_web_size_unless_a_size_is_asked(tmp_path, fast_config, monkeypatch):
    """GIF and animated WebP are for pages and messages: [output] web_long_edge caps them;
    mp4 keeps long_edge; --size overrides both."""
    from PIL import Image as PILImage

    monkeypatch.setenv("STILLMOTION__OUTPUT__LONG_EDGE", "600")
    monkeypatch.setenv("STILLMOTION__OUTPUT__WEB_LONG_EDGE", "240")
    photo = save_photo(tmp_path / "IMG_W.jpg", skimage_photo("chelsea"), (900, 600))
    sizes = {}
    for fmt, extra in (("webp", []), ("gif", []), ("mp4", []), ("webp", ["--size", "1080p"])):
        assert animate(str(photo), "--duration", "0.5", "--fps", "4", "--format", fmt, *extra) == 0
        newest = max(tmp_path.glob(f"IMG_W.motion*.{fmt}"), key=lambda p: p.stat().st_mtime_ns)
        if fmt == "mp4":
            info = probe(newest)
            sizes[(fmt, *extra)] = (info.width, info.height)
        else:
            with PILImage.open(newest) as im:
                sizes[(fmt, *extra)] = im.size
    assert sizes == {("webp",): (240, 160), ("gif",): (240, 160), ("mp4",): (600, 400),
                     ("webp", "--size", "1080p"): (1620, 1080)}


@pytest.mark.parametrize("name,content,expect", [
    ("truncated.jpg", "truncate", "damaged or truncated"),
    ("notes.jpg", b"this is not an image at all", "not an image"),
    ("empty.png", b"", "not an image"),
    ("sliver.png", "sliver", "sliver.png: 300x8 pixels is too small to animate"),
    ("Shoot", "folder", "Shoot: a folder, not a photo"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, fast_config, capsys, name, content, expect):
    path = tmp_path / name
    if content == "folder":
        path.mkdir()
    elif content == "sliver":
        save_photo(path, skimage_photo("chelsea")[:8, :300])
    elif content == "truncate":
        save_photo(tmp_path / "full.jpg", skimage_photo("chelsea"), quality=90)
        data = (tmp_path / "full.jpg").read_bytes()
        (tmp_path / "full.jpg").unlink()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(content)
    before = sorted(tmp_path.iterdir())
    assert animate(str(path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expect in err[0] and err[0].startswith("stillmotion: error:")
    assert sorted(tmp_path.iterdir()) == before


def test_hostile_fixtures_rejected(fixtures_dir, tmp_path, fast_config, capsys):
    for name in ("decompression_bomb.gif", "truncated_jpeg.jpg"):
        src = fixtures_dir / "hostile" / name
        assert animate(str(src), "--out", str(tmp_path / "out")) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_pixel_bomb_png_refused_before_decoding(tmp_path, fast_config, capsys):
    # A PNG that declares 50 000 x 50 000 pixels: refused from its header alone.
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    assert animate(str(bomb)) == 2
    err = capsys.readouterr().err
    assert "too large" in err or "MP limit" in err
    assert not list(tmp_path.glob("bomb.motion*"))


def test_several_photos_one_bad_keeps_going(photo_jpg, fast_config, capsys, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    assert animate(str(bad), str(photo_jpg), "--duration", "0.5", "--fps", "8") == 2
    assert photo_jpg.with_name("IMG_1234.motion.mp4").is_file()


def test_a_batch_ends_with_one_line_naming_the_photos_that_failed(photo_jpg, fast_config, capsys, tmp_path):
    """Hundreds of photos: a failed one's error has scrolled away by the end, so the end says it."""
    bad, gone = tmp_path / "bad.jpg", tmp_path / "gone.jpg"
    bad.write_bytes(b"nope")
    assert animate(str(bad), str(photo_jpg), str(gone), "--duration", "0.5", "--fps", "8") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"stillmotion: 1 of 3 photos animated; not animated: {bad}, {gone}"


def test_auto_says_which_engine_it_picked_once_a_batch_not_once_a_photo(photo_jpg, fast_config, capsys, tmp_path):
    second = save_photo(tmp_path / "IMG_2.jpg", skimage_photo("chelsea"), (320, 240))
    assert animate(str(photo_jpg), str(second), "--duration", "0.5", "--fps", "8") == 0
    said = [line for line in capsys.readouterr().err.splitlines() if ": auto: " in line]
    assert len(said) == 1 and said[0].startswith("IMG_1234.jpg: auto: ")   # (which engine, why: this machine's)


def test_the_engine_is_named_as_its_render_starts_not_after_the_clip(photo_jpg, fast_config):
    """A newcomer learnt which engine `auto` had chosen only when the clip was done (the line came
    after its path). The job hears the choice once every check has passed, before any frame."""
    from stillmotion.jobs.pipeline import run_job
    from stillmotion.jobs.spec import JobSpec
    from stillmotion.request import AnimateRequest
    from stillmotion import config as config_mod

    heard: list[tuple[str, str]] = []
    spec = JobSpec(photo_path=photo_jpg, request=AnimateRequest.from_dict({"duration": 0.5, "fps": 8}))
    run_job(spec, config_mod.load(), progress=lambda stage, fraction: heard.append(("progress", stage)),
            chose=lambda why: heard.append(("chose", why)))
    chose = [k for k, (kind, _) in enumerate(heard) if kind == "chose"]
    rendering = [k for k, (kind, stage) in enumerate(heard) if kind == "progress" and stage == "generate"]
    assert len(chose) == 1 and rendering and chose[0] < rendering[0]
    assert heard[chose[0]][1].startswith("auto: ")


def test_a_glob_over_a_folder_animated_before_passes_over_its_clips_in_one_line(photo_jpg, fast_config, capsys):
    """`animate shoot/*` (or `shoot/**/*.tif`) after a first run: the clips, their .xmp and a TIFF
    sequence's frames are not photos. They were an error each (exit 2), and the frames were
    animated, a clip each, into the sequence's folder."""
    folder = photo_jpg.parent
    assert animate(str(photo_jpg), "--duration", "0.5", "--fps", "4", "--format", "tiff") == 0
    assert animate(str(photo_jpg), "--duration", "0.5", "--fps", "4") == 0
    capsys.readouterr()
    swept = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".jpg", ".mp4", ".xmp", ".tif"))
    assert len(swept) == 1 + 2 + 1 + 2        # the photo, the sequence's frames and .xmp, the clip and its .xmp
    assert animate(*map(str, swept), "--duration", "0.5", "--fps", "4") == 0
    out, err = capsys.readouterr()
    assert out.split() == [str(folder / "IMG_1234.motion-3.mp4"), str(folder / "IMG_1234.motion-3.xmp")]
    assert [line for line in err.splitlines() if "error" in line or "passed over" in line] == [
        f"stillmotion: passed over {', '.join(str(p) for p in swept if p != photo_jpg)}: made by Stillmotion "
        "(clips, their .xmp, TIFF sequence frames), not photos"]
    assert not list((folder / "IMG_1234.motion").glob("*.motion*"))
    assert animate(str(folder / "IMG_1234.motion.xmp")) == 2     # nothing else named: nothing to do
    assert capsys.readouterr().err.startswith("stillmotion: error: nothing to animate: ")


def test_a_photo_named_twice_is_animated_once(photo_jpg, fast_config, capsys):
    """`animate *.jpg IMG_1234.jpg`, or the same file by two paths: one clip, and a note."""
    again = photo_jpg.parent / ".." / photo_jpg.parent.name / photo_jpg.name
    assert animate(str(photo_jpg), str(again), "--duration", "0.5", "--fps", "4") == 0
    out, err = capsys.readouterr()
    assert out.split() == [str(photo_jpg.with_name("IMG_1234.motion.mp4")), str(photo_jpg.with_name("IMG_1234.motion.xmp"))]
    assert f"{again}: note: named more than once; animated once" in err


def test_one_photos_sidecar_is_not_put_on_every_clip_of_a_batch(photo_jpg, fast_config, capsys, tmp_path):
    """`animate *.jpg --xmp IMG_1234.xmp` stamped that photo's crop, title, keywords and rating on
    every clip of the batch."""
    second = save_photo(tmp_path / "IMG_2.jpg", skimage_photo("chelsea"), (320, 240))
    sidecar = tmp_path / "IMG_1234.xmp"
    sidecar.write_text('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                       '<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="5"/></rdf:RDF></x:xmpmeta>',
                       encoding="utf-8")
    before = sorted(tmp_path.iterdir())
    assert animate(str(photo_jpg), str(second), "--xmp", str(sidecar)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"stillmotion: error: --xmp {sidecar}: a sidecar belongs to one photo, and 2 were given; without "
                   "--xmp each photo uses its own sidecar beside it (IMG.xmp or IMG.jpg.xmp)"]
    assert sorted(tmp_path.iterdir()) == before
    assert animate(str(photo_jpg), "--xmp", str(sidecar), "--duration", "0.5", "--fps", "4") == 0   # one photo: its own


def test_a_batch_stopped_by_ctrl_c_says_how_far_it_got(photo_jpg, fast_config, capsys, monkeypatch, tmp_path):
    from stillmotion.jobs import pipeline

    second = save_photo(tmp_path / "IMG_2.jpg", skimage_photo("chelsea"), (320, 240))
    run_job = pipeline.run_job

    def stopped_at_the_second(spec, *args, **kwargs):
        if spec.photo_path == second:
            raise KeyboardInterrupt
        return run_job(spec, *args, **kwargs)
    monkeypatch.setattr(pipeline, "run_job", stopped_at_the_second)
    third = save_photo(tmp_path / "IMG_3.jpg", skimage_photo("chelsea"), (320, 240))
    assert animate(str(photo_jpg), str(second), str(third), "--duration", "0.5", "--fps", "8") == 130
    assert capsys.readouterr().err.strip().splitlines()[-2:] == [
        "stillmotion: 1 of 3 photos animated before the stop", "stillmotion: interrupted"]


def test_a_batchs_progress_bar_says_which_photo_of_how_many_in_80_columns(photo_jpg, fast_config, monkeypatch,
                                                                           tmp_path):
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    second = save_photo(tmp_path / "IMG_2.jpg", skimage_photo("chelsea"), (320, 240))
    assert animate(str(photo_jpg), str(second), "--duration", "2", "--fps", "8") == 0
    lines = [line for line in terminal.getvalue().split("\r") if "[" in line]
    assert any(line.startswith("1/2 IMG_1234.jpg") for line in lines)
    assert any(line.startswith("2/2 IMG_2.jpg") for line in lines)
    assert all(len(line) <= 79 for line in lines)     # (a longer one wraps, and each update is a new line)


def test_out_of_range_settings_rejected(photo_jpg, fast_config, capsys):
    with pytest.raises(SystemExit) as exit_info:          # (argparse's own check of the option)
        animate(str(photo_jpg), "--motion", "1.5")
    assert exit_info.value.code == 2
    assert "argument --motion: expected a number between 0 and 1, got '1.5'" in capsys.readouterr().err
    assert animate(str(photo_jpg), "--duration", "600") == 2
    assert "duration must be between" in capsys.readouterr().err
    assert not photo_jpg.with_name("IMG_1234.motion.mp4").exists()


def test_console_script_runs(photo_jpg, fast_config):
    import os
    import subprocess

    proc = subprocess.run(["stillmotion", "animate", str(photo_jpg), "--duration", "0.5", "--fps", "8"],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(photo_jpg.with_name("IMG_1234.motion.mp4")),
                                   str(photo_jpg.with_name("IMG_1234.motion.xmp"))]
    help_text = subprocess.run(["stillmotion", "animate", "--help"], capture_output=True, text=True).stdout
    assert "--camera" in help_text and "--anchor" in help_text


def test_own_outputs_are_recognised_exactly():
    from stillmotion.place import is_own_output

    ours = ["IMG.motion.mp4", "IMG.motion-2.xmp", "IMG.motion/frame_0001.tif", ".stillmotion-tmp-ab.mp4",
            "clip.matched-3.mov", "IMG.motion.failed.txt"]
    photos = ["IMG.jpg", "my.motion.study.jpg", "IMG.motion.jpg", "motion.png", "IMG.motion.notes.txt"]
    assert all(is_own_output(Path("f") / n) for n in ours)
    assert not any(is_own_output(Path("f") / n) for n in photos)


def test_python_dash_m_is_the_same_command(photo_jpg, fast_config):
    """`python -m stillmotion` where the scripts folder is not on PATH: same commands, same exit codes."""
    import os
    import subprocess
    import sys

    run = [sys.executable, "-m", "stillmotion"]
    proc = subprocess.run(run + ["animate", str(photo_jpg), "--duration", "0.5", "--fps", "8"],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == str(photo_jpg.with_name("IMG_1234.motion.mp4"))
    missing = subprocess.run(run + ["animate", str(photo_jpg.with_name("nope.jpg"))], capture_output=True,
                             text=True, env=os.environ.copy(), timeout=120)
    assert missing.returncode == 2 and missing.stderr.startswith("stillmotion: error:")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_output_into_a_reader_that_stopped_is_no_traceback(photo_jpg, fast_config):
    """`stillmotion inspect IMG.jpg | head` printed a BrokenPipeError traceback once head had
    its lines; now the command stops quietly with 141, as a program killed by SIGPIPE."""
    import os
    import subprocess

    read_end, write_end = os.pipe()
    os.close(read_end)                       # the reader has already gone
    try:
        proc = subprocess.run([sys.executable, "-m", "stillmotion", "inspect", str(photo_jpg)],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 141


def test_out_that_cannot_be_a_folder_is_one_line_before_any_work(photo_jpg, fast_config, capsys, tmp_path):
    blocker = tmp_path / "clips"
    blocker.write_text("a file where the folder would go")
    for out in (blocker, blocker / "sub"):
        assert animate(str(photo_jpg), "--out", str(out)) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("stillmotion: error:") and "clips is a file, not a folder" in err[0]
        assert f"{blocker}: clips is" not in err[0]       # (it said "…/clips: clips is a file")
    assert not list(tmp_path.rglob("*.motion*")) and not list(tmp_path.rglob(".stillmotion-tmp*"))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("variants", [1, 2])
def test_sigterm_mid_render_leaves_no_temporary_file(photo_jpg, fast_config, variants):
    """A process manager or Capture One's Open With ending the command: it stops like Ctrl-C,
    removes its hidden temporary file, and says why in one line. A take finished before the
    stop is kept, and printed like any clip (the second of two is stopped)."""
    import os
    import signal
    import subprocess
    import time

    proc = subprocess.Popen([sys.executable, "-m", "stillmotion", "animate", str(photo_jpg), "--duration", "30",
                             "--fps", "24", "--variants", str(variants)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    folder = photo_jpg.parent
    kept = [folder / "IMG_1234.motion.mp4", folder / "IMG_1234.motion.xmp"] if variants == 2 else []
    deadline = time.monotonic() + 120
    while not list(folder.glob(".stillmotion-tmp-*")) or not all(p.exists() for p in kept):   # under way
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1] == "stillmotion: stopped by SIGTERM"
    assert not list(folder.glob(".stillmotion-tmp-*")) and sorted(folder.glob("*.motion*")) == kept
    assert out.split() == [str(p) for p in kept]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_pressed_again_and_again_stops_once_and_cleanly(photo_jpg, fast_config):
    """An impatient photographer: the Ctrl-Cs after the first landed in the clean-up, printing a
    traceback from wherever they fell (and could cut the temporary file's removal short)."""
    import os
    import signal
    import subprocess
    import time

    proc = subprocess.Popen([sys.executable, "-m", "stillmotion", "animate", str(photo_jpg), "--duration", "30",
                             "--fps", "24"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy())
    folder = photo_jpg.parent
    deadline = time.monotonic() + 120
    while not list(folder.glob(".stillmotion-tmp-*")):      # under way
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.005)
    out, err = proc.communicate(timeout=60)
    # (Which engine `auto` chose is said as the render starts, not once the clip is made: a clip
    # never finished still says what was running.)
    said = err.strip().splitlines()
    assert said[-1:] == ["stillmotion: interrupted"] and all(": auto: " in line for line in said[:-1])
    assert len(said) == 2, said
    assert proc.returncode == 130, err
    assert not list(folder.glob(".stillmotion-tmp-*")) and not list(folder.glob("*.motion*"))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_under_nohup_the_terminal_closing_does_not_stop_the_batch(photo_jpg, fast_config):
    """`nohup stillmotion animate *.jpg &`, then logging out: SIGHUP, which nohup ignores, was
    taken over as a stop and the batch ended with "stopped by SIGHUP" and no clips."""
    import os
    import signal
    import subprocess
    import time

    proc = subprocess.Popen([sys.executable, "-m", "stillmotion", "animate", str(photo_jpg), "--duration", "2",
                             "--fps", "12"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy(), preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    deadline = time.monotonic() + 120
    while not list(photo_jpg.parent.glob(".stillmotion-tmp-*")):          # under way
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.split() == [str(photo_jpg.with_name("IMG_1234.motion.mp4")), str(photo_jpg.with_name("IMG_1234.motion.xmp"))]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX: whether a PID lives")
def test_a_killed_runs_temporary_is_swept_by_the_next_run_and_nothing_else(photo_jpg, fast_config):
    """SIGKILL (or a crash, a power cut) leaves the hidden temporary; the next run into the
    folder removes it once it is stale, and leaves live runs', other machines' and fresh ones."""
    import os
    import signal
    import subprocess
    import time

    from stillmotion import place

    folder = photo_jpg.parent
    proc = subprocess.Popen([sys.executable, "-m", "stillmotion", "animate", str(photo_jpg), "--duration", "30"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while not list(folder.glob(".stillmotion-tmp-*")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    (killed,) = folder.glob(".stillmotion-tmp-*")
    assert killed.name.startswith(f".stillmotion-tmp-{place.process_tag().rsplit('-', 1)[0]}-{proc.pid}-")
    stale = time.time() - 2 * place.ABANDONED_AFTER_S
    fresh_dead = killed.with_suffix(".xmp")
    fresh_dead.write_bytes(b"written a moment ago")                          # dead pid, but not stale
    other_host = folder / f".stillmotion-tmp-cli-elsewhere-{proc.pid}-0123456789ab.mp4"
    other_host.write_bytes(b"another machine's")
    live = folder / f".stillmotion-tmp-{place.process_tag()}-abcdefabcdef.mp4"   # this (live) process
    live.write_bytes(b"ours, running")
    daemon_job = folder / ".stillmotion-tmp-0123456789abcdef-00112233aabb.mp4"
    daemon_job.write_bytes(b"a daemon job's")
    for path in (killed, other_host, live, daemon_job):
        os.utime(path, (stale, stale))

    assert cli.main(["animate", str(photo_jpg), "--duration", "0.5", "--fps", "8"]) == 0
    assert not killed.exists()
    assert all(p.exists() for p in (fresh_dead, other_host, live, daemon_job))


def test_a_full_disk_is_one_line_naming_the_folder_and_leaves_nothing(photo_jpg, fast_config, capsys, monkeypatch):
    """ENOSPC deep in the encoder says only "[Errno 28] No space left on device" (or names a
    hidden temporary): the user needs the photo and the folder, and no half-written file."""
    import errno
    import os

    from stillmotion.jobs import pipeline

    real_encode = pipeline.encode

    def encode_until_the_disk_fills(frames, path, **kwargs):
        real_encode(frames, path, **kwargs)         # some of it is on disk...
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pipeline, "encode", encode_until_the_disk_fills)
    assert animate(str(photo_jpg), "--duration", "0.5", "--fps", "8") == 1
    err = [line for line in capsys.readouterr().err.strip().splitlines() if ": auto: " not in line]
    assert err == [f"stillmotion: error: cannot write the clip of IMG_1234.jpg into {photo_jpg.parent.resolve()}: "
                   "No space left on device; nothing was left there"]
    assert sorted(p.name for p in photo_jpg.parent.iterdir()) == ["IMG_1234.jpg", "stillmotion-home"]

    # Not every OSError is about the destination: others keep their own words.
    def encode_failing_otherwise(frames, path, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(pipeline, "encode", encode_failing_otherwise)
    assert animate(str(photo_jpg), "--duration", "0.5", "--fps", "8") == 1
    assert "Input/output error" in capsys.readouterr().err


def test_a_batch_whose_disk_fills_does_not_render_the_rest_only_to_fail(photo_jpg, fast_config, capsys,
                                                                      monkeypatch, tmp_path):
    """An archive overnight onto a disk that fills at photo 120 of 400: the 280 after it each
    rendered in full, then failed the same way. Photos whose clips go elsewhere still run."""
    import errno
    import os

    from stillmotion.jobs import pipeline

    card = tmp_path / "card"
    photos = [save_photo(tmp_path / f"IMG_{n}.jpg", skimage_photo("chelsea"), (320, 240)) for n in range(3)]
    (tmp_path / "b").mkdir()
    other = save_photo(tmp_path / "b" / "IMG_9.jpg", skimage_photo("chelsea"), (320, 240))
    encoded: list[Path] = []
    real_encode = pipeline.encode

    def encode_onto(full: Path):
        def encode(frames, path, **kwargs):
            encoded.append(path)
            if path.parent == full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_encode(frames, path, **kwargs)
        return encode

    # Two disks in one temp folder: the full one and the rest.
    monkeypatch.setattr(cli, "_disk_of", lambda folder: "full" if folder in (card, tmp_path) else "room")
    monkeypatch.setattr(pipeline, "encode", encode_onto(card))
    assert animate(*map(str, photos), "--duration", "0.5", "--fps", "8", "--out", str(card)) == 1
    assert len(encoded) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2:] == [f"stillmotion: {card}: No space left on device: not starting the 2 photos left whose clips go there",
                        f"stillmotion: 0 of 3 photos animated; not animated: {', '.join(map(str, photos))}"]

    encoded.clear()     # beside each photo: one folder's disk is full, the other's photo still runs
    monkeypatch.setattr(pipeline, "encode", encode_onto(tmp_path))
    assert animate(str(photos[0]), str(photos[1]), str(other), "--duration", "0.5", "--fps", "8") == 1
    assert len(encoded) == 2 and (tmp_path / "b" / "IMG_9.motion.mp4").is_file()


def test_takes_finished_before_the_disk_filled_are_printed_and_kept(photo_jpg, fast_config, capsys, monkeypatch):
    """--variants 3, the disk full at the second take: the first is in place, but it was not
    printed, and the error said "nothing was left there"."""
    disk_fills_at_encode(monkeypatch, 2)
    assert animate(str(photo_jpg), "--variants", "3", "--duration", "0.5", "--fps", "8") == 1
    out, err = capsys.readouterr()
    kept = [photo_jpg.with_name("IMG_1234.motion.mp4"), photo_jpg.with_name("IMG_1234.motion.xmp")]
    assert out.split() == [str(p) for p in kept] and all(p.is_file() for p in kept)
    assert [line for line in err.strip().splitlines() if ": auto: " not in line] == [
        f"stillmotion: error: cannot write take 2 of 3 of IMG_1234.jpg into {photo_jpg.parent.resolve()}: "
        "No space left on device; nothing was left there"]


@pytest.mark.parametrize("fps, rate, frames", [("23.976", (24000, 1001), 24), ("29.97", (30000, 1001), 30),
                                               ("25", (25, 1), 25), ("30000/1001", (30000, 1001), 30)])
def test_ntsc_frame_rates_are_exact(photo_jpg, fast_config, fps, rate, frames):
    """An editor's 23.976 timeline takes a clip at exactly 24000/1001 without a rate conversion;
    the rate may be given as editors write it (30000/1001 was refused as not a number)."""
    import av

    assert animate(str(photo_jpg), "--duration", "1", "--fps", fps) == 0
    clip = next(photo_jpg.parent.glob("IMG_1234.motion*.mp4"))
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert (stream.average_rate.numerator, stream.average_rate.denominator) == rate
        assert stream.frames == frames
    clip.unlink()


@pytest.mark.parametrize("argv, expect", [
    (["animate", "p.jpg", "--format", "avi"], "stillmotion animate: error: argument --format: invalid choice: 'avi'"),
    (["animate", "p.jpg", "--variants", "abc"], "stillmotion animate: error: argument --variants: invalid int value: 'abc'"),
    (["animate"], "stillmotion animate: error: the following arguments are required: PHOTO"),
    (["match", "clip.mp4"], "stillmotion match: error: the following arguments are required: --to"),
    (["match", "clip.mp4", "--to", "p.jpg", "--strength", "2"], "stillmotion match: error: argument --strength"),
    # The option typed is named (it said "style_consistency must be between ...").
    (["animate", "p.jpg", "--style", "3"], "stillmotion animate: error: argument --style: expected a number between 0 and 1"),
    (["animate", "p.jpg", "--motion", "-1"], "stillmotion animate: error: argument --motion: expected a number between 0 and 1"),
    (["models", "pull"], "stillmotion models pull: error: the following arguments are required: NAME"),
    # An option the command does not know names the command's --help, which lists its options.
    (["animate", "p.jpg", "--bogus"], "stillmotion animate: error: unrecognized arguments: --bogus; "
                                      "see `stillmotion animate --help`"),
    (["models", "list", "--all"], "stillmotion models list: error: unrecognized arguments: --all; "
                                  "see `stillmotion models list --help`"),
    (["animat", "p.jpg"], "stillmotion: error: argument COMMAND: invalid choice: 'animat'"),
    # An empty path (`--out "$DEST"`, DEST unset) wrote into the working folder; refused instead.
    (["animate", "p.jpg", "--out", ""], "stillmotion animate: error: argument --out: an empty path"),
    (["animate", ""], "stillmotion animate: error: argument PHOTO: an empty path"),
    (["match", "clip.mp4", "--to", "p.jpg", "--out", ""], "stillmotion match: error: argument --out: an empty path"),
    (["install-plugin", "--dest", ""], "stillmotion install-plugin: error: argument --dest: an empty path"),
    (["serve", "--config", ""], "stillmotion serve: error: argument --config: an empty path"),
    ([], "stillmotion: error: the following arguments are required: COMMAND"),
])
def test_a_bad_option_is_one_line_not_the_usage(argv, expect, capsys):
    """argparse printed its 15-line usage before the error; now one line, naming --help."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1, err
    assert err[0].startswith(expect) and "usage:" not in err[0]
    assert "--help" in err[0]


def _command_parsers(parser) -> dict:
    """Every command's parser by its name (`animate`, `models list`, ...)."""
    import argparse

    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[sub.prog.removeprefix("stillmotion ")] = sub
                found.update(_command_parsers(sub))
    return found


def test_every_option_of_every_command_says_what_it_is():
    """`serve --help` showed `--config CONFIG` with no word on it while `animate --help` said
    "config file (default: the user config)"; `--to`, `doctor --json` and `models list --json` had
    no text either. Every option now has one, and the same option reads the same everywhere."""
    commands = _command_parsers(cli.build_parser())
    assert {"animate", "serve", "watch", "analyze", "inspect", "match", "doctor", "models",
            "models list", "models pull", "install-plugin"} <= set(commands)
    texts: dict[str, set] = {}
    for name, parser in commands.items():
        for action in parser._actions:
            if action.help is None and action.dest not in ("help", "models_command"):
                pytest.fail(f"`stillmotion {name}`: {action.option_strings or action.dest} has no help text")
            for option in action.option_strings:
                texts.setdefault(option, set()).add(action.help)
    assert len(texts["--config"]) == 1 and len(texts["--xmp"]) == 1
    animate_help = " ".join(commands["animate"].format_help().split())
    for default in ("[animate] engine", "[animate] profile", "[animate] fps", "[animate] format",
                    "[output] long_edge", "default: h264", "default: start", "default: source"):
        assert default in animate_help


@pytest.mark.parametrize("variable,value,says", [
    ("STILLMOTION__ANIMATE__FORMAT", '"avi"', "[animate] format must be one of mp4, mov, gif, webp, tiff; got 'avi'"),
    ("STILLMOTION__OUTPUT__PRESET", '"bogus"', "[output] preset must be one of ultrafast,"),
    ("STILLMOTION__OUTPUT__LONG_EDGE", "0", "[output] long_edge must be between 64 and 16384; got 0"),
    ("STILLMOTION__ANIMATE__FPS", "500", "[animate] fps must be between 1 and 120; got 500"),
    ("STILLMOTION__ANIMATE__STYLE_CONSISTENCY", "5", "[animate] style_consistency must be between 0.0 and 1.0"),
    ("STILLMOTION__OUTPUT__CRF", "99", "[output] crf must be between 1 and 51; got 99"),
    ("STILLMOTION__OUTPUT__TRANSFER", '"rec709"', "[output] transfer must be one of srgb, bt709; got 'rec709'"),
])
def test_a_bad_config_value_is_one_line_and_exit_2_before_any_work(photo_jpg, fast_config, capsys, monkeypatch,
                                                                   variable, value, says):
    import time

    from stillmotion.jobs import pipeline

    def no_job(*_args, **_kwargs):
        raise AssertionError("a job was started with a bad config")
    monkeypatch.setattr(pipeline, "run_job", no_job)
    monkeypatch.setenv(variable, value)
    started = time.monotonic()
    assert animate(str(photo_jpg), "--duration", "1", "--fps", "4") == 2
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert err.startswith(f"stillmotion: error: environment ({variable}): {says}"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not list(photo_jpg.parent.glob("IMG_1234.motion*"))


@pytest.mark.parametrize("command", ["serve", "watch"])
def test_the_daemon_and_the_watcher_do_not_start_with_a_bad_config(fast_config, capsys, monkeypatch, tmp_path, command):
    from aiohttp import web

    from stillmotion.jobs import worker

    monkeypatch.setattr(web, "run_app", lambda *a, **k: pytest.fail("the daemon started"))
    monkeypatch.setattr(worker.Worker, "start", lambda self: pytest.fail("a worker started"))
    fast_config.write_text('[output]\npreset = "bogus"\n', encoding="utf-8")
    args = [command] + ([str(tmp_path)] if command == "watch" else [])
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"stillmotion: error: {fast_config}: [output] preset must be one of ultrafast, superfast, "
                           "veryfast, faster, fast, medium, slow, slower, veryslow, placebo; got 'bogus'")


def _read_only(monkeypatch, folder: Path) -> None:
    """`folder` refuses every write, as a locked SD card or a read-only share does (made real
    with chmod only for a user who is not root, so it is simulated where writability is tried)."""
    import errno
    import os
    import tempfile

    from stillmotion import place

    real = tempfile.TemporaryFile

    def temporary_file(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == folder.resolve():
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(place.tempfile, "TemporaryFile", temporary_file)


def test_an_out_folder_to_be_made_on_a_read_only_card_is_one_line_before_any_work(
        photo_jpg, fast_config, tmp_path, capsys, monkeypatch):
    """`--out card/clips` with the card read-only was found only after the clip was rendered,
    as "[Errno 30] Read-only file system: 'card/clips'"."""
    card = tmp_path / "card"
    card.mkdir()
    _read_only(monkeypatch, card)
    assert animate(str(photo_jpg), "--duration", "0.5", "--fps", "8", "--out", str(card / "clips")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"stillmotion: error: {card / 'clips'}: cannot make this folder in {card} (Read-only file system)"]
    assert list(card.iterdir()) == []


@pytest.mark.parametrize("out", [None, "card/graded.mp4", "card/graded/"])
def test_match_into_a_read_only_folder_is_one_line_before_any_work(photo_jpg, fast_config, tmp_path, capsys,
                                                                   monkeypatch, out):
    """A clip matched beside itself on a read-only card (or --out into one) ended in three
    chained tracebacks once the clip was matched; now one line, at once, like animate."""
    card = tmp_path / "card"
    card.mkdir()
    assert animate(str(photo_jpg), "--duration", "0.5", "--fps", "8", "--out", str(card)) == 0
    clip = card / "IMG_1234.motion.mp4"
    before = sorted(card.iterdir())
    capsys.readouterr()
    _read_only(monkeypatch, card)
    args = ["match", str(clip), "--to", str(photo_jpg)] + (["--out", str(tmp_path) + "/" + out] if out else [])
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    what = f"{card / 'graded'}: cannot make this folder in {card}" if out and out.endswith("/") else \
        f"{card}: cannot write into this folder"
    assert err == [f"stillmotion: error: {what} (Read-only file system)"]
    assert sorted(card.iterdir()) == before


def test_a_reader_that_quits_ends_the_run_quietly_and_the_clip_stays(photo_jpg, fast_config):
    """`stillmotion animate IMG.jpg | head -0` (or a closed terminal): a BrokenPipeError
    traceback, then "Exception ignored ... BrokenPipeError" at exit. Now quiet, with the
    status of a process whose reader quit (141), and the clip in place."""
    import os
    import subprocess

    proc = subprocess.Popen([sys.executable, "-m", "stillmotion", "animate", str(photo_jpg), "--duration", "0.5",
                             "--fps", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    proc.stdout.close()                   # the reader is gone before the first path is printed
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err and "error" not in err, err
    assert sorted(p.name for p in photo_jpg.parent.glob("IMG_1234.motion*")) == ["IMG_1234.motion.mp4",
                                                                                  "IMG_1234.motion.xmp"]


def test_stdout_on_a_full_disk_is_one_line(photo_jpg, fast_config, capsys, monkeypatch):
    """`stillmotion animate IMG.jpg > /Volumes/Full/list.txt`: an OSError traceback."""
    import errno
    import io

    class FullDisk(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sys, "stdout", FullDisk())
    assert animate(str(photo_jpg), "--duration", "0.5", "--fps", "8") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "stillmotion: error: cannot write to standard output: No space left on device"
    assert not [line for line in err if "Traceback" in line]
    assert photo_jpg.with_name("IMG_1234.motion.mp4").exists()


def test_each_variants_path_is_printed_once_it_is_placed(photo_jpg, fast_config, capsys, monkeypatch):
    """`--variants 3 | while read clip`: no path came out until every variant was done, and when
    a later variant failed, the clips already placed were never printed (a script lost them)."""
    import errno
    import os

    from stillmotion.jobs import pipeline

    real_encode, calls = pipeline.encode, []

    def encode_then_fail_the_second(frames, path, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            # The first clip is in place: its paths are on stdout already, before the job ends.
            assert capsys.readouterr().out.splitlines() == [str(photo_jpg.with_name("IMG_1234.motion.mp4")),
                                                            str(photo_jpg.with_name("IMG_1234.motion.xmp"))]
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_encode(frames, path, **kwargs)

    monkeypatch.setattr(pipeline, "encode", encode_then_fail_the_second)
    assert animate(str(photo_jpg), "--duration", "0.5", "--fps", "8", "--variants", "2") == 1
    captured = capsys.readouterr()
    assert captured.out == ""                 # (printed once: not again at the end)
    assert "Input/output error" in captured.err
    assert photo_jpg.with_name("IMG_1234.motion.mp4").exists()


def test_a_closed_stderr_or_stdout_neither_fails_the_run_nor_mixes_into_the_paths(photo_jpg, fast_config):
    """Started with stderr closed (`2>&-`), the "auto: ... using the built-in parallax engine"
    line went to stdout, among the clip paths; with stdout closed (`>&-`), a finished run ended
    in an AttributeError traceback and status 1."""
    import os
    import shlex
    import subprocess

    def run(redirect: str) -> subprocess.CompletedProcess:
        command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "stillmotion", "animate", str(photo_jpg),
                                                    "--duration", "0.5", "--fps", "8"])
        return subprocess.run(["sh", "-c", f"exec {command} {redirect}"], capture_output=True, text=True,
                              env=os.environ.copy(), timeout=60)

    closed_stderr = run("2>&-")
    assert closed_stderr.returncode == 0
    assert closed_stderr.stdout.splitlines() == [str(photo_jpg.with_name("IMG_1234.motion.mp4")),
                                                 str(photo_jpg.with_name("IMG_1234.motion.xmp"))]
    closed_stdout = run(">&-")
    assert closed_stdout.returncode == 0, closed_stdout.stderr
    assert "Traceback" not in closed_stdout.stderr
    assert photo_jpg.with_name("IMG_1234.motion-2.mp4").exists()


def test_a_photo_named_like_an_option_is_explained(photo_jpg, fast_config, capsys, monkeypatch):
    """`for f in *.jpg; do stillmotion animate "$f"; done` over `-x.jpg` said only "the
    following arguments are required: PHOTO"."""
    monkeypatch.chdir(photo_jpg.parent)
    photo_jpg.rename("-x.jpg")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["animate", "-x.jpg"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "(-x.jpg is a file: name it ./-x.jpg, or put -- before it)" in err[0], err
    assert animate("./-x.jpg", "--duration", "0.5", "--fps", "8") == 0
    # Printed as the next command can take them, not as options.
    assert capsys.readouterr().out.splitlines() == ["./-x.motion.mp4", "./-x.motion.xmp"]


def test_the_help_says_where_results_go_and_what_the_exit_status_means(capsys):
    """A script author reads `stillmotion --help`: the exit status was only in the README."""
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Results go to stdout" in text and "errors to stderr" in text
    assert "Exit status: 0 done, 1 a job failed, 2 bad input; 130 after Ctrl-C, 143 after SIGTERM" in text


def test_a_photo_name_that_is_not_utf8_is_printed_as_its_own_bytes(photo_jpg, fast_config):
    """`cafe\\xe9.jpg` from an old share, on a UTF-8 locale whose stdout is strict (en_US.UTF-8):
    the clip was made, then a UnicodeEncodeError traceback instead of its path, and status 1."""
    import os
    import subprocess

    folder = os.fsencode(photo_jpg.parent)
    os.rename(os.fsencode(photo_jpg), folder + b"/caf\xe9.jpg")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run([sys.executable, "-m", "stillmotion", "animate", folder + b"/caf\xe9.jpg",
                           "--duration", "0.5", "--fps", "8"], capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout.splitlines() == [folder + b"/caf\xe9.motion.mp4", folder + b"/caf\xe9.motion.xmp"]


def test_a_photo_name_stdouts_encoding_cannot_write_is_printed_escaped(photo_jpg, fast_config):
    """`桜.jpg` on a Latin-1 (or ASCII) locale: the clip was made, then a UnicodeEncodeError
    traceback instead of its path, and status 1. The name comes out escaped; a name that is
    not UTF-8 still comes out as its own bytes."""
    import os
    import subprocess

    folder = os.fsencode(photo_jpg.parent)
    os.rename(os.fsencode(photo_jpg), folder + "/桜.jpg".encode())
    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    done = subprocess.run([sys.executable, "-m", "stillmotion", "animate", folder + "/桜.jpg".encode(),
                           "--duration", "0.5", "--fps", "8"], capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout.splitlines() == [folder + b"/\\u685c.motion.mp4", folder + b"/\\u685c.motion.xmp"]


def test_out_with_a_tilde_the_shell_left_alone_is_the_home_folder(photo_jpg, fast_config, capsys, monkeypatch, tmp_path):
    """`--out=~/Delivery` (bash expands no ~ there) made a folder named "~" in the working folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert animate(str(photo_jpg), "--out=~/Delivery", "--duration", "0.5", "--fps", "8") == 0
    assert capsys.readouterr().out.splitlines()[0] == str(home / "Delivery" / "IMG_1234.motion.mp4")
    assert not (tmp_path / "~").exists()


def test_out_named_like_a_clip_is_refused_before_any_work(photo_jpg, fast_config, capsys, tmp_path):
    """`animate --out final.mp4` (match's --out takes a file) made a folder named final.mp4."""
    assert animate(str(photo_jpg), "--out", str(tmp_path / "final.mp4")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "animate writes into a folder, naming each clip after its photo" in err[0], err
    assert not (tmp_path / "final.mp4").exists()
    (tmp_path / "final.mp4").mkdir()                # a folder of that name, made on purpose: used
    assert animate(str(photo_jpg), "--out", str(tmp_path / "final.mp4"), "--duration", "0.5", "--fps", "8") == 0
    assert (tmp_path / "final.mp4" / "IMG_1234.motion.mp4").is_file()


def test_wildcards_a_windows_shell_passes_as_typed_are_expanded(photo_jpg, fast_config, capsys, monkeypatch,
                                                               tmp_path):
    """`stillmotion animate *.jpg` (the README's example) in cmd.exe or PowerShell: Windows shells
    hand a program its wildcards as typed, and the batch failed with '*.jpg: no such file'.
    Expanded as a POSIX shell would (sorted); a pattern that matches nothing is still said."""
    second = save_photo(tmp_path / "IMG_2.jpg", skimage_photo("chelsea"), (160, 120))
    monkeypatch.setattr(cli, "SHELL_EXPANDS_WILDCARDS", False, raising=False)   # as on Windows
    assert animate(str(tmp_path / "IMG_*.jpg"), "--duration", "0.5", "--fps", "4", "--format", "gif") == 0
    assert [Path(p).name for p in capsys.readouterr().out.splitlines() if p.endswith(".gif")] == [
        "IMG_1234.motion.gif", "IMG_2.motion.gif"]
    assert second.is_file() and photo_jpg.is_file()
    assert animate(str(tmp_path / "*.tif"), "--duration", "0.5", "--fps", "4") == 2
    assert capsys.readouterr().err.strip() == f"stillmotion: error: {tmp_path / '*.tif'}: no such file"


def test_a_path_windows_cannot_write_in_its_code_page_is_printed_not_a_traceback(fast_config, monkeypatch,
                                                                                tmp_path):
    """Windows writes a redirected stdout (`> clips.txt`, a script's pipe) in its ANSI code page,
    cp1252 here, which has no Ł: the clip of Łódź.jpg was made, then printing its path ended the
    run in a UnicodeEncodeError traceback (a batch stopped there). A pipe or a file gets UTF-8 there."""
    import io

    photo = save_photo(tmp_path / "Łódź.jpg", skimage_photo("astronaut"), (160, 120))
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="cp1252", write_through=True)
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(cli, "UTF8_WHEN_REDIRECTED", True, raising=False)   # as on Windows
    assert animate(str(photo), "--duration", "0.5", "--fps", "4", "--format", "gif") == 0
    printed = stdout.buffer.getvalue().decode("utf-8").splitlines()
    assert printed[0] == str(tmp_path / "Łódź.motion.gif")


def test_a_failed_encode_stops_the_frames_rendered_ahead_at_once(photo_jpg, fast_config, monkeypatch):
    """The disk filled while TIFF frames were written: the frames rendered ahead went on in their
    thread until the garbage collector found them, and a one-off run ended in the middle of that
    ("terminate called without an active exception", status 134, instead of 1)."""
    import errno
    import gc
    import threading
    import time

    from stillmotion import config as config_mod
    from stillmotion.jobs import pipeline
    from stillmotion.request import AnimateRequest

    def encode_one_then_fill(frames, path, **kwargs):
        next(iter(frames))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pipeline, "encode", encode_one_then_fill)
    spec = pipeline.JobSpec(photo_path=photo_jpg, request=AnimateRequest.from_dict({"duration": 2, "fps": 12}))
    gc.disable()                 # (what the collector would do some time later is not counted on)
    try:
        with pytest.raises(Exception, match="No space left"):
            pipeline.run_job(spec, config_mod.load())
        deadline = time.monotonic() + 5
        while any(t.name == "stillmotion-prefetch" for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the frames rendered ahead are still being rendered"
            time.sleep(0.01)
    finally:
        gc.enable()


def test_a_glob_over_a_folder_with_sidecars_passes_them_over(photo_jpg, fast_config, capsys):
    """`animate shoot/*` in a folder of photos and their XMP sidecars (Lightroom's IMG.xmp,
    darktable's IMG.jpg.xmp): each sidecar was an error ('not an image'), the batch ended
    '1 of 3 photos animated' with exit status 2. They are passed over in one line."""
    folder = photo_jpg.parent
    sidecar = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' \
              '<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4"/></rdf:RDF></x:xmpmeta>'
    for name in ("IMG_1234.xmp", "IMG_1234.jpg.xmp"):
        (folder / name).write_text(sidecar)
    swept = sorted(str(p) for p in folder.iterdir() if p.is_file())
    assert animate(*swept, "--duration", "0.5", "--fps", "4") == 0
    out, err = capsys.readouterr()
    assert out.split() == [str(folder / "IMG_1234.motion.mp4"), str(folder / "IMG_1234.motion.xmp")]
    assert "error" not in err and "not animated" not in err
    assert (f"stillmotion: passed over {folder / 'IMG_1234.jpg.xmp'}, {folder / 'IMG_1234.xmp'}: "
            "XMP sidecars (each is read with its photo), not photos") in err.splitlines()
    assert animate(str(folder / "IMG_1234.xmp")) == 2     # nothing else named: nothing to do
    assert capsys.readouterr().err.startswith(f"stillmotion: error: nothing to animate: {folder / 'IMG_1234.xmp'}: XMP")


def test_analyze_over_a_glob_passes_over_clips_and_sidecars(photo_jpg, fast_config, capsys):
    """`analyze shoot/*` in a folder animated before: each clip, clip .xmp and photo sidecar was
    'not an image Stillmotion can read' and the run ended with exit status 2."""
    folder = photo_jpg.parent
    for name in ("IMG_1234.motion.mp4", "IMG_1234.motion.xmp", "IMG_1234.xmp"):
        (folder / name).write_bytes(b"")
    swept = sorted(str(p) for p in folder.iterdir() if p.is_file())
    assert cli.main(["analyze", *swept]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{photo_jpg}: ") and "error" not in err
    assert err.splitlines() == [
        f"stillmotion: passed over {folder / 'IMG_1234.motion.mp4'}, {folder / 'IMG_1234.motion.xmp'}: made by "
        "Stillmotion (clips, their .xmp, TIFF sequence frames), not photos",
        f"stillmotion: passed over {folder / 'IMG_1234.xmp'}: XMP sidecars (each is read with its photo), not photos"]


def test_a_long_thin_strip_keeps_its_shape_and_a_legible_height(tmp_path, fast_config):
    """A 5000x16 strip at long_edge 320 came out 320x2: its 1 px height doubled to the 2 px the
    codec needs, the picture stretched to twice its height. The short side now stays at least
    16 px (the smallest photo animated), the long one following, so the shape is the photo's."""
    rng = np.random.default_rng(3)
    strip = save_photo(tmp_path / "strip.png", (rng.random((16, 5000, 3)) * 255).astype(np.uint8))
    assert animate(str(strip), "--duration", "0.5", "--fps", "4", "--engine", "parallax") == 0
    info = probe(tmp_path / "strip.motion.mp4")
    assert info.height >= 16
    assert info.width / info.height == pytest.approx(5000 / 16, rel=0.01)


def test_a_panorama_at_a_small_long_edge_is_rounded_to_the_nearest_even_height(tmp_path, fast_config):
    """A 6:1 panorama at long_edge 320 is 53.3 px high: it came out 320x52 (rounded, then down to
    even), squashed 2.5 %, where 320x54 is 1.2 % off."""
    pano = save_photo(tmp_path / "pano.png", skimage_photo("coffee"), (1200, 200))
    assert animate(str(pano), "--duration", "0.5", "--fps", "4", "--engine", "parallax") == 0
    info = probe(tmp_path / "pano.motion.mp4")
    assert (info.width, info.height) == (320, 54)


def test_a_batchs_progress_bar_gives_the_time_to_the_end_of_the_batch(photo_jpg, monkeypatch, tmp_path):
    """On `3/40` the ETA was the current photo's: 12 s left of an hour's batch."""
    import io
    import re

    from stillmotion import progress as progress_mod
    from stillmotion.jobs import pipeline
    from stillmotion.jobs.spec import JobResult

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    class Reports:                     # hands the pipeline's (stage, overall, eta) to the bar as said
        def __init__(self, on_update):
            self.on_update = on_update

    def render(spec, config, *, progress, **kwargs):
        progress.on_update("prepare", 0.0, None)      # no pace yet
        progress.on_update("generate", 0.5, 10.0)     # this photo: 10 s left
        return JobResult()

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress_mod, "JobProgress", Reports)
    monkeypatch.setattr(pipeline, "run_job", render)
    photos = [save_photo(tmp_path / f"IMG_{n}.jpg", skimage_photo("chelsea"), (64, 48)) for n in range(3)]
    assert animate(*map(str, photos)) == 0
    lines = [line for line in terminal.getvalue().split("\r") if "[" in line]
    assert all(len(line) <= 79 for line in lines)

    def batch_eta(position: str) -> str:
        line = next(line for line in lines if line.startswith(position) and "generate" in line)
        return re.search(r"batch ETA +(\S+)", line).group(1)
    assert batch_eta("3/3") == "10s"                           # the last photo: its own time left
    assert batch_eta("1/3") not in ("10s", "0s")               # the first: two more photos after it
    # After a first photo, the batch's ETA is there from the next one's start (at the pace so far).
    assert all("batch ETA" in line for line in lines if line.startswith(("2/3", "3/3")))
