"""Joint channel of the rasteriser (§4.1 C–E): separable Gaussians, max or clipped-sum combined, as grey levels.
See :mod:`gaitprep.heatmaps.raster` for the method."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from gaitprep.heatmaps.levels import (
    _U32,
    _is_identity,
    grey_table,
    levels_from_linear,
    windows,
)
from gaitprep.heatmaps.raster import (
    ChannelRaster,
    Deferred,
    Workspace,
    _Blocks,
    _Box,
    exact_joint_levels,
)

# Relative band of the joint channel's float32 intensity (three float32 roundings, 3 u) in which a pixel is
# re-evaluated exactly: 16 u leaves room for the rounding of the band test and of upstream's float32 store.
_JOINT_BAND = np.float32(16.0 * _U32)


def _joint_operands(
    centres: tuple[np.ndarray, np.ndarray, np.ndarray],
    windows_: tuple[np.ndarray, ...],
    draw: np.ndarray,
    blocks: _Blocks,
    kappa: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The separable factors on each block's union box as matrix-product operands: ``left (n, J, 2, B, height)``
    holds ``[fy; 0]``, ``right (n, J, 2, B, width)`` holds ``[fx; 0]``, with ``fx = float32(exp(-(dx kappa)^2) c)``
    and ``fy = float32(exp(-(dy kappa)^2))`` evaluated in float64 (``dx kappa`` from :meth:`_Blocks.affine`)
    and 0 outside each frame's window.

    ``left`` transposed ``@ right`` is the outer product ``fy fx``: one product and an exact ``+ 0``, so the same
    float32 as ``fy * fx`` whatever the BLAS kernel (3x faster than numpy's broadcast multiply).
    """
    mux, muy, c = centres
    x0, x1, y0, y1 = windows_
    shape = (blocks.n, mux.shape[1], 2, blocks.size)
    left = np.zeros(shape + (blocks.height,), np.float32)
    right = np.zeros(shape + (blocks.width,), np.float32)
    amp = np.ascontiguousarray(blocks.pad(c, 0.0))[..., None]
    scale = np.full((blocks.n, mux.shape[1], blocks.size), kappa)
    for union, start, stop, mu, out, weight in (
        (blocks.x0, x0, x1, mux, right[:, :, 0], amp),
        (blocks.y0, y0, y1, muy, left[:, :, 0], None),
    ):
        extent = out.shape[-1]
        d = blocks.affine(union, extent, scale, np.ascontiguousarray(blocks.pad(mu, 0.0)))  # (n, J, B, E)
        with np.errstate(over="ignore"):  # a joint absurdly far away: exp(-inf) = 0, as upstream's plane
            np.square(d, out=d)
        np.negative(d, out=d)
        np.exp(d, out=d)
        if weight is not None:
            d *= weight
        np.copyto(d, 0.0, where=~blocks.inside(union, start, stop, draw, extent))
        out[...] = d
    return left, right


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
    lo = ws.get("joint_band_lo", acc.shape, np.uint8)  # contiguous: target is a transposed view
    np.multiply(acc, np.float32(256.0) * (1 + _JOINT_BAND), out=hi, casting="unsafe")  # 256 wraps to 0
    np.multiply(acc, np.float32(256.0) * (1 - _JOINT_BAND), out=lo, casting="unsafe")
    fix = np.flatnonzero(hi != lo)
    if not _is_identity(table):
        rows = lo.reshape(-1, lo.shape[-1])
        cv2.LUT(rows, table.reshape(1, 256), dst=rows)
    target[...] = lo
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
    left, right = _joint_operands((mux, muy, c), (x0, x1, y0, y1), draw, blocks, kappa)
    use_max = combine == "max"
    table = grey_table(quantise)
    scratch = ws.get("joint_scratch", (B * blocks.height * blocks.width,))
    channel = _Box()
    deferred = Deferred()
    for f0, f1, (cy0, cy1, cx0, cx1), items in blocks.plan(F):
        k, nf = f0 // B, f1 - f0
        channel.add(cy0, cy1, cx0, cx1)
        acc = ws.get("joint_acc", (cy1 - cy0, nf, cx1 - cx0))
        acc.fill(0.0)
        rows = acc.reshape(-1, cx1 - cx0)
        for i, ys, ye, xs, xe in items:
            h, w = ye - ys, xe - xs
            patch = scratch[: nf * h * w].reshape(h, nf, w)
            fy, fx = left[k, i, :, :nf, :h].transpose(1, 2, 0), right[k, i, :, :nf, :w].transpose(1, 0, 2)
            np.matmul(fy, fx, out=patch.transpose(1, 0, 2))
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
            yy, rest = np.divmod(fix, nf * (cx1 - cx0))
            ff, xx = np.divmod(rest, cx1 - cx0)
            deferred.add(ff + f0, xx + cx0, yy + cy0)
    deferred.apply(
        levels,
        lambda f, x, y: exact_joint_levels(
            f, x, y, (mux, muy, c), (x0, x1, y0, y1), draw, sigma=sigma, table=table
        ),
    )
    return ChannelRaster(levels, channel.get())
