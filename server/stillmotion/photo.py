"""Load a photo safely: bomb and truncation checks, EXIF orientation, ICC -> sRGB.

Everything downstream works on `Photo.pixels`: float32 (H, W, 3) sRGB in [0, 1].
8-bit files (and CMYK ones, read at 8 bits) go through littleCMS directly, from the
profile's own colour space (RGB, grey or CMYK); 16-bit PNG/TIFF keep their precision
(decoded by OpenCV, converted in float for matrix/TRC profiles, else through a
littleCMS-sampled LUT, or curve for grey, in bands).
"""

from __future__ import annotations

import math
import os
import re
import stat
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import ExifTags, Image, ImageOps, TiffImagePlugin, UnidentifiedImageError

from .colour import icc as icc_mod
from .errors import DamagedImageError, InputError, TooLargeError, one_line

try:   # HEIF/HEIC (phones, Capture One's HEIF export) through libheif
    from pillow_heif import register_heif_opener
except ImportError:   # a platform without its wheel: HEIF is then "not an image we can read"
    pass
else:
    register_heif_opener()

# The formats a photo may be in (Pillow's names), each with the name a photographer knows;
# None: read, but not a format of its own to a reader (MPO is a JPEG with extra pictures).
_FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "TIFF": "TIFF", "WEBP": "WebP", "HEIF": "HEIF", "MPO": None}
SUPPORTED_FORMATS = set(_FORMAT_NAMES)
_named = [name for name in _FORMAT_NAMES.values() if name]
EXPECTED_FORMATS = ", ".join(_named[:-1]) + " or " + _named[-1]    # "JPEG, PNG, ... or HEIF"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".hif"}
# Photo formats not read here that a photographer exports (Lightroom Classic's HDR exports are
# AVIF and JPEG XL), each with its name in a line about one handed over.
UNREAD_PHOTO_FORMATS = {".avif": "AVIF", ".jxl": "JPEG XL"}
# CICP (ISO/IEC 23091-2) transfer characteristics of HDR pictures: PQ (SMPTE ST 2084) and
# HLG (ARIB STD-B67). Photos (HEIF, PNG) and clips (`stillmotion match`) with them are refused.
HDR_TRANSFERS = {16: "PQ", 18: "HLG"}
DEFAULT_MAX_MEGAPIXELS = 200.0
# Camera raw files. Many are TIFF inside and Pillow opens them, but what it reads is the
# camera's small embedded preview (or nothing), never the photographer's edit.
CAMERA_RAW_SUFFIXES = frozenset({
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2",
    ".pef", ".srw", ".x3f", ".3fr", ".fff", ".iiq", ".mos", ".mef", ".mrw", ".erf", ".kdc", ".dcr",
    ".rwl", ".raw",
})
_DNG_VERSION, _NEW_SUBFILE_TYPE = 50706, 254    # TIFF tags that mark a raw file / a reduced preview
_BITS_PER_SAMPLE, _PHOTOMETRIC, _SAMPLES_PER_PIXEL, _PLANAR_CONFIG, _SAMPLE_FORMAT = 258, 262, 277, 284, 339   # TIFF tags
_TIFF_HEADERS = (b"II*\0", b"MM\0*")


@dataclass
class Photo:
    path: Path
    pixels: np.ndarray                   # float32 (H, W, 3) sRGB [0, 1], oriented
    format: str
    bit_depth: int
    source_profile: str                  # description of the embedded ICC profile
    exif: dict[str, Any] = field(default_factory=dict)
    transparent: bool = False            # it had see-through pixels, which a clip cannot keep
    orientation: int = 1                 # the EXIF orientation (1-8) its pixels were turned by
    gain_map: bool = False               # an HDR JPEG: its pixels are the SDR rendition, its gain map unused

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]


