"""Grey levels of the skeleton maps (§4.1 E): the upstream colormap tables and the exact quantisation of the
Gaussian exponent (or of linear intensities) to ``uint8`` levels, for :mod:`gaitprep.heatmaps.raster` and the
limb and joint rasterisers (:mod:`~gaitprep.heatmaps.limbs`, :mod:`~gaitprep.heatmaps.joints`).

See :mod:`gaitprep.heatmaps.raster` for the tricks (quantisation without a per-pixel ``exp``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

# Colormap indices where matplotlib's ``gray`` LUT truncates to i - 1 (§4.1 E).
LUT_OFF_BY_ONE: tuple[int, ...] = (
    33, 37, 41, 45, 49, 53, 57, 61, 66, 74, 82, 90, 98, 106, 114, 122,
    132, 148, 164, 180, 196, 212, 228, 244,
)  # fmt: skip

_CELLS_PER_UNIT = 4096  # cells per unit of E; a power of two, so E * 4096 is exact in float32
_E4_TO_CELL = np.float32(_CELLS_PER_UNIT / 4)  # the accumulator holds 4 E
# Stands for "outside the window" in the limb exponent's 1-D factors: squared it stays finite in float32
# (4e36 < 3.4e38), and unlike inf it cannot turn into NaN through a zero product inside a BLAS kernel.
_FAR = np.float32(1e18)


@lru_cache(maxsize=4)
def grey_table(quantise: str) -> np.ndarray:
    """``uint8 (256,)``, read-only: grey level of each colormap index (``lut_exact``: upstream; ``floor256``:
    identity)."""
    table = np.arange(256, dtype=np.uint8)
    if quantise == "lut_exact":
        table[list(LUT_OFF_BY_ONE)] -= 1
    elif quantise != "floor256":
        raise ValueError(f"unknown quantise mode {quantise!r}")
    return _frozen(table)


def _exp_level_reached(e: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``256 * exp(-e) >= k`` evaluated in float64 for float32 ``e``."""
    return 256.0 * np.exp(-e.astype(np.float64)) >= k


@lru_cache(maxsize=1)
def _exponent_tables() -> tuple[np.ndarray, np.ndarray, np.float32]:
    """Tables mapping ``E4 = 4 E`` (float32) to ``min(trunc(256 exp(-E)), 255)`` exactly.

    Returns ``base (cells,) uint8``, ``thr4 (cells,) float32`` and ``cap4``: the index of ``E4`` in cell
    ``j = trunc(E4 * 1024)`` (clipped into the table) is ``base[j] + (E4 <= thr4[j])``; ``cap4`` is a value
    whose index is 0, used to initialise accumulators.
    """
    k = np.arange(1, 256, dtype=np.float64)
    # tau_k: the largest float32 E with 256 * exp(-E) >= k in float64; start at ln(256 / k) and step by ulps.
    tau = np.log(256.0 / k).astype(np.float32)
    for _ in range(64):
        low = ~_exp_level_reached(tau, k)
        high = _exp_level_reached(np.nextafter(tau, np.float32(np.inf)), k)
        if not (low.any() or high.any()):
            break
        tau = np.where(low, np.nextafter(tau, np.float32(-np.inf)), tau)
        tau = np.where(high, np.nextafter(tau, np.float32(np.inf)), tau)
    else:  # pragma: no cover - float64 exp would have to be wildly wrong
        raise RuntimeError("could not derive the colormap thresholds")
    n_cells = int(np.floor(float(tau[0]) * _CELLS_PER_UNIT)) + 2
    lo = np.arange(n_cells, dtype=np.float64) / _CELLS_PER_UNIT
    hi = lo + 1.0 / _CELLS_PER_UNIT
    base = (tau[None, :] >= hi[:, None]).sum(axis=1)
    inside = (tau[None, :] >= lo[:, None]) & (tau[None, :] < hi[:, None])
    assert inside.sum(axis=1).max() <= 1  # thresholds are >= ln(256/255) apart, cells 1/4096 wide
    thr = np.full(n_cells, -np.inf, dtype=np.float32)
    rows, cols = np.nonzero(inside)
    thr[rows] = tau[cols]
    assert base[-1] == 0 and thr[-1] == -np.inf  # the last cell: index 0
    cap4 = np.float32(4.0 * (n_cells - 1) / _CELLS_PER_UNIT)
    return _frozen(np.minimum(base, 255).astype(np.uint8)), _frozen(thr * np.float32(4.0)), cap4


def _frozen(a: np.ndarray) -> np.ndarray:
    """Cached tables are shared: make them read-only."""
    a.setflags(write=False)
    return a


