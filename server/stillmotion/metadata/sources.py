"""Find, vet and merge the metadata sources of one photo.

Sources, weakest first (a later source overrides an earlier one field by field):

  1. EXIF embedded in the photo (only for capture date, camera, lens, GPS, orientation)
  2. XMP embedded in the photo (JPEG, TIFF, DNG, PNG, ...)
  3. the XMP sidecar: given explicitly, else `IMG_1234.jpg.xmp`, else `IMG_1234.xmp`
  4. the develop settings JSON sent by the Lightroom plug-in (`photo:getDevelopSettings()`)

Fields are keyed `prefix:Name` with exiv2's registered prefix for the namespace
*URI* (so a file that binds the XMP basic namespace to `xap:` still yields
`xmp:Rating`). Only top-level properties are kept: anything nested in a struct,
such as the profile's own settings inside `crs:Look`, never shadows a photo setting.

Sidecars are untrusted input: size is checked before reading, non-regular files
(FIFOs, devices) are refused, DOCTYPE/ENTITY declarations are refused before any
XML parser sees the bytes, and the packet must be UTF-8 XMP.
"""

from __future__ import annotations

import os
import re
import stat
from xml.parsers import expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError
from . import _exiv2

_MB = 1024 * 1024
DEFAULT_MAX_XMP_BYTES = 16 * _MB

# Plug-in JSON keys that are not Camera Raw settings, and the field each feeds.
_JSON_SPECIAL = {"stillmotionPrompt": "stillmotion:prompt", "orientation": "tiff:Orientation"}
_RDF_NS = b"http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass
class Field:
    value: Any
    origin: str   # e.g. "sidecar IMG_1234.xmp", for warnings and `inspect`


@dataclass
class Sources:
    fields: dict[str, Field] = field(default_factory=dict)
    nested: dict[str, Any] = field(default_factory=dict)     # pyexiv2 keys inside structs
    exif: dict[str, Any] = field(default_factory=dict)
    used: list[str] = field(default_factory=list)        # origins that contributed, weakest first
    warnings: list[str] = field(default_factory=list)

    def overlay(self, values: Mapping[str, Any], origin: str) -> None:
        for key, value in values.items():
            self.fields[key] = Field(value, origin)
        if values:
            self.used.append(origin)

    def overlay_xmp(self, xmp: Mapping[str, Any], origin: str) -> None:
        self.overlay(top_level(xmp), origin)
        # A struct comes whole from the strongest source that has it: a sidecar's contact
        # block must not keep the phone number that only the photo's older block had.
        replaced = {k.split("/", 1)[0] for k in xmp if "/" in k}
        self.nested = {k: v for k, v in self.nested.items() if k.split("/", 1)[0] not in replaced}
        self.nested.update({k: v for k, v in xmp.items() if "/" in k})

    def get(self, key: str) -> Field | None:
        return self.fields.get(key)


def bad_value(key: str, raw: Any, origin: str, reason: object) -> str:
    """The warning for a value that did not parse: field, value (shortened), source, why."""
    shown = repr(raw)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"{key} = {shown} ({origin}): {reason}; ignored"


def top_level(xmp: Mapping[str, Any]) -> dict[str, Any]:
    """pyexiv2 keys `Xmp.crs.Exposure2012` -> `crs:Exposure2012`; nested paths dropped."""
    out: dict[str, Any] = {}
    for key, value in xmp.items():
        parts = key.split(".", 2)
        if len(parts) != 3 or parts[0] != "Xmp":
            continue
        prefix, name = parts[1], parts[2]
        if "/" in name or "[" in name:
            continue
        out[f"{prefix}:{name}"] = value
    return out


def find_sidecar(photo: Path) -> Path | None:
    """`IMG_1234.jpg.xmp` (darktable, digiKam), then `IMG_1234.xmp` (Capture One, Lightroom).
    The whole file name first: it can only be this photo's, where `IMG_1234.xmp` may be the
    sidecar of the raw file shot with it (`IMG_1234.CR2`)."""
    folder = photo.parent
    for name in (photo.name + ".xmp", photo.name + ".XMP", photo.stem + ".xmp", photo.stem + ".XMP"):
        candidate = folder / name
        try:
            if candidate != photo and candidate.is_file():
                return candidate
        except OSError:   # e.g. `name` over the file system's 255-byte limit: no such sidecar
            continue
    return None


