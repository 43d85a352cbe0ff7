"""Load and validate configuration.

`config/default.toml` is both the defaults and the schema: every key a user file
may set appears there, and its default's type is the type expected. A user file
overrides any subset; environment variables `STILLMOTION__SECTION__KEY` override
both (the value is parsed as TOML, falling back to a plain string).

Values are then checked against what their owners accept (`check`): each owner
(AnimateRequest's limits for [animate], EncodeSettings for crf/preset, MatchSettings
for [colour], FinishSettings for [finish], ...) raises a ConfigError made by
`check_range` / `check_choice`, which carries the key; the loader adds where that
value came from (the file, or the environment variable). All of it at load, before
any work: a value that would fail every job stops the command or the daemon at once. Only
the sections a user file or the environment set are checked at load (default.toml's values
pass, a test holds it to that), so that reading the config imports no owner it does not need.
"""

from __future__ import annotations

import codecs
import copy
import functools
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from . import paths
from .errors import ConfigError
from .place import read_regular

ENV_PREFIX = "STILLMOTION__"

# Tables whose contents are free-form (validated by their owners), e.g. model registries.
_OPEN_TABLES = {("models", "registry")}
# Arrays whose items must be strings (an empty default cannot show it).
_STRING_ARRAYS = {("output", "allowed_dirs"), ("watch", "patterns"), ("server", "allowed_hosts"),
                  ("server", "allowed_origins")}


class Config(dict):
    """A nested dict of settings with the file(s) it came from."""

    sources: list[str]
    origins: dict[tuple[str, ...], str]   # key path -> the file or environment variable that set it

    def section(self, name: str) -> dict[str, Any]:
        return self.get(name, {})

    def origin(self, key: tuple[str, ...]) -> str:
        """Where the value at `key` came from: a user file, "environment (STILLMOTION__...)",
        else the default file."""
        sources = getattr(self, "sources", None) or ["config"]
        return getattr(self, "origins", {}).get(tuple(key), sources[0])


def user_values(cfg: Mapping[str, Any], section: str) -> dict[str, Any]:
    """The values of `section` that a user file or the environment set to something other than
    default.toml's (a user file begun as a copy of default.toml chooses nothing by that); empty
    for a plain mapping, which records no origins."""
    origins = getattr(cfg, "origins", {})
    defaults = _default_values().get(section, {})
    return {k: v for k, v in cfg.get(section, {}).items() if (section, k) in origins and v != defaults.get(k)}


@functools.lru_cache(maxsize=1)
def _default_values() -> dict[str, Any]:
    return read_toml(paths.default_config_file())


def check_range(section: str, key: str, value: Any, lo: float, hi: float) -> None:
    """A setting's value against its owner's range: a ConfigError naming it, else nothing."""
    if not lo <= value <= hi:
        raise ConfigError(f"[{section}] {key} must be between {lo} and {hi}; got {value}", key=(section, key))


def check_choice(section: str, key: str, value: Any, choices: tuple[str, ...]) -> None:
    """A setting's value against the values its owner knows."""
    if value not in choices:
        raise ConfigError(f"[{section}] {key} must be one of {', '.join(choices)}; got {value!r}",
                          key=(section, key))


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def _check_type(default: Any, value: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, type(default))


