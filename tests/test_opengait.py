"""OpenGait users both ways: their checkpoints import (upstream's own files, upstream's outputs as the oracle),
a modality mismatch is refused in one line, and our runs export to OpenGait and import back unchanged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from gaitmodels.checkpoint import load_checkpoint
from gaitmodels.data import ManifestData, eval_clip, load_split
from gaitmodels.evaluate import predict
from gaitmodels.models import ModelConfig, build_model
from tests._datasets import SmallData, one_error_line, run_cli, tiny_run

GOLDEN = Path(__file__).parent / "golden" / "opengait"
UPSTREAM_ORDER = ("negative", "neutral", "positive")


def upstream_name(key: str) -> str:
    """How OpenGait (UMGRL's DRF: ``PGA``) names one of our tensors; written independently of the code."""
    key = key.replace("backbone.conv1.", "Backbone.forward_block.conv1.conv.")
    for layer in ("layer1", "layer2", "layer3", "layer4"):
        key = key.replace(f"backbone.{layer}.", f"Backbone.forward_block.{layer}.0.")
    key = key.replace("backbone.", "Backbone.forward_block.")
    return key.replace("fcs.", "FCs.").replace("bnnecks.", "BNNecks.").replace("pga.", "PGA.")


def import_cli(tmp: Path, checkpoint: Path, *extra: object) -> tuple[Path, dict]:
    run = tmp / f"run-{checkpoint.stem}"
    result = run_cli("import-opengait", checkpoint, "--out", run, "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return run, json.loads(result.stdout)


def model_of(run: Path) -> torch.nn.Module:
    ckpt = load_checkpoint(run)
    model = build_model(ModelConfig(**ckpt["model_config"]))
    model.load_state_dict(ckpt["model_state"])
    return model.eval()


def randomise_bn_stats(model: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))


def save_upstream(model: torch.nn.Module, path: Path, iteration: int, rename=upstream_name) -> Path:
    """An OpenGait ``BaseModel.save_ckpt`` file of ``model`` (upstream key names)."""
    state = {rename(k): v.clone() for k, v in model.state_dict().items()}
    torch.save({"model": state, "optimizer": {}, "scheduler": {}, "iteration": iteration}, path)
    return path


# --- the golden upstream checkpoints -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "channels", "modality"), [("c1", 1, "silhouette"), ("c2", 2, "skeleton_map")]
)
def test_golden_checkpoint_imports_and_gives_upstreams_logits(tmp_path: Path, name, channels, modality):
    source = GOLDEN / f"sconet_{name}.pt"
    run, summary = import_cli(tmp_path, source)
    assert summary["model"] == ("sconet-mt" if channels == 1 else "sconet-mt-ske")
    assert (summary["modality"], summary["in_channels"]) == (modality, channels)
    assert (summary["widths"], summary["embed_dim"], summary["iteration"]) == ([8, 16, 32, 64], 32, 5000)
    ckpt = load_checkpoint(run)
    assert ckpt["opengait"]["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert ckpt["opengait"]["declared_class_order"] == list(UPSTREAM_ORDER)
    assert ckpt["data"]["train_ids"] is None and ckpt["data"]["manifest_digest"] is None
    assert json.loads((run / "opengait_import.json").read_text())["iteration"] == 5000

    golden = np.load(GOLDEN / "sconet_outputs.npz")
    with torch.no_grad():
        out = model_of(run)(torch.from_numpy(golden[f"{name}_x"]))
    assert out["logits"].dtype == torch.float32
    np.testing.assert_allclose(out["logits"].numpy(), golden[f"{name}_logits"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(out["embed"].numpy(), golden[f"{name}_embeddings"], rtol=0, atol=1e-5)


@pytest.mark.parametrize(("name", "other"), [("c1", "maps"), ("c2", "sil")])
def test_golden_checkpoint_is_refused_on_the_other_modality(data: SmallData, tmp_path: Path, name, other):
    run, _ = import_cli(tmp_path, GOLDEN / f"sconet_{name}.pt")
    wrong = getattr(data, other)
    for args in (
        ("evaluate", "--checkpoint", run, "--manifest", wrong),
        ("predict", "--checkpoint", run, "--input", wrong),
    ):
        result = run_cli(*args, "--device", "cpu")
        assert result.exit_code == 1
        line = one_error_line(result)
        expected = "1-channel silhouette" if name == "c1" else "2-channel skeleton_map"
        assert f"the checkpoint was trained on {expected} data" in line, line
    assert not list(run.glob("eval-*"))  # a refused evaluation writes no folder


def test_golden_checkpoint_evaluates_on_its_modality_and_warns_overlap_is_unknown(
    data: SmallData, tmp_path: Path
):
    run, _ = import_cli(tmp_path, GOLDEN / "sconet_c2.pt")
    result = run_cli(
        "evaluate", "--checkpoint", run, "--manifest", data.maps, "--device", "cpu", "--json", "--quiet"
    )
    assert result.exit_code == 0, result.stderr
    assert "train/test overlap cannot be checked" in result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 5 and report["iteration"] == 5000
    assert report["frames"]["train_clip"] == 30  # upstream's recipe, recorded at import


def test_config_or_model_that_contradicts_the_weights_is_refused(tmp_path: Path):
    config = tmp_path / "sconet.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_cfg": {
                    "model": "ScoNet",
                    "backbone_cfg": {"type": "ResNet9", "in_channel": 2, "channels": [8, 16, 32, 64]},
                    "SeparateFCs": {"in_channels": 64, "out_channels": 32, "parts_num": 16},
                    "SeparateBNNecks": {"class_num": 3, "in_channels": 32, "parts_num": 16},
                }
            }
        )
    )
    source = GOLDEN / "sconet_c1.pt"
    result = run_cli("import-opengait", source, "--out", tmp_path / "a", "--config", config)
    assert result.exit_code == 1
    assert "model_cfg.backbone_cfg.in_channel is 2, but the checkpoint's weights have 1" in one_error_line(
        result
    )
    result = run_cli("import-opengait", source, "--out", tmp_path / "b", "--model", "sconet-mt-ske")
    assert "first convolution takes 1 channel(s) (silhouette)" in one_error_line(result)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["sconet.yaml"]  # no staging folder left behind

    # The config, when it agrees, is recorded; the upstream ScoNet config without triplet is the paper's ScoNet.
    doc = yaml.safe_load(config.read_text())
    doc["model_cfg"]["backbone_cfg"]["in_channel"] = 1
    doc["loss_cfg"] = [{"type": "CrossEntropyLoss", "scale": 16}]
    doc["trainer_cfg"] = {"sampler": {"frames_num_fixed": 20, "sample_type": "fixed_unordered"}}
    config.write_text(yaml.safe_dump(doc))
    run, summary = import_cli(tmp_path, source, "--config", config)
    assert summary["model"] == "sconet"
    ckpt = load_checkpoint(run)
    assert ckpt["opengait"]["config"] == doc and ckpt["train_config"]["frames"] == 20


