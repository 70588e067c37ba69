"""The short summary printed at the end of a build: frames, drops, blanks, border figures, registration.

Computed from a sealed :class:`~gaitprep.manifest.Manifest` (its per-sequence records), so it says what the
dataset on disk holds whatever the modality; a figure a modality does not record is left out (None). The
CLI prints :func:`summary_lines` to stderr and puts :meth:`BuildSummary.as_dict` into ``--json`` documents.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gaitprep.heatmaps.stats import BORDER_GREY, SIDES
from gaitprep.manifest import Manifest

# A side that more than this fraction of frames touch gets a warning line.
BORDER_WARN_FRACTION = 0.01


@dataclass(frozen=True)
class BuildSummary:
    """Figures of one built dataset.

    Attributes:
        frames, frames_in: frames written and read.
        dropped: frames dropped, by reason.
        blank: all-zero output frames (None when the modality does not count them).
        hip_missing: skeleton maps: frames whose hip stayed (0, 0) after gap filling (None otherwise).
        border_frames: per side, the largest over channels of the fraction of frames with a grey level >= 64
            in that side's border zone (top/bottom row, the columns the load-time cut removes).
        border_mass: per side, the largest over channels of the share of grey mass in that zone.
        border_channel: per side, the channel the ``border_frames`` figure comes from.
        registration_offset_px: mean limb/joint registration offset (output px; None if not recorded).
        torso_jitter: median over sequences of the torso-length jitter (None if not recorded).
        warnings: one line each, without the ``warning:`` prefix.
    """

    frames: int
    frames_in: int
    dropped: dict[str, int]
    blank: int | None = None
    hip_missing: int | None = None
    border_frames: dict[str, float] = field(default_factory=dict)
    border_mass: dict[str, float] = field(default_factory=dict)
    border_channel: dict[str, str] = field(default_factory=dict)
    registration_offset_px: float | None = None
    torso_jitter: float | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy (the same figures as :func:`summary_lines`)."""
        return asdict(self)


def _total(manifest: Manifest, key: str) -> float | None:
    values = [float(r.stats[key]) for r in manifest.records if key in r.stats]
    return sum(values) if values else None


def summarise(manifest: Manifest) -> BuildSummary:
    """The summary of ``manifest``'s dataset."""
    counts = manifest.counts
    frames = int(counts.get("frames", sum(r.frames for r in manifest.records)))
    frames_in = int(counts.get("frames_in", sum(r.frames_in for r in manifest.records)))
    dropped = {str(k): int(v) for k, v in dict(counts.get("frames_dropped", {})).items() if v}
    blank = _total(manifest, "blank_frames")
    hip = _total(manifest, "hip_missing_frames")
    channels = [c for layout in manifest.layout.arrays.values() for c in layout.channels]
    border_frames: dict[str, float] = {}
    border_mass: dict[str, float] = {}
    border_channel: dict[str, str] = {}
    for side in SIDES:
        for channel in channels:
            touched = _total(manifest, f"border_frames_{channel}_{side}")
            if touched is None:
                continue
            share = touched / frames if frames else 0.0
            if side not in border_frames or share > border_frames[side]:
                border_frames[side], border_channel[side] = share, channel
            mass = _total(manifest, f"border_mass_{channel}_{side}")
            total = _total(manifest, f"mass_{channel}")
            if mass is not None and total:
                border_mass[side] = max(border_mass.get(side, 0.0), mass / total)
    reg = manifest.statistics.get("registration_offset_mean_px_mean")
    jitter = manifest.statistics.get("torso_jitter_median")
    warnings = [
        f"{side}: {100 * share:.1f}% of frames reach grey >= {BORDER_GREY} at the {side} "
        f"{'row' if side in ('top', 'bottom') else 'cut columns'} ({border_channel[side]} channel): the body "
        "is clipped there"
        for side, share in border_frames.items()
        if share > BORDER_WARN_FRACTION
    ]
    if hip:
        warnings.append(
            f"{int(hip)} frame(s) kept a missing hip (0, 0) after gap filling"
            + (" and were drawn centred on it, as upstream does" if not blank else "")
        )
    return BuildSummary(
        frames=frames,
        frames_in=frames_in,
        dropped=dropped,
        blank=None if blank is None else int(blank),
        hip_missing=None if hip is None else int(hip),
        border_frames=border_frames,
        border_mass=border_mass,
        border_channel=border_channel,
        registration_offset_px=None if reg is None else float(reg),
        torso_jitter=None if jitter is None else float(jitter),
        warnings=warnings,
    )


def summary_lines(summary: BuildSummary) -> list[str]:
    """Human-readable lines for stderr: ``summary: ...`` lines, then ``warning: ...`` lines."""
    dropped = ", ".join(f"{n} {reason}" for reason, n in sorted(summary.dropped.items())) or "none"
    first = f"summary: {summary.frames} frames written of {summary.frames_in} read; dropped: {dropped}"
    if summary.blank is not None:
        first += f"; blank: {summary.blank}"
    if summary.hip_missing is not None:
        first += f"; hip missing after gap filling: {summary.hip_missing}"
    lines = [first]
    if summary.border_frames:
        sides = ", ".join(
            f"{side} {100 * share:.1f}% ({100 * summary.border_mass.get(side, 0.0):.2f}% of mass)"
            for side, share in summary.border_frames.items()
        )
        lines.append(f"summary: frames reaching grey >= {BORDER_GREY} at the border: {sides}")
    extra = []
    if summary.registration_offset_px is not None:
        extra.append(f"limb/joint registration offset {summary.registration_offset_px:.2f} px (mean)")
    if summary.torso_jitter is not None:
        extra.append(f"torso-length jitter {100 * summary.torso_jitter:.2f}% (median over sequences)")
    if extra:
        lines.append("summary: " + "; ".join(extra))
    lines += [f"warning: {w}" for w in summary.warnings]
    return lines
