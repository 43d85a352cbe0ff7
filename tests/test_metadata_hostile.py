"""Hostile and broken metadata: a clear error or a warning, never a crash or a hang."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest

from stillmotion import metadata
from stillmotion.errors import InputError

from support import save_photo, skimage_photo

PACKET = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" crs:Exposure2012="+0.50"{extra}/>
</rdf:RDF></x:xmpmeta>{tail}<?xpacket end="w"?>"""

ENTITIES = "".join(f'<!ENTITY e{i} "{("&e%d;" % (i - 1)) * 10 if i else "lol"}">\n' for i in range(10))
BILLION_LAUGHS = (f'<?xml version="1.0"?>\n<!DOCTYPE x:xmpmeta [\n{ENTITIES}]>\n'
                  + PACKET.format(extra=' crs:CameraProfile="&e9;"', tail="").split("\n", 1)[1])


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return save_photo(tmp_path / "IMG_0001.jpg", skimage_photo("chelsea")[:48, :64], quality=90)


def own_hostile(tmp_path: Path) -> dict[str, Path]:
    files = {
        "entity expansion": BILLION_LAUGHS.encode(),
        "malformed XML": PACKET.format(extra=' crs:Contrast2012="+10"', tail="").replace("</rdf:RDF>", "").encode(),
        "binary junk": os.urandom(4096),
        "UTF-16 packet": PACKET.format(extra="", tail="").encode("utf-16"),
        "not XMP at all": b"<html><body>hello</body></html>",
        "empty": b"",
    }
    out = {}
    for label, data in files.items():
        path = tmp_path / (label.replace(" ", "_") + ".xmp")
        path.write_bytes(data)
        out[label] = path
    big = tmp_path / "fifty_mb.xmp"
    with open(big, "w", encoding="utf-8") as fh:  # a real 50 MB packet (padding), not a sparse file
        fh.write(PACKET.format(extra="", tail="").replace("<?xpacket end", " " * (50 * 1024 * 1024) + "<?xpacket end"))
    out["50 MB"] = big
    return out


def test_hostile_fixtures_as_explicit_sidecar_are_input_errors(fixtures_dir, photo):
    for name in ("issue_851_poc.xmp", "xmlbomb.xml"):
        started = time.monotonic()
        with pytest.raises(InputError) as info:
            metadata.read(photo, sidecar=fixtures_dir / "hostile" / name)
        assert time.monotonic() - started < 2.0
        message = str(info.value)
        assert name in message and "\n" not in message


def test_own_hostile_sidecars_are_input_errors_in_bounded_time(tmp_path, photo):
    for label, path in own_hostile(tmp_path).items():
        started = time.monotonic()
        with pytest.raises(InputError) as info:
            metadata.read(photo, sidecar=path)
        assert time.monotonic() - started < 2.0, label
        assert path.name in str(info.value), label
    assert "DOCTYPE" in str(pytest.raises(InputError, metadata.read, photo,
                                          sidecar=tmp_path / "entity_expansion.xmp").value)
    assert "limit" in str(pytest.raises(InputError, metadata.read, photo, sidecar=tmp_path / "fifty_mb.xmp").value)


def test_a_broken_sidecar_found_beside_the_photo_is_a_warning(fixtures_dir, photo):
    beside = photo.with_suffix(".xmp")
    beside.write_bytes((fixtures_dir / "hostile" / "issue_851_poc.xmp").read_bytes())
    meta = metadata.read(photo)
    assert any("IMG_0001.xmp" in w and "ignored" in w for w in meta.warnings)
    assert meta.develop.exposure is None


def test_a_fifo_named_like_a_sidecar_does_not_hang(photo):
    fifo = photo.with_name(photo.name + ".xmp")
    os.mkfifo(fifo)
    started = time.monotonic()
    meta = metadata.read(photo)
    assert time.monotonic() - started < 2.0
    assert meta.warnings == [] or all("ignored" in w for w in meta.warnings)
    with pytest.raises(InputError, match="regular file"):
        metadata.read(photo, sidecar=fifo)


