"""The house's import rules, read from the source with ``ast``: library modules never import the
command-line layer (click, ``gaitprep.cliutil``, ``gaitprep.commands``, the ``gaitmodels`` commands)."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gaitprep", "gaitmodels")
# The command-line layer: entry points, click helpers and the commands themselves.
CLI_MODULES = {
    "gaitprep.__main__",
    "gaitprep.cli",
    "gaitprep.cliutil",
    "gaitmodels.__main__",
    "gaitmodels.cli",
    "gaitmodels.commands",
    "gaitmodels.commands_opengait",
}
CLI_PACKAGES = ("gaitprep.commands",)
FORBIDDEN = (
    "click",
    "gaitprep.cliutil",
    "gaitprep.commands",
    "gaitprep.cli",
    "gaitmodels.cli",
    "gaitmodels.commands",
    "gaitmodels.commands_opengait",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_cli(name: str) -> bool:
    return name in CLI_MODULES or any(name == p or name.startswith(p + ".") for p in CLI_PACKAGES)


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    """Every absolute module name an ``import`` or ``from ... import`` statement names (relative ones
    resolved against ``module``), wherever it sits (top level or inside a function)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def _forbidden_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    tree = ast.parse(source)
    bad = set()
    for name in _imports(tree, module, is_package):
        for root in FORBIDDEN:
            if name == root or name.startswith(root + "."):
                bad.add(root)
    return sorted(bad)


def _library_modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = _module_name(path)
            if not _is_cli(name):
                found.append((name, path))
    return found


def test_the_walk_finds_the_library_and_skips_the_cli():
    names = {name for name, _ in _library_modules()}
    assert {
        "gaitprep.progress",
        "gaitprep.build",
        "gaitmodels.train",
        "gaitmodels.opengait.exporter",
    } <= names
    assert not names & CLI_MODULES
    assert not any(n.startswith("gaitprep.commands") for n in names)


def test_no_library_module_imports_click_or_the_cli_helpers():
    offenders = {}
    for name, path in _library_modules():
        bad = _forbidden_imports(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
        if bad:
            offenders[name] = bad
    assert offenders == {}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import click\n", ["click"]),
        ("from gaitprep.cliutil import log\n", ["gaitprep.cliutil"]),
        ("def f():\n    from gaitprep.commands.common import report_build\n", ["gaitprep.commands"]),
        ("from gaitprep import cliutil\n", ["gaitprep.cliutil"]),
        ("from . import cliutil\n", ["gaitprep.cliutil"]),
        ("from ..commands import common\n", ["gaitprep.commands"]),
        ("import clickhouse\nfrom gaitprep.progress import log\nfrom gaitprep import climate\n", []),
    ],
)
def test_the_checker_flags_cli_imports(source, expected):
    module = "gaitprep.io.load" if source.startswith("from ..") else "gaitprep.build"
    assert _forbidden_imports(source, module) == expected


def test_log_writes_one_line_to_stderr_only():
    from gaitprep.progress import log

    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        log("maps: 3 sequences")
        log("")
    assert err.getvalue() == "maps: 3 sequences\n\n"
    assert out.getvalue() == ""


def _gaitprep_imports(path: Path) -> set[str]:
    name = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n for n in _imports(tree, name, path.name == "__init__.py") if n.startswith("gaitprep")}


def _under(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == r or name.startswith(r + ".") for r in roots)


def test_io_imports_neither_the_transforms_nor_the_builders():
    above = (
        "gaitprep.heatmaps", "gaitprep.silhouettes", "gaitprep.pav", "gaitprep.keypoints", "gaitprep.build",
        "gaitprep.pipelines", "gaitprep.export", "gaitprep.api",
    )  # fmt: skip
    offenders = {
        _module_name(p): sorted(n for n in _gaitprep_imports(p) if _under(n, above))
        for p in sorted((ROOT / "gaitprep" / "io").rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_recipe_side_never_imports_the_run_side():
    imported = _gaitprep_imports(ROOT / "gaitprep" / "pipelines" / "recipe.py")
    assert not any(_under(n, ("gaitprep.pipelines.run", "gaitprep.build")) for n in imported)


def test_the_heatmap_spec_loads_without_opencv():
    code = (
        "import sys\n"
        "import gaitprep.heatmaps\n"
        "from gaitprep.heatmaps.spec import preset\n"
        "preset('recommended')\n"
        "assert 'cv2' not in sys.modules, 'cv2 loaded'\n"
        "from gaitprep.heatmaps import render_sequence\n"
        "assert 'cv2' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 100


def _sizes() -> tuple[dict[str, int], dict[str, int]]:
    modules, functions = {}, {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            text = path.read_text(encoding="utf-8")
            modules[rel] = len(text.splitlines())
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    key = f"{rel}:{node.name}"
                    functions[key] = max(functions.get(key, 0), node.end_lineno - node.lineno + 1)
    return modules, functions


def test_no_module_or_function_over_the_size_limits():
    modules, functions = _sizes()
    assert {m: n for m, n in modules.items() if n > MAX_MODULE_LINES} == {}
    assert {f: n for f, n in functions.items() if n > MAX_FUNCTION_LINES} == {}


def test_the_size_walk_measures_lines():
    modules, functions = _sizes()
    assert modules["gaitprep/progress.py"] == len((ROOT / "gaitprep/progress.py").read_text().splitlines())
    assert functions["gaitprep/progress.py:log"] == 5
