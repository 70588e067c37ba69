"""Shared fixtures. ``synth_release`` is written once per test session; treat it as read-only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from tests.real_walking import real_walking  # noqa: F401  (session fixture: LaFAN1 real walking)

# Property tests draw the same examples on every run (and in CI), so a run can never pass or fail by chance;
# `HYPOTHESIS_PROFILE=explore pytest tests/test_properties.py` draws fresh ones when looking for new cases.
settings.register_profile("fixed", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

SYNTH_SEQUENCES = 12
SYNTH_FRAMES = (12, 20)
SYNTH_SIZE = (160, 90)  # (W, H) pixels
SYNTH_SEED = 7


@pytest.fixture(scope="session")
def synth_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root of a small synthetic release: all four layouts plus ``Scoliosis1K_118.json``.

    12 sequences (ids 00000-00011: positive 4, negative 6, neutral 2, class-blocked), 12-20 raw frames
    each at 160x90, seed 7, default detector noise (1 % missing joints, 2 % low-confidence frames).
    Shared by every test in the session: copy it before modifying anything.
    """
    from gaitprep.synth.release import write_release

    root = tmp_path_factory.mktemp("synth") / "release"
    write_release(
        root,
        sequences=SYNTH_SEQUENCES,
        frames=SYNTH_FRAMES,
        image_size=SYNTH_SIZE,
        seed=SYNTH_SEED,
        progress=False,
    )
    return root


@pytest.fixture(scope="session")
def data(synth_release: Path, tmp_path_factory: pytest.TempPathFactory):
    """The gaitmodels tests' datasets built from ``synth_release`` (``tests._datasets.SmallData``: maps, PAV
    fitted three ways, silhouettes). Read-only: copy a dataset before tampering with it."""
    from tests._datasets import small_datasets

    return small_datasets(synth_release, tmp_path_factory.getbasetemp() / "gaitmodels-data")


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where ``tests._datasets.tiny_run`` caches its short training runs, shared across test modules."""
    return tmp_path_factory.getbasetemp() / "gaitmodels-runs"
