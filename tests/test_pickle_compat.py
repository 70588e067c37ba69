"""Pickles we write load under numpy 1.x and 2.x alike (OpenGait users on numpy < 2 read our trees).

numpy 2 names its array reconstructor ``numpy._core.multiarray._reconstruct``; numpy 1.x has no
``numpy._core`` and fails with "No module named 'numpy._core'". We write the 1.x name, which numpy 2 keeps
for old pickles, so the bytes are the same under both: the hashes below are checked in this environment
(numpy 2) and in the minimum-versions one (numpy 1.26, ``scripts/test.sh``), which also loads a pickle
that the main environment's python wrote (``$GAITPREP_OTHER_PYTHON``).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import pickletools
import subprocess
import sys
from pathlib import Path

import numpy as np

from gaitprep.io.safe_pickle import dump_array_pickle, dumps_array, load_array_pickle

REPO = Path(__file__).resolve().parent.parent
UINT8 = (np.arange(2 * 3 * 4 * 5, dtype=np.uint8) * 7).reshape(2, 3, 4, 5)
FLOAT32 = (np.arange(8 * 3, dtype=np.float32) / 3 - 2).reshape(8, 3)
# sha256 of dumps_array(UINT8) and dumps_array(FLOAT32): identical under numpy 1.26 and 2.x.
UINT8_SHA256 = "681fe030452b98092eda4b6d77fec38baff33e5ab46eac3d24e9ad508b98ced1"
FLOAT32_SHA256 = "ae8b4cb7dda0c8a65c6641707209d8fda6a7621f19fb7fb91b00c971a3e6b837"


def _globals_named(data: bytes) -> list[str]:
    """The strings a pickle pushes (module and attribute names among them)."""
    return [arg for op, arg, _ in pickletools.genops(data) if op.name == "SHORT_BINUNICODE"]


def test_array_pickles_name_only_modules_that_numpy_1_and_2_both_have() -> None:
    for arr in (UINT8, FLOAT32):
        names = _globals_named(dumps_array(arr))
        assert "numpy.core.multiarray" in names
        assert not any(n.startswith("numpy._core") for n in names), names


def test_array_pickle_bytes_are_the_same_whichever_numpy_writes_them() -> None:
    assert hashlib.sha256(dumps_array(UINT8)).hexdigest() == UINT8_SHA256, np.__version__
    assert hashlib.sha256(dumps_array(FLOAT32)).hexdigest() == FLOAT32_SHA256, np.__version__


def test_a_plain_pickle_load_and_the_restricted_loader_read_them(tmp_path: Path) -> None:
    for arr in (UINT8, FLOAT32, np.asfortranarray(UINT8[0])):
        data = dumps_array(arr)
        plain = pickle.loads(data)  # what OpenGait does
        assert plain.dtype == arr.dtype and plain.flags.c_contiguous
        np.testing.assert_array_equal(plain, arr)
        dump_array_pickle(arr, tmp_path / "a.pkl")
        np.testing.assert_array_equal(load_array_pickle(tmp_path / "a.pkl"), arr)


def test_a_pickle_written_by_the_other_environments_numpy_loads_here(tmp_path: Path) -> None:
    """With ``$GAITPREP_OTHER_PYTHON`` (the minimum-versions run sets it to the numpy-2 environment's
    python) the writer is another numpy; without it, a separate process of this one."""
    writer = os.environ.get("GAITPREP_OTHER_PYTHON") or sys.executable
    target = tmp_path / "000_180.pkl"
    code = (
        "import sys, numpy as np\n"
        "from gaitprep.io.safe_pickle import dump_array_pickle\n"
        "a = (np.arange(2 * 3 * 4 * 5, dtype=np.uint8) * 7).reshape(2, 3, 4, 5)\n"
        "dump_array_pickle(a, sys.argv[1])\n"
        "print(np.__version__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [writer, "-c", code, str(target)], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    print(f"written by numpy {proc.stdout.strip()}, read by numpy {np.__version__}")
    with open(target, "rb") as fh:
        np.testing.assert_array_equal(pickle.load(fh), UINT8)
    np.testing.assert_array_equal(load_array_pickle(target), UINT8)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == UINT8_SHA256