def _merge(base: dict, override: Mapping, source: str, prefix: tuple[str, ...] = (),
           origins: dict[tuple[str, ...], str] | None = None) -> None:
    """`override` into `base`, checked against its keys and types; `origins` records the
    source of every value set."""
    for key, value in override.items():
        where = ".".join(prefix + (key,))
        if prefix + (key,) in _OPEN_TABLES or prefix in _OPEN_TABLES:
            # Merged entry by entry, so a user file adds a model without dropping the built-in ones.
            _merge_open(base, {key: value})
            if origins is not None:
                origins[prefix + (key,)] = source
            continue
        if key not in base:
            known = ", ".join(sorted(base)) or "none"
            raise ConfigError(f"{source}: unknown key '{where}' (known here: {known})")
        default = base[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{where}' must be a table, got {_type_name(value)}")
            _merge(default, value, source, prefix + (key,), origins)
        elif not _check_type(default, value):
            # ([watch.folders] for [[watch.folders]]: one pair of brackets short)
            tables = (f"; a list of tables is written [[{where}]], with double brackets"
                      if isinstance(default, list) and isinstance(value, dict) else "")
            raise ConfigError(
                f"{source}: '{where}' must be {_type_name(default)}, got {_type_name(value)} ({value!r}){tables}")
        elif prefix + (key,) in _STRING_ARRAYS and not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{source}: '{where}' must be an array of strings, got {value!r}")
        else:
            base[key] = float(value) if isinstance(default, float) else value
            if origins is not None:
                origins[prefix + (key,)] = source


def _merge_open(base: dict, override: Mapping) -> None:
    """Merge a free-form table: tables merge key by key, anything else replaces."""
    for key, value in override.items():
        if isinstance(base.get(key), dict) and isinstance(value, Mapping):
            _merge_open(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def read_toml(path: Path, max_bytes: int | None = None) -> dict:
    """A TOML file as a table; what is wrong with it (unreadable, not TOML) is a ConfigError.

    Windows Notepad saves UTF-8 with a byte-order mark, or UTF-16 ("Unicode"): both are read
    (the mark says which, unambiguously); other encodings are refused by name, not with a
    TOML error at line 1, column 1. With `max_bytes` (a file others may write) only a regular
    file up to that size is read: not a named pipe or a link to /dev/zero."""
    try:
        data = Path(path).read_bytes() if max_bytes is None else _read_regular(Path(path), max_bytes)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    text = _text(data)
    if text is None:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8 (in Notepad: Save as, Encoding UTF-8)")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {_toml_problem(str(exc), text)}") from None
    escaped = _escaped_path(table)
    if escaped:
        where, value = escaped
        raise ConfigError(f"{path}: '{where}' holds a tab or line break ({value!r}); {BACKSLASH_HINT}")
    return table


def _read_regular(path: Path, max_bytes: int) -> bytes:
    data = read_regular(path, max_bytes + 1)
    if data is None:
        raise ConfigError(f"{path}: not a regular file; not read")
    if len(data) > max_bytes:
        raise ConfigError(f"{path}: over {max_bytes / 2**20:g} MB; not read (a settings file is a few lines)")
    return data


def _toml_problem(message: str, text: str) -> str:
    """tomllib's complaint in a user's words, with the line it is about: "Cannot overwrite a
    value (at end of document)" named neither the key set twice nor where."""
    found = re.search(r"\s*\(at line (\d+), column \d+\)|\s*\(at end of document\)", message)
    if found is None:
        return message
    what = message[:found.start()]
    if what == "Cannot overwrite a value":
        what = "a key set a second time (each key once in its table)"
    declared = re.match(r"^Cannot declare \((.*)\) twice$", what)
    if declared:       # ('models', 'registry', 'svd') -> [models.registry.svd]
        table = ".".join(part.strip(" '\"") for part in declared.group(1).split(",") if part.strip())
        what = f"table [{table}] declared twice (put its keys under one heading)"
    lines = text.splitlines()
    if found.group(1):
        number = min(int(found.group(1)), len(lines))
    else:        # the last line with something on it
        number = max((i + 1 for i, line in enumerate(lines) if line.strip()), default=0)
    if not number:
        return what
    line = lines[number - 1].strip()
    return f"{what}, at line {number}: {line}" + (f"; {BACKSLASH_HINT}" if "\\" in line else "")


# TOML reads a backslash in a "double-quoted" string as an escape: a Windows path typed there is
# refused ("C:\Users": \U needs hex digits) or, worse, read as another path ("C:\temp\new" is
# C:<tab>emp<line break>ew).
BACKSLASH_HINT = ("in \"double quotes\" a backslash starts an escape (\\t, \\n, \\U): write a Windows path "
                  "in 'single quotes' ('C:\\Users\\me\\Videos') or with forward slashes (\"C:/Users/me/Videos\")")
# Keys that hold a folder or a path ([models] dir, allowed_dirs, a watch folder's path, output
# and out_dir, a registry entry's path): no such name has a control character in it.
_PATH_KEYS = frozenset({"path", "dir", "allowed_dirs", "out_dir", "output"})


def _escaped_path(node: Any, trail: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """(where, value) of the first path-valued string in `node` with a control character."""
    if isinstance(node, dict):
        found = (_escaped_path(value, trail + (str(key),)) for key, value in node.items())
    elif isinstance(node, list):     # (an array's items are named by its key: the value says which)
        found = (_escaped_path(value, trail) for value in node)
    else:
        if isinstance(node, str) and trail and trail[-1] in _PATH_KEYS and any(ord(c) < 32 for c in node):
            return ".".join(trail), node
        return None
    return next((f for f in found if f), None)


def _text(data: bytes) -> str | None:
    """A config file's text: UTF-8 (a byte-order mark dropped) or UTF-16 with its mark; None else."""
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = data.decode("utf-16")
        else:
            text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    # UTF-16 without its mark decodes as UTF-8 with a NUL in every other character.
    return None if "\0" in text else text


def _env_overrides(environ: Mapping[str, str]) -> list[tuple[str, dict]]:
    """(variable name, the nested table it sets) for each STILLMOTION__SECTION__KEY variable."""
    out: list[tuple[str, dict]] = []
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX):].split("__") if k]
        if len(keys) < 2:   # STILLMOTION__SERVER_PORT: meant as a setting, which it would silently not be
            raise ConfigError(f"environment ({name}): not a setting: name one as STILLMOTION__SECTION__KEY, two "
                              "underscores before and after the section (e.g. STILLMOTION__SERVER__PORT)")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        table: dict = {}
        node = table
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
        out.append((name, table))
    return out


