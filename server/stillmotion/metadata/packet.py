"""Build the one XMP packet that describes a clip (sidecar and embedded copies are identical).

Contents:
- the photo's descriptive fields carried over (title, headline, caption, keywords, creator
  with job title and contact details, credit line, source, instructions, rights and usage
  terms, rating, label, capture date, GPS and the location's names);
- disclosure: Iptc4xmpExt:DigitalSourceType, AISystemUsed, AISystemVersionUsed,
  AIPromptInformation (IPTC Photo Metadata 2025.1);
- provenance: every setting needed to reproduce the clip, under the `stillmotion`
  namespace, exactly as the pipeline hands it over (nested dicts become structs,
  lists become rdf:Seq);
- xmpMM: a fresh DocumentID/InstanceID for the clip and DerivedFrom (the
  original's file name and DocumentID).

Serialised with ElementTree so every value is escaped; characters XML 1.0 cannot
carry are dropped.
"""

from __future__ import annotations

import os
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from .. import __version__
from ._exiv2 import STILLMOTION_NS, STILLMOTION_PREFIX
from .reader import PhotoMetadata

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stRef": "http://ns.adobe.com/xap/1.0/sType/ResourceRef#",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    STILLMOTION_PREFIX: STILLMOTION_NS,
}

DST_BASE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = DST_BASE + "trainedAlgorithmicMedia"
COMPOSITE_SYNTHETIC = DST_BASE + "compositeSynthetic"
# Engines that synthesise no pixels with a generative model (see README: parallax re-projects
# the photo's own pixels and fills disocclusions by algorithm). Everything else is disclosed
# as generative AI output.
_NON_GENERATIVE_ENGINES = {"parallax": COMPOSITE_SYNTHETIC}

MEDIA_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime",
               ".gif": "image/gif", ".webp": "image/webp"}
SEQUENCE_MEDIA_TYPE = "image/tiff"   # a clip that is a folder: --format tiff's frame_000001.tif, ...
PADDING = 2048  # XMP spec: padding lets other tools edit the packet in place
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


def digital_source_type(engine: str, *, generative_fill: bool = False) -> str:
    """IPTC DigitalSourceType for a clip made by `engine`.

    `generative_fill`: a non-generative engine used a trained generative model for
    some pixels (e.g. learned inpainting), which makes the clip a composite with
    trained algorithmic media.
    """
    if engine in _NON_GENERATIVE_ENGINES:
        return DST_BASE + "compositeWithTrainedAlgorithmicMedia" if generative_fill else _NON_GENERATIVE_ENGINES[engine]
    return TRAINED


def ai_system(engine: str, provenance: Mapping[str, Any]) -> tuple[str, str]:
    """AISystemUsed and AISystemVersionUsed as a reader of the clip's metadata wants them.

    A generative engine: the model that made the frames (its Hugging Face id, else its name,
    not the folder path typed after --model) and its revision, left out when unknown (a local
    folder: Stillmotion's own version would pass for the model's). Stillmotion's own
    engines (parallax) use no AI, and IPTC 2025.1 defines AISystemUsed as "the AI engine
    and/or the model name used to generate this image": both are left out ("", ""), as
    readers take the field's presence for AI generation; the engine's id and revision stay in
    the reproduction block (stillmotion:model, stillmotion:revision). One that filled holes
    with a trained model (`generative_fill`) names itself."""
    software = str(provenance.get("software_version") or __version__)
    if engine in _NON_GENERATIVE_ENGINES:
        return (f"Stillmotion {engine} engine", software) if provenance.get("generative_fill") else ("", "")
    if not provenance.get("model"):
        return f"Stillmotion {engine} engine", software
    info = provenance.get("engine_info") or {}
    return str(info.get("hf_id") or info.get("model") or provenance["model"]), str(provenance.get("revision") or "")


