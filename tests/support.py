"""Helpers shared by tests (import as `from support import ...`; tests/ is on sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


def skimage_photo(name: str = "astronaut") -> np.ndarray:
    """A real photo from scikit-image as uint8 RGB."""
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return img[..., :3].astype(np.uint8)


def save_photo(path: Path, pixels: np.ndarray, size: tuple[int, int] | None = None, **save_kwargs) -> Path:
    image = Image.fromarray(pixels)
    if size is not None:
        image = image.resize(size, Image.LANCZOS)
    image.save(path, **save_kwargs)
    return path
