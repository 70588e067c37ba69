"""Pickles and checkpoints that try to run code are refused WITHOUT running it; honest arrays still load.

Every payload, loaded with a plain ``pickle.loads``, creates a marker file (proved in a child process),
so "the marker does not exist" after our loaders refused it means the code never ran. The same payloads
inside input trees are run through every command by tests/test_corpus.py (cases ``hostile_*``).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from corpus.make_corpus import (
    HOSTILE_KINDS,
    HOSTILE_PROBLEM,
    LIVE_KINDS,
    TINY_TRAIN,
    CallOnLoad,
    base,
    hostile_pickle_bytes,
)

from gaitprep.errors import BadInputError, UnsafePickleError
from gaitprep.io.safe_pickle import dump_array_pickle, load_array_pickle, load_pickle, loads_restricted

PLAIN_LOAD = "import pickle, sys; pickle.loads(open(sys.argv[1], 'rb').read())"


def appears(marker: Path, timeout: float) -> bool:
    """Whether ``marker`` exists within ``timeout`` s (a Popen payload writes it from a grandchild)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists():
            return True
        time.sleep(0.02)
    return marker.exists()


@pytest.mark.parametrize("kind", LIVE_KINDS)
def test_each_payload_really_runs_under_a_plain_unpickler(kind: str, tmp_path: Path) -> None:
    """Guards the guard: a refused payload proves something only if the payload works."""
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pkl"
    path.write_bytes(hostile_pickle_bytes(kind, marker))
    subprocess.run([sys.executable, "-c", PLAIN_LOAD, str(path)], capture_output=True, timeout=60)
    assert appears(marker, 10.0), f"the {kind} payload did not run under pickle.loads"


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
def test_the_restricted_loader_refuses_each_payload_without_running_it(kind: str, tmp_path: Path) -> None:
    import re

    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pkl"
    path.write_bytes(hostile_pickle_bytes(kind, marker))
    with pytest.raises(BadInputError) as info:
        load_array_pickle(path)
    assert str(path) in str(info.value)
    assert re.search(HOSTILE_PROBLEM[kind], str(info.value)), str(info.value)
    if kind != "persistent_id":  # a PERSID opcode is malformed for us, not a refused global
        assert isinstance(info.value, UnsafePickleError)
    with pytest.raises(BadInputError):
        loads_restricted(path.read_bytes())
    assert not appears(marker, 0.3 if kind == "subprocess_popen" else 0.0)


def test_a_payload_hidden_in_a_structured_dtype_field_is_refused(tmp_path: Path) -> None:
    arr = np.zeros(2, dtype=[("x", "f4"), ("obj", "O")])
    marker = tmp_path / "PWNED"
    arr["obj"][0] = CallOnLoad(os.system, (f"touch {marker}",))
    with pytest.raises(UnsafePickleError):
        loads_restricted(pickle.dumps(arr, protocol=4))
    assert not marker.exists()


@pytest.mark.parametrize("container", ["list", "tuple", "dict"])
def test_an_object_array_inside_a_container_is_refused(container: str) -> None:
    inner = np.array([1, "two"], dtype=object)
    obj = {"list": [np.zeros(2), inner], "tuple": (inner,), "dict": {"a": {"b": inner}}}[container]
    with pytest.raises(UnsafePickleError, match="object array"):
        loads_restricted(pickle.dumps(obj, protocol=4))


# --- honest data still loads -------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [3, 4, 5])
@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64", "int64", "bool", ">f4", "complex64"])
def test_numeric_arrays_load_exactly_as_a_plain_unpickler_gives_them(protocol: int, dtype: str) -> None:
    arr = (np.arange(24).reshape(2, 3, 4) % 7).astype(dtype)
    data = pickle.dumps(arr, protocol=protocol)
    ours, plain = loads_restricted(data), pickle.loads(data)
    assert ours.dtype == plain.dtype and ours.shape == (2, 3, 4)
    np.testing.assert_array_equal(ours, plain)


def test_protocol_2_numpy_pickles_load() -> None:
    """Protocol 2 (Python 2 era, and any ``pickle.dump(..., protocol=2)``) stores an array's bytes through
    ``_codecs.encode``; a harmless function that torch's weights-only unpickler admits for the same reason.
    An honest protocol-2 silhouette pickle must load, not be called unsafe."""
    arr = np.arange(64, dtype=np.uint8).reshape(1, 8, 8)
    np.testing.assert_array_equal(loads_restricted(pickle.dumps(arr, protocol=2)), arr)