def test_unreadable_or_foreign_checkpoint_and_existing_output_are_one_line(tmp_path: Path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert "not a readable checkpoint" in one_error_line(
        run_cli("import-opengait", junk, "--out", tmp_path / "r")
    )
    other = tmp_path / "other.pt"
    torch.save({"model": {"encoder.weight": torch.zeros(2, 2)}, "iteration": 1}, other)
    line = one_error_line(run_cli("import-opengait", other, "--out", tmp_path / "r"))
    assert "no tensor Backbone.forward_block.conv1.conv.weight" in line
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("ours")
    line = one_error_line(run_cli("import-opengait", GOLDEN / "sconet_c1.pt", "--out", taken))
    assert "already exists and is not an empty folder" in line
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]


def test_imported_run_cannot_be_resumed_and_initialises_only_a_matching_network(
    data: SmallData, tmp_path: Path
):
    run, _ = import_cli(tmp_path, GOLDEN / "sconet_c2.pt")
    args = (
        "--manifest",
        data.maps,
        "--model",
        "sconet-mt-ske",
        "--iterations",
        "1",
        "--device",
        "cpu",
        "--quiet",
    )
    assert "imported from OpenGait" in one_error_line(run_cli("train", *args, "--resume", run))
    out = tmp_path / "finetune"
    result = run_cli("train", *args, "--init", run, "--out", out, "--widths", "8,16,32,64")
    assert "16 parts of 32-d embeddings, the model 16 of 256-d" in one_error_line(
        result
    )  # golden FCs are 64 -> 32


