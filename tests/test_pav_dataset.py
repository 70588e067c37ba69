"""`gaitprep pav` end to end on the synthetic release: the injected asymmetry shows, the fit is train-only."""

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from gaitprep.cli import main
from gaitprep.io.store import read_sequence
from gaitprep.manifest import load_manifest
from gaitprep.pav import PavSpec
from gaitprep.skeleton import PAIR_NAMES

SHOULDERS = PAIR_NAMES.index("shoulders")
HEIGHT_DIFF, TILT = 0, 2


def _partition(release: Path) -> Path:
    return next(release.glob("Scoliosis1K_*.json"))


def test_positive_sequences_have_larger_raw_shoulder_metrics_than_negative(
    synth_release: Path, tmp_path: Path
):
    out = tmp_path / "pav"
    res = CliRunner().invoke(
        main,
        [
            "pav",
            "--input",
            str(synth_release),
            "--partition",
            str(_partition(synth_release)),
            "--out",
            str(out),
            "--json",
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    m = load_manifest(out)
    raw = {r.key: read_sequence(out, r, m.layout, names=["raw"])["raw"] for r in m.records}
    by_label = {
        label: np.stack([raw[r.key] for r in m.records if r.label == label])
        for label in ("negative", "positive")
    }
    for metric in (HEIGHT_DIFF, TILT):
        assert (
            by_label["positive"][:, SHOULDERS, metric].mean()
            > by_label["negative"][:, SHOULDERS, metric].mean()
        )


def test_pav_normaliser_is_fitted_on_train_ids_and_recorded(synth_release: Path, tmp_path: Path):
    part = _partition(synth_release)
    out = tmp_path / "pav"
    assert (
        CliRunner()
        .invoke(
            main, ["pav", "--input", str(synth_release), "--partition", str(part), "--out", str(out), "-q"]
        )
        .exit_code
        == 0
    )
    m = load_manifest(out)
    train = set(json.loads(part.read_text())["TRAIN_SET"])
    assert m.fitted["fit_on"] == "train" and m.fitted["fit_ids"] == len(train)
    assert m.fitted["partition_sha256"] == m.partition.sha256
    raws = np.stack(
        [read_sequence(out, r, m.layout, names=["raw"])["raw"] for r in m.records if r.id in train]
    )
    np.testing.assert_allclose(np.asarray(m.fitted["mn"], np.float32), raws.min(axis=0))
    np.testing.assert_allclose(np.asarray(m.fitted["mx"], np.float32), raws.max(axis=0))
    assert m.params["angle_fold"] is PavSpec().angle_fold is True
    pav = np.stack([read_sequence(out, r, m.layout, names=["pav"])["pav"] for r in m.records])
    assert pav.min() >= 0.0 and pav.max() <= 1.0


def test_pav_without_a_partition_is_a_one_line_error(synth_release: Path, tmp_path: Path):
    res = CliRunner().invoke(main, ["pav", "--input", str(synth_release), "--out", str(tmp_path / "pav")])
    assert res.exit_code == 1
    assert res.stderr.strip().startswith("error:") and "--partition" in res.stderr
    assert not (tmp_path / "pav").exists()
