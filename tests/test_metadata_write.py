"""Writing clip metadata: sidecar + embedded packet, read back by pyexiv2, PyAV and ffmpeg."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import av
import numpy as np
import pyexiv2
import pytest

from stillmotion import metadata
from stillmotion.metadata import bmff
from stillmotion.metadata.packet import TRAINED, COMPOSITE_SYNTHETIC

PROVENANCE = {
    "engine": "svd", "model": "stabilityai/stable-video-diffusion-img2vid-xt", "revision": "9e43909",
    "seed": 1234567, "frames": 25, "fps": 24, "motion": 0.35, "camera": "push-in", "anchor": "end",
    "loop": True, "prompt": "the squirrel turns its head", "prompt_source": "photo",
    "colour": {"match": True, "style_consistency": 0.8, "grain": 12.5},
    "size": [1024, 576], "software_version": "0.1.0", "unset": None,
}


def make_video(path: Path, fmt: str, *, faststart: bool = False, title: str | None = None) -> list[np.ndarray]:
    """A tiny real H.264 clip (64x64, 10 frames) written with PyAV; returns its decoded frames."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format=fmt, options=options) as out:
        if title:
            out.metadata["title"] = title
        stream = out.add_stream("libx264", rate=24, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        rng = np.random.default_rng(0)
        for i in range(10):
            pixels = (rng.random((64, 64, 3)) * 40 + i * 20).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return decode(path)


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def xmp_of_packet(packet: bytes) -> dict:
    with pyexiv2.ImageData(packet) as image:
        return image.read_xmp()


@pytest.fixture
def squirrel(fixtures_dir) -> metadata.PhotoMetadata:
    return metadata.read(fixtures_dir / "xmp" / "IMG_5910.jpg")   # embedded XMP + its sidecar


def test_packet_carries_photo_fields_disclosure_and_every_setting(squirrel, fixtures_dir):
    original = fixtures_dir / "xmp" / "IMG_5910.jpg"
    got = xmp_of_packet(metadata.build_packet(squirrel, PROVENANCE, original_path=original))
    d = squirrel.descriptive
    assert got["Xmp.dc.title"] == {'lang="x-default"': d.title}
    assert got["Xmp.dc.description"] == {'lang="x-default"': d.caption}
    assert got["Xmp.dc.subject"] == ["Alvin the Squirrel", "Berkley", "USA"]
    assert got["Xmp.lr.hierarchicalSubject"] == d.hierarchical_keywords
    assert got["Xmp.dc.creator"] == ["Patrik"] and got["Xmp.xmp.Rating"] == "3"
    assert got["Xmp.photoshop.DateCreated"] == "2015-06-11T10:29:26.69"
    assert got["Xmp.iptcExt.DigitalSourceType"] == TRAINED
    assert got["Xmp.iptcExt.AISystemUsed"] == PROVENANCE["model"]
    assert got["Xmp.iptcExt.AISystemVersionUsed"] == "9e43909"
    assert got["Xmp.iptcExt.AIPromptInformation"] == PROVENANCE["prompt"]
    assert got["Xmp.xmpMM.DerivedFrom/stRef:filePath"] == original.name
    assert got["Xmp.xmpMM.DerivedFrom/stRef:documentID"] == "xmp.did:bbbfe6e4-c352-5441-a4c0-d1a95da2ac63"
    assert got["Xmp.dc.format"] == "video/mp4"
    # every provenance setting, verbatim
    assert got["Xmp.stillmotion.engine"] == "svd" and got["Xmp.stillmotion.seed"] == "1234567"
    assert got["Xmp.stillmotion.motion"] == "0.35" and got["Xmp.stillmotion.loop"] == "True"
    assert got["Xmp.stillmotion.anchor"] == "end" and got["Xmp.stillmotion.frames"] == "25"
    assert got["Xmp.stillmotion.colour/stillmotion:style_consistency"] == "0.8"
    assert got["Xmp.stillmotion.size"] == ["1024", "576"]
    assert "Xmp.stillmotion.unset" not in got
    # GPS survives the DMS round trip
    back = metadata.read(fixtures_dir / "photos" / "kodim03.png", develop={})  # any photo without GPS
    assert back.descriptive.gps is None
    lat = got["Xmp.exif.GPSLatitude"]
    assert lat.endswith("N") and abs(float(lat[:-1].split(",")[0]) + float(lat[:-1].split(",")[1]) / 60
                                     - d.gps.latitude) < 1e-6


def test_parallax_is_not_labelled_generative():
    assert metadata.digital_source_type("parallax") == COMPOSITE_SYNTHETIC
    assert metadata.digital_source_type("parallax", generative_fill=True).endswith("compositeWithTrainedAlgorithmicMedia")
    for engine in ("svd", "ltx", "wan", "cogvideox", "some-future-engine"):
        assert metadata.digital_source_type(engine) == TRAINED


def test_sidecar_round_trip_and_never_overwrites(squirrel, fixtures_dir, tmp_path):
    video = tmp_path / ".tmp-clip.mp4"
    make_video(video, "mp4")
    sidecar = tmp_path / "IMG_5910.motion.xmp"
    packet = metadata.write_clip_metadata(video, sidecar, squirrel, PROVENANCE,
                                          original_path=fixtures_dir / "xmp" / "IMG_5910.jpg")
    assert sidecar.read_bytes() == packet
    with pyexiv2.Image(str(sidecar)) as image:          # pyexiv2 reads the file itself
        assert image.read_xmp() == xmp_of_packet(packet)
    # Read back through our own reader as a photo's sidecar: same descriptive values.
    photo = tmp_path / "IMG_5910.motion.png"
    photo.write_bytes((fixtures_dir / "photos" / "kodim03.png").read_bytes())
    again = metadata.read(photo, sidecar=sidecar)
    for field in ("title", "caption", "keywords", "hierarchical_keywords", "rating", "label", "creator",
                  "rights", "capture_date"):
        assert getattr(again.descriptive, field) == getattr(squirrel.descriptive, field), field
    assert again.descriptive.gps.latitude == pytest.approx(squirrel.descriptive.gps.latitude, abs=1e-7)
    assert again.descriptive.gps.longitude == pytest.approx(squirrel.descriptive.gps.longitude, abs=1e-7)
    assert again.descriptive.gps.altitude == pytest.approx(squirrel.descriptive.gps.altitude)
    # The clip's prompt sits in the same stillmotion:prompt field a photo's own prompt is read from.
    assert again.per_photo_prompt == PROVENANCE["prompt"]
    # never overwrite, and leave no temporary behind
    with pytest.raises(FileExistsError):
        metadata.write_sidecar(sidecar, b"other")
    assert sidecar.read_bytes() == packet
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-clip.mp4", "IMG_5910.motion.png",
                                                          "IMG_5910.motion.xmp"]


