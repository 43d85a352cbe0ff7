"""Is a frame pixel-aligned with the photo? Find the framing and shift, and say how well.

The anchor frame of an image-to-video clip is normally the photo itself, maybe
cropped to the clip's aspect and shifted a few pixels. Alignment is judged on
structure (band-passed luminance), which colour drift barely changes, so a
frame that is darker, warmer or greyer than the photo still aligns.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..photo import resize
from .space import luminance

MAX_SHIFT = 0.08   # largest shift searched, as a fraction of the frame size
# A cloud service re-renders the first frame rather than showing the photo: reframed a few per
# cent tighter. These zooms (about the centre) are tried too; one is taken only where it lines up
# better by ZOOM_MARGIN (a frame that is the photo keeps the photo's own framing).
ZOOMS = (1.02, 1.04, 1.06, 1.08)
ZOOM_MARGIN = 0.02
# Black bars (letterbox, pillarbox: a cloud service's 16:9 frame around a 2.39:1 or 4:5 picture):
# rows or columns darker than this on average (an encoder's black is 16/255 at worst) ...
BAR_LEVEL = 0.05
# ... as thick on both sides within this share of the frame (bars are centred; a low-key photo's
# dark sky or floor is on one side only), and at least BAR_MIN of it.
BAR_SYMMETRY = 0.02
BAR_MIN = 0.01
BAR_EDGE = 2   # pixels more taken off inside a bar's edge (blended with the picture by the encoder)
# ... and leaving at least this share of the frame between them (a 9:16 picture in 16:9 is 0.32):
# a thin bright band on black is a title or a wipe, not a picture between bars.
BAR_PICTURE_MIN = 0.25


@dataclass
class Alignment:
    reference: np.ndarray     # the photo resampled onto the frame's pixels (same shape)
    valid: np.ndarray         # bool mask of pixels the shifted photo actually covers
    score: float              # normalised correlation of structure, -1..1 (1: perfect)
    framing: str              # "stretch" or "crop"
    shift: tuple[float, float]


def _structure(img: np.ndarray) -> np.ndarray:
    """Band-passed luminance: edges and texture, without the overall tone."""
    y = luminance(img)  # of the sRGB-encoded values: a luma, fine for structure
    return cv2.GaussianBlur(y, (0, 0), 1.0) - cv2.GaussianBlur(y, (0, 0), 4.0)


def cover_crop(photo: np.ndarray, width: int, height: int) -> np.ndarray:
    """The centred part of `photo` with the aspect of width x height."""
    h, w = photo.shape[:2]
    target = width / height
    if w / h > target:
        cw = max(1, round(h * target))
        x0 = (w - cw) // 2
        return photo[:, x0:x0 + cw]
    ch = max(1, round(w / target))
    y0 = (h - ch) // 2
    return photo[y0:y0 + ch]


def _bars(profile: np.ndarray) -> tuple[int, int]:
    """Thickness of the dark runs at the two ends of a mean-luminance profile, when they are bars."""
    dark = profile < BAR_LEVEL
    n = len(dark)
    if dark.all():
        return 0, 0   # a black frame (a fade's start) has no picture to find
    start, end = int(np.argmin(dark)), int(np.argmin(dark[::-1]))
    if min(start, end) < BAR_MIN * n or abs(start - end) > max(2, BAR_SYMMETRY * n):
        return 0, 0
    if n - start - end - 2 * BAR_EDGE < BAR_PICTURE_MIN * n:
        return 0, 0
    return start + BAR_EDGE, end + BAR_EDGE


def picture_area(frame: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of `frame` inside black bars (letterbox, pillarbox); all of it without.

    Bars are no part of the picture: aligned with the photo they hid it (a 4:5 photo in a 16:9
    frame matched by distributions only), and counted in its colours they pulled the fit.
    """
    y = luminance(np.asarray(frame, dtype=np.float32))
    top, bottom = _bars(y.mean(axis=1))
    left, right = _bars(y.mean(axis=0))
    h, w = y.shape
    return slice(top, h - bottom), slice(left, w - right)


def _even_dft_size(n: int) -> int:
    """The largest even n' <= n that OpenCV's DFT takes as it is (no padding).

    phaseCorrelate reports a spurious half-pixel shift along a side whose DFT length is
    odd (135 rows, or 134 padded to 135); a reference moved by half a pixel is blurred,
    which the colour fit would learn as a tone change (lifted blacks).
    """
    m = n - n % 2
    while m > 2 and cv2.getOptimalDFTSize(m) != m:
        m -= 2
    return max(m, 2)


def _ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    a, b = a[mask], b[mask]
    if a.size < 64:
        return 0.0
    a = a - a.mean()
    b = b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 1e-12 else 0.0


def _zoomed(photo: np.ndarray, zoom: float) -> np.ndarray:
    """The centre of `photo`, 1/zoom of it each way (the same aspect)."""
    h, w = photo.shape[:2]
    ch, cw = max(2, round(h / zoom)), max(2, round(w / zoom))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return photo[y0:y0 + ch, x0:x0 + cw]


def align(frame: np.ndarray, photo: np.ndarray) -> Alignment:
    """Best alignment of `photo` onto `frame` (both float sRGB; frame is small already)."""
    h, w = frame.shape[:2]
    frame_structure = _structure(frame)
    eh, ew = _even_dft_size(h), _even_dft_size(w)
    window = cv2.createHanningWindow((ew, eh), cv2.CV_64F)
    best: Alignment | None = None
    framings = [("stretch", 1.0, photo), ("crop", 1.0, cover_crop(photo, w, h))]
    framings += [("crop", zoom, _zoomed(framings[1][2], zoom)) for zoom in ZOOMS]
    for name, zoom, source in framings:
        if name == "crop" and zoom == 1.0 and source.shape[:2] == photo.shape[:2]:
            continue  # same aspect: cropping changes nothing
        if zoom > 1.0 and best is not None and best.score >= 1.0 - ZOOM_MARGIN:
            break     # lined up as it is (the photo itself): no zoom could be taken
        candidate = resize(np.asarray(source, dtype=np.float32), w, h)
        cand_structure = _structure(candidate)
        (dx, dy), _ = cv2.phaseCorrelate(cand_structure[:eh, :ew].astype(np.float64),
                                         frame_structure[:eh, :ew].astype(np.float64), window)
        if abs(dx) > MAX_SHIFT * w or abs(dy) > MAX_SHIFT * h:
            dx = dy = 0.0
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        moved = cv2.warpAffine(candidate, shift, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        valid = np.zeros((h, w), bool)
        x0, y0 = int(np.ceil(max(dx, 0))) + 2, int(np.ceil(max(dy, 0))) + 2
        x1, y1 = w - int(np.ceil(max(-dx, 0))) - 2, h - int(np.ceil(max(-dy, 0))) - 2
        valid[y0:max(y0, y1), x0:max(x0, x1)] = True
        score = _ncc(frame_structure, _structure(moved), valid)
        if best is None or score > best.score + (ZOOM_MARGIN if zoom > 1.0 else 0.0):
            best = Alignment(moved, valid, score, name, (float(dx), float(dy)))
    assert best is not None
    return best
