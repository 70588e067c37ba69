"""Vectorised Gaussian rasteriser for skeleton maps: grid joints in, grey levels out (§4.1 C–E).

The grid is the canvas, or the output for ``raster="output"`` (coordinates and sigmas already scaled by the
caller). Works on a chunk of frames cut into blocks (16-64 frames, chosen by the caller) and loops only over
the limbs/joints of the joint set; nothing builds the upstream ``(T, 17, H, W)`` stack. The output of a
channel is the grey level ``G = table[min(trunc(256 M), 255)]`` per grid pixel (``uint8``), ``table`` being the
colormap of step E. The tricks (engineering notes §1.2):

- **Windows** are upstream's exact ±3σ boxes, ``[int(lo - 3σ), int(hi + 3σ)]`` with Python ``int()``
  truncation, clipped. Each primitive is evaluated only on the union of its windows over a block of frames
  (the caller orders frames so that a block holds similar poses); pixels outside a frame's own window are
  excluded through its 1-D factors (a huge exponent for limbs, 0 for joints), so the blocking never changes
  a result.
- **Limbs, max**: ``max_l m_l exp(-q_l) = exp(-min_l (q_l - ln m_l))``: a float32 running per-pixel minimum
  of the exponent. In the limb's own frame (c across, w along from the midpoint, half length h, all in units
  of ``√2σ``) the squared pixel-to-segment distance is ``c² + max(|w| - h, 0)²``; the accumulator holds four
  times the exponent, ``(2c)² + max(2|w| - 2h, 0)² + 4·(-ln m)`` (scaling by 2 and 4 is exact in binary
  floating point; the maximum is taken against an array of zeros, 3x cheaper in numpy than against a scalar).
  2c and 2w are sums of an x-only and a y-only term, formed as a K=2 matrix product ``[t_y, 1] @ [1; t_x]``
  (exact whatever the BLAS kernel: each product is by 1; such small products never wake BLAS threads).
- **Quantisation** of the exponent needs no per-pixel ``exp``: ``trunc(256 exp(-E)) >= k`` iff
  ``E <= tau_k``, with float32 thresholds found once such that this equals float64 ``exp`` then truncation
  exactly (the float64 final stage of the determinism notes). One lookup on the float's bit pattern gives
  the grey level; the rare pixels whose table cell holds a threshold are re-evaluated exactly.
- **Joints** are separable: ``c exp(-dx²/2σ²) exp(-dy²/2σ²)``; float64 ``exp`` on the 1-D factors only,
  an outer product and a running float32 maximum, kept as (y, frame, x) so that a window over a block's
  frames is a 2-D region that ``cv2.max`` combines in one call (numpy's strided maximum paid per row).
- ``sum`` combination (an ablation, not upstream) accumulates ``exp`` per limb in float64 and per joint in
  float32, and clips to [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


def grey_table(quantise: str) -> np.ndarray:
    """``uint8 (256,)``: grey level of each colormap index (``lut_exact``: upstream; ``floor256``: identity)."""
    table = np.arange(256, dtype=np.uint8)
    if quantise == "lut_exact":
        table[list(LUT_OFF_BY_ONE)] -= 1
    elif quantise != "floor256":
        raise ValueError(f"unknown quantise mode {quantise!r}")
    return table


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


@lru_cache(maxsize=32)
def _key_tables(quantise: str, delta: float = 0.0) -> tuple[np.int32, np.ndarray, np.ndarray]:
    """A one-lookup version of :func:`_exact_indices` composed with the grey table of ``quantise``.

    The bit pattern of a non-negative float32 is monotonic in its value, so ``key = (bits - origin) >> 10``
    cuts E4 into cells of relative width 2^-13. ``code[key] = 2 * grey + ambiguous``: ``grey`` is the level at
    the cell's upper end and ``ambiguous`` marks the cells that hold a threshold or lie within ``delta`` (E4
    units) of one, whose pixels are re-evaluated: with ``delta = 0`` exactly from E4, with ``delta > 0`` (the
    caller's bound on how far its E4 can be from the exact upstream value) from the geometry itself. Returns
    ``origin``, ``code`` and the grey table.
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
    return origin, _frozen(code), _frozen(table)


def levels_from_exponent(
    E4: np.ndarray,
    out: np.ndarray,
    *,
    quantise: str,
    may_be_negative: bool = True,
    delta: float = 0.0,
    resolve: Callable[[np.ndarray], np.ndarray] | None = None,
) -> None:
    """Write grey levels ``table[min(trunc(256 exp(-E4 / 4)), 255)]`` of float32 ``E4`` into uint8 ``out``.

    Exact with respect to float64 ``exp``: a lookup on the float's bit pattern, then an exact re-evaluation
    of the pixels whose cell holds a threshold. ``E4`` must be contiguous and finite; values beyond the table
    give 0. ``may_be_negative=False`` promises ``E4 >= 0`` (no confidence above 1) and skips a clamp.

    ``delta > 0`` with ``resolve``: E4 is only known to within ``delta`` of the exact value; every pixel whose
    E4 lies within ``delta`` of a threshold is handed to ``resolve(flat_indices) -> uint8 grey levels`` (an
    exact evaluation from the geometry), so the result equals the exact one everywhere.
    """
    delta = band_ladder(delta) if delta > 0 else 0.0
    origin, code_table, table = _key_tables(quantise, delta)
    if may_be_negative:
        E4 = np.maximum(E4, np.float32(0.0))  # any E4 <= 0 has index 255; keeps the bit pattern monotonic
    key = np.subtract(E4.view(np.int32), origin)
    np.right_shift(key, _KEY_SHIFT, out=key)
    code = code_table.take(key, mode="clip")
    np.right_shift(code, 1, out=out, casting="unsafe")
    ambiguous = np.bitwise_and(code, 1, out=np.empty(code.shape, bool), casting="unsafe")
    if ambiguous.any():
        fix = np.flatnonzero(ambiguous)  # fast on bool, slow on integer arrays
        e = E4.reshape(-1)[fix]
        idx = _exact_indices(e)
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


@dataclass
class ChannelRaster:
    """One rendered channel of a chunk.

    Attributes:
        levels: ``uint8 (F, canvas, canvas)`` grey levels ``table[min(trunc(256 M), 255)]``.
        box: ``(y0, y1, x0, x1)`` half-open box holding every non-zero level; ``(0, 0, 0, 0)`` when empty.
    """

    levels: np.ndarray
    box: tuple[int, int, int, int]


class Workspace:
    """Reusable scratch buffers, so per-primitive temporaries do not page-fault fresh memory every time."""

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, str], np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
        """A contiguous, uninitialised array of ``shape`` backed by buffer ``name``."""
        n = math.prod(shape)
        key = (name, np.dtype(dtype).str)
        buf = self._buffers.get(key)
        if buf is None or buf.size < n:
            buf = np.empty(max(n, 1), dtype)
            self._buffers[key] = buf
        return buf[:n].reshape(shape)

    def zeros(self, name: str, n: int, dtype: type = np.float32) -> np.ndarray:
        """A read-only ``(n,)`` array of zeros backed by buffer ``name`` (never written, so reused as is)."""
        key = ("zeros:" + name, np.dtype(dtype).str)
        buf = self._buffers.get(key)
        if buf is None or buf.size < n:
            buf = np.zeros(max(n, 1), dtype)
            buf.setflags(write=False)
            self._buffers[key] = buf
        return buf[:n]


