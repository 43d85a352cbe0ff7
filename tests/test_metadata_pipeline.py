"""`stillmotion animate` reads the photo's metadata and writes honest metadata for the clip."""

from __future__ import annotations

from pathlib import Path

import pyexiv2

from stillmotion import cli, metadata
from stillmotion.engines import parallax
from stillmotion.metadata.packet import COMPOSITE_SYNTHETIC

from support import save_photo, skimage_photo

SIDECAR = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
 xmlns:lr="http://ns.adobe.com/lightroom/1.0/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
 xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" xmpMM:DocumentID="xmp.did:4d1c-beach"
 xmp:Rating="4" xmp:Label="Green" crs:Exposure2012="+0.35" crs:GrainAmount="20">
 <dc:description><rdf:Alt><rdf:li xml:lang="x-default">waves roll in</rdf:li></rdf:Alt></dc:description>
 <dc:subject><rdf:Bag><rdf:li>beach</rdf:li><rdf:li>Brittany</rdf:li></rdf:Bag></dc:subject>
 <lr:hierarchicalSubject><rdf:Bag><rdf:li>Places|France|Brittany</rdf:li></rdf:Bag></lr:hierarchicalSubject>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def test_the_clip_carries_the_photos_metadata_and_no_prompt_the_engine_did_not_follow(tmp_path: Path, fast_config, capsys):
    """Parallax follows no text: the caption (which a prompted engine would take as its prompt,
    test_engines_tiny) is not disclosed as the clip's AI prompt."""
    photo = save_photo(tmp_path / "IMG_2001.jpg", skimage_photo("coffee"), (160, 120), quality=92)
    photo.with_suffix(".xmp").write_text(SIDECAR, encoding="utf-8")     # found beside the photo
    assert cli.main(["animate", str(photo), "--engine", "parallax", "--duration", "0.5", "--fps", "8",
                     "--seed", "11"]) == 0
    out, err = capsys.readouterr()
    printed = out.split()
    assert "note:" not in err                       # a caption was never asked to move anything
    clip, sidecar = tmp_path / "IMG_2001.motion.mp4", tmp_path / "IMG_2001.motion.xmp"
    assert printed == [str(clip), str(sidecar)]
    with pyexiv2.Image(str(sidecar)) as image:
        written = image.read_xmp()
    assert "Xmp.iptcExt.AIPromptInformation" not in written and "Xmp.stillmotion.prompt" not in written
    assert "Xmp.stillmotion.negative_prompt" not in written
    assert written["Xmp.stillmotion.prompt_source"] == "none: the engine follows no prompt"
    assert written["Xmp.dc.description"] == {'lang="x-default"': "waves roll in"}   # the caption itself stays
    assert written["Xmp.dc.subject"] == ["beach", "Brittany"]
    assert written["Xmp.lr.hierarchicalSubject"] == ["Places|France|Brittany"]
    assert (written["Xmp.xmp.Rating"], written["Xmp.xmp.Label"]) == ("4", "Green")
    assert written["Xmp.iptcExt.DigitalSourceType"] == COMPOSITE_SYNTHETIC
    # No AI made it, so no AI system is named (docs/metadata.md); the engine's internal id and
    # revision ("stillmotion-parallax", REVISION) stay for reproduction.
    assert "Xmp.iptcExt.AISystemUsed" not in written and "Xmp.iptcExt.AISystemVersionUsed" not in written
    assert (written["Xmp.stillmotion.model"], written["Xmp.stillmotion.revision"]) == ("stillmotion-parallax",
                                                                                       parallax.REVISION)
    assert written["Xmp.xmpMM.DerivedFrom/stRef:documentID"] == "xmp.did:4d1c-beach"
    assert written["Xmp.xmpMM.DerivedFrom/stRef:filePath"] == photo.name
    assert (written["Xmp.stillmotion.engine"], written["Xmp.stillmotion.seed"]) == ("parallax", "11")
    assert written["Xmp.stillmotion.frames"] == "4" and float(written["Xmp.stillmotion.fps"]) == 8
    # The same packet is inside the MP4, where pyexiv2 finds it too.
    with pyexiv2.Image(str(clip)) as image:
        assert image.read_xmp() == written
    assert metadata.read_embedded_xmp(clip) == sidecar.read_bytes()
    # Nothing temporary left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "IMG_2001.jpg", "IMG_2001.motion.mp4", "IMG_2001.motion.xmp", "IMG_2001.xmp", "stillmotion-home"]


