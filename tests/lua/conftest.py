"""Fixtures for the Lightroom plug-in tests: a simulated Lightroom, small real photos."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lrphotos import real_photo  # noqa: E402
from lrsim import Lightroom  # noqa: E402


@pytest.fixture
def lr(tmp_path: Path) -> Lightroom:
    """A simulated Lightroom Classic with the plug-in loaded and an empty catalog."""
    return Lightroom(tmp_path)


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """A folder of originals: IMG_0001.jpg (astronaut), IMG_0002.jpg (coffee), 320x240."""
    folder = tmp_path / "Photos" / "2024-06 Shoot"
    folder.mkdir(parents=True)
    real_photo(folder / "IMG_0001.jpg", "astronaut")
    real_photo(folder / "IMG_0002.jpg", "coffee")
    return folder
