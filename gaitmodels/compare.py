"""``gaitmodels compare``: evaluations side by side, with intervals and the differences between runs.

Each argument is an evaluation folder (what ``evaluate`` writes) or a run folder (its newest test
evaluation is used). The first is the baseline: every other run's configuration and dataset are described
against it in words (``lr 0.002 → 0.003``, ``model sconet-mt-ske → drf``, through ``diff-manifest``'s
typed comparison for the datasets), and, where both were scored on the same sequences, the difference in
macro-F1 gets a paired bootstrap 95 % interval (the same resamples score both).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from gaitmodels.bootstrap import RESAMPLES, SEED, paired_macro_f1_difference
from gaitmodels.eval_folder import METRICS_NAME, is_evaluation
from gaitprep.errors import BadInputError

COMPARE_KIND = "gaitmodels-comparison"
HEADLINE = ("accuracy", "macro_f1", "macro_auc")
# Options that change how a run logs or saves, not what it learns.
_NOT_COMPARED = {"save_every", "log_every", "loader_workers"}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise BadInputError(f"cannot read: {exc.strerror}", path) from None
    except ValueError as exc:
        raise BadInputError(f"not valid JSON ({exc})", path) from None


def find_evaluation(path: str | Path) -> Path:
    """The evaluation folder ``path`` names: itself, or a run folder's newest ``eval-test-*``."""
    path = Path(path)
    if is_evaluation(path):
        return path
    if not path.is_dir():
        raise BadInputError("is neither an evaluation folder nor a run folder", path)
    found = [p for p in path.glob("eval-test*") if p.is_dir() and is_evaluation(p)]
    if not found:
        raise BadInputError(
            "holds no test evaluation; run `gaitmodels evaluate --checkpoint RUN ...` first", path
        )
    return max(found, key=lambda p: ((p / METRICS_NAME).stat().st_mtime_ns, p.name))


def load_evaluation(path: str | Path) -> dict[str, Any]:
    """metrics.json and predictions.json of an evaluation folder (or a run's newest test evaluation)."""
    folder = find_evaluation(path)
    metrics = _read_json(folder / METRICS_NAME)
    pred_path = folder / "predictions.json"
    predictions = _read_json(pred_path) if pred_path.exists() else None
    if predictions is not None and (
        not isinstance(predictions, dict)
        or not isinstance(predictions.get("sequences"), list)
        or not isinstance(predictions.get("class_names"), list)
        or not all(
            isinstance(r, dict)
            and isinstance(r.get("key"), str)
            and r.get("truth") in predictions["class_names"]
            and r.get("prediction") in predictions["class_names"]
            for r in predictions["sequences"]
        )
    ):
        raise BadInputError("predictions.json is not an evaluation's predictions", pred_path)
    return {"folder": folder, "metrics": metrics, "predictions": predictions}


def _label(folder: Path) -> str:
    """The run's folder name for ``RUN/eval-...``, else the evaluation folder's own name."""
    return folder.parent.name if folder.name.startswith("eval-") else folder.name


def _fmt(value: Any) -> str:
    if value is None:
        return "default"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def config_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Training and model configuration of two evaluations' runs, in words (``lr 0.002 → 0.003``)."""
    out = []
    ma, mb = a.get("model"), b.get("model")
    if ma != mb:
        out.append(f"model {ma} → {mb}")
    ta, tb = a.get("train_config") or {}, b.get("train_config") or {}
    for key in sorted((set(ta) | set(tb)) - _NOT_COMPARED - {"model"}):
        if ta.get(key) != tb.get(key):
            out.append(f"{key} {_fmt(ta.get(key, '∅'))} → {_fmt(tb.get(key, '∅'))}")
    ca, cb = a.get("model_config") or {}, b.get("model_config") or {}
    for key in sorted((set(ca) | set(cb)) - {"name", "widths"}):  # widths: already in train_config
        if ca.get(key) != cb.get(key):
            out.append(f"model {key} {_fmt(ca.get(key, '∅'))} → {_fmt(cb.get(key, '∅'))}")
    if a.get("iteration") != b.get("iteration"):
        out.append(f"checkpoint iteration {a.get('iteration')} → {b.get('iteration')}")
    if a.get("split") != b.get("split"):
        out.append(
            f"evaluated on {a.get('split_label', a.get('split'))} → {b.get('split_label', b.get('split'))}"
        )
    return out


