"""Shared test fixtures: real photos, the shared fixtures folder, a fast config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import SHARED_FIXTURES, save_photo, skimage_photo

@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """../shared/fixtures (real photos, XMP sidecars, hostile files), read in place."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"shared fixtures folder not found at {SHARED_FIXTURES}")
    return SHARED_FIXTURES


@pytest.fixture
def photo_jpg(tmp_path: Path) -> Path:
    """A real photo (astronaut, resized to 320x240) saved as IMG_1234.jpg in a temp folder."""
    return save_photo(tmp_path / "IMG_1234.jpg", skimage_photo("astronaut"), (320, 240), quality=95)


@pytest.fixture
def fast_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """STILLMOTION_HOME in a temp folder with a config made for speed (small clips, fast x264)."""
    home = tmp_path / "stillmotion-home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[output]\nlong_edge = 320\npreset = "ultrafast"\n', encoding="utf-8")
    monkeypatch.setenv("STILLMOTION_HOME", str(home))
    for key in list(os.environ):
        if key.startswith("STILLMOTION__"):
            monkeypatch.delenv(key)
    return home / "config.toml"
