"""Descriptive metadata: what the photo is, who made it, when and where.

XMP fields win over EXIF ones (XMP is what Lightroom edits); EXIF embedded in the
photo only fills what no XMP source set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from . import values
from .sources import Sources, bad_value


@dataclass
class GPS:
    latitude: float          # decimal degrees, north positive
    longitude: float         # decimal degrees, east positive
    altitude: float | None = None  # metres above sea level


@dataclass
class Location:
    """Where the photo was taken, in words (IPTC Core; Lightroom's Location fields)."""
    sublocation: str | None = None    # Iptc4xmpCore:Location
    city: str | None = None           # photoshop:City
    state: str | None = None          # photoshop:State
    country: str | None = None        # photoshop:Country
    country_code: str | None = None   # Iptc4xmpCore:CountryCode


@dataclass
class Descriptive:
    title: str | None = None
    caption: str | None = None                       # dc:description
    keywords: list[str] = field(default_factory=list)             # dc:subject
    hierarchical_keywords: list[str] = field(default_factory=list)  # lr:hierarchicalSubject ("A|B|C")
    rating: int | None = None                        # -1 (rejected) .. 5
    label: str | None = None                         # xmp:Label ("Red", or any text)
    headline: str | None = None                      # photoshop:Headline
    creator: list[str] = field(default_factory=list)
    creator_job_title: str | None = None             # photoshop:AuthorsPosition
    creator_contact: dict[str, str] = field(default_factory=dict)  # Iptc4xmpCore:CreatorContactInfo (CiEmailWork: ...)
    credit_line: str | None = None                   # photoshop:Credit
    source: str | None = None                        # photoshop:Source (the supplier)
    instructions: str | None = None                  # photoshop:Instructions (embargo, restrictions)
    rights: str | None = None                        # dc:rights, the copyright notice
    usage_terms: str | None = None                   # xmpRights:UsageTerms
    copyright_marked: bool | None = None             # xmpRights:Marked (Lightroom's Copyright Status)
    rights_url: str | None = None                    # xmpRights:WebStatement
    capture_date: str | None = None                  # ISO 8601, as precise as the source
    camera_make: str | None = None
    camera_model: str | None = None
    lens: str | None = None
    gps: GPS | None = None
    location: Location | None = None

    @property
    def all_keywords(self) -> list[str]:
        """Flat keywords plus each hierarchical path's leaf, first occurrence kept."""
        seen: dict[str, None] = {}
        for word in self.keywords + [k.split("|")[-1] for k in self.hierarchical_keywords]:
            if word.strip():
                seen.setdefault(word, None)
        return list(seen)


_KEYWORDS = ["dc:subject", "lr:hierarchicalSubject"]


def parse(sources: Sources, warnings: list[str]) -> Descriptive:
    get = _Getter(sources, warnings)
    out = Descriptive(
        title=get.first(["dc:title"], values.text),
        caption=get.first(["dc:description"], values.text),
        # Flat and hierarchical keywords are one list under two names: both come from the
        # strongest source that has either, or keywords removed in a sidecar's tool would
        # come back through the photo's own lr:hierarchicalSubject (or dc:subject).
        keywords=get.first(get.strongest(["dc:subject"], among=_KEYWORDS), values.text_list) or [],
        hierarchical_keywords=get.first(get.strongest(["lr:hierarchicalSubject"], among=_KEYWORDS),
                                        values.text_list) or [],
        headline=get.first(["photoshop:Headline"], values.text),
        rating=get.first(["xmp:Rating"], _rating),
        label=get.first(["xmp:Label"], values.text),
        creator=(get.first(["dc:creator"], values.text_list)
                 or get.exif(["Exif.Image.Artist"], lambda v: [values.text(v)]) or []),
        creator_job_title=get.first(["photoshop:AuthorsPosition"], values.text),
        creator_contact=_creator_contact(get),
        credit_line=get.first(["photoshop:Credit"], values.text),
        source=get.first(["photoshop:Source"], values.text),
        instructions=get.first(["photoshop:Instructions"], values.text),
        rights=get.first(["dc:rights"], values.text) or get.exif(["Exif.Image.Copyright"], values.text),
        usage_terms=get.first(["xmpRights:UsageTerms"], values.text),
        copyright_marked=get.first(["xmpRights:Marked"], values.boolean),
        rights_url=get.first(["xmpRights:WebStatement"], values.text),
        # One field under three names: the strongest source's (a sidecar over the photo's own
        # XMP), and within a source photoshop:DateCreated, which keeps the time zone and the
        # fraction of a second that Lightroom's exif:DateTimeOriginal may drop.
        capture_date=(get.first(["photoshop:DateCreated", "exif:DateTimeOriginal", "xmp:CreateDate"], values.date,
                                strongest_source=True)
                      or _exif_capture_date(get)),
        camera_make=get.first(["tiff:Make"], values.text) or get.exif(["Exif.Image.Make"], values.text),
        camera_model=get.first(["tiff:Model"], values.text) or get.exif(["Exif.Image.Model"], values.text),
        lens=(get.first(["exifEX:LensModel", "aux:Lens"], values.text)
              or get.exif(["Exif.Photo.LensModel"], values.text)),
        gps=_gps(get),
        location=_location(get),
    )
    for name in ("title", "caption", "headline", "creator_job_title", "credit_line", "source", "instructions",
                 "label", "rights", "usage_terms", "rights_url", "camera_make",
                 "camera_model", "lens"):
        value = getattr(out, name)
        if isinstance(value, str):
            setattr(out, name, value.strip() or None)
    return out


def _rating(raw: Any) -> int:
    value = values.number(raw)
    if not value.is_integer() or not -1 <= value <= 5:
        raise ValueError("rating must be a whole number -1..5")
    return int(value)


class _Getter:
    def __init__(self, sources: Sources, warnings: list[str]) -> None:
        self.sources, self.warnings = sources, warnings

    def first(self, keys: list[str], parser: Callable[[Any], Any], *, strongest_source: bool = False) -> Any:
        """The first of `keys` that is present and parses (failures warn and fall through).
        `strongest_source`: the keys name one field, and a later source's any name beats an
        earlier source's (sources overlay field by field, not name by name)."""
        if strongest_source:
            present = [k for k in keys if self.sources.get(k) is not None]
            keys = sorted(present, key=lambda k: -self._rank(k))   # (stable)
        for key in keys:
            found = self.sources.get(key)
            if found is None:
                continue
            try:
                return parser(found.value)
            except ValueError as exc:
                self._warn(key, found.value, found.origin, exc)
        return None

    def strongest(self, keys: list[str], *, among: list[str]) -> list[str]:
        """`keys` less those set by a weaker source than the strongest that sets any of
        `among` (the names of one field that must not be mixed from two sources)."""
        present = [k for k in among if self.sources.get(k) is not None]
        if not present:
            return keys
        top = max(self._rank(k) for k in present)
        return [k for k in keys if self.sources.get(k) is not None and self._rank(k) == top]

    def _rank(self, key: str) -> int:
        """How strong the source that set `key` is (later in `sources.used` is stronger)."""
        found = self.sources.get(key)
        origin = found.origin if found is not None else None
        return self.sources.used.index(origin) if origin in self.sources.used else -1

    def exif(self, keys: list[str], parser: Callable[[Any], Any]) -> Any:
        for key in keys:
            if key in self.sources.exif:
                try:
                    return parser(self.sources.exif[key])
                except ValueError as exc:
                    self._warn(key, self.sources.exif[key], "EXIF", exc)
        return None

    def _warn(self, key: str, raw: Any, origin: str, exc: Exception) -> None:
        self.warnings.append(bad_value(key, raw, origin, exc))


# EXIF dates, best first, each with the tags that hold its fraction of a second and its
# time zone (EXIF 2.31 OffsetTime*, which phones write; without it the date is local time).
_EXIF_DATES = [("Exif.Photo.DateTimeOriginal", "Exif.Photo.SubSecTimeOriginal", "Exif.Photo.OffsetTimeOriginal"),
               ("Exif.Image.DateTime", "Exif.Photo.SubSecTime", "Exif.Photo.OffsetTime")]
_SUBSEC = re.compile(r"^\d+$")
_OFFSET = re.compile(r"^(Z|[+-]\d{2}:\d{2})$")


def _exif_capture_date(get: _Getter) -> str | None:
    exif = get.sources.exif
    for date_key, subsec_key, offset_key in _EXIF_DATES:
        value = get.exif([date_key], values.date)
        if value is None:
            continue
        subsec = str(exif.get(subsec_key, "")).strip()
        if _SUBSEC.match(subsec) and len(value) == 19:            # seconds, and no fraction yet
            value += "." + subsec
        offset = str(exif.get(offset_key, "")).strip()
        if _OFFSET.match(offset) and len(value) >= 19 and value[19:].lstrip(".0123456789") == "":
            value += offset
        return value
    return None


_GPS_POSITION = ["exif:GPSLatitude", "exif:GPSLongitude"]


def _gps(get: _Getter) -> GPS | None:
    # One place: its altitude (and whether that is below sea level) from the source that
    # gave the position, never another source's altitude pinned to a moved position.
    lat = get.first(get.strongest(["exif:GPSLatitude"], among=_GPS_POSITION),
                    lambda v: values.xmp_gps(v, is_latitude=True))
    lon = get.first(get.strongest(["exif:GPSLongitude"], among=_GPS_POSITION),
                    lambda v: values.xmp_gps(v, is_latitude=False))
    alt = get.first(get.strongest(["exif:GPSAltitude"], among=_GPS_POSITION), values.rational)
    below = get.first(get.strongest(["exif:GPSAltitudeRef"], among=_GPS_POSITION), values.integer)
    if lat is None or lon is None:
        exif = get.sources.exif
        ref_lat, ref_lon = exif.get("Exif.GPSInfo.GPSLatitudeRef", ""), exif.get("Exif.GPSInfo.GPSLongitudeRef", "")
        lat = get.exif(["Exif.GPSInfo.GPSLatitude"], lambda v: values.exif_gps(v, ref_lat, is_latitude=True))
        lon = get.exif(["Exif.GPSInfo.GPSLongitude"], lambda v: values.exif_gps(v, ref_lon, is_latitude=False))
        alt = get.exif(["Exif.GPSInfo.GPSAltitude"], values.rational)
        below = get.exif(["Exif.GPSInfo.GPSAltitudeRef"], values.integer)
    if lat is None or lon is None:
        return None
    if alt is not None and below == 1:
        alt = -alt
    return GPS(latitude=lat, longitude=lon, altitude=alt)


# IPTC Core's Creator's Contact Info: the struct's fields, as the clip writes them back.
CONTACT_FIELDS = ("CiAdrExtadr", "CiAdrCity", "CiAdrRegion", "CiAdrPcode", "CiAdrCtry",
                  "CiTelWork", "CiEmailWork", "CiUrlWork")


def _creator_contact(get: _Getter) -> dict[str, str]:
    """The photographer's contact details (a struct: `Sources` keeps it whole from one source)."""
    nested = get.sources.nested
    found = {name: nested.get(f"Xmp.iptc.CreatorContactInfo/Iptc4xmpCore:{name}") for name in CONTACT_FIELDS}
    return {name: value.strip() for name, value in found.items() if isinstance(value, str) and value.strip()}


_LOCATION = {"sublocation": "iptc:Location", "city": "photoshop:City", "state": "photoshop:State",
             "country": "photoshop:Country", "country_code": "iptc:CountryCode"}


def _location(get: _Getter) -> Location | None:
    """One place, from one source: a sidecar that names another city does not keep the
    photo's own sublocation or country."""
    names = list(_LOCATION.values())
    found = {field: get.first(get.strongest([key], among=names), values.text) for field, key in _LOCATION.items()}
    found = {field: value.strip() for field, value in found.items() if value and value.strip()}
    return Location(**found) if found else None