def _exif(image: Image.Image) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        raw = image.getexif()
        merged = dict(raw)
        merged.update(raw.get_ifd(ExifTags.IFD.Exif))
    except Exception:  # broken EXIF never stops a job
        return out
    for tag, value in merged.items():
        name = ExifTags.TAGS.get(tag)
        if name in ("ExposureTime", "FNumber", "FocalLength", "FocalLengthIn35mmFilm",
                    "ISOSpeedRatings", "Orientation", "Make", "Model", "LensModel",
                    "DateTimeOriginal"):
            try:
                out[name] = float(value) if hasattr(value, "numerator") else value
            except (TypeError, ValueError, ZeroDivisionError):
                continue
    return out


def _exif_colour_space(image: Image.Image) -> bytes | None:
    """The profile a camera's EXIF names for a file without one: Adobe RGB (1998) for a camera set
    to Adobe RGB (DCF: ColorSpace 'uncalibrated' and interoperability index "R03"; some write
    ColorSpace 2), which Lightroom and Photoshop honour; else None (sRGB, as EXIF's ColorSpace 1
    says, or nothing said). Read as sRGB, such a photo's clip came out desaturated."""
    try:
        exif = image.getexif()
        space = exif.get_ifd(ExifTags.IFD.Exif).get(0xA001)
    except Exception:  # broken EXIF never stops a job
        return None
    try:
        index = exif.get_ifd(ExifTags.IFD.Interop).get(0x0001)
    except Exception:  # Pillow before 13 raises KeyError when there is no interoperability IFD
        index = None
    if isinstance(index, bytes):
        index = index.decode("ascii", "replace")
    if space == 2 or (space == 0xFFFF and str(index or "").strip("\0 ").upper() == "R03"):
        return icc_mod.adobe_rgb_profile()
    return None


