"""Photo input: orientation, ICC profiles to sRGB, 8- and 16-bit files."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from stillmotion import photo
from stillmotion.errors import InputError, TooLargeError

from support import SHARED_FIXTURES, cmyk_icc, grey_icc, save_photo, skimage_photo


def test_exif_orientation_is_applied(tmp_path):
    pixels = skimage_photo("rocket")[:200, :300]
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=95)
    loaded = photo.load(path)
    assert loaded.pixels.shape[:2] == (300, 200)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".jpg", ".tif", ".png"])   # 8-bit through Pillow; 16-bit TIFF, PNG
def test_every_exif_orientation_is_applied_once_at_any_bit_depth(tmp_path, orientation, suffix):
    """16-bit TIFFs were turned twice (OpenCV turns a TIFF by its tag itself), and orientation
    7 (transverse) was turned wrong at 16 bits."""
    import cv2
    import pyexiv2

    stored = skimage_photo("astronaut")[::8, ::4]      # 64 x 128: not square, not symmetric
    path = tmp_path / f"o{orientation}{suffix}"
    if suffix == ".jpg":
        Image.fromarray(stored).save(path, quality=100, subsampling=0)
    else:
        cv2.imwrite(str(path), (stored.astype(np.uint16) * 257)[..., ::-1])
    with pyexiv2.Image(str(path)) as image:
        image.modify_exif({"Exif.Image.Orientation": str(orientation)})
    shown = np.asarray(ImageOps.exif_transpose(_with_orientation(stored, orientation)))   # as a viewer shows it
    loaded = photo.load(path)
    assert loaded.pixels.shape[:2] == shown.shape[:2]
    assert np.abs(loaded.pixels * 255 - shown).mean() < 3


def _with_orientation(pixels: np.ndarray, orientation: int) -> Image.Image:
    image = Image.fromarray(pixels)
    image.getexif()[0x0112] = orientation
    return image


def test_a_cut_out_says_its_transparency_is_not_kept(tmp_path, fast_config, capsys):
    """A PNG with see-through pixels animated as the colour stored under them, without a word."""
    from stillmotion import cli

    rgba = np.dstack([skimage_photo("coffee")[::4, ::4], np.full((100, 150), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    rgba[:30, :30, 3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    assert photo.load(tmp_path / "cutout.png").transparent and not photo.load(tmp_path / "opaque.png").transparent
    assert cli.main(["animate", str(tmp_path / "cutout.png"), "--duration", "0.5", "--fps", "4"]) == 0
    assert "cutout.png: note: the photo's transparency was not kept" in capsys.readouterr().err
    # What was said is in the clip's own record too, for whoever gets the clip without the terminal.
    import pyexiv2

    with pyexiv2.Image(str(tmp_path / "cutout.motion.xmp")) as sidecar:
        notes = sidecar.read_xmp()["Xmp.stillmotion.notes"]
    assert len(notes) == 1 and notes[0].startswith("the photo's transparency was not kept")
    assert cli.main(["animate", str(tmp_path / "opaque.png"), "--duration", "0.5", "--fps", "4"]) == 0
    with pyexiv2.Image(str(tmp_path / "opaque.motion.xmp")) as sidecar:
        assert "Xmp.stillmotion.notes" not in sidecar.read_xmp()     # nothing said, nothing recorded


@pytest.mark.parametrize("kind", ["ultra-hdr", "iso-21496-1"])
def test_a_gain_map_jpeg_is_animated_from_its_sdr_rendition_and_says_so(tmp_path, fast_config, capsys, kind):
    """An HDR JPEG (Lightroom's HDR export, a phone's Ultra HDR) is an SDR photo and a gain map:
    its clip is the SDR rendition, right, but the photographer who graded it in HDR was not told
    that the HDR was left out."""
    import struct

    from stillmotion import cli

    pixels = skimage_photo("coffee")[::4, ::4]
    gain_map = io.BytesIO()
    Image.fromarray(pixels[::2, ::2, 0]).save(gain_map, "JPEG")
    path = tmp_path / "HDR_0001.jpg"
    if kind == "ultra-hdr":   # (Google's and Adobe's: XMP in the primary image names the gain map)
        xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
               b'<rdf:Description xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/" hdrgm:Version="1.0"/>'
               b'</rdf:RDF></x:xmpmeta>')
        Image.fromarray(pixels).save(path, quality=90, xmp=xmp)
    else:                     # (ISO 21496-1: an APP2 segment in the primary image)
        urn = b"urn:iso:std:iso:ts:21496:-1\0" + bytes(4)
        Image.fromarray(pixels).save(path, quality=90, extra=b"\xff\xe2" + struct.pack(">H", 2 + len(urn)) + urn)
    path.write_bytes(path.read_bytes() + gain_map.getvalue())
    sdr = np.asarray(Image.open(path).convert("RGB"), np.float32)        # the SDR rendition, as it is
    assert np.abs(photo.load(path).pixels * 255 - sdr).max() < 0.01
    assert cli.main(["animate", str(path), "--duration", "0.5", "--fps", "4"]) == 0
    assert ("HDR_0001.jpg: note: its HDR gain map was not used: the clip is the photo's SDR rendition"
            in capsys.readouterr().err)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_a_16bit_cut_out_says_its_transparency_is_not_kept_too(tmp_path, suffix):
    """The note was given for 8-bit files only: a 16-bit PNG or TIFF cut-out said nothing."""
    import cv2

    bgr = skimage_photo("coffee")[::4, ::4, ::-1]
    rgba = np.dstack([bgr, np.full((100, 150), 255, np.uint8)]).astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / f"opaque{suffix}"), rgba)
    rgba[:30, :30, 3] = 0
    cv2.imwrite(str(tmp_path / f"cutout{suffix}"), rgba)
    cut_out, opaque = photo.load(tmp_path / f"cutout{suffix}"), photo.load(tmp_path / f"opaque{suffix}")
    assert cut_out.bit_depth == 16 and cut_out.transparent and not opaque.transparent
    assert np.array_equal(cut_out.pixels[40:], opaque.pixels[40:])


def test_adobe_rgb_and_prophoto_converted_to_srgb(tmp_path, fixtures_dir):
    prophoto = photo.load(fixtures_dir / "xmp" / "tif-with-iptc-icc-xmp.tif")
    assert prophoto.source_profile == "ProPhoto RGB"
    with Image.open(fixtures_dir / "xmp" / "tif-with-iptc-icc-xmp.tif") as im:
        raw = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        icc = im.info["icc_profile"]
        expected = ImageCms.profileToProfile(im.convert("RGB"), ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                             ImageCms.createProfile("sRGB"), renderingIntent=0)
    expected = np.asarray(expected, dtype=np.float32) / 255.0
    assert np.abs(prophoto.pixels - expected).max() <= 1 / 255 + 1e-6
    assert np.abs(prophoto.pixels - raw).mean() > 0.01  # the conversion did something


def _through_littlecms(image: Image.Image, icc: bytes) -> np.ndarray:
    expected = ImageCms.profileToProfile(image, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                         ImageCms.createProfile("sRGB"), renderingIntent=0, outputMode="RGB")
    return np.asarray(expected, dtype=np.float32) / 255.0


def test_a_greyscale_photo_with_a_grey_profile_is_converted_at_8_and_16_bits(tmp_path):
    """A black-and-white export with its grey profile (Gray Gamma 2.2, Dot Gain 20%) was a
    littleCMS traceback ("cannot build transform"), 8-bit JPEG and 16-bit TIFF alike."""
    import cv2
    import pyexiv2

    icc = grey_icc(1.0)                        # linear: far from sRGB's curve
    grey = np.asarray(Image.fromarray(skimage_photo("camera")[::4, ::4, 0]))
    Image.fromarray(grey).save(tmp_path / "bw.jpg", quality=100, icc_profile=icc)
    cv2.imwrite(str(tmp_path / "bw.tif"), grey.astype(np.uint16) * 257)
    with pyexiv2.Image(str(tmp_path / "bw.tif")) as image:
        image.modify_icc(icc)
    with Image.open(tmp_path / "bw.jpg") as im:
        expected = _through_littlecms(im, icc)
    for name in ("bw.jpg", "bw.tif"):
        loaded = photo.load(tmp_path / name)
        assert loaded.source_profile == "Test Grey"
        assert np.abs(loaded.pixels - expected).mean() < 1.5 / 255, name
    assert np.abs(expected - grey[..., None] / 255.0).mean() > 0.05       # the conversion did something


def _tiff16_with_profile(path, rgb8: np.ndarray, icc: bytes):
    """A 16-bit TIFF of 8-bit colours (v * 257: the same values exactly) carrying `icc`."""
    import cv2
    import pyexiv2

    cv2.imwrite(str(path), (rgb8.astype(np.uint16) * 257)[..., ::-1])
    with pyexiv2.Image(str(path)) as image:
        image.modify_icc(icc)
    return path


def test_a_16bit_wide_gamut_photo_converts_as_its_8bit_twin_does(tmp_path, fixtures_dir):
    """16-bit ProPhoto/Adobe RGB pixels went through a table sampled from 8-bit conversions:
    deep shadows up to three levels light, colours between its nodes up to 24 levels off
    (CIEDE2000 3). Worked out from the profile's matrix and curves, the 16-bit photo now reads
    as littleCMS converts the same colours at 8 bits, to its rounding."""
    with Image.open(fixtures_dir / "xmp" / "tif-with-iptc-icc-xmp.tif") as im:
        prophoto = im.info["icc_profile"]
    with Image.open(fixtures_dir / "xmp" / "ladybug.jpg") as im:
        adobe = im.info["icc_profile"]
    rng = np.random.default_rng(5)
    colours = rng.integers(0, 256, (48, 64, 3)).astype(np.uint8)
    colours[0, :32] = np.arange(32, dtype=np.uint8)[:, None]      # the deepest shadows, neutral
    for name, icc in (("prophoto", prophoto), ("adobe", adobe)):
        loaded = photo.load(_tiff16_with_profile(tmp_path / f"{name}.tif", colours, icc))
        expected = _through_littlecms(Image.fromarray(colours), icc)
        assert loaded.bit_depth == 16
        assert np.abs(loaded.pixels - expected).max() <= 1 / 255 + 1e-6, name


def test_a_linear_srgb_profile_is_converted_though_its_name_says_srgb(tmp_path, fixtures_dir):
    """A linear-light photo (GIMP's "Linear sRGB", a scan's linear export) was taken for sRGB by
    the name of its profile and passed unconverted: a clip far too dark. Profiles are judged by
    their primaries and curves; a real sRGB profile still passes untouched."""
    from stillmotion.colour import icc as icc_mod
    from stillmotion.colour.space import linear_to_srgb

    srgb_colorants = ((0.4360747, 0.2225045, 0.0139322), (0.3850649, 0.7168786, 0.0971045),
                      (0.1430804, 0.0606169, 0.7141733))
    linear = icc_mod.matrix_trc_profile("GIMP built-in Linear sRGB", srgb_colorants, 1.0)
    ramp = np.repeat(np.repeat(np.linspace(0, 255, 64).astype(np.uint8)[None, :, None], 3, axis=2), 8, axis=0)
    loaded = photo.load(_tiff16_with_profile(tmp_path / "linear.tif", ramp, linear))
    assert np.abs(loaded.pixels - linear_to_srgb(ramp / np.float32(255))).max() < 1 / 255
    with Image.open(fixtures_dir / "xmp" / "IMG_5910.jpg") as im:
        real_srgb = im.info["icc_profile"]
    untouched = photo.load(_tiff16_with_profile(tmp_path / "srgb.tif", ramp, real_srgb))
    assert np.array_equal(untouched.pixels, ramp / np.float32(255))


def _adobe_rgb_to_srgb(rgb8: np.ndarray) -> np.ndarray:
    """Adobe RGB (1998) -> sRGB from the two standards' published numbers (not through any profile)."""
    linear = (rgb8 / 255.0) ** (563 / 256)
    adobe_to_xyz = np.array([[0.5767309, 0.1855540, 0.1881852], [0.2973769, 0.6273491, 0.0752741],
                             [0.0270343, 0.0706872, 0.9911085]])
    xyz_to_srgb = np.array([[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560],
                            [0.0556434, -0.2040259, 1.0572252]])
    srgb = np.clip(linear @ (xyz_to_srgb @ adobe_to_xyz).T, 0.0, 1.0)
    return np.where(srgb <= 0.0031308, 12.92 * srgb, 1.055 * srgb ** (1 / 2.4) - 0.055)


