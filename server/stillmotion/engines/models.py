"""The model registry: which generative models exist, where they are on disk, `models list|pull`.

The registry lives in config (`[models.registry.NAME]` tables, defaults in
config/default.toml). `--model` takes a registry name, a Hugging Face id or a
local diffusers folder, and `resolve` turns it into a folder on this disk:

  registry `path` (a local folder) > our models folder (pulled) > the Hugging Face cache.

Nothing here touches the network except `pull`. A job only ever loads from a
resolved local folder, so a model that is not on disk fails at once with the
exact `stillmotion models pull ...` command to run.
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .. import paths
from ..errors import ConfigError, EngineUnavailable, InputError, JobError, one_line

ENGINES = ("svd", "ltx", "wan", "cogvideox")

# model_index.json `_class_name` -> the engine that drives it.
ENGINE_OF_PIPELINE = {
    "StableVideoDiffusionPipeline": "svd",
    "LTXPipeline": "ltx", "LTXImageToVideoPipeline": "ltx", "LTXConditionPipeline": "ltx",
    "WanPipeline": "wan", "WanImageToVideoPipeline": "wan",
    "CogVideoXImageToVideoPipeline": "cogvideox",
}
# Text-to-video pipelines cannot start from a photo.
TEXT_ONLY = {"CogVideoXPipeline", "CogVideoXFunControlPipeline", "WanVACEPipeline"}


def _text_only(cls: str, index: Mapping[str, Any]) -> bool:
    """WanPipeline is Wan's text-to-video class, and also the 2.2 TI2V-5B's, which alone sets
    expand_timesteps (its image goes in as the first latent frame)."""
    return cls in TEXT_ONLY or (cls == "WanPipeline" and not index.get("expand_timesteps"))

COMPLETE_MARKER = ".stillmotion-complete.json"
# What `pull` fetches: the diffusers folders, never the single-file checkpoints at a repo's root.
_ALLOW = ["model_index.json", "*/*.json", "*/*.txt", "*/*.model", "*/*.tiktoken"]
_IGNORE = ["*.bin", "*.pth", "*.pt", "*.ckpt", "*.onnx", "*.onnx_data", "*.msgpack", "*.h5", "*.gguf"]
_STR_KEYS = ("engine", "hf_id", "revision", "path", "variant", "dtype", "description", "loop_model")
# The other fields an entry may set (config/default.toml describes them; the engines' own
# defaults name the rest), by kind: the engines read them with int() and float(), so a word there
# stopped a job with a traceback, and a misspelt key (`rnak = 30`) was kept and never read.
_NUMBER_KEYS = ("rank", "fps", "frames", "steps", "guidance", "vram_gb", "offload_vram_gb", "min_vram_gb",
                "params_b", "download_gb", "multiple", "frame_step", "min_frames", "max_aspect",
                "max_sequence_length", "decode_timestep", "decode_noise_scale", "guidance_rescale")
_BOOL_KEYS = ("fixed_size", "flf2v")
_KNOWN_KEYS = frozenset(_STR_KEYS + _NUMBER_KEYS + _BOOL_KEYS + ("size", "timesteps"))
REGISTRY_KEY = ("models", "registry")    # (the config loader names the file that set the registry)


@dataclass(frozen=True)
class ModelEntry:
    """One registry entry: the name users type and everything needed to fetch and run it."""

    name: str
    engine: str
    hf_id: str | None = None
    revision: str = "main"
    path: str | None = None          # a local diffusers folder instead of a download
    variant: str | None = None       # weights variant to fetch and load ("fp16")
    options: dict[str, Any] = field(default_factory=dict)   # size, fps, frames, steps, memory...

    @property
    def rank(self) -> int:
        return int(self.options.get("rank", 0))

    @property
    def loop_only(self) -> bool:
        """A first-last-frame model: it needs both ends, so it only makes loops."""
        return bool(self.options.get("flf2v", False))


@dataclass(frozen=True)
class ResolvedModel:
    """A model found on this disk, ready to load with no network."""

    name: str                        # registry name, or the folder / id the user gave
    engine: str
    path: Path                       # folder with model_index.json
    pipeline_class: str              # from model_index.json
    hf_id: str | None = None
    revision: str | None = None
    variant: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def read_config(self, component: str) -> dict[str, Any]:
        """A component's config.json (no weights are read)."""
        for name in ("config.json", "preprocessor_config.json", "scheduler_config.json"):
            file = self.path / component / name
            if file.is_file():
                try:
                    config = json.loads(file.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:   # a damaged copy: say which file, not a traceback
                    raise InputError(f"{self.name} is damaged: {component}/{name} cannot be read ({exc})") from None
                return config if isinstance(config, dict) else {}
        return {}


# ------------------------------------------------------------------ registry
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _entry(name: str, raw: Any) -> ModelEntry:
    def wrong(message: str) -> ConfigError:
        return ConfigError(f"models.registry.{name}{message}", key=REGISTRY_KEY)

    if not isinstance(raw, Mapping):
        raise wrong(" must be a table")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise wrong(f": unknown key '{unknown[0]}' (known here: {', '.join(sorted(_KNOWN_KEYS))})")
    for key in _STR_KEYS:
        if key in raw and not isinstance(raw[key], str):
            raise wrong(f".{key} must be a string, got {raw[key]!r}")
    for key in _NUMBER_KEYS:
        if key in raw and not _is_number(raw[key]):
            raise wrong(f".{key} must be a number, got {raw[key]!r}")
    for key in _BOOL_KEYS:
        if key in raw and not isinstance(raw[key], bool):
            raise wrong(f".{key} must be true or false, got {raw[key]!r}")
    timesteps = raw.get("timesteps")
    if timesteps is not None and not (isinstance(timesteps, list) and all(map(_is_number, timesteps))):
        raise wrong(f".timesteps must be an array of numbers, got {timesteps!r}")
    engine = raw.get("engine")
    if engine not in ENGINES:
        raise wrong(f".engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if not raw.get("hf_id") and not raw.get("path"):
        raise wrong(" needs hf_id (to pull it) or path (a local diffusers folder)")
    size = raw.get("size")
    if size is not None and not (isinstance(size, list) and len(size) == 2
                                 and all(isinstance(v, int) and v > 0 for v in size)):
        raise wrong(f".size must be [width, height] in pixels, got {size!r}")
    options = {k: v for k, v in raw.items() if k not in ("engine", "hf_id", "revision", "path", "variant")}
    return ModelEntry(name=name, engine=engine, hf_id=raw.get("hf_id") or None,
                      revision=raw.get("revision") or "main", path=raw.get("path") or None,
                      variant=raw.get("variant") or None, options=options)


def registry(config: Mapping[str, Any] | None) -> dict[str, ModelEntry]:
    raw = ((config or {}).get("models") or {}).get("registry") or {}
    return {name: _entry(name, value) for name, value in raw.items()}


def models_dir(config: Mapping[str, Any] | None) -> Path:
    configured = ((config or {}).get("models") or {}).get("dir") or ""
    return Path(configured).expanduser() if configured else paths.models_dir()


def pull_command(name: str) -> str:
    return f"stillmotion models pull {name}"


# ------------------------------------------------------------------ on disk?
def model_index(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def missing_components(folder: Path) -> list[str]:
    """Components model_index.json names that have no folder (an interrupted copy)."""
    index = model_index(folder)
    if index is None:
        return ["model_index.json"]
    missing = []
    for key, value in index.items():
        if key.startswith("_") or not isinstance(value, list) or value[0] is None:
            continue
        if not (folder / key).is_dir():
            missing.append(key)
    return missing


def missing_weights(folder: Path) -> list[str]:
    """The weights a pulled folder lacks: a component with a model config (config.json; a
    scheduler, tokenizer or image processor has none) and no .safetensors file, or a shard its
    index names that is not there. The folders alone said nothing: huggingface_hub hands back a
    download cut off mid-file as it is when the Hub cannot be reached to finish it."""
    missing = []
    for config in sorted(folder.glob("*/config.json")):
        component = config.parent
        if not any(component.glob("*.safetensors")):
            missing.append(f"{component.name}'s weights")
        for index in sorted(component.glob("*.safetensors.index.json")):
            try:
                shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
            except (OSError, ValueError, AttributeError):
                missing.append(f"{component.name}/{index.name}")
                continue
            missing += [f"{component.name}/{shard}" for shard in sorted(shards) if not (component / shard).is_file()]
    return missing


def _hf_cache_snapshot(hf_id: str, revision: str) -> Path | None:
    """The Hugging Face cache's snapshot of `hf_id` if it is complete on disk (no network)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return None
    # No folder for the model in the cache (most machines, for most models): said without
    # importing the cache reader, which loads an HTTP client stack (~0.1 s), before every
    # `animate`, `inspect` and the daemon's first job, to look for 17 models that are not there.
    if not (Path(constants.HF_HUB_CACHE) / f"models--{_slug(hf_id)}").is_dir():
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(hf_id, "model_index.json", revision=revision)
    if not isinstance(found, str):
        return None
    folder = Path(found).parent
    return folder if not missing_components(folder) else None


def _pulled(name: str, config: Mapping[str, Any] | None) -> Path | None:
    """A folder `models pull` completed (the marker is written last)."""
    folder = models_dir(config) / name
    if (folder / COMPLETE_MARKER).is_file() and not missing_components(folder):
        return folder
    return None


def _slug(hf_id: str) -> str:
    return hf_id.replace("/", "--")


def local_path(entry: ModelEntry, config: Mapping[str, Any] | None) -> Path | None:
    """Where `entry` is on this disk, or None."""
    if entry.path:
        folder = Path(entry.path).expanduser()
        return folder if folder.is_dir() and not missing_components(folder) else None
    pulled = _pulled(entry.name, config)
    if pulled is not None:
        return pulled
    if entry.hf_id:
        return _hf_cache_snapshot(entry.hf_id, entry.revision)
    return None


def _engine_of_folder(folder: Path, shown: str) -> tuple[str, str]:
    index = model_index(folder)
    if index is None:
        raise InputError(f"{shown} is not a diffusers model folder (no readable model_index.json)")
    cls = str(index.get("_class_name", ""))
    if _text_only(cls, index):
        raise InputError(f"{shown} is a text-to-video model ({cls}); Stillmotion needs an image-to-video model")
    if cls not in ENGINE_OF_PIPELINE:
        raise InputError(f"{shown} holds a {cls or 'unknown'} pipeline, which no Stillmotion engine drives "
                         f"(supported: {', '.join(sorted(set(ENGINE_OF_PIPELINE)))})")
    missing = missing_components(folder)
    if missing:
        raise InputError(f"{shown} is incomplete: missing {', '.join(missing)}")
    return ENGINE_OF_PIPELINE[cls], cls


def _entry_for_folder(folder: Path, config: Mapping[str, Any] | None) -> ModelEntry | None:
    """A registry entry whose folder on this disk is this one: its `path`, where `models pull`
    put it, or its Hugging Face cache snapshot (it carries the model's native size, fps etc.)."""
    real = folder.resolve()
    for entry in registry(config).values():
        if entry.path and Path(entry.path).expanduser().resolve() == real:
            return entry
    for entry in registry(config).values():
        found = None if entry.path else local_path(entry, config)
        if found is not None and found.resolve() == real:
            return entry
    return None


def _looks_like_hf_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "~")) and " " not in text


def default_entry(engine: str, config: Mapping[str, Any] | None) -> ModelEntry | None:
    """The engine's preferred model: the best-ranked installed one, else the best-ranked overall."""
    entries = [e for e in registry(config).values() if e.engine == engine and not e.loop_only]
    if not entries:
        return None
    entries.sort(key=lambda e: -e.rank)
    installed = [e for e in entries if local_path(e, config) is not None]
    return (installed or entries)[0]


def resolve(spec: str | None, engine: str | None, config: Mapping[str, Any] | None) -> ResolvedModel:
    """`--model` (or the engine's default when None) -> a model on this disk.

    Raises InputError for a model that does not exist or does not fit the engine,
    EngineUnavailable (with the pull command) for a known model that is not on disk.
    """
    reg = registry(config)
    entry: ModelEntry | None = None
    if spec is None:
        if engine is None:
            raise InputError("no model given and no engine to pick one for")
        entry = default_entry(engine, config)
        if entry is None:
            raise EngineUnavailable(f"no {engine} model is registered in [models.registry]")
    elif spec in reg:
        entry = reg[spec]
    else:
        folder = Path(spec).expanduser()
        try:
            is_folder = folder.is_dir()
        except OSError:     # a name longer than the file system allows: no folder, so a model name
            is_folder = False
        if is_folder:
            found_engine, cls = _engine_of_folder(folder, spec)
            _check_engine(found_engine, engine, spec)
            known = _entry_for_folder(folder, config)
            return ResolvedModel(name=known.name if known else folder.name, engine=found_engine,
                                 path=folder.resolve(), pipeline_class=cls,
                                 hf_id=known.hf_id if known else None, revision=known.revision if known else None,
                                 variant=weights_variant(folder, known.variant if known else None),
                                 options=dict(known.options) if known else {})
        if _looks_like_hf_id(spec):
            entry = next((e for e in reg.values() if e.hf_id == spec), None)
            if entry is None:
                cached = _pulled(_slug(spec), config) or _hf_cache_snapshot(spec, "main")
                if cached is None:
                    raise EngineUnavailable(f"model {spec} is not on this disk; download it first with: "
                                            f"{pull_command(spec)}")
                found_engine, cls = _engine_of_folder(cached, spec)
                _check_engine(found_engine, engine, spec)
                return ResolvedModel(name=spec, engine=found_engine, path=cached, pipeline_class=cls,
                                     hf_id=spec, revision="main", variant=weights_variant(cached, None))
        else:
            known = ", ".join(sorted(reg)) or "none"
            raise InputError(f"unknown model '{spec}': not a registry name ({known}), "
                             "a Hugging Face id (org/name) or a diffusers folder")
    _check_engine(entry.engine, engine, entry.name)
    folder = local_path(entry, config)
    if folder is None:
        if entry.path:
            raise EngineUnavailable(f"model {entry.name}: its folder {entry.path} is missing or incomplete")
        raise EngineUnavailable(f"model {entry.name} is not on this disk; download it first with: "
                                f"{pull_command(entry.name)}")
    _, cls = _engine_of_folder(folder, entry.name)
    return ResolvedModel(name=entry.name, engine=entry.engine, path=folder, pipeline_class=cls,
                         hf_id=entry.hf_id, revision=entry.revision, variant=weights_variant(folder, entry.variant),
                         options=dict(entry.options))


def weights_variant(folder: Path, wanted: str | None) -> str | None:
    """The weights variant to load from `folder`: `wanted` if its files are there, else what is.

    `models pull svd` fetches only the fp16 files (`unet/diffusion_pytorch_model.fp16.safetensors`),
    which a bare `--model <that folder>` could not load; a Hugging Face download without them
    could not load under the registry's variant = "fp16" either.
    """
    variants, plain = set(), False
    for file in folder.glob("*/*.safetensors"):
        parts = file.name.split(".")
        if len(parts) >= 3:
            variants.add(parts[-2])          # diffusion_pytorch_model[-00001-of-00002].fp16.safetensors
        else:
            plain = True
    if wanted in variants or (wanted is None and plain):
        return wanted
    if plain:
        return None
    return next(iter(variants)) if len(variants) == 1 else wanted


def _check_engine(found: str, wanted: str | None, shown: str) -> None:
    if wanted is not None and wanted != found:
        raise InputError(f"model {shown} is a {found} model; use --engine {found} (or auto) with it")


def engine_for(spec: str, config: Mapping[str, Any] | None) -> str:
    """The engine that drives `--model spec` (for `--engine auto --model X`)."""
    return resolve(spec, None, config).engine


def installed(engine: str, config: Mapping[str, Any] | None) -> list[tuple[ModelEntry, Path]]:
    """Registered models of `engine` that are on disk, best-ranked first (filesystem only)."""
    out = []
    for entry in registry(config).values():
        if entry.engine == engine:
            folder = local_path(entry, config)
            if folder is not None:
                out.append((entry, folder))
    out.sort(key=lambda pair: -pair[0].rank)
    return out


def any_runnable_installed(config: Mapping[str, Any] | None) -> bool:
    """Whether a model a generative engine runs is on disk: only then does an engine's status
    ask which device it would run on (filesystem only)."""
    return any(not e.loop_only and local_path(e, config) is not None for e in registry(config).values())


# ------------------------------------------------------------------ list / pull
def _folder_size_gb(folder: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(folder, followlinks=True):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size   # follows HF cache symlinks to blobs
            except OSError:
                pass
    return total / 1024 ** 3


def list_models(config: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every registered model: installed or not, its size, usable on this device and why (not)
    (`fits`: whether it could run here once installed)."""
    from . import devices, memory

    if config is None:
        from .. import config as config_mod

        config = config_mod.load()
    device = devices.detect(((config.get("engines") or {}).get("device", "auto")))
    rows = []
    for entry in registry(config).values():
        folder = local_path(entry, config)
        usable, why = memory.usable_on(entry.options, device, folder)   # (sized from its weights, as status is)
        rows.append({
            "name": entry.name, "engine": entry.engine, "hf_id": entry.hf_id, "revision": entry.revision,
            "installed": folder is not None, "path": str(folder) if folder else None,
            "size_gb": round(_folder_size_gb(folder), 2) if folder else entry.options.get("download_gb"),
            "usable": usable and folder is not None, "fits": usable, "loop_only": entry.loop_only, "device": device.kind,
            "why": why if folder is not None else f"not installed ({pull_command(entry.name)}); {why}",
            "description": entry.options.get("description", ""),
        })
    return rows


def render_list(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'NAME':22} {'ENGINE':9} {'INSTALLED':9} {'SIZE':>8}  USABLE HERE"]
    for row in rows:
        size = row["size_gb"]
        size_text = (f"{size:.1f} GB" if row["installed"] else f"~{size:.0f} GB") if size is not None else "?"
        lines.append(f"{row['name']:22} {row['engine']:9} {'yes' if row['installed'] else 'no':9} {size_text:>8}  "
                     f"{'yes' if row['usable'] else 'no'}: {row['why']}")
    return "\n".join(lines)


def _pull_patterns(variant: str | None) -> list[str]:
    weights = [f"*/*.{variant}.safetensors", f"*/*.{variant}.safetensors.index.json"] if variant \
        else ["*/*.safetensors", "*/*.safetensors.index.json"]
    return _ALLOW + weights


def pull(name: str, config: Mapping[str, Any] | None = None) -> str:
    """Download a registry model (or any Hugging Face id) into the models folder, with a progress bar.

    Returns the folder. The completion marker is written last, so an interrupted
    pull is never mistaken for an installed model (running it again fetches the rest).
    """
    if config is None:
        from .. import config as config_mod

        config = config_mod.load()
    reg = registry(config)
    entry = reg.get(name) or next((e for e in reg.values() if e.hf_id == name), None)
    if entry is not None and entry.path:
        raise InputError(f"model {entry.name} is a local folder ({entry.path}); there is nothing to download")
    if entry is not None:
        existing = local_path(entry, config)
        slug, hf_id, revision, variant = entry.name, entry.hf_id, entry.revision, entry.variant
    elif _looks_like_hf_id(name):
        slug, hf_id, revision, variant = _slug(name), name, "main", None
        existing = _pulled(slug, config) or _hf_cache_snapshot(hf_id, revision)
    else:
        raise InputError(f"unknown model '{name}' (registered: {', '.join(sorted(reg))}; "
                         "or give a Hugging Face id such as org/name)")
    if existing is not None:
        return str(existing)
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError
    except ImportError:
        raise JobError("huggingface_hub is not installed (pip install huggingface_hub)") from None
    target = models_dir(config) / slug
    made = _first_missing(target)             # the folders this pull makes (None: all there)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:                    # a read-only disk, a STILLMOTION_HOME that is a file
        raise JobError(f"{target}: cannot make the model's folder ({exc.strerror or exc}); set [models] dir "
                       "(or STILLMOTION_HOME) to a folder you can write") from None
    try:
        snapshot = snapshot_download(hf_id, revision=revision, local_dir=target,
                                     allow_patterns=_pull_patterns(variant), ignore_patterns=_IGNORE)
    except BaseException as exc:
        if made is not None and not _holds_download(target):
            _remove_made(target, made)        # nothing to resume: no empty folder left behind
        if isinstance(exc, GatedRepoError):
            raise JobError(f"{hf_id} is gated: accept its licence at https://huggingface.co/{hf_id} "
                           f"and log in (`hf auth login`, or set HF_TOKEN to an access token), then run "
                           f"`{pull_command(name)}` again") from None
        if isinstance(exc, RevisionNotFoundError):
            raise JobError(f"{hf_id} has no revision {revision!r}") from None
        if isinstance(exc, RepositoryNotFoundError):
            raise JobError(f"{hf_id} does not exist on Hugging Face (or needs a login)") from None
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:   # (running it again would only fill it again)
            size = entry.options.get("download_gb") if entry is not None else None
            raise JobError(f"{target.parent}: the disk is full" + (f" (this model needs about {size:g} GB)" if size else "")
                           + f"; free some space or set [models] dir to a folder on a bigger disk, then run "
                           f"`{pull_command(name)}` again (the files already fetched are kept)") from None
        if isinstance(exc, Exception):   # network and disk errors differ by transport (httpx, OSError...)
            # (one_line: huggingface_hub's offline error runs on for lines, and the CLI shows only
            # the first line of ours, which lost the way to resume)
            raise JobError(f"could not download {hf_id}: {one_line(exc)}; "
                           f"run `{pull_command(name)}` again to go on (the files already fetched are kept)") from None
        raise                                 # Ctrl-C: what was fetched is kept, to go on from
    folder = Path(snapshot)
    try:
        _engine_of_folder(folder, hf_id)      # an image-to-video pipeline, complete
    except InputError:
        if made is not None:                  # a model no engine drives: nothing to keep
            _remove_made(target, made)
        raise
    missing = missing_weights(folder)
    if missing:                               # (what was fetched is kept, to go on from)
        raise JobError(f"could not download {hf_id}: {', '.join(missing)} not on disk (Hugging Face could not "
                       f"be reached to finish it); run `{pull_command(name)}` again when online")
    (folder / COMPLETE_MARKER).write_text(json.dumps(
        {"hf_id": hf_id, "revision": revision, "variant": variant}), encoding="utf-8")
    return str(folder)


def _first_missing(folder: Path) -> Path | None:
    """The outermost of `folder` and its parents that does not exist yet (None: it exists)."""
    missing = None
    while not folder.exists() and folder.parent != folder:
        missing, folder = folder, folder.parent
    return missing


def _holds_download(folder: Path) -> bool:
    """Whether a failed pull fetched anything worth resuming from: any file with bytes in it
    but huggingface_hub's own bookkeeping (.gitignore, locks)."""
    return any(p.is_file() and p.name != ".gitignore" and p.suffix != ".lock" and p.stat().st_size
               for p in folder.rglob("*"))


def _remove_made(target: Path, made: Path) -> None:
    """Remove `target` and the now-empty parents up to `made`, the outermost one this pull made."""
    import shutil

    shutil.rmtree(target, ignore_errors=True)
    folder = target.parent
    while folder != made.parent and folder.is_relative_to(made):
        try:
            folder.rmdir()
        except OSError:
            break
        folder = folder.parent
