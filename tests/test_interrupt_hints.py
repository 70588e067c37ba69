"""Ctrl-C says how to resume: a build names what it keeps (tests/test_faults.py sends a real SIGINT to a
build); training names the --resume command."""

from __future__ import annotations

from pathlib import Path

from tests._datasets import TINY, run_cli


def test_ctrl_c_during_training_names_the_resume_command(data, tmp_path: Path, monkeypatch) -> None:
    import gaitmodels.train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gaitmodels.train, "train", interrupted)
    out = tmp_path / "run"
    result = run_cli(
        "train", "--manifest", data.maps, "--model", "sconet-mt-ske", "--iterations", "2", "--out", out, *TINY
    )
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {out}: interrupted; "), lines
    assert f"'gaitmodels train --resume {out}'" in lines[0]