def _exact_indices(E4: np.ndarray) -> np.ndarray:
    """``min(trunc(256 exp(-E4 / 4)), 255)`` of a float32 array as uint8, by the cell tables."""
    base, thr4, _ = _exponent_tables()
    cell = np.multiply(E4, _E4_TO_CELL, out=np.empty(E4.shape, np.intp), casting="unsafe")
    out = np.less_equal(E4, thr4.take(cell, mode="clip")).astype(np.uint8)
    out += base.take(cell, mode="clip")
    return out


_KEY_SHIFT = 10  # float32 bit patterns per key: 2^-13 relative width, well under the threshold spacing
_U32 = 2.0**-24  # unit roundoff of float32
# Accumulators start here: far beyond the last threshold plus any ambiguity band, so an untouched pixel is
# a clear 0.
_FAR_E4_MARGIN = 1.0


@lru_cache(maxsize=1)
def _threshold_bounds() -> np.ndarray:
    """``(257,) float32``: ``[inf, 4 tau_1, ..., 4 tau_255, -inf]``: a float32 ``E4`` of colormap index ``k`` lies
    in ``(bounds[k + 1], bounds[k]]``."""
    _, thr4, _ = _exponent_tables()
    taus = np.sort(thr4[np.isfinite(thr4)])[::-1]
    assert taus.size == 255
    return _frozen(np.concatenate([[np.inf], taus, [-np.inf]]).astype(np.float32))


def init_exponent() -> np.float32:
    """Initial value of a max-combination exponent accumulator (``4 E``): grey level 0, never ambiguous."""
    return np.float32(_exponent_tables()[2] + _FAR_E4_MARGIN)


# The widest ambiguity band with a table; a wider error bound (absurd coordinates) re-evaluates every pixel.
MAX_BAND = 0.25


def band_ladder(delta: float) -> float:
    """The smallest ``2^(k/4)`` >= ``delta`` (at least 2^-22, at most ``MAX_BAND``): ambiguity bands come in a
    few cached sizes, at most 19% wider than asked."""
    if not delta <= MAX_BAND:
        return MAX_BAND
    return 2.0 ** (max(-88, math.ceil(4.0 * math.log2(max(delta, 2.0**-22)))) / 4.0)


