"""Tiny gaitprep datasets and CLI helpers for the gaitmodels train / evaluate / predict tests.

Every dataset is built from the session's ``synth_release`` (12 sequences, 12-20 frames, partition
``Scoliosis1K_118``: 7 train ids, 5 test ids) through the real builders, so the tests exercise the
manifests that users get. Builds are cached per release path: several test modules share them. Treat
the results as read-only; copy a dataset before tampering with it.
"""

from __future__ import annotations

import functools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from gaitprep.manifest import MANIFEST_NAME, load_manifest, manifest_bytes, seal
from gaitprep.partition import Partition, load_partition, write_partition

PARTITION_FILE = "Scoliosis1K_118.json"
# The README demo's synthetic release (scripts/demo.sh, pipelines/demo.yaml; a test holds the script to it).
DEMO_RELEASE = {"sequences": 150, "frames": (30, 40), "image_size": (320, 180), "seed": 0, "ratio": "1:1:4"}
DEMO_PARTITION_FILE = "Scoliosis1K_114.json"
# The README demo's training recipe (scripts/demo.sh's TRAIN_OPTS), less device, logging and output options.
DEMO_TRAIN = (
    "--recipe", "adamw-cosine", "--lr", "2e-3", "--iterations", "200", "--batch", "4,2", "--frames", "30",
    "--widths", "8,16,32,64", "--class-weights", "inverse-frequency", "--seed", "0",
)  # fmt: skip
# Tiny networks and batches: every training run of the tests takes about a second.
TINY = ("--widths", "4,8,16,32", "--batch", "3,2", "--frames", "4", "--device", "cpu", "--quiet")


@dataclass(frozen=True)
class SmallData:
    """Paths of the datasets built from one synthetic release (each a folder holding manifest.json)."""

    release: Path
    partition: Partition
    maps: Path  # skeleton_map, uint8 (T, 2, 64, 64), recommended preset, partition 118
    pav: Path  # pav (8, 3), fitted on the TRAIN ids of partition 118
    pav_all: Path  # pav fitted with fit_on="all" (test ids leak into the normaliser)
    pav_other: Path  # pav fitted on the TRAIN ids of another partition (train/test swapped)
    sil: Path  # silhouette, uint8 (T, 64, 64), from sil-raw


@functools.cache
def small_datasets(release: Path, base: Path) -> SmallData:
    """Build (once per release) the maps, PAV and silhouette datasets under ``base``."""
    from gaitprep.build.datasets import BuildOptions, build_heatmaps, build_pav, build_silhouettes
    from gaitprep.heatmaps.spec import preset

    part = load_partition(release / PARTITION_FILE)
    base.mkdir(parents=True, exist_ok=True)
    other = write_partition(base / "Scoliosis1K_swapped.json", list(part.test), list(part.train))
    poses = release / "pose-pkl"
    out = SmallData(
        release=release,
        partition=part,
        maps=base / "maps",
        pav=base / "pav",
        pav_all=base / "pav-all",
        pav_other=base / "pav-other",
        sil=base / "sil",
    )
    build_heatmaps(poses, out.maps, preset("recommended"), options=BuildOptions(partition=part, quiet=True))
    build_pav(poses, out.pav, options=BuildOptions(partition=part, quiet=True))
    build_pav(poses, out.pav_all, fit_on="all", options=BuildOptions(partition=part, quiet=True))
    build_pav(poses, out.pav_other, options=BuildOptions(partition=other, quiet=True))
    build_silhouettes(release / "sil-raw", out.sil, options=BuildOptions(partition=part, quiet=True))
    return out


def run_cli(*args: object) -> Result:
    """Invoke ``gaitmodels`` in-process; stdout and stderr stay separate (``result.stderr``)."""
    from gaitmodels.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def train_tiny(manifest: Path, model: str, out: Path, *extra: object, iterations: int = 2) -> Result:
    """Train a tiny model for ``iterations`` iterations; fails the test with the CLI's stderr otherwise."""
    result = run_cli(
        "train",
        "--manifest",
        manifest,
        "--model",
        model,
        "--out",
        out,
        "--iterations",
        iterations,
        *TINY,
        *extra,
    )
    assert result.exit_code == 0, result.stderr or repr(result.exception)
    return result


@functools.cache
def tiny_run(data: SmallData, model: str, base: Path) -> Path:
    """A 2-iteration run of ``model`` on the matching dataset (cached); returns the run directory."""
    out = base / f"run-{model}"
    manifest = data.sil if model in ("sconet", "sconet-mt") else data.maps
    extra = ("--pav-manifest", data.pav) if model == "drf" else ()
    train_tiny(manifest, model, out, *extra)
    return out


def copy_dataset(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def rewrite_manifest(dataset: Path, **changes: object) -> None:
    """Change top-level manifest fields and re-seal it, as a consistent but different dataset would be."""
    manifest = load_manifest(dataset).model_copy(update=changes)
    (dataset / MANIFEST_NAME).write_bytes(manifest_bytes(seal(manifest)))


def one_error_line(result: Result) -> str:
    """The single ``error: ...`` line a refused command prints; asserts there is no traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return lines[0]


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
