"""Reading photo metadata: every real XMP fixture, parsed values equal what the file says.

The expected values come from an independent reader written here (ElementTree,
by namespace URI, no pyexiv2) plus values read off the files by hand.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stillmotion import cli, metadata, profiles
from stillmotion.errors import InputError
from stillmotion.metadata.develop import COLOURS

from support import save_photo, skimage_photo

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
CRS = "http://ns.adobe.com/camera-raw-settings/1.0/"
DC = "http://purl.org/dc/elements/1.1/"
LR = "http://ns.adobe.com/lightroom/1.0/"
XMP = "http://ns.adobe.com/xap/1.0/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


# ---------------------------------------------------------------- independent reference reader
def packet_of(path: Path) -> bytes:
    """The XMP packet in a sidecar, or cut out of a JPEG/TIFF by its markers."""
    data = path.read_bytes()
    if path.suffix.lower() == ".xmp":
        return data
    start = data.index(b"<x:xmpmeta")
    end = data.index(b"</x:xmpmeta>", start) + len(b"</x:xmpmeta>")
    return data[start:end]


def reference(path: Path) -> dict[tuple[str, str], object]:
    """Top-level properties of every rdf:Description: (namespace URI, name) -> str | list | dict."""
    root = ET.fromstring(packet_of(path))
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f"{{{RDF}}}RDF")
    out: dict[tuple[str, str], object] = {}
    for desc in rdf.findall(f"{{{RDF}}}Description"):
        for key, value in desc.attrib.items():
            if key.startswith("{") and not key.startswith(f"{{{RDF}}}"):
                uri, name = key[1:].split("}")
                out[(uri, name)] = value
        for child in desc:
            uri, name = child.tag[1:].split("}")
            container = next(iter(child), None)
            if container is None:
                out[(uri, name)] = child.text or ""
            elif container.tag in (f"{{{RDF}}}Seq", f"{{{RDF}}}Bag"):
                out[(uri, name)] = [li.text or "" for li in container]
            elif container.tag == f"{{{RDF}}}Alt":
                out[(uri, name)] = {li.get(XML_LANG): li.text or "" for li in container}
            # structs (crs:Look, xmpMM:History, regions) are not top-level settings
    return out


def ref_number(ref: dict, name: str) -> float | None:
    value = ref.get((CRS, name))
    return None if value is None else float(value)


def ref_curve(ref: dict, name: str) -> list[tuple[float, float]] | None:
    value = ref.get((CRS, name))
    if value is None:
        return None
    return [tuple(float(p) for p in point.split(",")) for point in value]


XMP_DIR_FILES = ["20240107_110258.jpg.xmp", "IMG_5910.xmp", "canon_eos_6d.xmp", "darktable-0096-lensfun.xmp",
                 "flatxmp.xmp", "ladybug.xmp", "testimagedesc1.xmp", "vignette_b.xmp"]
EMBEDDED_FILES = ["IMG_5910.jpg", "IMG_6455.jpg", "digikam.jpg", "ladybug.jpg", "tif-with-iptc-icc-xmp.tif",
                  "wild-1.jpg"]

# DevelopSettings attribute -> Camera Raw property (numbers)
NUMBERS = {
    "white_balance.temperature": "Temperature", "white_balance.tint": "Tint",
    "white_balance.incremental_temperature": "IncrementalTemperature",
    "white_balance.incremental_tint": "IncrementalTint",
    "exposure": "Exposure2012", "contrast": "Contrast2012", "highlights": "Highlights2012",
    "shadows": "Shadows2012", "whites": "Whites2012", "blacks": "Blacks2012", "clarity": "Clarity2012",
    "texture": "Texture", "dehaze": "Dehaze", "vibrance": "Vibrance", "saturation": "Saturation",
    "color_grading.shadow_hue": "SplitToningShadowHue",
    "color_grading.shadow_saturation": "SplitToningShadowSaturation",
    "color_grading.highlight_hue": "SplitToningHighlightHue",
    "color_grading.highlight_saturation": "SplitToningHighlightSaturation",
    "color_grading.balance": "SplitToningBalance", "color_grading.blending": "ColorGradeBlending",
    "color_grading.shadow_luminance": "ColorGradeShadowLum",
    "color_grading.midtone_hue": "ColorGradeMidtoneHue", "color_grading.midtone_saturation": "ColorGradeMidtoneSat",
    "color_grading.midtone_luminance": "ColorGradeMidtoneLum",
    "color_grading.highlight_luminance": "ColorGradeHighlightLum",
    "color_grading.global_hue": "ColorGradeGlobalHue", "color_grading.global_saturation": "ColorGradeGlobalSat",
    "color_grading.global_luminance": "ColorGradeGlobalLum",
    "vignette.amount": "PostCropVignetteAmount", "vignette.midpoint": "PostCropVignetteMidpoint",
    "vignette.feather": "PostCropVignetteFeather", "vignette.roundness": "PostCropVignetteRoundness",
    "grain.amount": "GrainAmount", "grain.size": "GrainSize", "grain.frequency": "GrainFrequency",
    "crop.top": "CropTop", "crop.left": "CropLeft", "crop.bottom": "CropBottom", "crop.right": "CropRight",
    "crop.angle": "CropAngle",
}
CURVES = {"master": "ToneCurvePV2012", "red": "ToneCurvePV2012Red", "green": "ToneCurvePV2012Green",
          "blue": "ToneCurvePV2012Blue", "legacy": "ToneCurve"}


def attr(obj: object, path: str) -> object:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.fixture
def blank_photo(tmp_path: Path) -> Path:
    """A photo with no metadata of its own, so only the sidecar under test speaks."""
    return save_photo(tmp_path / "blank.png", skimage_photo("coffee")[:32, :32])


def read_fixture(fixtures_dir: Path, name: str, blank_photo: Path) -> metadata.PhotoMetadata:
    path = fixtures_dir / "xmp" / name
    if path.suffix == ".xmp":
        return metadata.read(blank_photo, sidecar=path, discover_sidecar=False)
    return metadata.read(path, discover_sidecar=False)


@pytest.mark.parametrize("name", XMP_DIR_FILES + EMBEDDED_FILES)
def test_every_fixture_parses_to_what_the_file_says(fixtures_dir, blank_photo, name):
    ref = reference(fixtures_dir / "xmp" / name)
    meta = read_fixture(fixtures_dir, name, blank_photo)
    dev, desc = meta.develop, meta.descriptive
    assert meta.warnings == []
    checked = 0
    for path, crs_name in NUMBERS.items():
        assert attr(dev, path) == ref_number(ref, crs_name), (path, crs_name)
        checked += ref.get((CRS, crs_name)) is not None
    for path, crs_name in CURVES.items():
        assert attr(dev.tone_curve, path) == ref_curve(ref, crs_name), crs_name
    for colour in COLOURS:
        for kind in ("Hue", "Saturation", "Luminance"):
            expected = ref_number(ref, f"{kind}Adjustment{colour.capitalize()}")
            assert getattr(dev.hsl, kind.lower()).get(colour) == expected, (kind, colour)
    has_crop = ref.get((CRS, "HasCrop"))
    assert dev.crop.has_crop == (None if has_crop is None else has_crop == "True")
    assert dev.white_balance.mode == ref.get((CRS, "WhiteBalance"))
    assert dev.process_version == ref.get((CRS, "ProcessVersion"))
    # descriptive
    assert desc.keywords == ref.get((DC, "subject"), [])
    assert desc.hierarchical_keywords == ref.get((LR, "hierarchicalSubject"), [])
    assert desc.title == (ref.get((DC, "title")) or {}).get("x-default")
    assert desc.caption == (ref.get((DC, "description")) or {}).get("x-default")
    rating = ref.get((XMP, "Rating"))
    assert desc.rating == (None if rating is None else int(rating))
    assert desc.label == ref.get((XMP, "Label"))
    if (CRS, "Version") in ref:
        assert checked > 0  # a Camera Raw file really exercised the settings


def test_tone_curves_read_with_a_pyexiv2_that_splits_each_point(fixtures_dir, blank_photo, monkeypatch):
    """pyexiv2 2.14/2.15 (the newest on macOS 14 and older) split each XMP Seq item at ', ':
    a curve's "64, 60" came back as "64", "60", and every tone curve was ignored with a warning."""
    import pyexiv2

    read_xmp = pyexiv2.ImageData.read_xmp

    def read_xmp_as_pyexiv2_2_15(self, *args, **kwargs):
        return {key: [part for item in value for part in item.split(", ")] if isinstance(value, list) else value
                for key, value in read_xmp(self, *args, **kwargs).items()}

    monkeypatch.setattr(pyexiv2.ImageData, "read_xmp", read_xmp_as_pyexiv2_2_15)
    ref = reference(fixtures_dir / "xmp" / "ladybug.xmp")
    meta = read_fixture(fixtures_dir, "ladybug.xmp", blank_photo)
    assert meta.warnings == []
    for path, crs_name in CURVES.items():
        assert attr(meta.develop.tone_curve, path) == ref_curve(ref, crs_name), crs_name
    assert ref_curve(ref, "ToneCurvePV2012") is not None


