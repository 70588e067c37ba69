"""The end-of-build summary: figures on stderr (and in ``--json``), a warning naming each clipped side."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from gaitprep.build_summary import BORDER_WARN_FRACTION, summarise, summary_lines
from gaitprep.cli import main
from gaitprep.heatmaps.stats import border_stats
from gaitprep.io.store import read_sequence
from gaitprep.manifest import load_manifest


def _render(synth_release: Path, out: Path, *args: str):
    return CliRunner().invoke(
        main, ["render-heatmaps", "--input", str(synth_release / "pose-pkl"), "--out", str(out), "-q", *args]
    )


def test_a_clipping_build_warns_naming_each_side_and_records_four_side_statistics(
    synth_release: Path, tmp_path: Path
):
    out = tmp_path / "clipped"
    result = _render(synth_release, out, "--preset", "opengait", "--crop", "full-canvas", "--sigma", "30")
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    sides = {line.split()[1].rstrip(":") for line in warnings if "of frames reach grey" in line}
    assert sides == {"top", "bottom", "left", "right"}
    assert any(
        line.startswith("summary: ") and "frames written" in line for line in result.stderr.splitlines()
    )
    m = load_manifest(out)
    # The manifest's four-side figures are the maps' own, recounted here from the stored arrays.
    touched = {side: 0 for side in ("top", "bottom", "left", "right")}
    for rec in m.records:
        maps = read_sequence(out, rec, m.layout)["maps"]
        counted = border_stats(maps, ("limb", "joint"))
        for key, value in counted.items():
            assert rec.stats[key] == value, key
        hot = np.asarray(maps)[:, 1] >= 64
        touched["top"] += int(hot[:, 0].any(axis=1).sum())
        touched["bottom"] += int(hot[:, -1].any(axis=1).sum())
        touched["left"] += int(hot[:, :, :10].any(axis=(1, 2)).sum())
        touched["right"] += int(hot[:, :, -10:].any(axis=(1, 2)).sum())
    frames = m.counts["frames"]
    for side, n in touched.items():
        assert m.statistics[f"border_frame_fraction_joint_{side}"] == n / frames
    summary = summarise(m)
    assert all(summary.border_frames[s] > BORDER_WARN_FRACTION for s in touched)
    assert summary_lines(summary)[-len(warnings) :] == warnings


def test_json_carries_the_summary_and_a_clean_build_has_no_warning(synth_release: Path, tmp_path: Path):
    result = _render(synth_release, tmp_path / "rec", "--preset", "recommended", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)  # stdout holds exactly one JSON document
    s = doc["summary"]
    assert s["frames"] == doc["frames"] and s["dropped"] == {} and s["blank"] == 0
    assert set(s["border_frames"]) == {"top", "bottom", "left", "right"}
    assert s["registration_offset_px"] == 0.0 and s["warnings"] == []
    assert not any(line.startswith("warning: ") for line in result.stderr.splitlines())
    assert any(line.startswith("summary: ") for line in result.stderr.splitlines())


def test_an_error_is_still_exactly_one_line(tmp_path: Path):
    (tmp_path / "empty" / "pose-pkl").mkdir(parents=True)  # a tree with no sequence: bad input, exit 1
    result = _render(tmp_path / "empty", tmp_path / "x")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: ")