def dataset_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The evaluated datasets (and PAV datasets) of two evaluations, as ``diff-manifest`` words them."""
    from gaitprep.diff import diff_manifests
    from gaitprep.manifest import load_manifest

    out = []
    for what, key, digest in (
        ("dataset", "manifest_path", "manifest_digest"),
        ("PAV", "pav_manifest_path", None),
    ):
        pa, pb = a.get(key), b.get(key)
        if pa is None and pb is None:
            continue
        if pa is None or pb is None:
            out.append(
                f"{what} {'none' if pa is None else Path(pa).name} → {'none' if pb is None else Path(pb).name}"
            )
            continue
        if digest is not None and a.get(digest) == b.get(digest):
            continue
        try:
            diff = diff_manifests(load_manifest(pa), load_manifest(pb))
        except BadInputError:
            out.append(f"{what} {a.get('manifest') if digest else Path(pa).name} → "
                       f"{b.get('manifest') if digest else Path(pb).name} (manifests no longer readable)")  # fmt: skip
            continue
        if not diff["same_manifest"]:
            prefix = "" if what == "dataset" else "PAV "
            out.extend(prefix + line for line in diff["summary"] if line not in ("identical",))
    return out


def _paired(base: dict[str, Any], other: dict[str, Any], resamples: int, seed: int) -> dict[str, Any] | None:
    pa, pb = base["predictions"], other["predictions"]
    if pa is None or pb is None or pa.get("class_names") != pb.get("class_names"):
        return None
    rows_a = {r["key"]: r for r in pa["sequences"]}
    rows_b = {r["key"]: r for r in pb["sequences"]}
    if set(rows_a) != set(rows_b) or any(rows_a[k]["truth"] != rows_b[k]["truth"] for k in rows_a):
        return None
    names = pa["class_names"]
    keys = sorted(rows_a)
    truth = np.array([names.index(rows_a[k]["truth"]) for k in keys])
    pred_a = np.array([names.index(rows_a[k]["prediction"]) for k in keys])
    pred_b = np.array([names.index(rows_b[k]["prediction"]) for k in keys])
    # other minus baseline: a positive difference means the run beats the baseline
    return paired_macro_f1_difference(truth, pred_b, pred_a, len(names), resamples=resamples, seed=seed)


def compare(paths: list[str | Path], *, resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, Any]:
    """Headline metrics with intervals per evaluation, and each run's differences from the first."""
    if not paths:
        raise BadInputError("compare needs at least one run or evaluation folder")
    evals = [load_evaluation(p) for p in paths]
    labels: list[str] = []
    for e in evals:
        label = _label(e["folder"])
        while label in labels:
            label += "'"
        labels.append(label)
    base = evals[0]
    runs = []
    for label, e in zip(labels, evals, strict=True):
        m = e["metrics"]
        ci = m.get("ci95") or {}
        screening = (m.get("screening") or {}).get("positive_vs_rest") or {}
        row: dict[str, Any] = {
            "label": label,
            "evaluation": str(e["folder"]),
            "model": m.get("model"),
            "dataset": m.get("manifest"),
            "split": m.get("split_label", m.get("split")),
            "iteration": m.get("iteration"),
            "n": m.get("n"),
            "composition": m.get("test_composition"),
            **{k: m.get(k) for k in HEADLINE},
            "ci95": {k: ci.get(k) for k in HEADLINE},
            "ece": m.get("ece"),
            "positive_sensitivity": screening.get("sensitivity"),
            "positive_specificity": screening.get("specificity"),
        }
        if e is not base:
            row["differences"] = config_differences(base["metrics"], m) + dataset_differences(
                base["metrics"], m
            )
            row["macro_f1_vs_baseline"] = _paired(base, e, resamples, seed)
        runs.append(row)
    return {"kind": COMPARE_KIND, "baseline": labels[0], "runs": runs}