def test_hand_read_values(fixtures_dir, blank_photo):
    """Values read off the files by eye (see fixtures/SOURCES.md), including signs and odd layouts."""
    squirrel = read_fixture(fixtures_dir, "IMG_5910.xmp", blank_photo).develop
    assert (squirrel.white_balance.temperature, squirrel.white_balance.tint) == (4300, 20)
    assert squirrel.exposure == pytest.approx(0.12) and squirrel.highlights == -83
    assert squirrel.hsl.saturation == {"red": 24, "orange": 27, "yellow": 27, "green": -20,
                                       "aqua": 0, "blue": 0, "purple": 0, "magenta": 0}
    assert (squirrel.crop.top, squirrel.crop.right, squirrel.crop.has_crop) == (0.231776, 0.768224, True)
    assert squirrel.tone_curve.master == [(0, 0), (255, 255)]

    canon = read_fixture(fixtures_dir, "canon_eos_6d.xmp", blank_photo).develop
    assert canon.tone_curve.legacy_name == "Medium Contrast"
    assert canon.tone_curve.legacy == [(0, 0), (32, 22), (64, 56), (128, 128), (192, 196), (255, 255)]

    flat = read_fixture(fixtures_dir, "flatxmp.xmp", blank_photo)
    # exif:DateTimeOriginal (no zone) and photoshop:DateCreated (with it): the precise one.
    assert flat.descriptive.capture_date == "1980-06-02T18:19:58-06:00"
    assert flat.develop.process_version is None and flat.develop.exposure is None  # PV2003: no *2012 keys
    assert flat.develop.legacy["Exposure"] == -0.35 and flat.develop.legacy["Contrast"] == 58
    assert flat.descriptive.keywords == ["Person1", "Person2", "Thing3"]

    rotated = metadata.read(fixtures_dir / "xmp" / "IMG_6455.jpg", discover_sidecar=False).develop
    assert rotated.crop.angle == pytest.approx(-1.05998)
    assert rotated.white_balance.temperature == 5800 and rotated.blacks == -39

    vignette = read_fixture(fixtures_dir, "vignette_b.xmp", blank_photo).develop
    assert (vignette.vignette.amount, vignette.vignette.midpoint, vignette.vignette.style) == (-50, 50, 1)

    grade = metadata.read(fixtures_dir / "xmp" / "wild-1.jpg", discover_sidecar=False).develop
    assert grade.color_grading.blending == 50 and grade.color_grading.midtone_hue == 0

    # digiKam binds the XMP basic namespace to `xap:`; the rating is still xmp:Rating.
    digikam = read_fixture(fixtures_dir, "20240107_110258.jpg.xmp", blank_photo).descriptive
    assert digikam.rating == 3 and digikam.keywords == ["Travel"]
    assert digikam.camera_model == "SM-A715F"
    assert digikam.gps.latitude == pytest.approx(50 + 5.3752490 / 60)
    assert digikam.gps.longitude == pytest.approx(14 + 23.8445710 / 60)

    labels = read_fixture(fixtures_dir, "testimagedesc1.xmp", blank_photo).descriptive
    assert labels.label == "Red" and labels.rights == "Copyright test"
    assert "űáéúőóüö ŰÁÉÚŐÓÜÖ" in labels.keywords

    tif = metadata.read(fixtures_dir / "xmp" / "tif-with-iptc-icc-xmp.tif", discover_sidecar=False).descriptive
    assert tif.label == "Approved"
    assert "Jet2.com_Keywords|Geographic Keywords|Europe|Turkey|DLM_Dalaman|Dalyan" in tif.hierarchical_keywords
    assert "Dalyan" in tif.all_keywords


