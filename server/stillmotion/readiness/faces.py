"""Frontal faces with the LBP cascade that ships inside scikit-image.

OpenCV 5 no longer ships the cascade classifier (nor its XML files), so we use
scikit-image's `Cascade` with its bundled `lbpcascade_frontalface_opencv.xml`,
which works offline. On its own that cascade fires on fur, brickwork and window
frames, so a detection only counts when

- it is found again at a second image scale and then at most of eight scales
  between 225 and 400 px (false hits come and go with the sampling, so the same
  rock or squirrel's chest showed up at one photo size and not at the next; a
  real face is found at six to eight of them, the false hits at two to four), and
- the middle of the box (eyes, nose, mouth) is mostly skin-coloured (Chai & Ngan's
  YCrCb box, which covers light to dark skin tones); fur, wood and brick false hits
  reach about 40 %, real faces 90 % and more.

Detection runs on a 300 px (and 225 px) copy: ~0.1-0.15 s in all. It finds faces
down to about 1/11 of the long edge (about 1 % of a 3:2 frame), which is as small
as a face can be for the portrait profile to apply. Smaller faces (crowds, people
in a landscape) are not looked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

DETECT_EDGES = (300, 225)     # long edges of the two copies the cascade runs on
MIN_WINDOW = 20               # smallest face window, pixels in those copies
MIN_SKIN = 0.6               # share of skin-coloured pixels in the box's centre
MATCH_IOU = 0.35              # overlap for a detection to count as "found again"
VERIFY_EDGES = (225, 250, 275, 300, 325, 350, 375, 400)   # long edges a candidate is re-checked at
MIN_SUPPORT = 5               # of the VERIFY_EDGES that must find it again


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]   # x0, y0, x1, y1 in 0..1 image coordinates
    skin: float                              # share of skin-coloured pixels in its centre

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])

    def to_dict(self) -> dict:
        return {"box": [round(v, 4) for v in self.box], "area": round(self.area, 4)}


@lru_cache(maxsize=1)
def _cascade():
    from skimage import data
    from skimage.feature import Cascade

    return Cascade(data.lbp_frontal_face_cascade_filename())


def _resized(rgb: np.ndarray, long_edge: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = min(1.0, long_edge / max(h, w))
    if scale >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=cv2.INTER_AREA)


def _cascade_boxes(gray: np.ndarray, low: int, high: int, frame: tuple[int, int],
                   at: tuple[int, int] = (0, 0)) -> list[tuple[float, float, float, float]]:
    """What the cascade finds in `gray` with windows of `low`..`high` px, as boxes in 0..1 of a
    picture of `frame` (w, h) pixels in which `gray` sits at `at` (x, y)."""
    (w, h), (x0, y0) = frame, at
    found = _cascade().detect_multi_scale(gray, scale_factor=1.15, step_ratio=1, min_size=(low, low),
                                          max_size=(high, high), min_neighbor_number=3)
    return [((x0 + d["c"]) / w, (y0 + d["r"]) / h, (x0 + d["c"] + d["width"]) / w, (y0 + d["r"] + d["height"]) / h)
            for d in found]


class _Copies:
    """The photo at the long edges the cascade runs on, each made once: the two detection sizes
    are re-check sizes too, and each candidate is re-checked at all eight."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb = rgb
        self._made: dict[int, np.ndarray] = {}

    def at(self, long_edge: int) -> np.ndarray:
        if long_edge not in self._made:
            self._made[long_edge] = _resized(self.rgb, long_edge)
        return self._made[long_edge]


def _detect(small: np.ndarray) -> list[tuple[float, float, float, float]]:
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    if min(h, w) < MIN_WINDOW:
        return []
    return _cascade_boxes(gray, MIN_WINDOW, min(h, w), (w, h))


def _support(copies: _Copies, box: tuple[float, float, float, float]) -> int:
    """At how many VERIFY_EDGES the cascade finds `box` again. Only a crop around the
    box is searched, for windows of half to twice its size, so this costs ~30-80 ms a
    candidate, not the ~1 s of eight full passes."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    x0, y0 = max(0.0, box[0] - bw / 2), max(0.0, box[1] - bh / 2)
    x1, y1 = min(1.0, box[2] + bw / 2), min(1.0, box[3] + bh / 2)
    found = 0
    for edge in VERIFY_EDGES:
        small = copies.at(edge)
        h, w = small.shape[:2]
        cx0, cy0 = int(x0 * w), int(y0 * h)
        crop = np.ascontiguousarray(small[cy0:int(np.ceil(y1 * h)), cx0:int(np.ceil(x1 * w))])
        side = min(bw * w, bh * h)
        low, high = max(MIN_WINDOW, int(side / 2)), min(crop.shape[0], crop.shape[1], int(np.ceil(side * 2)))
        if high < low:
            continue
        hits = _cascade_boxes(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), low, high, (w, h), (cx0, cy0))
        found += any(iou(box, hit) >= MATCH_IOU for hit in hits)
    return found


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Skin-coloured pixels of float sRGB `rgb` (Chai & Ngan's YCrCb box)."""
    ycc = cv2.cvtColor((np.clip(rgb, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2YCrCb)
    cr, cb = ycc[..., 1], ycc[..., 2]
    return (cr >= 133) & (cr <= 173) & (cb >= 77) & (cb <= 127)


def _skin_share(rgb: np.ndarray, box: tuple[float, float, float, float]) -> float:
    h, w = rgb.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    x0, x1 = int((box[0] + bw / 4) * w), int(np.ceil((box[2] - bw / 4) * w))
    y0, y1 = int((box[1] + bh / 4) * h), int(np.ceil((box[3] - bh / 4) * h))
    centre = rgb[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    if centre.size == 0:
        return 0.0
    return float(skin_mask(centre).mean())


def detect(rgb: np.ndarray) -> list[Face]:
    """Faces in float sRGB `rgb`, largest first."""
    copies = _Copies(rgb)
    first, second = (_detect(copies.at(edge)) for edge in DETECT_EDGES)
    faces: list[Face] = []
    for box in first:
        if not any(iou(box, other) >= MATCH_IOU for other in second):
            continue
        skin = _skin_share(rgb, box)
        if skin < MIN_SKIN or any(iou(box, f.box) > 0.3 for f in faces):
            continue
        if _support(copies, box) >= MIN_SUPPORT:
            faces.append(Face(tuple(float(v) for v in box), skin))
    return sorted(faces, key=lambda f: f.area, reverse=True)
