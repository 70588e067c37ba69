"""Per-sequence and dataset-level statistics of rendered skeleton maps (domain reference §4.2).

Everything is computed from the output maps ``uint8 (T, C, S, S)``, so it measures what a model will see:
limb/joint registration, frame-to-frame jitter of the support box and the mass the load-time cut removes.
All values are finite floats (JSON-safe); a statistic that a sequence cannot define is 0.0 with its frame
count 0, and :func:`aggregate_stats` skips it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import cv2
import numpy as np

from gaitprep.cut import cut_columns

# Per-sequence statistics averaged by aggregate_stats, each with the count that says whether it is defined.
_DEFINED_BY: dict[str, str] = {
    "registration_offset_mean_px": "registration_frames",
    "registration_offset_p95_px": "registration_frames",
    "centroid_offset_mean_px": "centroid_frames",
    "centroid_offset_p95_px": "centroid_frames",
    "centre_x_std_px": "support_frames",
    "centre_y_std_px": "support_frames",
    "width_std_px": "support_frames",
    "height_std_px": "support_frames",
    "width_mean_px": "support_frames",
    "height_mean_px": "support_frames",
    "active_fraction": "support_frames",
    "cut_mass_fraction": "support_frames",
    "torso_jitter": "torso_frames",
}
_SUMMED = (
    "frames_in",
    "frames_out",
    "blank_frames",
    "unnormalisable_frames",
    "dropped_frames",
    "hip_missing_frames",
)
SIDES: tuple[str, ...] = ("top", "bottom", "left", "right")
# A pixel this bright on a border is part of a Gaussian's core, not of its faint tail: the body touches the side.
BORDER_GREY = 64
TORSO_WINDOW = 15  # frames of the moving average that torso-length jitter is measured against


def _moments(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Column and row mass ``(T, C, S)`` float64 of ``maps (T, C, S, S)`` uint8, and the intensity centroid
    ``(x, y)`` ``(T, C)`` in output px (NaN for an empty frame). All sums are exact integers."""
    T, C, S, _ = maps.shape
    if maps.size == 0:
        cols = rows = np.zeros((T, C, S))
    else:
        maps = np.ascontiguousarray(maps)
        rows = cv2.reduce(maps.reshape(-1, S), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).reshape(T, C, S)
        cols = _column_sums(maps)
        rows, cols = rows.astype(np.float64), cols.astype(np.float64)
    idx = np.arange(S, dtype=np.float64)
    mass = cols.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        # einsum, not @: a BLAS gemv this size would wake a multi-threaded BLAS (see
        # gaitprep.heatmaps.render._principal_plane).
        return cols, rows, np.einsum("tcs,s->tc", cols, idx) / mass, np.einsum("tcs,s->tc", rows, idx) / mass


def _column_sums(maps: np.ndarray) -> np.ndarray:
    """``(T, C, S)`` sums over rows of ``uint8 (T, C, S, S)``: halving adds of whole rows when S is a power of
    two (about 2x cheaper than a reduction over the middle axis), else a float32 einsum (exact below 2^24)."""
    S = maps.shape[2]
    if S & (S - 1):
        return np.einsum("tcyx->tcx", maps.astype(np.float32))
    x = maps.astype(np.uint16 if S * 255 < 2**16 else np.uint32)
    while S > 1:
        S //= 2
        x = x[:, :, :S] + x[:, :, S : 2 * S]
    return x[:, :, 0]


def border_zones(size: int) -> dict[str, tuple[slice, slice]]:
    """``(rows, columns)`` of each side's border zone on a ``size x size`` map: the top and bottom rows, and
    the columns the load-time cut removes on the left and right (:func:`cut_columns`, at least one)."""
    cut = max(cut_columns(size), 1)
    full = slice(None)
    return {
        "top": (slice(0, 1), full),
        "bottom": (slice(size - 1, size), full),
        "left": (full, slice(0, cut)),
        "right": (full, slice(size - cut, size)),
    }