def test_sidecar_is_found_and_overrides_embedded_xmp(fixtures_dir, tmp_path):
    """IMG_5910.jpg's own packet < IMG_5910.xmp found beside it < the plug-in's JSON."""
    photo = fixtures_dir / "xmp" / "IMG_5910.jpg"
    found = metadata.read(photo)
    assert found.sources == ["EXIF in IMG_5910.jpg", "XMP in IMG_5910.jpg", "sidecar IMG_5910.xmp"]
    # Our own sidecar beside a copy: its values win field by field; untouched fields stay embedded.
    copy = tmp_path / "IMG_5910.jpg"
    copy.write_bytes(photo.read_bytes())
    (tmp_path / "IMG_5910.jpg.xmp").write_text(SIDECAR.format(body='crs:Exposure2012="+1.50" xmp:Rating="5"'),
                                               encoding="utf-8")
    meta = metadata.read(copy)
    assert meta.develop.exposure == 1.5 and meta.descriptive.rating == 5
    assert meta.develop.white_balance.temperature == 4300          # from the embedded packet
    develop = {"Exposure2012": "+0.35", "Temperature": 5100, "ToneCurvePV2012": [0, 10, 128, 140, 255, 250],
               "orientation": "DA", "stillmotionPrompt": "the squirrel looks up",
               "Look": {"Name": "Adobe Vivid", "Parameters": {"Exposure2012": 3}}}
    meta = metadata.read(copy, develop=develop)
    assert meta.develop.exposure == 0.35 and meta.develop.white_balance.temperature == 5100
    assert meta.develop.tone_curve.master == [(0, 10), (128, 140), (255, 250)]
    assert meta.develop.orientation == 6            # Lightroom "DA": rotated 90 degrees clockwise
    assert meta.per_photo_prompt == "the squirrel looks up"
    assert meta.descriptive.rating == 5 and meta.sources[-1] == "plug-in develop settings"
    # The capture date too, under whichever name: the sidecar's photoshop:DateCreated over the
    # photo's own exif:DateTimeOriginal (which had won, name by name), its time zone kept.
    assert metadata.read(photo, discover_sidecar=False).descriptive.capture_date == "2015-06-11T10:29:26.69"
    (tmp_path / "IMG_5910.jpg.xmp").unlink()
    (tmp_path / "IMG_5910.jpg.xmp").write_text(SIDECAR.format(body='photoshop:DateCreated="2003-03-03T03:03:03+05:30"'),
                                               encoding="utf-8")
    assert metadata.read(copy).descriptive.capture_date == "2003-03-03T03:03:03+05:30"


