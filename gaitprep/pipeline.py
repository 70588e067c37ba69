"""Declarative pipelines: a YAML recipe of named stages, each one dataset build, cached by derivation id.

A recipe (see ``pipelines/*.yaml``)::

    name: demo
    inputs:                      # named paths, relative to --data-root (default: the recipe's folder)
      pose: synth/pose-pkl
      sil: synth/sil-raw
    partition: synth/Scoliosis1K_112.json
    output_root: datasets        # default; each stage writes <output_root>/<stage name>
    stages:
      - name: maps
        kind: skeleton_maps      # silhouettes | skeleton_maps | pav | stacked | poses
        input: pose              # an input name (a release tree), or a stage name for ``stacked``
        params: {preset: recommended, sigma_limb: 8}
        format: zarr             # zarr | pkl | both

Caching: every builder computes its stage's derivation id (source fingerprint, params, layout, partition,
algorithm version) before any work and answers "up to date" when ``<output_root>/<stage>`` already holds
it. Every dataset a stage builds records its owner (recipe name, stage name) in the manifest. When the
stage's output holds another derivation (the recipe or an input changed) and the same recipe stage built
it, the stage is rebuilt and the old dataset replaced atomically; a dataset built by another recipe or by
hand is refused unless ``force``, which still replaces only a dataset of ours (``ownership.py``). A stage
whose up-to-date output no longer verifies is rebuilt only with ``force``. A stage that consumes
another stage's dataset (``stacked``) fingerprints it by content digest, so it is rebuilt exactly when
its upstream's content changed.

Validation: the recipe is checked by pydantic models with ``extra="forbid"`` and then for cross
references; every problem names the key (``stages[1].params.sigma_limb``) and its line in the file,
found from ``yaml.compose`` node marks.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gaitprep.build import BuildResult
from gaitprep.errors import BadInputError, DifferentDatasetError, VerificationError
from gaitprep.io.bounds import MAX_JSON_DEPTH, MAX_SMALL_FILE_BYTES, read_regular_file
from gaitprep.io.read_options import ReadOptions
from gaitprep.manifest import MANIFEST_NAME, Owner, load_manifest

StageKind = Literal["silhouettes", "skeleton_maps", "pav", "stacked", "poses"]
# Stages that read a release tree named in ``inputs`` (the others read stage outputs).
TREE_KINDS: tuple[str, ...] = ("silhouettes", "skeleton_maps", "pav", "poses")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

Loc = tuple[str | int, ...]


# --- recipe models ---------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(_Strict):
    """One dataset build. ``params`` are checked per ``kind`` (see :func:`stage_params`)."""

    name: str = Field(pattern=NAME_PATTERN, description="also the output folder under output_root")
    kind: StageKind
    input: str = Field(description="an input name (release tree) or, for stacked, a skeleton_maps stage")
    params: dict[str, Any] = Field(default_factory=dict)
    format: Literal["zarr", "pkl", "both"] = "zarr"


class Recipe(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    inputs: dict[str, str] = Field(min_length=1)
    partition: str | None = None
    output_root: str = "datasets"
    stages: list[Stage] = Field(min_length=1)
    read: ReadOptions = Field(
        default_factory=ReadOptions,
        description="how raw trees are read by every stage: frame_order (numeric|lexical), person (auto|first)",
    )
    strict_partition: bool = Field(
        False, description="fail when the partition lists ids an input does not hold (default: warn, record)"
    )


class SilhouetteParams(_Strict):
    """``register_with``: a pose input; the silhouettes are then cropped and scaled with the skeleton
    maps' hip-centred full-canvas box (needs a sil-raw input). ``scale``: that box's scale mode."""

    register_with: str | None = None
    scale: Literal["per_sequence", "per_frame", "smoothed"] | None = None
    span_joints: Literal["all17", "selected"] | None = None
    joints: Literal["coco17", "body", "head-lite"] | None = None
    sigma: float | None = Field(None, gt=0, description="the maps' sigma: it sets the recommended margins")


class PavParams(_Strict):
    fit_on: Literal["train", "all"] = "train"
    per_frame: bool = False


class StackedParams(_Strict):
    """``silhouettes``: a silhouettes stage built with ``register_with``; ``input`` is the maps stage."""

    silhouettes: str


class PoseParams(_Strict):
    pass


_PARAM_MODELS: dict[str, type[BaseModel]] = {
    "silhouettes": SilhouetteParams,
    "pav": PavParams,
    "stacked": StackedParams,
    "poses": PoseParams,
}


class ParamsError(ValueError):
    """Invalid stage params: ``problems`` are (location within params, message) pairs."""

    def __init__(self, problems: list[tuple[Loc, str]]):
        super().__init__("; ".join(f"{format_loc(loc)}: {msg}" for loc, msg in problems))
        self.problems = problems


def _error_message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "missing key"
    return f"{err['msg']} (got {err.get('input')!r})"


def _pydantic_problems(exc: ValidationError, prefix: Loc = ()) -> list[tuple[Loc, str]]:
    return [
        ((*prefix, *(p for p in err["loc"] if isinstance(p, int | str))), _error_message(err))
        for err in exc.errors()
    ]


def heatmap_spec_of(params: dict[str, Any]) -> Any:
    """``{preset, sigma?, **HeatmapSpec overrides}`` -> :class:`~gaitprep.heatmaps.spec.HeatmapSpec`.

    ``sigma`` is shorthand for equal ``sigma_limb`` and ``sigma_joint`` (like ``--sigma``). Every other
    key is a HeatmapSpec field, validated by that model over the preset's values, so an unknown key or a
    wrong type is reported under its own name. Raises ParamsError.
    """
    from gaitprep.heatmaps.spec import PRESET_NAMES, HeatmapSpec, preset

    p = dict(params)
    if "preset" not in p:
        raise ParamsError([(("preset",), f"missing key: choose a preset ({', '.join(PRESET_NAMES)})")])
    name = p.pop("preset")
    if name not in PRESET_NAMES:
        raise ParamsError(
            [(("preset",), f"unknown preset {name!r}; expected one of {', '.join(PRESET_NAMES)}")]
        )
    renamed: dict[str, str] = {}
    if "sigma" in p:
        if "sigma_limb" in p or "sigma_joint" in p:
            raise ParamsError(
                [(("sigma",), "sigma sets both channels; do not combine it with sigma_limb/joint")]
            )
        p["sigma_limb"] = p["sigma_joint"] = p.pop("sigma")
        renamed = {"sigma_limb": "sigma", "sigma_joint": "sigma"}
    try:
        HeatmapSpec.model_validate({**preset(name).model_dump(), **p})
    except ValidationError as exc:
        problems: dict[Loc, str] = {}
        for err in exc.errors():
            loc = tuple(renamed.get(str(k), k) if i == 0 else k for i, k in enumerate(err["loc"]))
            problems.setdefault(loc, _error_message(err))
        raise ParamsError(list(problems.items())) from None
    return preset(name, **p)


def stage_params(stage: Stage) -> Any:
    """The typed params of ``stage``: a HeatmapSpec for skeleton_maps, else the kind's params model.

    Raises ParamsError with locations relative to ``params``.
    """
    if stage.kind == "skeleton_maps":
        return heatmap_spec_of(stage.params)
    try:
        return _PARAM_MODELS[stage.kind].model_validate(stage.params)
    except ValidationError as exc:
        raise ParamsError(_pydantic_problems(exc)) from None


# --- YAML with line numbers --------------------------------------------------------------------------------


def _node_lines(node: yaml.Node, path: Loc, lines: dict[Loc, int], dups: list[tuple[Loc, int]]) -> None:
    """Record the 1-based line of every mapping key / sequence item under ``node``."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                continue
            sub = (*path, key)
            if key in seen:
                dups.append((sub, key_node.start_mark.line + 1))
            seen.add(key)
            lines[sub] = key_node.start_mark.line + 1  # the line where the key is written
            _node_lines(value_node, sub, lines, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_lines(item, (*path, i), lines, dups)


def format_loc(loc: Loc) -> str:
    """``("stages", 1, "params", "sigma")`` -> ``stages[1].params.sigma``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


@dataclass(frozen=True)
class LoadedRecipe:
    """A validated recipe with the file it came from and the line of every key."""

    recipe: Recipe
    path: Path
    lines: dict[Loc, int] = field(repr=False)

    def line_of(self, loc: Loc) -> int:
        """Line of the deepest key of ``loc`` that the file spells out (1 when none)."""
        return _line_of(self.lines, loc)

    def error(self, loc: Loc, message: str) -> BadInputError:
        """A BadInputError naming the file, the line of ``loc`` and ``loc`` itself."""
        return _problems_error(self.path, self.lines, [(loc, message)])


def _line_of(lines: dict[Loc, int], loc: Loc) -> int:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return 1


def _problems_error(path: Path, lines: dict[Loc, int], problems: list[tuple[Loc, str]]) -> BadInputError:
    """One BadInputError for up to five problems: ``line N: key.path: message; ...``."""
    shown = [f"line {_line_of(lines, loc)}: {format_loc(loc)}: {msg}" for loc, msg in problems[:5]]
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return BadInputError("; ".join(shown) + more, path)


MAX_RECIPE_NODES = 100_000


def _check_yaml_bounds(text: str, path: Path) -> None:
    """Refuse anchors/aliases (a few hundred bytes of nested aliases expand to gigabytes), nesting deeper
    than ``MAX_JSON_DEPTH`` and more than ``MAX_RECIPE_NODES`` nodes, from the event stream, before
    anything is built."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise BadInputError(f"line {line}: YAML anchors and aliases are not allowed in a recipe", path)
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_RECIPE_NODES:
                raise BadInputError(f"line {line}: recipe has more than {MAX_RECIPE_NODES} YAML nodes", path)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise BadInputError(
                    f"line {line}: recipe is nested more than {MAX_JSON_DEPTH} levels deep", path
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def parse_recipe(text: str, path: str | Path) -> LoadedRecipe:
    """Parse and validate recipe ``text`` (from ``path``, named in every error). See the module docstring."""
    path = Path(path)
    try:
        _check_yaml_bounds(text, path)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BadInputError(f"{where}malformed YAML: {problem}", path) from None
    if not isinstance(doc, dict) or node is None:
        raise BadInputError(
            "line 1: a recipe is a YAML mapping with name, inputs and stages"
            + (f", not {type(doc).__name__}" if doc is not None else " (the file is empty)"),
            path,
        )
    lines: dict[Loc, int] = {}
    dups: list[tuple[Loc, int]] = []
    _node_lines(node, (), lines, dups)
    if dups:
        loc, line = dups[0]
        raise BadInputError(f"line {line}: {format_loc(loc)}: duplicate key", path)
    try:
        recipe = Recipe.model_validate(doc)
    except ValidationError as exc:
        raise _problems_error(path, lines, _pydantic_problems(exc)) from None
    problems = check_recipe(recipe)
    if problems:
        raise _problems_error(path, lines, problems)
    return LoadedRecipe(recipe=recipe, path=path, lines=lines)


def check_recipe(recipe: Recipe) -> list[tuple[Loc, str]]:
    """Cross-reference checks: names unique, inputs and stages exist, kinds fit, params valid."""
    problems: list[tuple[Loc, str]] = []
    kinds: dict[str, Stage] = {}
    for i, stage in enumerate(recipe.stages):
        at: Loc = ("stages", i)
        if stage.name in kinds:
            problems.append(((*at, "name"), f"stage name {stage.name!r} is used twice"))
        elif stage.name in recipe.inputs:
            problems.append(((*at, "name"), f"stage name {stage.name!r} is also an input name"))
        problems += _check_params(recipe, stage, at, kinds)
        kinds.setdefault(stage.name, stage)
    return problems


def _check_params(recipe: Recipe, stage: Stage, at: Loc, earlier: dict[str, Stage]) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    try:
        params = stage_params(stage)
    except ParamsError as exc:
        return [((*at, "params", *loc), msg) for loc, msg in exc.problems]
    except BadInputError as exc:  # preset() refusing a combination the model accepted field by field
        return [((*at, "params"), str(exc))]
    if stage.kind in TREE_KINDS:
        if stage.input not in recipe.inputs:
            what = "a stage's output" if stage.input in earlier else "not defined"
            problems.append(
                (
                    (*at, "input"),
                    f"{stage.kind} reads a release tree named in inputs; {stage.input!r} is {what}",
                )
            )
    if stage.kind == "silhouettes":
        if params.register_with is not None and params.register_with not in recipe.inputs:
            problems.append(
                ((*at, "params", "register_with"), f"{params.register_with!r} is not an input name")
            )
        for key in ("scale", "span_joints", "joints", "sigma"):
            if getattr(params, key) is not None and params.register_with is None:
                problems.append(((*at, "params", key), f"{key} applies only with register_with"))
    if stage.kind == "pav" and recipe.partition is None:
        problems.append(
            ((*at, "kind"), "a pav stage needs a top-level partition (its TRAIN ids fit the normaliser)")
        )
    if stage.kind == "stacked":
        maps = earlier.get(stage.input)
        if maps is None or maps.kind != "skeleton_maps":
            problems.append(
                ((*at, "input"), f"stacked needs an earlier skeleton_maps stage, not {stage.input!r}")
            )
        sil = earlier.get(params.silhouettes)
        if sil is None or sil.kind != "silhouettes" or sil.params.get("register_with") is None:
            problems.append(
                (
                    (*at, "params", "silhouettes"),
                    f"stacked needs an earlier silhouettes stage with register_with, not {params.silhouettes!r}",
                )
            )
    return problems


def load_recipe(path: str | Path) -> LoadedRecipe:
    """Read and validate a recipe file; every problem is a BadInputError naming the file, key and line."""
    path = Path(path)
    data = read_regular_file(path, MAX_SMALL_FILE_BYTES, "recipe")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError("recipe is not UTF-8 text", path) from None
    return parse_recipe(text, path)


# --- planning and running ----------------------------------------------------------------------------------


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


_OPTIONAL_KWARGS = ("read", "strict_partition")


def _call(fn: Callable[..., BuildResult], *args: Any, dask_address: str | None, **kwargs: Any) -> BuildResult:
    """Call a builder, passing ``dask_address``, ``read`` and ``strict_partition`` only to builders that take
    them."""
    accepted = inspect.signature(fn).parameters
    if dask_address and "dask_address" in accepted:
        kwargs["dask_address"] = dask_address
    for name in _OPTIONAL_KWARGS:
        if name in kwargs and name not in accepted:
            del kwargs[name]
    return fn(*args, **kwargs)


def _executor(fn: Callable[..., Any], workers: int, dask_address: str | None) -> str:
    if dask_address and "dask_address" in inspect.signature(fn).parameters:
        return f"dask:{dask_address}"
    return f"process:{workers}" if workers > 1 else "serial"


def _builder(ps: PlannedStage) -> Callable[..., BuildResult]:
    from gaitprep import datasets, stacking

    s = ps.stage
    if s.kind == "silhouettes":
        return (
            datasets.build_registered_silhouettes
            if s.params.get("register_with")
            else datasets.build_silhouettes
        )
    return {
        "skeleton_maps": datasets.build_heatmaps,
        "pav": datasets.build_pav,
        "poses": datasets.build_poses,
        "stacked": stacking.build_stacked,
    }[s.kind]


def _run_stage(
    ps: PlannedStage,
    plan: PipelinePlan,
    partition: Any,
    workers: int,
    dask_address: str | None,
    quiet: bool,
    force: bool = False,
) -> tuple[BuildResult, bool, str]:
    s = ps.stage
    params = stage_params(s)
    fn = _builder(ps)
    owner = Owner(recipe=plan.loaded.recipe.name, stage=s.name)
    common = {
        "partition": partition,
        "fmt": s.format,
        "workers": workers,
        "quiet": quiet,
        "name": s.name,
        "owner": owner,
    }
    recipe = plan.loaded.recipe
    common.update(read=recipe.read, strict_partition=recipe.strict_partition)
    if s.kind in TREE_KINDS and not ps.input_path.exists():
        raise plan.loaded.error(("inputs", s.input), f"input path does not exist: {ps.input_path}")

    def build(force: bool) -> BuildResult:
        if s.kind == "silhouettes" and params.register_with:
            pose = plan.inputs[params.register_with]
            return _call(
                fn, ps.input_path, pose, ps.out, dask_address=dask_address, force=force,
                scale_mode=params.scale, span_joints=params.span_joints, joint_set=params.joints,
                sigma=params.sigma, **common,
            )  # fmt: skip
        if s.kind == "skeleton_maps":
            return _call(fn, ps.input_path, ps.out, params, dask_address=dask_address, force=force, **common)
        if s.kind == "pav":
            return _call(
                fn, ps.input_path, ps.out, dask_address=dask_address, force=force,
                fit_on=params.fit_on, per_frame=params.per_frame, **common,
            )  # fmt: skip
        if s.kind == "stacked":
            sil = plan.output_root / params.silhouettes
            return _call(fn, sil, ps.input_path, ps.out, dask_address=dask_address, force=force, **common)
        return _call(fn, ps.input_path, ps.out, dask_address=dask_address, force=force, **common)

    result, replaced = cached_build(build, ps.out, owner, force=force)
    return result, replaced, _executor(fn, workers, dask_address)


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

    ``workers``: joblib worker processes per stage; ``dask_address``: run the per-sequence tasks on that
    dask scheduler instead (builders without a dask path keep joblib). ``on_stage`` is called after each
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
    started = time.perf_counter()
    reports: list[StageReport] = []
    for ps in plan.stages:
        t0 = time.perf_counter()
        result, replaced, executor = _run_stage(ps, plan, partition, workers, dask_address, quiet, force)
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