@pytest.mark.parametrize("exif, adobe", [
    ({"Exif.Photo.ColorSpace": "65535", "Exif.Iop.InteroperabilityIndex": "R03"}, True),   # DCF option file
    ({"Exif.Photo.ColorSpace": "2"}, True),                                                  # some cameras
    ({"Exif.Photo.ColorSpace": "1", "Exif.Iop.InteroperabilityIndex": "R98"}, False),       # sRGB
    ({"Exif.Photo.ColorSpace": "65535"}, False),          # uncalibrated, nothing more said: sRGB assumed
])
def test_a_camera_jpeg_in_adobe_rgb_without_a_profile_is_read_as_adobe_rgb(tmp_path, exif, adobe):
    """A camera set to Adobe RGB embeds no profile in its JPEGs, only EXIF saying so (as Lightroom
    and Photoshop read it); taken as sRGB, the clip came out desaturated."""
    import pyexiv2

    colours = np.array([[[200, 100, 50], [40, 160, 90], [128, 128, 128], [30, 60, 220]]], np.uint8)
    path = tmp_path / "_DSC0001.JPG"

    def camera_jpeg(**profile: bytes) -> None:
        patches = np.repeat(np.repeat(colours, 16, axis=0), 16, axis=1)
        Image.fromarray(patches).save(path, quality=100, subsampling=0, **profile)
        with pyexiv2.Image(str(path)) as image:
            image.modify_exif(exif)

    camera_jpeg()
    loaded = photo.load(path)
    centres = loaded.pixels[8, 8::16]
    expected = _adobe_rgb_to_srgb(colours[0].astype(np.float64)) if adobe else colours[0] / 255.0
    assert np.abs(centres - expected).max() < 1.5 / 255, (centres * 255, expected * 255)
    assert ("Adobe RGB" in loaded.source_profile) == adobe
    # An embedded profile says more than EXIF does: it wins (ladybug.jpg in the shared fixtures
    # is such a file: ColorSpace uncalibrated, with its profile).
    camera_jpeg(icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    assert np.abs(photo.load(path).pixels[8, 8::16] - colours[0] / 255.0).max() < 1.5 / 255


def test_colour_space_2_is_adobe_rgb_with_a_pillow_that_raises_for_a_missing_interop_ifd(
        tmp_path, monkeypatch):
    """Pillow before 13 (the newest Pillow on Python 3.10) raises KeyError for an interoperability
    IFD that is not there: a camera's ColorSpace 2 alone was then ignored and its photo read as sRGB."""
    import pyexiv2
    from PIL import ExifTags

    path = tmp_path / "_DSC0002.JPG"
    Image.fromarray(np.full((16, 16, 3), (40, 160, 90), np.uint8)).save(path, quality=100)
    with pyexiv2.Image(str(path)) as image:
        image.modify_exif({"Exif.Photo.ColorSpace": "2"})
    get_ifd = Image.Exif.get_ifd

    def get_ifd_as_pillow_12(self: Image.Exif, tag: int) -> dict:
        if tag == ExifTags.IFD.Interop and tag not in get_ifd(self, ExifTags.IFD.Exif):
            raise KeyError(tag)
        return get_ifd(self, tag)

    monkeypatch.setattr(Image.Exif, "get_ifd", get_ifd_as_pillow_12)
    assert "Adobe RGB" in photo.load(path).source_profile


def test_a_cmyk_photo_is_converted_through_its_own_profile(tmp_path):
    """A CMYK JPEG's embedded press profile was left unused (Pillow's naive CMYK -> RGB)."""
    path = tmp_path / "press.jpg"
    cmyk = Image.fromarray(skimage_photo("coffee")[::4, ::4]).convert("CMYK")
    cmyk.save(path, quality=100, icc_profile=cmyk_icc())
    with Image.open(path) as im:
        expected, naive = _through_littlecms(im, cmyk_icc()), np.asarray(im.convert("RGB")) / 255.0
    loaded = photo.load(path)
    assert loaded.source_profile == "Test CMYK"
    assert np.abs(loaded.pixels - expected).max() <= 1 / 255 + 1e-6
    assert np.abs(expected - naive).mean() > 0.05


def test_a_16bit_cmyk_tiff_is_read_not_called_damaged(tmp_path):
    """A 16-bit CMYK TIFF was "the 16-bit image data is damaged or truncated" (OpenCV cannot
    read one), with OpenCV's errors around it."""
    import tifffile

    cmyk = np.asarray(Image.fromarray(skimage_photo("coffee")[::4, ::4]).convert("CMYK"))
    tifffile.imwrite(tmp_path / "press16.tif", cmyk.astype(np.uint16) * 257, photometric="separated",
                     iccprofile=cmyk_icc())
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "press8.tif", icc_profile=cmyk_icc())
    assert np.array_equal(photo.load(tmp_path / "press16.tif").pixels, photo.load(tmp_path / "press8.tif").pixels)