def border_stats(
    maps: np.ndarray, channel_names: Sequence[str], sums: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, float]:
    """Per channel and side: frames that touch the border and the share of grey mass there.

    Args:
        maps: ``uint8 (T, C, S, S)``.
        sums: optional ``(column sums, row sums)``, each ``(T, C, S)`` (as :func:`sequence_stats` has them), to
            avoid summing the maps again.

    Returns:
        ``border_frames_<channel>_<side>``: frames with a grey level >= ``BORDER_GREY`` (64) in the side's zone
        (:func:`border_zones`: top row, bottom row, the cut columns left and right); ``mass_<channel>``: the
        channel's total grey mass; ``border_mass_<channel>_<side>``: its grey mass in the zone, and
        ``border_mass_fraction_<channel>_<side>`` their ratio (0 for an empty channel). For the left and right
        zones that is what the training cut removes; for the top and bottom rows it is the part of the body's
        Gaussians that reaches the edge of the map, a lower bound on what lies beyond it.
    """
    maps = np.asarray(maps)
    T, C, S = maps.shape[0], maps.shape[1], maps.shape[-1]
    if sums is None:
        wide = maps.astype(np.int64)
        sums = (wide.sum(axis=2), wide.sum(axis=3))
    cols, rows = sums
    cut = max(cut_columns(S), 1)
    zone_mass = {
        "top": rows[:, :, 0],
        "bottom": rows[:, :, S - 1],
        "left": cols[:, :, :cut].sum(axis=2),
        "right": cols[:, :, S - cut :].sum(axis=2),
    }  # (T, C) each
    if T and S:
        peak = {
            "top": maps[:, :, 0, :].max(axis=2),
            "bottom": maps[:, :, S - 1, :].max(axis=2),
            "left": maps[:, :, :, :cut].max(axis=(2, 3)),
            "right": maps[:, :, :, S - cut :].max(axis=(2, 3)),
        }
    else:
        peak = {side: np.zeros((T, C), np.uint8) for side in SIDES}
    out: dict[str, float] = {}
    for c, name in enumerate(channel_names):
        total = float(cols[:, c].sum())
        out[f"mass_{name}"] = total
        for side in SIDES:
            mass = float(zone_mass[side][:, c].sum())
            out[f"border_frames_{name}_{side}"] = float((peak[side][:, c] >= BORDER_GREY).sum())
            out[f"border_mass_{name}_{side}"] = mass
            out[f"border_mass_fraction_{name}_{side}"] = mass / total if total > 0 else 0.0
    return out


