"""Colour through real files: `stillmotion match VIDEO --to PHOTO`, and parallax clips decoded from MP4."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stillmotion import cli
from stillmotion.photo import resize
from stillmotion.colour import metrics
from stillmotion.colour.drift import Drift, drifted_clip
from stillmotion.video.decode import frame_times, probe, read_frames
from stillmotion.video.encode import EncodeSettings, encode

from support import save_photo, skimage_photo

W, H, N = 256, 144, 24


@pytest.fixture
def drifted_mp4(tmp_path: Path, fast_config: Path) -> tuple[Path, Path, list[np.ndarray]]:
    """A real photo, and a clip of it with growing colour drift and flicker, made 'elsewhere' as MP4."""
    pixels = skimage_photo("coffee")
    photo = save_photo(tmp_path / "cafe.jpg", pixels, quality=95)
    pairs = list(drifted_clip(pixels.astype(np.float32) / 255.0, W, H, N, Drift()))
    clip = tmp_path / "cafe-from-another-app.mp4"
    encode((d for _, d in pairs), clip, width=W, height=H, fps=24, settings=EncodeSettings(preset="ultrafast"))
    return clip, photo, [t for t, _ in pairs]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_match_writes_a_corrected_copy_beside_the_clip(drifted_mp4, capsys) -> None:
    clip, photo, truth = drifted_mp4
    before = digest(clip)
    assert cli.main(["match", str(clip), "--to", str(photo)]) == 0
    first = clip.with_name("cafe-from-another-app.matched.mp4")
    assert capsys.readouterr().out.strip() == str(first)
    assert digest(clip) == before                           # the input is never touched
    info = probe(first)
    assert (info.width, info.height, info.n_frames, round(info.fps)) == (W, H, N, 24)
    drifted, fixed = list(read_frames(clip)), list(read_frames(first))
    assert metrics.clip_delta_e(drifted, truth) > 4.0
    assert metrics.clip_delta_e(fixed, truth) <= 2.0
    assert metrics.flicker(fixed) * 5 <= metrics.flicker(drifted)
    # Never overwrite: a second run takes the next name, and the first copy is left as it was.
    first_digest = digest(first)
    assert cli.main(["match", str(clip), "--to", str(photo)]) == 0
    assert capsys.readouterr().out.strip() == str(clip.with_name("cafe-from-another-app.matched-2.mp4"))
    assert digest(first) == first_digest
    assert len(list(read_frames(first))) == N
    assert not list(clip.parent.glob("*.xmp"))               # a clip without XMP gets none


def test_match_says_when_no_opening_frame_lines_up_with_the_photo(drifted_mp4, tmp_path, capsys) -> None:
    """A clip that does not start on the photo (another photo's clip, a cloud service's reframed
    take) is matched by its colours as a whole, a looser match: match said nothing of it, and
    the wrong photo given with --to went unnoticed. A clip that lines up gets no such line."""
    clip, photo, _ = drifted_mp4
    assert cli.main(["match", str(clip), "--to", str(photo)]) == 0
    assert "note:" not in capsys.readouterr().err
    other = save_photo(tmp_path / "astronaut.jpg", skimage_photo("astronaut"), (W, H), quality=95)
    assert cli.main(["match", str(clip), "--to", str(other)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{clip.name}: note: its opening frames do not line up with "
                                               "astronaut.jpg (alignment ")
    assert err[0].endswith("is it a clip of this photo?")


@pytest.mark.parametrize("out", [None, "graded.mp4"])
def test_a_matched_stillmotion_clip_keeps_its_xmp_and_ai_disclosure(photo_jpg, fast_config, tmp_path, capsys, out):
    """Re-grading a clip must not strip the record of how it was made and that it is AI-generated."""
    import pyexiv2

    from stillmotion.metadata.bmff import read_embedded_xmp

    assert cli.main(["animate", str(photo_jpg), "--duration", "0.5", "--fps", "8"]) == 0
    clip = photo_jpg.with_name("IMG_1234.motion.mp4")
    capsys.readouterr()
    args = ["match", str(clip), "--to", str(photo_jpg)] + (["--out", str(tmp_path / out)] if out else [])
    assert cli.main(args) == 0
    printed = [Path(line) for line in capsys.readouterr().out.split("\n") if line]
    matched = printed[0]
    assert matched == (tmp_path / out if out else clip.with_name("IMG_1234.motion.matched.mp4"))
    assert printed == [matched, matched.with_suffix(".xmp")]      # both files it made, as animate says them
    source, carried = read_embedded_xmp(clip), read_embedded_xmp(matched)
    assert source and carried and matched.with_suffix(".xmp").read_bytes() == carried
    with pyexiv2.Image(str(clip)) as before, pyexiv2.Image(str(matched.with_suffix(".xmp"))) as after:
        was, now = before.read_xmp(), after.read_xmp()
    assert now["Xmp.iptcExt.DigitalSourceType"].endswith("compositeSynthetic")
    # The same record, but a document of its own (one identity for two files confuses an asset manager),
    # and the colour as this file has it: held to the photo at full strength, by an aligned fit (the
    # parallax clip's record said `exact` at the profile's style consistency).
    ids = ("Xmp.xmpMM.DocumentID", "Xmp.xmpMM.InstanceID")
    colour = {"Xmp.stillmotion.colour/stillmotion:colour_method": "aligned",
              "Xmp.stillmotion.colour/stillmotion:style_consistency": "1", "Xmp.stillmotion.colour/stillmotion:match": "True"}
    assert was["Xmp.stillmotion.colour/stillmotion:colour_method"] == "exact"
    assert all(now[k] != was[k] for k in ids) and {k: now[k] for k in colour} == colour
    assert {k: v for k, v in now.items() if k not in ids and k not in colour} == \
        {k: v for k, v in was.items() if k not in ids and k not in colour}
    # It says what it is where the container changes (an H.264 .mov comes out .mp4).
    from stillmotion.colour.match import _clip_xmp

    assert b"<dc:format>video/mp4</dc:format>" in source
    assert b"<dc:format>video/quicktime</dc:format>" in _clip_xmp(clip, ".mov")


def test_match_leaves_the_place_out_when_the_config_says_carry_gps_false(photo_jpg, fast_config, tmp_path, capsys):
    """`[metadata] carry_gps = false` kept a photo's GPS and place names out of an animated clip,
    but `match` (the colour grade of a clip before delivery) copied the clip's own GPS and city
    into the matched file and its sidecar all the same."""
    import pyexiv2

    from stillmotion.metadata.bmff import read_embedded_xmp

    with pyexiv2.Image(str(photo_jpg)) as image:
        image.modify_xmp({"Xmp.exif.GPSLatitude": "37,57.691300N", "Xmp.exif.GPSLongitude": "119,6.414200W",
                          "Xmp.exif.GPSAltitude": "20617065/10000", "Xmp.exif.GPSAltitudeRef": "0",
                          "Xmp.photoshop.City": "Lee Vining", "Xmp.photoshop.Country": "USA",
                          "Xmp.iptc.Location": "Mono Lake", "Xmp.dc.title": {'lang="x-default"': "Tufa"}})
    assert cli.main(["animate", str(photo_jpg), "--duration", "0.5", "--fps", "8"]) == 0
    clip = photo_jpg.with_name("IMG_1234.motion.mp4")
    assert b"Lee Vining" in read_embedded_xmp(clip) and b"GPSLatitude" in read_embedded_xmp(clip)
    private = tmp_path / "private.toml"
    private.write_text(fast_config.read_text(encoding="utf-8") + "[metadata]\ncarry_gps = false\n", encoding="utf-8")
    assert cli.main(["match", str(clip), "--to", str(photo_jpg), "--config", str(private)]) == 0
    capsys.readouterr()
    matched = clip.with_name("IMG_1234.motion.matched.mp4")
    for packet in (read_embedded_xmp(matched), matched.with_suffix(".xmp").read_bytes()):
        for place in (b"GPS", b"Lee Vining", b"USA", b"Mono Lake", b"photoshop:City", b"Iptc4xmpCore:Location"):
            assert place not in packet
        assert b"Tufa" in packet and b"compositeSynthetic" in packet     # the rest of the record stays
    with pyexiv2.Image(str(matched.with_suffix(".xmp"))) as sidecar:
        assert "Xmp.dc.title" in sidecar.read_xmp()                      # (and is still XMP a reader takes)
    # With the default (carry_gps = true) the place comes along, as animate carries it.
    assert cli.main(["match", str(clip), "--to", str(photo_jpg)]) == 0
    capsys.readouterr()
    assert b"Lee Vining" in read_embedded_xmp(clip.with_name("IMG_1234.motion.matched-2.mp4"))


def test_a_matched_clips_xmp_records_its_own_encoding(photo_jpg, fast_config, tmp_path, capsys):
    """An HEVC clip matched (re-encoded as H.264) kept 'codec hevc' in its XMP, and matched into a
    ProRes .mov it still said 'format mp4' with a crf: the record described another file."""
    assert cli.main(["animate", str(photo_jpg), "--duration", "0.5", "--fps", "8", "--codec", "hevc"]) == 0
    clip = photo_jpg.with_name("IMG_1234.motion.mp4")
    assert b"<stillmotion:codec>hevc</stillmotion:codec>" in photo_jpg.with_name("IMG_1234.motion.xmp").read_bytes()
    assert cli.main(["match", str(clip), "--to", str(photo_jpg)]) == 0
    assert cli.main(["match", str(clip), "--to", str(photo_jpg), "--out", str(tmp_path / "graded.mov")]) == 0
    capsys.readouterr()
    as_mp4 = clip.with_name("IMG_1234.motion.matched.xmp").read_bytes()
    assert b"<stillmotion:codec>h264</stillmotion:codec>" in as_mp4 and b"<stillmotion:crf>18</stillmotion:crf>" in as_mp4
    as_mov = (tmp_path / "graded.xmp").read_bytes()
    assert b"<stillmotion:format>mov</stillmotion:format>" in as_mov
    assert b"<stillmotion:codec>prores_422hq</stillmotion:codec>" in as_mov
    assert b"stillmotion:crf" not in as_mov and b"stillmotion:preset" not in as_mov
    assert b"<stillmotion:seed>" in as_mov              # (how the clip was made is still all there)


def test_a_matched_gif_keeps_the_record_its_sidecar_holds(photo_jpg, fast_config, tmp_path, capsys):
    """A GIF (or WebP) keeps its record, and that it is AI-generated, in its sidecar only: matched
    to MP4 it lost both. The clip's own sidecar is carried when it is a Stillmotion record; a
    photo's sidecar beside a clip named like the photo is not."""
    from stillmotion.metadata.bmff import read_embedded_xmp

    assert cli.main(["animate", str(photo_jpg), "--duration", "0.5", "--fps", "8", "--format", "gif"]) == 0
    gif = photo_jpg.with_name("IMG_1234.motion.gif")
    capsys.readouterr()
    assert cli.main(["match", str(gif), "--to", str(photo_jpg)]) == 0
    matched = Path(capsys.readouterr().out.split()[0])
    carried = read_embedded_xmp(matched)
    assert carried and b"compositeSynthetic" in carried and b"<stillmotion:seed>" in carried
    assert b"<stillmotion:format>mp4</stillmotion:format>" in carried and b"video/mp4" in carried
    assert matched.with_suffix(".xmp").read_bytes() == carried
    # A clip from elsewhere, named like its photo, beside the photo's own sidecar: not its record.
    other = tmp_path / "holiday.mp4"
    other.write_bytes(matched.read_bytes())
    from stillmotion.metadata.bmff import embed_xmp

    embed_xmp(other, b"")
    assert not read_embedded_xmp(other)
    (tmp_path / "holiday.xmp").write_bytes(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
                                           b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>')
    assert cli.main(["match", str(other), "--to", str(photo_jpg)]) == 0
    assert read_embedded_xmp(Path(capsys.readouterr().out.split()[0])) is None


def test_match_says_what_xmp_it_could_not_carry_and_keeps_the_users_sidecar(photo_jpg, fast_config, tmp_path,
                                                                            capsys) -> None:
    """A sidecar name already taken beside --out, or a clip's refused XMP packet, is said (one
    warning line each), not silently dropped; the user's file stays as it was."""
    from stillmotion.metadata.bmff import embed_xmp, read_embedded_xmp

    assert cli.main(["animate", str(photo_jpg), "--duration", "0.5", "--fps", "8"]) == 0
    clip = photo_jpg.with_name("IMG_1234.motion.mp4")
    capsys.readouterr()
    mine = tmp_path / "graded.xmp"
    mine.write_bytes(b"the user's own notes")
    assert cli.main(["match", str(clip), "--to", str(photo_jpg), "--out", str(tmp_path / "graded.mp4")]) == 0
    err = capsys.readouterr().err
    assert mine.read_bytes() == b"the user's own notes"
    assert f"IMG_1234.motion.mp4: warning: {mine} already exists" in err and "embedded in graded.mp4 only" in err
    assert read_embedded_xmp(tmp_path / "graded.mp4")          # the record still travels, embedded
    # A packet that is refused (a DOCTYPE: entity tricks) is not carried, and the user is told why.
    hostile = tmp_path / "hostile.mp4"
    hostile.write_bytes(clip.read_bytes())
    embed_xmp(hostile, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><x:xmpmeta xmlns:x="adobe:ns:meta/"/>')
    assert cli.main(["match", str(hostile), "--to", str(photo_jpg)]) == 0
    out, err = capsys.readouterr()
    assert "hostile.mp4: warning: the XMP in hostile.mp4: XML DOCTYPE/ENTITY" in err and "not carried over" in err
    assert read_embedded_xmp(Path(out.strip())) is None


def test_match_shows_its_progress_on_a_terminal(drifted_mp4, monkeypatch, capsys) -> None:
    """Matching a long clip took over a minute with nothing on screen: a terminal now shows the
    bar animate shows (frames written, an ETA), cleared before the result's path is printed."""
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    clip, photo, _ = drifted_mp4
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert cli.main(["match", str(clip), "--to", str(photo)]) == 0
    shown = terminal.getvalue().split("\r")
    bars = [line for line in shown if "match" in line and "%" in line]
    percents = [int(line.split("%")[0].split()[-1]) for line in bars]
    assert len(bars) >= 3 and percents == sorted(percents) and percents[-1] == 100, shown
    assert shown[-1] == "" and shown[-2].strip() == ""          # the bar is cleared at the end
    assert capsys.readouterr().out.strip().endswith(".matched.mp4")


@pytest.mark.parametrize("rotation", [90, 270])      # 270 (-90): an iPhone held upright
def test_a_phone_clip_recorded_on_its_side_comes_back_upright(tmp_path: Path, fast_config, capsys, rotation) -> None:
    """A phone held upright stores its frames on their side with a display matrix that turns
    them; match read them as stored and wrote a landscape copy without the matrix: the
    result played sideways, and the frames did not line up with the portrait photo."""
    import av

    if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
        pytest.skip("this PyAV cannot write a display matrix (set_display_rotation: PyAV 18)")
    pixels = skimage_photo("astronaut")[:, 64:-64]                   # a portrait photo, 384x512
    photo = save_photo(tmp_path / "portrait.jpg", pixels, (144, 192), quality=95)
    upright = np.asarray(Image.open(photo), dtype=np.uint8)
    stored = np.ascontiguousarray(np.rot90(upright, -rotation // 90))  # as the phone stores it
    clip = tmp_path / "IMG_0001.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=24, options={"preset": "ultrafast", "crf": "12"})
        stream.width, stream.height, stream.pix_fmt = stored.shape[1], stored.shape[0], "yuv420p"
        stream.set_display_rotation(rotation)
        for _ in range(12):
            for packet in stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert probe(clip).width == 144 and probe(clip).height == 192 and probe(clip).rotation == rotation
    assert cli.main(["match", str(clip), "--to", str(photo)]) == 0
    matched = Path(capsys.readouterr().out.strip())
    info = probe(matched)
    assert (info.width, info.height, info.rotation) == (144, 192, 0)    # upright, needing no matrix
    first = next(read_frames(matched))
    assert np.abs(first * 255.0 - upright).mean() < 3.0                 # the photo, the right way up


@pytest.mark.parametrize("out", [None, "graded.mov"])
def test_an_anamorphic_clip_keeps_its_pixel_shape(tmp_path: Path, fast_config, capsys, out) -> None:
    """A clip of non-square pixels (HDV's 1440x1080 shown 16:9, an anamorphic lens) came back
    from match labelled square: an editor showed it squeezed. Its pixel shape comes along."""
    import av
    from fractions import Fraction

    photo = save_photo(tmp_path / "wide.jpg", skimage_photo("coffee"), (128, 72), quality=95)
    stored = np.asarray(Image.open(photo).resize((96, 72)), dtype=np.uint8)   # squeezed 4:3 pixels
    clip = tmp_path / "HDV_0001.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "12"})
        stream.width, stream.height, stream.pix_fmt = 96, 72, "yuv420p"
        stream.codec_context.sample_aspect_ratio = Fraction(4, 3)
        for _ in range(6):
            for packet in stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert probe(clip).pixel_aspect == Fraction(4, 3)
    assert cli.main(["match", str(clip), "--to", str(photo)] + (["--out", str(tmp_path / out)] if out else [])) == 0
    matched = probe(Path(capsys.readouterr().out.strip()))
    assert (matched.width, matched.height, matched.pixel_aspect) == (96, 72, Fraction(4, 3))


def test_match_out_file_folder_and_strength(drifted_mp4, tmp_path: Path, capsys) -> None:
    clip, photo, truth = drifted_mp4
    target = tmp_path / "graded.mov"
    assert cli.main(["match", str(clip), "--to", str(photo), "--out", str(target)]) == 0
    assert capsys.readouterr().out.strip() == str(target) and probe(target).codec == "prores"
    # An existing --out file is refused, not overwritten.
    stamp = digest(target)
    assert cli.main(["match", str(clip), "--to", str(photo), "--out", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err and digest(target) == stamp
    folder = tmp_path / "out"
    folder.mkdir()
    assert cli.main(["match", str(clip), "--to", str(photo), "--out", str(folder), "--strength", "0"]) == 0
    kept = Path(capsys.readouterr().out.strip())
    assert kept.parent == folder and kept.name == "cafe-from-another-app.matched.mp4"
    # Strength 0 leaves the colour alone (only a re-encode).
    assert metrics.clip_delta_e(list(read_frames(kept)), list(read_frames(clip))) < 0.3


def test_match_out_with_a_trailing_separator_is_a_folder_made_like_animates(drifted_mp4, tmp_path: Path,
                                                                           capsys) -> None:
    """`--out newdir/` was refused as "write a .mp4 or .mov file (or give a folder)": a trailing
    separator names a folder, made with its parents as `animate --out` makes its folder."""
    import os

    clip, photo, _ = drifted_mp4
    folder = tmp_path / "new" / "deeper"
    assert cli.main(["match", str(clip), "--to", str(photo), "--out", str(folder) + os.sep, "--strength", "0"]) == 0
    kept = Path(capsys.readouterr().out.strip())
    assert kept == folder / "cafe-from-another-app.matched.mp4" and kept.is_file()
    # Where a file stands in the way, one line before any work, as for animate.
    blocker = tmp_path / "clips"
    blocker.write_text("a file where the folder would go")
    assert cli.main(["match", str(clip), "--to", str(photo), "--out", str(blocker / "sub") + os.sep]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("stillmotion: error:") and "clips is a file, not a folder" in err and "\n" not in err
    # Without the separator a name with no .mp4/.mov is still not guessed at.
    assert cli.main(["match", str(clip), "--to", str(photo), "--out", str(tmp_path / "other")]) == 2
    assert "give a folder" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_a_prores_master_is_matched_to_prores(drifted_mp4, tmp_path: Path, capsys) -> None:
    """A colourist's ProRes clip comes back as ProRes (.mov), not as 8-bit H.264."""
    clip, photo, truth = drifted_mp4
    master = tmp_path / "master.mov"
    encode(read_frames(clip), master, width=W, height=H, fps=24, settings=EncodeSettings(fmt="mov"))
    assert cli.main(["match", str(master), "--to", str(photo)]) == 0
    out = Path(capsys.readouterr().out.strip())
    assert out.name == "master.matched.mov" and probe(out).codec == "prores"
    assert metrics.clip_delta_e(list(read_frames(out)), truth) <= 2.0


def _clip_with_sound(path: Path, fmt: str, audio_codec: str, *, hum: bool = False,
                     variable: bool = False, timecode: str | None = None, created: str | None = None,
                     pix_fmt: str | None = None) -> None:
    """1 s at 24 fps of a real photo, the frame at 0.5 s (12) brighter; stereo sound silent (or,
    with `hum`, a quiet 440 Hz from the first sample) but for a 1 kHz beep from 0.5 s: where
    picture and sound meet. `variable`: at 12 fps for the first half second, as a phone records
    in low light (the bright frame is then frame 6). `timecode`: the clip's start, as a
    master's timecode track says it; `created`: when it was recorded, as a phone says it;
    `pix_fmt`: the picture's, if not 4:2:2 10-bit (MOV: ProRes 422 HQ) or 4:2:0 8-bit."""
    import av

    rate, pixels = 48000, skimage_photo("coffee")
    frame = np.asarray(Image.fromarray(pixels).resize((W, H)), dtype=np.uint8)
    with av.open(str(path), "w", format=fmt) as out:
        if timecode:
            out.metadata["timecode"] = timecode
        if created:
            out.metadata["creation_time"] = created
        codec = {"mp4": "libx264", "mov": "prores_ks", "webm": "libvpx-vp9", "matroska": "libx264",
                 "avi": "mpeg4"}[fmt]
        video = out.add_stream(codec, rate=24)
        video.width, video.height = W, H
        video.pix_fmt = pix_fmt or ("yuv422p10le" if fmt == "mov" else "yuv420p")
        audio = out.add_stream(audio_codec, rate=rate)
        audio.layout = "stereo"
        ticks = [2 * i for i in range(6)] + list(range(12, 24)) if variable else list(range(24))
        for tick in ticks:   # in 1/24 s
            shown = np.clip(frame.astype(np.int16) + (120 if tick == 12 else 0), 0, 255).astype(np.uint8)
            picture = av.VideoFrame.from_ndarray(shown, format="rgb24")
            if variable:
                picture.pts, picture.time_base = tick, Fraction(1, 24)
            for packet in video.encode(picture):
                out.mux(packet)
        t = np.arange(rate) / rate
        sound = np.where(t >= 0.5, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)
        if hum:
            sound = sound + 0.05 * np.sin(2 * np.pi * 440 * t)
        layout, sample_format = audio.codec_context.layout, audio.codec_context.format
        step = audio.codec_context.frame_size or 1024          # the codec's frame size
        for k in range(0, rate, step):
            chunk = np.stack([sound[k:k + step]] * 2)
            if sample_format.name.startswith("s16"):
                chunk = (chunk * 32767).astype(np.int16)
            elif sample_format.name.startswith("s32"):
                chunk = (chunk * 2_147_483_000).astype(np.int32)
            else:
                chunk = chunk.astype(np.float32)
            if not sample_format.is_planar:
                chunk = chunk.T.reshape(1, -1)
            samples = av.AudioFrame.from_ndarray(chunk, format=sample_format.name, layout=layout.name)
            samples.sample_rate, samples.pts = rate, k
            for packet in audio.encode(samples):
                out.mux(packet)
        for stream in (audio, video):
            for packet in stream.encode(None):
                out.mux(packet)


def _picture_and_sound(path: Path) -> tuple[float, float, str, np.ndarray]:
    """(when the bright frame shows, when the beep starts, the audio codec, the left channel)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        codec = stream.codec_context.codec.canonical_name
        left = np.concatenate([f.to_ndarray()[0] if f.format.is_planar else f.to_ndarray()[0, ::2]
                               for f in container.decode(stream)]).astype(np.float64)
    left = left / 32767 if codec.startswith("pcm_s16") else left
    bright = int(np.argmax([f.mean() for f in read_frames(path)]))
    times = frame_times(path)      # None: evenly spaced at the clip's rate
    flash = float(times[1][bright] * times[0]) if times else bright / probe(path).fps
    return flash, int(np.argmax(np.abs(left) > 0.1)) / 48000.0, codec, left


@pytest.mark.parametrize("source, out, kept", [
    ("clip.mp4", None, "aac"),              # AAC in MP4: copied, bit for bit
    ("phone.mp4", None, "aac"),             # variable frame rate: each frame keeps its time
    ("master.mov", None, "pcm_s16le"),      # PCM in a ProRes master: copied
    ("master.mov", "delivery.mp4", "aac"),  # PCM into MP4: re-encoded to AAC
    ("web.webm", None, "aac"),              # Opus (VP9 from the web): MP4 players want AAC
    ("pcm.mkv", None, "aac"),               # PCM whose channels are not named (MKV): AAC stereo
    ("mp3.avi", None, "mp3"),               # MP3 (decoded by "mp3float"): copied, not re-encoded
    ("hum.mp4", None, "aac"),               # sound from the first sample: AAC's priming packet kept
])
def test_match_keeps_the_clips_sound_in_step_with_the_picture(tmp_path: Path, fast_config, capsys,
                                                              source, out, kept) -> None:
    """A cloud service's clip often has sound: matching its colour keeps it, in sync."""
    clip = tmp_path / source
    fmt, sound = {".mp4": ("mp4", "aac"), ".mov": ("mov", "pcm_s16le"), ".webm": ("webm", "libopus"),
                  ".mkv": ("matroska", "pcm_s16le"), ".avi": ("avi", "libmp3lame")}[clip.suffix]
    _clip_with_sound(clip, fmt, sound, hum=clip.stem == "hum", variable=clip.stem == "phone")
    photo = save_photo(tmp_path / "cafe.jpg", skimage_photo("coffee"), quality=95)
    args = ["match", str(clip), "--to", str(photo)] + (["--out", str(tmp_path / out)] if out else [])
    assert cli.main(args) == 0
    matched = Path(capsys.readouterr().out.strip())
    flash, beep, codec, left = _picture_and_sound(matched)
    src_flash, src_beep, _, src_left = _picture_and_sound(clip)
    # (MP3 in AVI starts ~23 ms late: the encoder's delay, which AVI cannot say. It stays.)
    assert src_flash == 0.5 and abs(src_beep - 0.5) < 1 / 24
    assert flash == src_flash                                     # every frame shown when it was
    assert codec == kept and abs(beep - src_beep) < 1 / 24        # in step as it was, within a frame
    if codec == _picture_and_sound(clip)[2]:
        assert np.array_equal(left, src_left)                     # copied, not re-encoded


@pytest.mark.parametrize("name, fmt, codec", [
    ("web.webm", "webm", "libvpx-vp9"),   # Matroska's millisecond stamps: 41 or 42 ms a frame
    ("edit.mkv", "matroska", "libx264"),
    ("old.avi", "avi", "libx264"),         # B-frames in AVI: decoded frames carry decode times
])
def test_a_constant_rate_clip_stays_constant_rate(tmp_path: Path, fast_config, capsys, name, fmt, codec) -> None:
    """Only a clip whose frames are unevenly spaced keeps its own times; any other comes out at
    its exact rate (an editor would take 41/42 ms frames for a variable-rate clip)."""
    import av

    clip = tmp_path / name
    frame = np.asarray(Image.fromarray(skimage_photo("coffee")).resize((W, H)), dtype=np.uint8)
    with av.open(str(clip), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(24):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.roll(frame, 3 * i, axis=1), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert frame_times(clip) is None
    photo = save_photo(tmp_path / "cafe.jpg", skimage_photo("coffee"), quality=95)
    assert cli.main(["match", str(clip), "--to", str(photo)]) == 0
    matched = Path(capsys.readouterr().out.strip())
    with av.open(str(matched)) as container:
        stream = container.streams.video[0]
        shown = [frame.time for frame in container.decode(stream)]
        assert stream.average_rate == 24
    assert len(shown) == 24 and np.allclose(np.diff(shown), 1 / 24, atol=1e-4)


def _hdr_clip(path: Path) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx265", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p10le"
        stream.options = {"x265-params": "log-level=error"}
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace = 9, 18, 9   # BT.2020, HLG
        for _ in range(4):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8),
                                                                   format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _flat_frames(n: int) -> list[np.ndarray]:
    """n frames of 32x16, each a little lighter than the one before."""
    return [np.full((16, 32, 3), 0.2 + 0.1 * k, np.float32) for k in range(n)]


def _sound_only(path: Path) -> None:
    """A tenth of a second of silence, AAC, and no video stream."""
    import av

    with av.open(str(path), "w", format="mp4") as out:
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        for k in range(0, 4800, 1024):
            samples = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
            samples.sample_rate, samples.pts = 48000, k
            for packet in audio.encode(samples):
                out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)


def test_match_bad_input_is_one_clear_line(drifted_mp4, tmp_path: Path, capsys) -> None:
    clip, photo, _ = drifted_mp4
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video" * 50)
    cut = tmp_path / "cut.mp4"            # its index (moov) is at the front: the frames run out
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size * 3 // 5])
    hlg = tmp_path / "phone.mov"          # an HDR (HLG) clip, as phones record by default
    _hdr_clip(hlg)
    webp = tmp_path / "cafe.motion.webp"  # Stillmotion's own web clip: FFmpeg cannot decode it
    encode((f for f in _flat_frames(3)), webp, width=32, height=16, fps=24, settings=EncodeSettings(fmt="webp"))
    sound = tmp_path / "soundtrack.m4a"   # the cloud clip's music, downloaded on its own
    _sound_only(sound)
    cases = [
        (["match", str(hlg), "--to", str(photo)], "phone.mov: an HDR clip (HLG)"),
        (["match", str(sound), "--to", str(photo)], "soundtrack.m4a: no picture in it (sound only)"),
        (["match", str(cut), "--to", str(photo)], "cut.mp4: the video data is damaged or truncated"),
        (["match", str(webp), "--to", str(photo)], "cafe.motion.webp: an animated WebP, which FFmpeg cannot decode"),
        (["match", str(junk), "--to", str(photo)], "junk.mp4"),
        (["match", str(clip), "--to", str(tmp_path / "missing.jpg")], "missing.jpg"),
        (["match", str(photo), "--to", str(photo)], "not a video"),
        (["match", str(clip), "--to", str(photo), "--out", str(tmp_path / "x.gif")], ".mp4 or .mov"),
    ]
    for argv, needle in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("stillmotion: error:") and needle in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".stillmotion-tmp")) == []
    assert not list(tmp_path.glob("*.matched*"))


def test_parallax_clip_decoded_from_mp4_matches_its_photo(tmp_path: Path, fast_config: Path) -> None:
    # A graded photo: the job holds the clip to it; frame 0 of the MP4, back in sRGB, is the photo.
    photo = save_photo(tmp_path / "IMG_0001.jpg", skimage_photo("chelsea"), (320, 212), quality=95)
    for camera in ("push-in", "orbit"):
        assert cli.main(["animate", str(photo), "--duration", "1", "--fps", "12", "--camera", camera,
                         "--style", "1", "--seed", "5"]) == 0
        clip = sorted(tmp_path.glob("IMG_0001.motion*.mp4"))[-1]
        frames = list(read_frames(clip))
        source = np.asarray(Image.open(photo).convert("RGB").resize((frames[0].shape[1], frames[0].shape[0]),
                                                                    Image.LANCZOS), dtype=np.float32) / 255.0
        assert metrics.pixel_delta_e(frames[0], source) <= 1.5, camera
        assert metrics.clip_delta_e(frames, source) <= 1.5, camera
        assert metrics.flicker(frames) < 0.2, camera


@pytest.mark.parametrize("fmt, size", [("mp4", (256, 144)), ("mp4", (320, 212)), ("mov", (256, 144))])
def test_decoded_file_matches_its_source_colours(tmp_path: Path, fmt: str, size: tuple[int, int]) -> None:
    # Colour-managed output, end to end: encode (BT.709 tagged) -> decode -> sRGB equals the source,
    # with no overall shift (swscale's own Y'CbCr->RGB runs ~2/255 dark).
    source = resize(skimage_photo("astronaut").astype(np.float32) / 255.0, *size)
    path = tmp_path / f"still.{fmt}"
    encode(iter([source] * 3), path, width=size[0], height=size[1], fps=24,
           settings=EncodeSettings(fmt=fmt, preset="ultrafast", crf=12))
    decoded = list(read_frames(path))
    assert len(decoded) == 3
    shift = (decoded[1] - source).mean(axis=(0, 1)) * 255
    # (ProRes: swscale's 16-bit RGB -> 10-bit Y'CbCr in the encoder adds about +0.5/255.)
    assert np.abs(shift).max() < (0.8 if fmt == "mov" else 0.4), shift
    assert metrics.pixel_delta_e(decoded[1], source) < (1.5 if fmt == "mov" else 2.0)   # subsampled chroma
    assert metrics.signature_delta_e(decoded[1], source) < 0.5


def test_a_full_disk_while_the_sound_is_written_is_said_as_such(tmp_path: Path, fast_config, capsys,
                                                               monkeypatch) -> None:
    """PyAV's ENOSPC is an FFmpegError too: it must reach the user as a full disk (exit 1, the
    folder named), not as the clip's sound being unreadable (exit 2, a hidden temporary named)."""
    import errno

    import av
    from stillmotion.video import audio

    clip = tmp_path / "clip.mp4"
    _clip_with_sound(clip, "mp4", "aac")
    photo = save_photo(tmp_path / "cafe.jpg", skimage_photo("coffee"), quality=95)

    def disk_full(picture, sound_from, out):
        out.write_bytes(b"\0" * 100)
        raise av.error.OSError(errno.ENOSPC, "No space left on device", str(out))

    monkeypatch.setattr(audio, "_with_audio", disk_full)
    assert cli.main(["match", str(clip), "--to", str(photo)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"stillmotion: error: cannot write the matched clip of clip.mp4 into {tmp_path.resolve()}: "
                   "No space left on device; nothing was left there")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cafe.jpg", "clip.mp4", "stillmotion-home"]


@pytest.mark.parametrize("make, said", [(None, "no such file"), ("folder", "a folder, not a video clip")])
def test_a_clip_that_is_not_there_or_is_a_folder_is_said_plainly(photo_jpg, tmp_path, capsys, make, said):
    """It said "not a video Stillmotion can read ([Errno 2] No such file or directory: ...)"."""
    clip = tmp_path / "clip.mp4"
    if make == "folder":
        clip.mkdir()
    assert cli.main(["match", str(clip), "--to", str(photo_jpg)]) == 2
    err = capsys.readouterr().err
    assert err == f"stillmotion: error: {clip}: {said}\n"


def test_a_file_that_is_no_video_is_said_without_errno_or_repr(photo_jpg, tmp_path, capsys):
    """It said "bad.mp4: not a video Stillmotion can read ([Errno 1094995529] Invalid data found
    when processing input: 'bad.mp4')": FFmpeg's error number and the name again, quoted."""
    clip = tmp_path / "bad.mp4"
    clip.write_bytes(b"not a video at all")
    assert cli.main(["match", str(clip), "--to", str(photo_jpg)]) == 2
    assert capsys.readouterr().err == ("stillmotion: error: bad.mp4: not a video Stillmotion can read "
                                       "(Invalid data found when processing input)\n")


@pytest.mark.parametrize("sound", [False, True])
def test_a_prores_masters_timecode_is_kept(tmp_path: Path, fast_config, capsys, sound) -> None:
    """A master's timecode (01:00:00:00, a track of its own) is how an editor lines the matched
    clip up with the original in the timeline: it comes along, with sound or without."""
    import av

    master = tmp_path / "master.mov"
    if sound:
        _clip_with_sound(master, "mov", "pcm_s16le", timecode="01:00:00:00")
    else:
        with av.open(str(master), "w", format="mov") as out:
            out.metadata["timecode"] = "01:00:00:00"
            video = out.add_stream("prores_ks", rate=24)
            video.width, video.height, video.pix_fmt = 32, 16, "yuv422p10le"
            for frame in _flat_frames(4):
                for packet in video.encode(av.VideoFrame.from_ndarray((frame * 255).astype(np.uint8), "rgb24")):
                    out.mux(packet)
            for packet in video.encode(None):
                out.mux(packet)
    photo = save_photo(tmp_path / "cafe.jpg", skimage_photo("coffee"), quality=95)
    assert cli.main(["match", str(master), "--to", str(photo)]) == 0
    matched = Path(capsys.readouterr().out.strip())
    assert matched.suffix == ".mov" and probe(matched).timecode == "01:00:00:00"
    with av.open(str(matched)) as container:   # as a timecode track, where editors look for it
        assert [s.metadata.get("timecode") for s in container.streams.data] == ["01:00:00:00"]
        assert len(container.streams.audio) == sound


def test_a_timecode_pyav_17_cannot_keep_beside_sound_is_said(tmp_path: Path, fast_config, capsys, monkeypatch) -> None:
    """On Python 3.10 pip gets PyAV 17.1, whose copied stream has no rate: the MOV muxer then drops
    a sound master's timecode track, and match said nothing of it. It says so now."""
    from stillmotion.video import audio

    master = tmp_path / "master.mov"
    _clip_with_sound(master, "mov", "pcm_s16le", timecode="01:00:00:00")
    photo = save_photo(tmp_path / "cafe.jpg", skimage_photo("coffee"), quality=95)
    assert cli.main(["match", str(master), "--to", str(photo)]) == 0
    assert "timecode" not in capsys.readouterr().err                 # PyAV 18 here: kept, nothing said
    monkeypatch.setattr(audio.av, "__version__", "17.1.0")
    assert cli.main(["match", str(master), "--to", str(photo)]) == 0
    assert ("its start timecode (01:00:00:00) is not kept: carrying it beside the sound needs PyAV 18 "
            "or newer (this is 17.1.0") in capsys.readouterr().err


def test_a_matched_clip_with_sound_says_when_it_was_made(tmp_path: Path, fast_config, capsys) -> None:
    """Most cloud clips have sound: their matched copy keeps the creation date the encoder wrote
    (without one the movie header says 1904-01-01, and Photos and editors file it there)."""
    import av

    clip = tmp_path / "kling.mp4"
    _clip_with_sound(clip, "mp4", "aac")
    photo = save_photo(tmp_path / "cafe.jpg", skimage_photo("coffee"), quality=95)
    assert cli.main(["match", str(clip), "--to", str(photo)]) == 0
    with av.open(capsys.readouterr().out.strip()) as matched:
        assert matched.streams.audio and matched.metadata.get("creation_time", "").startswith("20")
    # A phone's clip says when it was recorded: its matched copy keeps that (Photos files it beside
    # the original; it said the time of matching).
    phone = tmp_path / "IMG_0042.mov"
    _clip_with_sound(phone, "mov", "pcm_s16le", created="2025-06-01T10:20:30.000000Z")
    assert cli.main(["match", str(phone), "--to", str(photo)]) == 0
    with av.open(capsys.readouterr().out.strip()) as matched:
        assert matched.streams.audio and matched.metadata["creation_time"] == "2025-06-01T10:20:30.000000Z"


@pytest.mark.parametrize("fade_from", [0.0, 1.0])
def test_a_clip_that_fades_in_is_matched_on_the_photo_not_on_the_fade(tmp_path: Path, fast_config, capsys,
                                                                      fade_from) -> None:
    """An edited clip that fades in (from black, or white) over its first frames: fitted on its
    first frame, a black one lined up with nothing and a dim one lines up with the photo by
    structure alone, and either way the whole clip came back several times too bright (CIEDE2000
    30 against the drifted clip's 11). Fitted on the first frame that shows the photo whole, the
    clip after the fade is the photo's colour."""
    pixels = skimage_photo("coffee")
    photo = save_photo(tmp_path / "cafe.jpg", pixels, quality=95)
    pairs = list(drifted_clip(pixels.astype(np.float32) / 255.0, W, H, N, Drift()))
    fade = 6
    shown = [d if k >= fade else fade_from + (d - fade_from) * k / fade for k, (_, d) in enumerate(pairs)]
    clip = tmp_path / "edit.mp4"
    encode(iter(shown), clip, width=W, height=H, fps=24, settings=EncodeSettings(preset="ultrafast"))
    assert cli.main(["match", str(clip), "--to", str(photo)]) == 0
    matched = list(read_frames(Path(capsys.readouterr().out.strip())))
    assert len(matched) == N
    assert metrics.clip_delta_e(matched[fade:], [t for t, _ in pairs[fade:]]) <= 2.0


@pytest.mark.parametrize("out", [None, "delivery.mp4"])
def test_every_sound_track_of_a_camera_master_comes_along(tmp_path: Path, fast_config, capsys, out) -> None:
    """A cinema camera records each microphone on a track of its own (two mono tracks: the
    camera's, the presenter's lavalier): matched, only the first came back, and the lavalier
    was gone without a word. Every track comes along, in order, copied (re-encoded for MP4)."""
    import av

    master = tmp_path / "A001C002.mov"
    tones = [np.sin(2 * np.pi * hz * np.arange(4800) / 48000) * 0.5 for hz in (440, 1000)]
    with av.open(str(master), "w", format="mov") as container:
        video = container.add_stream("prores_ks", rate=24)
        video.width, video.height, video.pix_fmt = 32, 16, "yuv422p10le"
        tracks = [container.add_stream("pcm_s16le", rate=48000, layout="mono") for _ in tones]
        for frame in _flat_frames(2):
            for packet in video.encode(av.VideoFrame.from_ndarray((frame * 255).astype(np.uint8), "rgb24")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        for track, tone in zip(tracks, tones):
            samples = av.AudioFrame.from_ndarray((tone * 32767).astype(np.int16)[None], format="s16", layout="mono")
            samples.sample_rate, samples.pts = 48000, 0
            for packet in [*track.encode(samples), *track.encode(None)]:
                container.mux(packet)
    photo = save_photo(tmp_path / "cafe.jpg", skimage_photo("coffee"), quality=95)
    args = ["match", str(master), "--to", str(photo)] + (["--out", str(tmp_path / out)] if out else [])
    assert cli.main(args) == 0
    with av.open(capsys.readouterr().out.strip()) as matched:
        heard = []
        for stream in matched.streams.audio:
            sound = np.concatenate([f.to_ndarray()[0] for f in matched.decode(stream)]).astype(np.float64)
            sound = sound / 32767 if stream.codec_context.name.startswith("pcm") else sound
            spectrum = np.abs(np.fft.rfft(sound[:4096]))
            heard.append(round(float(np.argmax(spectrum)) * 48000 / 4096, -1))
            matched.seek(0)
    assert [abs(hz - want) < 20 for hz, want in zip(heard, (440, 1000))] == [True, True] and len(heard) == 2


def test_match_takes_a_config_as_animate_does(photo_jpg, fast_config, tmp_path, capsys):
    """A studio's own config ([output] crf, [metadata] switches) could be given to animate but
    not to match (`match --config` was an unrecognised option); a missing one is one line."""
    from stillmotion.metadata.bmff import read_embedded_xmp

    assert cli.main(["animate", str(photo_jpg), "--duration", "0.5", "--fps", "8"]) == 0
    clip = photo_jpg.with_name("IMG_1234.motion.mp4")
    studio = tmp_path / "studio.toml"
    studio.write_text("[output]\ncrf = 23\npreset = \"ultrafast\"\n[metadata]\nwrite_sidecar = false\n",
                      encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["match", str(clip), "--to", str(photo_jpg), "--config", str(studio)]) == 0
    matched = clip.with_name("IMG_1234.motion.matched.mp4")
    assert capsys.readouterr().out.strip() == str(matched)
    assert b"<stillmotion:crf>23</stillmotion:crf>" in read_embedded_xmp(matched)
    assert not matched.with_suffix(".xmp").exists()
    # A config that is not there: one line, exit 2, nothing written (as animate --config says it).
    assert cli.main(["match", str(clip), "--to", str(photo_jpg), "--config", str(tmp_path / "nope.toml")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == f"stillmotion: error: {tmp_path / 'nope.toml'}: cannot read: No such file or directory"
    assert not clip.with_name("IMG_1234.motion.matched-2.mp4").exists()


def _master(path: Path, frames: list[np.ndarray], codec: str, pix_fmt: str, options: dict[str, str],
            alpha: np.ndarray | None = None, fmt: str | None = None) -> None:
    """A master made elsewhere from float frames: 16-bit BT.709 Y'CbCr brought to `pix_fmt`
    (10-bit, 4:4:4 or 4:2:0), with `alpha` (10-bit) as its fourth plane when given."""
    import av
    from stillmotion.video.encode import _ycbcr709_limited16

    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        stream.options = options
        ctx = stream.codec_context
        ctx.color_primaries = ctx.color_trc = ctx.colorspace = ctx.color_range = 1
        for frame in frames:
            yuv = av.VideoFrame.from_ndarray(_ycbcr709_limited16(frame), format="yuv444p16le").reformat(
                format=pix_fmt, src_colorspace="itu709", dst_colorspace="itu709",
                src_color_range="MPEG", dst_color_range="MPEG")
            if alpha is not None:
                plane = yuv.planes[3]
                np.frombuffer(plane, np.uint16).reshape(plane.height, -1)[:, :plane.width] = alpha
            for packet in stream.encode(yuv):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _alpha_planes(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [np.frombuffer(f.planes[3], np.uint16).reshape(f.height, -1)[:, :f.width].copy()
                for f in container.decode(video=0)]


@pytest.mark.parametrize("pix_fmt", ["yuva444p10le", "yuv444p10le"])
def test_a_prores_4444_master_stays_4444_with_its_alpha(drifted_mp4, tmp_path: Path, capsys, pix_fmt) -> None:
    """A colourist's ProRes 4444 master (a graphic's key, a VFX plate) comes back 4444: 4:4:4 chroma,
    and its alpha plane exactly as it was (not ProRes 422 HQ, which has no alpha)."""
    import av

    clip, photo, truth = drifted_mp4
    master = tmp_path / "plate.mov"
    key = np.tile(np.linspace(0, 1023, W).astype(np.uint16), (H, 1)) if pix_fmt.startswith("yuva") else None
    _master(master, list(read_frames(clip)), "prores_ks", pix_fmt, {"profile": "4", "vendor": "apl0"}, key)
    assert cli.main(["match", str(master), "--to", str(photo)]) == 0
    out = Path(capsys.readouterr().out.strip())
    info = probe(out)
    assert (info.codec, info.profile, info.alpha) == ("prores", "4444", key is not None)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.codec_tag == "ap4h"
    if key is not None:
        assert all(np.array_equal(a, b) for a, b in zip(_alpha_planes(out), _alpha_planes(master), strict=True))
    assert metrics.clip_delta_e(list(read_frames(out)), truth) <= 2.0
    if key is not None:   # an MP4 holds no alpha: said, not dropped quietly
        assert cli.main(["match", str(master), "--to", str(photo), "--out", str(tmp_path / "web.mp4")]) == 0
        assert "alpha channel is not kept" in capsys.readouterr().err


@pytest.mark.parametrize("pix_fmt", ["yuv444p10le", "yuva444p10le"])
def test_a_prores_4444_master_decodes_as_its_422_twin(drifted_mp4, tmp_path: Path, pix_fmt) -> None:
    """FFmpeg decodes ProRes 4444 to 12-bit Y'CbCr (with alpha: yuva444p12le), which the exact
    BT.709 decode did not know: FFmpeg's own converter took over and the picture came out about
    half a level darker than the same master as ProRes 422 HQ (matched to the photo, then off)."""
    clip, _, _ = drifted_mp4
    frames = list(read_frames(clip))[:3]
    twin, master = tmp_path / "hq.mov", tmp_path / "4444.mov"
    _master(twin, frames, "prores_ks", "yuv422p10le", {"profile": "3", "vendor": "apl0"})
    key = np.full((H, W), 1023, np.uint16) if pix_fmt.startswith("yuva") else None
    _master(master, frames, "prores_ks", pix_fmt, {"profile": "4", "vendor": "apl0"}, key)
    for a, b in zip(read_frames(master), read_frames(twin), strict=True):
        assert abs(float(a.mean()) - float(b.mean())) < 0.1 / 255


@pytest.mark.parametrize("codec, name, profile", [("libx264", "h264", "High 10"), ("libx265", "hevc", "Main 10")])
def test_a_10_bit_clip_comes_back_10_bit_in_its_own_codec(drifted_mp4, tmp_path: Path, capsys,
                                                            codec, name, profile) -> None:
    """A 10-bit H.264 or HEVC clip matched to 8 bits bands in a graded sky: it stays 10-bit, its
    codec and profile kept, and a real photo's tones keep more levels than 8 bits have."""
    clip, photo, truth = drifted_mp4
    master = tmp_path / "ten-bit.mp4"
    options = {"crf": "12", "preset": "ultrafast"} | ({"x265-params": "log-level=error"} if name == "hevc" else {})
    _master(master, list(read_frames(clip)), codec, "yuv420p10le", options)
    assert cli.main(["match", str(master), "--to", str(photo)]) == 0
    out = Path(capsys.readouterr().out.strip())
    info = probe(out)
    assert (out.suffix, info.codec, info.profile, info.pix_fmt) == (".mp4", name, profile, "yuv420p10le")
    import av
    with av.open(str(out)) as container:
        luma = next(container.decode(video=0)).planes[0]
        levels = np.unique(np.frombuffer(luma, np.uint16).reshape(luma.height, -1)[:, :luma.width])
    assert len(levels) > 256   # (8-bit limited range has 220)
    assert metrics.clip_delta_e(list(read_frames(out)), truth) <= 2.0


def test_a_prores_4444_master_with_sound_is_still_labelled_4444(tmp_path: Path, fast_config, capsys) -> None:
    """The sound is muxed in after the picture: the copied picture keeps its codec tag ('ap4h'),
    where the muxer's own pick labelled a 4444 master 422 HQ ('apch') to every editor."""
    import av

    master = tmp_path / "master.mov"
    _clip_with_sound(master, "mov", "pcm_s16le", pix_fmt="yuv444p10le", timecode="01:00:00:00")
    photo = save_photo(tmp_path / "cafe.jpg", skimage_photo("coffee"), quality=95)
    assert cli.main(["match", str(master), "--to", str(photo)]) == 0
    matched = Path(capsys.readouterr().out.strip())
    with av.open(str(matched)) as container:
        video = container.streams.video[0].codec_context
        assert (video.codec_tag, video.profile, video.pix_fmt) == ("ap4h", "4444", "yuv444p12le")
        assert len(container.streams.audio) == 1
