"""The demo datasets rebuild to the content digests checked in under data_manifests/demo/."""

from pathlib import Path

import pytest

from gaitprep.datasets import build_heatmaps, build_pav
from gaitprep.heatmap_spec import preset
from gaitprep.manifest import load_manifest
from gaitprep.partition import load_partition
from gaitprep.synth.release import write_release

CHECKED_IN = Path(__file__).resolve().parent.parent / "data_manifests" / "demo"


@pytest.fixture(scope="module")
def demo_pose(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README demo's release (same options as scripts/demo.sh), pose layout only."""
    root = tmp_path_factory.mktemp("demo") / "synth"
    write_release(
        root,
        sequences=90,
        frames=(40, 60),
        image_size=(320, 180),
        seed=7,
        ratio="1:1:2",
        layouts=("pose-pkl",),
    )
    return root


def test_demo_skeleton_maps_rebuild_to_the_checked_in_content_digest(demo_pose: Path, tmp_path: Path) -> None:
    expected = load_manifest(CHECKED_IN / "skeleton-maps.manifest.json")
    partition = load_partition(demo_pose / "Scoliosis1K_112.json")
    assert partition.sha256 == expected.partition.sha256
    result = build_heatmaps(
        demo_pose / "pose-pkl", tmp_path / "maps", preset("recommended"), partition=partition, quiet=True
    )
    assert result.manifest.source.digest == expected.source.digest
    assert result.manifest.params_digest == expected.params_digest
    assert result.manifest.content_digest == expected.content_digest


def test_demo_pav_rebuilds_to_the_checked_in_content_digest(demo_pose: Path, tmp_path: Path) -> None:
    expected = load_manifest(CHECKED_IN / "pav.manifest.json")
    result = build_pav(
        demo_pose / "pose-pkl",
        tmp_path / "pav",
        partition=load_partition(demo_pose / "Scoliosis1K_112.json"),
        quiet=True,
    )
    assert result.manifest.fitted == expected.fitted
    assert result.manifest.content_digest == expected.content_digest
