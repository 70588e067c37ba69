"""Distributed training: ``torchrun --nproc_per_node 2`` on CPU (gloo) runs and checkpoints; ranks split
every batch without overlap and see the same clips as a single process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from gaitmodels.sampling import TripletSampler
from gaitmodels.train import TokenBatches
from tests._datasets import TINY, SmallData


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_cpu_processes_train_and_checkpoint(data: SmallData, tmp_path: Path):
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
        "-m", "gaitmodels", "train", "--manifest", str(data.maps), "--model", "sconet-mt-ske",
        "--out", str(out), "--iterations", "2", "--log-every", "1", *TINY,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = torch.load(out / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    assert ckpt["iteration"] == 2
    assert not any(k.startswith("module.") for k in ckpt["model_state"])  # the unwrapped model is saved
    assert (out / "metrics.csv").read_text().count("\n") == 3  # header + 2 rows, written by rank 0 only


def test_ranks_share_each_batch_without_overlap_and_keep_single_process_slots():
    ids = [f"{i:05d}" for i in range(7)]
    single = list(TokenBatches(TripletSampler(ids, 3, 2, seed=5), 0, 4))
    ranks = [
        list(TokenBatches(TripletSampler(ids, 3, 2, seed=5, rank=r, world_size=2), 0, 4)) for r in (0, 1)
    ]
    for it in range(4):
        both = ranks[0][it] + ranks[1][it]
        assert len(ranks[0][it]) == len(ranks[1][it]) == 3
        assert sorted(both) == sorted(single[it])  # same (sequence, iteration, slot) tokens, split in two
        assert {slot for _, _, slot in ranks[0][it]} == {0, 2, 4}