def test_a_profile_for_other_pixels_is_one_readable_line(tmp_path):
    """An RGB photo carrying a grey profile was a littleCMS traceback; now it says so."""
    path = save_photo(tmp_path / "odd.jpg", skimage_photo("coffee")[::4, ::4], icc_profile=grey_icc(2.2))
    with pytest.raises(InputError, match=r"odd.jpg: its embedded ICC profile \(Test Grey\) is a greyscale "
                                         r"profile, not one for its RGB pixels"):
        photo.load(path)


def test_16bit_png_and_tiff_keep_precision(tmp_path):
    ramp = np.linspace(0, 65535, 256 * 64, dtype=np.float64).reshape(64, 256)
    rgb16 = np.stack([ramp, ramp[:, ::-1], ramp], axis=-1).astype(np.uint16)
    import cv2

    for suffix in (".png", ".tif"):
        path = tmp_path / f"ramp{suffix}"
        cv2.imwrite(str(path), rgb16[..., ::-1])
        loaded = photo.load(path)
        assert loaded.bit_depth == 16
        assert np.abs(loaded.pixels - rgb16 / 65535.0).max() < 1e-4
        # More distinct levels than 8 bits could hold.
        assert len(np.unique(loaded.pixels[..., 0])) > 1000


def _peak_while_loading(path, **kwargs) -> tuple[photo.Photo, int]:
    import tracemalloc

    tracemalloc.start()
    try:
        loaded = photo.load(path, **kwargs)
        return loaded, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_loading_holds_one_float_copy_of_the_photo(tmp_path):
    """A 60 MP JPEG peaked at two float copies (2.2 GB) while it was read: the division by 255
    made a second one beside the first."""
    path = save_photo(tmp_path / "photo.jpg", skimage_photo("coffee"), quality=90)
    loaded, peak = _peak_while_loading(path)
    assert peak < 1.5 * loaded.pixels.nbytes


