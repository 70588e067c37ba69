"""Packaging: declared dependencies are the ones imported, the minimum-versions pins match the declared
floors, an installed wheel ships the recipes (``gaitprep run demo``), and dask workers get absolute paths."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from gaitprep import open_dataset
from gaitprep.build import BuildOptions, BuildPlan, ProcessResult, SourceItem, absolute_paths, build_dataset
from gaitprep.errors import BadInputError
from gaitprep.io.tree import SequenceRef
from gaitprep.recipes import find_recipe, shipped_recipes
from tests._trees import synthetic_maps, synthetic_plan

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# distribution name -> the module it provides
IMPORT_NAME = {"opencv-python-headless": "cv2", "pyyaml": "yaml"}


def _requirement_name(req: str) -> str:
    return re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].strip().lower()


def _floor(req: str) -> str | None:
    m = re.search(r">=\s*([0-9][^,; ]*)", req)
    return m.group(1) if m else None


def test_every_declared_dependency_is_imported_by_the_code() -> None:
    sources = "\n".join(
        p.read_text() for folder in ("gaitprep", "gaitmodels") for p in (REPO / folder).rglob("*.py")
    )
    for req in PYPROJECT["project"]["dependencies"]:
        name = _requirement_name(req)
        module = IMPORT_NAME.get(name, name)
        assert re.search(rf"^\s*(import|from) {re.escape(module)}\b", sources, re.M), (
            f"{name} is never imported"
        )
    assert "scipy" not in {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}


def test_the_minimum_versions_environment_pins_the_declared_floors() -> None:
    pins = {}
    for line in (REPO / "scripts" / "min-versions.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    floors = {_requirement_name(r): _floor(r) for r in PYPROJECT["project"]["dependencies"]}
    for name in ("numpy", "opencv-python-headless", "zarr", "torch"):
        assert pins[name].startswith(floors[name]), (name, pins[name], floors[name])
    assert pins["numpy"].startswith("1."), "the minimum environment is also the numpy-1.x one"
    assert "test_min_versions.sh" in (REPO / "scripts" / "test.sh").read_text()


def test_a_shipped_recipe_is_found_by_name_and_unknown_names_list_the_shipped_ones(tmp_path: Path) -> None:
    shipped = shipped_recipes()
    assert set(shipped) == {p.stem for p in (REPO / "pipelines").glob("*.yaml")}
    found = find_recipe("demo")
    assert found.shipped and found.path.read_bytes() == (REPO / "pipelines" / "demo.yaml").read_bytes()
    assert find_recipe("demo.yaml").shipped
    own = tmp_path / "demo.yaml"
    own.write_text("name: mine\n")
    assert find_recipe(str(own)) == type(found)(own, shipped=False)  # a file wins over a name
    with pytest.raises(BadInputError, match=r"no shipped recipe of that name \(shipped: .*demo"):
        find_recipe("no-such-recipe")
    with pytest.raises(BadInputError, match="no shipped recipe"):
        find_recipe(str(tmp_path / "elsewhere" / "demo.yaml"))  # a path is a path, not a name


@pytest.mark.slow
def test_an_installed_wheel_runs_the_demo_recipe_by_name(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("gaitprep", "gaitmodels", "pipelines"):
        shutil.copytree(REPO / name, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    from importlib.metadata import version

    # Build with this environment's setuptools when it is recent enough (pyproject asks >= 77): no download.
    isolation = [] if int(version("setuptools").split(".")[0]) < 77 else ["--no-build-isolation"]
    wheel = subprocess.run(
        [*pip, "wheel", "--no-deps", *isolation, "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert wheel.returncode == 0, wheel.stderr
    (whl,) = (tmp_path / "dist").glob("gaitprep-*.whl")
    target = tmp_path / "site"
    install = subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), str(whl)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    assert sorted(p.name for p in (target / "gaitprep" / "recipes").glob("*.yaml")) == sorted(
        p.name for p in (REPO / "pipelines").glob("*.yaml")
    )
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run(
        [sys.executable, "-c", "import gaitprep, sys; print(gaitprep.__file__); from gaitprep.cli import main;"
         " sys.argv = ['gaitprep', 'run', 'demo', '--dry-run', '--json']; main()"],
        capture_output=True, text=True, cwd=work, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    where, doc = proc.stdout.split("\n", 1)
    assert Path(where).is_relative_to(target), where  # the installed copy, not the source tree
    plan = json.loads(doc)
    assert plan["recipe"] == "demo" and Path(plan["file"]).is_relative_to(target)
    assert Path(plan["data_root"]) == Path(".")  # a shipped recipe reads from the current directory
    assert [s["name"] for s in plan["stages"]] == ["skeleton-maps", "pav", "silhouettes"]


# --- absolute paths for dask workers ---------------------------------------------------------------------


def test_absolute_paths_reaches_paths_inside_items_and_their_refs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    ref = SequenceRef("00001", "positive", "000_180", "Positive", Path("rel/00001"), "pose-pkl")
    item = SourceItem(
        "00001", "positive", "Positive", "000_180", "train", "d", (ref, [Path("a")], {"k": Path("b")})
    )
    out = absolute_paths(item)
    assert out.inputs[0].folder == tmp_path / "rel" / "00001"
    assert out.inputs[1] == [tmp_path / "a"] and out.inputs[2] == {"k": tmp_path / "b"}
    assert out.key == item.key and out.source_digest == "d" and item.inputs[0].folder == Path("rel/00001")


def absolute_only_process(item: SourceItem) -> ProcessResult:
    """Refuses relative paths, as a dask worker started in another directory would fail on them."""
    (path,) = item.inputs
    if not path.is_absolute():
        raise BadInputError("a relative path reached the worker", path)
    maps = synthetic_maps(0, int(item.id), 5)
    return ProcessResult({"maps": maps}, 5, 5)


def test_a_dask_build_sends_workers_absolute_paths(tmp_path: Path, monkeypatch) -> None:
    distributed = pytest.importorskip("dask.distributed")
    monkeypatch.chdir(tmp_path)
    base = synthetic_plan(Path("out") / "ds", n=3)
    items = [
        SourceItem(i.id, i.label, i.class_folder, i.view, i.split, i.source_digest, (Path("inputs") / i.id,))
        for i in base.items
    ]
    plan = BuildPlan(**{**base.__dict__, "items": items, "process": absolute_only_process})
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        result = build_dataset(plan, BuildOptions(quiet=True, dask_address=cluster.scheduler_address))
    assert result.built == 3 and (tmp_path / "out" / "ds" / "manifest.json").is_file()
    np.testing.assert_array_equal(
        open_dataset(tmp_path / "out" / "ds")[items[1].key], synthetic_maps(0, 1, 5)
    )


# --- opencv without cv2.utils.logging ----------------------------------------------------------------------


def test_opencv_is_quietened_through_whichever_logging_api_the_wheel_has(monkeypatch) -> None:
    from types import SimpleNamespace

    from gaitprep.io import frames

    calls = []
    with_utils = SimpleNamespace(
        utils=SimpleNamespace(
            logging=SimpleNamespace(LOG_LEVEL_ERROR=2, setLogLevel=lambda v: calls.append(("utils", v)))
        )
    )
    only_top = SimpleNamespace(setLogLevel=lambda v: calls.append(("top", v)))  # e.g. 4.11 with numpy 1.x
    for fake in (with_utils, only_top, SimpleNamespace(utils=SimpleNamespace())):
        monkeypatch.setattr(frames, "cv2", fake)
        frames.quiet_opencv()  # never raises, whatever the wheel lacks
    assert calls == [("utils", 2), ("top", 2)]
