"""Read a multipart form, streaming file parts into a fresh folder under uploads/.

Files are written as they arrive (never held in memory) and hashed on the way, so
duplicate detection needs no second read. Limits: all files together at most
[limits] max_upload_mb, the XMP sidecar at most max_xmp_mb (413 beyond either); text
fields at most 1 MiB each. A body that sends nothing for STALL_S seconds is answered 408
(aiohttp itself never times a body out). On any error the folder is removed before the error is raised.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.web_protocol import RequestPayloadError

from ..place import cut_to_bytes
from .errors import ApiError

TEXT_LIMIT = 1 << 20
CHUNK = 1 << 16
STALL_S = 60.0      # an upload that sends nothing for this long is given up (its half-file removed)

T = TypeVar("T")


@dataclass
class Upload:
    path: Path
    filename: str       # the client's name for it, made safe
    digest: str         # sha256 of the content
    size: int


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)
    folder: Path | None = None          # holds the uploads; the caller owns it from here

    def discard(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


MAX_NAME_BYTES = 120


def safe_filename(name: str | None, default: str) -> str:
    """The last component of a client file name, with only harmless characters: letters and
    digits of any script (a photographer's "Café.jpg" or "写真.jpg" keeps its name, which
    its clip is named after), `._ -`; at most 120 bytes, the extension kept."""
    base = unicodedata.normalize("NFC", re.split(r"[\\/]", name or "")[-1])   # macOS sends "é" as e + ́
    base = re.sub(r"[^\w. -]", "_", base).strip(" .")
    stem, dot, extension = base.rpartition(".")
    if not dot or len(extension) > 10:
        stem, extension = base, ""
    stem = cut_to_bytes(stem, MAX_NAME_BYTES - len(extension.encode()) - 1).rstrip(" .")
    return (f"{stem}.{extension}" if extension else stem) if stem else default


def too_large(what: str, limit_bytes: int) -> ApiError:
    return ApiError(413, "payload_too_large",
                    f"{what} is larger than {limit_bytes / 2**20:g} MB ([limits] in the daemon's config)")


async def read_form(request: web.Request, uploads_root: Path, *, file_fields: dict[str, int],
                    text_fields: frozenset[str], max_total: int) -> Form:
    """`file_fields` maps each accepted file field to its own size limit in bytes."""
    if not request.content_type.startswith("multipart/"):
        raise ApiError(415, "unsupported_media_type", "send multipart/form-data")
    if request.content_length is not None and request.content_length > max_total + TEXT_LIMIT * len(text_fields):
        raise too_large("the upload", max_total)
    form = Form()
    try:
        reader = await request.multipart()
        total = 0
        while (part := await _arriving(reader.next())) is not None:
            if not isinstance(part, BodyPartReader) or not part.name:
                raise ApiError(400, "bad_request", "nested multipart bodies and unnamed parts are not accepted")
            name = part.name
            if name in form.fields or name in form.files:
                raise ApiError(400, "bad_request", f"field '{name}' was sent twice")
            if name in file_fields and part.filename is None:
                raise ApiError(400, "bad_request", f"'{name}' must be sent as a file (a part with a filename)")
            if name in file_fields:
                if form.folder is None:
                    form.folder = uploads_root / secrets.token_hex(8)
                    form.folder.mkdir(parents=True, mode=0o700)
                field_limit, remaining = file_fields[name], max_total - total
                if field_limit <= remaining:
                    limit, refusal = field_limit, too_large(f"'{name}'", field_limit)
                else:
                    limit, refusal = remaining, too_large("the upload", max_total)
                upload = await _save(part, form.folder, name, limit, refusal)
                total += upload.size
                form.files[name] = upload
            elif name in text_fields:
                form.fields[name] = await _text(part, name)
            else:
                known = ", ".join(sorted([*file_fields, *text_fields]))
                raise ApiError(400, "bad_request", f"unknown field '{name}' (known: {known})")
    except (ValueError, BadHttpMessage, RuntimeError, RequestPayloadError) as exc:
        # aiohttp's words for a body that is not multipart (no boundary, cut short: ValueError),
        # for a part whose own headers are broken (no colon, too long, too many), for a
        # '_charset_' part that is no charset (RuntimeError) and for a body that is not what
        # its Content-Encoding says (gzip, deflate: RequestPayloadError from a BadHttpMessage)
        form.discard()
        if isinstance(exc, RequestPayloadError) and isinstance(exc.__cause__, BadHttpMessage):
            exc = exc.__cause__
        why = str(exc.message if isinstance(exc, BadHttpMessage) else exc)
        why = why if len(why) <= 120 else why[:117] + "..."   # (it may quote an 8 KB header line)
        raise ApiError(400, "bad_request", f"the multipart body is malformed ({why})") from None
    except BaseException:
        form.discard()
        raise
    return form


async def _arriving(read: Awaitable[T]) -> T:
    """One read of the body, given up after STALL_S seconds without data: a client that
    stopped mid-upload (asleep, its network gone) held its connection and its half-written
    file for as long as the socket stayed open."""
    try:
        return await asyncio.wait_for(read, STALL_S)   # (asyncio.timeout is 3.11+; 3.10 is supported)
    except asyncio.TimeoutError:
        raise ApiError(408, "upload_stalled",
                       f"the upload stopped arriving (no data for {STALL_S:g} s); send it again") from None


async def _save(part: BodyPartReader, folder: Path, name: str, limit: int, refusal: ApiError) -> Upload:
    filename = safe_filename(part.filename, name)
    path = folder / (f"{name}.xmp" if name == "xmp" else filename)
    digest, size = hashlib.sha256(), 0
    with open(path, "wb") as fh:
        while chunk := await _arriving(part.read_chunk(CHUNK)):
            size += len(chunk)
            if size > limit:
                raise refusal
            digest.update(chunk)
            fh.write(chunk)
    return Upload(path=path, filename=filename, digest=digest.hexdigest(), size=size)


async def _text(part: BodyPartReader, name: str) -> str:
    data = bytearray()
    while chunk := await _arriving(part.read_chunk(CHUNK)):
        data.extend(chunk)
        if len(data) > TEXT_LIMIT:
            raise ApiError(413, "payload_too_large", f"field '{name}' is larger than 1 MB")
    try:
        return data.decode(part.get_charset("utf-8"))
    except (UnicodeDecodeError, LookupError):
        raise ApiError(400, "bad_request", f"field '{name}' is not valid text") from None
