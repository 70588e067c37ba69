"""Click choices and defaults read from the library's declarations, so that no option restates them.

A choice is declared once, as a ``Literal`` type on a pydantic field (``HeatmapSpec.align``) or as a named
``Literal`` (``gaitprep.skeleton.JointSetName``); an option's ``click.Choice`` is built from it here and its
default is the field's default. Options spell values with dashes (``--align per-channel``) where the
models use underscores (``"per_channel"``); :func:`undash` maps them back.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin

import click
from pydantic import BaseModel


def literal_values(annotation: Any) -> tuple[Any, ...]:
    """The values of a ``Literal`` type, looking through ``X | None`` and ``Optional[X]`` (None left out).

    Raises TypeError when ``annotation`` holds no ``Literal``.
    """
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    if get_origin(annotation) in (typing.Union, types.UnionType):
        values = tuple(
            v for arm in get_args(annotation) if arm is not type(None) for v in literal_values(arm)
        )
        if values:
            return values
    raise TypeError(f"{annotation!r} is not a Literal type")


def dashed(values: tuple[Any, ...]) -> tuple[str, ...]:
    """``("per_channel", "shared")`` -> ``("per-channel", "shared")``: values as options spell them."""
    return tuple(str(v).replace("_", "-") for v in values)


def undash(value: str | None) -> str | None:
    """An option's value as the model spells it (``per-channel`` -> ``per_channel``); None stays None."""
    return None if value is None else value.replace("-", "_")


def field_values(model: type[BaseModel], field: str) -> tuple[Any, ...]:
    """The values the ``Literal``-typed ``field`` of ``model`` accepts, in declaration order."""
    return literal_values(model.model_fields[field].annotation)


def field_choice(model: type[BaseModel], field: str, *, dash: bool = False) -> click.Choice:
    """A ``click.Choice`` of ``model.field``'s values (with dashes for underscores when ``dash``)."""
    values = field_values(model, field)
    return click.Choice(dashed(values) if dash else [str(v) for v in values])


def literal_choice(annotation: Any) -> click.Choice:
    """A ``click.Choice`` of a ``Literal`` type's values."""
    return click.Choice([str(v) for v in literal_values(annotation)])


def field_default(model: type[BaseModel], field: str) -> Any:
    """``model.field``'s default (the option's default, so that the two cannot drift apart)."""
    return model.model_fields[field].get_default(call_default_factory=True)


def field_range(model: type[BaseModel], field: str) -> click.IntRange | click.FloatRange:
    """A click range type with ``model.field``'s bounds (pydantic ``gt``/``ge``/``lt``/``le``): an
    ``IntRange`` for an int field, else a ``FloatRange``."""
    info = model.model_fields[field]
    bounds: dict[str, Any] = {}
    for item in info.metadata:
        for attr, key, is_open in (
            ("gt", "min", True),
            ("ge", "min", False),
            ("lt", "max", True),
            ("le", "max", False),
        ):
            value = getattr(item, attr, None)
            if value is not None:
                bounds[key] = value
                bounds[f"{key}_open"] = is_open
    arms = [a for a in (get_args(info.annotation) or (info.annotation,)) if a is not type(None)]
    return (click.IntRange if arms == [int] else click.FloatRange)(**bounds)