def read_packet_file(path: Path, max_bytes: int) -> bytes:
    """A sidecar's bytes, refusing what is not a plausible, bounded, entity-free XMP file."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(f"XMP sidecar {path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"XMP sidecar {path}: not a regular file")
    if info.st_size > max_bytes:
        raise InputError(f"XMP sidecar {path}: {info.st_size / _MB:.1f} MB is over the "
                         f"{max_bytes / _MB:g} MB limit ([limits] max_xmp_mb)")
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"XMP sidecar {path}: cannot read ({exc.strerror})") from None
    if len(data) > max_bytes:  # grew since stat
        raise InputError(f"XMP sidecar {path}: over the {max_bytes / _MB:g} MB limit")
    return data


def vet_packet(data: bytes, what: str) -> bytes:
    """Refuse entity tricks and non-XMP before exiv2 parses anything; return UTF-8 bytes."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        # UTF-16/32 packets would hide a DOCTYPE from the byte check below; Lightroom,
        # Capture One, darktable and digiKam all write UTF-8.
        raise InputError(f"{what}: not text (a photo or other binary file, or XMP saved as UTF-16); "
                         "XMP is read as UTF-8 text, as Lightroom writes it")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what}: not UTF-8 text (byte {exc.start + 1} is not UTF-8); "
                         "save the XMP again as UTF-8, as Lightroom writes it") from None
    if _DOCTYPE.search(data):
        raise InputError(f"{what}: XML DOCTYPE/ENTITY declarations are not allowed in XMP")
    if not data.strip():
        raise InputError(f"{what}: the file is empty")
    if _RDF_NS not in data:
        raise InputError(f"{what}: holds no XMP metadata (no rdf:RDF in it)")
    _check_well_formed(data, what)
    return data


def _check_well_formed(data: bytes, what: str) -> None:
    """exiv2 silently returns nothing for some malformed packets: say what is wrong instead.

    expat without a DOCTYPE (refused above) has no entities to expand and never
    fetches anything; parameter entities are switched off regardless.
    """
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise InputError(f"{what}: malformed XML ({expat.ErrorString(exc.code)} "
                         f"at line {exc.lineno}, column {exc.offset})") from None


def parse_packet(data: bytes, what: str) -> dict[str, Any]:
    data = vet_packet(data, what)
    try:
        return _exiv2.xmp_from_packet(data)
    except (RuntimeError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{what}: malformed XMP ({_exiv2._one_line(exc)})") from None


def develop_fields(develop: Any) -> dict[str, Any]:
    """The plug-in's develop JSON as fields: Camera Raw keys become `crs:<Key>`."""
    if not isinstance(develop, Mapping):
        raise InputError("develop settings must be a JSON object")
    out: dict[str, Any] = {}
    for key, value in develop.items():
        if not isinstance(key, str) or not key:
            continue
        if key in _JSON_SPECIAL:
            out[_JSON_SPECIAL[key]] = value
        elif not isinstance(value, Mapping):  # nested tables (Look, masks) are not photo settings
            out["crs:" + key.removeprefix("crs:")] = value
    return out


def gather(photo: Path, *, sidecar: Path | None, develop: Mapping[str, Any] | None,
           max_xmp_bytes: int, discover_sidecar: bool = True) -> Sources:
    """Read every source of `photo` and overlay them in the documented order."""
    sources = Sources()
    photo = Path(photo)
    if photo.exists():
        embedded = _exiv2.read_file(photo)
        problems = list(embedded.problems)
        if embedded.raw_xmp.strip():
            try:
                vet_packet(embedded.raw_xmp, "XMP packet")
            except InputError as exc:
                problems.append(str(exc))
        for problem in problems:
            sources.warnings.append(f"photo {photo.name}: embedded metadata: {problem}; ignored")
        sources.exif = embedded.exif
        if embedded.exif:
            sources.used.append(f"EXIF in {photo.name}")
        sources.overlay_xmp(embedded.xmp, f"XMP in {photo.name}")

    explicit = sidecar is not None
    if sidecar is None and discover_sidecar:
        sidecar = find_sidecar(photo)
    if sidecar is not None:
        what = f"XMP sidecar {sidecar}"
        try:
            xmp = parse_packet(read_packet_file(Path(sidecar), max_xmp_bytes), what)
        except InputError as exc:
            if explicit:
                raise  # the user asked for this file: a clear error, not a silent skip
            sources.warnings.append(f"{exc}; ignored")
        else:
            sources.overlay_xmp(xmp, f"sidecar {Path(sidecar).name}")

    if develop is not None:
        sources.overlay(develop_fields(develop), "plug-in develop settings")
    return sources