# --- full width, DRF class order -----------------------------------------------------------------------


def test_full_width_upstream_checkpoint_imports_and_predicts_softmax_of_scaled_mean_logits(
    data: SmallData, tmp_path: Path
):
    torch.manual_seed(3)
    model = build_model(ModelConfig(name="sconet-mt")).eval()  # 7,014,592 parameters, widths 64..512
    randomise_bn_stats(model, 3)
    source = save_upstream(model, tmp_path / "ScoNet-20000.pt", 20000)
    run, summary = import_cli(tmp_path, source)
    assert (summary["widths"], summary["embed_dim"], summary["model"]) == (
        [64, 128, 256, 512],
        256,
        "sconet-mt",
    )
    # Five held-out sequences keep this full-width test short; the CLI path is the same library call.
    rows = predict(run, data.sil, split="test", device="cpu")
    split = load_split(ManifestData.open(data.sil), "test")
    assert [r["key"] for r in rows] == split.keys and len(rows) == 5
    with torch.no_grad():
        mean = torch.stack([model(eval_clip(f))["logits"].mean(-1)[0] for f in split.frames]).double()
    expected = torch.softmax(16 * mean, dim=1).numpy()
    got = np.array([[r["probabilities"][c] for c in UPSTREAM_ORDER] for r in rows])
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)
    assert [r["prediction"] for r in rows] == [UPSTREAM_ORDER[i] for i in expected.argmax(1)]