@lru_cache(maxsize=8)
def _key_tables(quantise: str, delta: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A one-lookup version of :func:`_exact_indices` composed with the grey table of ``quantise``.

    The bit pattern of a non-negative float32 is monotonic in its value, so ``key = bits >> 10`` cuts E4 into
    cells of relative width 2^-13. ``code[key] = 2 * grey + ambiguous``: ``grey`` is the level at the cell's
    upper end and ``ambiguous`` marks the cells that hold a threshold or lie within ``delta`` (E4 units) of one,
    whose pixels are re-evaluated: with ``delta = 0`` exactly from E4, with ``delta > 0`` (the caller's bound
    on how far its E4 can be from the exact upstream value) from the geometry itself. The table starts at key
    0 (2 MB, of which the lookups touch the last tenth), so no subtraction is needed, and a negative E4 (a
    negative key, clipped to 0) gets the first cell's code like any E4 below it. Returns ``code`` and the grey
    table.
    """
    table = grey_table(quantise)
    _, thr4, cap4 = _exponent_tables()
    low = np.float32(np.log(256.0 / 255.0) / 2.0)  # below the smallest threshold 4 ln(256/255)
    # E4 below ``low`` clips to the first cell (level 255), beyond the top to the last (level 0, never ambiguous
    # for delta < _FAR_E4_MARGIN / 2): both are correct, since a clipped value is further from every threshold.
    origin = np.int32((int(np.array(low, np.float32).view(np.int32)) >> _KEY_SHIFT) << _KEY_SHIFT)
    top = int(np.array(np.float32(cap4 + _FAR_E4_MARGIN / 2), np.float32).view(np.int32))
    n_keys = ((top - int(origin)) >> _KEY_SHIFT) + 2
    first = origin + (np.arange(n_keys, dtype=np.int64) << _KEY_SHIFT)
    lo = first.astype(np.int32).view(np.float32)
    hi = (first + (1 << _KEY_SHIFT) - 1).astype(np.int32).view(np.float32)
    lev_lo, lev_hi = _exact_indices(lo).astype(np.int32), _exact_indices(hi).astype(np.int32)
    assert (lev_lo - lev_hi).max() <= 1 and lev_hi[-1] == 0
    ambiguous = lev_lo != lev_hi
    if delta > 0:
        taus = np.sort(thr4[np.isfinite(thr4)].astype(np.float64))
        near = np.searchsorted(taus, hi.astype(np.float64) + delta, "right") > np.searchsorted(
            taus, lo.astype(np.float64) - delta, "left"
        )
        ambiguous |= near
        assert not ambiguous[-1]
    code = (2 * table[lev_hi].astype(np.int32) + ambiguous).astype(np.uint16)
    full = np.concatenate([np.full(int(origin) >> _KEY_SHIFT, code[0], np.uint16), code])
    return _frozen(full), table


def levels_from_exponent(
    E4: np.ndarray,
    out: np.ndarray,
    *,
    quantise: str,
    delta: float = 0.0,
    resolve: Callable[[np.ndarray], np.ndarray] | None = None,
) -> None:
    """Write grey levels ``table[min(trunc(256 exp(-E4 / 4)), 255)]`` of float32 ``E4`` into uint8 ``out``.

    Exact with respect to float64 ``exp``: a lookup on the float's bit pattern, then an exact re-evaluation
    of the pixels whose cell holds a threshold. ``E4`` must be contiguous and finite; values beyond the table
    give 0, values at or below 0 index 255 (a negative float's key clips to the first cell: no clamp).

    ``delta > 0`` with ``resolve``: E4 is only known to within ``delta`` of the exact value; every pixel whose
    E4 lies within ``delta`` of a threshold is handed to ``resolve(flat_indices) -> uint8 grey levels`` (an
    exact evaluation from the geometry), so the result equals the exact one everywhere.
    """
    delta = band_ladder(delta) if delta > 0 else 0.0
    code_table, table = _key_tables(quantise, delta)
    key = np.right_shift(E4.view(np.int32), _KEY_SHIFT)  # negative for E4 < 0: clipped to the first cell
    code = code_table.take(key, mode="clip")
    np.right_shift(code, 1, out=out, casting="unsafe")
    ambiguous = np.bitwise_and(code, 1, out=np.empty(code.shape, bool), casting="unsafe")
    if ambiguous.any():
        fix = np.flatnonzero(ambiguous)  # fast on bool, slow on integer arrays
        e = E4.reshape(-1)[fix]
        idx = _exact_indices(np.maximum(e, np.float32(0.0)))  # E4 < 0 (a confidence above 1): index 255
        exact = table.take(idx)
        if resolve is not None and delta > 0:
            # Only the pixels within delta of a threshold need the geometry; the rest of their cells are decided.
            bounds = _threshold_bounds()
            near = np.flatnonzero(
                (bounds.take(idx.astype(np.intp)) - e <= delta)
                | (e - bounds.take(idx.astype(np.intp) + 1) <= delta)
            )
            if near.size:
                exact[near] = resolve(fix[near])
        if out.flags.c_contiguous:
            out.reshape(-1)[fix] = exact
        else:
            out[np.unravel_index(fix, E4.shape)] = exact


def levels_from_linear(
    M: np.ndarray, out: np.ndarray, *, table: np.ndarray, may_reach_one: bool = True
) -> None:
    """Write grey levels ``table[min(trunc(256 M), 255)]`` of a non-negative intensity array into uint8 ``out``
    (matplotlib's colormap: ``256 M`` is exact for float32, values at or above 1 give index 255).

    ``may_reach_one=False`` promises ``M < 1`` and skips the clamp.
    """
    if may_reach_one:
        M = np.minimum(M, np.nextafter(M.dtype.type(1), M.dtype.type(0)))
    np.multiply(M, M.dtype.type(256), out=out, casting="unsafe")
    if not _is_identity(table):
        apply_table(out, table)


def apply_table(levels: np.ndarray, table: np.ndarray) -> None:
    """``levels[...] = table[levels]`` for uint8 ``levels`` of any layout, through OpenCV's LUT (numpy's take
    widens every index to intp first, several times slower)."""
    if levels.size == 0:
        return
    flat = np.ascontiguousarray(levels).reshape(-1, 1)
    levels[...] = cv2.LUT(flat, table.reshape(1, 256)).reshape(levels.shape)


def _is_identity(table: np.ndarray) -> bool:
    return bool(table[33] == 33)  # the first index lut_exact lowers


def windows(lo: np.ndarray, hi: np.ndarray, radius: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Upstream drawing windows: ``[max(int(lo - r), 0), min(int(hi + r) + 1, n))`` as int64 start/stop.

    ``int()`` truncates toward zero (not floor), which matters for windows ending just left of the canvas.
    """
    start = np.clip(np.trunc(lo - radius), 0, n).astype(np.int64)
    stop = np.clip(np.trunc(hi + radius) + 1, 0, n).astype(np.int64)
    return start, stop
