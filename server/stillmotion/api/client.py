"""A small blocking client for the daemon (standard library only).

    client = DaemonClient.local()                 # URL from [server], token from the data folder
    job = client.submit(image_path="/photos/IMG_1.jpg", settings={"duration": 3})
    for state in client.events(job["id"]):        # Server-Sent Events until a terminal status
        print(state["stage"], state["progress"])

For scripts and integrations that hand work to a running daemon (docs/daemon.md), and
for tests and benchmarks; the CLI and `stillmotion watch` run their jobs themselves.
One client holds one keep-alive connection: use one per thread.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

from .. import config as config_mod, paths
from .security import TOKEN_FILE


TERMINAL = ("done", "failed", "canceled")


def _local(path: str | Path) -> str:
    """A path on this machine as the daemon takes it: absolute, from this working folder."""
    return os.path.abspath(os.path.expanduser(path))


class DaemonError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} (HTTP {status}, {code})")
        self.status, self.code, self.message = status, code, message


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any                     # decoded JSON, or the raw text when it is not JSON
    raw: bytes = field(repr=False, default=b"")

    def raise_for_error(self) -> Any:
        if self.status >= 400:
            err = self.body.get("error", {}) if isinstance(self.body, dict) else {}
            raise DaemonError(self.status, err.get("code", "http_error"), err.get("message", str(self.body)))
        return self.body


def encode_multipart(fields: Mapping[str, str], files: Mapping[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "stillmotion-" + secrets.token_hex(12)
    out = bytearray()
    for name, value in fields.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
                f"Content-Type: text/plain; charset=utf-8\r\n\r\n").encode() + value.encode() + b"\r\n"
    for name, (filename, data) in files.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


class DaemonClient:
    def __init__(self, url: str = "http://127.0.0.1:8765", token: str | None = None, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token, self.timeout = token, timeout
        self._conn: http.client.HTTPConnection | None = None

    @classmethod
    def local(cls, config: Mapping[str, Any] | None = None, data_dir: Path | None = None) -> "DaemonClient":
        """The daemon `stillmotion serve` runs with the same config (the user's, when none is
        given: its [server] host and port) and its token from the data folder."""
        server = (config if config is not None else config_mod.load()).get("server", {})
        host = server.get("host", "127.0.0.1")
        if host in ("0.0.0.0", "::", ""):       # listening everywhere: reach it on loopback (a Host it accepts)
            host = "127.0.0.1"
        token_file = (data_dir or paths.data_dir()) / TOKEN_FILE
        token = token_file.read_text(encoding="ascii").strip() if token_file.is_file() else None
        return cls(f"http://{f'[{host}]' if ':' in host else host}:{server.get('port', 8765)}", token)

    # ---- transport -------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "DaemonClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> http.client.HTTPResponse:
        for attempt in (1, 2):       # a keep-alive connection the server closed: reconnect once
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2 or method not in ("GET", "DELETE"):
                    raise
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, *, fields: Mapping[str, str] | None = None,
                files: Mapping[str, tuple[str, bytes]] | None = None, headers: Mapping[str, str] | None = None,
                auth: bool = True) -> Response:
        """Any call, answered as a Response whatever its status (tests use this directly)."""
        sent = dict(headers or {})
        if auth and self.token and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {self.token}"
        body = None
        if fields is not None or files is not None:
            body, sent["Content-Type"] = encode_multipart(fields or {}, files or {})
        reply = self._send(method, path, body, sent)
        raw = reply.read()
        if reply.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            decoded: Any = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode("utf-8", "replace")
        return Response(reply.status, {k.lower(): v for k, v in reply.getheaders()}, decoded, raw)

    # ---- the API -----------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self.request("GET", "/v1/health").raise_for_error()

    def engines(self) -> list[dict[str, Any]]:
        return self.request("GET", "/v1/engines").raise_for_error()["engines"]

    def submit(self, *, image: Path | None = None, image_path: str | Path | None = None, xmp: Path | None = None,
               develop: Mapping[str, Any] | None = None, original_path: str | Path | None = None,
               settings: Mapping[str, Any] | None = None, priority: str | None = None,
               idempotency_key: str | None = None) -> dict[str, Any]:
        """POST /v1/jobs -> {"id", "status"}. `image_path` and `original_path` relative to this
        script's working folder, as the CLI takes them (the daemon, with its own working folder,
        refuses a relative path)."""
        fields = {k: v for k, v in {
            "image_path": _local(image_path) if image_path else None,
            "original_path": _local(original_path) if original_path else None,
            "develop": json.dumps(develop) if develop is not None else None,
            "settings": json.dumps(dict(settings)) if settings is not None else None,
            "priority": priority}.items() if v is not None}
        files = {name: (Path(p).name, Path(p).read_bytes()) for name, p in (("image", image), ("xmp", xmp)) if p}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.request("POST", "/v1/jobs", fields=fields, files=files, headers=headers).raise_for_error()

    def job(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/jobs/{job_id}").raise_for_error()

    def jobs(self, status: str | None = None) -> list[dict[str, Any]]:
        query = f"?status={status}" if status else ""
        return self.request("GET", f"/v1/jobs{query}").raise_for_error()["jobs"]

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/v1/jobs/{job_id}").raise_for_error()

    def events(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Each state the daemon sends for the job, ending with its terminal one. A stream that
        ends before that (the daemon stopped: the job waits for its next start) raises
        DaemonError with code "stream_ended"."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            headers = {"Accept": "text/event-stream"}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            conn.request("GET", f"/v1/jobs/{job_id}/events", headers=headers)
            reply = conn.getresponse()
            if reply.status != 200:
                Response(reply.status, {}, json.loads(reply.read() or b"null")).raise_for_error()
            data: list[str] = []
            status = None
            for line in reply:
                text = line.decode("utf-8").rstrip("\r\n")
                if text.startswith("data:"):
                    data.append(text[5:].lstrip())
                elif not text and data:
                    state = json.loads("\n".join(data))
                    status, data = state.get("status"), []
                    yield state
            if status not in TERMINAL:
                raise DaemonError(503, "stream_ended", f"the daemon ended job {job_id}'s events while it was "
                                  f"{status or 'unknown'} (stopping?); it goes on at the daemon's next start")
        finally:
            conn.close()
