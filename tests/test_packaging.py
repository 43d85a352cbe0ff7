"""A built wheel carries what an installed Stillmotion needs outside its Python code."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(out), str(ROOT)], capture_output=True, text=True, timeout=240)
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


def test_the_wheel_holds_no_build_leftovers(wheel: zipfile.ZipFile) -> None:
    assert not [n for n in wheel.namelist() if "__pycache__" in n or n.endswith(".pyc")]
