"""Limb channel of the rasteriser (§4.1 C–E): Gaussian segments, max or clipped-sum combined, as grey levels.
See :mod:`gaitprep.heatmaps.raster` for the method."""

from __future__ import annotations

import math
from collections.abc import Sequence

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
