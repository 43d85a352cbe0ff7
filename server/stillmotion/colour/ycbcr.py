"""Y'CbCr and RGB: the matrix clips are encoded with, and exact Y'CbCr -> RGB for decoded video
frames (BT.709 / BT.601 / BT.2020, limited or full range).

libswscale, as PyAV 18 ships it, decodes Y'CbCr to RGB about 1.5/255 too dark
(2.5/255 into 16-bit RGB), even for flat colours. The decoded MP4 must match its
source to verify colour end to end, and `stillmotion match` corrects decoded
frames that players will later decode exactly, so the common planar formats are
converted here with the standard matrices; others return None (the caller falls
back to swscale).
"""

from __future__ import annotations

import cv2
import numpy as np

# Matrix name (as decode.py names them) -> (Kr, Kb).
COEFFICIENTS = {"itu709": (0.2126, 0.0722), "itu601": (0.299, 0.114), "bt2020": (0.2627, 0.0593)}
# pix_fmt -> (bits, always full range)
PLANAR = {
    "yuv420p": (8, False), "yuv422p": (8, False), "yuv444p": (8, False),
    "yuvj420p": (8, True), "yuvj422p": (8, True), "yuvj444p": (8, True),
    "yuv420p10le": (10, False), "yuv422p10le": (10, False), "yuv444p10le": (10, False),
    # ProRes 4444 decodes to 12 bits (FFmpeg's own conversion of these ran half a level dark);
    # with alpha, the fourth plane is the key, left to the caller.
    "yuv422p12le": (12, False), "yuv444p12le": (12, False),
    "yuva444p10le": (10, False), "yuva444p12le": (12, False),
}


def rgb_to_ycbcr_matrix(matrix: str = "itu709") -> np.ndarray:
    """The R'G'B' -> Y', Cb, Cr matrix (rows; float32) of a named matrix: the inverse of what
    `frame_to_rgb` decodes with (Y' in 0..1, Cb and Cr in -0.5..0.5)."""
    kr, kb = COEFFICIENTS[matrix]
    kg = 1.0 - kr - kb
    return np.array([[kr, kg, kb],
                     [-kr / (2 - 2 * kb), -kg / (2 - 2 * kb), 0.5],
                     [0.5, -kg / (2 - 2 * kr), -kb / (2 - 2 * kr)]], np.float32)


def _plane(plane, dtype: np.dtype) -> np.ndarray:
    itemsize = np.dtype(dtype).itemsize
    data = np.frombuffer(plane, dtype=dtype)
    return data.reshape(plane.height, plane.line_size // itemsize)[:, :plane.width].astype(np.float32)


def frame_to_rgb(frame, matrix: str = "itu709", full_range: bool = False) -> np.ndarray | None:
    """float32 (H, W, 3) in [0, 1] from a planar Y'CbCr `av.VideoFrame`, or None for other formats."""
    spec = PLANAR.get(frame.format.name)
    if spec is None or matrix not in COEFFICIENTS:
        return None
    bits, always_full = spec
    dtype = np.uint8 if bits == 8 else np.dtype("<u2")
    y, cb, cr = (_plane(p, dtype) for p in frame.planes[:3])
    step = float(1 << (bits - 8))
    if full_range or always_full:
        y = y / (255.0 * step)
        cb, cr = (cb - 128.0 * step) / (255.0 * step), (cr - 128.0 * step) / (255.0 * step)
    else:
        y = (y - 16.0 * step) / (219.0 * step)
        cb, cr = (cb - 128.0 * step) / (224.0 * step), (cr - 128.0 * step) / (224.0 * step)
    h, w = y.shape
    if cb.shape != y.shape:
        # Subsampled chroma: bilinear, centred, to whole multiples then cropped (odd sizes).
        fy, fx = round(h / cb.shape[0]), round(w / cb.shape[1])
        size = (cb.shape[1] * fx, cb.shape[0] * fy)
        cb = cv2.resize(cb, size, interpolation=cv2.INTER_LINEAR)[:h, :w]
        cr = cv2.resize(cr, size, interpolation=cv2.INTER_LINEAR)[:h, :w]
    kr, kb = COEFFICIENTS[matrix]
    kg = 1.0 - kr - kb
    r = y + np.float32(2.0 * (1.0 - kr)) * cr
    b = y + np.float32(2.0 * (1.0 - kb)) * cb
    g = (y - np.float32(kr) * r - np.float32(kb) * b) / np.float32(kg)
    rgb = np.stack([r, g, b], axis=-1)
    return np.clip(rgb, 0.0, 1.0, out=rgb)
