"""``gaitmodels train | evaluate | predict``: thin click layers over train.py and evaluate.py."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gaitmodels.choices import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CLASS_WEIGHTS,
    DEFAULT_DEVICE,
    DEVICES,
    FRAME_SAMPLING,
    MODEL_NAMES,
    RECIPES,
)
from gaitmodels.train_config import TrainConfig
from gaitprep.cliutil import emit, json_option, quiet_option
from gaitprep.errors import BadInputError, GaitprepError


def _default(field: str):
    """``TrainConfig``'s default for ``field``: the command line restates none."""
    return TrainConfig.model_fields[field].default


def _bootstrap_options(what: str):
    """``--resamples`` and ``--seed`` of a bootstrap (``what``: how the help names it), defaults from choices."""

    def decorate(command):
        command = click.option(
            "--seed", type=int, default=BOOTSTRAP_SEED, show_default=True, help=f"{what} seed."
        )(command)
        return click.option(
            "--resamples",
            type=click.IntRange(1),
            default=BOOTSTRAP_RESAMPLES,
            show_default=True,
            help=f"{what} resamples.",
        )(command)

    return decorate


def _joined(*values: object) -> str:
    return ",".join(str(v) for v in values)


def _pair(value: str, what: str) -> tuple[int, ...]:
    try:
        parts = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"expected integers separated by commas, got {value!r}", param_hint=what
        ) from None
    return parts


@click.command("train")
@click.option(
    "--manifest",
    required=True,
    type=click.Path(exists=True),
    help="Training dataset (manifest.json or its folder).",
)
@click.option(
    "--pav-manifest",
    type=click.Path(exists=True),
    help="PAV dataset (DRF only), fitted on the same partition.",
)
@click.option("--model", type=click.Choice(MODEL_NAMES), required=True, help="Which network.")
@click.option(
    "--recipe",
    type=click.Choice(RECIPES),
    default=_default("recipe"),
    show_default=True,
    help="SGD 0.1 + multi-step decay at 50/70/90% (upstream), or AdamW 1e-3 + cosine.",
)
@click.option(
    "--class-weights",
    type=click.Choice(CLASS_WEIGHTS),
    default=_default("class_weights"),
    show_default=True,
)
@click.option("--iterations", type=click.IntRange(1), default=_default("iterations"), show_default=True)
@click.option(
    "--batch",
    default=_joined(_default("batch_p"), _default("batch_k")),
    show_default=True,
    help="P,K: ids per batch and copies per id.",
)
@click.option(
    "--frames",
    type=click.IntRange(1),
    default=_default("frames"),
    show_default=True,
    help="Frames per training clip.",
)
@click.option(
    "--sampling",
    type=click.Choice(FRAME_SAMPLING),
    default=_default("sampling"),
    show_default=True,
)
@click.option("--lr", type=float, help="Learning rate (default: the recipe's).")
@click.option(
    "--widths",
    default=_joined(*_default("widths")),
    show_default=True,
    help="Backbone stage widths; e.g. 16,32,64,128 for a quick CPU run.",
)
@click.option("--seed", type=int, default=_default("seed"), show_default=True)
@click.option("--save-every", type=click.IntRange(1), default=_default("save_every"), show_default=True)
@click.option("--log-every", type=click.IntRange(1), default=_default("log_every"), show_default=True)
@click.option("--loader-workers", type=click.IntRange(0), default=_default("loader_workers"), show_default=True)
@click.option("--device", type=click.Choice(DEVICES), default=DEFAULT_DEVICE, show_default=True)
@click.option(
    "--resume",
    type=click.Path(exists=True),
    help="Continue a run (RUN_DIR or a checkpoint) exactly, with its own configuration; a larger "
    "--iterations extends it (the learning-rate plan is recomputed for the new total).",
)
@click.option(
    "--init",
    "init",
    type=click.Path(exists=True),
    help="Initialise weights from a checkpoint of the same modality.",
)
@click.option(
    "--out", type=click.Path(file_okay=False), help="Run directory (default with --resume: the run resumed)."
)
@json_option
@quiet_option
@click.pass_context
def train(
    ctx: click.Context,
    manifest,
    pav_manifest,
    model,
    recipe,
    class_weights,
    iterations,
    batch,
    frames,
    sampling,
    lr,
    widths,
    seed,
    save_every,
    log_every,
    loader_workers,
    device,
    resume,
    init,
    out,
    as_json,
    quiet,
) -> None:
    """Train a ScoNet-family model on the TRAIN split of a gaitprep dataset.

    The manifest is verified (quick level) first; a model/data mismatch (modality, channels, class
    order, a PAV fitted on another partition or on test ids) is refused with one sentence. Logs go to
    RUN/metrics.csv and RUN/tensorboard; checkpoints (plain dicts with config, class order and the
    data's digest) to RUN/checkpoints/. Under torchrun the run is distributed (DDP).
    """
    from gaitmodels.train import train as run_train

    p_k = _pair(batch, "--batch")
    w = _pair(widths, "--widths")
    if len(p_k) != 2 or len(w) != 4:
        raise click.BadParameter("--batch takes P,K and --widths four numbers")
    for values, what in ((p_k, "--batch"), (w, "--widths")):
        if min(values) < 1:
            raise click.BadParameter(f"every number must be at least 1, got {values}", param_hint=what)
    if resume and init:
        raise click.UsageError("--resume and --init exclude each other")
    if out is None and not resume:
        raise click.UsageError("--out is required (it may be left out only with --resume)")
    fields = {  # TrainConfig's fields as the command line gives them (--batch gives P and K)
        "recipe": recipe,
        "class_weights": class_weights,
        "batch_p": p_k[0],
        "batch_k": p_k[1],
        "frames": frames,
        "sampling": sampling,
        "lr": lr,
        "widths": w,
        "seed": seed,
        "save_every": save_every,
        "log_every": log_every,
        "loader_workers": loader_workers,
        "iterations": iterations,
    }
    option = {"batch_p": "batch", "batch_k": "batch"}
    given = {
        field: value
        for field, value in fields.items()
        if ctx.get_parameter_source(option.get(field, field)) is not click.core.ParameterSource.DEFAULT
    }
    if resume:
        from gaitmodels.resume import resume_settings

        cfg, out, resume = resume_settings(resume, model, given, out)
    else:
        cfg = TrainConfig(model=model, **fields)
    from gaitmodels.distributed import is_main_process

    try:
        summary = run_train(
            cfg, manifest, out, pav_path=pav_manifest, device=device, resume=resume, init=init, quiet=quiet
        )
    except KeyboardInterrupt:
        if not is_main_process():
            sys.exit(1)
        raise GaitprepError(
            f"interrupted; 'gaitmodels train --resume {out}' continues from the last saved checkpoint "
            "(saved every --save-every iterations)",
            out,
        ) from None
    except GaitprepError as exc:
        if not is_main_process():  # under torchrun every rank fails alike; rank 0 alone says why
            sys.exit(exc.exit_code)
        raise
    if not is_main_process():
        return  # rank 0 alone prints the summary: one --json document
    emit(
        summary,
        as_json,
        f"trained {model} for {summary['iterations']} iterations; checkpoint {summary['checkpoint']}",
    )