def _orient_view(arr: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation (1-8) applied to a numpy image, as ImageOps.exif_transpose does: a view."""
    ops = {
        2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1), 6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, -1)[::-1], 8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return op(arr) if op else arr


def check_size(width: int, height: int, max_megapixels: float) -> None:
    if width <= 0 or height <= 0:
        raise InputError(f"image has an invalid size {width}x{height}")
    if width * height > max_megapixels * 1_000_000:
        raise TooLargeError(
            f"image is {width}x{height} ({_megapixels_over(width * height, max_megapixels)} MP), over the "
            f"{max_megapixels:g} MP limit ([limits] max_megapixels)")


def _megapixels_over(pixels: int, max_megapixels: float) -> str:
    """`pixels` in MP with one decimal, or as many more (up to a pixel's, 6) as it takes to
    read above the limit: 6001x4000 read "(24.0 MP), over the 24 MP limit"."""
    for decimals in range(1, 7):
        text = f"{pixels / 1e6:.{decimals}f}"
        if float(text) > max_megapixels:
            return text
    return f"{pixels / 1e6:.6f}"


def _allow_pixels(max_megapixels: float) -> None:
    """Raise Pillow's decompression-bomb guard (MAX_IMAGE_PIXELS, ~89.5 MP) to the configured
    limit: it refused a GFX100's 102 MP frame under a 200 MP `[limits] max_megapixels`.
    (Process-wide, and only ever raised: it stays the highest limit asked for.)"""
    if not math.isfinite(max_megapixels):   # (no limit asked: a completeness check only)
        return
    wanted = int(max_megapixels * 1_000_000)
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < wanted:
        Image.MAX_IMAGE_PIXELS = wanted


def file_kind(path: Path) -> str:
    """What `path` names, links followed: "file" (a regular one), "folder", "missing" or
    "other" (a device, a pipe). Any other OSError (a folder this account may not search, a
    name longer than the file system allows) is raised for the caller to word."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    if stat.S_ISDIR(mode):
        return "folder"
    return "file" if stat.S_ISREG(mode) else "other"


def check_is_file(path: Path, what: str = "photo") -> None:
    """An InputError unless `path` is a regular file (or a link to one): a folder, a missing
    name, a device or pipe (/dev/null) and a photo in a folder this account may not open
    each get their own line. `what` the file should be: "photo", "video clip"."""
    try:
        kind = file_kind(path)
    except OSError as exc:   # (a folder without search permission: another account's, a locked share)
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if kind == "missing":
        raise InputError(f"{path}: no such file")
    if kind == "folder":
        hint = (f" (name the photos in it, e.g. {path / '*.jpg'}, or watch it: stillmotion watch)"
                if what == "photo" else "")
        raise InputError(f"{path}: a folder, not a {what}{hint}")
    if kind == "other":
        raise InputError(f"{path}: not a regular file, not a {what}")


def open_checked(path: Path, max_megapixels: float) -> Image.Image:
    """Open (lazily) and check the declared size before any pixel is decoded."""
    check_is_file(path)
    if path.suffix.lower() in CAMERA_RAW_SUFFIXES:
        raise InputError(raw_refusal(path))
    _allow_pixels(max_megapixels)
    try:
        with warnings.catch_warnings():
            # Over the limit, check_size below says so and names the setting; Pillow's own
            # refusal is left for sizes past twice the limit (a header claiming gigapixels).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:
        # Pillow's own guard, past twice the limit: a hostile header, or a stitched panorama
        # whose photographer needs the size and the setting as much as check_size gives them.
        claimed = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" ({int(claimed[1]) / 1e6:.1f} MP)" if claimed else ""
        limit = (f"over the {max_megapixels:g} MP limit ([limits] max_megapixels)" if math.isfinite(max_megapixels)
                 else "more than Stillmotion opens")
        raise TooLargeError(f"{path.name}: image is far too large{size}, {limit}") from None
    except UnidentifiedImageError:
        raise InputError(_unidentified(path)) from None
    except ValueError as exc:
        # Pillow's guard on PNG text chunks (XMP among them) that inflate past its limits
        if "text" not in str(exc).lower():
            raise
        raise InputError(f"{path.name}: its embedded metadata is too large to read ({exc}); "
                         "save the photo again without it, or as JPEG or TIFF") from None
    except OSError as exc:   # (strerror: a permission or disk error, without the path again)
        if exc.strerror:
            raise InputError(f"{path.name}: cannot read ({exc.strerror})") from None
        # else Pillow's own words on a file of a format it knows ("could not create decoder
        # object" for a WebP whose header is broken): damage, said as other damage is
        raise _damaged(path, exc) from None
    if image.format not in SUPPORTED_FORMATS:
        raise InputError(f"{path.name}: {image.format} is not supported ({EXPECTED_FORMATS} expected)")
    if image.format == "TIFF" and _is_raw_tiff(image):
        image.close()
        raise InputError(raw_refusal(path))
    if image.format == "TIFF":
        problem = _tiff_sample_problem(image.tag_v2)
        if problem:
            image.close()
            raise InputError(f"{path.name}: {problem}")
    # CICP code points (HEIF's nclx, PNG's cICP, an ICC profile's cicp tag): HDR, or unconvertible
    icc = image.info.get("icc_profile")
    cicp = (image.info.get("nclx_profile") if image.format == "HEIF"
            else _png_cicp(path) if image.format == "PNG" else None)
    problem = _cicp_colour_problem(cicp, bool(icc)) or _cicp_colour_problem(_icc_cicp(icc), True)
    if problem:
        image.close()
        raise InputError(f"{path.name}: {problem}")
    try:
        check_size(*image.size, max_megapixels)
    except InputError as exc:
        raise type(exc)(f"{path.name}: {exc}") from None
    return image


def _cicp_colour_problem(cicp: dict | None, has_icc: bool) -> str | None:
    """Why a HEIF's or PNG's colour cannot be read right, if it cannot, from its CICP code points
    (HEIF's nclx, PNG's cICP): HDR (its PQ/HLG values read as SDR would be wrong, and tone mapping
    is a grade of its own), or a colour space given only as primaries other than sRGB's, with no
    ICC profile to convert from."""
    cicp = cicp or {}
    hdr = HDR_TRANSFERS.get(cicp.get("transfer_characteristics"))
    if hdr:
        return (f"an HDR photo ({hdr}); Stillmotion animates SDR photos: export an SDR version "
                "(JPEG, TIFF or SDR HEIF)")
    if not has_icc and cicp.get("color_primaries") not in (None, 1, 2):
        return ("its colour space is given without an ICC profile (CICP primaries "
                f"{cicp.get('color_primaries')}); export it with an embedded profile, or as JPEG or TIFF")
    return None


def _icc_cicp(icc: bytes | None) -> dict[str, int] | None:
    """An ICC profile's 'cicp' tag (ICC.1 v4.4), where a PQ or HLG profile (Rec. ITU-R BT.2100)
    says it is one: through its tone curve as an SDR profile, SDR white (2% of PQ's 10,000 nits)
    came out nearly black."""
    try:
        count = struct.unpack_from(">I", icc or b"", 128)[0]
        for entry in range(min(count, 256)):
            signature, offset, size = struct.unpack_from(">4sII", icc, 132 + 12 * entry)
            if signature == b"cicp" and size >= 12 and icc[offset:offset + 4] == b"cicp":
                primaries, transfer = icc[offset + 8:offset + 10]
                return {"color_primaries": primaries, "transfer_characteristics": transfer}
    except (struct.error, ValueError):   # (too short for its tag table, or no profile)
        return None
    return None


def _png_cicp(path: Path) -> dict[str, int] | None:
    """A PNG's cICP chunk (PNG third edition; it comes before the image data), which Pillow does
    not read: an HDR PNG (PQ, HLG) says what its values are only there."""
    try:
        with open(path, "rb") as fh:
            fh.seek(8)   # (the signature)
            while len(head := fh.read(8)) == 8:
                length, kind = struct.unpack(">I4s", head)
                if kind in (b"IDAT", b"IEND"):
                    return None
                if kind == b"cICP" and length == 4:
                    primaries, transfer = fh.read(2)
                    return {"color_primaries": primaries, "transfer_characteristics": transfer}
                fh.seek(length + 4, os.SEEK_CUR)   # (the chunk's data and CRC)
    except (OSError, ValueError):
        return None
    return None


def raw_refusal(path: Path) -> str:
    """Why a camera raw file is not animated, and what to send instead (one line)."""
    return (f"{path.name}: a camera raw file; Stillmotion animates the developed photo: export it "
            "as JPEG or TIFF with your edits and animate that (Lightroom's Animate export does this)")


def _is_raw_tiff(image: Image.Image) -> bool:
    """A raw file under another name: a DNG, or a first image that says it is a reduced
    preview of another (NEF, ARW, PEF: the raw data sits in a sub-image Pillow never reads)."""
    tags = image.tag_v2
    try:
        return _DNG_VERSION in tags or bool(int(tags.get(_NEW_SUBFILE_TYPE, 0)) & 1)
    except (TypeError, ValueError):
        return False


def _tag_values(tags: Any, tag: int, default: Any) -> tuple[Any, ...]:
    """A TIFF tag's values as a tuple (Pillow gives one value bare, several as a tuple)."""
    value = tags.get(tag, default)
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _tiff_sample_problem(tags: Any) -> str | None:
    """Why a TIFF's samples cannot be read right, if they cannot (one line, with what to do).
    Only 8- and 16-bit unsigned integers are: 32-bit integers were read as 0..1 values (a white
    clip), floating point (an HDR merge) as display values or not at all, and OpenCV decodes
    16-bit channels stored one after another (Photoshop's 'Per Channel' pixel order) as three
    small grey copies of the photo side by side, which became the clip without a word."""
    try:
        depth = max(_tag_values(tags, _BITS_PER_SAMPLE, 1))
        formats = set(_tag_values(tags, _SAMPLE_FORMAT, 1))
        channels = int(tags.get(_SAMPLES_PER_PIXEL, 1))
        planar = int(tags.get(_PLANAR_CONFIG, 1)) == 2
    except (TypeError, ValueError):
        return None
    what = ("a {depth}-bit floating-point TIFF (HDR)" if 3 in formats
            else "a TIFF of {depth}-bit signed integers" if 2 in formats
            else "a {depth}-bit TIFF" if depth > 16 else None)
    if what:
        return what.format(depth=depth) + ", which Stillmotion cannot read; save it as an 8- or 16-bit TIFF"
    if depth > 8 and planar and channels > 1:
        return (f"a {depth}-bit TIFF with its channels stored one after another (Photoshop's 'Per Channel' "
                "pixel order), which Stillmotion cannot read; save it again with Interleaved pixel order")
    return None


def unread_format_refusal(path: Path) -> str | None:
    """The line for a photo whose name says it is in a format Stillmotion does not read (AVIF,
    JPEG XL), as Pillow's name for one it opens is said; else None."""
    name = UNREAD_PHOTO_FORMATS.get(path.suffix.lower())
    return f"{path.name}: {name} is not supported ({EXPECTED_FORMATS} expected)" if name else None


def _unidentified(path: Path) -> str:
    """The line for a file Pillow cannot open: what the TIFF is, for a TIFF (it is one of the
    formats "expected"), else the formats Stillmotion reads."""
    unread = unread_format_refusal(path)
    if unread:   # (JPEG XL: "not an image" was not true of it)
        return unread
    unreadable = f"{path.name}: not an image Stillmotion can read ({EXPECTED_FORMATS} expected)"
    try:
        with open(path, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (Pillow's about a damaged directory: it said them at open)
            header = fh.read(8)
            if header[:4] not in _TIFF_HEADERS:
                return unreadable
            tags = TiffImagePlugin.ImageFileDirectory_v2(header)
            fh.seek(tags.next)
            tags.load(fh)
    except (OSError, ValueError, SyntaxError, struct.error):
        return unreadable
    problem = _tiff_sample_problem(tags)
    if problem:
        return f"{path.name}: {problem}"
    bits, channels = tags.get(_BITS_PER_SAMPLE), tags.get(_SAMPLES_PER_PIXEL, 1)
    if not bits:   # (a directory too damaged to say what the pixels are)
        return unreadable
    depth = max(_tag_values(tags, _BITS_PER_SAMPLE, ()))
    if tags.get(_PHOTOMETRIC) in (8, 9, 10):   # CIELab, ICCLab, ITULab: Pillow reads 8-bit Lab only
        return (f"{path.name}: a {depth}-bit Lab TIFF, which Stillmotion cannot read; convert it to RGB "
                "and save it again (or save it as an 8-bit TIFF)")
    if depth in (1, 8, 16) and channels in (1, 3, 4):   # a shape read elsewhere: damaged, or compressed oddly
        return unreadable
    return (f"{path.name}: a {depth}-bit TIFF with {channels} channel{'' if channels == 1 else 's'}, which "
            "Stillmotion cannot read; save it as an 8- or 16-bit RGB or greyscale TIFF")


def check_complete(path: Path, max_megapixels: float) -> None:
    """`open_checked`, and the image data all there: what a request is refused for at once
    (HTTP 400) rather than failing its job later. Cheap, so it can run on every submission:
    JPEG is decoded at 1/8 size (every byte of the scan is still read: 0.02 s for 24 MP),
    PNG's chunks are read to the end with their checksums (no inflating), TIFF's strips
    or tiles must lie inside the file. Damage inside compressed TIFF data is still found
    only when the job decodes it. Damage is a DamagedImageError (an InputError); an embedded
    ICC profile that cannot be read, an InputError.
    """
    with open_checked(path, max_megapixels) as image:
        try:
            if image.format in ("JPEG", "MPO"):
                image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
            elif image.format == "PNG":
                image.verify()
            elif image.format == "TIFF":
                _check_tiff_extent(image, path.stat().st_size)
            else:
                image.load()
        except (OSError, SyntaxError, ValueError, struct.error) as exc:
            raise _damaged(path, exc) from None
        # An embedded profile littleCMS cannot read fails `load` (as `load` judges it): say so now.
        icc = image.info.get("icc_profile")
        if icc and not icc_mod.is_srgb(icc) and not icc_mod.colour_space(icc):
            raise _mismatched_profile(path, icc, "")


DAMAGED_HINT = "copy or export the photo again"


def _damaged(path: Path, exc: BaseException) -> DamagedImageError:
    detail = one_line(exc)
    # (Pillow's "image file is truncated (8 bytes not processed)" only says the same again)
    why = "" if detail.startswith("image file is truncated") else f" ({detail})"
    return DamagedImageError(f"{path.name}: the image data is damaged or truncated{why}; {DAMAGED_HINT}")


def _check_tiff_extent(image: Image.Image, file_size: int) -> None:
    """Every strip (or tile) of the first image must end within the file."""
    tags = image.tag_v2
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):   # StripOffsets/ByteCounts, Tile...
        offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
        if offsets is None:
            continue
        offsets = offsets if isinstance(offsets, tuple) else (offsets,)
        counts = counts if isinstance(counts, tuple) else (counts,) if counts is not None else ()
        if len(counts) != len(offsets):
            raise OSError("strip offsets and byte counts do not match")
        end = max((o + c for o, c in zip(offsets, counts)), default=0)
        if end > file_size:
            raise OSError(f"{end - file_size} bytes of image data missing")
        return
    raise OSError("no image data (no strips or tiles)")


def _is_high_bit(image: Image.Image) -> bool:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return True
    if image.mode == "CMYK":
        # OpenCV cannot read a 16-bit CMYK TIFF (it was called damaged); Pillow reads it at 8
        # bits, as a press file is converted to sRGB anyway.
        return False
    bits = image.info.get("bits") or getattr(image, "bits", 8)
    if image.format == "TIFF":
        try:
            bits = max(image.tag_v2.get(_BITS_PER_SAMPLE, (8,)))
        except (TypeError, ValueError):
            pass
    if image.format == "PNG":
        # Pillow reports 16-bit RGB PNGs as "RGB"; the IHDR bit depth is at byte 24.
        try:
            with open(image.filename, "rb") as fh:
                bits = fh.read(25)[24]
        except (OSError, IndexError, AttributeError):
            pass
    return int(bits) > 8


def _decode_high_bit(path: Path, orientation: int = 1) -> tuple[np.ndarray, bool]:
    """The pixels (float32 RGB), turned by EXIF `orientation`, and whether any is see-through
    (an alpha channel below opaque)."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    del data   # the file's bytes: an uncompressed 16-bit 100 MP TIFF's are 600 MB, kept to the end
    if arr is None:
        raise DamagedImageError(f"{path.name}: the 16-bit image data is damaged or truncated; {DAMAGED_HINT}")
    if arr.ndim == 2:   # grey: a view of it three times, not three copies
        arr = np.broadcast_to(arr[..., None], (*arr.shape, 3))
    opaque = np.iinfo(arr.dtype).max if arr.dtype.kind in "ui" else 1.0
    transparent = arr.shape[2] == 4 and bool((arr[..., 3] < opaque).any())
    arr = arr[..., :3][..., ::-1]  # BGR(A) -> RGB
    # Turned as a view: the float copy below is made upright (turned after, a second float copy).
    arr = _orient_view(arr, orientation)
    scale = 65535.0 if arr.dtype == np.uint16 else (255.0 if arr.dtype == np.uint8 else 1.0)
    pixels = np.ascontiguousarray(arr, dtype=np.float32)
    pixels /= np.float32(scale)   # in place: a second float copy of a 60 MP photo is 720 MB
    return pixels, transparent


# Rows of a 16-bit photo converted through the ICC LUT at a time: the trilinear lookup makes
# about eight float temporaries the size of what it is given (4.4 GB for a 45 MP TIFF at once).
_LUT_BAND_PIXELS = 1 << 20
# Pixels of an 8-bit photo made float at a time (Pillow hands numpy two bytes copies of a band).
_FLOAT_BAND_PIXELS = 1 << 16


def _to_srgb_in_bands(pixels: np.ndarray, convert: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """`pixels` (float32 RGB) through `convert` (to sRGB), in place, band by band."""
    rows = max(1, _LUT_BAND_PIXELS // max(1, pixels.shape[1]))
    for top in range(0, pixels.shape[0], rows):
        band = pixels[top:top + rows]
        band[...] = convert(band)
    return pixels


def _float_rgb_in_bands(image: Image.Image) -> np.ndarray:
    """An 8-bit image as float32 RGB in [0, 1], band by band: numpy reads a Pillow image through
    bytes copies of the whole of it (up to 600 MB more at 100 MP, beside the float pixels)."""
    width, height = image.size
    pixels = np.empty((height, width, 3), np.float32)
    rows = max(1, _FLOAT_BAND_PIXELS // max(1, width))
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(height, top + rows)))
        if band.mode != "RGB":
            band = band.convert("RGB")
        np.divide(np.asarray(band), np.float32(255.0), out=pixels[top:top + rows])
    return pixels


def _mismatched_profile(path: Path, icc: bytes, pixels: str) -> InputError:
    """A profile that cannot convert the photo's pixels: one line, not littleCMS's traceback."""
    space = icc_mod.colour_space(icc)
    if not space:
        return InputError(f"{path.name}: its embedded ICC profile cannot be read; export it again "
                          "with a colour profile (sRGB, Adobe RGB, ...)")
    kind = {"RGB": "an RGB", "GRAY": "a greyscale", "CMYK": "a CMYK"}.get(space, f"a {space}")
    return InputError(f"{path.name}: its embedded ICC profile ({icc_mod.description(icc)}) is {kind} "
                      f"profile, not one for its {pixels} pixels; export it again with a matching profile")


def _srgb_8bit(image: Image.Image, icc: bytes, path: Path) -> Image.Image:
    """An 8-bit photo as sRGB RGB through its embedded profile: RGB photos, greyscale ones with
    a grey profile (Gray Gamma 2.2, Dot Gain 20%: a traceback before) and CMYK ones with a CMYK
    profile (converted naively before, the profile unused)."""
    space = icc_mod.colour_space(icc)
    if space == "RGB" and image.mode in ("RGB", "RGBA", "P", "L", "LA"):
        return icc_mod.to_srgb_8bit(image, icc)
    if space == "GRAY" and image.mode in ("L", "LA", "P"):
        return icc_mod.to_srgb_8bit(image, icc, "L")
    if space == "CMYK" and image.mode == "CMYK":
        return icc_mod.to_srgb_8bit(image, icc, "CMYK")
    pixels = "CMYK" if image.mode == "CMYK" else "greyscale" if image.mode in ("L", "LA") else "RGB"
    raise _mismatched_profile(path, icc, pixels)


def _srgb_high_bit(pixels: np.ndarray, icc: bytes, path: Path, grey: bool) -> np.ndarray:
    """16-bit pixels (float32 RGB, grey repeated) to sRGB through their profile, in place: worked
    out in float for matrix/TRC profiles (nearly all RGB working spaces) and grey ones with a tone
    curve, else through a LUT (RGB) or curve (grey) sampled from littleCMS's 8-bit conversion."""
    space = icc_mod.colour_space(icc)
    if space == "RGB":
        exact = icc_mod.exact_to_srgb(icc)
        if exact is not None:
            return _to_srgb_in_bands(pixels, exact)
        lut = icc_mod.lut_to_srgb(icc)
        return _to_srgb_in_bands(pixels, lambda band: icc_mod.apply_lut(band, lut))
    if space == "GRAY" and grey:
        exact_grey = icc_mod.exact_grey_to_srgb(icc)
        if exact_grey is not None:
            return _to_srgb_in_bands(pixels, exact_grey)
        levels = np.arange(256, dtype=np.uint8).reshape(1, 256)
        curve = np.asarray(icc_mod.to_srgb_8bit(Image.fromarray(levels, "L"), icc, "L"), np.float32)[0] / 255.0
        x = np.linspace(0.0, 1.0, 256, dtype=np.float32)
        return _to_srgb_in_bands(pixels, lambda band: np.interp(band, x, curve[:, 0]))
    raise _mismatched_profile(path, icc, "greyscale" if grey else "RGB")


def load(path: str | os.PathLike, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> Photo:
    """Decode `path` into a Photo, or raise InputError with one readable line."""
    path = Path(path)
    image = open_checked(path, max_megapixels)
    with image:
        icc = image.info.get("icc_profile") or _exif_colour_space(image)
        exif = _exif(image)
        orientation = int(exif.get("Orientation", 1) or 1)
        # libheif turns a HEIF by its own transforms and pillow-heif resets the EXIF tag to 1
        turned = int(image.info.get("original_orientation") or orientation)
        high_bit = _is_high_bit(image)
        transparent = False
        try:
            if high_bit:
                # (OpenCV turns a TIFF by its Orientation tag itself)
                pixels, transparent = _decode_high_bit(path, 1 if image.format == "TIFF" else orientation)
                if image.format == "TIFF" and image.tag_v2.get(_PHOTOMETRIC) == 0:   # MinIsWhite grey (scanners)
                    np.subtract(np.float32(1.0), pixels, out=pixels)
                if icc and not icc_mod.is_srgb(icc):
                    grey = image.mode in ("L", "LA", "I;16", "I;16B", "I;16L", "I")
                    pixels = _srgb_high_bit(pixels, icc, path, grey)
            else:
                image.load()
                transparent = _is_transparent(image)
                # Upright in place: exif_transpose otherwise returns a copy, of an upright photo too.
                ImageOps.exif_transpose(image, in_place=True)
                rgb = _srgb_8bit(image, icc, path) if icc and not icc_mod.is_srgb(icc) else image
                pixels = _float_rgb_in_bands(rgb)
        except InputError:
            raise
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise _damaged(path, exc) from None
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise InputError(f"{path.name}: unexpected pixel layout {pixels.shape}")
        return Photo(path=path, pixels=pixels, format=image.format or "?", bit_depth=16 if high_bit else 8,
                     source_profile=icc_mod.description(icc), exif=exif, transparent=transparent,
                     orientation=turned if 1 <= turned <= 8 else 1, gain_map=_has_gain_map(image))


def _has_gain_map(image: Image.Image) -> bool:
    """An HDR JPEG: an SDR image with a gain map (Lightroom's HDR JPEG export, a phone's Ultra
    HDR), said by its XMP (Adobe's and Google's hdrgm namespace) or an ISO 21496-1 APP2 segment.
    Pillow reads the SDR image, the rendition every SDR screen shows."""
    if image.format not in ("JPEG", "MPO"):
        return False
    xmp = image.info.get("xmp") or b""
    if b"ns.adobe.com/hdr-gain-map/" in (xmp.encode("utf-8", "replace") if isinstance(xmp, str) else xmp):
        return True
    return any(marker == "APP2" and content.startswith(b"urn:iso:std:iso:ts:21496:-1")
               for marker, content in getattr(image, "applist", ()))


def _is_transparent(image: Image.Image) -> bool:
    """Whether a loaded 8-bit image has any pixel that is not fully opaque."""
    if image.mode in ("RGBA", "LA", "PA"):
        return image.getchannel("A").getextrema()[0] < 255
    return "transparency" in image.info


def resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """High-quality resize of float sRGB pixels, in float: area averaging down, Lanczos up
    (held within the pixels each sample lies between, so hard edges get no halo: footprint.py)."""
    if pixels.shape[1] == width and pixels.shape[0] == height:
        return pixels
    import cv2

    from .footprint import sharp_resize

    if width < pixels.shape[1]:
        out = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
    else:
        out = sharp_resize(pixels, (width, height))
    return np.clip(out, 0.0, 1.0, out=out)


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    return (np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
