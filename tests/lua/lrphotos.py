"""Small real photos (scikit-image) for the plug-in tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def real_photo(path: Path, name: str = "astronaut", size: tuple[int, int] = (320, 240)) -> Path:
    """A real photo from scikit-image, resized, saved as JPEG."""
    from skimage import data

    pixels = getattr(data, name)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    Image.fromarray(pixels[..., :3].astype(np.uint8)).resize(size, Image.LANCZOS).save(path, quality=92)
    return path
