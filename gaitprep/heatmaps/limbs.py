"""Limb channel of the rasteriser (§4.1 C–E): Gaussian segments, max or clipped-sum combined, as grey levels.
See :mod:`gaitprep.heatmaps.raster` for the method.

:func:`render_limbs` runs four named steps: :func:`_limb_geometry` (per-frame segments, windows, amplitudes),
:func:`_limb_operands` (the pixel loop's 1-D factors per block), :func:`_accumulate_block` (the pixel loop) and
:func:`_block_levels` (grey levels; pixels near a quantisation threshold are queued for one exact evaluation
per chunk).
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
    Deferred,
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


def _limb_band(geo: _Segments, kappa: float) -> float:
    """A bound (E4 units) on how far the float32 limb exponent of :func:`_accumulate_block` can lie from the
    exact one, at the pixels where it matters (within the bound of a quantisation threshold).

    Units of sqrt(2) sigma, ``u = 2^-24``. Per limb and frame, on its window: across ``2c = Y + X`` and along
    ``2w = P + Q`` with 1-D terms rounded to float32 (relative ``u`` each); ``S = max(|X| + |Y|)`` and
    ``Sw = max(|P| + |Q|)`` from the window's extent. Near a threshold ``E4 <= R^2 = 4 ln 256 + max(0, -4 ln m)
    + 1``, so ``|2c| <= R`` and ``T = max(|2w| - 2h, 0) <= R``. Errors:

    - ``(2c)^2 + 4 (-ln m)`` as the K=3 product ``[Y^2 + lm4, 2Y, 1] @ [1; X; X^2]``: the rounded terms give
      ``2 S R``; the rounded ``Y^2 + lm4``, ``2 X Y`` and ``X^2``: ``S^2 + L4``; the two sums: ``2 (S^2 + L4)``;
    - ``T``: the sum ``P + Q`` (``Sw + |2w|``, ``|2w| <= H + R`` with ``H`` the largest ``2h``), ``2h`` (``H``)
      and the subtraction (``R``), so ``e = Sw + 2H + 2R`` and ``|T^2 - T*^2| <= 2 R e``;
    - ``T^2`` and its addition (``accumulateSquare``, fused or not): ``2 (R^2 + 2 L4)``;

    in all ``u (3 S^2 + 2 R (S + Sw) + 4 R H + 6 R^2 + 7 L4)`` with ``L4`` the largest ``|4 ln m|``. 10% and
    2^-20 more cover the float64 side (upstream's own roundings, and the 1-D terms of :meth:`_Blocks.affine`,
    each within 2^-51 (S + 4 kappa canvas) of exact: well under 1e-9 in E4) and the float32 store of
    upstream's intensity (relative 2^-25).
    """
    draw = geo.draw
    if not draw.any():
        return 0.0
    lm4 = -4.0 * np.log(geo.amp[draw])
    x0, x1, y0, y1 = (v[draw] for v in geo.windows)
    ux, uy, mx, my = (v[draw] for v in geo.frame)
    length = np.where(geo.degen, 0.0, geo.length)[draw]
    with np.errstate(over="ignore", invalid="ignore"):
        dx = np.maximum(np.abs(x0 - mx), np.abs(x1 - 1 - mx))  # the farthest pixel of the window
        dy = np.maximum(np.abs(y0 - my), np.abs(y1 - 1 - my))
        S = float((2.0 * kappa * (np.abs(uy) * dx + np.abs(ux) * dy)).max())
        Sw = float((2.0 * kappa * (np.abs(ux) * dx + np.abs(uy) * dy)).max())
    if not (np.isfinite(lm4).all() and np.isfinite(length).all() and math.isfinite(S) and math.isfinite(Sw)):
        return math.inf
    H = float((length * kappa).max())
    L4 = float(np.abs(lm4).max())
    R = math.sqrt(4.0 * math.log(256.0) + max(0.0, -float(lm4.min())) + 1.0)
    err = 3.0 * S * S + 2.0 * R * (S + Sw) + 4.0 * R * H + 6.0 * R * R + 7.0 * L4
    return 1.1 * _U32 * err + 2.0**-20


@dataclass(frozen=True)
class _Operands:
    """The pixel loop's factors on each block's window unions (float32; see :func:`_limb_operands`).

    ``(n, L, K, B, extent)`` each: the left factors (``extent`` = height) are passed transposed. ``along_l @
    along_r`` (K=2) is ``2w``, ``across_l @ across_r`` (K=3) is ``(2c)^2 + 4 (-ln m)`` (huge outside a frame's
    window); ``half2`` (``2h``) is ``(n, L, B, 1)``.
    """

    along_l: np.ndarray
    along_r: np.ndarray
    across_l: np.ndarray
    across_r: np.ndarray
    half2: np.ndarray


def _limb_operands(geo: _Segments, blocks: _Blocks, kappa: float) -> _Operands:
    """Matrix-product operands per block, limb and frame on the block's union box, in units of sqrt(2) sigma.

    Along: ``2w = [P, 1] @ [1; Q]`` (P from y, Q from x): each product is by 1, so the result is the float32 sum
    of the two terms whatever the BLAS kernel. Across: ``2c = Y + X``, and ``(2c)^2 + 4 (-ln m)`` is the K=3
    product ``[Y^2 + lm4, 2Y, 1] @ [1; X; X^2]`` (``Y^2 + lm4`` and ``X^2`` rounded once from the float32
    ``Y`` and ``X``), whose rounding :func:`_limb_band` bounds. The 1-D terms ``2 kappa u (p - centre)`` come
    from :meth:`_Blocks.affine` in float64 and are rounded once to float32. Outside a frame's window ``X`` or
    ``Y`` is 1e18 (_FAR), so the product is 1e36 or more (finite in float32: no inf or NaN in a BLAS kernel).
    """
    ux, uy, mx, my = (np.ascontiguousarray(blocks.pad(v, 0.0)) for v in geo.frame)  # (n, L, B)
    half2 = blocks.pad(np.where(geo.degen, 0.0, geo.length * kappa).astype(np.float32), 0.0)
    lm4 = np.ascontiguousarray(blocks.pad(-4.0 * np.log(geo.amp), 0.0))[..., None]  # float64 (n, L, B, 1)
    n, L, B, k2 = blocks.n, half2.shape[1], blocks.size, 2.0 * kappa
    along_l = np.empty((n, L, 2, B, blocks.height), np.float32)
    along_r = np.empty((n, L, 2, B, blocks.width), np.float32)
    across_l = np.empty((n, L, 3, B, blocks.height), np.float32)
    across_r = np.empty((n, L, 3, B, blocks.width), np.float32)
    for ones in (along_l[:, :, 1], along_r[:, :, 0], across_l[:, :, 2], across_r[:, :, 0]):
        ones.fill(1.0)
    x0, x1, y0, y1 = geo.windows
    for union, start, stop, centre, u_along, u_across, left in (
        (blocks.x0, x0, x1, mx, ux, uy, False),
        (blocks.y0, y0, y1, my, uy, -ux, True),
    ):
        extent = blocks.height if left else blocks.width
        scale = np.concatenate([k2 * u_along, k2 * u_across], axis=2)  # (n, L, 2B)
        terms = blocks.affine(union, extent, scale, np.concatenate([centre, centre], axis=2))
        c32 = terms[:, :, B:].astype(np.float32)  # Y or X, (n, L, B, extent)
        np.copyto(c32, _FAR, where=~blocks.inside(union, start, stop, geo.draw, extent))
        if left:  # [P, 1] and [Y^2 + lm4, 2Y, 1]
            along_l[:, :, 0] = terms[:, :, :B]
            across = np.square(c32, dtype=np.float64)
            across += lm4
            across_l[:, :, 0] = across
            np.multiply(c32, 2.0, out=across_l[:, :, 1])
        else:  # [1; Q] and [1; X; X^2] (X^2 rounds alike in float32 and float64 then float32)
            along_r[:, :, 1] = terms[:, :, :B]
            across_r[:, :, 1] = c32
            np.square(c32, out=across_r[:, :, 2])
    return _Operands(along_l, along_r, across_l, across_r, half2[..., None])


def _accumulate_block(
    acc: np.ndarray, k: int, items: list[tuple[int, ...]], ops: _Operands, ws: Workspace, use_max: bool
) -> None:
    """The pixel loop of block ``k``: each live limb's exponent on its window union, combined into ``acc``.

    ``acc`` is ``(height, frames, width)``, so a limb's box over the block's frames is one 2-D region (rows
    ``ys * nf .. ye * nf``) that OpenCV combines in one call; the matrix products write straight into that
    layout. Max: ``acc`` (float32) holds the running minimum of ``4 E = (2c)^2 + 4 (-ln m) + max(2|w| - 2h, 0)^2``
    over limbs; sum: ``acc`` (float64) accumulates ``exp(-E)``. Seven passes over a limb's pixels.
    """
    nf = acc.shape[1]
    rows = acc.reshape(-1, acc.shape[2])
    scratch = ws.get("limb_scratch", (2, nf * acc.shape[0] * acc.shape[2]))
    per_frame = ws.get("limb_rows", (nf * acc.shape[2],))
    for i, ys, ye, xs, xe in items:
        h, w = ye - ys, xe - xs
        n_px = nf * h * w
        t = scratch[0, :n_px].reshape(h, nf, w)
        e4 = scratch[1, :n_px].reshape(h, nf, w)
        t2, e2 = t.reshape(h * nf, w), e4.reshape(h * nf, w)
        # A per-frame constant repeated along a row broadcasts over y at full speed; an (nf, 1) column does not.
        half2 = per_frame[: nf * w].reshape(nf, w)
        np.copyto(half2, ops.half2[k, i, :nf])
        left, right = ops.along_l[k, i, :, :nf, :h].transpose(1, 2, 0), ops.along_r[k, i, :, :nf, :w]
        np.matmul(left, right.transpose(1, 0, 2), out=t.transpose(1, 0, 2))  # 2w
        np.abs(t, out=t)
        np.subtract(t, half2, out=t)
        cv2.threshold(t2, 0.0, 0.0, cv2.THRESH_TOZERO, dst=t2)  # T = max(2|w| - 2h, 0) for finite values
        left, right = ops.across_l[k, i, :, :nf, :h].transpose(1, 2, 0), ops.across_r[k, i, :, :nf, :w]
        np.matmul(left, right.transpose(1, 0, 2), out=e4.transpose(1, 0, 2))
        cv2.accumulateSquare(t2, e2)  # (2c)^2 + 4 (-ln m) + T^2
        box = rows[ys * nf : ye * nf, xs:xe]
        if use_max:
            cv2.min(box, e2, dst=box)
        else:
            box += np.exp(e2 * np.float32(-0.25), dtype=np.float64)


def _flat_to_grid(flat: np.ndarray, shape: tuple[int, ...], f0: int, cy0: int, cx0: int):
    """Flat indices into a block accumulator ``(h, nf, w)`` at offset ``(f0, cy0, cx0)`` -> chunk ``(f, x, y)``."""
    _, nf, w = shape
    y, rest = np.divmod(flat, nf * w)
    f, x = np.divmod(rest, w)
    return f + f0, x + cx0, y + cy0


def _block_levels(
    acc: np.ndarray, target: np.ndarray, offset: tuple[int, int, int], geo: _Segments, deferred: Deferred, *,
    band: float, sigma: float, quantise: str, use_max: bool,
) -> None:  # fmt: skip
    """Grey levels of a block's accumulator ``acc (h, nf, w)`` at chunk offset ``(f0, cy0, cx0)`` into ``target``
    (same shape). With ``band > 0`` every pixel whose float32 exponent lies within ``band`` of a threshold is
    queued on ``deferred`` for exact re-evaluation (its level here is a placeholder)."""
    table = grey_table(quantise)
    if not use_max:
        levels_from_linear(acc, target, table=table)
    elif band > MAX_BAND:  # the float32 path cannot be trusted anywhere: evaluate it all
        f, x, y = _flat_to_grid(np.arange(acc.size), acc.shape, *offset)
        target[...] = exact_limb_levels(
            f, x, y, geo.seg, geo.windows, geo.draw, geo.degen, sigma=sigma, table=table
        ).reshape(acc.shape)
    else:

        def resolve(flat: np.ndarray) -> np.ndarray:
            deferred.add(*_flat_to_grid(flat, acc.shape, *offset))
            return np.zeros(flat.shape, np.uint8)

        levels_from_exponent(
            acc, target, quantise=quantise, delta=band,
            resolve=resolve if band > 0 else None,
        )  # fmt: skip


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
    with np.errstate(over="ignore", invalid="ignore"):  # absurd coordinates: inf lengths, decided below
        geo = _limb_geometry(
            q, conf, limbs, eps=eps, radius=window_sigmas * sigma, canvas=canvas, point_below=point_below
        )
    if not geo.draw.any():
        return ChannelRaster(levels, (0, 0, 0, 0))
    use_max = combine == "max"
    band = 0.0
    if exact and use_max:
        band = _limb_band(geo, kappa)
    blocks = _Blocks.of(*geo.windows, geo.draw, block)
    # Absurd coordinates overflow the float32 path: under max their error bound exceeds MAX_BAND and every
    # pixel is evaluated exactly (the float32 path is skipped); under sum inf/NaN propagate as in upstream's
    # planes.
    exact_all = use_max and band > MAX_BAND
    with np.errstate(over="ignore", invalid="ignore"):
        ops = None if exact_all else _limb_operands(geo, blocks, kappa)
    init = init_exponent() if use_max else 0.0
    channel = _Box()
    deferred = Deferred()
    for f0, f1, (cy0, cy1, cx0, cx1), items in blocks.plan(F):
        channel.add(cy0, cy1, cx0, cx1)
        acc = ws.get("limb_acc", (cy1 - cy0, f1 - f0, cx1 - cx0), np.float32 if use_max else np.float64)
        acc.fill(init)
        if ops is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                _accumulate_block(acc, f0 // block, items, ops, ws, use_max)
        target = levels[f0:f1, cy0:cy1, cx0:cx1].transpose(1, 0, 2)
        _block_levels(
            acc, target, (f0, cy0, cx0), geo, deferred, band=band, sigma=sigma, quantise=quantise,
            use_max=use_max,
        )  # fmt: skip
    table = grey_table(quantise)
    deferred.apply(
        levels,
        lambda f, x, y: exact_limb_levels(
            f, x, y, geo.seg, geo.windows, geo.draw, geo.degen, sigma=sigma, table=table
        ),
    )
    return ChannelRaster(levels, channel.get())