def build_packet(meta: PhotoMetadata | None, provenance: Mapping[str, Any], *, original_path: str | Path,
                 media_type: str = "video/mp4", carry_gps: bool = True,
                 now: datetime | None = None) -> bytes:
    """The clip's XMP packet as UTF-8 bytes, `<?xpacket ...?>`-wrapped and padded."""
    engine = str(provenance.get("engine") or "")
    if not engine:
        raise ValueError("provenance must name the engine")
    now = now or datetime.now(timezone.utc).astimezone()
    stamp = now.isoformat(timespec="seconds")

    root = ET.Element(_q("x", "xmpmeta"), {_q("x", "xmptk"): f"Stillmotion {__version__}"})
    rdf = ET.SubElement(root, _q("rdf", "RDF"))
    desc = ET.SubElement(rdf, _q("rdf", "Description"), {_q("rdf", "about"): ""})

    # -- the clip itself ------------------------------------------------------------
    _simple(desc, "dc", "format", media_type)
    _simple(desc, "xmp", "CreatorTool", f"Stillmotion {provenance.get('software_version') or __version__}")
    _simple(desc, "xmp", "CreateDate", stamp)
    _simple(desc, "xmp", "MetadataDate", stamp)
    _simple(desc, "xmpMM", "DocumentID", f"xmp.did:{uuid.uuid4()}")
    _simple(desc, "xmpMM", "InstanceID", f"xmp.iid:{uuid.uuid4()}")
    derived = _struct(desc, "xmpMM", "DerivedFrom")
    # The file name only, as Lightroom's xmpMM:PreservedFileName: the folders above it (the
    # user's name, a client's folder) are not for whoever the clip is delivered to.
    _simple(derived, "stRef", "filePath", os.path.basename(os.path.abspath(os.fspath(original_path))))
    if meta is not None and meta.document_id:
        _simple(derived, "stRef", "documentID", meta.document_id)

    # -- carried over from the photo --------------------------------------------------
    if meta is not None:
        d = meta.descriptive
        _lang_alt(desc, "dc", "title", d.title)
        _lang_alt(desc, "dc", "description", d.caption)
        _lang_alt(desc, "dc", "rights", d.rights)
        _lang_alt(desc, "xmpRights", "UsageTerms", d.usage_terms)
        if d.copyright_marked is not None:
            _simple(desc, "xmpRights", "Marked", provenance_text(d.copyright_marked))
        _simple(desc, "xmpRights", "WebStatement", d.rights_url)
        _array(desc, "dc", "creator", "Seq", d.creator)
        _simple(desc, "photoshop", "AuthorsPosition", d.creator_job_title)
        if d.creator_contact:
            contact = _struct(desc, "Iptc4xmpCore", "CreatorContactInfo")
            for name, value in d.creator_contact.items():
                _simple(contact, "Iptc4xmpCore", name, value)
        _simple(desc, "photoshop", "Headline", d.headline)
        _simple(desc, "photoshop", "Credit", d.credit_line)
        _simple(desc, "photoshop", "Source", d.source)
        _simple(desc, "photoshop", "Instructions", d.instructions)
        _array(desc, "dc", "subject", "Bag", d.keywords)
        _array(desc, "lr", "hierarchicalSubject", "Bag", d.hierarchical_keywords)
        if d.rating is not None:
            _simple(desc, "xmp", "Rating", str(d.rating))
        _simple(desc, "xmp", "Label", d.label)
        _simple(desc, "photoshop", "DateCreated", d.capture_date)
        if d.gps is not None and carry_gps:
            _simple(desc, "exif", "GPSVersionID", "2.3.0.0")
            _simple(desc, "exif", "GPSLatitude", gps_coordinate(d.gps.latitude, "NS"))
            _simple(desc, "exif", "GPSLongitude", gps_coordinate(d.gps.longitude, "EW"))
            if d.gps.altitude is not None:
                _simple(desc, "exif", "GPSAltitude", f"{round(abs(d.gps.altitude) * 1000)}/1000")
                _simple(desc, "exif", "GPSAltitudeRef", "1" if d.gps.altitude < 0 else "0")
        if d.location is not None and carry_gps:   # a place in words is as telling as GPS
            _simple(desc, "Iptc4xmpCore", "Location", d.location.sublocation)
            _simple(desc, "photoshop", "City", d.location.city)
            _simple(desc, "photoshop", "State", d.location.state)
            _simple(desc, "photoshop", "Country", d.location.country)
            _simple(desc, "Iptc4xmpCore", "CountryCode", d.location.country_code)

    # -- disclosure ---------------------------------------------------------------------
    _simple(desc, "Iptc4xmpExt", "DigitalSourceType",
            digital_source_type(engine, generative_fill=bool(provenance.get("generative_fill"))))
    system, version = ai_system(engine, provenance)
    _simple(desc, "Iptc4xmpExt", "AISystemUsed", system)
    _simple(desc, "Iptc4xmpExt", "AISystemVersionUsed", version)
    _simple(desc, "Iptc4xmpExt", "AIPromptInformation", _text(provenance.get("prompt")))

    # -- reproduction: every setting, verbatim -------------------------------------
    for key, value in provenance.items():
        _provenance(desc, key, value)

    body = ET.tostring(root, encoding="unicode")
    packet = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + body + "\n"
              + (" " * 99 + "\n") * (PADDING // 100) + '<?xpacket end="w"?>')
    return packet.encode("utf-8")


def gps_coordinate(value: float, refs: str) -> str:
    """Signed decimal degrees -> XMP GPSCoordinate 'DDD,MM.mmmmmmk'."""
    ref = refs[1] if value < 0 else refs[0]
    value = abs(value)
    degrees = int(value)
    minutes = (value - degrees) * 60
    return f"{degrees},{minutes:.6f}{ref}"


def provenance_text(value: Any) -> str:
    """How a scalar provenance value is written (XMP Boolean 'True'/'False', numbers as repr)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(value)
    return _text(value) or ""


# ---------------------------------------------------------------- element helpers
def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return _NOT_XML.sub("", str(value))


def _simple(parent: ET.Element, prefix: str, name: str, value: Any) -> None:
    text = _text(value)
    if text:
        ET.SubElement(parent, _q(prefix, name)).text = text


def _struct(parent: ET.Element, prefix: str, name: str) -> ET.Element:
    return ET.SubElement(parent, _q(prefix, name), {_q("rdf", "parseType"): "Resource"})


def _lang_alt(parent: ET.Element, prefix: str, name: str, value: str | None) -> None:
    text = _text(value)
    if text:
        alt = ET.SubElement(ET.SubElement(parent, _q(prefix, name)), _q("rdf", "Alt"))
        li = ET.SubElement(alt, _q("rdf", "li"), {"{http://www.w3.org/XML/1998/namespace}lang": "x-default"})
        li.text = text


def _array(parent: ET.Element, prefix: str, name: str, kind: str, items: list[str]) -> None:
    items = [t for t in (_text(i) for i in items) if t]
    if items:
        container = ET.SubElement(ET.SubElement(parent, _q(prefix, name)), _q("rdf", kind))
        for item in items:
            ET.SubElement(container, _q("rdf", "li")).text = item


def _property_name(key: Any) -> str:
    """An XML name for a provenance key (engines report free-form info keys)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", str(key))
    return name if _NAME.match(name) else "_" + name


def _provenance(parent: ET.Element, key: Any, value: Any, depth: int = 0) -> None:
    key = _property_name(key)
    if value is None:
        return
    if depth > 4:  # deeper structures are written as text
        value = str(value)
    if isinstance(value, Mapping):
        node = _struct(parent, STILLMOTION_PREFIX, key)
        for sub_key, sub_value in value.items():
            _provenance(node, sub_key, sub_value, depth + 1)
    elif isinstance(value, (list, tuple)):
        seq = ET.SubElement(ET.SubElement(parent, _q(STILLMOTION_PREFIX, key)), _q("rdf", "Seq"))
        for item in value:
            ET.SubElement(seq, _q("rdf", "li")).text = provenance_text(item)
    else:
        ET.SubElement(parent, _q(STILLMOTION_PREFIX, key)).text = provenance_text(value)
