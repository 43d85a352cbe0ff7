"""A simulated Lightroom Classic for the plug-in: Lua 5.1 (lupa) + the fake SDK.

`Lightroom(tmp_path)` loads tests/lua/fakesdk and the plug-in's own files.
The fake SDK's real work happens here, in the bridge: HTTP through urllib
(to a real daemon), files on disk, rendering with Pillow/OpenCV, subprocesses.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from lupa import lua51
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
SDK_DIR = HERE / "fakesdk"
REPO = HERE.parents[1]
PLUGIN_DIR = REPO / "lrplugin" / "stillmotion.lrplugin"

# No proxies: the daemon is on 127.0.0.1 and the environment may set http_proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Bridge:
    """The Python side of the fake SDK (methods are called from Lua)."""

    def __init__(self, lua: Any, trash_dir: Path) -> None:
        self.lua = lua
        self.trash_dir = trash_dir
        self.requests: list[dict[str, Any]] = []   # every HTTP request the plug-in made
        self.executed: list[str] = []              # every LrTasks.execute command

    # -- ids
    def uuid4(self) -> str:
        return str(uuid.uuid4())

    # -- time
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, float(seconds)))

    # -- files
    def exists(self, path: str) -> str:
        p = Path(path)
        return "directory" if p.is_dir() else "file" if p.is_file() else ""

    def read_text(self, path: str) -> str | None:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError:
            return None

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)

    def mkdirs(self, path: str) -> bool:
        Path(path).mkdir(parents=True, exist_ok=True)
        return True

    def delete(self, path: str) -> bool:
        p = Path(path)
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
        else:
            return False
        return True

    def trash(self, path: str) -> bool:
        p = Path(path)
        if not p.exists():
            return False
        self.trash_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(str(p), self.trash_dir / f"{uuid.uuid4().hex[:6]}-{p.name}")
        return True

    def copy(self, src: str, dst: str) -> bool:
        shutil.copyfile(src, dst)
        return True

    def move(self, src: str, dst: str) -> bool:
        shutil.move(src, dst)
        return True

    def listdir(self, path: str) -> Any:
        p = Path(path)
        names = sorted(str(c) for c in p.iterdir()) if p.is_dir() else []
        return self.lua.table_from(names)

    # -- processes
    def execute(self, command: str) -> int:
        self.executed.append(command)
        return subprocess.call(command, shell=True)

    # -- rendering
    def render(self, src: str, folder: str, stem: str, ext: str, bit_depth: int,
               long_edge: int, quality: float) -> tuple[bool, str]:
        """What Lightroom's renderer does for the fake: decode, size, encode."""
        source = Path(src)
        if not source.is_file():
            return False, "The file could not be found."
        try:
            with Image.open(source) as im:
                im = ImageOps.exif_transpose(im).convert("RGB")
                if long_edge and max(im.size) > long_edge:
                    im.thumbnail((long_edge, long_edge), Image.LANCZOS)
                pixels = np.asarray(im)
        except OSError as exc:
            return False, f"The file could not be read: {exc}"
        out_dir = Path(folder)
        out_dir.mkdir(parents=True, exist_ok=True)
        dest = out_dir / f"{stem}.{ext}"
        index = 2
        while dest.exists():
            dest = out_dir / f"{stem}-{index}.{ext}"
            index += 1
        if ext == "tif":
            import cv2

            data = pixels.astype(np.uint16) * 257 if int(bit_depth) == 16 else pixels
            if not cv2.imwrite(str(dest), np.ascontiguousarray(data[..., ::-1])):
                return False, "TIFF encoding failed"
        else:
            Image.fromarray(pixels).save(dest, quality=max(1, min(100, int(float(quality) * 100))))
        return True, str(dest)

    # -- HTTP
    def http(self, method: str, url: str, headers: Any, body: str | None, parts: Any,
             timeout: float) -> Any:
        header_pairs = [(h[1], h[2]) for h in headers.values()] if headers else []
        record: dict[str, Any] = {"method": method, "url": url, "headers": dict(header_pairs)}
        data: bytes | None = None
        if parts is not None:
            boundary = f"----stillmotion-fake-{uuid.uuid4().hex}"
            chunks: list[bytes] = []
            fields: dict[str, Any] = {}
            for part in parts.values():
                name = part["name"]
                chunks.append(f"--{boundary}\r\n".encode())
                if part["filePath"] is not None:
                    payload = Path(part["filePath"]).read_bytes()
                    chunks.append(
                        f'Content-Disposition: form-data; name="{name}"; filename="{part["fileName"]}"\r\n'
                        f'Content-Type: {part["contentType"]}\r\n\r\n'.encode())
                    chunks.append(payload)
                    fields[name] = {"file": part["filePath"], "filename": part["fileName"],
                                    "content_type": part["contentType"], "size": len(payload)}
                else:
                    value = part["value"]
                    chunks.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
                    chunks.append(value.encode("utf-8"))
                    fields[name] = value
                chunks.append(b"\r\n")
            chunks.append(f"--{boundary}--\r\n".encode())
            data = b"".join(chunks)
            header_pairs.append(("Content-Type", f"multipart/form-data; boundary={boundary}"))
            record["fields"] = fields
        elif method != "GET":
            data = (body or "").encode("utf-8")
            record["body"] = body
        self.requests.append(record)
        request = urllib.request.Request(url, data=data, method=method, headers=dict(header_pairs))
        try:
            with _OPENER.open(request, timeout=timeout) as resp:
                status, payload, resp_headers = resp.status, resp.read(), resp.getheaders()
        except urllib.error.HTTPError as exc:
            status, payload, resp_headers = exc.code, exc.read(), list(exc.headers.items())
        except (socket.timeout, TimeoutError):
            return self._error("timedOut", "The request timed out.")
        except (urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (socket.timeout, TimeoutError)):
                return self._error("timedOut", "The request timed out.")
            if isinstance(reason, ConnectionError) and not isinstance(reason, ConnectionRefusedError):
                # Reset / broken mid-request (macOS Lightroom: NSURLErrorNetworkConnectionLost).
                return self._error("networkConnectionLost", "The network connection was lost.")
            return self._error("cannotConnectToHost", "Could not connect to the server.")
        record["status"] = status
        record["response"] = payload.decode("utf-8", "replace")
        return self.lua.table_from({
            "status": status,
            "body": payload.decode("utf-8", "replace"),
            "headers": self.lua.table_from([self.lua.table_from([k, v]) for k, v in resp_headers]),
        })

    def _error(self, code: str, name: str) -> Any:
        self.requests[-1]["error"] = code
        return self.lua.table_from({"errorCode": code, "errorName": name})


