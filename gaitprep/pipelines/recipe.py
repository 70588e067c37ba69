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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gaitprep.errors import BadInputError
from gaitprep.heatmaps.spec import JointScope
from gaitprep.io.bounds import MAX_JSON_DEPTH, MAX_SMALL_FILE_BYTES, read_regular_file
from gaitprep.io.read_options import ReadOptions
from gaitprep.keypoints import ScaleMode
from gaitprep.pav import DEFAULT_FIT_ON, FitOn
from gaitprep.skeleton import JointSetName

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
    scale: ScaleMode | None = None
    span_joints: JointScope | None = None
    joints: JointSetName | None = None
    sigma: float | None = Field(None, gt=0, description="the maps' sigma: it sets the recommended margins")


class PavParams(_Strict):
    fit_on: FitOn = DEFAULT_FIT_ON
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
