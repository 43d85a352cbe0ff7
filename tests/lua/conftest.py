"""Fixtures for the Lightroom plug-in tests: a simulated Lightroom, small real photos."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lrsim import Lightroom  # noqa: E402


def real_photo(path: Path, name: str = "astronaut", size: tuple[int, int] = (320, 240)) -> Path:
    """A real photo from scikit-image, resized, saved as JPEG."""
    from skimage import data

    pixels = getattr(data, name)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    Image.fromarray(pixels[..., :3].astype(np.uint8)).resize(size, Image.LANCZOS).save(path, quality=92)
    return path


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
