"""A built wheel carries what an installed Stillmotion needs outside its Python code."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    # Built from a copy of the sources: an in-tree build leaves build/ and *.egg-info in the
    # checkout, and the next build packs what an earlier one left in build/lib (a defaults
    # file the build hook no longer copies was still shipped).
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("config", "lrplugin", "server"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(out), str(source)], capture_output=True, text=True, timeout=240)
    if done.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{done.stderr[-2000:]}")
    (built,) = out.glob("stillmotion-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_ships_the_defaults_file_as_in_the_tree(wheel: zipfile.ZipFile) -> None:
    shipped = wheel.read("stillmotion/default.toml")
    assert shipped == (ROOT / "config" / "default.toml").read_bytes()


def test_the_wheel_ships_the_whole_lightroom_plugin(wheel: zipfile.ZipFile) -> None:
    tree = ROOT / "lrplugin" / "stillmotion.lrplugin"
    expected = {p.relative_to(tree).as_posix() for p in tree.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
    prefix = "stillmotion/lrplugin/stillmotion.lrplugin/"
    shipped = {n[len(prefix):] for n in wheel.namelist() if n.startswith(prefix)}
    assert "Info.lua" in shipped and shipped == expected


def test_the_wheel_carries_the_gpl_text(wheel: zipfile.ZipFile) -> None:
    """GPL-3.0 (section 4) wants every copy to come with the licence: the package had none."""
    (licence,) = [n for n in wheel.namelist() if ".dist-info/" in n and n.rsplit("/", 1)[-1] == "LICENSE"]
    text = wheel.read(licence).decode()
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text


def test_the_wheel_holds_no_build_leftovers(wheel: zipfile.ZipFile) -> None:
    assert not [n for n in wheel.namelist() if "__pycache__" in n or n.endswith(".pyc")]


# ---- what pyproject.toml promises: the Pythons and the dependency versions it claims -------------
def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def _project() -> dict:
    return _pyproject()["project"]


def _oldest_python() -> tuple[int, int]:
    from packaging.specifiers import SpecifierSet

    claimed = SpecifierSet(_project()["requires-python"])
    return next((3, minor) for minor in range(6, 20) if f"3.{minor}.0" in claimed)


def _sources() -> list[Path]:
    return sorted([*(ROOT / "server").rglob("*.py"), ROOT / "setup.py"])


# Standard-library names newer than Python 3.10, as (module, name).
_NEWER_STDLIB = {("typing", "Self"), ("typing", "LiteralString"), ("typing", "Never"),
                 ("typing", "assert_never"), ("typing", "reveal_type"), ("typing", "NotRequired"),
                 ("typing", "Required"), ("typing", "override"), ("datetime", "UTC"), ("enum", "StrEnum"),
                 ("asyncio", "TaskGroup"), ("asyncio", "timeout"), ("hashlib", "file_digest"),
                 ("itertools", "batched"), ("contextlib", "chdir")}


def test_every_module_parses_as_the_oldest_python_the_readme_claims() -> None:
    """README and requires-python say Python 3.10: no syntax of a later Python anywhere."""
    oldest = _oldest_python()
    assert oldest == (3, 10), "README.md says Python 3.10 or newer: keep them in step"
    for path in _sources():
        ast.parse(path.read_text(encoding="utf-8"), str(path), feature_version=oldest)


def test_no_module_uses_the_standard_library_of_a_later_python() -> None:
    """tomllib only with the tomli fallback; no name the 3.10 standard library lacks."""
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        guarded = {id(n) for t in ast.walk(tree) if isinstance(t, (ast.If, ast.Try))
                   and "import tomli as tomllib" in ast.unparse(t) for n in t.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name == "tomllib" for a in node.names) \
                    and id(node) not in guarded:
                found.append(f"{path.name}:{node.lineno} import tomllib without the tomli fallback")
            elif isinstance(node, ast.ImportFrom):
                found += [f"{path.name}:{node.lineno} {node.module}.{a.name}" for a in node.names
                          if (node.module, a.name) in _NEWER_STDLIB]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and (node.value.id, node.attr) in _NEWER_STDLIB:
                found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
            elif isinstance(node, ast.Name) and node.id in ("ExceptionGroup", "BaseExceptionGroup"):
                found.append(f"{path.name}:{node.lineno} {node.id}")
    assert not found


# The oldest release of each dependency with what the code uses (each one run or read).
_NEEDED = {
    "aiohttp": ("3.14", "web.RequestKey (api/state.py)"),
    "av": ("17.1", "VideoFrame.reformat(dst_color_trc=...); a ProRes clip's range read back"),
    "tifffile": ("2024.5.22", "TiffWriter.write(iccprofile=...)"),
    "diffusers": ("0.35", "LTXConditionPipeline, WanImageToVideoPipeline with last_image and Wan 2.2"),
    "Pillow": ("10.1", "ExifTags.IFD"),
}


def test_declared_dependency_floors_have_what_the_code_uses() -> None:
    """A floor below what the code calls installs and then fails: aiohttp 3.9 (the floor was
    3.9) has no web.RequestKey, and the daemon did not start; PyAV 14 had no dst_color_trc,
    and every clip failed."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    floors = {}
    for line in _project()["dependencies"]:
        req = Requirement(line)
        floors[req.name.lower()] = min((Version(s.version) for s in req.specifier if s.operator == ">="),
                                       default=None)
    low = [f"{name}>={floors.get(name.lower())}: {why} needs {needed}"
           for name, (needed, why) in _NEEDED.items()
           if floors.get(name.lower()) is None or floors[name.lower()] < Version(needed)]
    assert not low


def test_the_build_asks_for_a_setuptools_that_takes_the_spdx_licence() -> None:
    """setuptools before 77 refuses `license = "GPL-3.0-or-later"` ('must be valid exactly by one
    definition'): the build-system floor was 69, so a packager's build with the system
    setuptools (no build isolation) failed."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    pyproject = _pyproject()
    assert isinstance(pyproject["project"]["license"], str)
    for line in [*pyproject["build-system"]["requires"], *pyproject["project"]["optional-dependencies"]["test"]]:
        req = Requirement(line)
        if req.name == "setuptools":
            assert all(Version(s.version) >= Version("77") for s in req.specifier if s.operator == ">="), line