def use_decimal_comma(lua: Any) -> None:
    """Lua's tostring / string.format / tonumber in `lua` behave as under a decimal-comma locale
    (see decimal_comma.lua); call it before loading the code under test."""
    lua.execute((HERE / "decimal_comma.lua").read_text(encoding="utf-8"))


class Lightroom:
    """One simulated Lightroom with the plug-in loaded and an empty catalog."""

    def __init__(self, tmp_path: Path, plugin_dir: Path = PLUGIN_DIR, platform: str = "mac",
                 decimal_comma: bool = False) -> None:
        """`decimal_comma`: Lua formats and reads numbers as under a German or French locale."""
        self.root = tmp_path / "lightroom"
        self.home = self.root / "home"
        self.temp = self.root / "temp"
        for d in (self.home, self.temp):
            d.mkdir(parents=True, exist_ok=True)
        self.lua = lua51.LuaRuntime(unpack_returned_tuples=True, register_eval=False)
        if decimal_comma:
            use_decimal_comma(self.lua)
        self.bridge = Bridge(self.lua, self.root / "Trash")
        init = (SDK_DIR / "init.lua").read_text(encoding="utf-8")
        loader = self.lua.execute("return function(...) return assert(loadstring(...))  end")
        chunk = loader(init, "@" + str(SDK_DIR / "init.lua"))
        self.fake = chunk(self.bridge, str(SDK_DIR), platform)
        self.fake.standardPaths = self.table({
            "home": str(self.home), "temp": str(self.temp), "desktop": str(self.home / "Desktop"),
            "documents": str(self.home / "Documents"), "pictures": str(self.home / "Pictures"),
            "appData": str(self.home / "Library" / "Application Support"),
        })
        self.catalog = self.fake.newCatalog(str(self.root / "Catalog.lrcat"))
        self.info = self.fake.loadPlugin(str(plugin_dir))

    # -- Lua helpers
    def table(self, value: Any) -> Any:
        """A Lua table from Python dicts/lists (recursively)."""
        return self.lua.table_from(value, recursive=True)

    def require(self, name: str) -> Any:
        """A plug-in module, loaded as the plug-in's own code loads it."""
        return self.fake.require(name)

    def run_tasks(self, timeout: float = 120) -> None:
        self.fake.runTasks(timeout)

    def on_tick(self, hook: Callable[[], None]) -> None:
        """Calls `hook` between scheduler steps (e.g. to press Cancel)."""
        hooks = self.fake.tickHooks
        hooks[len(hooks) + 1] = hook

    def prefs_url(self, url: str, token: str | None = None) -> None:
        """What the user types in the Plug-in Manager panel."""
        self.fake.prefs.daemonUrl = url
        if token is not None:
            self.fake.prefs.token = token

    # -- catalog
    def import_photo(self, path: Path, *, title: str = "", caption: str = "",
                     keywords: Iterable[str] = (), develop: dict[str, Any] | None = None,
                     copy_name: str | None = None, **plugin_fields: str) -> Any:
        """A photo in the catalog; with `copy_name` ("Copy 1"), a virtual copy of `path`."""
        meta = {"title": title, "caption": caption, "keywords": list(keywords), "develop": develop or {}}
        if copy_name is not None:
            meta["copyName"] = copy_name
        photo = self.catalog._import(self.catalog, str(path), self.table(meta))
        for key, value in plugin_fields.items():
            photo.pluginProps[key] = value
        return photo

    def select(self, photos: list[Any]) -> None:
        self.catalog._setTargets(self.catalog, self.table(photos))

    def write(self, fn: Callable[[], None]) -> None:
        """Runs `fn` with catalog write access, as a user's edit in Lightroom's UI does."""
        assert self.catalog.writeAccess is None
        self.catalog.writeAccess = "full"
        try:
            fn()
        finally:
            self.catalog.writeAccess = None

    def stack(self, photo: Any) -> list[str] | None:
        paths = self.fake.stackPaths(photo)
        return None if paths is None else list(paths.values())

    def field(self, photo: Any, field: str) -> Any:
        return photo.pluginProps[field]

    # -- dialogs and tasks
    @property
    def dialogs(self) -> list[dict[str, Any]]:
        return [dict(d.items()) for d in self.fake.dialogs.values()]

    @property
    def task_errors(self) -> list[str]:
        return list(self.fake.taskErrors.values())

    @property
    def globals_defined(self) -> list[str]:
        return list(self.fake.globalsDefined.values())

    def export(self, photos: list[Any], settings: dict[str, Any] | None = None) -> Any:
        session = self.fake.startExport(self.table(photos), self.table(settings or {}))
        return session

    def preset(self, name: str = "Animate.lrtemplate") -> dict[str, Any]:
        """A built-in preset's values as export settings (LR_ prefix restored)."""
        entry = self.info.LrExportServiceProvider
        folder = Path(self.fake.plugin.path) / entry.builtInPresetsDir
        env = self.lua.execute("return {}")
        chunk = self.lua.execute(
            "local src, env = ... local f = assert(loadstring(src)) setfenv(f, env) f() return env.s",
            (folder / name).read_text(encoding="utf-8"), env)
        values = dict(chunk.value.items())
        # Preset files store Lightroom's own keys without their LR_ prefix.
        settings = {(k if k.startswith("sm_") else "LR_" + k): v for k, v in values.items()}
        return {"preset": dict(chunk.items()), "settings": settings}

    def requests(self, path_part: str = "") -> list[dict[str, Any]]:
        return [r for r in self.bridge.requests if path_part in r["url"]]


def wait_for(predicate: Callable[[], bool], timeout: float = 30, interval: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return False


def json_field(request: dict[str, Any], name: str) -> Any:
    return json.loads(request["fields"][name])
