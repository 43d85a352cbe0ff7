"""Fit one smooth colour transform from aligned pixel pairs: a regularised 3-D LUT in Lab.

Unknowns are Lab offsets at the nodes of a coarse G x G x G grid over the sRGB
input cube; a pixel's offset is the trilinear blend of its cell's 8 nodes. The
fit minimises (robustly reweighted) Lab error over the pixel pairs, plus a
second-difference penalty that keeps the offsets smooth across the cube, so
colours the frame does not contain get a gentle continuation of their
neighbours' correction instead of noise; a tiny ridge term pins empty corners.
Pixels that moved or changed between anchor and photo get low weight after the
first pass (Cauchy reweighting), so a slightly misaligned anchor still fits.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from .space import srgb_to_lab

MAX_SAMPLES = 12_000


@functools.lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    """The BLAS libraries loaded (found once: finding them walks every loaded library)."""
    return ThreadpoolController()


def _trilinear_matrix(points: np.ndarray, g: int) -> sp.csr_matrix:
    """Sparse (n_points, g^3) matrix of trilinear weights of each sRGB point."""
    x = np.clip(points, 0.0, 1.0) * (g - 1)
    i0 = np.minimum(x.astype(np.int64), g - 2)
    f = x - i0
    rows, cols, vals = [], [], []
    idx = np.arange(len(points))
    for dr in (0, 1):
        for dg in (0, 1):
            for db in (0, 1):
                w = ((f[:, 0] if dr else 1 - f[:, 0]) * (f[:, 1] if dg else 1 - f[:, 1])
                     * (f[:, 2] if db else 1 - f[:, 2]))
                node = ((i0[:, 0] + dr) * g + (i0[:, 1] + dg)) * g + (i0[:, 2] + db)
                rows.append(idx)
                cols.append(node)
                vals.append(w)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(len(points), g ** 3))


def _bands(g: int) -> int:
    """Half-bandwidth of the normal equations of a g^3 grid (nodes ordered r, g, b): a node
    meets its neighbours g^2 + g + 1 apart in a trilinear cell and 2 g^2 apart in the
    second differences along red."""
    return max(2 * g * g, g * g + g + 1)


def _to_banded(matrix: sp.spmatrix, bands: int, out: np.ndarray | None = None) -> np.ndarray:
    """The upper triangle of a symmetric sparse matrix in LAPACK's banded storage
    (ab[bands + i - j, j] = a[i, j]), added to `out` when given."""
    coo = matrix.tocoo()
    coo.sum_duplicates()   # (then each position once: a plain indexed += is exact)
    upper = coo.row <= coo.col
    ab = np.zeros((bands + 1, matrix.shape[0])) if out is None else out
    ab[bands + coo.row[upper] - coo.col[upper], coo.col[upper]] += coo.data[upper]
    return ab


@functools.lru_cache(maxsize=4)
def _regulariser(g: int, smoothness: float) -> np.ndarray:
    """smoothness D'D + a tiny ridge, banded (see `_to_banded`): D stacks the second-difference
    operators along r, g and b of a g^3 grid."""
    d1 = sp.diags([np.ones(g - 2), -2 * np.ones(g - 2), np.ones(g - 2)], [0, 1, 2], shape=(g - 2, g))
    eye = sp.identity(g)
    d = sp.vstack([sp.kron(sp.kron(d1, eye), eye), sp.kron(sp.kron(eye, d1), eye),
                   sp.kron(sp.kron(eye, eye), d1)]).tocsr()
    ab = _to_banded(smoothness * (d.T @ d) + 1e-4 * sp.identity(g ** 3), _bands(g))
    ab.setflags(write=False)
    return ab


def fit_lab_lut(source: np.ndarray, target_lab: np.ndarray, weights: np.ndarray | None = None, *,
                grid: int = 9, smoothness: float = 0.05, iterations: int = 3,
                outlier_scale: float = 6.0) -> np.ndarray:
    """Lab offsets (grid, grid, grid, 3) such that Lab(source) + offset(source) ~ target_lab.

    `source`: (n, 3) sRGB pixels; `target_lab`: (n, 3) Lab of the matching
    photo pixels; `weights`: optional per-pixel confidence. `smoothness` is the
    weight of the second-difference penalty relative to the mean data term;
    `outlier_scale` (Delta E units) sets where the Cauchy reweighting starts
    discounting pixels that do not agree with the fit.
    """
    if len(source) > MAX_SAMPLES:   # plenty for a few thousand unknowns; keeps the fit quick
        keep = np.linspace(0, len(source) - 1, MAX_SAMPLES).astype(np.intp)
        source, target_lab = source[keep], target_lab[keep]
        weights = None if weights is None else weights[keep]
    n = len(source)
    A = _trilinear_matrix(source.astype(np.float64), grid)
    residual0 = (target_lab - srgb_to_lab(source)).astype(np.float64)
    # The normal equations' matrix is positive definite (the ridge term) and banded (each node
    # meets only nearby nodes): a banded Cholesky solve, shared by the three Lab channels, is
    # ~10x quicker than a dense one (4.7 -> 0.5 ms at 729 unknowns) and than a sparse LU: the
    # fit is made once per clip, but a short clip is only a few dozen frames.
    reg = _regulariser(grid, float(smoothness))
    w = np.ones(n) if weights is None else weights.astype(np.float64)
    delta = np.zeros((grid ** 3, 3))
    # One BLAS thread: OpenBLAS's workers busy-wait ~0.1 s after every threaded call (measured:
    # 100 ms of CPU after each fit against 4 ms of wall saved), taking a core from the frames
    # that follow and from whatever else runs (a render, the daemon).
    with _blas().limit(limits=1, user_api="blas"):
        for _ in range(max(1, iterations)):
            weighted = sp.diags(w / max(w.sum(), 1e-9)) @ A
            lhs = _to_banded(A.T @ weighted, _bands(grid), reg.copy())
            delta = scipy.linalg.solveh_banded(lhs, weighted.T @ residual0, overwrite_ab=True,
                                               check_finite=False)
            err = np.linalg.norm(A @ delta - residual0, axis=1)
            robust = 1.0 / (1.0 + (err / outlier_scale) ** 2)
            w = robust if weights is None else robust * weights
    return delta.reshape(grid, grid, grid, 3).astype(np.float32)
