"""``gaitprep list``: finds datasets, summarises parameters, traces lineage, reports failed verification."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gaitprep.build import BuildOptions, BuildPlan, ProcessResult, SourceItem, build_dataset
from gaitprep.build.datasets import build_heatmaps, build_silhouettes
from gaitprep.catalog import build_catalog, find_datasets, format_catalog, params_summary
from gaitprep.cli import main
from gaitprep.heatmaps.spec import preset
from gaitprep.io.safe_pickle import dump_array_pickle
from gaitprep.io.store import read_sequence
from gaitprep.manifest import Layout, SequenceRecord, load_manifest
from gaitprep.sources import dataset_items, dataset_source_info

VIEW = "000_180"


def write_sil_tree(root: Path, n: int = 4) -> None:
    for i in range(n):
        sil = np.zeros((3, 64, 64), dtype=np.uint8)
        sil[:, 5 + i : 50, 20 + i : 40] = 255
        dump_array_pickle(
            sil, root / f"{i:05d}" / ("negative", "neutral", "positive")[i % 3] / VIEW / f"{VIEW}.pkl"
        )


def invert_process(item: SourceItem) -> ProcessResult:
    """Derived silhouettes: 255 - upstream, read from the upstream dataset named in ``item.inputs``."""
    root, record = item.inputs
    rec = SequenceRecord.model_validate(record)
    sil = read_sequence(Path(root), rec, load_manifest(root).layout)["silhouette"]
    return ProcessResult({"silhouette": 255 - sil}, rec.frames, rec.frames)


def build_inverted(upstream: Path, out: Path) -> None:
    manifest, root, items = dataset_items(upstream)
    plan = BuildPlan(
        out=out,
        name="inverted",
        version="1.0.0",
        modality="silhouette",
        algo_version="test-invert-1",
        layout=Layout(formats=("zarr",), primary="silhouette", arrays=manifest.layout.arrays),
        params={"transform": "invert"},
        items=items,
        process=invert_process,
        source=dataset_source_info([(manifest, root)], items),
    )
    build_dataset(plan, BuildOptions(quiet=True))


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory, synth_release: Path) -> Path:
    """raw/sil (a tree, not a dataset); sil (Zarr) and sil-pkl (same arrays, pickles) built from it;
    derived/inverted built from sil; maps (recommended skeleton maps of the session's synthetic
    release, built as users build them). Never modified."""
    base = tmp_path_factory.mktemp("catalog")
    write_sil_tree(base / "raw" / "sil")
    build_silhouettes(base / "raw" / "sil", base / "sil", options=BuildOptions(quiet=True))
    build_silhouettes(base / "raw" / "sil", base / "sil-pkl", options=BuildOptions(fmt="pkl", quiet=True))
    build_inverted(base / "sil", base / "derived" / "inverted")
    build_heatmaps(
        synth_release / "pose-pkl", base / "maps", preset("recommended"), options=BuildOptions(quiet=True)
    )
    return base


RECOMMENDED = "recommended preset: sigma 8/8 body, align shared, scale smoothed, crop full_canvas"


def test_find_datasets_does_not_descend_into_datasets_or_hidden_folders(tmp_path):
    for rel in ("a", "a/inner", "b/c", ".stage", "d/.x.partial"):
        (tmp_path / rel).mkdir(parents=True)
        (tmp_path / rel / "manifest.json").write_text("{}")
    (tmp_path / "e").mkdir()
    assert [p.relative_to(tmp_path).as_posix() for p in find_datasets(tmp_path)] == ["a", "b/c"]


def test_catalog_lists_every_dataset_with_counts_formats_and_lineage(data_root):
    catalog = build_catalog(data_root)
    by_rel = {e.rel: e for e in catalog.entries}
    assert sorted(by_rel) == ["derived/inverted", "maps", "sil", "sil-pkl"]
    sil = by_rel["sil"]
    assert (sil.manifest.modality, len(sil.manifest.records)) == ("silhouette", 4)
    assert sil.lineage == [
        {"kind": "tree", "release": "sil-pkl", "root": str(data_root / "raw" / "sil"), "sequences": 4}
    ]
    (link,) = by_rel["derived/inverted"].lineage
    assert link["kind"] == "dataset" and link["name"] == "sil"
    # The exact build it came from first, then the same arrays stored as pickles.
    assert [(f["path"], f["matched_by"]) for f in link["found"]] == [
        ("sil", "derivation_id"),
        ("sil-pkl", "content_digest"),
    ]
    assert sil.derived == ["derived/inverted"] and by_rel["maps"].derived == []
    text = format_catalog(catalog)
    assert "derived/inverted  inverted v1.0.0  silhouette  4 sequences, 12 frames  [zarr]" in text
    assert "from: dataset sil (silhouette) = sil [derivation_id], sil-pkl [content_digest]" in text
    assert f"from: sil-pkl tree at {data_root / 'raw' / 'sil'} (4 sequences)" in text
    assert f"  params: {RECOMMENDED}" in text
    assert "[opengait-pkl]" in text


def test_params_summary_names_preset_alignment_scale_and_crop_of_skeleton_maps(
    data_root, synth_release, tmp_path
):
    maps = load_manifest(data_root / "maps")
    assert params_summary(maps) == RECOMMENDED
    poses = synth_release / "pose-pkl"
    upstream = build_heatmaps(
        poses, tmp_path / "og", preset("opengait"), options=BuildOptions(quiet=True)
    ).manifest
    assert params_summary(upstream) == (
        "opengait preset: sigma 8/8 coco17, align per_channel, scale per_frame, crop content"
    )
    variant = preset("recommended", sigma_limb=15.0, align="per_channel", combine="sum", raster="canvas")
    varied = build_heatmaps(poses, tmp_path / "var", variant, options=BuildOptions(quiet=True)).manifest
    assert params_summary(varied) == (
        "recommended preset: sigma 15/8 body, align per_channel, scale smoothed, crop full_canvas; "
        "also combine=sum raster=canvas"
    )
    # a parameter the spec does not know (the old catalogue's align_mode) is named, not summarised wrongly
    renamed = {**maps.params, "align_mode": maps.params["align"]}
    text = params_summary(maps.model_copy(update={"params": renamed}))
    assert text.startswith("UNREADABLE PARAMETERS") and "'align_mode' is not a field of HeatmapSpec" in text
    sil = load_manifest(data_root / "sil")
    assert params_summary(sil).startswith("transform=repackage input_layout=sil-pkl ")
    inverted = load_manifest(data_root / "derived" / "inverted")
    assert params_summary(inverted) == "transform=invert"


def test_list_json_is_one_document_with_every_dataset(data_root):
    res = CliRunner().invoke(main, ["list", str(data_root), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["count"] == 4 and doc["verified"] is False and doc["ok"] is None
    row = {d["path"]: d for d in doc["datasets"]}["maps"]
    assert (row["name"], row["version"], row["modality"], row["sequences"], row["formats"]) == (
        "maps",
        "1.0.0",
        "skeleton_map",
        12,
        ["zarr"],
    )
    assert row["params"] == RECOMMENDED
    assert row["lineage"][0]["root"].endswith("pose-pkl")
    assert row["verify"] is None


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_list_verify_reports_a_tampered_dataset_with_exit_code_3_after_listing_all(data_root, tmp_path):
    root = Path(shutil.copytree(data_root, tmp_path / "root"))
    victim = root / "sil-pkl" / "00002" / "positive" / VIEW / f"{VIEW}.pkl"
    flip_byte(victim)  # same size: only the files level (sha256) sees it
    runner = CliRunner()
    res = runner.invoke(main, ["list", str(root), "--verify"])
    assert res.exit_code == 3
    assert res.output.count("verify: OK") == 3
    assert "verify: FAILED (1 problem(s))" in res.output
    assert f"changed: 00002/positive/{VIEW}/{VIEW}.pkl: sha256 differs" in res.output
    assert "4 dataset(s)" in res.output and "1 failed verification" in res.output
    doc = json.loads(runner.invoke(main, ["list", str(root), "--verify", "--json"]).output)
    assert doc["failed"] == ["sil-pkl"] and doc["ok"] is False
    assert {d["path"]: d["verify"]["ok"] for d in doc["datasets"]} == {
        "derived/inverted": True,
        "maps": True,
        "sil": True,
        "sil-pkl": False,
    }


def test_list_verify_passes_on_intact_datasets_and_flags_an_unreadable_manifest(data_root, tmp_path):
    res = CliRunner().invoke(main, ["list", str(data_root), "--verify"])
    assert res.exit_code == 0, res.output
    assert "all verify" in res.output
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{not json")
    res = CliRunner().invoke(main, ["list", str(tmp_path)])
    assert res.exit_code == 1 and "broken  UNREADABLE" in res.output  # bad input: exit 1 after listing
    res = CliRunner().invoke(main, ["list", str(tmp_path), "--verify"])
    assert res.exit_code == 1  # the unreadable manifest is bad input, which outranks verification


def test_list_of_an_empty_folder_says_so(tmp_path):
    res = CliRunner().invoke(main, ["list", str(tmp_path)])
    assert res.exit_code == 0 and res.output.strip() == f"no datasets under {tmp_path}"