def test_keywords_come_from_one_source_flat_and_hierarchical_together(fixtures_dir, tmp_path):
    """A Lightroom JPEG (dc:subject and lr:hierarchicalSubject "Mono-tó", "USA") keyworded
    again in digiKam, whose sidecar (a real digiKam 8.2 one) has dc:subject "Travel" and no
    hierarchy. The clip said dc:subject "Travel" but lr:hierarchicalSubject "Mono-tó", "USA":
    Lightroom imports both lists, so keywords removed in digiKam came back."""
    photo = tmp_path / "IMG_6455.jpg"
    photo.write_bytes((fixtures_dir / "xmp" / "IMG_6455.jpg").read_bytes())
    assert metadata.read(photo).descriptive.hierarchical_keywords == ["Mono-tó", "USA"]
    (tmp_path / "IMG_6455.jpg.xmp").write_bytes((fixtures_dir / "xmp" / "20240107_110258.jpg.xmp").read_bytes())
    meta = metadata.read(photo)
    assert meta.descriptive.keywords == ["Travel"]
    assert meta.descriptive.hierarchical_keywords == []
    assert meta.descriptive.creator == ["Patrik"]        # other fields still merge field by field


def test_the_sidecar_named_after_the_whole_file_name_wins(fixtures_dir, tmp_path):
    """RAW+JPEG: Lightroom's IMG_5910.xmp belongs to IMG_5910.CR2; darktable wrote
    IMG_5910.jpg.xmp for the JPEG itself. The JPEG's clip took the raw's sidecar (its title,
    rating, crop) and the JPEG's own sidecar was never read."""
    for name in ("IMG_5910.jpg", "IMG_5910.xmp"):
        (tmp_path / name).write_bytes((fixtures_dir / "xmp" / name).read_bytes())
    (tmp_path / "IMG_5910.CR2").write_bytes(b"raw")
    (tmp_path / "IMG_5910.jpg.xmp").write_bytes((fixtures_dir / "xmp" / "darktable-0096-lensfun.xmp").read_bytes())
    meta = metadata.read(tmp_path / "IMG_5910.jpg")
    assert meta.sources[-1] == "sidecar IMG_5910.jpg.xmp"
    assert meta.descriptive.title == "t" and meta.descriptive.rating == 1
    (tmp_path / "IMG_5910.jpg.xmp").unlink()          # alone, IMG.xmp is still found (Capture One)
    assert metadata.read(tmp_path / "IMG_5910.jpg").sources[-1] == "sidecar IMG_5910.xmp"


