"""Datasets written before schema version 2 stay readable: load, verify-manifest, list, train, evaluate.

``tests/golden/skeleton-maps.v1.manifest.json`` is the demo's skeleton-map manifest as version 1 wrote it
(``git show a8fc3c3:data_manifests/demo/skeleton-maps.manifest.json``), before the four-side border figures,
torso jitter and hip-missing counts existed.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gaitprep.cli import main as gaitprep_main
from gaitprep.manifest import (
    MANIFEST_NAME,
    SCHEMA_VERSION,
    compute_manifest_digest,
    load_manifest,
    manifest_bytes,
    seal,
)
from tests._datasets import SmallData, copy_dataset, run_cli, train_tiny

V1_MANIFEST = Path(__file__).parent / "golden" / "skeleton-maps.v1.manifest.json"
NEW_KEYS = ("border_", "mass_", "torso_", "hip_missing")


def test_a_version_1_manifest_loads_and_its_digest_still_checks():
    assert SCHEMA_VERSION == 2
    m = load_manifest(V1_MANIFEST)
    assert m.schema_version == 1 and m.modality == "skeleton_map"
    assert compute_manifest_digest(m) == m.manifest_digest
    assert not any(k.startswith(NEW_KEYS) for r in m.records for k in r.stats)


def _as_version_1(dataset: Path) -> None:
    """Rewrite ``dataset``'s manifest as version 1 wrote it: schema_version 1 and none of the new statistics."""
    m = load_manifest(dataset)
    records = tuple(
        r.model_copy(update={"stats": {k: v for k, v in r.stats.items() if not k.startswith(NEW_KEYS)}})
        for r in m.records
    )
    stats = {k: v for k, v in m.statistics.items() if not k.startswith(NEW_KEYS)}
    old = m.model_copy(update={"schema_version": 1, "records": records, "statistics": stats})
    (dataset / MANIFEST_NAME).write_bytes(manifest_bytes(seal(old)))


def test_version_1_dataset_is_verified_listed_trained_and_evaluated(data: SmallData, tmp_path: Path):
    ds = copy_dataset(data.maps, tmp_path / "maps-v1")
    _as_version_1(ds)
    assert json.loads((ds / MANIFEST_NAME).read_text())["schema_version"] == 1
    runner = CliRunner()
    verified = runner.invoke(gaitprep_main, ["verify-manifest", str(ds)])
    assert verified.exit_code == 0, verified.stderr
    listed = runner.invoke(gaitprep_main, ["list", str(tmp_path), "--json"])
    assert listed.exit_code == 0, listed.stderr
    assert "maps-v1" in listed.stdout
    run = tmp_path / "run"
    train_tiny(ds, "sconet-mt-ske", run)
    evaluated = run_cli("evaluate", "--checkpoint", run, "--manifest", ds, "--device", "cpu", "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["n"] == 5