@pytest.mark.parametrize("orientation", [1, 6])
def test_an_8bit_photo_is_read_without_a_second_decoded_copy(tmp_path, monkeypatch, orientation):
    """A 100 MP JPEG peaked at 2.4 GB over the 1.15 GB of its pixels while it was read: Pillow's
    exif_transpose copied the decoded photo even when it was upright, and numpy read the image
    through a bytes copy of all of it. It is turned in place and read into float band by band."""
    image = Image.fromarray(skimage_photo("coffee"))
    exif = image.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.jpg"
    image.save(path, quality=90, exif=exif.tobytes())
    whole, _ = _peak_while_loading(path)
    copies: list[Image.Image] = []
    real_copy = Image.Image.copy
    monkeypatch.setattr(Image.Image, "copy", lambda im: copies.append(im) or real_copy(im))
    monkeypatch.setattr(photo, "_FLOAT_BAND_PIXELS", 64 * 64)
    loaded, peak = _peak_while_loading(path)
    assert np.array_equal(loaded.pixels, whole.pixels)     # the same pixels, in other bands
    assert loaded.pixels.shape[:2] == ((400, 600) if orientation == 1 else (600, 400))
    assert peak < 1.05 * loaded.pixels.nbytes              # the float pixels and a band
    assert not [im for im in copies if im.size == image.size]   # Pillow held the photo once


@pytest.mark.parametrize("suffix, orientation", [(".tif", 1), (".png", 6)])
def test_a_16bit_photo_is_read_holding_its_decoded_pixels_and_one_float_copy(tmp_path, suffix, orientation):
    """An uncompressed 16-bit 100 MP TIFF (Lightroom's default TIFF export) peaked at 2.3 GB while
    it was read: its file's 600 MB were kept to the end. A 16-bit PNG with an EXIF orientation was
    turned after the float conversion, a second float copy."""
    import cv2
    import pyexiv2
    import tifffile

    pixels = skimage_photo("coffee").astype(np.uint16) * 257
    path = tmp_path / f"photo{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, pixels, photometric="rgb")   # uncompressed
    else:
        cv2.imwrite(str(path), pixels[..., ::-1])
        with pyexiv2.Image(str(path)) as image:
            image.modify_exif({"Exif.Image.Orientation": str(orientation)})
    loaded, peak = _peak_while_loading(path)
    expected = np.rot90(pixels, -1) if orientation == 6 else pixels
    assert np.array_equal(loaded.pixels, expected.astype(np.float32) / np.float32(65535.0))
    assert peak < 1.6 * loaded.pixels.nbytes    # the decoded 16 bits (half) and the float pixels


def test_a_wide_gamut_16bit_tiff_is_converted_without_a_pile_of_copies(tmp_path, monkeypatch):
    """A 45 MP 16-bit ProPhoto TIFF peaked at 4.4 GB while it was read (the ICC LUT's float
    temporaries, eight the photo's size): it is converted band by band (a small band here)."""
    import cv2
    import pyexiv2

    with Image.open(SHARED_FIXTURES / "xmp" / "tif-with-iptc-icc-xmp.tif") as im:
        prophoto = im.info["icc_profile"]
    path = tmp_path / "scan.tif"
    cv2.imwrite(str(path), (skimage_photo("coffee").astype(np.uint16) * 257)[..., ::-1])
    with pyexiv2.Image(str(path)) as image:
        image.modify_icc(prophoto)
    whole, _ = _peak_while_loading(path)
    monkeypatch.setattr(photo, "_LUT_BAND_PIXELS", 64 * 64)
    loaded, peak = _peak_while_loading(path)
    assert loaded.source_profile == "ProPhoto RGB"
    assert np.array_equal(loaded.pixels, whole.pixels)     # the same conversion, in bands
    assert peak < 2 * loaded.pixels.nbytes   # the decoded 16 bits and one float copy


def test_size_limit_and_bomb(tmp_path):
    path = save_photo(tmp_path / "big.png", skimage_photo("coffee"))
    with pytest.raises(TooLargeError, match="over the 0.1 MP limit"):
        photo.load(path, max_megapixels=0.1)
    with pytest.raises(InputError, match="no such file"):
        photo.load(tmp_path / "missing.jpg")


def test_a_medium_format_frame_is_read_up_to_the_configured_limit(tmp_path):
    """A GFX100 frame (11648 x 8736 = 102 MP) was refused as a "decompression bomb" by
    Pillow's own 89.5 MP guard, under a 200 MP [limits] max_megapixels."""
    from PIL import Image

    path = tmp_path / "DSCF0001.png"
    Image.new("L", (11648, 8736), 90).save(path, compress_level=1)
    with photo.open_checked(path, 200) as image:
        assert image.size == (11648, 8736)
    with pytest.raises(TooLargeError, match=r"over the 100 MP limit \(\[limits\] max_megapixels\)"):
        photo.open_checked(path, 100)