def test_mp4_embedding_reads_back_in_pyexiv2_and_decodes(squirrel, tmp_path):
    video = tmp_path / "clip.mp4"
    before = make_video(video, "mp4")
    packet = metadata.build_packet(squirrel, PROVENANCE, original_path="/photos/IMG_5910.jpg")
    metadata.embed_xmp(video, packet)
    metadata.embed_xmp(video, packet)        # again: replaced, not duplicated
    with pyexiv2.Image(str(video)) as image:
        assert image.read_xmp() == xmp_of_packet(packet)
    assert metadata.read_embedded_xmp(video) == packet
    top = [box.type for box in bmff._boxes_in_file(open(video, "rb"), video)]
    assert top.count(b"uuid") == 1 and top[-2:] == [b"uuid", b"free"]
    after = decode(video)
    assert len(after) == len(before) == 10 and all(np.array_equal(a, b) for a, b in zip(before, after))
    with av.open(str(video), options={"export_xmp": "1"}) as container:   # ffmpeg finds it too
        assert container.metadata["xmp"].encode() == packet


@pytest.mark.parametrize("faststart", [False, True], ids=["moov-last", "moov-first"])
def test_mov_embedding_in_udta_keeps_every_frame(squirrel, tmp_path, faststart):
    video = tmp_path / "clip.mov"
    before = make_video(video, "mov", faststart=faststart, title="kept title")
    packet = metadata.build_packet(squirrel, PROVENANCE, original_path="/photos/IMG_5910.jpg",
                                   media_type="video/quicktime")
    metadata.embed_xmp(video, packet)
    metadata.embed_xmp(video, packet)
    assert metadata.read_embedded_xmp(video) == packet
    assert udta_atoms(video).count(b"XMP_") == 1
    after = decode(video)   # with moov first, every chunk offset had to move: frames prove it did
    assert len(after) == 10 and all(np.array_equal(a, b) for a, b in zip(before, after))
    with av.open(str(video), options={"export_xmp": "1"}) as container:
        assert container.metadata["xmp"].encode() == packet
        assert container.metadata.get("title") == "kept title"
    assert xmp_of_packet(metadata.read_embedded_xmp(video))["Xmp.dc.subject"] == squirrel.descriptive.keywords
    assert not list(tmp_path.glob("*.xmp-embed"))