def test_drf_bundle_needs_a_declared_class_order_and_is_permuted_into_ours(tmp_path: Path):
    torch.manual_seed(5)
    ours = build_model(ModelConfig(name="drf", widths=(4, 8, 16, 32))).eval()
    randomise_bn_stats(ours, 5)

    def author_name(
        key: str,
    ) -> str:  # the author bundle: attention_layer.*, logits negative/positive/neutral
        return upstream_name(key).replace("PGA.", "attention_layer.")

    author = build_model(ModelConfig(name="drf", widths=(4, 8, 16, 32))).eval()
    author.load_state_dict(ours.state_dict())
    with torch.no_grad():
        author.bnnecks.fc_bin.copy_(ours.bnnecks.fc_bin[:, :, [0, 2, 1]])
    source = save_upstream(
        author, tmp_path / "DRF_118_unordered_iter2w_lr0.001_8830-08000.pt", 8000, author_name
    )

    line = one_error_line(run_cli("import-opengait", source, "--out", tmp_path / "r"))
    assert "--class-order" in line and "negative,positive,neutral" in line
    assert "bogus" in one_error_line(
        run_cli("import-opengait", source, "--out", tmp_path / "r", "--class-order", "negative,bogus,neutral")
    )
    run, summary = import_cli(tmp_path, source, "--class-order", "Negative,Positive,Neutral")
    assert summary["model"] == "drf" and summary["declared_class_order"] == [
        "negative",
        "positive",
        "neutral",
    ]
    ckpt = load_checkpoint(run)
    assert (
        ckpt["class_order"] == list(UPSTREAM_ORDER) and ckpt["opengait"]["pga_prefix"] == "attention_layer."
    )
    x = torch.rand(2, 6, 2, 64, 44, generator=torch.Generator().manual_seed(0))
    pav = torch.rand(2, 8, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        imported, reference, raw = model_of(run)(x, pav=pav), ours(x, pav=pav), author(x, pav=pav)
    torch.testing.assert_close(imported["logits"], reference["logits"], rtol=0, atol=0)
    torch.testing.assert_close(raw["logits"][:, [0, 2, 1]], reference["logits"], rtol=0, atol=0)


# --- export ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pkl_maps(data: SmallData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The maps of ``data.maps`` rebuilt as an OpenGait pickle tree (``--format pkl``)."""
    from gaitprep.build.datasets import BuildOptions, build_heatmaps
    from gaitprep.heatmaps.spec import preset

    out = tmp_path_factory.mktemp("pkl") / "maps-pkl"
    build_heatmaps(
        data.release / "pose-pkl",
        out,
        preset("recommended"),
        options=BuildOptions(partition=data.partition, fmt="pkl", quiet=True),
    )
    return out


def test_export_then_import_gives_identical_predictions(
    data: SmallData, runs: Path, pkl_maps: Path, tmp_path: Path
):
    run = tiny_run(data, "sconet-mt-ske", runs)
    out = tmp_path / "og"
    result = run_cli("export-opengait", run, "--out", out, "--dataset", pkl_maps, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)

    exported = torch.load(summary["checkpoint"], map_location="cpu", weights_only=True)
    assert set(exported) == {"model", "optimizer", "scheduler", "iteration", "class_order"}
    assert exported["iteration"] == 2 and exported["class_order"] == list(UPSTREAM_ORDER)
    golden = torch.load(GOLDEN / "sconet_c2.pt", map_location="cpu", weights_only=True)["model"]
    assert list(exported["model"]) == list(
        golden
    )  # upstream's names, in upstream's order: strict loading works
    assert Path(summary["checkpoint"]).name == f"{run.name}-00002.pt"

    config = yaml.safe_load(Path(summary["config"]).read_text())
    mcfg = config["model_cfg"]
    assert mcfg["model"] == "ScoNet" and mcfg["backbone_cfg"]["in_channel"] == 2
    assert mcfg["backbone_cfg"]["channels"] == [4, 8, 16, 32] and mcfg["SeparateBNNecks"]["class_num"] == 3
    assert mcfg["SeparateFCs"] == {"in_channels": 32, "out_channels": 256, "parts_num": 16}
    assert config["data_cfg"]["dataset_root"] == str(pkl_maps.resolve())
    partition = Path(config["data_cfg"]["dataset_partition"])
    assert partition.parent == out.resolve()
    assert json.loads(partition.read_text())["TEST_SET"] == sorted(data.partition.test)
    assert config["trainer_cfg"]["sampler"]["batch_size"] == [3, 2]
    assert config["evaluator_cfg"]["restore_hint"] == str(Path(summary["checkpoint"]).resolve())

    back, imported = import_cli(tmp_path, Path(summary["checkpoint"]))
    assert imported["model"] == "sconet-mt-ske" and imported["iteration"] == 2
    before = run_cli("predict", "--checkpoint", run, "--input", data.maps, "--device", "cpu", "--json")
    after = run_cli("predict", "--checkpoint", back, "--input", data.maps, "--device", "cpu", "--json")
    assert before.exit_code == after.exit_code == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert before.stdout == after.stdout


def test_export_refuses_a_dataset_of_another_modality_or_not_stored_as_pickles(
    data: SmallData, runs: Path, tmp_path: Path
):
    run = tiny_run(data, "sconet-mt-ske", runs)
    line = one_error_line(run_cli("export-opengait", run, "--out", tmp_path / "a", "--dataset", data.sil))
    assert "expects 2-channel skeleton_map input" in line
    line = one_error_line(run_cli("export-opengait", run, "--out", tmp_path / "b", "--dataset", data.maps))
    assert "--format pkl" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    result = run_cli(
        "export-opengait", run, "--out", tmp_path / "c", "--json"
    )  # placeholders without --dataset
    assert result.exit_code == 0, result.stderr
    config = yaml.safe_load(Path(json.loads(result.stdout)["config"]).read_text())
    assert config["data_cfg"]["dataset_root"].startswith("REPLACE_WITH")


def test_a_checkpoint_that_runs_code_on_load_is_refused_without_running_it(tmp_path: Path):
    import os

    from corpus.make_corpus import CallOnLoad

    marker = tmp_path / "PWNED"
    state = torch.load(GOLDEN / "sconet_c1.pt", map_location="cpu", weights_only=True)
    state["iteration"] = CallOnLoad(os.system, (f"touch {marker}",))
    torch.save(state, tmp_path / "evil.pt")
    line = one_error_line(run_cli("import-opengait", tmp_path / "evil.pt", "--out", tmp_path / "run"))
    assert "not a readable checkpoint" in line
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_a_three_channel_checkpoint_imports_as_a_stacked_model(tmp_path: Path):
    torch.manual_seed(2)
    model = build_model(ModelConfig(name="sconet-mt-ske", in_channels=3, widths=(4, 8, 16, 32), embed_dim=8))
    source = save_upstream(model.eval(), tmp_path / "stacked.pt", 100)
    run, summary = import_cli(tmp_path, source)
    assert (summary["modality"], summary["in_channels"], summary["embed_dim"]) == ("stacked", 3, 8)
    ckpt = load_checkpoint(run)
    assert ckpt["data"]["channels"] == ["silhouette", "limb", "joint"]
    x = torch.rand(1, 5, 3, 64, 44, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model_of(run)(x)["logits"], model(x)["logits"], rtol=0, atol=0)


def test_drf_run_exports_with_pga_names_and_imports_back_to_the_same_predictions(
    data: SmallData, runs: Path, tmp_path: Path
):
    run = tiny_run(data, "drf", runs)
    result = run_cli("export-opengait", run, "--out", tmp_path / "og", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    exported = torch.load(summary["checkpoint"], map_location="cpu", weights_only=True)
    assert {k for k in exported["model"] if not k.startswith(("Backbone.", "FCs.", "BNNecks."))} == {
        "PGA.channel_attention.weight",
        "PGA.channel_attention.bias",
        "PGA.spatial_attention.weight",
        "PGA.spatial_attention.bias",
    }
    config = yaml.safe_load(Path(summary["config"]).read_text())
    assert config["model_cfg"]["model"] == "DRF" and config["data_cfg"]["data_in_use"] == [True, True]
    wrong = run_cli(
        "import-opengait",
        summary["checkpoint"],
        "--out",
        tmp_path / "x",
        "--class-order",
        "negative,positive,neutral",
    )
    assert "contradicts the order the checkpoint records" in one_error_line(wrong)
    back, imported = import_cli(
        tmp_path, Path(summary["checkpoint"])
    )  # the recorded order is the declaration
    assert imported["model"] == "drf"
    assert load_checkpoint(back)["opengait"]["class_order_from"].startswith("recorded in the checkpoint")
    args = ("--input", data.maps, "--pav-manifest", data.pav, "--device", "cpu", "--json")
    before, after = (
        run_cli("predict", "--checkpoint", run, *args),
        run_cli("predict", "--checkpoint", back, *args),
    )
    assert before.exit_code == after.exit_code == 0, after.stderr
    assert "PAV's fit cannot be checked" in after.stderr
    assert before.stdout == after.stdout


def test_tensors_that_do_not_fit_the_inferred_network_are_one_line(tmp_path: Path):
    raw = torch.load(GOLDEN / "sconet_c1.pt", map_location="cpu", weights_only=True)
    bad_shape = {**raw, "model": {**raw["model"]}}
    bad_shape["model"]["Backbone.forward_block.layer1.0.conv2.weight"] = torch.zeros(8, 8, 5, 5)
    torch.save(bad_shape, tmp_path / "shape.pt")
    line = one_error_line(run_cli("import-opengait", tmp_path / "shape.pt", "--out", tmp_path / "a"))
    assert (
        "layer1.conv2.weight is torch.float32 (8, 8, 5, 5), the inferred network needs torch.float32 (8, 8, 3, 3)"
        in line
    )
    extra = {**raw, "model": {**raw["model"], "Head.extra": torch.zeros(3)}}
    torch.save(extra, tmp_path / "extra.pt")
    line = one_error_line(run_cli("import-opengait", tmp_path / "extra.pt", "--out", tmp_path / "b"))
    assert "the weights do not fit sconet-mt (unknown tensor Head.extra)" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extra.pt", "shape.pt"]


def test_outputs_never_go_inside_a_dataset_or_an_input(data: SmallData, runs: Path, tmp_path: Path):
    line = one_error_line(run_cli("import-opengait", GOLDEN / "sconet_c1.pt", "--out", data.sil / "imported"))
    assert "lies inside the gaitprep dataset" in line and not (data.sil / "imported").exists()
    run = tiny_run(data, "sconet-mt-ske", runs)
    line = one_error_line(run_cli("export-opengait", run, "--out", run / "opengait"))
    assert "lies inside the input" in line and not (run / "opengait").exists()