def test_scalars_dicts_and_lists_of_arrays_load(tmp_path: Path) -> None:
    assert loads_restricted(pickle.dumps(np.float32(3.5))) == np.float32(3.5)
    doc = loads_restricted(pickle.dumps({"a": np.zeros(2), "b": [np.ones(1, np.uint8)]}, protocol=4))
    assert doc["a"].shape == (2,) and doc["b"][0].dtype == np.uint8
    # a pickle that holds a container, not an array, is refused by the array loader with what it found
    path = tmp_path / "dict.pkl"
    path.write_bytes(pickle.dumps({"a": np.zeros(2)}, protocol=4))
    assert isinstance(load_pickle(path), dict)
    with pytest.raises(BadInputError, match=r"holds dict, expected a numpy array"):
        load_array_pickle(path)


def test_our_own_pickles_round_trip_and_are_deterministic(tmp_path: Path) -> None:
    arr = np.arange(2 * 17 * 3, dtype=np.float32).reshape(2, 17, 3)
    n1 = dump_array_pickle(arr, tmp_path / "a.pkl")
    n2 = dump_array_pickle(arr.copy(order="F"), tmp_path / "b.pkl")
    assert n1 == n2 == (tmp_path / "a.pkl").stat().st_size
    assert (tmp_path / "a.pkl").read_bytes() == (tmp_path / "b.pkl").read_bytes()
    np.testing.assert_array_equal(load_array_pickle(tmp_path / "a.pkl"), arr)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


# --- checkpoints (torch, weights_only) ---------------------------------------------------------------------


def _checkpoint_payloads(tmp_path: Path, marker: Path) -> dict[str, Path]:
    import torch

    raw = tmp_path / "raw.pt"
    raw.write_bytes(hostile_pickle_bytes("os_system", marker))
    zipped = tmp_path / "zipped.pt"
    torch.save(
        {"format": "gaitmodels-checkpoint-1", "x": CallOnLoad(os.system, (f"touch {marker}",))}, zipped
    )
    return {"raw": raw, "zipped": zipped}


@pytest.fixture(scope="module")
def maps_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good skeleton-map dataset (the corpus base), so every command gets as far as the checkpoint."""
    return base(tmp_path_factory.mktemp("base"))["maps"]


@pytest.mark.parametrize("payload", ["raw", "zipped"])
def test_a_hostile_checkpoint_is_refused_by_evaluate_predict_and_train_without_running(
    payload: str, maps_dataset: Path, tmp_path: Path
) -> None:
    from gaitmodels.cli import main

    marker = tmp_path / "PWNED"
    ckpt = _checkpoint_payloads(tmp_path, marker)[payload]
    ds = str(maps_dataset)
    train = ["train", "--manifest", ds, *TINY_TRAIN.split()]
    e, r, i = (str(tmp_path / n) for n in "eri")
    runs = [
        ["evaluate", "--checkpoint", str(ckpt), "--manifest", ds, "--device", "cpu", "--out", e],
        ["predict", "--checkpoint", str(ckpt), "--input", ds, "--device", "cpu"],
        [*train, "--resume", str(ckpt), "--out", r],
        [*train, "--init", str(ckpt), "--out", i],
    ]
    for args in runs:
        res = CliRunner().invoke(main, args, env={"GAITPREP_DEBUG": None})
        err = res.stderr.splitlines()
        assert res.exit_code == 1, (args[0], res.output)
        assert len(err) == 1 and err[0].startswith("error: "), (args[0], err)
        assert str(ckpt) in err[0], err[0]
        assert "not a readable checkpoint" in err[0], err[0]
        assert "Traceback" not in res.output
        assert not marker.exists(), f"{args[0]} ran the checkpoint's payload"
    assert not (tmp_path / "e").exists() and not (tmp_path / "r").exists() and not (tmp_path / "i").exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "not a readable checkpoint"),
        (b"PK\x03\x04 truncated zip", "not a readable checkpoint"),
        (None, "not a gaitmodels-checkpoint-1 checkpoint"),
    ],
)
def test_a_corrupt_or_foreign_checkpoint_is_one_line_of_bad_input(
    content, problem: str, tmp_path: Path
) -> None:
    import torch

    from gaitmodels.cli import main

    ckpt = tmp_path / "bad.pt"
    if content is None:
        torch.save({"state_dict": {"w": torch.zeros(2)}}, ckpt)  # someone else's checkpoint
    else:
        ckpt.write_bytes(content)
    data = tmp_path / "data"  # beside the checkpoint, so the default --out (beside it too) is not inside it
    data.mkdir()
    res = CliRunner().invoke(
        main, ["evaluate", "--checkpoint", str(ckpt), "--manifest", str(data), "--device", "cpu"]
    )
    err = res.stderr.splitlines()
    assert res.exit_code == 1 and len(err) == 1, res.output
    assert err[0].startswith(f"error: {ckpt}: {problem}"), err[0]