def test_a_huge_panorama_names_the_limit_not_a_decompression_bomb(tmp_path):
    """A stitched 450 MP panorama is past twice the 200 MP limit, where Pillow's own guard
    refuses it before check_size: the line said "declared image size is far too large
    (decompression bomb); refused", with no size and no setting to raise."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path = tmp_path / "Pano.png"   # (the header only: Pillow refuses before any pixel is read)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 15000, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))
    message = str(pytest.raises(TooLargeError, photo.open_checked, path, 200).value)
    assert message.startswith("Pano.png: ") and "450.0 MP" in message, message
    assert "over the 200 MP limit ([limits] max_megapixels)" in message, message
    assert "bomb" not in message, message


def test_a_photo_just_over_the_limit_says_by_how_much() -> None:
    """"image is 1400x1000 (1 MP), over the 1 MP limit": the size shown was rounded to the limit."""
    with pytest.raises(TooLargeError, match=r"^image is 1400x1000 \(1\.4 MP\), over the 1 MP limit"):
        photo.check_size(1400, 1000, 1)


def test_a_photo_a_few_pixels_over_the_limit_does_not_read_as_the_limit() -> None:
    """6001x4000 under a 24 MP limit read "(24.0 MP), over the 24 MP limit": one decimal is
    too few for a photo a column over; the size is shown with as many as tell it apart."""
    with pytest.raises(TooLargeError, match=r"^image is 6001x4000 \(24\.004 MP\), over the 24 MP limit"):
        photo.check_size(6001, 4000, 24)
    with pytest.raises(TooLargeError, match=r"\(200\.000001 MP\), over the 200 MP limit"):
        photo.check_size(200_000_001, 1, 200)


def _png_with_metadata_inflating_to(path, inflated: int) -> None:
    """A PNG whose compressed XMP (iTXt) inflates to `inflated` bytes: 2 MB of it is 2 KB."""
    import struct
    import zlib

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(out, "PNG")
    png = out.getvalue()
    body = b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(b" " * inflated, 9)
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    cut = png.index(b"IDAT") - 4
    path.write_bytes(png[:cut] + chunk + png[cut:])


def test_a_png_whose_metadata_inflates_past_pillows_limit_is_one_line(tmp_path):
    """A compressed XMP chunk that inflates past 1 MB (a metadata bomb, or a Photoshop
    export with a huge history): Pillow raises ValueError, which was a traceback from
    `animate`, an HTTP 500 'internal error' from the daemon, and a retry with a traceback
    at every rescan of a watch folder."""
    path = tmp_path / "bomb.png"
    _png_with_metadata_inflating_to(path, 2 << 20)
    for read in (photo.load, lambda p: photo.check_complete(p, 200)):
        with pytest.raises(InputError, match=r"^bomb\.png: its embedded metadata is too large to read"):
            read(path)


def test_a_file_that_is_not_an_image_names_every_format_read(tmp_path):
    """The message listed "JPEG, PNG, TIFF or HEIF" though WebP is read too."""
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a photo")
    with pytest.raises(InputError) as info:
        photo.load(notes)
    assert str(info.value) == "notes.jpg: not an image Stillmotion can read (JPEG, PNG, TIFF, WebP or HEIF expected)"
    assert photo.EXPECTED_FORMATS == "JPEG, PNG, TIFF, WebP or HEIF"


@pytest.mark.skipif(not __import__("os").path.exists("/dev/null"), reason="POSIX device file")
def test_a_device_is_not_a_regular_file_not_missing(tmp_path):
    """`stillmotion animate /dev/null` said "no such file"."""
    from pathlib import Path

    from stillmotion.metadata import reader

    with pytest.raises(InputError, match=r"^/dev/null: not a regular file, not a photo$"):
        photo.load(Path("/dev/null"))
    with pytest.raises(InputError, match=r"^/dev/null: not a regular file, not a photo$"):
        reader.read("/dev/null")
    with pytest.raises(InputError, match=r"missing\.jpg: no such file$"):
        reader.read(tmp_path / "missing.jpg")


def test_a_photo_this_account_may_not_read_is_one_line_and_exit_2(tmp_path, fast_config, capsys, monkeypatch):
    """A photo in another account's folder (no search permission) was "[Errno 13] Permission
    denied: '...'" with exit 1, as if a job had failed; one the account may not open said its
    path twice ("cannot read: [Errno 13] Permission denied: '...'")."""
    import errno
    import os
    import pathlib

    from stillmotion import cli

    (tmp_path / "locked").mkdir()
    locked = save_photo(tmp_path / "locked" / "IMG_1.jpg", skimage_photo("coffee"), (96, 64))
    closed = save_photo(tmp_path / "IMG_2.jpg", skimage_photo("coffee"), (96, 64))
    real_stat, real_open = pathlib.Path.stat, Image.open

    def stat(self, *args, **kwargs):
        if self == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_stat(self, *args, **kwargs)

    def open_image(fp, *args, **kwargs):
        if fp == closed:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "stat", stat)
    monkeypatch.setattr(Image, "open", open_image)
    assert cli.main(["animate", str(locked), str(closed), "--duration", "0.5", "--fps", "8"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"stillmotion: error: {locked}: cannot read (Permission denied)",
        "stillmotion: error: IMG_2.jpg: cannot read (Permission denied)",
        f"stillmotion: 0 of 2 photos animated; not animated: {locked}, {closed}"]


@pytest.mark.parametrize("suffix, options", [(".jpg", {"quality": 90}), (".png", {}), (".tif", {}),
                                             (".webp", {"quality": 90})])
def test_check_complete_finds_a_cut_file_without_decoding_it_whole(tmp_path, suffix, options):
    """What the daemon runs on every submission: a whole file passes, the same file cut short
    is an InputError that names it, whatever the format Lightroom or a script hands over."""
    pixels = skimage_photo("chelsea")
    whole = tmp_path / f"whole{suffix}"
    Image.fromarray(pixels).save(whole, **options)
    photo.check_complete(whole, 200)
    data = whole.read_bytes()
    for keep in (0.5, 0.9):
        cut = tmp_path / f"cut{suffix}"
        cut.write_bytes(data[: int(len(data) * keep)])
        with pytest.raises(InputError, match=r"^cut\.(jpg|png|tif|webp): .*(damaged or truncated|not an image)"):
            photo.check_complete(cut, 200)


def test_a_damaged_photo_says_what_to_do(tmp_path):
    """The line a photographer reads for a cut-off copy (a card read interrupted, a sync not
    finished) says what is wrong and what to do about it, once, without Pillow's own nested
    "(image file is truncated (8 bytes not processed))"."""
    whole = tmp_path / "whole.jpg"
    Image.fromarray(skimage_photo("chelsea")).save(whole, quality=90)
    cut = tmp_path / "IMG_0001.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    for check in (photo.load, photo.check_complete):
        message = str(pytest.raises(InputError, check, cut, 200).value)
        assert message.startswith("IMG_0001.jpg: the image data is damaged or truncated"), message
        assert message.endswith("; copy or export the photo again"), message
        assert "((" not in message.replace(" ", "") and "))" not in message, message


def _tiff_bytes(tags: dict) -> bytes:
    from PIL.TiffImagePlugin import ImageFileDirectory_v2

    ifd = ImageFileDirectory_v2()
    for tag, value in tags.items():
        ifd[tag] = value
    buffer = io.BytesIO()
    Image.fromarray(skimage_photo("coffee")[:120, :160]).save(buffer, format="TIFF", tiffinfo=ifd)
    return buffer.getvalue()


@pytest.mark.parametrize("name, tags", [
    ("IMG_0001.dng", {}),                        # a raw by its name (Pillow would open this one)
    ("DSC_0001.NEF", {254: 1}),
    ("renamed.tif", {50706: b"\x01\x04\x00\x00"}),   # a DNG under a TIFF name: DNGVersion
    ("DSC_0002.tif", {254: 1}),                  # first image a reduced preview: NEF, ARW, PEF
])
def test_a_camera_raw_file_is_refused_not_animated_from_its_preview(tmp_path, name, tags):
    """Pillow opens most raw files as TIFF and reads the camera's thumbnail: a clip of that
    would be small and without the photographer's edit. Refused, saying what to do."""
    path = tmp_path / name
    path.write_bytes(_tiff_bytes(tags))
    for check in (photo.load, photo.check_complete):
        with pytest.raises(InputError, match=rf"^{name}: a camera raw file; .*export it as JPEG or TIFF"):
            check(path, 100.0)