def udta_atoms(video: Path) -> list[bytes]:
    data = video.read_bytes()
    moov = next(b for b in bmff._boxes_in(data, 0, len(data)) if b.type == b"moov")
    udta = next(b for b in bmff._boxes_in(data, moov.start + 8, moov.end) if b.type == b"udta")
    return [b.type for b in bmff._boxes_in(data, udta.start + 8, udta.end, tolerate_terminator=True)]


def test_write_clip_metadata_leaves_no_sidecar_when_embedding_fails(squirrel, tmp_path):
    broken = tmp_path / ".tmp.mp4"
    broken.write_bytes(struct.pack(">I4s", 16, b"ftyp") + b"isom\0\0\0\0" + b"\x00\x00\x01\x00junk")
    sidecar = tmp_path / "x.motion.xmp"
    with pytest.raises(Exception, match="not an MP4"):
        metadata.write_clip_metadata(broken, sidecar, squirrel, PROVENANCE, original_path="/p/x.jpg")
    assert not sidecar.exists()


def test_gif_gets_sidecar_only(squirrel, tmp_path):
    gif = tmp_path / ".tmp.gif"
    gif.write_bytes(b"GIF89a")
    sidecar = tmp_path / "x.motion.xmp"
    packet = metadata.write_clip_metadata(gif, sidecar, None, {"engine": "parallax"}, original_path="/p/x.jpg")
    assert gif.read_bytes() == b"GIF89a"
    got = xmp_of_packet(sidecar.read_bytes())
    assert sidecar.read_bytes() == packet and got["Xmp.dc.format"] == "image/gif"
    assert got["Xmp.iptcExt.DigitalSourceType"] == COMPOSITE_SYNTHETIC
    assert "Xmp.dc.subject" not in got and "Xmp.xmpMM.DerivedFrom/stRef:documentID" not in got


def test_carry_gps_off_drops_location(squirrel):
    got = xmp_of_packet(metadata.build_packet(squirrel, PROVENANCE, original_path="/p", carry_gps=False))
    assert not any("GPS" in key for key in got)
    assert not any(key.startswith(("Xmp.photoshop.City", "Xmp.photoshop.State", "Xmp.photoshop.Country",
                                   "Xmp.iptc.")) for key in got)


