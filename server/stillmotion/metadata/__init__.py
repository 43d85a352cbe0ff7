"""Photo metadata in (Lightroom develop + descriptive XMP), clip metadata out.

Reading (`read`, `read_for_job`): EXIF < XMP embedded in the photo < XMP sidecar <
the Lightroom plug-in's develop JSON, merged field by field, into a typed
`PhotoMetadata` with warnings for anything unparseable.

Writing (`write_clip_metadata`): one XMP packet carrying the photo's descriptive
fields, the IPTC AI disclosure and every setting needed to reproduce the clip,
written as a sidecar and embedded in MP4 (uuid box) / MOV (moov/udta/XMP_).

Every pyexiv2 call is serialised through `_exiv2.LOCK` (libexiv2 is not thread-safe).
"""

from ._exiv2 import STILLMOTION_NS
from .bmff import embed_xmp, read_embedded_xmp
from .descriptive import GPS, Descriptive
from .develop import DevelopSettings
from .inspect import inspect_report
from .job import provenance, read_for_job, write_for_job
from .packet import build_packet, digital_source_type
from .prompt import choose_prompt
from .reader import PhotoMetadata, read
from .writer import write_clip_metadata, write_sidecar

__all__ = [
    "STILLMOTION_NS", "GPS", "Descriptive", "DevelopSettings", "PhotoMetadata",
    "read", "read_for_job", "choose_prompt", "inspect_report", "provenance", "write_for_job",
    "build_packet", "digital_source_type", "embed_xmp", "read_embedded_xmp",
    "write_clip_metadata", "write_sidecar",
]