def _cell(value: Any, ci: list[float] | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{value:.2f}"


def _composition(c: dict[str, int] | None) -> str:
    return "—" if not c else " / ".join(f"{v}" for v in c.values())


def markdown(result: dict[str, Any]) -> str:
    """The comparison as a markdown table (95 % intervals in brackets), then the differences in words."""
    runs = result["runs"]
    names = "/".join(runs[0]["composition"] or {}) if runs and runs[0]["composition"] else "classes"
    lines = [
        f"| run | model | data | n ({names}) | accuracy | macro-F1 | macro AUC | ECE | positive sens. / spec. |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['label']} | {r['model']} | {r['dataset']} ({r['split']}) | {r['n']} "
            f"({_composition(r['composition'])}) | {_cell(r['accuracy'], r['ci95']['accuracy'])} | "
            f"{_cell(r['macro_f1'], r['ci95']['macro_f1'])} | {_cell(r['macro_auc'], r['ci95']['macro_auc'])} | "
            f"{_cell(r['ece'], None)} | {_cell(r['positive_sensitivity'], None)} / "
            f"{_cell(r['positive_specificity'], None)} |"
        )
    lines.append("")
    lines.append("Percentages; brackets: bootstrap 95 % intervals over sequences.")
    for r in runs[1:]:
        lines.append("")
        lines.append(f"{r['label']} vs {result['baseline']}:")
        diffs = r["differences"] or ["no configuration or dataset difference recorded"]
        lines.extend(f"- {d}" for d in diffs)
        paired = r["macro_f1_vs_baseline"]
        if paired is None:
            lines.append("- macro-F1 difference: not paired (the runs were not scored on the same sequences)")
        else:
            ci = paired["ci95"]
            lines.append(
                f"- macro-F1 difference {paired['difference']:+.2f} points, paired 95 % interval "
                f"[{ci[0]:+.2f}, {ci[1]:+.2f}] over {paired['sequences']} shared sequences "
                f"({paired['resamples']} resamples, seed {paired['seed']})"
            )
    return "\n".join(lines)


def is_comparison(folder: Path) -> bool:
    try:
        return json.loads((folder / "compare.json").read_text()).get("kind") == COMPARE_KIND
    except (OSError, ValueError, AttributeError):
        return False


def write_comparison(result: dict[str, Any], out: str | Path, *, force: bool = False) -> dict[str, str]:
    """compare.md, compare.json and compare.png (bars with interval whiskers) in ``out``, published whole;
    an earlier comparison there is replaced only with ``force``, anything else never."""
    from gaitmodels.charts import save_bars_png
    from gaitmodels.eval_folder import check_target, publish, staging
    from gaitprep.io.atomic import atomic_write_bytes, atomic_write_json

    out = Path(out)
    check_target(out, force, is_comparison)
    stage = staging(out.parent)
    try:
        atomic_write_bytes(stage / "compare.md", (markdown(result) + "\n").encode())
        atomic_write_json(stage / "compare.json", result)
        runs = result["runs"]
        save_bars_png(
            ["accuracy", "macro-F1", "macro AUC"],
            [r["label"] for r in runs],
            [[r[k] for k in HEADLINE] for r in runs],
            [[r["ci95"][k] for k in HEADLINE] for r in runs],
            stage / "compare.png",
        )
    except BaseException:
        import shutil

        shutil.rmtree(stage, ignore_errors=True)
        raise
    publish(stage, out, force, is_comparison)
    return {name.split(".")[0]: str(out / name) for name in ("compare.md", "compare.json", "compare.png")}