def load(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Defaults, then the user file (explicit `path`, else the one in the config folder), then env."""
    default_file = paths.default_config_file()
    cfg = Config(read_toml(default_file))
    cfg.sources, cfg.origins = [str(default_file)], {}
    user = Path(path) if path else paths.user_config_file()
    if path is not None or _is_file(user):
        _merge(cfg, read_toml(user), str(user), origins=cfg.origins)
        cfg.sources.append(str(user))
    env = _env_overrides(os.environ if environ is None else environ)
    for name, table in env:
        _merge(cfg, table, f"environment ({name})", origins=cfg.origins)
    if env:
        cfg.sources.append("environment")
    check(cfg, _user_sections(cfg))
    return cfg


def _is_file(path: Path) -> bool:
    """Whether there is a file at `path`; one in a folder this user cannot search (a config
    folder copied from another account) counts, so that reading it says why it cannot be read."""
    try:
        return path.is_file()
    except OSError:
        return True


def check(cfg: Config, sections: Iterable[str] | None = None) -> None:
    """Every value (of `sections`, default all) against what its owner accepts; the first wrong
    one is a ConfigError of one line that names the key, what it accepts and where the value
    came from."""
    wanted = None if sections is None else set(sections)
    for section, run in _OWNER_CHECKS.items():    # (in this order: the same first error every time)
        if wanted is not None and section not in wanted:
            continue
        try:
            run(cfg)
        except ConfigError as exc:
            if exc.key is None:
                raise
            raise ConfigError(f"{cfg.origin(exc.key)}: {exc}", key=exc.key) from None


def _user_sections(cfg: Config) -> set[str]:
    """The sections a user file or the environment set something in: default.toml's own values
    pass their checks (a test holds it to that), so only these need checking at load."""
    return {key[0] for key in cfg.origins}


# Each section's owner check, imported only for a section the user set. Each owner's check lives
# in a light module beside it (video/settings.py, colour/settings.py, jobs/settings.py,
# engines/settings.py, ...), which the owner uses too: reading the config imports neither OpenCV,
# PyAV, SciPy nor NumPy (~0.5 s), so `DaemonClient.local()`, `watch` or doctor's config part start
# light whatever sections config.toml sets (a test holds it to that).
def _check_animate(cfg: Config) -> None:
    from .request import check_animate_config

    check_animate_config(cfg.section("animate"))


def _check_output(cfg: Config) -> None:
    from .jobs.settings import check_output_config
    from .video.settings import EncodeSettings

    EncodeSettings.from_config("mp4", "h264", cfg.section("output"))   # crf, preset
    check_output_config(cfg.section("output"))                        # sizes


def _check_colour(cfg: Config) -> None:
    from .colour.settings import MatchSettings

    MatchSettings.from_config(cfg)


def _check_finish(cfg: Config) -> None:
    from .video.settings import FinishSettings

    FinishSettings.from_config(cfg.section("finish"))


def _check_jobs(cfg: Config) -> None:
    from .jobs.settings import check_jobs_config

    check_jobs_config(cfg.section("jobs"))


def _check_engines(cfg: Config) -> None:
    from .engines.settings import check_engines_config

    check_engines_config(cfg.section("engines"))


def _check_models(cfg: Config) -> None:
    from .engines.models import registry

    registry(cfg)     # every entry's fields (a typo in one stopped `doctor`, not `serve`)


def _check_watch(cfg: Config) -> None:
    from .watch.settings import check_config as check_watch_config

    check_watch_config(cfg.section("watch"))


def _check_limits(limits: Mapping[str, Any]) -> None:
    """[limits] guard every input: one at zero or below would refuse everything with a puzzling
    message ("over the -1 MP limit") instead of naming the setting."""
    for key, value in limits.items():
        if value <= 0:
            raise ConfigError(f"[limits] {key} must be above 0; got {value!r}", key=("limits", key))


def _check_server(server: Mapping[str, Any]) -> None:
    """[server] port, and allowed_origins as a browser sends an Origin ("http://localhost:3000"):
    "localhost:3000" would never match one, and its page would be refused while the config
    seemed to allow it."""
    check_range("server", "port", server.get("port", 8765), 1, 65535)
    for origin in server.get("allowed_origins", ()):
        scheme, sep, rest = origin.partition("://")
        if not (sep and scheme in ("http", "https") and rest.strip("/") and "/" not in rest.rstrip("/")):
            raise ConfigError(f"[server] allowed_origins: {origin!r} is not an origin: write it as a browser "
                              "sends it, scheme, host and port, e.g. \"http://localhost:3000\"",
                              key=("server", "allowed_origins"))


_OWNER_CHECKS: dict[str, Callable[[Config], None]] = {
    "limits": lambda cfg: _check_limits(cfg.section("limits")),
    "server": lambda cfg: _check_server(cfg.section("server")),
    "animate": _check_animate, "output": _check_output, "colour": _check_colour,
    "finish": _check_finish, "jobs": _check_jobs, "engines": _check_engines, "models": _check_models,
    "watch": _check_watch,
}


def merge(cfg: Config, override: Mapping, source: str) -> Config:
    """A copy of `cfg` with `override` applied (e.g. a watch folder's stillmotion.toml)."""
    out = Config(copy.deepcopy(dict(cfg)))
    out.sources = list(getattr(cfg, "sources", [])) + [source]
    out.origins = dict(getattr(cfg, "origins", {}))
    _merge(out, override, source, origins=out.origins)
    return out