def test_gps_comes_from_one_source(fixtures_dir, tmp_path):
    """The photo's own XMP places it at Mono Lake, 2061.7 m up (as Photoshop writes EXIF GPS
    into XMP); a digiKam sidecar (real, latitude and longitude only) moves it to Prague. The
    clip said Prague at 2061.7 m: the altitude of one place pinned to another."""
    import pyexiv2

    photo = tmp_path / "IMG_6455.jpg"
    photo.write_bytes((fixtures_dir / "xmp" / "IMG_6455.jpg").read_bytes())
    with pyexiv2.Image(str(photo)) as image:
        image.modify_xmp({"Xmp.exif.GPSLatitude": "37,57.691300N", "Xmp.exif.GPSLongitude": "119,6.414200W",
                          "Xmp.exif.GPSAltitude": "20617065/10000", "Xmp.exif.GPSAltitudeRef": "0"})
    assert metadata.read(photo).descriptive.gps.altitude == pytest.approx(2061.7065)
    (tmp_path / "IMG_6455.jpg.xmp").write_bytes((fixtures_dir / "xmp" / "20240107_110258.jpg.xmp").read_bytes())
    gps = metadata.read(photo).descriptive.gps
    assert (gps.latitude, gps.longitude) == pytest.approx((50.0895875, 14.3974095))
    assert gps.altitude is None


def test_an_exif_only_capture_date_keeps_its_time_zone_and_fraction(fixtures_dir, tmp_path):
    """A photo dated in EXIF only (digiKam's street photo; any phone JPEG): DateTimeOriginal
    with SubSecTimeOriginal and, from EXIF 2.31 on, OffsetTimeOriginal. The clip's
    photoshop:DateCreated dropped both, so a DAM in another zone placed the clip hours away
    from its photo, and burst frames lost their order."""
    import pyexiv2

    photo = tmp_path / "street.jpg"
    photo.write_bytes((fixtures_dir / "xmp" / "digikam.jpg").read_bytes())   # its date: EXIF only
    assert metadata.read(photo).descriptive.capture_date == "2020-10-17T17:48:24.950488"
    with pyexiv2.Image(str(photo)) as image:         # as a phone writes it
        image.modify_exif({"Exif.Photo.OffsetTimeOriginal": "+02:00"})
    assert metadata.read(photo).descriptive.capture_date == "2020-10-17T17:48:24.950488+02:00"
    with pyexiv2.Image(str(photo)) as image:         # junk in either is left out, the date kept
        image.modify_exif({"Exif.Photo.OffsetTimeOriginal": "   :  ", "Exif.Photo.SubSecTimeOriginal": "x"})
    assert metadata.read(photo).descriptive.capture_date == "2020-10-17T17:48:24"


def test_a_photo_whose_name_is_not_utf8_is_read(fixtures_dir, tmp_path):
    """A photo named in Latin-1 (copied from an old share or card: b"caf\\xe9.jpg") on a UTF-8
    system: pyexiv2 encoded the name as UTF-8 and `animate` died with a UnicodeEncodeError
    traceback ("surrogates not allowed")."""
    import os

    copy = Path(os.fsdecode(tmp_path / "IMG_5910.jpg").replace("IMG", os.fsdecode(b"caf\xe9")))
    try:
        copy.write_bytes((fixtures_dir / "xmp" / "IMG_5910.jpg").read_bytes())
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes only UTF-8 names")
    meta = metadata.read(copy, discover_sidecar=False)
    assert meta.develop.white_balance.temperature == 4300 and not meta.warnings


