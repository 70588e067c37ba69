"""Typed read-back: a dataset's parameters as the pydantic model that wrote them.

A skeleton-map manifest records :meth:`HeatmapSpec.record` (every field, plus derived joint and limb
lists and the algorithm version) and two build notes; a PAV manifest records :class:`PavSpec`'s fields
plus notes; an upstream silhouette manifest :class:`SilhouetteSpec`'s. :func:`read_spec` validates the
recorded fields back into that model, so ``list``, ``diff-manifest``, ``preview``, stacking and
``gaitmodels compare`` read ``spec.align`` rather than ``params["align"]``: a field the model does not know
(a renamed or misspelt one) is an error naming it, never a silently wrong summary, and a field added to the
model later reads back without change here (an older manifest gets its default).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from gaitprep.errors import BadInputError
from gaitprep.manifest import Manifest

# Keys a builder records beside a spec's fields (gaitprep/build/datasets.py), per modality; everything else in
# ``params`` must be a field of the spec.
# ``read`` (reader options of raw trees) and ``frame_ids`` (what records' source_frames count) come from
# the raw-tree readers (issue 14).
_BUILD_NOTES: dict[str, frozenset[str]] = {
    "skeleton_map": frozenset({"input_layout", "renderer", "read", "frame_ids"}),
    "pav": frozenset({"algo", "input_layout", "per_frame", "renderer_validity", "pga_flatten_order", "read"}),
    "silhouette": frozenset({"transform", "input_layout", "interpolation", "read"}),
}
UPSTREAM_SILHOUETTE_TRANSFORM = "opengait-imgs2pickle"


@cache
def derived_keys() -> frozenset[str]:
    """What :meth:`HeatmapSpec.record` adds to the spec's fields (derived lists, algorithm version)."""
    from gaitprep.heatmaps.spec import HeatmapSpec

    return frozenset(HeatmapSpec().record()) - frozenset(HeatmapSpec.model_fields)


def spec_model(manifest: Manifest) -> type[BaseModel] | None:
    """The model that wrote ``manifest.params``; None for modalities without one (poses, registered
    silhouettes, stacked data, which record plain build notes)."""
    if manifest.modality == "skeleton_map":
        from gaitprep.heatmaps.spec import HeatmapSpec

        return HeatmapSpec
    if manifest.modality == "pav":
        from gaitprep.pav import PavSpec

        return PavSpec
    if (
        manifest.modality == "silhouette"
        and manifest.params.get("transform") == UPSTREAM_SILHOUETTE_TRANSFORM
    ):
        from gaitprep.silhouettes import SilhouetteSpec

        return SilhouetteSpec
    return None


def spec_from_params(
    model: type[BaseModel], params: dict[str, Any], notes: frozenset[str], where: str
) -> Any:
    """Validate the spec fields of a recorded ``params`` dict into ``model``; unknown keys are errors."""
    fields = set(model.model_fields)
    extras = notes | (derived_keys() if model.__name__ == "HeatmapSpec" else frozenset())
    unknown = sorted(set(params) - fields - extras)
    if unknown:
        raise BadInputError(
            f"{where}: parameter {unknown[0]!r} is not a field of {model.__name__} "
            f"(written by another version of gaitprep?)"
        )
    try:
        return model.model_validate({k: v for k, v in params.items() if k in fields})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise BadInputError(f"{where}: recorded {model.__name__} is invalid: {loc}: {err['msg']}") from None


def read_spec(manifest: Manifest) -> Any:
    """``manifest.params`` as the model that wrote them (a ``HeatmapSpec``, ``PavSpec`` or
    ``SilhouetteSpec``), or None when the modality has no such model. Raises BadInputError naming the
    dataset and the first field the model does not accept."""
    model = spec_model(manifest)
    if model is None:
        return None
    return spec_from_params(
        model, manifest.params, _BUILD_NOTES[manifest.modality], f"dataset {manifest.name}"
    )


def heatmap_spec(manifest: Manifest) -> Any:
    """The ``HeatmapSpec`` of a skeleton-map dataset, or of the maps a stacked dataset was built from."""
    from gaitprep.heatmaps.spec import HeatmapSpec

    if manifest.modality == "skeleton_map":
        return read_spec(manifest)
    if manifest.modality == "stacked" and isinstance(manifest.params.get("map_params"), dict):
        return spec_from_params(
            HeatmapSpec,
            manifest.params["map_params"],
            _BUILD_NOTES["skeleton_map"],
            f"dataset {manifest.name} maps",
        )
    raise BadInputError(f"dataset {manifest.name} is {manifest.modality}, not skeleton maps")


def spec_notes(manifest: Manifest) -> dict[str, Any]:
    """The recorded params that are not spec fields (build notes, derived lists); all of them without a spec."""
    model = spec_model(manifest)
    if model is None:
        return dict(manifest.params)
    fields = set(model.model_fields)
    return {k: v for k, v in manifest.params.items() if k not in fields}
