"""The recipes shipped with gaitprep (``pipelines/*.yaml``), found by name from an installed wheel too.

``gaitprep run demo`` runs ``pipelines/demo.yaml`` wherever gaitprep is installed: the wheel carries the
recipes as package data (``gaitprep/recipes`` is the repository's ``pipelines/`` folder). A shipped
recipe's relative paths are taken from the current directory unless ``--data-root`` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gaitprep.errors import BadInputError

RECIPE_SUFFIX = ".yaml"


def recipe_dir() -> Path:
    """The folder holding the shipped recipes (inside the installed package, or the source tree)."""
    return Path(str(resources.files("gaitprep") / "recipes"))


def shipped_recipes() -> dict[str, Path]:
    """Name (file name without ``.yaml``) -> path of every shipped recipe."""
    folder = recipe_dir()
    if not folder.is_dir():
        return {}
    return {p.name.removesuffix(RECIPE_SUFFIX): p for p in sorted(folder.glob(f"*{RECIPE_SUFFIX}"))}


@dataclass(frozen=True)
class FoundRecipe:
    path: Path
    shipped: bool  # found by name among the shipped recipes, not as a file


def find_recipe(name_or_path: str) -> FoundRecipe:
    """A recipe file when ``name_or_path`` is one; else the shipped recipe of that name (``demo`` or
    ``demo.yaml``). Raises BadInputError naming the shipped recipes."""
    path = Path(name_or_path)
    if path.is_file():
        return FoundRecipe(path, shipped=False)
    shipped = shipped_recipes()
    name = path.name.removesuffix(RECIPE_SUFFIX)
    if path.parent == Path(".") and name in shipped:
        return FoundRecipe(shipped[name], shipped=True)
    if path.exists():
        raise BadInputError("recipe is not a file", name_or_path)
    known = ", ".join(shipped) or "none"
    raise BadInputError(
        f"no such recipe file, and no shipped recipe of that name (shipped: {known})", name_or_path
    )
