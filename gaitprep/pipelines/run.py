"""Planning and running a recipe (:mod:`gaitprep.pipelines.recipe`): resolve its paths, select stages, build
each stage's dataset through its builder, cached by derivation id (see the recipe module for the rules).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gaitprep.build import BuildOptions, BuildResult
from gaitprep.errors import BadInputError, DifferentDatasetError, VerificationError
from gaitprep.manifest import MANIFEST_NAME, Owner, load_manifest
from gaitprep.pipelines.recipe import TREE_KINDS, LoadedRecipe, Stage, load_recipe, stage_params


@dataclass(frozen=True)
class PlannedStage:
    """A stage with every path resolved. ``depends``: the stages whose datasets it reads."""

    stage: Stage
    out: Path
    input_path: Path
    depends: tuple[str, ...]


@dataclass(frozen=True)
class PipelinePlan:
    loaded: LoadedRecipe
    base: Path
    output_root: Path
    partition: Path | None
    inputs: dict[str, Path]
    stages: tuple[PlannedStage, ...]


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def plan_pipeline(
    recipe: LoadedRecipe, *, data_root: str | Path | None = None, only: Iterable[str] = ()
) -> PipelinePlan:
    """Resolve paths (against ``data_root``, else the recipe's folder) and select the stages to run.

    ``only``: stage names; those stages and the stages they read from are planned, in recipe order.
    """
    r = recipe.recipe
    base = Path(data_root) if data_root is not None else recipe.path.parent
    inputs = {k: _resolve(base, v) for k, v in r.inputs.items()}
    output_root = _resolve(base, r.output_root)
    by_name = {s.name: s for s in r.stages}
    planned: dict[str, PlannedStage] = {}
    for s in r.stages:
        depends: tuple[str, ...] = ()
        if s.kind == "stacked":
            depends = (s.params["silhouettes"], s.input)
        planned[s.name] = PlannedStage(
            stage=s,
            out=output_root / s.name,
            input_path=output_root / s.input if s.input in by_name else inputs[s.input],
            depends=depends,
        )
    only = list(only)
    unknown = [n for n in only if n not in by_name]
    if unknown:
        raise BadInputError(f"--only {unknown[0]}: no such stage (stages: {', '.join(by_name)})", recipe.path)
    if only:
        wanted: set[str] = set()
        todo = list(only)
        while todo:
            n = todo.pop()
            if n not in wanted:
                wanted.add(n)
                todo.extend(planned[n].depends)
        stages = tuple(p for p in planned.values() if p.stage.name in wanted)
    else:
        stages = tuple(planned.values())
    return PipelinePlan(
        loaded=recipe,
        base=base,
        output_root=output_root,
        partition=_resolve(base, r.partition) if r.partition else None,
        inputs=inputs,
        stages=stages,
    )


@dataclass
class StageReport:
    """What one stage did. ``status``: "built" or "up to date"; ``replaced``: an older derivation of the
    stage was replaced (the recipe or an input changed), or, with force, another's dataset of ours."""

    name: str
    kind: str
    status: str
    path: str
    sequences: int
    frames: int
    content_digest: str
    derivation_id: str
    seconds: float
    built: int
    reused: int
    replaced: bool
    executor: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PipelineResult:
    recipe: str
    file: str
    data_root: str
    output_root: str
    stages: list[StageReport]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "file": self.file,
            "data_root": self.data_root,
            "output_root": self.output_root,
            "seconds": round(self.seconds, 3),
            "built": sum(s.status == "built" for s in self.stages),
            "up_to_date": sum(s.status == "up to date" for s in self.stages),
            "stages": [s.to_json() for s in self.stages],
        }


def _built_by(out: Path) -> Owner | None:
    """The owner recorded in ``out``'s manifest (None: none recorded, or no manifest to read)."""
    try:
        return load_manifest(out / MANIFEST_NAME).owner
    except BadInputError:
        return None


def _owner_text(owner: Owner | None) -> str:
    if owner is None:
        return "by hand (a command, or a gaitprep that did not record owners yet)"
    return f"by recipe {owner.recipe!r}, stage {owner.stage!r}"


def cached_build(
    build: Callable[[bool], BuildResult], out: Path, owner: Owner, *, force: bool = False
) -> tuple[BuildResult, bool]:
    """Run ``build(force)`` without force; rebuild with force only when ``out`` holds another derivation
    that this recipe stage (``owner``) built, or when ``force`` is given.

    Returns ``(result, replaced)``. The builders refuse to replace a dataset of another derivation
    (DifferentDatasetError) and to call a damaged one up to date (VerificationError). A dataset this
    stage built is its own earlier output and is rebuilt; one built by another recipe or by hand is
    refused, naming its owner, unless ``force``. A damaged output is rebuilt only with ``force``. Any
    other error is raised unchanged; a forced build still obeys the ownership rule (``ownership.py``).
    """
    try:
        return build(False), False
    except DifferentDatasetError as exc:
        if exc.path != str(out):
            raise
        found = _built_by(out)
        if found != owner and not force:
            raise BadInputError(
                f"holds a dataset built {_owner_text(found)}, not by this recipe's stage {owner.stage!r}; "
                "nothing was replaced; change output_root or the stage name, or pass --force to replace it",
                out,
            ) from None
    except VerificationError as exc:
        if exc.path != str(out) or not force:
            raise
    return build(True), True


