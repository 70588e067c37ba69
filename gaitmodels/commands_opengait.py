"""``gaitmodels import-opengait | export-opengait``: thin click layers over :mod:`gaitmodels.opengait`."""

from __future__ import annotations

import click

from gaitmodels.choices import MODEL_NAMES
from gaitprep.cliutil import emit, json_option


@click.command("import-opengait")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="The new run directory.")
@click.option("--config", type=click.Path(exists=True, dir_okay=False), help="The OpenGait YAML config.")
@click.option(
    "--class-order",
    help="The checkpoint's logit order, e.g. negative,positive,neutral for the author DRF bundle "
    "(default for ScoNet: negative,neutral,positive, upstream's).",
)
@click.option(
    "--model", type=click.Choice(MODEL_NAMES), help="Our model name (default: from the config or the keys)."
)
@json_option
def import_opengait(checkpoint, out, config, class_order, model, as_json) -> None:
    """Turn an OpenGait ScoNet/DRF CHECKPOINT.pt into a gaitmodels run directory.

    The weights are read with torch.load(weights_only=True). Modality and channels come from the first
    convolution (1 silhouette, 2 skeleton map, 3 stacked), widths and embedding size from tensor shapes,
    the model from the keys (or --config). `evaluate` and `predict` then work on --out and refuse data of
    another modality.
    """
    from gaitmodels.opengait.importer import import_opengait as run_import

    s = run_import(checkpoint, out, config=config, class_order=class_order, model=model)
    emit(
        s,
        as_json,
        f"imported {s['model']} ({s['in_channels']}-channel {s['modality']}, widths "
        f"{','.join(map(str, s['widths']))}, iteration {s['iteration']}) into {s['run']}",
    )


@click.command("export-opengait")
@click.argument("run", type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="A new folder.")
@click.option(
    "--dataset",
    type=click.Path(exists=True),
    help="A gaitprep dataset stored with --format pkl; data_cfg points at it and its partition.",
)
@json_option
def export_opengait(run, out, dataset, as_json) -> None:
    """Write RUN (a run directory or checkpoint) as an OpenGait checkpoint and YAML config.

    OpenGait's ScoNet (UMGRL's DRF for drf runs) loads the checkpoint strictly; importing it back gives
    the same predictions.
    """
    from gaitmodels.opengait.exporter import export_opengait as run_export

    s = run_export(run, out, dataset=dataset)
    emit(s, as_json, f"wrote {s['checkpoint']} and {s['config']}")