SIDECAR = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
 xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:sm="http://ns.stillmotion.app/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" {body}/>
</rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def test_look_parameters_are_not_photo_settings(blank_photo, tmp_path):
    sidecar = tmp_path / "look.xmp"
    sidecar.write_text(SIDECAR.replace("{body}/>", """crs:Exposure2012="-0.50">
 <crs:Look><rdf:Description crs:Name="Adobe Portrait"><crs:Parameters><rdf:Description
   crs:Exposure2012="+2.00" crs:Contrast2012="+40" crs:GrainAmount="30"/></crs:Parameters></rdf:Description></crs:Look>
 </rdf:Description>"""), encoding="utf-8")
    dev = metadata.read(blank_photo, sidecar=sidecar).develop
    assert dev.exposure == -0.5 and dev.contrast is None and dev.grain.amount is None
    assert dev.look_name == "Adobe Portrait"


def test_unparseable_values_warn_with_the_field_name(blank_photo, tmp_path):
    sidecar = tmp_path / "bad.xmp"
    sidecar.write_text(SIDECAR.format(body='crs:Exposure2012="bright" crs:Contrast2012="+25" '
                                           'crs:HasCrop="maybe" crs:Temperature="1e9" xmp:Rating="7" '
                                           'crs:ToneCurvePV2012="0, 0"'), encoding="utf-8")
    meta = metadata.read(blank_photo, sidecar=sidecar)
    assert meta.develop.contrast == 25                                  # the rest still parses
    assert meta.develop.exposure is None and meta.develop.crop.has_crop is None
    assert meta.develop.white_balance.temperature is None and meta.descriptive.rating is None
    text = "\n".join(meta.warnings)
    for field in ("crs:Exposure2012", "crs:HasCrop", "crs:Temperature", "xmp:Rating"):
        assert field in text, field
    # Every one names its source, an out-of-range value too (it said "develop white_balance...").
    assert all(w.startswith(("crs:", "xmp:")) and "(sidecar bad.xmp)" in w for w in meta.warnings), meta.warnings


def test_prompt_order(blank_photo, tmp_path):
    sidecar = tmp_path / "c.xmp"
    sidecar.write_text(SIDECAR.replace("{body}/>", """sm:prompt="the flag ripples">
 <dc:description><rdf:Alt><rdf:li xml:lang="x-default">waves roll in
 at dusk</rdf:li></rdf:Alt></dc:description></rdf:Description>"""), encoding="utf-8")
    meta = metadata.read(blank_photo, sidecar=sidecar)
    portrait = profiles.PROFILES["portrait"]
    assert metadata.choose_prompt("a gust of wind", meta, portrait, True) == ("a gust of wind", "request")
    assert metadata.choose_prompt(None, meta, portrait, True) == ("the flag ripples", "photo")
    meta.per_photo_prompt = None
    assert metadata.choose_prompt("  ", meta, portrait, True) == ("waves roll in at dusk", "caption")
    assert metadata.choose_prompt(None, meta, portrait, False) == (portrait.motion_description, "profile")
    assert metadata.choose_prompt(None, None, portrait, True) == (portrait.motion_description, "profile")


def test_concurrent_reads_agree(fixtures_dir):
    """pyexiv2 is not thread-safe; the module serialises it, so threads get identical results."""
    photos = [fixtures_dir / "xmp" / n for n in EMBEDDED_FILES]
    expected = [metadata.read(p).to_json() for p in photos]

    def work(_: int) -> list:
        return [[metadata.read(p).to_json() for p in photos] for _ in range(3)]

    # (through a pool: a read that raises in a thread fails the test instead of leaving its slot empty)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(work, range(6)))
    assert results == [[expected] * 3] * 6


