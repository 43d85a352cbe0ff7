"""Load and validate configuration.

`config/default.toml` is both the defaults and the schema: every key a user file
may set appears there, and its default's type is the type expected. A user file
overrides any subset; environment variables `STILLMOTION__SECTION__KEY` override
both (the value is parsed as TOML, falling back to a plain string).
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from . import paths
from .errors import ConfigError

ENV_PREFIX = "STILLMOTION__"

# Tables whose contents are free-form (validated by their owners), e.g. model registries.
_OPEN_TABLES = {("models", "registry")}


class Config(dict):
    """A nested dict of settings with the file(s) it came from."""

    sources: list[str]

    def section(self, name: str) -> dict[str, Any]:
        return self.get(name, {})


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


def _merge(base: dict, override: Mapping, source: str, prefix: tuple[str, ...] = ()) -> None:
    for key, value in override.items():
        where = ".".join(prefix + (key,))
        if prefix + (key,) in _OPEN_TABLES or prefix in _OPEN_TABLES:
            # Merged entry by entry, so a user file adds a model without dropping the built-in ones.
            if isinstance(base.get(key), dict) and isinstance(value, Mapping):
                _merge_open(base[key], value)
            else:
                base[key] = copy.deepcopy(value)
            continue
        if key not in base:
            known = ", ".join(sorted(base)) or "none"
            raise ConfigError(f"{source}: unknown key '{where}' (known here: {known})")
        default = base[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{where}' must be a table, got {_type_name(value)}")
            _merge(default, value, source, prefix + (key,))
        elif not _check_type(default, value):
            raise ConfigError(
                f"{source}: '{where}' must be {_type_name(default)}, got {_type_name(value)} ({value!r})")
        else:
            base[key] = float(value) if isinstance(default, float) else value


def _merge_open(base: dict, override: Mapping) -> None:
    """Merge a free-form table: tables merge key by key, anything else replaces."""
    for key, value in override.items():
        if isinstance(base.get(key), dict) and isinstance(value, Mapping):
            _merge_open(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _env_overrides(environ: Mapping[str, str]) -> dict:
    out: dict = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX):].split("__") if k]
        if len(keys) < 2:
            continue
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return out


def load(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Defaults, then the user file (explicit `path`, else the one in the config folder), then env."""
    default_file = paths.default_config_file()
    cfg = Config(_read_toml(default_file))
    cfg.sources = [str(default_file)]
    user = Path(path) if path else paths.user_config_file()
    if path is not None or user.is_file():
        _merge(cfg, _read_toml(user), str(user))
        cfg.sources.append(str(user))
    env = _env_overrides(os.environ if environ is None else environ)
    if env:
        _merge(cfg, env, "environment")
        cfg.sources.append("environment")
    _check_limits(cfg)
    return cfg


def _check_limits(cfg: Config) -> None:
    """[limits] guard every input: one at zero or below would refuse everything with a puzzling
    message ("over the -1 MP limit") instead of naming the setting."""
    for key, value in cfg.get("limits", {}).items():
        if value <= 0:
            raise ConfigError(f"{' then '.join(cfg.sources[1:]) or 'config'}: '[limits] {key}' must be "
                              f"above 0, got {value!r}")


def merge(cfg: Config, override: Mapping, source: str) -> Config:
    """A copy of `cfg` with `override` applied (e.g. a watch folder's stillmotion.toml)."""
    out = Config(copy.deepcopy(dict(cfg)))
    out.sources = list(getattr(cfg, "sources", [])) + [source]
    _merge(out, override, source)
    return out
