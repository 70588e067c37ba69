"""Limb channel of the rasteriser (§4.1 C–E): Gaussian segments, max or clipped-sum combined, as grey levels.
See :mod:`gaitprep.heatmaps.raster` for the method.

:func:`render_limbs` runs four named steps: :func:`_limb_geometry` (per-frame segments, windows, amplitudes),
:func:`_limb_operands` (the pixel loop's 1-D factors per block), :func:`_accumulate_block` (the pixel loop) and
:func:`_block_levels` (grey levels, exact near the quantisation thresholds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from gaitprep.heatmaps.levels import (
    _FAR,
    _U32,
    MAX_BAND,
    grey_table,
    init_exponent,
    levels_from_exponent,
    levels_from_linear,
    windows,
)
from gaitprep.heatmaps.raster import (
    ChannelRaster,
    Workspace,
    _Blocks,
    _Box,
    exact_limb_levels,
)


@dataclass(frozen=True)
class _Segments:
    """A chunk's limbs, per frame: ``(F, L)`` arrays (grid px unless stated).

    Attributes:
        seg: ``(ax, ay, bx, by, ca, m)``: endpoints, the confidence of ``a`` and ``m = min(ca, cb)``.
        windows: ``(x0, x1, y0, y1)`` upstream's half-open drawing windows.
        draw: limbs drawn; degen: limbs drawn as a point Gaussian at ``a`` (shorter than ``point_below``).
        amp: the drawn amplitude (``ca`` for a point, else ``m``; 1 where not drawn).
        length: ``|b - a|``; frame: ``(ux, uy, mx, my)`` unit direction and centre (``a`` for a point).
    """

    seg: tuple[np.ndarray, ...]
    windows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    draw: np.ndarray
    degen: np.ndarray
    amp: np.ndarray
    length: np.ndarray
    frame: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _limb_geometry(
    q: np.ndarray,
    conf: np.ndarray,
    limbs: Sequence[tuple[int, int]],
    *,
    eps: float,
    radius: float,
    canvas: int,
    point_below: float,
) -> _Segments:
    """Segments, windows and amplitudes of ``limbs`` in each frame of ``q (F, 17, 2)``, ``conf (F, 17)``."""
    a_idx = np.array([a for a, _ in limbs])
    b_idx = np.array([b for _, b in limbs])
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
    amp = np.where(draw, np.where(degen, ca, m), 1.0)
    # Limb frame: midpoint, unit direction and length (0 for a point).
    length = np.sqrt(d2)
    safe = np.where(degen, 1.0, length)
    ux = np.where(degen, 1.0, (bx - ax) / safe)
    uy = np.where(degen, 0.0, (by - ay) / safe)
    mx = np.where(degen, ax, (ax + bx) / 2.0)
    my = np.where(degen, ay, (ay + by) / 2.0)
    return _Segments((ax, ay, bx, by, ca, m), (x0, x1, y0, y1), draw, degen, amp, length, (ux, uy, mx, my))


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


@dataclass(frozen=True)
class _Operands:
    """The pixel loop's factors on each block's window unions (float32; see :func:`_limb_operands`).

    ``along_l (n, L, B, height, 2) @ along_r (n, L, B, 2, width)`` is ``2w`` and ``across_l @ across_r`` is
    ``2c`` (huge outside a frame's window); ``half2`` (``2h``) and ``lm4`` (``4 (-ln m)``) are ``(n, L, B, 1)``.
    """

    along_l: np.ndarray
    along_r: np.ndarray
    across_l: np.ndarray
    across_r: np.ndarray
    half2: np.ndarray
    lm4: np.ndarray


def _limb_operands(geo: _Segments, blocks: _Blocks, kappa: float) -> _Operands:
    """Matrix-product operands per block, limb and frame on the block's union box, in units of sqrt(2) sigma:
    ``2c = [2 cy, 1] @ [1; 2 cx]`` and ``2w = [2 wy, 1] @ [1; 2 wx]``. Scaling by 2 is exact, and so is each
    product (by 1), so these are bit for bit twice the upstream-scaled coordinates whatever the BLAS kernel."""
    x0, x1, y0, y1 = geo.windows
    ux, uy, mx, my = (blocks.pad(v, 0.0)[..., None] for v in geo.frame)  # (n, L, B, 1)
    half2 = blocks.pad(np.where(geo.degen, 0.0, geo.length * kappa).astype(np.float32), 0.0)
    lm4 = blocks.pad((-4.0 * np.log(geo.amp)).astype(np.float32), 0.0)
    px = blocks.axis(blocks.x0, blocks.width)  # (n, L, 1, width)
    py = blocks.axis(blocks.y0, blocks.height)
    dx = (px - mx) * kappa  # (n, L, B, width)
    dy = (py - my) * kappa
    L, B = half2.shape[1], blocks.size
    shape_l, shape_r = (blocks.n, L, B, blocks.height, 2), (blocks.n, L, B, 2, blocks.width)
    across_l, across_r = np.ones(shape_l, np.float32), np.ones(shape_r, np.float32)
    along_l, along_r = np.ones(shape_l, np.float32), np.ones(shape_r, np.float32)
    # Outside a frame's window the across factor is _FAR: adding it to a value below 1e10 and rounding to
    # float32 gives exactly _FAR (cheaper than np.where on these arrays).
    across_r[..., 1, :] = dx * (2.0 * uy) + blocks.outside(px, x0, x1, geo.draw) * np.float64(_FAR)
    across_l[..., 0] = dy * (-2.0 * ux) + blocks.outside(py, y0, y1, geo.draw) * np.float64(_FAR)
    along_r[..., 1, :] = (dx * ux) * 2.0
    along_l[..., 0] = (dy * uy) * 2.0
    return _Operands(along_l, along_r, across_l, across_r, half2[..., None], lm4[..., None])


def _accumulate_block(
    acc: np.ndarray, k: int, items: list[tuple[int, ...]], ops: _Operands, ws: Workspace, use_max: bool
) -> None:
    """The pixel loop of block ``k``: each live limb's exponent on its window union, combined into ``acc``.

    ``acc`` is ``(height, frames, width)``, so a limb's box over the block's frames is one 2-D region (rows
    ``ys * nf .. ye * nf``) that OpenCV combines in one call; the matrix products write straight into that
    layout. Max: ``acc`` (float32) holds the running minimum of ``4 E = (2c)^2 + max(2|w| - 2h, 0)^2 + 4 (-ln m)``
    over limbs; sum: ``acc`` (float64) accumulates ``exp(-E)``.
    """
    nf = acc.shape[1]
    rows = acc.reshape(-1, acc.shape[2])
    scratch = ws.get("limb_scratch", (2, nf * acc.shape[0] * acc.shape[2]))
    per_frame = ws.get("limb_rows", (nf * acc.shape[2],))
    for i, ys, ye, xs, xe in items:
        h, w = ye - ys, xe - xs
        n_px = nf * h * w
        e4 = scratch[0, :n_px].reshape(h, nf, w)
        r = scratch[1, :n_px].reshape(h, nf, w)
        e2 = e4.reshape(h * nf, w)
        # A per-frame constant repeated along a row broadcasts over y at full speed; an (nf, 1) column does not.
        const = per_frame[: nf * w].reshape(nf, w)
        np.matmul(ops.along_l[k, i, :nf, :h], ops.along_r[k, i, :nf, :, :w], out=e4.transpose(1, 0, 2))  # 2w
        np.abs(e4, out=e4)
        np.copyto(const, ops.half2[k, i, :nf])
        np.subtract(e4, const, out=e4)  # 2 (|w| - h)
        cv2.threshold(e2, 0.0, 0.0, cv2.THRESH_TOZERO, dst=e2)  # max(., 0) for finite values
        np.square(e4, out=e4)
        np.matmul(ops.across_l[k, i, :nf, :h], ops.across_r[k, i, :nf, :, :w], out=r.transpose(1, 0, 2))  # 2c
        np.square(r, out=r)
        np.add(e4, r, out=e4)
        np.copyto(const, ops.lm4[k, i, :nf])
        np.add(e4, const, out=e4)
        box = rows[ys * nf : ye * nf, xs:xe]
        if use_max:
            cv2.min(box, e2, dst=box)
        else:
            box += np.exp(e2 * np.float32(-0.25), dtype=np.float64)


def _limb_resolver(f0, cy0, cx0, shape, geo: _Segments, sigma, table):
    """``resolve`` for :func:`levels_from_exponent` on a limb accumulator ``(h, nf, w)`` at block offset
    ``(f0, cy0, cx0)``: the exact grey levels at flat indices into it."""
    _, nf, w = shape

    def resolve(flat: np.ndarray) -> np.ndarray:
        y, rest = np.divmod(flat, nf * w)
        f, x = np.divmod(rest, w)
        return exact_limb_levels(
            f + f0, x + cx0, y + cy0, geo.seg, geo.windows, geo.draw, geo.degen, sigma=sigma, table=table
        )

    return resolve


def _block_levels(
    acc: np.ndarray, target: np.ndarray, f0: int, cy0: int, cx0: int, geo: _Segments, *, band: float,
    sigma: float, quantise: str, use_max: bool,
) -> None:  # fmt: skip
    """Grey levels of a block's accumulator ``acc (h, nf, w)`` into ``target`` (same shape). With ``band > 0``
    every pixel whose float32 exponent lies within ``band`` of a threshold is re-evaluated exactly."""
    table = grey_table(quantise)
    if not use_max:
        levels_from_linear(acc, target, table=table)
    elif band > MAX_BAND:  # the float32 path cannot be trusted anywhere: evaluate it all
        resolve = _limb_resolver(f0, cy0, cx0, acc.shape, geo, sigma, table)
        target[...] = resolve(np.arange(acc.size)).reshape(acc.shape)
    else:
        resolve = _limb_resolver(f0, cy0, cx0, acc.shape, geo, sigma, table) if band > 0 else None
        may_be_negative = bool((geo.amp > 1.0).any())
        levels_from_exponent(
            acc, target, quantise=quantise, may_be_negative=may_be_negative, delta=band, resolve=resolve
        )


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
    kappa = 1.0 / (np.sqrt(2.0) * sigma)
    geo = _limb_geometry(
        q, conf, limbs, eps=eps, radius=window_sigmas * sigma, canvas=canvas, point_below=point_below
    )
    if not geo.draw.any():
        return ChannelRaster(levels, (0, 0, 0, 0))
    use_max = combine == "max"
    band = 0.0
    if exact and use_max:
        band = _limb_band(geo.length, -4.0 * np.log(geo.amp), geo.draw, geo.degen, kappa)
    blocks = _Blocks.of(*geo.windows, geo.draw, block)
    ops = _limb_operands(geo, blocks, kappa)
    init = init_exponent() if use_max else 0.0
    channel = _Box()
    for f0, f1, (cy0, cy1, cx0, cx1), items in blocks.plan(F):
        channel.add(cy0, cy1, cx0, cx1)
        acc = ws.get("limb_acc", (cy1 - cy0, f1 - f0, cx1 - cx0), np.float32 if use_max else np.float64)
        acc.fill(init)
        _accumulate_block(acc, f0 // block, items, ops, ws, use_max)
        target = levels[f0:f1, cy0:cy1, cx0:cx1].transpose(1, 0, 2)
        _block_levels(
            acc, target, f0, cy0, cx0, geo, band=band, sigma=sigma, quantise=quantise, use_max=use_max
        )
    return ChannelRaster(levels, channel.get())