def test_an_ordinary_tiff_is_not_taken_for_a_raw(tmp_path):
    path = tmp_path / "print.tif"
    path.write_bytes(_tiff_bytes({254: 0}))
    assert photo.load(path, 100.0).pixels.shape == (120, 160, 3)


def test_heif_photos_open_oriented_and_converted_to_srgb(tmp_path, fixtures_dir):
    """A phone's or Capture One's HEIC: its rotation applied once, its profile converted."""
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    pixels = skimage_photo("astronaut")[:, :400]                  # 400 wide, 512 high
    exif = Image.Exif()
    exif[0x0112] = 6                                               # shown turned 90 degrees clockwise
    upright = tmp_path / "IMG_0001.heic"
    Image.fromarray(pixels).save(upright, quality=95, exif=exif.tobytes())
    loaded = photo.load(upright)
    assert loaded.format == "HEIF" and (loaded.width, loaded.height) == (512, 400)
    turned = np.rot90(pixels, -1).astype(np.float32) / 255
    assert np.abs(loaded.pixels - turned).mean() < 0.03            # turned once, not twice

    with Image.open(fixtures_dir / "xmp" / "tif-with-iptc-icc-xmp.tif") as im:   # ProPhoto RGB
        prophoto, icc = im.convert("RGB"), im.info["icc_profile"]
    wide = tmp_path / "wide.heic"
    prophoto.save(wide, quality=95, icc_profile=icc)
    converted = photo.load(wide)
    assert converted.source_profile == "ProPhoto RGB"
    assert np.abs(converted.pixels - np.asarray(prophoto, dtype=np.float32) / 255).mean() > 0.01