def test_inspect_prints_what_the_pipeline_uses(fixtures_dir, fast_config, capsys):
    photo = fixtures_dir / "xmp" / "IMG_5910.jpg"
    assert cli.main(["inspect", str(photo), "--xmp", str(fixtures_dir / "xmp" / "IMG_5910.xmp"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["develop"]["hsl"]["saturation"]["green"] == -20
    assert report["develop"]["tone_curve"]["master"] == [[0, 0], [255, 255]]
    assert report["descriptive"]["keywords"] == ["Alvin the Squirrel", "Berkley", "USA"]
    # What a run would use, not the caption for the configured profile ("auto" read as generic):
    # the profile the readiness analysis picks, and no prompt for parallax, which follows none.
    assert report["engine"]["name"] == "parallax"
    assert report["prompt"] == {"text": None, "source": "none: the engine follows no prompt", "profile": "portrait"}
    assert report == json.loads(json.dumps(metadata.inspect_report(photo, fixtures_dir / "xmp" / "IMG_5910.xmp")))


def test_inspect_agrees_with_the_clip_a_run_makes(fixtures_dir, fast_config, capsys, tmp_path):
    photo, sidecar = fixtures_dir / "xmp" / "IMG_5910.jpg", fixtures_dir / "xmp" / "IMG_5910.xmp"
    assert cli.main(["inspect", str(photo), "--xmp", str(sidecar), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert cli.main(["animate", str(photo), "--xmp", str(sidecar), "--out", str(tmp_path),
                     "--duration", "0.5", "--fps", "4"]) == 0
    clip_xmp = next(tmp_path.glob("IMG_5910.motion*.xmp")).read_text(encoding="utf-8")
    assert f"<stillmotion:profile>{report['prompt']['profile']}</stillmotion:profile>" in clip_xmp
    assert f"<stillmotion:engine>{report['engine']['name']}</stillmotion:engine>" in clip_xmp
    assert f"<stillmotion:prompt_source>{report['prompt']['source']}</stillmotion:prompt_source>" in clip_xmp


def test_inspect_without_json_lists_what_is_set_for_reading(fixtures_dir, fast_config, capsys):
    """--json printed JSON and so did the plain command: the plain one is for reading."""
    photo = fixtures_dir / "xmp" / "IMG_5910.jpg"
    assert cli.main(["inspect", str(photo), "--xmp", str(fixtures_dir / "xmp" / "IMG_5910.xmp")]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == f"photo: {photo}" and "develop:" in lines and "  exposure: 0.12" in lines
    assert "    temperature: 4300.0" in lines                  # white_balance's, indented under it
    assert "null" not in text and "None" not in text and not text.lstrip().startswith("{")


def test_missing_photo_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="nope.jpg: no such file"):
        metadata.read(tmp_path / "nope.jpg")


def test_a_photo_exiv2_cannot_open_by_name_is_read_from_its_bytes(fixtures_dir, tmp_path, monkeypatch):
    """exiv2 on Windows opens a file name through the ANSI code page: "München/Ständchen.jpg",
    a user "Jürgen"'s Pictures folder (the daemon's uploads live there too) or "桜.jpg" on a
    German system was 'Failed to open the data source', and the clip lost the photo's title,
    keywords, capture date and place (pyexiv2 issues #131, #161). Windows' exiv2 stood in here."""
    import pyexiv2

    from stillmotion.metadata import _exiv2

    class WindowsImage(pyexiv2.Image):
        def __init__(self, filename: str, encoding: str = "utf-8") -> None:
            if not filename.isascii():
                raise RuntimeError(f"{filename}: Failed to open the data source: No such file or "
                                   "directory (errno = 2)")
            super().__init__(filename, encoding)

    monkeypatch.setattr(_exiv2.pyexiv2, "Image", WindowsImage)
    folder = tmp_path / "Jürgen" / "Bilder" / "München"
    folder.mkdir(parents=True)
    photo = folder / "Ständchen 桜.jpg"
    photo.write_bytes((fixtures_dir / "xmp" / "IMG_6455.jpg").read_bytes())
    with pyexiv2.ImageData(photo.read_bytes()) as image:   # (what Lightroom's export embeds)
        image.modify_xmp({"Xmp.dc.title": {'lang="x-default"': "Ständchen im Regen"},
                          "Xmp.dc.subject": ["Größe", "夏"]})
        photo.write_bytes(image.get_bytes())
    meta = metadata.read(photo, discover_sidecar=False)
    assert meta.descriptive.title == "Ständchen im Regen" and meta.descriptive.keywords == ["Größe", "夏"]
    assert not meta.warnings
    # a file that is not there, or no image, still says so in exiv2's words
    (folder / "kein Bild.jpg").write_bytes(b"not a photo")
    meta = metadata.read(folder / "kein Bild.jpg", discover_sidecar=False)
    assert any("Failed to open the data source" in w or "unknown image type" in w for w in meta.warnings)