def _ci(r: dict, key: str) -> str:
    ci = (r.get("ci95") or {}).get(key)
    return f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""


def _num(value) -> str:
    return "  n/a" if value is None else f"{value:6.2f}"


def _metrics_text(r: dict) -> str:
    composition = ", ".join(f"{k} {v}" for k, v in r["test_composition"].items())
    lines = [
        f"{r['model']} (iteration {r['iteration']}) on {r['manifest']} [{r['split_label']}, partition "
        f"{r['partition']}], n={r['n']}: {composition}",
        f"  accuracy {r['accuracy']:.2f}{_ci(r, 'accuracy')}  macro P {r['macro_precision']:.2f}"
        f"  R {r['macro_recall']:.2f}  F1 {r['macro_f1']:.2f}{_ci(r, 'macro_f1')}"
        f"  (classes present: {', '.join(r['macro_classes'])})",
        f"  all three classes: macro P {r['all_classes']['macro_precision']:.2f}"
        f"  R {r['all_classes']['macro_recall']:.2f}  F1 {r['all_classes']['macro_f1']:.2f}",
        f"  macro AUC {_num(r['macro_auc']).strip()}{_ci(r, 'macro_auc')}  ECE {r['ece']:.2f} ({r['bins']} bins)"
        f"  [95% intervals: {r['ci95']['resamples']} bootstrap resamples over sequences, seed {r['ci95']['seed']}]",
    ]
    for name, c in r["per_class"].items():
        lines.append(
            f"  {name:>9}: P/PPV {_num(c['precision'])} R {_num(c['recall'])} F1 {_num(c['f1'])}"
            f" spec {_num(c['specificity'])} NPV {_num(c['npv'])} AUC {_num(c['auc'])} (n={c['support']})"
        )
    for view in r["screening"].values():
        lines.append(
            f"  screening {view['description']}: sensitivity {_num(view['sensitivity']).strip()}"
            f"  specificity {_num(view['specificity']).strip()}  AUC {_num(view['auc']).strip()}"
            f" ({view['positives']} vs {view['negatives']})"
        )
    lines.append("  confusion (rows true, cols predicted): " + str(r["confusion_matrix"]))
    overlap = r.get("subject_overlap")
    if overlap:
        lines.append(
            f"  subjects shared by training and evaluated data: {len(overlap['shared_subjects'])}"
            f" ({overlap['shared_sequences']} evaluated sequences)"
        )
    lines.append(f"  note: {r['note']}")
    if "outputs" in r:
        lines.append(f"  wrote {r['outputs']['folder']}/ (metrics.json, confusion/reliability/roc PNGs)")
    return "\n".join(lines)