def test_a_heic_opens_in_a_process_that_imported_only_stillmotion(tmp_path):
    """The other HEIF tests register pillow-heif's opener themselves (saving through pillow-heif
    registers it too), so they passed with Stillmotion's own registration gone, while every HEIC
    was then 'not an image Stillmotion can read'. A fresh interpreter is what a user runs."""
    pillow_heif = pytest.importorskip("pillow_heif")
    heic = tmp_path / "IMG_0003.heic"
    pillow_heif.from_pillow(Image.fromarray(skimage_photo("coffee")[:64, :96])).save(heic, quality=90)
    code = "import sys; from stillmotion import photo; p = photo.load(sys.argv[1]); print(p.format, p.width, p.height)"
    done = subprocess.run([sys.executable, "-c", code, str(heic)], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["HEIF", "96", "64"], done.stderr


@pytest.mark.parametrize("nclx, expect", [
    ({"transfer_characteristics": 16, "color_primaries": 9, "matrix_coefficients": 9}, r"an HDR photo \(PQ\)"),
    ({"transfer_characteristics": 18, "color_primaries": 9, "matrix_coefficients": 9}, r"an HDR photo \(HLG\)"),
    ({"transfer_characteristics": 13, "color_primaries": 12, "matrix_coefficients": 6}, r"its colour space is given without an ICC profile"),
])
def test_heif_colour_that_cannot_be_read_right_is_refused(tmp_path, nclx, expect):
    """Camera HEIFs (Canon, Sony, Fujifilm) are often 10-bit HDR: read as SDR they would be
    wrong, so they are refused with a line saying what to export instead."""
    pillow_heif = pytest.importorskip("pillow_heif")
    pixels = (skimage_photo("coffee")[:64, :96].astype(np.uint16) * 257)
    heif = pillow_heif.from_bytes(mode="RGB;16", size=(96, 64), data=pixels.tobytes())
    path = tmp_path / "IMG_0002.HIF"
    heif.save(path, quality=90, save_nclx_profile=True, **nclx)
    for check in (photo.load, photo.check_complete):
        with pytest.raises(InputError, match=rf"^IMG_0002.HIF: {expect}"):
            check(path, 100.0)


def _png_with_cicp(path, pixels: np.ndarray, cicp: tuple[int, int, int, int] | None) -> None:
    """A 16-bit RGB PNG with a cICP chunk (PNG third edition: how HDR PNGs say PQ or HLG)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    height, width = pixels.shape[:2]
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in pixels)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
                     + (chunk(b"cICP", bytes(cicp)) if cicp else b"")
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("transfer, name", [(16, "PQ"), (18, "HLG")])
def test_an_hdr_png_is_refused_not_read_as_sdr(tmp_path, transfer, name):
    """A PQ or HLG PNG (its cICP chunk says so) was animated as if its values were sRGB: a
    grey, washed-out clip without a word. It is refused as an HDR HEIF is."""
    pixels = skimage_photo("coffee")[:32, :48].astype(np.uint16) * 257
    path = tmp_path / "HDR_export.png"
    _png_with_cicp(path, pixels, (9, transfer, 0, 1))
    for check in (photo.load, photo.check_complete):
        with pytest.raises(InputError, match=rf"^HDR_export\.png: an HDR photo \({name}\); .*export an SDR version"):
            check(path, 100.0)


def test_an_sdr_png_with_a_cicp_chunk_is_read(tmp_path):
    """cICP saying sRGB (primaries 1, transfer 13) is an ordinary photo."""
    pixels = skimage_photo("coffee")[:32, :48].astype(np.uint16) * 257
    path = tmp_path / "sdr.png"
    _png_with_cicp(path, pixels, (1, 13, 0, 1))
    loaded = photo.load(path)
    assert np.allclose(loaded.pixels, pixels / 65535.0, atol=1e-4)


def _pq_icc(transfer: int) -> bytes:
    """A BT.2100 profile as PQ and HLG ones are made (a 'cicp' tag, ICC v4.4, names the transfer):
    BT.2020 colorants and a sampled PQ tone curve whose 1.0 is 10,000 nits."""
    import struct

    from support import _icc, _s15f16

    m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 32, 3424 / 4096, 2413 / 128, 2392 / 128
    p = np.linspace(0.0, 1.0, 1024) ** (1 / m2)
    linear = (np.maximum(p - c1, 0) / (c2 - c3 * p)) ** (1 / m1)
    curve = b"curv" + bytes(4) + struct.pack(">I", 1024) + np.round(linear * 65535).astype(">u2").tobytes()
    colorants = ((0.6734, 0.2790, -0.0019), (0.1656, 0.6753, 0.0299), (0.1251, 0.0457, 0.7970))
    tags = [(name, b"XYZ " + bytes(4) + b"".join(_s15f16(v) for v in xyz))
            for name, xyz in zip((b"rXYZ", b"gXYZ", b"bXYZ"), colorants)]
    tags += [(b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve), (b"cicp", b"cicp" + bytes(4) + bytes([9, transfer, 0, 1]))]
    return _icc(b"RGB ", b"XYZ ", b"mntr", "Rec. ITU-R BT.2100", tags)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_a_photo_with_a_pq_or_hlg_icc_profile_is_refused_not_read_as_sdr(tmp_path, suffix):
    """A photo whose ICC profile is PQ (a 16-bit HDR TIFF from Photoshop, an HDR screenshot) went
    through the profile as if it were SDR: its SDR white, at 2% of PQ's 10,000 nits, made a
    nearly black clip without a word. Its profile's cicp tag says HDR: refused as an HDR HEIF is."""
    pixels = skimage_photo("coffee")[:32, :48]
    for transfer, name in ((16, "PQ"), (18, "HLG")):
        path = tmp_path / f"HDR_{name}{suffix}"
        if suffix == ".tif":
            import tifffile
            tifffile.imwrite(path, pixels.astype(np.uint16) * 257, photometric="rgb", iccprofile=_pq_icc(transfer))
        else:
            Image.fromarray(pixels).save(path, icc_profile=_pq_icc(transfer))
        for check in (photo.load, photo.check_complete):
            with pytest.raises(InputError, match=rf"^HDR_{name}\{suffix}: an HDR photo \({name}\); "):
                check(path, 100.0)


def test_a_cut_heif_is_one_line(tmp_path):
    """libheif's messages run onto a second line: the refusal stays one (HTTP JSON, the CLI)."""
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    whole = tmp_path / "whole.heic"
    Image.fromarray(skimage_photo("coffee")).save(whole, quality=90)
    cut = tmp_path / "cut.heic"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    for check in (photo.load, photo.check_complete):
        with pytest.raises(InputError, match=r"^cut\.heic: the image data is damaged or truncated") as caught:
            check(cut, 100.0)
        assert "\n" not in str(caught.value)


def _tiff16(path, pixels, **options):
    import tifffile

    tifffile.imwrite(path, pixels, **options)
    return path


@pytest.mark.parametrize("name, dtype, options, says", [
    # 16-bit RGB in Photoshop's 'Per Channel' pixel order: OpenCV decoded it as three small grey
    # copies of the photo side by side, and the clip was made of them without a word.
    ("per-channel.tif", np.uint16, {"photometric": "rgb", "planarconfig": "separate", "channels_first": True},
     r"a 16-bit TIFF with its channels stored one after another \(Photoshop's 'Per Channel' pixel "
     r"order\), which Stillmotion cannot read; save it again with Interleaved pixel order"),
    # 32-bit integers were read as 0..1 values: an all-white clip.
    ("grey32.tif", np.uint32, {"photometric": "minisblack"},
     r"a 32-bit TIFF, which Stillmotion cannot read; save it as an 8- or 16-bit TIFF"),
    ("signed.tif", np.int16, {"photometric": "minisblack"},
     r"a TIFF of 16-bit signed integers, which Stillmotion cannot read; save it as an 8- or 16-bit TIFF"),
    # 32-bit float: grey was read as display values (HDR highlights clipped), RGB "not an image
    # Stillmotion can read (JPEG, PNG, TIFF, ... expected)" though it is a TIFF.
    ("hdr-grey.tif", np.float32, {"photometric": "minisblack"},
     r"a 32-bit floating-point TIFF \(HDR\), which Stillmotion cannot read; save it as an 8- or 16-bit TIFF"),
    ("hdr.tif", np.float32, {"photometric": "rgb"},
     r"a 32-bit floating-point TIFF \(HDR\), which Stillmotion cannot read; save it as an 8- or 16-bit TIFF"),
    ("half.tif", np.float16, {"photometric": "rgb"},
     r"a 16-bit floating-point TIFF \(HDR\), which Stillmotion cannot read; save it as an 8- or 16-bit TIFF"),
    # Pillow opens no 16-bit grey TIFF with an alpha channel: say what it is, not "TIFF expected".
    ("grey-alpha.tif", np.uint16, {"photometric": "minisblack", "extrasamples": ["unassalpha"]},
     r"a 16-bit TIFF with 2 channels, which Stillmotion cannot read; save it as an 8- or 16-bit RGB or greyscale TIFF"),
    # Photoshop's 16-bit Lab mode: Pillow reads 8-bit Lab only.
    ("lab16.tif", np.uint16, {"photometric": "cielab"},
     r"a 16-bit Lab TIFF, which Stillmotion cannot read; convert it to RGB and save it again"),
])
def test_a_tiff_whose_samples_are_not_read_right_is_one_line_not_a_wrong_clip(tmp_path, name, dtype, options, says):
    coffee = skimage_photo("coffee")[::8, ::8].astype(np.float64) / 255.0
    scale = {np.uint16: 65535, np.uint32: 2**32 - 1, np.int16: 32767}.get(dtype, 1.0)
    pixels = (coffee if options["photometric"] in ("rgb", "cielab") else coffee[..., 0]) * scale
    if "extrasamples" in options:
        pixels = np.dstack([pixels, np.full_like(pixels, scale)])
    if options.pop("channels_first", False):
        pixels = np.moveaxis(pixels, -1, 0)
    path = _tiff16(tmp_path / name, pixels.astype(dtype), **options)
    for check in (photo.load, photo.check_complete):
        with pytest.raises(InputError, match=rf"^{name}: {says}"):
            check(path, 100.0)


def test_a_per_channel_8bit_tiff_and_an_interleaved_16bit_one_are_still_read(tmp_path):
    coffee = skimage_photo("coffee")[::8, ::8]
    planar8 = _tiff16(tmp_path / "planar8.tif", np.moveaxis(coffee, -1, 0), photometric="rgb", planarconfig="separate")
    rgb16 = _tiff16(tmp_path / "rgb16.tif", coffee.astype(np.uint16) * 257, photometric="rgb")
    for path in (planar8, rgb16):
        assert np.abs(photo.load(path).pixels - coffee / 255.0).max() < 1e-4


def test_a_16bit_min_is_white_tiff_is_not_a_negative(tmp_path):
    """A 16-bit greyscale TIFF whose 0 is white (PhotometricInterpretation MinIsWhite, as some
    scanners write) came out as a negative: OpenCV ignores the tag, Pillow (8 bits) does not."""
    grey = skimage_photo("coffee")[::8, ::8, 1].astype(np.float64) / 255.0
    _tiff16(tmp_path / "scan16.tif", ((1 - grey) * 65535).round().astype(np.uint16), photometric="miniswhite")
    _tiff16(tmp_path / "scan8.tif", ((1 - grey) * 255).round().astype(np.uint8), photometric="miniswhite")
    for name in ("scan16.tif", "scan8.tif"):
        loaded = photo.load(tmp_path / name)
        assert np.abs(loaded.pixels - grey[..., None]).max() < 1 / 255 + 1e-6, name


def hard_edge(width=24, height=16) -> np.ndarray:
    """A dark (0.2) left half against a bright (0.8) right half: a hard edge, as a branch or text."""
    img = np.full((height, width, 3), 0.2, np.float32)
    img[:, width // 2:] = 0.8
    return img


def edge_rise(row: np.ndarray) -> float:
    """Pixels from 10% to 90% of a rising 0.2 -> 0.8 edge (by linear interpolation)."""
    xs = np.arange(len(row))
    return float(np.interp(0.74, row, xs) - np.interp(0.26, row, xs))


@pytest.mark.parametrize("factor", [1.5, 2.0])
def test_a_photo_smaller_than_the_frame_is_enlarged_without_a_halo(factor):
    """Lanczos put a halo along every hard edge of a photo smaller than the delivery size, on
    every frame (0.2 -> 0.8 became 0.13 and 0.87: 51 -> 33 and 204 -> 222 in 8-bit). Each
    pixel now stays within the photo pixels it lies between, and the edge stays crisper than
    a bilinear enlargement's."""
    import cv2

    img = hard_edge()
    size = (round(24 * factor), round(16 * factor))
    big = photo.resize(img, *size)
    assert big.shape == (size[1], size[0], 3)
    assert 0.2 - 0.5 / 255 <= big.min() and big.max() <= 0.8 + 0.5 / 255, (big.min() * 255, big.max() * 255)
    bilinear = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
    assert edge_rise(big[0, :, 0]) < edge_rise(bilinear[0, :, 0])


def test_an_enlarged_photo_stays_sharper_than_bilinear():
    import cv2

    img = skimage_photo("coffee")[::4, ::4].astype(np.float32) / 255   # 150 x 100
    size = (img.shape[1] * 2, img.shape[0] * 2)

    def energy(x):
        return float(np.mean(cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_32F, ksize=1) ** 2))

    assert energy(photo.resize(img, *size)) > 1.5 * energy(cv2.resize(img, size, interpolation=cv2.INTER_LINEAR))