def test_a_prompt_the_engine_cannot_follow_is_said_and_a_broken_explicit_sidecar_stops_the_job(
        tmp_path: Path, fast_config, capsys):
    photo = save_photo(tmp_path / "IMG_2002.jpg", skimage_photo("coffee"), (160, 120), quality=92)
    photo.with_suffix(".xmp").write_text(SIDECAR, encoding="utf-8")
    assert cli.main(["animate", str(photo), "--engine", "parallax", "--duration", "0.5", "--fps", "8",
                     "--prompt", "steam rises from the cup"]) == 0
    assert ("IMG_2002.jpg: note: the prompt was not used: the parallax engine follows no text prompt"
            in capsys.readouterr().err.splitlines())
    with pyexiv2.Image(str(tmp_path / "IMG_2002.motion.xmp")) as image:
        assert "Xmp.iptcExt.AIPromptInformation" not in image.read_xmp()
    # The photo's own prompt (the plug-in's field, stillmotion:prompt in its XMP) is a person's
    # request too: said. (A caption is not: it was never asked to move anything.)
    own = save_photo(tmp_path / "IMG_2004.jpg", skimage_photo("coffee"), (160, 120), quality=92)
    own.with_suffix(".xmp").write_text(SIDECAR.replace(
        'xmp:Rating="4"', 'xmlns:stillmotion="http://ns.stillmotion.app/1.0/" stillmotion:prompt="steam rises" '
        'xmp:Rating="4"'), encoding="utf-8")
    assert cli.main(["animate", str(own), "--engine", "parallax", "--duration", "0.5", "--fps", "8"]) == 0
    assert ("IMG_2004.jpg: note: the prompt was not used: the parallax engine follows no text prompt"
            in capsys.readouterr().err.splitlines())
    bomb = tmp_path / "bomb.xmp"
    bomb.write_text('<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["animate", str(photo), "--engine", "parallax", "--xmp", str(bomb)]) == 2
    assert "DOCTYPE" in capsys.readouterr().err
    assert not (tmp_path / "IMG_2002.motion-2.mp4").exists()


def test_a_broken_sidecar_found_beside_the_photo_is_named_on_the_command_line(tmp_path: Path, fast_config, capsys):
    """Found (not named) sidecars that cannot be read do not stop the clip, but are not silent."""
    photo = save_photo(tmp_path / "IMG_2003.jpg", skimage_photo("coffee"), (160, 120), quality=92)
    photo.with_suffix(".xmp").write_text(SIDECAR.replace("</rdf:RDF>", ""), encoding="utf-8")  # malformed
    assert cli.main(["animate", str(photo), "--engine", "parallax", "--duration", "0.5", "--fps", "8"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(tmp_path / "IMG_2003.motion.mp4"), str(tmp_path / "IMG_2003.motion.xmp")]
    warned = [line for line in err.splitlines() if line.startswith("IMG_2003.jpg: warning: ")]
    assert len(warned) == 1 and "IMG_2003.xmp" in warned[0], err
    photo.with_suffix(".xmp").write_text(SIDECAR, encoding="utf-8")   # mended: no warning
    assert cli.main(["animate", str(photo), "--engine", "parallax", "--duration", "0.5", "--fps", "8"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_settings_the_engine_cannot_follow_are_said_not_silently_dropped(tmp_path: Path, fast_config, capsys):
    """`--style 0.2` on parallax gave the very clip `--style 1` gave (its frames are the photo's own
    pixels: nothing to hold), and `--engine svd --camera pan-left` made SVD's own motion: both
    without a word, where an unused prompt is said."""
    from stillmotion import config as config_mod
    from stillmotion import photo as photo_mod
    from stillmotion.jobs.pipeline import plan_job
    from stillmotion.request import AnimateRequest

    photo = save_photo(tmp_path / "IMG_2010.jpg", skimage_photo("coffee"), (160, 120), quality=92)
    assert cli.main(["animate", str(photo), "--engine", "parallax", "--duration", "0.5", "--fps", "8",
                     "--style", "0.2"]) == 0
    assert ("IMG_2010.jpg: note: the style consistency (0.2) was not used: a parallax clip is the photo's "
            "own pixels, moved, so it keeps the photo's colour at any setting" in capsys.readouterr().err.splitlines())
    # Left to the profile (or the config), nothing was asked: nothing to say.
    assert cli.main(["animate", str(photo), "--engine", "parallax", "--duration", "0.5", "--fps", "8"]) == 0
    assert "not used" not in capsys.readouterr().err

    config = dict(config_mod.load())
    pixels = photo_mod.load(photo)

    def notes(**settings) -> list[str]:   # (planning only: no model needed)
        request = AnimateRequest.from_dict({"engine": "svd", "model": str(tmp_path / "some-svd"), **settings})
        return plan_job(pixels, request, config, photo).notes

    assert notes(camera="pan-left") == [
        "the camera setting (pan-left) was not used: the svd engine takes no camera direction, only the "
        "amount of motion"]
    assert notes() == [] and notes(style=0.2) == []     # SVD's clips are colour matched: --style holds
    # Every engine starts a loop on the photo: --anchor end with --loop did nothing, without a word.
    assert notes(loop=True, anchor="end") == [
        "the anchor setting (end) was not used: a loop starts on the photo and plays seamlessly back into it"]
    assert notes(loop=True) == [] and notes(anchor="end") == []
    # Two frames at least: at 1 fps half a second became two seconds, without a word.
    assert notes(duration=0.5, fps=1) == [
        "the clip lasts 2 s, not the 0.5 s asked: a clip has at least two frames, which at 1 fps take 2 s"]
    assert notes(duration=0.5, fps=4) == []


def test_a_crop_the_photos_pixels_do_not_carry_is_said(tmp_path: Path, fast_config, fixtures_dir: Path, capsys):
    """IMG_5910's Lightroom crop (a 3:4 cut of the right-hand side) on the uncropped original
    (AlreadyApplied false): the clip showed the whole frame without a word."""
    import shutil

    photo = Path(shutil.copy(fixtures_dir / "xmp" / "IMG_5910.jpg", tmp_path / "IMG_5910.jpg"))
    sidecar = (fixtures_dir / "xmp" / "IMG_5910.xmp").read_text(encoding="utf-8")
    args = ["--engine", "parallax", "--duration", "0.5", "--fps", "4"]
    for applied, said in (("False", True), ("True", False)):
        (tmp_path / "IMG_5910.xmp").write_text(
            sidecar.replace('crs:AlreadyApplied="True"', f'crs:AlreadyApplied="{applied}"'), encoding="utf-8")
        assert cli.main(["animate", str(photo), "--xmp", str(tmp_path / "IMG_5910.xmp"), *args]) == 0
        err = capsys.readouterr().err
        assert ("IMG_5910.jpg: note: its Lightroom crop was not applied" in err) is said, err



def test_a_lightroom_rotation_the_photos_pixels_do_not_carry_is_said(tmp_path: Path, fast_config, capsys):
    """A JPEG turned upright in Lightroom (tiff:Orientation 6 in its XMP, AlreadyApplied false)
    whose EXIF still says 1: the clip came out on its side, landscape, without a word."""
    from PIL import Image

    args = ["--engine", "parallax", "--duration", "0.5", "--fps", "4"]
    cases = ((None, "False", True, "jpg"),     # turned in Lightroom only: the clip is on its side
             (6, "False", False, "jpg"),       # the EXIF turns it too: the clip is upright
             (6, "False", False, "heic"),      # (libheif turns it, and pillow-heif resets the tag to 1)
             (None, "True", False, "jpg"))     # the pixels carry Lightroom's settings
    for exif_orientation, applied, said, suffix in cases:
        exif = Image.Exif()
        if exif_orientation:
            exif[0x0112] = exif_orientation
        photo = save_photo(tmp_path / f"IMG_3001.{suffix}", skimage_photo("coffee"), (160, 90), exif=exif.tobytes())
        (tmp_path / "IMG_3001.xmp").write_text(
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
            'xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" tiff:Orientation="6" '
            f'crs:HasCrop="False" crs:AlreadyApplied="{applied}"/></rdf:RDF></x:xmpmeta>', encoding="utf-8")
        assert cli.main(["animate", str(photo), *args]) == 0
        err = capsys.readouterr().err
        assert ("note: its Lightroom rotation was not applied" in err) is said, (exif_orientation, applied, suffix, err)
        photo.unlink()


def test_the_clip_records_the_grain_vignette_and_encoding_that_shaped_its_pixels(tmp_path: Path, fast_config):
    """The plug-in's develop settings (sent as JSON, in no file) put grain and a vignette on every
    frame, and [output] crf/preset decide the decoded pixels: an auditor remaking the clip from its
    XMP needs them, so they are in the packet (they once were not: the same seed gave other frames)."""
    from stillmotion import config as config_mod
    from stillmotion.jobs.pipeline import JobSpec, run_job
    from stillmotion.request import AnimateRequest

    photo = save_photo(tmp_path / "IMG_2002.jpg", skimage_photo("coffee"), (160, 120), quality=92)
    develop = {"GrainAmount": 40, "GrainSize": 30, "GrainFrequency": 60, "PostCropVignetteAmount": -30}
    request = AnimateRequest.from_dict({"engine": "parallax", "duration": 0.5, "fps": 8, "seed": 3})
    run_job(JobSpec(photo_path=photo, request=request, develop=develop), config_mod.load())
    with pyexiv2.Image(str(tmp_path / "IMG_2002.motion.xmp")) as image:
        written = image.read_xmp()
    look = {key.removeprefix("Xmp.stillmotion.look/stillmotion:"): value
            for key, value in written.items() if key.startswith("Xmp.stillmotion.look/")}
    assert {k: float(look[k]) for k in ("grain_amount", "grain_size", "grain_frequency", "vignette_amount")} == {
        "grain_amount": 40, "grain_size": 30, "grain_frequency": 60, "vignette_amount": -30}
    assert look["removed_from_photo"] == "True"          # taken off the photo first, then put back
    assert (written["Xmp.stillmotion.crf"], written["Xmp.stillmotion.preset"]) == ("18", "ultrafast")
    assert written["Xmp.stillmotion.encoder_threads"] == "8"           # x264's frames depend on it
    assert written["Xmp.stillmotion.transfer"] == "srgb"               # how players show its tones

    # Without grain or vignette nothing is claimed.
    plain = save_photo(tmp_path / "IMG_2003.jpg", skimage_photo("coffee"), (160, 120), quality=92)
    run_job(JobSpec(photo_path=plain, request=request), config_mod.load())
    with pyexiv2.Image(str(tmp_path / "IMG_2003.motion.xmp")) as image:
        assert not any(key.startswith("Xmp.stillmotion.look") for key in image.read_xmp())


def test_the_clip_names_the_photo_it_was_made_from_by_its_content(tmp_path: Path, fast_config, capsys):
    """A path is no proof (photos are renamed, moved; an upload's is a temporary): the packet also
    holds the SHA-256 of the file animated, so an auditor can tell the clip's photo from another."""
    import hashlib

    photo = save_photo(tmp_path / "IMG_2004.jpg", skimage_photo("coffee"), (160, 120), quality=92)
    assert cli.main(["animate", str(photo), "--engine", "parallax", "--duration", "0.5", "--fps", "8",
                     "--seed", "1"]) == 0
    capsys.readouterr()
    with pyexiv2.Image(str(tmp_path / "IMG_2004.motion.xmp")) as image:
        written = image.read_xmp()
    assert written["Xmp.stillmotion.photo_sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
