"""The demo datasets rebuild to the content digests checked in under data_manifests/demo/, and the demo
script uses the release and training recipe that the tests (this file, the learning test) hold it to."""

import re
import shlex
from pathlib import Path

import pytest

from gaitprep.build import BuildOptions
from gaitprep.build.datasets import build_heatmaps, build_pav
from gaitprep.heatmaps.spec import preset
from gaitprep.manifest import load_manifest
from gaitprep.partition import load_partition
from gaitprep.synth.release import write_release
from tests._datasets import DEMO_PARTITION_FILE, DEMO_RELEASE, DEMO_TRAIN

REPO = Path(__file__).resolve().parent.parent
CHECKED_IN = REPO / "data_manifests" / "demo"


@pytest.fixture(scope="module")
def demo_pose(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README demo's release (same options as scripts/demo.sh), pose layout only."""
    root = tmp_path_factory.mktemp("demo") / "synth"
    write_release(root, layouts=("pose-pkl",), **DEMO_RELEASE)
    return root


def test_demo_skeleton_maps_rebuild_to_the_checked_in_content_digest(demo_pose: Path, tmp_path: Path) -> None:
    expected = load_manifest(CHECKED_IN / "skeleton-maps.manifest.json")
    partition = load_partition(demo_pose / DEMO_PARTITION_FILE)
    assert partition.sha256 == expected.partition.sha256
    result = build_heatmaps(
        demo_pose / "pose-pkl",
        tmp_path / "maps",
        preset("recommended"),
        options=BuildOptions(partition=partition, quiet=True),
    )
    assert result.manifest.source.digest == expected.source.digest
    assert result.manifest.params_digest == expected.params_digest
    assert result.manifest.content_digest == expected.content_digest


def test_demo_pav_rebuilds_to_the_checked_in_content_digest(demo_pose: Path, tmp_path: Path) -> None:
    expected = load_manifest(CHECKED_IN / "pav.manifest.json")
    result = build_pav(
        demo_pose / "pose-pkl",
        tmp_path / "pav",
        options=BuildOptions(partition=load_partition(demo_pose / DEMO_PARTITION_FILE), quiet=True),
    )
    assert result.manifest.fitted == expected.fitted
    assert result.manifest.content_digest == expected.content_digest


def _script_options(line: str, iterations: str = "") -> dict[str, str]:
    words = shlex.split(line.replace('"$ITER"', iterations))
    return {
        w: v for w, v in zip(words, words[1:], strict=False) if w.startswith("--") and not v.startswith("--")
    }


def test_the_demo_script_uses_the_tested_release_and_recipe() -> None:
    script = (REPO / "scripts" / "demo.sh").read_text()
    synth = _script_options(next(ln for ln in script.splitlines() if ln.startswith("gaitprep synth ")))
    r = DEMO_RELEASE
    assert synth["--sequences"] == str(r["sequences"])
    assert synth["--frames"] == "{}-{}".format(*r["frames"])
    assert synth["--size"] == "{}x{}".format(*r["image_size"])
    assert synth["--seed"] == str(r["seed"])
    assert synth["--ratio"] == r["ratio"]
    iterations = re.search(r"ITER=\$\{DEMO_ITERATIONS:-(\d+)\}", script).group(1)
    train = _script_options(re.search(r"TRAIN_OPTS=\((.*?)\)", script, re.S).group(1), iterations)
    expected = dict(zip(DEMO_TRAIN[::2], DEMO_TRAIN[1::2], strict=True))
    assert {k: train[k] for k in expected} == expected
    recipe = (REPO / "pipelines" / "demo.yaml").read_text()
    assert f"partition: synth/{DEMO_PARTITION_FILE}" in recipe