@click.command("evaluate")
@click.option(
    "--checkpoint", required=True, type=click.Path(exists=True), help="A checkpoint file or RUN_DIR."
)
@click.option("--manifest", required=True, type=click.Path(exists=True))
@click.option("--pav-manifest", type=click.Path(exists=True), help="PAV dataset (DRF checkpoints).")
@click.option(
    "--split",
    type=click.Choice(["test", "train"]),
    default="test",
    show_default=True,
    help="train scores the training data (labelled so in every output).",
)
@click.option("--device", type=click.Choice(DEVICES), default=DEFAULT_DEVICE, show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Evaluation folder (default: a new RUN/eval-<split>-<dataset>-iter<N>[-k] per evaluation).",
)
@click.option("--force", is_flag=True, help="Replace an earlier evaluation at --out (never other files).")
@click.option(
    "--subjects",
    type=click.Path(exists=True, dir_okay=False),
    help="CSV with id,subject columns: warn when training and evaluated data share a subject.",
)
@_bootstrap_options("Bootstrap")
@json_option
@quiet_option
def evaluate(
    checkpoint, manifest, pav_manifest, split, device, out, force, subjects, resamples, seed, as_json, quiet
) -> None:
    """Score a checkpoint: accuracy, macro P/R/F1 (upstream's convention and over all three classes), per
    class P/R/F1, specificity, PPV/NPV and AUC, macro AUC, calibration (ECE), screening sensitivity and
    specificity, bootstrap 95% intervals, confusion matrix.

    Prediction = argmax of the mean cosine logits over the 16 parts. Refuses data whose modality,
    channels or class order differ from the checkpoint's, and test ids it was trained on. Never
    overwrites an earlier evaluation unless --force.
    """
    from gaitmodels.checkpoint import run_dir_of
    from gaitmodels.evaluate import evaluate as run_eval

    run_dir = None
    if out is None:
        ck = Path(checkpoint)
        run_dir = ck if ck.is_dir() else run_dir_of(ck)
    report = run_eval(
        checkpoint,
        manifest,
        split=split,
        pav_manifest=pav_manifest,
        device=device,
        out=out,
        run_dir=run_dir,
        force=force,
        subjects=subjects,
        resamples=resamples,
        seed=seed,
        quiet=quiet,
    )
    emit(report, as_json, _metrics_text(report))


@click.command("compare")
@click.argument("evaluations", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out", type=click.Path(file_okay=False), help="Write compare.md, compare.json and compare.png here."
)
@click.option("--force", is_flag=True, help="Replace an earlier comparison at --out (never other files).")
@_bootstrap_options("Paired bootstrap")
@json_option
def compare(evaluations, out, force, resamples, seed, as_json) -> None:
    """Headline metrics of runs side by side, with 95% intervals, and what differs between them.

    Each EVALUATIONS item is an evaluation folder or a run folder (its newest test evaluation). The
    first is the baseline: the others' configuration and dataset differences are named, and the
    difference in macro-F1 gets a paired bootstrap interval when both were scored on the same sequences.
    """
    from gaitmodels.compare import compare as run_compare
    from gaitmodels.compare import markdown, write_comparison

    result = run_compare(list(evaluations), resamples=resamples, seed=seed)
    if out is not None:
        result["outputs"] = write_comparison(result, out, force=force)
    emit(result, as_json, markdown(result))


@click.command("predict")
@click.option("--checkpoint", required=True, type=click.Path(exists=True))
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(exists=True),
    help="A gaitprep dataset (manifest.json or its folder).",
)
@click.option("--pav-manifest", type=click.Path(exists=True))
@click.option("--device", type=click.Choice(DEVICES), default=DEFAULT_DEVICE, show_default=True)
@json_option
def predict(checkpoint, input_path, pav_manifest, device, as_json) -> None:
    """Class and probabilities for every sequence of a dataset."""
    from gaitmodels.evaluate import predict as run_predict

    rows = run_predict(checkpoint, input_path, pav_manifest=pav_manifest, device=device)
    if not rows:
        raise BadInputError("the dataset holds no sequences", input_path)
    human = "\n".join(
        f"{r['key']}: {r['prediction']} " + " ".join(f"{k}={v:.3f}" for k, v in r["probabilities"].items())
        for r in rows
    )
    emit({"predictions": rows}, as_json, human)