def test_usage_terms_copyright_status_and_location_are_carried(squirrel, fixtures_dir, tmp_path):
    """A DAM's rights and place fields were dropped: a clip of a photo marked Copyrighted, "All
    Rights Reserved", taken in Berkeley, California, said none of it (an agency upload
    then carries no licence terms)."""
    got = xmp_of_packet(metadata.build_packet(squirrel, PROVENANCE, original_path="/p"))
    assert got["Xmp.photoshop.City"] == "Berkeley" and got["Xmp.photoshop.State"] == "California"
    assert got["Xmp.photoshop.Country"] == "United States" and got["Xmp.iptc.CountryCode"] == "US"
    photo = tmp_path / "IMG.png"
    photo.write_bytes((fixtures_dir / "photos" / "kodim03.png").read_bytes())
    flat = metadata.read(photo, sidecar=fixtures_dir / "xmp" / "flatxmp.xmp")
    got = xmp_of_packet(metadata.build_packet(flat, PROVENANCE, original_path=photo))
    assert got["Xmp.xmpRights.UsageTerms"] == {'lang="x-default"': "All Rights Reserved"}
    assert got["Xmp.xmpRights.Marked"] == "True"
    assert got["Xmp.dc.rights"] == {'lang="x-default"': "© Testmaster 2024"}
    lightroom = metadata.read(photo, sidecar=fixtures_dir / "xmp" / "testimagedesc1.xmp")
    got = xmp_of_packet(metadata.build_packet(lightroom, PROVENANCE, original_path=photo))
    assert got["Xmp.iptc.Location"] == "Sublocation test"
    assert got["Xmp.photoshop.City"] == "test city őúéáűóöí-.,)(=/%!+\"'"


@pytest.mark.skipif(not hasattr(__import__("os"), "umask") or __import__("sys").platform == "win32",
                    reason="POSIX modes")
@pytest.mark.parametrize("umask", [0o077, 0o002, 0o022])
def test_a_sidecar_gets_the_mode_the_umask_gives_as_its_clip_does(tmp_path, umask):
    """The sidecar was always 0644: readable by everyone (GPS included) under `umask 077`
    though its clip was 0600, and not writable by the folder's group under `umask 002`."""
    import os

    previous = os.umask(umask)
    try:
        metadata.write_sidecar(tmp_path / "IMG.motion.xmp", b"<x:xmpmeta/>")
    finally:
        os.umask(previous)
    assert (tmp_path / "IMG.motion.xmp").stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["IMG.motion.xmp"]     # no temporary left


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX: whether a PID lives")
@pytest.mark.parametrize("tag", ["", "0123456789abcdef"])
def test_a_sidecar_half_written_when_the_run_was_killed_is_swept_with_its_temporaries(tmp_path, tag):
    """SIGKILL between writing the sidecar's bytes and linking them: what is left is found by
    the sweeps of a one-off run's (`tag` "") and of a daemon job's temporaries."""
    import os
    import subprocess
    import time

    from stillmotion import place

    script = ("import os, signal, sys\n"
              "from pathlib import Path\n"
              "from stillmotion import place\n"
              "from stillmotion.metadata import write_sidecar\n"
              "os.link = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
              "write_sidecar(place.temp_path(Path(sys.argv[1]), '.xmp', sys.argv[2]), b'<x:xmpmeta/>')\n")
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path), tag], timeout=60)
    assert run.returncode == -9
    (left,) = tmp_path.iterdir()
    if tag:
        assert place.stale_temps(tmp_path, tag) == [left]
    else:
        stale = time.time() - 2 * place.ABANDONED_AFTER_S
        os.utime(left, (stale, stale))
        assert place.sweep_abandoned(tmp_path) == 1 and not left.exists()


