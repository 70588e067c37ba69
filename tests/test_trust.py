"""Trust nothing we read (issue 15), at the library level: verified reads, bounds, finite numbers.

The command-level cases (one line, exit code, nothing left at --out) are in the bad-input corpus
(``tests/corpus/make_corpus.py``, run by ``test_corpus.py``); the signal and full-disk cases in
``test_faults.py``. Here: what the library functions return and raise, checked against independent
references (the unverified reader, ``hashlib``, ``zarr`` itself).
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from corpus.make_corpus import base, hostile_pickle_bytes

from gaitprep.errors import BadInputError, TrainingDivergedError, VerificationError
from gaitprep.io import verified
from gaitprep.io.bounds import (
    MAX_JSON_DEPTH,
    MAX_PNG_SIDE,
    check_png_header,
    json_numbers,
    loads_json,
    read_regular_file,
)
from gaitprep.io.safe_pickle import loads_restricted
from gaitprep.io.store import read_sequence
from gaitprep.io.verified import read_sequence_verified
from gaitprep.manifest import array_digest, load_manifest


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return base(tmp_path_factory.mktemp("trust"))


def _copy(datasets: dict[str, Path], which: str, tmp_path: Path) -> Path:
    out = tmp_path / which
    shutil.copytree(datasets[which], out)
    return out


# --- verified reads --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["maps", "maps_pkl"])
def test_verified_reads_give_exactly_the_arrays_the_unverified_reader_gives(which: str, datasets) -> None:
    ds = datasets[which]
    m = load_manifest(ds)
    for rec in m.records:
        ours = read_sequence_verified(ds, m, rec)
        ref = read_sequence(ds, rec, m.layout)[m.layout.primary]
        assert ours.dtype == ref.dtype and ours.shape == ref.shape and np.array_equal(ours, ref)
        assert array_digest(ours) == rec.arrays[m.layout.primary].digest
        assert ours.flags.writeable  # as zarr's and pickle's own arrays are


@pytest.mark.parametrize("which", ["maps", "maps_pkl"])
def test_each_file_is_opened_once_and_never_hashed_in_a_second_pass(
    which: str, datasets, monkeypatch
) -> None:
    ds = datasets[which]
    m = load_manifest(ds)
    rec = m.records[0]
    opened: list[str] = []
    real_open = os.open

    def counting_open(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    def no_second_pass(*args, **kwargs):
        raise AssertionError("a file was hashed in a second pass")

    monkeypatch.setattr(verified.os, "open", counting_open)
    monkeypatch.setattr("gaitprep.io.tree.sha256_file", no_second_pass)
    read_sequence_verified(ds, m, rec)
    assert len(opened) == len(set(opened)) >= 1
    listed = {str(ds / f.path) for f in rec.files}
    assert set(opened) <= listed


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("which", ["maps", "maps_pkl"])
def test_a_flipped_bit_a_truncation_or_a_missing_file_is_a_verification_error_naming_it(
    which: str, datasets, tmp_path: Path
) -> None:
    ds = _copy(datasets, which, tmp_path)
    m = load_manifest(ds)
    rec = m.records[0]
    data_file = next(f.path for f in rec.files if "/c/" in f.path or f.path.endswith(".pkl"))
    target = ds / data_file
    original = target.read_bytes()
    _flip(target)
    with pytest.raises(VerificationError, match="sha256 differs") as info:
        read_sequence_verified(ds, m, rec)
    assert str(target) in str(info.value) and info.value.exit_code == 3
    target.write_bytes(original[:-1])
    with pytest.raises(VerificationError, match=rf"truncated: {len(original) - 1} bytes"):
        read_sequence_verified(ds, m, rec)
    target.unlink()
    with pytest.raises(VerificationError, match="listed file is missing"):
        read_sequence_verified(ds, m, rec)


def test_a_fifo_or_a_link_in_place_of_a_data_file_is_refused_without_reading_it(
    datasets, tmp_path: Path
) -> None:
    ds = _copy(datasets, "maps_pkl", tmp_path)
    m = load_manifest(ds)
    rec = m.records[0]
    target = ds / rec.files[0].path
    copy = tmp_path / "elsewhere.pkl"
    shutil.copyfile(target, copy)
    target.unlink()
    os.mkfifo(target)  # nobody writes it: a blocking read would hang for ever
    with pytest.raises(VerificationError, match="not a regular file"):
        read_sequence_verified(ds, m, rec)
    target.unlink()
    target.symlink_to(copy)  # identical bytes, but outside the dataset
    with pytest.raises(VerificationError, match="symbolic link"):
        read_sequence_verified(ds, m, rec)


def test_gaitprep_zarr_arrays_take_the_direct_decode_not_zarr(datasets, monkeypatch) -> None:
    """One zstd chunk per array (uint8 maps, float PAVs): decoded directly from the verified bytes."""

    def no_zarr(*args, **kwargs):
        raise AssertionError("fell back to zarr's machinery")

    monkeypatch.setattr(verified, "_zarr_from_bytes", no_zarr)
    m = load_manifest(datasets["maps"])
    for rec in m.records:
        ref = read_sequence(datasets["maps"], rec, m.layout)["maps"]
        np.testing.assert_array_equal(read_sequence_verified(datasets["maps"], m, rec), ref)


def test_the_generic_zarr_path_decodes_any_zarr_array_from_the_verified_bytes(tmp_path: Path) -> None:
    """Arrays not in gaitprep's own layout (several chunks, another codec) go through zarr over an in-memory
    store of the verified bytes; the result equals what zarr reads from disk."""
    import zarr
    from zarr.codecs import GzipCodec
    from zarr.storage import LocalStore

    arr = (np.arange(5 * 3 * 4, dtype=np.int16).reshape(5, 3, 4) * 7) - 100
    store = LocalStore(tmp_path / "z")
    z = zarr.create_array(
        store, name="a", shape=arr.shape, dtype=arr.dtype, chunks=(2, 3, 4), compressors=[GzipCodec()]
    )
    z[...] = arr
    files = {
        p.relative_to(tmp_path / "z").as_posix(): p.read_bytes()
        for p in sorted((tmp_path / "z" / "a").rglob("*"))
        if p.is_file()
    }
    assert len(files) == 4  # metadata + 3 chunks: not the one-chunk fast path
    meta = __import__("json").loads(files["a/zarr.json"])
    assert verified._fast_zarr(meta, files, "a/") is None
    np.testing.assert_array_equal(verified._zarr_from_bytes(files, "a/"), arr)


def test_the_hdf5_export_records_the_digest_of_what_it_wrote(datasets, tmp_path: Path) -> None:
    import h5py

    from gaitprep.export import export_hdf5

    out = tmp_path / "maps.h5"
    export_hdf5(datasets["maps"], out, quiet=True)
    m = load_manifest(datasets["maps"])
    with h5py.File(out, "r") as h5:
        for rec in m.records:
            ds = h5[f"/{rec.id}/{rec.label}/{rec.view}"]
            assert ds.attrs["digest"] == array_digest(ds[...]) == rec.arrays["maps"].digest


# --- bounds before work ----------------------------------------------------------------------------------


def test_only_regular_files_within_the_limit_are_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(BadInputError, match="not a regular file"):
        read_regular_file(fifo, 1 << 20, "partition")  # returns at once: opened non-blocking
    with pytest.raises(BadInputError, match="not a regular file"):
        read_regular_file("/dev/zero", 1 << 20, "manifest")
    big = tmp_path / "big.json"
    big.write_bytes(b"x" * 101)
    with pytest.raises(BadInputError, match="101 bytes, more than the 100 byte limit"):
        read_regular_file(big, 100, "recipe")
    assert read_regular_file(big, 101, "recipe") == b"x" * 101
    with pytest.raises(BadInputError, match="is a directory"):
        read_regular_file(tmp_path, 100, "manifest")


def test_json_depth_huge_integers_and_nan_tokens_are_one_line_errors() -> None:
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads_json(ok, "f", "partition") is not None
    deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(BadInputError, match="nested more than 64 levels"):
        loads_json(deep, "f", "partition")
    assert loads_json('["[[[[[[", "x"]', "f", "partition") == ["[[[[[[", "x"]  # brackets in strings
    with pytest.raises(BadInputError, match="digits"):
        loads_json("[" + "9" * 5000 + "]", "f", "partition")
    with pytest.raises(BadInputError, match="NaN is not a JSON number"):
        loads_json("[NaN]", "f", "manifest")
    assert np.isnan(loads_json("[NaN]", "f", "pose JSON", allow_nan=True)[0])


def test_png_signature_and_header_size_are_checked_before_decoding() -> None:
    import struct
    import zlib

    def png(w: int, h: int) -> bytes:
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + struct.pack(">I", 13)
            + b"IHDR"
            + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
        )

    assert check_png_header(png(96, 128), "f") == (96, 128)
    assert check_png_header(png(MAX_PNG_SIDE, 1), "f") == (MAX_PNG_SIDE, 1)
    with pytest.raises(BadInputError, match=r"8193x1 px"):
        check_png_header(png(MAX_PNG_SIDE + 1, 1), "f")
    for data, kind in ((b"\xff\xd8\xff\xe0....", "JPEG"), (b"BM6\x00\x00", "BMP"), (b"GIF89a", "GIF")):
        with pytest.raises(BadInputError, match=f"it is a {kind} image"):
            check_png_header(data, "f")


def test_json_numbers_refuse_strings_booleans_and_null() -> None:
    json_numbers([1, 2.5, -3e-2], "f", "kps")
    for bad, shown in (("1.5", '"1.5"'), (True, "true"), (None, "null"), ([1], "[1]")):
        with pytest.raises(BadInputError, match=rf"kps\[1\] is {shown}".replace("[1]", r"\[1\]", 2)):
            json_numbers([0.0, bad], "f", "kps")


def test_yaml_anchors_and_aliases_are_refused_before_composition(tmp_path: Path) -> None:
    from gaitprep.pipelines import parse_recipe

    with pytest.raises(BadInputError, match=r"line 2: YAML anchors and aliases are not allowed"):
        parse_recipe("name: x\na: &a [1, 2]\nb: *a\n", tmp_path / "r.yaml")


# --- the unpickler ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ndarray_no_buffer", "reconstruct_no_data"])
def test_a_few_bytes_that_become_a_large_array_under_pickle_are_refused(kind: str) -> None:
    data = hostile_pickle_bytes(kind, Path("unused"))
    plain = pickle.loads(data)  # the threat: 40 MB of uninitialised (or zeroed) memory from < 80 bytes
    assert len(data) < 80 and plain.nbytes == 100_000 * 17 * 3 * 8
    with pytest.raises(BadInputError, match="no data|without data"):
        loads_restricted(data)


def test_protocol_5_arrays_must_carry_exactly_their_bytes() -> None:
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    data = pickle.dumps(arr, protocol=5)
    np.testing.assert_array_equal(loads_restricted(data), arr)
    fortran = np.asfortranarray(arr)
    got = loads_restricted(pickle.dumps(fortran, protocol=5))
    np.testing.assert_array_equal(got, arr)
    lying = data.replace(b"K\x03K\x04", b"K\x03K\x05")  # the shape (3, 4) -> (3, 5), same 48 bytes
    assert lying != data
    with pytest.raises(BadInputError, match="needs 60 bytes, the stream holds 48"):
        loads_restricted(lying)


# --- finite numbers --------------------------------------------------------------------------------------


def test_a_checkpoint_with_nan_weights_is_refused_at_load_naming_the_tensor(datasets, tmp_path: Path) -> None:
    import torch

    from gaitmodels.checkpoint import load_checkpoint, save_checkpoint

    state = {"a.weight": torch.ones(3), "b.weight": torch.tensor([1.0, float("inf")]), "n": torch.tensor(3)}
    path = tmp_path / "c.pt"
    save_checkpoint({"format": "gaitmodels-checkpoint-1", "model_state": state}, path)
    with pytest.raises(BadInputError, match=r"weights b\.weight hold 1 NaN or infinite value"):
        load_checkpoint(path)


def test_non_finite_hyper_parameters_are_refused_at_parse() -> None:
    from pydantic import ValidationError

    from gaitmodels.train import TrainConfig

    for bad in ({"lr": float("nan")}, {"lr": -1.0}, {"weight_decay": float("inf")}, {"widths": (8, 0, 8, 8)}):
        with pytest.raises(ValidationError):
            TrainConfig(model="sconet", **bad)


def test_training_stops_naming_the_iteration_when_the_loss_is_not_finite_and_keeps_the_last_good_checkpoint(
    datasets, tmp_path: Path, monkeypatch
) -> None:
    import torch

    import gaitmodels.train as train_mod
    from gaitmodels.train import TrainConfig, train

    real = train_mod.part_cross_entropy
    calls = {"n": 0}

    def nan_at_third(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(train_mod, "part_cross_entropy", nan_at_third)
    cfg = TrainConfig(
        model="sconet-mt-ske",
        iterations=5,
        batch_p=2,
        batch_k=2,
        frames=4,
        widths=(4, 8, 16, 32),
        save_every=1,
    )
    run = tmp_path / "run"
    with pytest.raises(TrainingDivergedError) as info:
        train(cfg, datasets["maps"], run, device="cpu", quiet=True)
    message = str(info.value)
    assert "the loss became nan at iteration 3" in message
    assert str(run / "checkpoints" / "iter-000002.pt") in message
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["iteration"] == 2
    assert not (run / "checkpoints" / "iter-000003.pt").exists()


# --- reports and one-line errors -------------------------------------------------------------------------


def test_verify_manifest_reports_an_unreadable_file_and_goes_on(
    datasets, tmp_path: Path, monkeypatch
) -> None:
    from gaitprep.cli import main

    ds = _copy(datasets, "maps_pkl", tmp_path)
    m = load_manifest(ds)
    unreadable, changed = m.files[0].path, m.files[-1].path
    _flip(ds / changed)
    import gaitprep.verify as verify_mod

    real = verify_mod.sha256_file

    def failing(path: Path, *args, **kwargs):
        if Path(path) == ds / unreadable:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(verify_mod, "sha256_file", failing)
    res = CliRunner().invoke(main, ["verify-manifest", str(ds)])
    assert res.exit_code == 3, res.output
    assert f"unreadable: {unreadable}: cannot read: Permission denied" in res.stdout
    assert f"changed: {changed}: sha256 differs" in res.stdout  # it went on past the unreadable file
    assert res.stderr == ""


def test_out_of_memory_names_the_input(datasets, monkeypatch) -> None:
    from gaitprep.cli import main

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("gaitprep.commands.manifests.verify_dataset", exhausted)
    res = CliRunner().invoke(main, ["verify-manifest", str(datasets["maps"])])
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        f"error: {datasets['maps']}: out of memory (the input needs more memory than is free)"
    ]


def test_json_output_refuses_nan_instead_of_printing_invalid_json() -> None:
    from gaitprep.cliutil import emit
    from gaitprep.errors import GaitprepError

    with pytest.raises(GaitprepError, match="NaN or infinite"):
        emit({"probabilities": {"negative": float("nan")}}, as_json=True)