_BIG = np.iinfo(np.int64).max


@dataclass
class _Blocks:
    """A chunk of F frames cut into blocks of B frames, and each primitive's window union per block.

    Per-frame ``(F, P)`` arrays are padded and transposed to ``(n, P, B)`` (padding frames are not drawn), the
    layout of the pixel loops. ``x0, x1, y0, y1`` are ``(n, P)`` half-open unions (``x0 >= x1`` where nothing
    is drawn); ``width``/``height`` the largest union extents.
    """

    n: int
    size: int
    x0: np.ndarray
    x1: np.ndarray
    y0: np.ndarray
    y1: np.ndarray
    active: np.ndarray
    width: int
    height: int

    @classmethod
    def of(cls, x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray, draw: np.ndarray, block: int):
        edges = np.arange(0, x0.shape[0], block)
        bx0 = np.minimum.reduceat(np.where(draw, x0, _BIG), edges, axis=0)
        bx1 = np.maximum.reduceat(np.where(draw, x1, -1), edges, axis=0)
        by0 = np.minimum.reduceat(np.where(draw, y0, _BIG), edges, axis=0)
        by1 = np.maximum.reduceat(np.where(draw, y1, -1), edges, axis=0)
        active = bx0 < bx1
        width = int((bx1 - bx0)[active].max()) if active.any() else 0
        height = int((by1 - by0)[active].max()) if active.any() else 0
        bx0, by0 = np.where(active, bx0, 0), np.where(active, by0, 0)
        return cls(len(edges), block, bx0, bx1, by0, by1, active, width, height)

    def pad(self, a: np.ndarray, fill: float | bool) -> np.ndarray:
        """``(F, P)`` -> ``(n, P, B)``, padding frames set to ``fill``."""
        out = np.full((self.n * self.size,) + a.shape[1:], fill, dtype=a.dtype)
        out[: a.shape[0]] = a
        return out.reshape((self.n, self.size) + a.shape[1:]).transpose(0, 2, 1)

    def axis(self, start: np.ndarray, extent: int) -> np.ndarray:
        """Pixel coordinates of each block union along one axis: ``(n, P, 1, extent)`` float64."""
        return (start[:, :, None, None] + np.arange(extent)).astype(np.float64)

    def inside(self, pos: np.ndarray, start: np.ndarray, stop: np.ndarray, draw: np.ndarray) -> np.ndarray:
        """``(n, P, B, extent)`` bool: pixel inside the frame's own window ``[start, stop)`` and drawn;
        ``pos`` from :meth:`axis`, ``start, stop, draw`` per-frame ``(F, P)``."""
        inside = pos >= self.pad(start, 0)[..., None]
        inside &= pos < self.pad(stop, 0)[..., None]
        inside &= self.pad(draw, False)[..., None]
        return inside

    def outside(self, pos: np.ndarray, start: np.ndarray, stop: np.ndarray, draw: np.ndarray) -> np.ndarray:
        """The complement of :meth:`inside`."""
        return ~self.inside(pos, start, stop, draw)

    def plan(self, frames: int) -> list[tuple[int, int, tuple[int, int, int, int], list[tuple[int, ...]]]]:
        """The pixel loops' work, as Python ints: per block with a live primitive ``(f0, f1, box, items)``, the
        block's frames ``[f0, f1)``, the union box ``(y0, y1, x0, x1)`` of its live primitives and per live
        primitive ``(p, ys, ye, xs, xe)``: its union box relative to the block's box."""
        out = []
        x0, x1, y0, y1, active = (a.tolist() for a in (self.x0, self.x1, self.y0, self.y1, self.active))
        for k in range(self.n):
            live = [p for p, on in enumerate(active[k]) if on]
            if not live:
                continue
            cy0, cy1 = min(y0[k][p] for p in live), max(y1[k][p] for p in live)
            cx0, cx1 = min(x0[k][p] for p in live), max(x1[k][p] for p in live)
            items = [(p, y0[k][p] - cy0, y1[k][p] - cy0, x0[k][p] - cx0, x1[k][p] - cx0) for p in live]
            out.append((k * self.size, min((k + 1) * self.size, frames), (cy0, cy1, cx0, cx1), items))
        return out