def test_headline_credit_line_and_creator_contact_are_carried(fixtures_dir, tmp_path):
    """A stock/news photo's IPTC Core fields beside the rights were dropped: the clip of a photo
    with a headline, the creator's job title and contact details (Lightroom's IPTC panel), a
    credit line, source and special instructions said none of it, so an agency had no one to
    credit or contact. IPTC Photo Metadata Standard: https://iptc.org/std/photometadata/specification/IPTC-PhotoMetadata"""
    photo = tmp_path / "IMG.png"
    photo.write_bytes((fixtures_dir / "photos" / "kodim03.png").read_bytes())
    flat = metadata.read(photo, sidecar=fixtures_dir / "xmp" / "flatxmp.xmp")
    got = xmp_of_packet(metadata.build_packet(flat, PROVENANCE, original_path=photo))
    assert got["Xmp.photoshop.Headline"] == "PhotoshopHeadline"
    assert got["Xmp.photoshop.AuthorsPosition"] == "Upright"
    contact = "Xmp.iptc.CreatorContactInfo/Iptc4xmpCore:"
    assert got[contact + "CiEmailWork"] == "example@example.com"
    assert got[contact + "CiUrlWork"] == "http://www.example.com"
    assert got[contact + "CiTelWork"] == "+123456"
    assert got[contact + "CiAdrExtadr"] == "7357 Testroad" and got[contact + "CiAdrCity"] == "TestCity"
    assert got[contact + "CiAdrPcode"] == "6666" and got[contact + "CiAdrCtry"] == "TestCounty"

    # A newer sidecar's contact block replaces the older one whole (no stale phone number kept).
    sidecar = tmp_path / "IMG.xmp"
    sidecar.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
        ' xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"'
        ' photoshop:Credit="Jane Doe / Agency" photoshop:Source="Agency Archive"'
        ' photoshop:Instructions="Embargoed until 2026-01-01">'
        '<Iptc4xmpCore:CreatorContactInfo Iptc4xmpCore:CiEmailWork="jane@example.org"/>'
        '</rdf:Description></rdf:RDF></x:xmpmeta>', encoding="utf-8")
    with pyexiv2.Image(str(photo)) as image:   # the photo's own XMP has the old contact block
        image.modify_xmp({"Xmp.iptc.CreatorContactInfo/Iptc4xmpCore:CiTelWork": "+99 old"})
    both = metadata.read(photo, sidecar=sidecar)
    got = xmp_of_packet(metadata.build_packet(both, PROVENANCE, original_path=photo))
    assert got["Xmp.photoshop.Credit"] == "Jane Doe / Agency"
    assert got["Xmp.photoshop.Source"] == "Agency Archive"
    assert got["Xmp.photoshop.Instructions"] == "Embargoed until 2026-01-01"
    assert got[contact + "CiEmailWork"] == "jane@example.org"
    assert contact + "CiTelWork" not in got


def test_the_clip_names_its_photo_without_the_folders_it_sat_in(squirrel):
    """stRef:filePath held the photo's full path: a clip delivered to an agency told it the
    photographer's user name and client folders ("/home/jane/Clients/Acme/..."). It now holds
    the file name, as Lightroom's xmpMM:PreservedFileName does; stillmotion:photo_sha256 says
    which photo it was."""
    packet = metadata.build_packet(squirrel, PROVENANCE, original_path="/home/jane/Clients/Acme/IMG_5910.jpg")
    got = xmp_of_packet(packet)
    assert got["Xmp.xmpMM.DerivedFrom/stRef:filePath"] == "IMG_5910.jpg"
    assert b"/home/jane" not in packet and b"Acme" not in packet


def test_a_parallax_clip_names_no_ai_system():
    """A parallax clip said AISystemUsed "Stillmotion parallax engine": IPTC 2025.1 defines the
    field as the AI engine or model used to generate the image, and readers take its presence
    for AI generation, so a clip no AI made read as AI-made (an agency that takes no generative
    AI would refuse it). It names the engine only in stillmotion:engine/model now; a diffusion
    clip still names its model. https://iptc.org/std/photometadata/specification/IPTC-PhotoMetadata#ai-system-used"""
    got = xmp_of_packet(metadata.build_packet(None, {"engine": "parallax", "model": "stillmotion-parallax",
                                                     "revision": "10"}, original_path="/p/x.jpg"))
    assert got["Xmp.iptcExt.DigitalSourceType"] == COMPOSITE_SYNTHETIC
    assert not any(key.startswith(("Xmp.iptcExt.AISystem", "Xmp.iptcExt.AIPrompt")) for key in got)
    assert got["Xmp.stillmotion.model"] == "stillmotion-parallax"
    generative = xmp_of_packet(metadata.build_packet(None, PROVENANCE, original_path="/p/x.jpg"))
    assert generative["Xmp.iptcExt.AISystemUsed"] == PROVENANCE["model"]
