"""Watch-folder settings: the [watch] section, its [[watch.folders]], and `stillmotion.toml`.

The config loader checks [watch] against config/default.toml, but `folders` is an
array of tables it cannot see into, so each folder table is validated here with
the same rigour: unknown keys and wrong types are ConfigErrors naming the file
and the key, request settings go through `AnimateRequest.from_dict`.

A `stillmotion.toml` inside a watched folder (or any subfolder of a recursive
one) overrides the folder's settings for the photos at and below it; nearer
files win, key by key, and `settings` merge field by field.
"""

from __future__ import annotations

import copy
import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Mapping

from .. import config as config_mod
from ..errors import ConfigError, InputError
from ..request import AnimateRequest

FOLDER_FILE = "stillmotion.toml"
# A stillmotion.toml is a few lines; anyone who can write the folder can make it huge, a named
# pipe or a link to /dev/zero, and it is read by the watcher itself.
FOLDER_FILE_MAX_BYTES = 1 << 20
BESIDE = "beside"
# Keys a folder (config table or stillmotion.toml) may set, with [watch] supplying the defaults.
OVERRIDABLE = ("patterns", "output", "retake_changed", "settle_seconds", "sidecar_wait_seconds")


@dataclass(frozen=True)
class FolderSettings:
    """Everything that decides how one photo in a watched folder is taken and animated."""

    patterns: tuple[str, ...]
    output: str                      # "beside" or a subfolder name
    retake_changed: bool
    settle_seconds: float
    sidecar_wait_seconds: float
    settings: Mapping[str, Any] = field(default_factory=dict)   # request fields, validated

    @property
    def request(self) -> AnimateRequest:
        return AnimateRequest.from_dict(self.settings)

    def matches(self, name: str) -> bool:
        lowered = name.lower()
        return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in self.patterns)

    def out_dir(self, photo: Path) -> Path | None:
        """None: beside the photo; else the subfolder of the photo's folder."""
        return None if self.output == BESIDE else photo.parent / self.output

    def overridden(self, table: Mapping[str, Any], source: str, also_known: tuple[str, ...] = ()) -> "FolderSettings":
        """These settings with a folder table / stillmotion.toml applied (validated)."""
        values = _validated(table, source, self._defaults(), allowed=OVERRIDABLE + ("settings",),
                            also_known=also_known)
        settings = {**self.settings, **values.pop("settings", {})}
        return FolderSettings(**{**self._defaults(), **values, "settings": settings})

    def _defaults(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in OVERRIDABLE}


@dataclass(frozen=True)
class WatchedFolder:
    """A root the observer watches; `settings_for` resolves the stillmotion.toml chain."""

    path: Path
    recursive: bool
    base: FolderSettings
    folder_files: bool = True        # read the stillmotion.toml files in it ([watch] folder_files)

    def settings_for(self, photo: Path, cache: "FolderFileCache | None" = None) -> FolderSettings:
        """The folder's settings with every stillmotion.toml from the root down to the photo applied.

        Raises ConfigError when one of those files is invalid: the photo is then held,
        not animated with settings the user did not mean.
        """
        cache = cache or FolderFileCache()
        settings = self.base
        if not self.folder_files:
            return settings
        for folder in _chain(self.path, photo.parent):
            table = cache.read(folder / FOLDER_FILE)
            if table is not None:
                _check_folder_file(table, str(folder / FOLDER_FILE))
                settings = settings.overridden(table, str(folder / FOLDER_FILE))
        return settings

    def contains(self, path: Path) -> bool:
        try:
            rel = path.relative_to(self.path)
        except ValueError:
            return False
        return self.recursive or len(rel.parts) == 1


def _chain(root: Path, folder: Path) -> list[Path]:
    """root, root/a, root/a/b ... down to `folder` (which lies inside root)."""
    try:
        rel = folder.relative_to(root)
    except ValueError:
        return [root]
    out = [root]
    for part in rel.parts:
        out.append(out[-1] / part)
    return out


