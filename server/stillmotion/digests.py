"""Content digests of files: a photo (or its sidecar) known by its bytes, not its name.

Read in 1 MiB chunks, as hashlib.file_digest (Python 3.11+, and 3.10 is supported) would."""

from __future__ import annotations

import hashlib
from pathlib import Path


def update_from_file(digest: "hashlib._Hash", path: Path) -> None:
    """Feed the bytes of `path` into `digest`."""
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)


def file_digest(path: Path) -> str:
    """The SHA-256 of the bytes of `path`, in hex."""
    digest = hashlib.sha256()
    update_from_file(digest, path)
    return digest.hexdigest()
