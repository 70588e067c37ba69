"""Distributed training: ``torchrun --nproc_per_node 2`` on CPU (gloo) runs and checkpoints as one process
would (one --json document, a triplet loss over the whole gathered batch); ranks split every batch without
overlap and see the same clips as a single process."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gaitmodels.distributed import gathered_triplet_loss
from gaitmodels.losses import triplet_loss
from gaitmodels.sampling import TripletSampler
from gaitmodels.train import TokenBatches
from tests._datasets import TINY, SmallData


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(tmp_path: Path, *args: object) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()), "-m", "gaitmodels", *map(str, args),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)


def test_torchrun_two_cpu_processes_train_like_one_process(data: SmallData, tmp_path: Path):
    out = tmp_path / "run"
    # P x K = 2 x 2: each rank holds 2 entries, often of two different ids, so an ungathered triplet term
    # would be 0; gathered, every id has its positive.
    proc = torchrun(
        tmp_path, "train", "--manifest", data.maps, "--model", "sconet-mt-ske", "--out", out,
        "--iterations", "3", "--log-every", "1", *TINY, "--batch", "2,2", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)  # exactly one JSON document: only rank 0 prints
    assert summary["world_size"] == 2 and summary["iterations"] == 3
    assert "trained" not in proc.stderr
    ckpt = torch.load(out / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    assert ckpt["iteration"] == 3
    assert not any(k.startswith("module.") for k in ckpt["model_state"])  # the unwrapped model is saved
    with open(out / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))  # written by rank 0 only: header + 3 rows
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3]
    assert all(float(r["triplet"]) > 0 and float(r["triplet_nonzero"]) > 0 for r in rows)
    assert summary["last"]["triplet"] == float(rows[-1]["triplet"])


def test_torchrun_bad_input_is_one_line_from_rank_zero(data: SmallData, tmp_path: Path):
    proc = torchrun(
        tmp_path, "train", "--manifest", data.sil, "--model", "sconet-mt-ske", "--out", tmp_path / "run",
        "--iterations", "1", *TINY, "--batch", "2,2",
    )  # fmt: skip
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "expects 2-channel skeleton_map input" in errors[0], proc.stderr[-3000:]
    assert proc.stdout == "" and not (tmp_path / "run").exists()


def _gathered_rank(
    rank: int, world: int, init_file: str, embed: torch.Tensor, labels: torch.Tensor, out: str
):
    """One of two gloo ranks: its stride of the batch, the gathered loss and its entries' gradients."""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        mine = embed[rank::world].clone().requires_grad_(True)
        to_backprop, result = gathered_triplet_loss(mine, labels[rank::world])
        to_backprop.backward()
        torch.save({"loss": result.loss.detach(), "nonzero": result.nonzero_fraction, "grad": mine.grad}, out)
    finally:
        dist.destroy_process_group()


def test_gathered_triplet_loss_on_two_ranks_equals_the_one_process_loss(tmp_path: Path):
    gen = torch.Generator().manual_seed(0)
    embed = torch.randn(8, 5, 4, generator=gen)  # (n, c, p): P x K = 4 x 2
    labels = torch.tensor([3, 1, 0, 2, 1, 3, 2, 0])
    full = embed.clone().requires_grad_(True)
    reference = triplet_loss(full, labels)
    reference.loss.backward()
    # Each rank alone (no gather) would see no positive pair on this split: its triplet term would be 0.
    assert float(triplet_loss(embed[0::2], labels[0::2]).loss) == 0.0

    outs = [str(tmp_path / f"rank{r}.pt") for r in range(2)]
    mp.spawn(_run_rank, args=(str(tmp_path / "init"), embed, labels, outs), nprocs=2, join=True)
    results = [torch.load(o, weights_only=True) for o in outs]
    for rank, res in enumerate(results):
        torch.testing.assert_close(res["loss"], reference.loss.detach(), rtol=0, atol=1e-6)
        assert float(res["nonzero"]) == float(reference.nonzero_fraction)
        # DDP averages the world-scaled gradients over 2 ranks: each entry gets exactly its full-batch gradient.
        torch.testing.assert_close(res["grad"] / 2, full.grad[rank::2], rtol=1e-5, atol=1e-7)


def _run_rank(rank: int, init_file: str, embed: torch.Tensor, labels: torch.Tensor, outs: list[str]):
    _gathered_rank(rank, 2, init_file, embed, labels, outs[rank])


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