class _Box:
    """Running union of half-open ``(y0, y1, x0, x1)`` boxes."""

    def __init__(self) -> None:
        self.y0 = self.x0 = _BIG
        self.y1 = self.x1 = -1

    def add(self, y0: int, y1: int, x0: int, x1: int) -> None:
        self.y0, self.y1 = min(self.y0, y0), max(self.y1, y1)
        self.x0, self.x1 = min(self.x0, x0), max(self.x1, x1)

    def get(self) -> tuple[int, int, int, int]:
        if self.y0 >= self.y1 or self.x0 >= self.x1:
            return (0, 0, 0, 0)
        return (int(self.y0), int(self.y1), int(self.x0), int(self.x1))


def _exact_grey(v: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Upstream's quantiser on float64 intensities: stored into a float32 plane, then
    ``table[min(trunc(256 v), 255)]`` (matplotlib's colormap)."""
    with np.errstate(over="ignore", invalid="ignore"):
        v32 = v.astype(np.float32)
        scaled = np.minimum(v32 * np.float32(256.0), np.float32(255.0))
    return table[np.where(np.isnan(scaled), 0, scaled).astype(np.int64)]  # NaN: matplotlib's "bad" colour, 0


def _pairs(
    f: np.ndarray, x: np.ndarray, y: np.ndarray, windows_: tuple[np.ndarray, ...], draw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(pixel, primitive)`` index pairs whose drawing window holds the pixel: ``(P,)`` each."""
    x0, x1, y0, y1 = windows_
    xx, yy = x[:, None], y[:, None]
    inside = draw[f] & (xx >= x0[f]) & (xx < x1[f]) & (yy >= y0[f]) & (yy < y1[f])  # (N, P)
    return np.nonzero(inside)


def _max_per_pixel(n: int, pix: np.ndarray, value: np.ndarray) -> np.ndarray:
    """``(n,) float64``: the maximum of ``value`` over the pairs of each pixel, 0 for a pixel without any."""
    best = np.zeros(n, np.float64)
    with np.errstate(invalid="ignore"):  # NaN from absurd coordinates propagates, as in upstream's planes
        np.maximum.at(best, pix, value)
    return best


def exact_limb_levels(
    f: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    seg: tuple[np.ndarray, ...],
    windows_: tuple[np.ndarray, ...],
    draw: np.ndarray,
    degen: np.ndarray,
    *,
    sigma: float,
    table: np.ndarray,
) -> np.ndarray:
    """Grey levels of the limb channel at pixels ``(f, y, x)``, evaluated exactly as upstream does.

    Upstream evaluates each limb's squared pixel-to-segment distance, the exponent and ``exp`` in float64,
    multiplies by the amplitude, stores into a float32 plane and takes the per-pixel maximum over limbs
    (domain reference §4.1 C-E); a limb under ``point_below`` is a point Gaussian at ``a`` with amplitude
    ``c_a``. ``seg = (ax, ay, bx, by, ca, m)`` and ``windows_ = (x0, x1, y0, y1)`` are the chunk's ``(F, L)``
    arrays; ``f, x, y`` index frames and grid pixels, shape ``(N,)``. Returns ``uint8 (N,)``.
    """
    ax, ay, bx, by, ca, m = seg
    pix, limb = _pairs(f, x, y, windows_, draw)
    fs = f[pix]
    xs, ys = x[pix].astype(np.float64), y[pix].astype(np.float64)
    sx, sy, ex, ey = ax[fs, limb], ay[fs, limb], bx[fs, limb], by[fs, limb]
    point = degen[fs, limb]
    with np.errstate(invalid="ignore", over="ignore"):  # absurd coordinates: upstream's inf/NaN, quantised
        d2_start = (xs - sx) ** 2 + (ys - sy) ** 2
        d2_end = (xs - ex) ** 2 + (ys - ey) ** 2
        d2_ab = (sx - ex) ** 2 + (sy - ey) ** 2
        coeff = (d2_start - d2_end + d2_ab) / 2.0 / np.where(point, 1.0, d2_ab)
        d2_line = (xs - (sx + coeff * (ex - sx))) ** 2 + (ys - (sy + coeff * (ey - sy))) ** 2
        d2 = np.where(coeff <= 0, d2_start, np.where(coeff >= 1, d2_end, d2_line))
        value = np.where(
            point,
            np.exp(-d2_start / 2.0 / sigma**2) * ca[fs, limb],
            np.exp(-d2 / 2.0 / sigma**2) * m[fs, limb],
        )
    return _exact_grey(_max_per_pixel(f.shape[0], pix, value), table)


def exact_joint_levels(
    f: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    centres: tuple[np.ndarray, np.ndarray, np.ndarray],
    windows_: tuple[np.ndarray, ...],
    draw: np.ndarray,
    *,
    sigma: float,
    table: np.ndarray,
) -> np.ndarray:
    """Grey levels of the joint channel at pixels ``(f, y, x)``, evaluated exactly as upstream does (float64
    ``exp(-((x - mx)^2 + (y - my)^2) / 2 / sigma^2)`` times the confidence, float32 plane, maximum over joints).
    ``centres = (mux, muy, c)`` and ``windows_`` are the chunk's ``(F, J)`` arrays. Returns ``uint8 (N,)``."""
    mux, muy, c = centres
    pix, joint = _pairs(f, x, y, windows_, draw)
    fs = f[pix]
    xs, ys = x[pix].astype(np.float64), y[pix].astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        d2 = (xs - mux[fs, joint]) ** 2 + (ys - muy[fs, joint]) ** 2
        value = np.exp(-d2 / 2.0 / sigma**2) * c[fs, joint]
    return _exact_grey(_max_per_pixel(f.shape[0], pix, value), table)


def _limb_band(
    length: np.ndarray, lm4: np.ndarray, draw: np.ndarray, degen: np.ndarray, kappa: float
) -> float:
    """A bound (E4 units) on how far the float32 limb exponent can lie from the exact float64 one, at the
    pixels where it matters (within the bound of a quantisation threshold).

    In the limb's frame, ``2c`` (across) and ``2w`` (along) are sums of two float32-rounded 1-D terms, whose
    magnitudes add up to at most ``|2w| + |2c|`` (a rotation). Near a threshold the exponent is at most
    ``R^2 = 4 ln 256 + max(0, 4 ln m) + 1``, so ``|2c| <= R`` and ``|2w| <= H + R`` with ``H`` the largest
    ``2h`` (the limb length in units of sqrt(2) sigma). Adding up the roundings (unit roundoff ``u``) of the
    terms, their sums, ``2h``, the subtraction, the squares, the sums of the exponent and ``-4 ln m``:
    ``u (8 R H + 19 R^2 + 2 L4)``, with ``L4`` the largest ``|4 ln m|``. 10% and 2^-20 more cover the float64
    side and the float32 store of upstream's intensity (relative 2^-25).
    """
    if not draw.any():
        return 0.0
    lm4_drawn = lm4[draw]
    if not np.isfinite(lm4_drawn).all() or not np.isfinite(length[draw]).all():
        return math.inf
    H = float(np.where(degen, 0.0, length * kappa)[draw].max())
    L4 = float(np.abs(lm4_drawn).max())
    R = math.sqrt(4.0 * math.log(256.0) + max(0.0, -float(lm4_drawn.min())) + 1.0)
    return 1.1 * _U32 * (8.0 * R * H + 19.0 * R * R + 2.0 * L4) + 2.0**-20


# Relative band of the joint channel's float32 intensity (three float32 roundings, 3 u) in which a pixel is
# re-evaluated exactly: 16 u leaves room for the rounding of the band test and of upstream's float32 store.
_JOINT_BAND = np.float32(16.0 * _U32)


def _limb_resolver(f0, cy0, cx0, shape, seg, windows_, draw, degen, sigma, table):
    """``resolve`` for :func:`levels_from_exponent` on a limb accumulator ``(nf, h, w)`` at block offset
    ``(f0, cy0, cx0)``."""
    _, h, w = shape

    def resolve(flat: np.ndarray) -> np.ndarray:
        f, rest = np.divmod(flat, h * w)
        y, x = np.divmod(rest, w)
        return exact_limb_levels(
            f + f0, x + cx0, y + cy0, seg, windows_, draw, degen, sigma=sigma, table=table
        )

    return resolve


def render_limbs(
    q: np.ndarray,
    conf: np.ndarray,
    limbs: Sequence[tuple[int, int]],
    *,
    sigma: float,
    eps: float,
    window_sigmas: float,
    canvas: int,
    combine: str,
    quantise: str = "lut_exact",
    block: int = 16,
    workspace: Workspace | None = None,
    point_below: float = 1.0,
    exact: bool = True,
) -> ChannelRaster:
    """Limb channel of a chunk (§4.1 C limb, D, E).

    Args:
        q: ``(F, 17, 2) float64`` grid coordinates (pixel centres at integers).
        conf: ``(F, 17) float64`` confidences; joints outside the joint set must already be 0.
        limbs: edges ``(a, b)`` to draw.
        sigma, eps, window_sigmas: see :class:`~gaitprep.heatmaps.spec.HeatmapSpec` (sigma in grid px).
        canvas: side of the square grid drawn on (px): the canvas, or the output for ``raster="output"``.
        combine: ``"max"`` (upstream) or ``"sum"`` (clipped to 1).
        quantise: grey table, ``"lut_exact"`` (upstream) or ``"floor256"`` (see :func:`grey_table`).
        block: frames whose pixels are computed together. Each limb is evaluated on the union of its windows
            over a block, so a block of similar poses wastes least; results do not depend on the blocking.
        workspace: scratch buffers to reuse across calls.
        point_below: a limb shorter than this (grid px) is drawn as a point Gaussian at ``a`` (upstream: 1 canvas
            px; a grid finer or coarser than the canvas passes 1 canvas px in its own units).
        exact: (max combination) re-evaluate, exactly as upstream in float64, every pixel whose float32
            exponent lies within its error bound of a quantisation threshold, so that every grey level equals
            upstream's (0 differing pixels); a few percent of the cost.

    Returns:
        :class:`ChannelRaster` of grey levels.
    """
    ws = workspace or Workspace()
    F = q.shape[0]
    levels = np.zeros((F, canvas, canvas), np.uint8)
    if not limbs or F == 0:
        return ChannelRaster(levels, (0, 0, 0, 0))
    a_idx = np.array([a for a, _ in limbs])
    b_idx = np.array([b for _, b in limbs])
    kappa = 1.0 / (np.sqrt(2.0) * sigma)
    radius = window_sigmas * sigma
    ax, ay, bx, by = q[:, a_idx, 0], q[:, a_idx, 1], q[:, b_idx, 0], q[:, b_idx, 1]  # (F, L)
    ca, cb = conf[:, a_idx], conf[:, b_idx]
    m = np.minimum(ca, cb)
    d2 = (ax - bx) ** 2 + (ay - by) ** 2
    # Upstream skips a limb whose endpoint-box window is empty, then draws a limb under 1 px as a point
    # Gaussian at a, amplitude c_a, on the point's own window.
    bx0, bx1 = windows(np.minimum(ax, bx), np.maximum(ax, bx), radius, canvas)
    by0, by1 = windows(np.minimum(ay, by), np.maximum(ay, by), radius, canvas)
    degen = d2 < point_below * point_below
    px0, px1 = windows(ax, ax, radius, canvas)
    py0, py1 = windows(ay, ay, radius, canvas)
    x0, x1 = np.where(degen, px0, bx0), np.where(degen, px1, bx1)
    y0, y1 = np.where(degen, py0, by0), np.where(degen, py1, by1)
    draw = (m >= eps) & (bx0 < bx1) & (by0 < by1) & (x0 < x1) & (y0 < y1)
    if not draw.any():
        return ChannelRaster(levels, (0, 0, 0, 0))
    amp = np.where(draw, np.where(degen, ca, m), 1.0)
    may_be_negative = bool((amp > 1.0).any())
    # Limb frame: midpoint, unit direction and length (0 for a point), in units of sqrt(2) sigma.
    length = np.sqrt(d2)
    safe = np.where(degen, 1.0, length)
    ux = np.where(degen, 1.0, (bx - ax) / safe)
    uy = np.where(degen, 0.0, (by - ay) / safe)
    mx = np.where(degen, ax, (ax + bx) / 2.0)
    my = np.where(degen, ay, (ay + by) / 2.0)
    band = 0.0
    if exact and combine == "max":
        lm4_full = -4.0 * np.log(amp)
        band = _limb_band(length, lm4_full, draw, degen, kappa)
    seg = (ax, ay, bx, by, ca, m)
    blocks = _Blocks.of(x0, x1, y0, y1, draw, block)
    B, L = block, len(limbs)
    # Per (block, limb, frame), shaped (n, L, B, 1, 1) to broadcast over a window: the length 2h (twice the
    # half length: the loop works with 2w, 2c so that (2 max(|w| - h, 0))^2 needs one maximum) and 4 (-ln m).
    half2 = np.ascontiguousarray(blocks.pad(np.where(degen, 0.0, length * kappa).astype(np.float32), 0.0))
    lm4 = np.ascontiguousarray(blocks.pad((-4.0 * np.log(amp)).astype(np.float32), 0.0))
    half2, lm4 = half2[..., None, None], lm4[..., None, None]
    ux_p, uy_p, mx_p, my_p = (blocks.pad(v, 0.0)[..., None] for v in (ux, uy, mx, my))  # (n, L, B, 1)
    # Matrix-product operands per block, limb and frame on the block's union box: 2c = [2 cy, 1] @ [1; 2 cx],
    # 2w = [2 wy, 1] @ [1; 2 wx]; (n, L, B, height, 2) and (n, L, B, 2, width). Scaling by 2 is exact, so
    # these are bit for bit twice the upstream-scaled coordinates.
    px = blocks.axis(blocks.x0, blocks.width)  # (n, L, 1, width)
    py = blocks.axis(blocks.y0, blocks.height)
    dx = (px - mx_p) * kappa  # (n, L, B, width)
    dy = (py - my_p) * kappa
    shape_l, shape_r = (blocks.n, L, B, blocks.height, 2), (blocks.n, L, B, 2, blocks.width)
    across_l, across_r = np.ones(shape_l, np.float32), np.ones(shape_r, np.float32)
    along_l, along_r = np.ones(shape_l, np.float32), np.ones(shape_r, np.float32)
    # Outside a frame's window the across factor is _FAR: adding it to a value below 1e10 and rounding to
    # float32 gives exactly _FAR (cheaper than np.where on these arrays).
    across_r[..., 1, :] = dx * (2.0 * uy_p) + blocks.outside(px, x0, x1, draw) * np.float64(_FAR)
    across_l[..., 0] = dy * (-2.0 * ux_p) + blocks.outside(py, y0, y1, draw) * np.float64(_FAR)
    along_r[..., 1, :] = (dx * ux_p) * 2.0
    along_l[..., 0] = (dy * uy_p) * 2.0
    use_max = combine == "max"
    init4 = init_exponent()
    table = grey_table(quantise)
    work = B * blocks.height * blocks.width
    scratch = ws.get("limb_scratch", (2, work))
    zeros = ws.zeros("limb_zeros", work)
    channel = _Box()
    for f0, f1, (cy0, cy1, cx0, cx1), items in blocks.plan(F):
        k, nf = f0 // B, f1 - f0
        channel.add(cy0, cy1, cx0, cx1)
        acc = ws.get("limb_acc", (nf, cy1 - cy0, cx1 - cx0), np.float32 if use_max else np.float64)
        acc.fill(init4 if use_max else 0.0)
        for i, ys, ye, xs, xe in items:
            h, w = ye - ys, xe - xs
            n_px = nf * h * w
            e4 = scratch[0, :n_px].reshape(nf, h, w)
            r = scratch[1, :n_px].reshape(nf, h, w)
            np.matmul(along_l[k, i, :nf, :h], along_r[k, i, :nf, :, :w], out=e4)  # 2w
            np.abs(e4, out=e4)
            np.subtract(e4, half2[k, i, :nf], out=e4)  # 2 (|w| - h)
            np.maximum(e4, zeros[:n_px].reshape(nf, h, w), out=e4)  # an array operand: a scalar is 3x slower
            np.square(e4, out=e4)
            np.matmul(across_l[k, i, :nf, :h], across_r[k, i, :nf, :, :w], out=r)  # 2c
            np.square(r, out=r)
            np.add(e4, r, out=e4)
            np.add(e4, lm4[k, i, :nf], out=e4)
            box = acc[:, ys:ye, xs:xe]
            if use_max:
                np.minimum(box, e4, out=box)
            else:
                box += np.exp(e4 * np.float32(-0.25), dtype=np.float64)
        target = levels[f0:f1, cy0:cy1, cx0:cx1]
        if use_max and band > MAX_BAND:  # the float32 path cannot be trusted anywhere: evaluate it all
            target[...] = _limb_resolver(
                f0, cy0, cx0, acc.shape, seg, (x0, x1, y0, y1), draw, degen, sigma, table
            )(np.arange(acc.size)).reshape(acc.shape)
        elif use_max:
            resolve = None
            if band > 0:
                resolve = _limb_resolver(
                    f0, cy0, cx0, acc.shape, seg, (x0, x1, y0, y1), draw, degen, sigma, table
                )
            levels_from_exponent(
                acc, target, quantise=quantise, may_be_negative=may_be_negative, delta=band, resolve=resolve
            )
        else:
            levels_from_linear(acc, target, table=table)
    return ChannelRaster(levels, channel.get())


def _gaussian_factor(pos: np.ndarray, mu: np.ndarray, kappa: float, amp: np.ndarray | None) -> np.ndarray:
    """``float32(exp(-((pos - mu) kappa)^2) [* amp])``, evaluated in float64 (in place: it is the setup's largest
    array). ``pos (n, P, 1, E)``, ``mu`` and ``amp`` ``(n, P, B)``; returns ``(n, P, B, E)``."""
    d = pos - mu[..., None]
    d *= kappa
    np.square(d, out=d)
    np.negative(d, out=d)
    np.exp(d, out=d)
    if amp is not None:
        d *= amp[..., None]
    return d.astype(np.float32)


def _joint_levels_and_ambiguous(
    acc: np.ndarray, target: np.ndarray, table: np.ndarray, may_reach_one: bool, ws: Workspace
) -> np.ndarray:
    """Write the joint channel's grey levels of float32 intensities ``acc`` into ``target`` and return the flat
    indices (into ``acc``) whose colormap index could change within the relative band ``_JOINT_BAND``: the
    index is taken at ``M (1 - b)`` and compared with the one at ``M (1 + b)``; those pixels are re-evaluated.
    """
    if may_reach_one:
        acc = np.minimum(acc, np.nextafter(np.float32(1), np.float32(0)))
    hi = ws.get("joint_band_hi", acc.shape, np.uint8)
    np.multiply(acc, np.float32(256.0) * (1 + _JOINT_BAND), out=hi, casting="unsafe")  # 256 wraps to 0
    np.multiply(acc, np.float32(256.0) * (1 - _JOINT_BAND), out=target, casting="unsafe")
    fix = np.flatnonzero(hi != target)
    if not _is_identity(table):
        apply_table(target, table)
    return fix


def render_joints(
    q: np.ndarray,
    conf: np.ndarray,
    joints: Sequence[int],
    *,
    sigma: float,
    eps: float,
    window_sigmas: float,
    canvas: int,
    combine: str,
    quantise: str = "lut_exact",
    block: int = 16,
    workspace: Workspace | None = None,
    exact: bool = True,
) -> ChannelRaster:
    """Joint channel of a chunk (§4.1 C joint, D, E). Arguments as :func:`render_limbs`, with ``joints`` the
    COCO-17 indices to draw; ``exact`` re-evaluates the pixels whose float32 intensity lies within its error
    bound of a quantisation boundary exactly as upstream does."""
    ws = workspace or Workspace()
    F = q.shape[0]
    levels = np.zeros((F, canvas, canvas), np.uint8)
    if not joints or F == 0:
        return ChannelRaster(levels, (0, 0, 0, 0))
    v_idx = np.array(list(joints))
    kappa = 1.0 / (np.sqrt(2.0) * sigma)
    radius = window_sigmas * sigma
    mux, muy, c = q[:, v_idx, 0], q[:, v_idx, 1], conf[:, v_idx]  # (F, J)
    x0, x1 = windows(mux, mux, radius, canvas)
    y0, y1 = windows(muy, muy, radius, canvas)
    draw = (c >= eps) & (x0 < x1) & (y0 < y1)
    if not draw.any():
        return ChannelRaster(levels, (0, 0, 0, 0))
    # float32 products of factors below 1 stay below 1; a sum is clamped.
    may_reach_one = combine != "max" or bool((c[draw] >= 1.0 - 1e-6).any())
    blocks = _Blocks.of(x0, x1, y0, y1, draw, block)
    B = block
    # Separable factors on each block's union box, float64 exp stored float32, 0 outside each frame's
    # window: (n, J, B, height) as (n, J, B, height, 1) and (n, J, B, width) as (n, J, B, 1, width).
    px = blocks.axis(blocks.x0, blocks.width)
    py = blocks.axis(blocks.y0, blocks.height)
    fx = _gaussian_factor(px, blocks.pad(mux, 0.0), kappa, blocks.pad(c, 0.0))
    fx *= blocks.inside(px, x0, x1, draw)  # (n, J, B, width)
    fy = _gaussian_factor(py, blocks.pad(muy, 0.0), kappa, None)
    fy *= blocks.inside(py, y0, y1, draw)
    # Rows (y, frame), columns x: the pixel loop's accumulator is (height, frames, width), so a window is a
    # 2-D region (rows y0 * nf .. y1 * nf) that OpenCV max-combines in one call with no per-row cost.
    fy = np.ascontiguousarray(fy.transpose(0, 1, 3, 2))[..., None]  # (n, J, height, B, 1)
    use_max = combine == "max"
    table = grey_table(quantise)
    scratch = ws.get("joint_scratch", (B * blocks.height * blocks.width,))
    channel = _Box()
    for f0, f1, (cy0, cy1, cx0, cx1), items in blocks.plan(F):
        k, nf = f0 // B, f1 - f0
        channel.add(cy0, cy1, cx0, cx1)
        acc = ws.get("joint_acc", (cy1 - cy0, nf, cx1 - cx0))
        acc.fill(0.0)
        rows = acc.reshape(-1, cx1 - cx0)
        for i, ys, ye, xs, xe in items:
            h, w = ye - ys, xe - xs
            patch = scratch[: nf * h * w].reshape(h, nf, w)
            np.multiply(fy[k, i, :h, :nf], fx[k, i, :nf, :w], out=patch)
            box = rows[ys * nf : ye * nf, xs:xe]
            if use_max:
                cv2.max(box, patch.reshape(h * nf, w), dst=box)
            else:
                box += patch.reshape(h * nf, w)
        target = levels[f0:f1, cy0:cy1, cx0:cx1].transpose(1, 0, 2)
        if not (exact and use_max):
            levels_from_linear(acc, target, table=table, may_reach_one=may_reach_one)
        else:
            fix = _joint_levels_and_ambiguous(acc, target, table, may_reach_one, ws)
            if fix.size:
                yy, rest = np.divmod(fix, nf * (cx1 - cx0))
                ff, xx = np.divmod(rest, cx1 - cx0)
                target[yy, ff, xx] = exact_joint_levels(
                    ff + f0,
                    xx + cx0,
                    yy + cy0,
                    (mux, muy, c),
                    (x0, x1, y0, y1),
                    draw,
                    sigma=sigma,
                    table=table,
                )
    return ChannelRaster(levels, channel.get())
