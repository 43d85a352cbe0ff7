"""The front door. The daemon writes files next to the user's photos, so only the user's
own local programs may drive it:

- a bearer token, created on first start as `<data dir>/token` (mode 0600, readable by
  the user's programs only); every route but GET /v1/health needs it (401 otherwise);
- the Host header must be a loopback name or a configured one (403): a web page whose
  DNS name is re-pointed at 127.0.0.1 (DNS rebinding) still sends its own name;
- a browser request from another site (an Origin that is not this daemon's own, or
  Sec-Fetch-Site: cross-site) is refused (403); only the origins the user listed in
  [server] allowed_origins (their own web UI) get CORS headers, so only their pages
  can read the answers (and still need the token).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

from .. import paths
from ..errors import StillmotionError
from ..place import write_file


TOKEN_FILE = "token"


def ensure_token(data_dir: Path) -> tuple[str, Path]:
    """The daemon's token, created on first start. Written under a temporary name and
    linked into place (where there are no hard links, exFAT or an SMB share: an exclusive
    create, then a rename), so a second daemon starting at the same moment reads the same one.
    A token file that cannot be made or read is one line (StillmotionError) for `serve`."""
    path = data_dir / TOKEN_FILE
    try:
        if not path.exists():
            _create_token(data_dir, path)
    except OSError as exc:
        # Nothing to delete: the data folder cannot be written (a read-only volume, a HOME
        # this account cannot write), so the daemon cannot keep its jobs there either.
        raise StillmotionError(f"{data_dir}: cannot write the daemon's data folder ({exc.strerror or exc}); "
                               "make it writable, or set STILLMOTION_HOME to a folder that is") from None
    try:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)            # someone loosened it: the token is a password
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StillmotionError(f"{path}: cannot read the daemon's token file "
                               f"({getattr(exc, 'strerror', None) or exc}); if it is damaged, delete it and restart") from None
    if len(token) < 16:
        raise StillmotionError(f"{path}: the token file is empty or damaged; delete it and restart")
    return token, path


def _create_token(data_dir: Path, path: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True, mode=paths.DATA_DIR_MODE)
    # (False: another daemon's token got there first, and is used)
    write_file(path, secrets.token_urlsafe(32) + "\n", exclusive=True, mode=0o600)


def host_name(header: str) -> str:
    """'localhost:8765' -> 'localhost', '[::1]:8765' -> '::1'."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def is_loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _origin(header: str) -> str:
    """An Origin header as the allowed origins are kept: no trailing slash, lower case."""
    return header.strip().rstrip("/").lower()


@dataclass(frozen=True)
class FrontDoor:
    token: str
    allowed_hosts: frozenset[str]       # besides loopback names
    allowed_origins: frozenset[str]     # besides this daemon's own origin

    @classmethod
    def build(cls, token: str, allowed_hosts: Iterable[str] = (), allowed_origins: Iterable[str] = (),
              bind_host: str | None = None) -> "FrontDoor":
        hosts = {h.strip().lower() for h in allowed_hosts if h.strip()}
        if bind_host and bind_host not in ("0.0.0.0", "::", ""):
            hosts.add(host_name(bind_host))   # a configured address is a name clients will use
        return cls(token, frozenset(hosts), frozenset(o.rstrip("/").lower() for o in allowed_origins))

    def host_allowed(self, header: str | None) -> bool:
        if not header:
            return False
        name = host_name(header)
        return is_loopback(name) or name in self.allowed_hosts

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        """Only the daemon's own origin (same host and port as the request) or a configured one."""
        origin = _origin(origin)
        if origin in self.allowed_origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme == "http" and parts.netloc == host_header.strip().lower()

    def cors_allowed(self, origin: str) -> bool:
        """An origin the user configured: its pages may read answers (CORS), not just send."""
        return _origin(origin) in self.allowed_origins

    def token_ok(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, value = authorization.partition(" ")
        # (a header that is not UTF-8 arrives with surrogates: a wrong token, not a crash)
        sent = value.strip().encode("utf-8", "surrogateescape")
        return scheme.lower() == "bearer" and hmac.compare_digest(sent, self.token.encode())
