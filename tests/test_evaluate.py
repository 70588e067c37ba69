"""``gaitmodels evaluate | predict``: upstream's prediction rule, the written reports, DRF end to end."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from gaitmodels.models import build_model
from gaitprep.io.store import read_sequence
from gaitprep.manifest import load_manifest
from gaitprep.skeleton import CLASS_INDEX, CLASS_ORDER
from tests._datasets import SmallData, one_error_line, read_json, run_cli, tiny_run, train_tiny


def manual_mean_logits(run: Path, dataset: Path, split: str | None, pav: Path | None = None) -> dict:
    """Independent of gaitmodels.data/evaluate: read each sequence, cut 10 px a side, /255, forward, mean."""
    ckpt = torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    model = build_model(ckpt["model_config"])
    model.load_state_dict(ckpt["model_state"])
    model.eval()
    manifest = load_manifest(dataset)
    pav_records = load_manifest(pav).record_by_key() if pav else {}
    out = {}
    for rec in manifest.split_records(split):
        frames = read_sequence(dataset, rec, manifest.layout)[manifest.layout.primary]
        if frames.ndim == 3:
            frames = frames[:, None]
        x = torch.from_numpy(frames[..., 10:54].astype(np.float32) / 255)[None]  # (1, T, C, 64, 44)
        kwargs = {}
        if pav is not None:
            arr = read_sequence(pav, pav_records[rec.key], load_manifest(pav).layout, names=["pav"])["pav"]
            kwargs["pav"] = torch.from_numpy(arr)[None]
        with torch.no_grad():
            logits = model(x, **kwargs)["logits"]  # (1, 3, 16)
        assert logits.shape == (1, 3, 16)
        out[rec.key] = (logits[0].mean(-1).double().numpy(), rec.label)
    return out


def test_evaluate_writes_metrics_json_and_confusion_png(data: SmallData, runs: Path, tmp_path: Path):
    run = tiny_run(data, "sconet-mt-ske", runs)
    out = tmp_path / "eval"
    result = run_cli(
        "evaluate", "--checkpoint", run, "--manifest", data.maps, "--device", "cpu", "--out", out
    )
    assert result.exit_code == 0, result.stderr
    report = read_json(out / "metrics.json")
    expected = {c: sum(1 for i in data.partition.test if i in _ids_of(data, c)) for c in CLASS_ORDER}
    assert report["n"] == len(data.partition.test) == 5
    assert report["test_composition"] == expected
    assert np.array(report["confusion_matrix"]).sum(axis=1).tolist() == [expected[c] for c in CLASS_ORDER]
    assert report["split"] == "test" and report["partition_sha256"] == data.partition.sha256
    assert report["iteration"] == 2 and report["selection_rule"].startswith("last iteration")
    assert "same person" in report["note"]
    lengths = sorted(r.frames for r in load_manifest(data.maps).split_records("test"))
    assert report["frames"] == {
        "train_clip": 4,
        "train_sampling": "fixed_unordered",
        "eval_min": lengths[0],
        "eval_median": float(np.median(lengths)),
        "eval_max": lengths[-1],
    }
    image = cv2.imread(str(out / "confusion.png"))
    assert image is not None and image.ndim == 3 and image.shape[0] > 300
    assert f"F1 {report['macro_f1']:.2f}" in result.stdout


def _ids_of(data: SmallData, label: str) -> set[str]:
    return {r.id for r in load_manifest(data.maps).records if r.label == label}


def test_each_evaluation_gets_its_own_folder_in_the_run_and_json_prints_one_document(
    data: SmallData, tmp_path: Path
):
    run = tmp_path / "run"
    train_tiny(data.maps, "sconet-mt-ske", run)
    ckpt = run / "checkpoints" / "iter-000002.pt"
    args = ("evaluate", "--checkpoint", ckpt, "--manifest", data.maps, "--device", "cpu", "--json")
    first, second = run_cli(*args), run_cli(*args)
    assert first.exit_code == 0 and second.exit_code == 0, first.stderr + second.stderr
    doc = json.loads(first.stdout)  # the whole of stdout is one JSON document
    assert doc["schema_version"] == 1 and doc["n"] == 5
    name = "eval-test-maps-iter000002"
    assert doc["outputs"]["metrics"] == str(run / name / "metrics.json")
    assert json.loads(second.stdout)["outputs"]["folder"] == str(run / f"{name}-2")  # nothing overwritten
    assert read_json(run / name / "metrics.json")["macro_f1"] == doc["macro_f1"]
    assert sorted(p.name for p in (run / name).iterdir()) == [
        "confusion.png", "metrics.json", "predictions.json", "reliability.png", "roc.png"
    ]  # fmt: skip
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    assert (run / name).stat().st_mode & 0o777 == (run / "checkpoints").stat().st_mode & 0o777


def test_out_refuses_an_earlier_evaluation_unless_forced_and_never_replaces_other_files(
    data: SmallData, runs: Path, tmp_path: Path
):
    run = tiny_run(data, "sconet-mt-ske", runs)
    out = tmp_path / "eval"
    args = ("evaluate", "--checkpoint", run, "--manifest", data.maps, "--device", "cpu", "--out", out)
    assert run_cli(*args).exit_code == 0
    (out / "metrics.json").write_text(json.dumps({**read_json(out / "metrics.json"), "marker": 1}))
    refused = run_cli(*args)
    assert refused.exit_code == 1 and "--force" in one_error_line(refused)
    assert read_json(out / "metrics.json")["marker"] == 1  # untouched
    forced = run_cli(*args, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert "marker" not in read_json(out / "metrics.json")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    for extra in ((), ("--force",)):
        result = run_cli("evaluate", "--checkpoint", run, "--manifest", data.maps, "--device", "cpu",
                         "--out", theirs, *extra)  # fmt: skip
        assert result.exit_code == 1 and "did not write" in one_error_line(result)
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]


def test_split_train_is_scored_and_labelled_training_data(data: SmallData, runs: Path, tmp_path: Path):
    run = tiny_run(data, "sconet-mt-ske", runs)
    out = tmp_path / "train-eval"
    result = run_cli("evaluate", "--checkpoint", run, "--manifest", data.maps, "--device", "cpu",
                     "--split", "train", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = read_json(out / "metrics.json")
    assert report["split"] == "train" and report["split_label"] == "training data"
    assert report["n"] == len(data.partition.train) == 7
    assert "[training data" in result.stdout


def test_evaluate_json_has_the_screening_fields_and_macro_auc_is_sklearns_on_predicts_probabilities(
    data: SmallData, runs: Path, tmp_path: Path
):
    run = tiny_run(data, "sconet-mt-ske", runs)
    result = run_cli("evaluate", "--checkpoint", run, "--manifest", data.maps, "--device", "cpu",
                     "--json", "--out", tmp_path / "e", "--resamples", "300", "--seed", "4")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    predicted = json.loads(
        run_cli("predict", "--checkpoint", run, "--input", data.maps, "--device", "cpu", "--json").stdout
    )["predictions"]
    test_rows = [r for r in predicted if r["key"].split("/")[0] in data.partition.test]
    truth = np.array([CLASS_INDEX[r["key"].split("/")[1]] for r in test_rows])
    probs = np.array([[r["probabilities"][c] for c in CLASS_ORDER] for r in test_rows])
    present = [c for c in range(3) if 0 < (truth == c).sum() < truth.size]
    expected = np.mean([roc_auc_score(truth == c, probs[:, c]) for c in present])
    if len(present) == 3:
        expected = roc_auc_score(truth, probs, multi_class="ovr", average="macro")
    assert report["macro_auc"] == round(100 * expected, 2)
    for key in ("accuracy", "macro_f1", "macro_auc"):
        low, high = report["ci95"][key]
        assert low <= report[key] <= high
    assert (report["ci95"]["resamples"], report["ci95"]["seed"]) == (300, 4)
    assert set(report["screening"]) == {"positive_vs_rest", "positive_or_neutral_vs_negative"}
    assert 0 <= report["ece"] <= 100 and report["bins"] == 15
    assert sum(b["count"] for b in report["reliability"]) == report["n"]
    for name in CLASS_ORDER:
        assert {"specificity", "ppv", "npv", "auc"} <= set(report["per_class"][name])
    assert "all_classes" in report and report["macro_convention"].startswith("macro over the classes present")
    for png in ("reliability", "roc"):
        image = cv2.imread(report["outputs"][png])
        assert image is not None and image.shape == (600, 560, 3)


def test_a_subject_map_warns_when_training_and_test_share_a_subject(
    data: SmallData, runs: Path, tmp_path: Path
):
    run = tiny_run(data, "sconet-mt-ske", runs)
    train_id, test_id = data.partition.train[0], data.partition.test[0]
    subjects = tmp_path / "subjects.csv"
    rows = [
        f"{i},s{i}" for i in (*data.partition.train, *data.partition.test) if i not in (train_id, test_id)
    ]
    subjects.write_text(
        "id,subject\n" + "\n".join([*rows, f"{train_id},child-7", f"{test_id},child-7"]) + "\n"
    )
    args = ("evaluate", "--checkpoint", run, "--manifest", data.maps, "--device", "cpu", "--json",
            "--subjects", subjects)  # fmt: skip
    result = run_cli(*args, "--out", tmp_path / "a")
    assert result.exit_code == 0, result.stderr
    assert "warning: 1 subject(s) appear in both" in result.stderr and "child-7" in result.stderr
    overlap = json.loads(result.stdout)["subject_overlap"]
    assert overlap["shared_subjects"] == ["child-7"] and overlap["shared_sequences"] == 1
    disjoint = tmp_path / "disjoint.csv"
    disjoint.write_text(
        "id,subject\n" + "\n".join(f"{i},s{i}" for i in data.partition.train + data.partition.test)
    )
    clean = run_cli(*args[:-1], disjoint, "--out", tmp_path / "b")
    assert clean.exit_code == 0 and "warning" not in clean.stderr
    assert json.loads(clean.stdout)["subject_overlap"]["shared_subjects"] == []


def test_prediction_is_the_argmax_of_the_mean_logits_over_parts(data: SmallData, runs: Path, tmp_path: Path):
    run = tiny_run(data, "sconet-mt-ske", runs)
    manual = manual_mean_logits(run, data.maps, "test")
    result = run_cli(
        "evaluate",
        "--checkpoint",
        run,
        "--manifest",
        data.maps,
        "--device",
        "cpu",
        "--json",
        "--out",
        tmp_path,
    )
    report = json.loads(result.stdout)
    truth = np.array([CLASS_INDEX[label] for _, label in manual.values()])
    pred = np.array([int(np.argmax(m)) for m, _ in manual.values()])
    assert report["accuracy"] == round(100 * float((truth == pred).mean()), 2)
    matrix = np.zeros((3, 3), int)
    np.add.at(matrix, (truth, pred), 1)
    assert report["confusion_matrix"] == matrix.tolist()


def test_predict_prints_class_and_probabilities_per_sequence(data: SmallData, runs: Path):
    run = tiny_run(data, "sconet-mt-ske", runs)
    manual = manual_mean_logits(run, data.maps, None)
    result = run_cli("predict", "--checkpoint", run, "--input", data.maps, "--device", "cpu", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["predictions"]
    assert [r["key"] for r in rows] == sorted(manual)
    for row in rows:
        mean, _ = manual[row["key"]]
        probs = torch.softmax(torch.from_numpy(16 * mean), 0).numpy()  # 16 = the CE scale of training
        assert row["prediction"] == CLASS_ORDER[int(np.argmax(mean))]
        assert [row["probabilities"][c] for c in CLASS_ORDER] == pytest.approx(probs, abs=2e-6)
    human = run_cli("predict", "--checkpoint", run, "--input", data.maps, "--device", "cpu")
    lines = human.stdout.strip().splitlines()
    assert len(lines) == 12
    key, rest = lines[0].split(": ")
    words = rest.split()
    assert key == rows[0]["key"] and words[0] == rows[0]["prediction"]
    assert [w.split("=")[0] for w in words[1:]] == list(CLASS_ORDER)
    assert sum(float(w.split("=")[1]) for w in words[1:]) == pytest.approx(1.0, abs=2e-3)


def test_drf_trains_and_evaluates_end_to_end_with_pav(data: SmallData, tmp_path: Path):
    run = tmp_path / "drf"
    train_tiny(data.maps, "drf", run, "--pav-manifest", data.pav, "--recipe", "adamw-cosine")
    result = run_cli(
        "evaluate", "--checkpoint", run, "--manifest", data.maps, "--pav-manifest", data.pav,
        "--device", "cpu", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "drf" and report["n"] == 5
    manual = manual_mean_logits(run, data.maps, "test", pav=data.pav)
    pred = [int(np.argmax(m)) for m, _ in manual.values()]
    assert (
        np.array(report["confusion_matrix"]).sum(axis=0).tolist() == np.bincount(pred, minlength=3).tolist()
    )
    # The PAV really reaches the network: other gates, other logits.
    ckpt = torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    model = build_model(ckpt["model_config"])
    model.load_state_dict(ckpt["model_state"])
    model.eval()
    x = torch.rand(1, 5, 2, 64, 44)
    with torch.no_grad():
        a = model(x, pav=torch.zeros(1, 8, 3))["logits"]
        b = model(x, pav=torch.ones(1, 8, 3))["logits"]
    assert not torch.allclose(a, b)
    predicted = run_cli(
        "predict", "--checkpoint", run, "--input", data.maps, "--pav-manifest", data.pav, "--device", "cpu"
    )
    assert predicted.exit_code == 0, predicted.stderr
    assert len(predicted.stdout.strip().splitlines()) == 12


def test_silhouette_model_trains_and_evaluates(data: SmallData, runs: Path):
    run = tiny_run(data, "sconet", runs)
    result = run_cli("evaluate", "--checkpoint", run, "--manifest", data.sil, "--device", "cpu", "--json")
    assert result.exit_code == 0, result.stderr
    manual = manual_mean_logits(run, data.sil, "test")
    pred = [int(np.argmax(m)) for m, _ in manual.values()]
    report = json.loads(result.stdout)
    assert (
        np.array(report["confusion_matrix"]).sum(axis=0).tolist() == np.bincount(pred, minlength=3).tolist()
    )
