"""``gaitprep run``: build every stage of a declarative YAML recipe, skipping stages that are up to date."""

from __future__ import annotations

import click

from gaitprep.cliutil import check_dask_address, emit, json_option, quiet_option
from gaitprep.progress import log


def _stage_line(s) -> str:
    status = s.status + (" (replaced an older derivation)" if s.replaced else "")
    return (
        f"  {s.name:<22} {status:<12} {s.sequences:>5} sequences  {s.frames:>7} frames  "
        f"content {s.content_digest[:16]}  {s.seconds:7.2f} s  {s.path}"
    )


@click.command("run")
@click.argument("recipe")
@click.option(
    "--data-root",
    type=click.Path(exists=True, file_okay=False),
    help="Folder the recipe's inputs, partition and output_root are relative to (default: the recipe's "
    "folder; for a shipped recipe named without a path, the current directory).",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="joblib worker processes per stage (outputs are identical whatever the count).",
)
@click.option(
    "--dask-scheduler",
    "dask_address",
    metavar="ADDRESS",
    callback=lambda ctx, param, value: check_dask_address(value),
    help="Run the per-sequence tasks on this dask.distributed scheduler (e.g. tcp://host:8786); needs "
    "gaitprep[dask] on this machine and the workers.",
)
@click.option(
    "--only",
    multiple=True,
    metavar="STAGE",
    help="Run only this stage (repeatable), plus the stages whose datasets it reads.",
)
@click.option("--dry-run", is_flag=True, help="Validate the recipe and print the plan; build nothing.")
@click.option(
    "--force",
    is_flag=True,
    help="Replace a stage's dataset that another recipe or a command built, or one that no longer "
    "verifies (only ever a gaitprep dataset; never other files).",
)
@json_option
@quiet_option
def run(
    recipe: str,
    data_root: str | None,
    workers: int,
    dask_address: str | None,
    only: tuple[str, ...],
    dry_run: bool,
    force: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Build the datasets a RECIPE (a YAML file, or the name of a shipped one such as demo) describes.

    \b
    Each stage writes <output_root>/<stage name> and is cached by its derivation id (inputs'
    fingerprints, parameters, layout, partition, algorithm version): an unchanged stage prints
    "up to date" and does nothing; a stage whose derivation changed is rebuilt and its old dataset
    replaced when this recipe's stage built it (the owner is recorded in the manifest); a dataset built
    by another recipe or by hand is refused unless --force. Stages reading its output follow. Per
    stage: built / up to date, sequences, frames, content digest, time.
    """
    from gaitprep.pipelines import load_recipe, plan_pipeline, run_pipeline
    from gaitprep.recipes import find_recipe

    found = find_recipe(recipe)
    if found.shipped and data_root is None:
        data_root = "."
    loaded = load_recipe(found.path)
    if dry_run:
        plan = plan_pipeline(loaded, data_root=data_root, only=only)
        doc = {
            "recipe": loaded.recipe.name,
            "file": str(loaded.path),
            "data_root": str(plan.base),
            "output_root": str(plan.output_root),
            "partition": str(plan.partition) if plan.partition else None,
            "stages": [
                {
                    "name": p.stage.name,
                    "kind": p.stage.kind,
                    "input": str(p.input_path),
                    "out": str(p.out),
                    "format": p.stage.format,
                    "depends": list(p.depends),
                }
                for p in plan.stages
            ],
        }
        human = "\n".join(
            [f"recipe {doc['recipe']} ({doc['file']}): valid; {len(plan.stages)} stage(s)"]
            + [f"  {s['name']:<22} {s['kind']:<14} {s['input']} -> {s['out']}" for s in doc["stages"]]
        )
        emit(doc, as_json, human)
        return

    if not as_json:
        click.echo(f"recipe {loaded.recipe.name} ({loaded.path})")

    def on_stage(report) -> None:
        if not as_json:
            click.echo(_stage_line(report))
        elif not quiet:
            log(f"{report.name}: {report.status} ({report.seconds:.2f} s)")
        if report.status == "built":  # the end-of-build summary and warnings, per stage, on stderr
            from gaitprep.build_summary import summarise, summary_lines
            from gaitprep.manifest import load_manifest

            for line in summary_lines(summarise(load_manifest(report.path))):
                log(f"  {report.name}: {line}")

    result = run_pipeline(
        loaded,
        data_root=data_root,
        workers=workers,
        dask_address=dask_address,
        only=only,
        quiet=quiet,
        on_stage=on_stage,
        force=force,
    )
    doc = result.to_json()
    emit(
        doc,
        as_json,
        f"{doc['built']} built, {doc['up_to_date']} up to date in {doc['seconds']:.2f} s "
        f"(datasets under {doc['output_root']})",
    )