class FolderFileCache:
    """Parsed stillmotion.toml files, re-read when their size or mtime changes."""

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[tuple[int, int], dict | None]] = {}

    def read(self, path: Path) -> dict | None:
        try:
            st = path.stat()
        except OSError:
            self._entries.pop(path, None)
            return None
        key = (st.st_size, st.st_mtime_ns)
        cached = self._entries.get(path)
        if cached and cached[0] == key:
            return cached[1]
        table = config_mod.read_toml(path, max_bytes=FOLDER_FILE_MAX_BYTES)
        self._entries[path] = (key, table)
        return table


# ---------------------------------------------------------------- parsing
def defaults_from(cfg: Mapping[str, Any]) -> FolderSettings:
    """The [watch] section's folder defaults; engine and profile from [animate], as `animate` does."""
    watch_cfg = cfg["watch"]
    values = _validated({k: watch_cfg[k] for k in OVERRIDABLE}, "[watch]",
                        {k: watch_cfg[k] for k in OVERRIDABLE}, allowed=OVERRIDABLE)
    animate = cfg.get("animate", {})
    settings = {k: animate[k] for k in ("engine", "profile") if k in animate}
    return FolderSettings(**values, settings=_request_settings(settings, "[animate]"))


def check_config(watch_cfg: Mapping[str, Any]) -> None:
    """The [watch] table as the config loader checks it: the folder defaults as a folder's own
    are checked, and rescan_seconds (a negative one quietly meant never). [[watch.folders]]
    are checked where they are used (`serve`, `watch`)."""
    config_mod.check_range("watch", "rescan_seconds", watch_cfg.get("rescan_seconds", 60.0), 0, 86400)
    defaults = {k: watch_cfg[k] for k in OVERRIDABLE if k in watch_cfg}
    _validated(defaults, "[watch]", defaults, allowed=OVERRIDABLE)


def folders_from_config(cfg: config_mod.Config) -> list[WatchedFolder]:
    """The [[watch.folders]] of a loaded config, each validated."""
    watch_cfg = cfg["watch"]
    base = defaults_from(cfg)
    source = _folders_source(cfg)
    out = []
    for index, table in enumerate(watch_cfg["folders"]):
        where = f"{source}: [[watch.folders]] #{index + 1}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table with a 'path', got {table!r}")
        table = dict(table)
        path = table.pop("path", None)
        if not isinstance(path, str) or not path.strip():
            raise ConfigError(f"{where}: 'path' is required and must be a folder path (a string)")
        switches = {}
        for key in ("recursive", "folder_files"):
            switches[key] = table.pop(key, watch_cfg[key])
            if not isinstance(switches[key], bool):
                raise ConfigError(f"{where}: '{key}' must be a boolean, got {switches[key]!r}")
        settings = base.overridden(table, f"{where} ({path})", also_known=("path", "recursive", "folder_files"))
        out.append(WatchedFolder(Path(path).expanduser().absolute(), switches["recursive"], settings,
                                 folder_files=switches["folder_files"]))
    return out


def folder_for_dir(cfg: config_mod.Config, directory: Path) -> WatchedFolder:
    """A folder given on the command line: its [[watch.folders]] entry if it has one, else [watch] defaults."""
    directory = directory.expanduser().absolute()
    for folder in folders_from_config(cfg):
        if folder.path == directory:
            return folder
    return WatchedFolder(directory, bool(cfg["watch"]["recursive"]), defaults_from(cfg),
                         folder_files=bool(cfg["watch"]["folder_files"]))


def _folders_source(cfg: config_mod.Config) -> str:
    if any(name.upper() == "STILLMOTION__WATCH__FOLDERS" for name in os.environ):
        return "environment (STILLMOTION__WATCH__FOLDERS)"
    sources = getattr(cfg, "sources", [])
    files = [s for s in sources if s != "environment"]
    return files[-1] if files else "config"