def stage_owner(ps: PlannedStage, plan: PipelinePlan) -> Owner:
    """What a stage's manifest records as its owner: the recipe's name and the stage's."""
    return Owner(recipe=plan.loaded.recipe.name, stage=ps.stage.name)


def stage_options(ps: PlannedStage, plan: PipelinePlan, run: BuildOptions) -> BuildOptions:
    """The one :class:`BuildOptions` of a stage: the run's (executor, progress, the recipe's partition)
    with the stage's format, name and owner record."""
    return run.replace(fmt=ps.stage.format, name=ps.stage.name, owner=stage_owner(ps, plan))


def stage_builder(ps: PlannedStage, plan: PipelinePlan) -> Callable[[BuildOptions], BuildResult]:
    """The stage's builder with its inputs and representation parameters bound; it takes the options.

    Raises ParamsError for bad params and BadInputError for a tree input that does not exist.
    """
    from gaitprep.build import datasets as b

    s, read = ps.stage, plan.loaded.recipe.read
    params = stage_params(s)
    if s.kind in TREE_KINDS and not ps.input_path.exists():
        raise plan.loaded.error(("inputs", s.input), f"input path does not exist: {ps.input_path}")
    src, out = ps.input_path, ps.out
    if s.kind == "silhouettes" and params.register_with:
        pose = plan.inputs[params.register_with]
        return lambda o: b.build_registered_silhouettes(
            src, pose, out, scale_mode=params.scale, span_joints=params.span_joints, joint_set=params.joints,
            sigma=params.sigma, options=o, read=read,
        )  # fmt: skip
    if s.kind == "silhouettes":
        return lambda o: b.build_silhouettes(src, out, options=o, read=read)
    if s.kind == "skeleton_maps":
        return lambda o: b.build_heatmaps(src, out, params, options=o, read=read)
    if s.kind == "pav":
        return lambda o: b.build_pav(
            src, out, fit_on=params.fit_on, per_frame=params.per_frame, options=o, read=read
        )
    if s.kind == "poses":
        return lambda o: b.build_poses(src, out, options=o, read=read)
    return lambda o: b.build_stacked(plan.output_root / params.silhouettes, src, out, options=o)


def _run_stage(
    ps: PlannedStage, plan: PipelinePlan, run: BuildOptions, force: bool = False
) -> tuple[BuildResult, bool, str]:
    options = stage_options(ps, plan, run)
    build = stage_builder(ps, plan)
    result, replaced = cached_build(
        lambda again: build(options.replace(force=again)), ps.out, stage_owner(ps, plan), force=force
    )
    return result, replaced, options.executor


def check_stage_outputs(plan: PipelinePlan) -> None:
    """Before any stage runs: no stage's output may be, hold or lie inside any of the recipe's inputs (not
    only its own: a later stage would meet it there), its partition or the recipe file, nor lie inside a
    dataset (``ownership.check_output_path``)."""
    from gaitprep.ownership import check_output_path

    inputs = [*plan.inputs.values(), plan.partition, plan.loaded.path]
    for ps in plan.stages:
        check_output_path(ps.out, inputs=inputs, kind="dataset")


def run_pipeline(
    recipe: str | Path | LoadedRecipe,
    *,
    data_root: str | Path | None = None,
    workers: int = 1,
    dask_address: str | None = None,
    only: Iterable[str] = (),
    quiet: bool = False,
    on_stage: Callable[[StageReport], None] | None = None,
    force: bool = False,
) -> PipelineResult:
    """Validate, plan and run a recipe; stages that are up to date cost only their input fingerprint.

    ``workers``: joblib worker processes per stage; ``dask_address``: run every stage's per-sequence tasks
    on that dask scheduler instead. ``on_stage`` is called after each
    stage (for streaming output). ``force``: replace a stage's output that another recipe or a command
    built, or that no longer verifies (only ever a dataset of ours: ``ownership.py``).
    """
    from gaitprep.partition import load_partition

    loaded = recipe if isinstance(recipe, LoadedRecipe) else load_recipe(recipe)
    plan = plan_pipeline(loaded, data_root=data_root, only=only)
    partition = None
    if plan.partition is not None:
        if not plan.partition.is_file():
            raise loaded.error(("partition",), f"partition file does not exist: {plan.partition}")
        partition = load_partition(plan.partition)
    check_stage_outputs(plan)
    run = BuildOptions(
        workers=workers,
        dask_address=dask_address,
        quiet=quiet,
        partition=partition,
        strict_partition=loaded.recipe.strict_partition,
    )
    started = time.perf_counter()
    reports: list[StageReport] = []
    for ps in plan.stages:
        t0 = time.perf_counter()
        result, replaced, executor = _run_stage(ps, plan, run, force)
        m = result.manifest
        report = StageReport(
            name=ps.stage.name,
            kind=ps.stage.kind,
            status="up to date" if result.up_to_date else "built",
            path=str(result.path),
            sequences=len(m.records),
            frames=int(m.counts.get("frames", 0)),
            content_digest=m.content_digest,
            derivation_id=m.derivation_id,
            seconds=round(time.perf_counter() - t0, 3),
            built=result.built,
            reused=result.reused,
            replaced=replaced,
            executor=executor,
        )
        reports.append(report)
        if on_stage is not None:
            on_stage(report)
    return PipelineResult(
        recipe=loaded.recipe.name,
        file=str(loaded.path),
        data_root=str(plan.base),
        output_root=str(plan.output_root),
        stages=reports,
        seconds=time.perf_counter() - started,
    )
