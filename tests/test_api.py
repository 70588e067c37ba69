"""``gaitprep.open_dataset``: keys, labels, verified reads, whole-split loading with the load transform;
free of torch; and the ``gaitmodels`` torch adapter built on it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gaitprep
from gaitprep.errors import BadInputError, VerificationError
from gaitprep.manifest import array_digest, load_manifest
from tests.conftest import SYNTH_SEQUENCES

REPO = Path(__file__).resolve().parent.parent


def test_keys_splits_and_labels_follow_the_manifest(data) -> None:
    ds = gaitprep.open_dataset(data.maps)
    m = load_manifest(data.maps)
    assert ds.manifest == m and ds.format == "zarr" and ds.primary == "maps"
    assert len(ds) == SYNTH_SEQUENCES and list(ds) == [r.key for r in m.records]
    assert ds.keys() == sorted(ds.keys())
    assert all(k.split("/")[0] in data.partition.train for k in ds.keys("train"))
    assert all(k.split("/")[0] in data.partition.test for k in ds.keys("test"))
    assert len(ds.keys("train")) + len(ds.keys("test")) == SYNTH_SEQUENCES
    expected = {"negative": 0, "neutral": 1, "positive": 2}
    for key in ds.keys():
        assert ds.label(key) == expected[key.split("/")[1]]
    with pytest.raises(BadInputError, match="unknown split 'val'"):
        ds.keys("val")
    with pytest.raises(KeyError, match="not a sequence"):
        ds["99999/positive/000_180"]


def test_getitem_returns_the_stored_array_whose_digest_the_manifest_records(data) -> None:
    for path, name, shape in ((data.maps, "maps", (2, 64, 64)), (data.sil, "silhouette", (64, 64))):
        ds = gaitprep.open_dataset(path)
        for rec in ds.manifest.records:
            arr = ds[rec.key]
            assert arr.dtype == np.uint8 and arr.shape == (rec.frames, *shape)
            assert array_digest(arr) == rec.arrays[name].digest
    pav = gaitprep.open_dataset(data.pav)
    rec = pav.manifest.records[0]
    assert pav[rec.key].shape == (8, 3) and pav[rec.key].dtype == np.float32
    assert array_digest(pav.read(rec.key, "raw")) == rec.arrays["raw"].digest


def test_load_gives_the_split_in_key_order_with_labels_and_the_optional_load_transform(data) -> None:
    ds = gaitprep.open_dataset(data.maps)
    arrays, labels = ds.load("test")
    keys = ds.keys("test")
    assert labels.dtype == np.int64 and labels.tolist() == [ds.label(k) for k in keys]
    for key, arr in zip(keys, arrays, strict=True):
        np.testing.assert_array_equal(arr, ds[key])
    cut, _ = ds.load("test", transform=True, threads=1)
    for raw, x in zip(arrays, cut, strict=True):
        assert x.dtype == np.float32 and x.shape == (*raw.shape[:-1], 44)
        # by hand: columns 10..53 of 64 kept (int(64 // 64) * 10 cut each side), grey levels / 255
        np.testing.assert_array_equal(
            x, raw[..., 10:54].astype(np.float64).astype(np.float32) / np.float32(255)
        )
    assert float(max(x.max() for x in cut)) <= 1.0


def test_the_load_transform_is_the_one_gaitmodels_trains_with(data) -> None:
    from gaitmodels.sampling import cut_transform

    arr = gaitprep.open_dataset(data.sil)[load_manifest(data.sil).records[0].key]
    np.testing.assert_array_equal(gaitprep.load_transform(arr), cut_transform(arr))
    with pytest.raises(BadInputError, match="uint8"):
        gaitprep.load_transform(arr.astype(np.float32))


def test_zarr_and_pickle_copies_read_the_same(synth_release: Path, tmp_path: Path) -> None:
    from gaitprep.build.datasets import BuildOptions, build_silhouettes

    build_silhouettes(
        synth_release / "sil-pkl", tmp_path / "both", options=BuildOptions(fmt="both", quiet=True)
    )
    z = gaitprep.open_dataset(tmp_path / "both")
    p = gaitprep.open_dataset(tmp_path / "both" / "manifest.json", format="opengait-pkl")
    assert (z.format, p.format) == ("zarr", "opengait-pkl")
    for key in z.keys():
        np.testing.assert_array_equal(z[key], p[key])
    with pytest.raises(BadInputError, match="format 'hdf5' is not stored here"):
        gaitprep.open_dataset(tmp_path / "both", format="hdf5")


def test_a_changed_file_fails_its_read_and_other_sequences_still_read(data, tmp_path: Path) -> None:
    copy = tmp_path / "maps"
    shutil.copytree(data.maps, copy)
    ds = gaitprep.open_dataset(copy)
    victim, other = ds.manifest.records[0], ds.manifest.records[1]
    chunk = next(f for f in victim.files if "/c/" in f.path)
    raw = bytearray((copy / chunk.path).read_bytes())
    raw[-1] ^= 0xFF  # same size: the quick check at open passes; the read's sha256 does not
    (copy / chunk.path).write_bytes(bytes(raw))
    ds = gaitprep.open_dataset(copy)
    with pytest.raises(VerificationError, match="sha256 differs"):
        ds[victim.key]
    with pytest.raises(VerificationError):
        ds.load()
    assert array_digest(ds[other.key]) == other.arrays["maps"].digest


def test_a_dataset_that_fails_the_quick_check_does_not_open(data, tmp_path: Path) -> None:
    copy = tmp_path / "sil"
    shutil.copytree(data.sil, copy)
    rec = load_manifest(copy).records[0]
    (copy / rec.files[-1].path).unlink()
    with pytest.raises(VerificationError, match="missing"):
        gaitprep.open_dataset(copy)


def test_open_dataset_reads_without_importing_torch(data) -> None:
    code = (
        "import sys, gaitprep\n"
        f"ds = gaitprep.open_dataset({str(data.maps)!r})\n"
        "x, y = ds.load('train', transform=True)\n"
        "assert len(x) == len(y) > 0\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_the_torch_adapter_serves_transformed_sequences_and_labels(data) -> None:
    import torch
    from torch.utils.data import DataLoader

    from gaitmodels.dataset import SequenceDataset

    ds = gaitprep.open_dataset(data.maps)
    adapter = SequenceDataset(data.maps, split="train")
    keys = ds.keys("train")
    assert len(adapter) == len(keys) and adapter.keys == keys
    x, y = adapter[0]
    assert x.dtype == torch.float32 and tuple(x.shape) == (*ds[keys[0]].shape[:-1], 44)
    np.testing.assert_array_equal(x.numpy(), gaitprep.load_transform(ds[keys[0]]))
    assert y.dtype == torch.int64 and int(y) == ds.label(keys[0])
    raw = SequenceDataset(ds, split="train", transform=False)
    assert raw[1][0].dtype == torch.uint8
    labels = [int(b[1]) for b in DataLoader(adapter, batch_size=None, num_workers=0)]
    assert labels == [ds.label(k) for k in keys]
