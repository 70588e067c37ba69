"""``gaitmodels compare``: the table with intervals, the differences in words, the paired interval, outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import f1_score

from tests._datasets import SmallData, one_error_line, read_json, run_cli, tiny_run, train_tiny


def _evaluate(run: Path, data: SmallData, *extra: object) -> None:
    result = run_cli("evaluate", "--checkpoint", run, "--manifest", data.maps, "--device", "cpu",
                     "--resamples", "200", *extra)  # fmt: skip
    assert result.exit_code == 0, result.stderr


def _macro_f1(folder: Path) -> float:
    doc = read_json(folder / "predictions.json")
    names = doc["class_names"]
    rows = sorted(doc["sequences"], key=lambda r: r["key"])
    truth = [names.index(r["truth"]) for r in rows]
    pred = [names.index(r["prediction"]) for r in rows]
    assert pred == [int(np.argmax(r["probabilities"])) for r in rows]  # no rounding ties here
    return 100 * f1_score(truth, pred, average="macro", zero_division=0)


def test_compare_prints_the_table_names_the_differences_and_pairs_the_macro_f1_difference(
    data: SmallData, runs: Path, tmp_path: Path
):
    base = tiny_run(data, "sconet-mt-ske", runs)
    drf = tmp_path / "drf"
    train_tiny(data.maps, "drf", drf, "--pav-manifest", data.pav, "--lr", "0.003")
    _evaluate(drf, data, "--pav-manifest", data.pav)
    base_eval = tmp_path / "base-eval"
    _evaluate(base, data, "--out", base_eval)
    out = tmp_path / "cmp"
    result = run_cli("compare", base_eval, drf, "--out", out, "--resamples", "300")
    assert result.exit_code == 0, result.stderr
    table = result.stdout.splitlines()
    assert table[0].startswith("| run | model | data |") and table[1].startswith("|---")
    base_report = read_json(base_eval / "metrics.json")
    ci = base_report["ci95"]["macro_f1"]
    assert f"{base_report['macro_f1']:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" in table[2]
    assert table[3].startswith("| drf | drf | maps (test data) | 5 (")
    assert "- model sconet-mt-ske → drf" in result.stdout
    assert "- lr default → 0.003" in result.stdout  # the recipe's default learning rate
    assert "- PAV none → pav" in result.stdout
    doc = read_json(out / "compare.json")
    paired = doc["runs"][1]["macro_f1_vs_baseline"]
    drf_eval = Path(doc["runs"][1]["evaluation"])
    assert drf_eval.parent == drf and drf_eval.name == "eval-test-maps-iter000002"
    assert paired["difference"] == round(_macro_f1(drf_eval) - _macro_f1(base_eval), 2)
    assert paired["ci95"][0] <= paired["difference"] <= paired["ci95"][1] and paired["resamples"] == 300
    assert f"macro-F1 difference {paired['difference']:+.2f} points" in result.stdout
    assert (out / "compare.md").read_text().strip() == result.stdout.strip()
    image = cv2.imread(str(out / "compare.png"))
    assert image is not None and image.shape[2] == 3
    as_json = run_cli("compare", base_eval, drf, "--json", "--resamples", "300")
    assert json.loads(as_json.stdout)["runs"] == doc["runs"]
    again = run_cli("compare", base_eval, drf, "--out", out)
    assert again.exit_code == 1 and "--force" in one_error_line(again)
    assert run_cli("compare", base_eval, drf, "--out", out, "--force").exit_code == 0


def test_compare_names_dataset_differences_through_the_manifests(data: SmallData, runs: Path, tmp_path: Path):
    # the same silhouette-free model evaluated on maps built with another partition is not paired
    sil_run = tiny_run(data, "sconet", runs)
    result = run_cli("evaluate", "--checkpoint", sil_run, "--manifest", data.sil, "--device", "cpu",
                     "--resamples", "50", "--out", tmp_path / "sil")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    base = tiny_run(data, "sconet-mt-ske", runs)
    _evaluate(base, data, "--out", tmp_path / "maps")
    result = run_cli("compare", tmp_path / "maps", tmp_path / "sil", "--resamples", "50")
    assert result.exit_code == 0, result.stderr
    assert "- modality skeleton_map → silhouette" in result.stdout
    assert "- model sconet-mt-ske → sconet" in result.stdout
    assert "macro-F1 difference: not paired" not in result.stdout  # same test sequences: paired


def test_compare_refuses_a_folder_without_an_evaluation(tmp_path: Path):
    (tmp_path / "empty-run").mkdir()
    result = run_cli("compare", tmp_path / "empty-run")
    assert result.exit_code == 1 and "holds no test evaluation" in one_error_line(result)


def test_a_damaged_evaluation_is_one_error_naming_the_file(data: SmallData, runs: Path, tmp_path: Path):
    base = tiny_run(data, "sconet-mt-ske", runs)
    good = tmp_path / "good"
    _evaluate(base, data, "--out", good)
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    (bad / "predictions.json").write_text('{"class_names": ["negative"], "sequences": [{"key": 1}]}')
    result = run_cli("compare", good, bad)
    assert result.exit_code == 1
    assert (
        one_error_line(result)
        == f"error: {bad / 'predictions.json'}: predictions.json is not an evaluation's predictions"
    )
    (bad / "metrics.json").write_text("{not json")
    result = run_cli("compare", good, bad)
    assert result.exit_code == 1 and "holds no test evaluation" in one_error_line(result)