def _validated(table: Mapping[str, Any], source: str, defaults: Mapping[str, Any],
               allowed: tuple[str, ...], also_known: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check a folder table: known keys, types (as default.toml's), ranges, request settings."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: expected a table, got {table!r}")
    unknown = [k for k in table if k not in allowed]
    if unknown:
        known = ", ".join(sorted(allowed + also_known))
        raise ConfigError(f"{source}: unknown key '{unknown[0]}' (known here: {known})")
    plain = {k: v for k, v in table.items() if k != "settings"}
    schema = {k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()}
    # The config loader's own merge gives the type errors their usual wording.
    merged = dict(config_mod.merge(config_mod.Config(copy.deepcopy(schema)), plain, source))
    values = {k: merged[k] for k in allowed if k in merged}
    for key in ("settle_seconds", "sidecar_wait_seconds"):
        if key in values and not (0.0 <= values[key] <= 3600.0):
            raise ConfigError(f"{source}: '{key}' must be between 0 and 3600 seconds, got {values[key]}",
                              key=("watch", key))
    if "patterns" in values:
        patterns = values["patterns"]
        if not patterns or not all(isinstance(p, str) and p.strip() for p in patterns):
            raise ConfigError(f"{source}: 'patterns' must be a non-empty array of strings like \"*.jpg\", "
                              f"got {patterns!r}", key=("watch", "patterns"))
        values["patterns"] = tuple(patterns)
    if "output" in values:
        _check_output(values["output"], source)
    if "settings" in table:
        values["settings"] = _request_settings(table["settings"], source)
    return values


def _check_output(output: str, source: str) -> None:
    if output == BESIDE:
        return
    bad = (not output.strip() or PurePosixPath(output).is_absolute() or PureWindowsPath(output).is_absolute()
           or any(part in ("..", ".") for part in PurePosixPath(output.replace("\\", "/")).parts))
    if bad:
        raise ConfigError(f"{source}: 'output' must be \"beside\" or the name of a subfolder "
                          f"(no '..', not absolute), got {output!r}", key=("watch", "output"))


def _check_folder_file(table: Mapping[str, Any], source: str) -> None:
    """What a stillmotion.toml may not say, though the admin's config may: it is written by
    whoever can write the folder, and the service that reads it loads the model it names (a
    folder of weights, and with older diffusers code beside them) with its own rights."""
    settings = table.get("settings")
    model = settings.get("model") if isinstance(settings, Mapping) else None
    if not isinstance(model, str):
        return   # (none, or a wrong type: said by the usual check)
    parts = model.split("/")
    is_path = ("\\" in model or model.startswith((".", "~")) or PureWindowsPath(model).is_absolute()
               or len(parts) > 2 or not all(parts) or _is_folder(model))
    if is_path:
        raise ConfigError(f"{source}: settings: 'model' here must be a name from [models.registry] or a "
                          f"Hugging Face id (org/name), not a folder, got {model!r}; a model folder can be "
                          "named in the config's [[watch.folders]] settings or [models.registry]",
                          key=("watch", "settings"))


def _is_folder(name: str) -> bool:
    """Whether `name` is a folder from where the service runs: the model lookup takes such a folder
    before a Hugging Face id, and a service's working folder is often / ('mnt/nas', 'Volumes/Share',
    a share its writers fill, read as org/name)."""
    try:
        return Path(name).is_dir()
    except OSError:   # (a name too long for a path: none)
        return False


def _request_settings(settings: Any, source: str) -> dict[str, Any]:
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{source}: 'settings' must be a table of request fields, got {settings!r}")
    try:
        request = AnimateRequest.from_dict(settings)
    except InputError as exc:
        raise ConfigError(f"{source}: settings: {exc}") from None
    if request.out_dir is not None:
        # Clips stay with the photos ('output': beside or a subfolder). An out_dir would send
        # them anywhere, and a stillmotion.toml is written by whoever can write the folder.
        raise ConfigError(f"{source}: settings: 'out_dir' is not a watch setting; use 'output' "
                          "(\"beside\" or the name of a subfolder)", key=("watch", "output"))
    return dict(settings)