def torso_jitter(lengths: np.ndarray, window: int = TORSO_WINDOW) -> tuple[float, int]:
    """Torso-length "breathing" of one sequence: mean over frames of ``|L_t - MA_t| / MA_t``.

    ``lengths (T,)`` are per-frame torso lengths in output px (NaN where undefined: those frames are left
    out and the rest taken in order); ``MA_t`` is the centred ``window``-frame moving average, used only where
    the whole window exists. Returns ``(jitter, frames)``; ``(0.0, 0)`` when fewer than ``window`` frames.
    """
    x = np.asarray(lengths, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < window:
        return 0.0, 0
    ma = np.convolve(x, np.full(window, 1.0 / window), mode="valid")
    mid = x[window // 2 : window // 2 + ma.size]
    ok = ma > 0
    if not ok.any():
        return 0.0, 0
    return float(np.mean(np.abs(mid[ok] - ma[ok]) / ma[ok])), int(ok.sum())


def sequence_stats(
    maps: np.ndarray,
    channel_names: Sequence[str],
    *,
    frames_in: int,
    unnormalisable_frames: int = 0,
    dropped_frames: int = 0,
    registration: np.ndarray | None = None,
    torso: np.ndarray | None = None,
    hip_missing_frames: int = 0,
) -> dict[str, float]:
    """Statistics of one rendered sequence.

    Args:
        maps: ``uint8 (T', C, S, S)`` rendered maps.
        channel_names: names of the C channels (``"limb"``, ``"joint"``).
        frames_in: input frames T.
        unnormalisable_frames: frames blanked or dropped because they could not be normalised.
        dropped_frames: frames removed from the output.
        registration: ``(T',)`` per-frame limb/joint registration offsets in output px, NaN where undefined
            (the renderer knows each channel's crop box; the maps alone do not).
        torso: ``(T',)`` per-frame torso lengths in output px (NaN where undefined), from the renderer's own
            per-frame transform.
        hip_missing_frames: frames whose hip stayed (0, 0) after gap filling (drawn or blanked).

    Returns:
        ``registration_offset_mean_px`` / ``_p95_px``: mean / 95th percentile of ``registration`` over the
        ``registration_frames`` where it is defined: how far the same joint lands apart in the two channels,
        0 when they share one crop box; ``centroid_offset_mean_px`` / ``_p95_px``: distance between the limb
        and joint channels' intensity centroids, over the ``centroid_frames`` where both have mass (not 0
        even when registered: limb mass lies along segments, joint mass at joints); ``centre_x_std_px``,
        ``centre_y_std_px``, ``width_std_px``, ``height_std_px``, ``width_mean_px``, ``height_mean_px``: of the
        support box of all channels combined, population std over non-blank frames; ``active_fraction``:
        mean fraction of non-zero pixels over non-blank frames; ``cut_mass_fraction``: share of the total
        grey mass in the ``cut_columns(S)`` leftmost and rightmost columns, i.e. what the load-time cut
        removes; ``blank_frames``: all-zero output frames for any reason; and the frame counts
        ``frames_in``, ``frames_out``, ``registration_frames``, ``support_frames``,
        ``unnormalisable_frames``, ``dropped_frames``, ``hip_missing_frames``; the four-side border figures of
        :func:`border_stats`; ``torso_jitter`` over ``torso_frames`` (:func:`torso_jitter`). Distances in
        output pixels.
    """
    maps = np.asarray(maps)
    n = maps.shape[0]
    out: dict[str, float] = {
        "frames_in": float(frames_in),
        "frames_out": float(n),
        "unnormalisable_frames": float(unnormalisable_frames),
        "dropped_frames": float(dropped_frames),
        "hip_missing_frames": float(hip_missing_frames),
    }
    names = list(channel_names)
    jitter, torso_frames = torso_jitter(np.zeros(0) if torso is None else torso)
    out["torso_jitter"], out["torso_frames"] = jitter, float(torso_frames)
    cols_c, rows_c, cx, cy = _moments(maps)  # (T', C, S) and (T', C)
    out.update(border_stats(maps, names, (cols_c, rows_c)))
    centroid = np.zeros(0)
    if "limb" in names and "joint" in names and n:
        li, ji = names.index("limb"), names.index("joint")
        mass = cols_c.sum(axis=2)
        both = (mass[:, li] > 0) & (mass[:, ji] > 0)
        centroid = np.hypot(cx[:, li] - cx[:, ji], cy[:, li] - cy[:, ji])[both]
    reg = np.zeros(0) if registration is None else np.asarray(registration, dtype=np.float64)
    reg = reg[np.isfinite(reg)]
    for name, values in (("registration", reg), ("centroid", centroid)):
        out[f"{name}_frames"] = float(values.size)
        out[f"{name}_offset_mean_px"] = float(values.mean()) if values.size else 0.0
        out[f"{name}_offset_p95_px"] = float(np.percentile(values, 95)) if values.size else 0.0

    col_mass = cols_c.sum(axis=1)  # (T', S) over all channels
    out.update(_support_stats(maps, col_mass, rows_c.sum(axis=1)))
    out["cut_mass_fraction"] = _cut_mass_fraction(col_mass)
    return out


def _support_stats(maps: np.ndarray, col_mass: np.ndarray, row_mass: np.ndarray) -> dict[str, float]:
    """Blank and support frame counts, the support box's centre and size jitter and mean size, and the
    active fraction (see :func:`sequence_stats`). ``maps`` uint8 ``(T', C, S, S)``; ``col_mass`` and
    ``row_mass`` ``(T', S)`` summed over the channels."""
    n, size = maps.shape[0], maps.shape[-1]
    cols, rows = col_mass > 0, row_mass > 0
    nonblank = cols.any(axis=1)
    out = {"blank_frames": float(n - int(nonblank.sum())), "support_frames": float(nonblank.sum())}
    if not nonblank.any():
        for key in ("centre_x_std_px", "centre_y_std_px", "width_std_px", "height_std_px"):
            out[key] = 0.0
        out["width_mean_px"] = out["height_mean_px"] = out["active_fraction"] = 0.0
        return out
    cols, rows = cols[nonblank], rows[nonblank]
    x0 = cols.argmax(axis=1)
    x1 = size - 1 - cols[:, ::-1].argmax(axis=1)
    y0 = rows.argmax(axis=1)
    y1 = size - 1 - rows[:, ::-1].argmax(axis=1)
    width, height = (x1 - x0 + 1).astype(np.float64), (y1 - y0 + 1).astype(np.float64)
    out["centre_x_std_px"] = float(np.std((x0 + x1) / 2.0))
    out["centre_y_std_px"] = float(np.std((y0 + y1) / 2.0))
    out["width_std_px"] = float(np.std(width))
    out["height_std_px"] = float(np.std(height))
    out["width_mean_px"] = float(width.mean())
    out["height_mean_px"] = float(height.mean())
    # Blank frames add no active pixel, so counting over every frame is the same.
    combined = np.bitwise_or.reduce(maps, axis=1) if maps.shape[1] > 1 else maps[:, 0]
    out["active_fraction"] = float(np.count_nonzero(combined) / (nonblank.sum() * size * size))
    return out


def _cut_mass_fraction(col_mass: np.ndarray) -> float:
    """Share of the grey mass ``col_mass`` ``(T', S)`` in the columns the load-time cut removes."""
    size = col_mass.shape[-1]
    cut = cut_columns(size)
    total = float(col_mass.sum())
    if total > 0 and cut > 0:
        return float(col_mass[:, :cut].sum() + col_mass[:, size - cut :].sum()) / total
    return 0.0


def aggregate_stats(per_sequence: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Dataset-level summary of :func:`sequence_stats` dicts.

    Returns ``sequences``; the sums of ``frames_in``, ``frames_out``, ``blank_frames``,
    ``unnormalisable_frames``, ``dropped_frames`` and ``hip_missing_frames``; ``<stat>_mean`` / ``<stat>_p95``
    over the sequences that define each per-sequence statistic (a key is absent when no sequence defines it);
    the border counts and masses summed, with ``border_frame_fraction_<channel>_<side>`` (touching frames over
    all output frames) and ``border_mass_fraction_<channel>_<side>`` (over the channel's whole grey mass); and
    ``torso_jitter_median``, the median over sequences of the per-sequence torso jitter.
    """
    items = list(per_sequence)
    out: dict[str, float] = {"sequences": float(len(items))}
    for key in _SUMMED:
        out[key] = float(sum(float(s.get(key, 0.0)) for s in items))
    # Border figures over all frames and all grey mass (not means of per-sequence ratios).
    frames = out["frames_out"]
    for key in sorted(
        {k for s in items for k in s if k.startswith(("border_frames_", "border_mass_", "mass_"))}
    ):
        if key.startswith("border_mass_fraction_"):
            continue
        out[key] = float(sum(float(s.get(key, 0.0)) for s in items))
    for key in [k for k in out if k.startswith("border_frames_")]:
        out[key.replace("border_frames_", "border_frame_fraction_", 1)] = out[key] / frames if frames else 0.0
    for key in [k for k in out if k.startswith("border_mass_") and not k.startswith("border_mass_fraction_")]:
        channel = key[len("border_mass_") :].rsplit("_", 1)[0]
        total = out.get(f"mass_{channel}", 0.0)
        out[key.replace("border_mass_", "border_mass_fraction_", 1)] = out[key] / total if total else 0.0
    jitter = [float(s["torso_jitter"]) for s in items if float(s.get("torso_frames", 0.0)) > 0]
    if jitter:
        out["torso_jitter_median"] = float(np.median(jitter))
    for key, count in _DEFINED_BY.items():
        values = np.array([float(s[key]) for s in items if key in s and float(s.get(count, 0.0)) > 0])
        if values.size:
            out[f"{key}_mean"] = float(values.mean())
            out[f"{key}_p95"] = float(np.percentile(values, 95))
    return out
