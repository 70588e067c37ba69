"""``gaitmodels train``: exact resume, plain-dict checkpoints, learning-rate plans, --init, run directories."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from gaitmodels.models import ModelConfig, build_model
from gaitmodels.train import TrainConfig, lr_factor, make_optimizer
from gaitprep.manifest import load_manifest
from gaitprep.skeleton import CLASS_ORDER
from tests._datasets import (
    DEMO_RELEASE,
    DEMO_TRAIN,
    SmallData,
    one_error_line,
    run_cli,
    tiny_run,
    train_tiny,
)


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def csv_rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# --- resume ----------------------------------------------------------------------------------------------


def test_resume_extending_a_run_matches_the_straight_run(data: SmallData, tmp_path: Path):
    # adamw-cosine: the first two rates of a 2-iteration plan and of a 4-iteration plan coincide (warm-up
    # of 1, then cosine at its start), so "2 then extend to 4" must equal "4 straight" bit for bit.
    opts = ("--recipe", "adamw-cosine", "--log-every", 1, "--save-every", 1)
    straight, split = tmp_path / "straight", tmp_path / "split"
    train_tiny(data.maps, "sconet-mt-ske", straight, *opts, iterations=4)
    train_tiny(data.maps, "sconet-mt-ske", split, *opts, iterations=2)
    result = run_cli(
        "train", "--manifest", data.maps, "--model", "sconet-mt-ske", "--resume", split,
        "--iterations", 4, "--device", "cpu", "-q", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert '"resumed_from": 2' in result.stdout
    a, b = load(straight / "checkpoints" / "last.pt"), load(split / "checkpoints" / "last.pt")
    assert a["iteration"] == b["iteration"] == 4
    assert_same_state(a["model_state"], b["model_state"])
    assert csv_rows(straight) == csv_rows(split)
    assert [r["iteration"] for r in csv_rows(split)] == ["1", "2", "3", "4"]


def test_resume_after_an_interruption_matches_the_straight_run(data: SmallData, tmp_path: Path):
    # sgd-multistep decays at iterations 2, 3 and 4 of 4: resuming at 2 must restore momentum and the rate.
    straight = tmp_path / "straight"
    train_tiny(data.maps, "sconet-mt-ske", straight, "--log-every", 1, "--save-every", 2, iterations=4)
    crashed = tmp_path / "crashed"
    shutil.copytree(straight, crashed)
    for name in ("iter-000004.pt", "last.pt"):  # what a run killed during iteration 4 leaves behind
        (crashed / "checkpoints" / name).unlink()
    result = run_cli(
        "train", "--manifest", data.maps, "--model", "sconet-mt-ske",
        "--resume", crashed / "checkpoints" / "iter-000002.pt", "--device", "cpu", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    a, b = load(straight / "checkpoints" / "last.pt"), load(crashed / "checkpoints" / "last.pt")
    assert_same_state(a["model_state"], b["model_state"])
    assert a["optimizer_state"]["param_groups"][0]["lr"] == b["optimizer_state"]["param_groups"][0]["lr"]
    rows = csv_rows(crashed)
    assert rows == csv_rows(straight)  # rows 3-4 were dropped on resume and written again, once
    assert [float(r["lr"]) for r in rows] == pytest.approx([0.1, 0.1, 0.01, 0.001])


def test_resume_refuses_options_that_contradict_the_run(data: SmallData, runs: Path):
    run = tiny_run(data, "sconet-mt-ske", runs)
    base = ("train", "--manifest", data.maps, "--resume", run, "--device", "cpu", "-q")
    result = run_cli(*base, "--model", "sconet-mt-ske", "--iterations", 3, "--batch", "3,3")
    assert result.exit_code == 1
    assert "the run has batch_k = 2, not 3" in one_error_line(result)
    result = run_cli(*base, "--model", "drf", "--iterations", 3)
    assert result.exit_code == 1
    assert "the run trains sconet-mt-ske, not drf" in one_error_line(result)
    result = run_cli(*base, "--model", "sconet-mt-ske")  # finished run, no larger --iterations
    assert result.exit_code == 1
    assert "nothing to do" in one_error_line(result)
    assert load(run / "checkpoints" / "last.pt")["iteration"] == 2


def test_a_new_run_into_an_existing_run_directory_is_refused(data: SmallData, runs: Path):
    run = tiny_run(data, "sconet-mt-ske", runs)
    result = run_cli(
        "train", "--manifest", data.maps, "--model", "sconet-mt-ske", "--out", run, "--device", "cpu"
    )
    assert result.exit_code == 1
    assert "already holds a run" in one_error_line(result)


# --- checkpoints -----------------------------------------------------------------------------------------


def test_checkpoints_are_plain_dicts_with_config_state_and_data_identity(data: SmallData, runs: Path):
    run = tiny_run(data, "sconet-mt-ske", runs)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["iter-000002.pt", "last.pt"]
    ckpt = load(run / "checkpoints" / "last.pt")
    assert type(ckpt) is dict and ckpt["format"] == "gaitmodels-checkpoint-1"
    assert ckpt["model_config"] == ModelConfig(name="sconet-mt-ske", widths=(4, 8, 16, 32)).model_dump(
        mode="json"
    )
    assert ckpt["class_order"] == list(CLASS_ORDER)
    assert ckpt["iteration"] == 2
    assert ckpt["scheduler_state"]["last_epoch"] == 2
    assert len(ckpt["optimizer_state"]["state"]) == len(list(build_model(ckpt["model_config"]).parameters()))
    assert set(ckpt["rng_state"]) == {"torch", "numpy", "python"}
    assert TrainConfig(**ckpt["train_config"]).batch_k == 2
    manifest = load_manifest(data.maps)
    assert ckpt["data"]["manifest_digest"] == manifest.manifest_digest
    assert ckpt["data"]["content_digest"] == manifest.content_digest
    assert ckpt["data"]["partition_sha256"] == data.partition.sha256
    assert ckpt["data"]["channels"] == ["limb", "joint"]
    assert ckpt["data"]["train_ids"] == list(data.partition.train)
    model = build_model(ckpt["model_config"])
    model.load_state_dict(ckpt["model_state"])  # strict: the dict alone rebuilds the network


def test_training_log_has_one_row_per_logged_iteration(data: SmallData, runs: Path):
    run = tiny_run(data, "drf", runs)
    rows = csv_rows(run)
    assert [r["iteration"] for r in rows] == ["2"]  # log_every 10, plus the last iteration
    assert float(rows[0]["loss"]) == pytest.approx(float(rows[0]["ce"]) + float(rows[0]["triplet"]), rel=1e-6)
    assert load(run / "checkpoints" / "last.pt")["data"]["pav_fitted"]["fit_on"] == "train"


def test_one_copy_per_id_warns_that_the_triplet_term_is_off(data: SmallData, tmp_path: Path):
    # Triplet positives are copies of one sequence id: with K = 1 the term is 0 at every iteration.
    result = train_tiny(data.maps, "sconet-mt-ske", tmp_path / "k1", "--batch", "4,1", "--log-every", 1)
    assert "triplet term is always 0" in result.stderr
    assert {row["triplet_nonzero"] for row in csv_rows(tmp_path / "k1")} == {"0.0"}
    result = train_tiny(data.maps, "sconet-mt-ske", tmp_path / "k2", "--batch", "2,2", "--log-every", 1)
    assert "triplet" not in result.stderr
    assert any(float(row["triplet_nonzero"]) > 0 for row in csv_rows(tmp_path / "k2"))
    result = train_tiny(data.sil, "sconet", tmp_path / "ce-only", "--batch", "4,1")
    assert "triplet" not in result.stderr  # ScoNet has no triplet term to lose


# --- learning-rate plans ---------------------------------------------------------------------------------


def test_sgd_plan_matches_torch_multistep_lr():
    cfg = TrainConfig(model="sconet-mt-ske", iterations=20)
    assert cfg.milestones() == [10, 14, 18]
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt, sched = make_optimizer(cfg, params)
    ref_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    ref = torch.optim.lr_scheduler.MultiStepLR(ref_opt, milestones=[10, 14, 18], gamma=0.1)
    for _ in range(20):
        assert opt.param_groups[0]["lr"] == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-12)
        opt.step(), sched.step(), ref_opt.step(), ref.step()


def test_adamw_plan_warms_up_then_follows_a_cosine_to_zero():
    cfg = TrainConfig(model="sconet-mt-ske", recipe="adamw-cosine", iterations=105)
    assert [lr_factor(cfg, s) for s in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    assert lr_factor(cfg, 55) == pytest.approx(0.5)  # half-way through the 100 cosine steps
    assert lr_factor(cfg, 104) == pytest.approx(0.5 * (1 + math.cos(math.pi * 99 / 100)))
    assert lr_factor(cfg, 104) < 3e-4
    assert cfg.resolved_lr() == 1e-3 and cfg.resolved_weight_decay() == 0.05


# --- --init ----------------------------------------------------------------------------------------------


def test_init_copies_a_drf_checkpoint_into_sconet_mt_ske(data: SmallData, runs: Path, tmp_path: Path):
    drf = load(tiny_run(data, "drf", runs) / "checkpoints" / "last.pt")
    out = tmp_path / "run"
    train_tiny(data.maps, "sconet-mt-ske", out, "--init", runs / "run-drf", "--lr", 0, iterations=1)
    ske = load(out / "checkpoints" / "last.pt")
    params = {name for name, _ in build_model(ske["model_config"]).named_parameters()}
    assert params and not any(name.startswith("pga.") for name in ske["model_state"])
    for name in params:  # with a zero learning rate the weights stay exactly the DRF's
        assert torch.equal(ske["model_state"][name], drf["model_state"][name]), name


# --- learning --------------------------------------------------------------------------------------------

# The README demo's release and recipe (DEMO_RELEASE, DEMO_TRAIN): about 2.5 minutes of an idle 2-core CPU.
# - 30-frame clips, close to the 30-40 frame sequences: the test-time temporal max runs over every frame,
#   and much shorter clips (10 frames) leave the network unprepared for it (macro-F1 falls to ~0.4);
# - 150 sequences, 1:1:4 partition: 12 positive and 12 neutral TRAIN sequences (90 sequences or 1:1:8 leave
#   too few), 78 test sequences of which 8 neutral;
# - AdamW 2e-3, P x K = 4 x 2 (K >= 2 keeps the triplet term alive), inverse-frequency class weights,
#   200 iterations.
# benchmarks/learning_spread.py measures the spread over seeds: one run's figure moves by +-10 points.


@pytest.mark.slow
def test_sconet_mt_ske_learns_the_synthetic_asymmetry(tmp_path: Path):
    from gaitprep.build.datasets import BuildOptions, build_heatmaps
    from gaitprep.heatmaps.spec import preset
    from gaitprep.partition import load_partition
    from gaitprep.synth.release import write_release

    summary = write_release(tmp_path / "release", layouts=("pose-pkl",), **DEMO_RELEASE)
    assert summary["splits"]["train"] == {"negative": 48, "neutral": 12, "positive": 12, "total": 72}
    part = load_partition(summary["partition"])
    build_heatmaps(
        tmp_path / "release" / "pose-pkl",
        tmp_path / "maps",
        preset("recommended"),
        options=BuildOptions(partition=part),
    )
    run = tmp_path / "run"
    result = run_cli(
        "train", "--manifest", tmp_path / "maps", "--model", "sconet-mt-ske", "--out", run, *DEMO_TRAIN,
        "--device", "cpu", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    result = run_cli(
        "evaluate", "--checkpoint", run, "--manifest", tmp_path / "maps", "--device", "cpu", "--json"
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 78
    # Chance is about 33 (always "positive" scores 22). This run measured 77.3 on the development VM (CPU,
    # torch 2.13); over 18 runs of this recipe on an H100 (3 data seeds x 6 training seeds) the spread was
    # 57.8-81.9, mean 67.8. Floating-point differences between CPUs change the trajectory, so the bound
    # sits below that spread: it asks for real learning (neutral, the hard class, scored 0-57 F1 in those
    # runs), not for the demo's figure.
    assert report["macro_f1"] >= 55.0, report["confusion_matrix"]
    assert report["per_class"]["positive"]["f1"] >= 60.0, report["confusion_matrix"]
