"""Training and evaluation on a CUDA device: AMP, checkpoints that move between devices, CPU/GPU agreement.

CI has no GPU, so these run only where ``torch.cuda.is_available()`` (the lent GPU machine during
development: ``pytest -m cuda``); everywhere else they are reported as skipped, with the reason.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from gaitmodels.models import ModelConfig, build_model
from tests._datasets import SmallData, run_cli

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

GPU_TINY = ("--widths", "4,8,16,32", "--batch", "3,2", "--frames", "4", "--quiet")


def train_on_cuda(data: SmallData, model: str, out: Path, *extra: object, iterations: int = 3):
    manifest_args = ("--pav-manifest", data.pav) if model == "drf" else ()
    result = run_cli(
        "train", "--manifest", data.maps, "--model", model, "--out", out, "--iterations", iterations,
        "--device", "cuda", "--log-every", 1, *GPU_TINY, *manifest_args, *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr or repr(result.exception)
    return torch.load(out / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)


@pytest.mark.parametrize("model", ["sconet-mt-ske", "drf"])
def test_cuda_training_uses_amp_and_its_checkpoint_evaluates_on_either_device(
    data: SmallData, tmp_path: Path, model: str
):
    ckpt = train_on_cuda(data, model, tmp_path / "run")
    assert ckpt["iteration"] == 3
    # AMP is on by default on CUDA (upstream): the GradScaler's state travels with the checkpoint.
    assert ckpt["scaler_state"]["scale"] > 0
    assert all(t.device.type == "cpu" for t in ckpt["model_state"].values())
    assert all(torch.isfinite(t).all() for t in ckpt["model_state"].values() if t.is_floating_point())
    pav = ("--pav-manifest", data.pav) if model == "drf" else ()
    reports = {}
    for device in ("cpu", "cuda"):
        result = run_cli(
            "evaluate", "--checkpoint", tmp_path / "run", "--manifest", data.maps, *pav,
            "--device", device, "--json",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        reports[device] = json.loads(result.stdout)
    assert reports["cpu"]["n"] == reports["cuda"]["n"] == len(data.partition.test)
    assert reports["cpu"]["confusion_matrix"] == reports["cuda"]["confusion_matrix"]


def test_cuda_resume_continues_the_iteration_count_and_the_scaler(data: SmallData, tmp_path: Path):
    first = train_on_cuda(data, "sconet-mt-ske", tmp_path / "run", iterations=2)
    result = run_cli(
        "train", "--manifest", data.maps, "--model", "sconet-mt-ske", "--resume", tmp_path / "run",
        "--iterations", 4, "--device", "cuda", "-q", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["resumed_from"] == 2
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    assert last["iteration"] == 4
    assert first["scaler_state"].keys() == last["scaler_state"].keys()
    with open(tmp_path / "run" / "metrics.csv") as fh:
        rows = fh.read().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["1", "2", "3", "4"]
    assert all(math.isfinite(float(r.split(",")[1])) for r in rows)


def test_cuda_forward_matches_cpu_in_float32():
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="sconet-mt-ske", widths=(8, 16, 32, 64))).eval()
    x = torch.rand(2, 10, 2, 64, 44)  # (n, s, C, H, W) after the cut transform
    with torch.no_grad():
        cpu = model(x)
        prev = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False  # TF32 convolutions round to 10-bit mantissas
        try:
            gpu = model.to("cuda")(x.to("cuda"))
        finally:
            torch.backends.cudnn.allow_tf32 = prev
    assert cpu["logits"].shape == gpu["logits"].shape == (2, 3, 16)
    for key in ("embed", "logits"):
        torch.testing.assert_close(gpu[key].cpu(), cpu[key], rtol=1e-4, atol=1e-4)
