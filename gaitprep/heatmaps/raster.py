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
  times the exponent, ``(2c)² + 4·(-ln m) + max(2|w| - 2h, 0)²`` (scaling by 2 and 4 is exact in binary
  floating point). 2w is a sum of a y-only and an x-only term, the K=2 matrix product ``[P, 1] @ [1; Q]``
  (each product by 1: the float32 sum whatever the BLAS kernel); ``(2c)² + 4·(-ln m)`` with ``2c = Y + X`` is
  the K=3 product ``[Y² + lm4, 2Y, 1] @ [1; X; X²]``, and ``cv2.accumulateSquare`` adds the clamped along
  term: seven passes over a limb's pixels in all. Such small products never wake BLAS threads. Pixels are
  laid out (y, frame, x), so a limb's box over a block's frames is a 2-D region that ``cv2.min`` combines in
  one call (numpy's strided minimum paid per row).
- **Quantisation** of the exponent needs no per-pixel ``exp``: ``trunc(256 exp(-E)) >= k`` iff
  ``E <= tau_k``, with float32 thresholds found once such that this equals float64 ``exp`` then truncation
  exactly (the float64 final stage of the determinism notes). One lookup on the float's bit pattern gives
  the grey level; the rare pixels whose float32 exponent lies within its error bound of a threshold are
  collected over a chunk and re-evaluated exactly, as upstream computes them, in one call.
- **Joints** are separable: ``c exp(-dx²/2σ²) exp(-dy²/2σ²)``; float64 ``exp`` on the 1-D factors only,
  an outer product (the K=2 matrix product ``[fy, 0] @ [fx; 0]``) and a running float32 maximum, kept as
  (y, frame, x) so that a window over a block's frames is a 2-D region that ``cv2.max`` combines in one call.
- **Set-up** avoids numpy's broadcasting over rows of a block union (paid per row): the 1-D terms are float64
  matrix products (:meth:`_Blocks.affine`) and window masks are gathered rows of a table (:meth:`_Blocks.inside`).
- ``sum`` combination (an ablation, not upstream) accumulates ``exp`` per limb in float64 and per joint in
  float32, and clips to [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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


_BIG = np.iinfo(np.int64).max


class Deferred:
    """Pixels of a chunk to re-evaluate exactly, collected block by block and evaluated in one call (the exact
    evaluation costs mostly per call: a few pixels per frame)."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, f: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        """Queue grid pixels ``(f, y, x)`` (chunk frame, row, column), ``(N,)`` int each."""
        if f.size:
            self._parts.append((f, x, y))

    def apply(self, levels: np.ndarray, evaluate) -> None:
        """``levels[f, y, x] = evaluate(f, x, y)`` for every queued pixel; ``levels (F, H, W) uint8``."""
        if self._parts:
            f, x, y = (np.concatenate(v) for v in zip(*self._parts, strict=True))
            levels[f, y, x] = evaluate(f, x, y)
            self._parts.clear()


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

    def affine(
        self, block_start: np.ndarray, extent: int, scale: np.ndarray, centre: np.ndarray
    ) -> np.ndarray:
        """``(n, P, R, extent)`` float64: ``scale (p - centre)`` at the pixels ``p = block_start + arange(extent)``
        of each block union, for ``scale`` and ``centre`` ``(n, P, R)`` (R rows, e.g. frames).

        Formed as the float64 matrix product ``[-scale centre, scale] @ [1; p]`` (numpy pays per row of
        ``extent`` pixels for a broadcast product): it differs from ``scale (p - centre)`` by at most
        ``2^-52 (|scale p| + |scale centre|)``."""
        p = (block_start[:, :, None] + np.arange(extent)).astype(np.float64)  # (n, P, extent)
        right = np.stack([np.ones_like(p), p], axis=2)  # (n, P, 2, extent)
        return np.matmul(np.stack([-scale * centre, scale], axis=-1), right)

    def inside(
        self, block_start: np.ndarray, start: np.ndarray, stop: np.ndarray, draw: np.ndarray, extent: int
    ) -> np.ndarray:
        """``(n, P, B, extent)`` bool: pixel ``block_start + j`` (``j < extent``) of each block union (``block_start
        (n, P)``, e.g. ``self.x0``) lies in the frame's own window ``[start, stop)`` and is drawn (``start, stop,
        draw`` per frame ``(F, P)``). Built from rows of a table: ``ge[s, j] = j >= s``, so a window
        ``[s, e)`` relative to the union is ``ge[s] & ~ge[e]`` (two row gathers; broadcast comparisons cost numpy
        ten times more, per row of ``extent`` pixels)."""
        drawn = np.ascontiguousarray(self.pad(draw, False))  # (n, P, B)
        starts = np.ascontiguousarray(self.pad(start, 0)) - block_start[:, :, None]
        stops = np.ascontiguousarray(self.pad(stop, 0)) - block_start[:, :, None]
        starts[~drawn], stops[~drawn] = 0, 0  # an empty window
        ge = np.arange(extent + 1)[:, None] <= np.arange(extent)  # (extent + 1, extent)
        inside = ge.take(starts, axis=0)  # a window outside the union would raise IndexError
        inside &= (~ge).take(stops, axis=0)
        return inside

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
    inside = draw[f]  # (N, P)
    inside &= xx >= x0[f]
    inside &= xx < x1[f]
    inside &= yy >= y0[f]
    inside &= yy < y1[f]
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
    pair = f[pix] * ax.shape[1] + limb  # flat (frame, limb) index of each pair
    xs, ys = x[pix].astype(np.float64), y[pix].astype(np.float64)
    sx, sy, ex, ey = (v.ravel().take(pair) for v in (ax, ay, bx, by))
    point = degen.ravel().take(pair)
    # Absurd coordinates give upstream's inf/NaN, quantised like it.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        d2_start = (xs - sx) ** 2 + (ys - sy) ** 2
        d2_end = (xs - ex) ** 2 + (ys - ey) ** 2
        d2_ab = (sx - ex) ** 2 + (sy - ey) ** 2
        coeff = (d2_start - d2_end + d2_ab) / 2.0 / np.where(point, 1.0, d2_ab)
        d2_line = (xs - (sx + coeff * (ex - sx))) ** 2 + (ys - (sy + coeff * (ey - sy))) ** 2
        d2 = np.where(coeff <= 0, d2_start, np.where(coeff >= 1, d2_end, d2_line))
        # A point Gaussian (upstream's _joint at a, amplitude c_a) and a segment take the same float64 steps on
        # their own squared distance and amplitude, so one exp serves both.
        d2 = np.where(point, d2_start, d2)
        amp = np.where(point, ca.ravel().take(pair), m.ravel().take(pair))
        value = np.exp(-d2 / 2.0 / sigma**2) * amp
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
    pair = f[pix] * mux.shape[1] + joint
    xs, ys = x[pix].astype(np.float64), y[pix].astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        d2 = (xs - mux.ravel().take(pair)) ** 2 + (ys - muy.ravel().take(pair)) ** 2
        value = np.exp(-d2 / 2.0 / sigma**2) * c.ravel().take(pair)
    return _exact_grey(_max_per_pixel(f.shape[0], pix, value), table)