@pytest.mark.parametrize("packet", [
    BILLION_LAUGHS,
    PACKET.format(extra=' crs:CameraProfile="Adobe Standard"', tail="").replace("</rdf:RDF>", ""),
    PACKET.format(extra=' crs:CameraProfile="Caf\u00e9"', tail=""),   # written as Latin-1 below: not UTF-8
], ids=["entity-bomb", "malformed", "latin-1"])
def test_hostile_xmp_embedded_in_a_jpeg_is_a_warning(photo, tmp_path, packet):
    """A bad packet inside the photo's own APP1 XMP segment: the photo still reads, with a warning
    (a packet that is not UTF-8 was dropped without one)."""
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet.encode("latin-1" if "Caf" in packet else "utf-8")
    jpeg = photo.read_bytes()
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:])
    started = time.monotonic()
    meta = metadata.read(bad, discover_sidecar=False)
    assert time.monotonic() - started < 2.0
    assert len(meta.warnings) == 1 and "bad.jpg" in meta.warnings[0] and "\n" not in meta.warnings[0]
    assert meta.develop.camera_profile is None


@pytest.mark.parametrize("name", ["truncated_jpeg.jpg", "decompression_bomb.gif"])
def test_hostile_photos_read_without_crashing(fixtures_dir, name):
    started = time.monotonic()
    meta = metadata.read(fixtures_dir / "hostile" / name, discover_sidecar=False)
    assert time.monotonic() - started < 2.0
    assert meta.develop.exposure is None


def test_bad_develop_json_is_an_input_error_and_bad_values_warn(photo):
    with pytest.raises(InputError, match="JSON object"):
        metadata.read(photo, develop=["Exposure2012", 1])
    meta = metadata.read(photo, develop={"Exposure2012": True, "Contrast2012": float("nan"),
                                         "ToneCurvePV2012": [0, 0, 255], "HueAdjustmentRed": "-12",
                                         "orientation": "XY"})
    assert meta.develop.hsl.hue == {"red": -12}
    assert meta.develop.exposure is None and meta.develop.contrast is None
    assert meta.develop.tone_curve.master is None and meta.develop.orientation is None
    joined = "\n".join(meta.warnings)
    for field in ("crs:Exposure2012", "crs:Contrast2012", "crs:ToneCurvePV2012", "tiff:Orientation"):
        assert field in joined
    # Out of Lightroom's slider ranges: warned and left out, as the look would not use them.
    meta = metadata.read(photo, develop={"PostCropVignetteAmount": -50, "PostCropVignetteStyle": 9,
                                         "PostCropVignetteMidpoint": 150})
    assert (meta.develop.vignette.amount, meta.develop.vignette.style, meta.develop.vignette.midpoint) == (-50, None, None)
    assert "crs:PostCropVignetteStyle = 9 (plug-in develop settings): outside Lightroom's range 1..3; ignored" in meta.warnings


@pytest.mark.parametrize("data, words", [
    # a photo (or another binary file) picked as the sidecar: not "contains NUL bytes"
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["not text", "UTF-8"]),
    (PACKET.format(extra="", tail="").encode("utf-16"), ["not text", "UTF-8"]),
    # Latin-1 from an old tool: not "bad byte at offset 301"
    (PACKET.format(extra=' crs:CameraProfile="Caf\xe9"', tail="").encode("latin-1"), ["not UTF-8 text", "UTF-8"]),
    (b"", ["empty"]),
    (b"<html><body>hello</body></html>", ["holds no XMP metadata"]),
], ids=["a photo", "UTF-16", "Latin-1", "empty", "HTML"])
def test_a_sidecar_that_is_not_xmp_says_so_in_plain_words(tmp_path, photo, data, words):
    """A photographer reads only the line: it names the sidecar and says what is wrong and
    what to do, without "NUL bytes", "offset" or "RDF namespace"."""
    sidecar = tmp_path / "IMG_0001.xmp"
    sidecar.write_bytes(data)
    message = str(pytest.raises(InputError, metadata.read, photo, sidecar=sidecar).value)
    assert message.startswith(f"XMP sidecar {sidecar}: ")
    for word in words:
        assert word in message, message
    for jargon in ("NUL", "offset", "namespace"):
        assert jargon not in message, message
