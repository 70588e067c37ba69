"""``HeatmapSpec``: every parameter that changes the bits of a skeleton map, and the named presets.

Domain reference §2.3 (joint sets) and §4 (upstream rendering and its recorded variants). The spec is what
a manifest records (:meth:`HeatmapSpec.record`), so "what produced this file" is never reconstructed by hand.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gaitprep.errors import BadInputError, validation_summary
from gaitprep.skeleton import NUM_JOINTS, JointSet, joint_set

ChannelName = Literal["limb", "joint"]
PresetName = Literal["opengait", "recommended"]


class HeatmapSpec(BaseModel):
    """Parameters of :func:`gaitprep.heatmaps.render_sequence`. The defaults are upstream OpenGait (§4.1).

    Units: sigmas and ``canvas`` in canvas pixels, ``size`` in output pixels.

    ``raster`` (not upstream; the ``recommended`` preset uses ``"output"``): with ``crop="full_canvas"`` the
    canvas path renders ``canvas x canvas`` pixels only to area-downsample them by a fixed factor, so
    ``"output"`` evaluates the same Gaussians directly at the ``size x size`` output pixel centres instead:
    canvas point q goes to ``(q + 0.5) * size / canvas - 0.5`` (pixel centres at integers on both grids, where
    an area downsample puts them; the hip centre (64, 64) of a 128-px canvas lands on (31.75, 31.75) of a 64-px
    output), sigmas, the 3-sigma windows (int-truncated in output px) and the under-one-canvas-pixel point-limb
    rule scale by ``size / canvas``, with the same confidence amplitudes, max (or clipped sum) and quantiser.
    That is (canvas / size)^2 = 4x fewer pixels: the whole ``recommended`` render took 0.10 instead of 0.25 ms
    per frame (one core, 2-core VM; ``benchmarks/bench_heatmaps.py``).
    The picture differs from the canvas path only by sampling a Gaussian at the output pixel centre instead of
    averaging four canvas samples, and by quantising once instead of before and after the average: over eight
    walking sequences (1,440 frames, 64x64) |output - canvas| was at most 9 grey levels, mean 0.24 (0.49 over
    non-zero pixels), 99th percentile 2 over non-zero pixels, above 2 at 0.37% of pixels (in the creases where
    the max switches from one Gaussian to another, which an average fills), and the grey mass 0.5% higher.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)  # finite numbers only

    # Bumped whenever the renderer's output bits change for an unchanged spec.
    ALGO_VERSION: ClassVar[str] = "gaitprep-heatmaps-1"

    preset: str | None = Field(None, description="preset the spec came from (informational only)")
    sigma_limb: float = Field(8.0, gt=0, description="Gaussian sigma of the limb channel, canvas px")
    sigma_joint: float = Field(8.0, gt=0, description="Gaussian sigma of the joint channel, canvas px")
    joint_set: Literal["coco17", "body", "head-lite"] = "coco17"
    shoulder_edge: bool = Field(False, description="add the (5, 6) shoulder limb (not upstream)")
    scale_span_joints: Literal["all17", "selected"] = "all17"
    impute_on: Literal["all17", "selected"] = "all17"
    channels: tuple[ChannelName, ...] = ("limb", "joint")
    align: Literal["per_channel", "shared"] = "per_channel"
    combine: Literal["max", "sum"] = "max"
    scale: Literal["per_frame", "per_sequence"] = "per_frame"
    crop: Literal["content", "full_canvas"] = "content"
    raster: Literal["canvas", "output"] = Field(
        "canvas",
        description=(
            "where the Gaussians are evaluated: 'canvas' (upstream) renders on the canvas, then crops and "
            "area-resamples to size; 'output' (not upstream, crop='full_canvas' only) samples them directly at "
            "the output pixel centres with sigmas scaled by size/canvas, for speed: (canvas/size)^2 fewer "
            "pixels, at most 9 and on average 0.24 grey levels from 'canvas' on walking sequences (see the "
            "class docstring)"
        ),
    )
    canvas: int = Field(128, ge=8, le=4096)
    size: int = Field(64, ge=1, le=4096)
    quantise: Literal["lut_exact", "floor256"] = "lut_exact"
    eps: float = Field(1e-3, gt=0, description="minimum confidence (joint) or min-confidence (limb) drawn")
    window_sigmas: float = Field(3.0, gt=0, description="half-width of the drawing window, in sigmas")
    knn_fill: bool = True
    low_conf_interpolate: float | None = Field(None, gt=0, le=1)
    unnormalisable: Literal["blank", "drop"] = "blank"

    @field_validator("channels")
    @classmethod
    def _channels_unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or len(set(v)) != len(v):
            raise ValueError(f"channels must be a non-empty tuple of distinct 'limb'/'joint', got {v}")
        return v

    @model_validator(mode="after")
    def _output_raster_needs_full_canvas(self) -> HeatmapSpec:
        if self.raster == "output" and self.crop != "full_canvas":
            raise ValueError(
                f"raster='output' renders the whole canvas straight onto the output grid, so it needs "
                f"crop='full_canvas' (got crop={self.crop!r}); use raster='canvas' for a content crop"
            )
        return self

    @property
    def joint_set_def(self) -> JointSet:
        """The :class:`~gaitprep.skeleton.JointSet` drawn (with the shoulder edge if requested)."""
        return joint_set(self.joint_set, shoulder_edge=self.shoulder_edge)

    @property
    def joints(self) -> tuple[int, ...]:
        """COCO-17 indices drawn in both channels, ascending."""
        return tuple(sorted(self.joint_set_def.joints))

    @property
    def limbs(self) -> tuple[tuple[int, int], ...]:
        """Limb edges drawn in the limb channel, in drawing order."""
        return self.joint_set_def.limbs

    @property
    def span_joints(self) -> tuple[int, ...]:
        """Joints whose vertical extent sets the canvas scale (§4.1 B)."""
        return tuple(range(NUM_JOINTS)) if self.scale_span_joints == "all17" else self.joints

    @property
    def impute_joints(self) -> tuple[int, ...]:
        """Joints whose coordinates form the KNN-fill matrix (§4.1 A)."""
        return tuple(range(NUM_JOINTS)) if self.impute_on == "all17" else self.joints

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Output channel names in order (upstream: ``("limb", "joint")``)."""
        return tuple(self.channels)

    def sigma_of(self, channel: str) -> float:
        """Sigma (canvas px) of ``channel``."""
        return self.sigma_limb if channel == "limb" else self.sigma_joint

    def record(self) -> dict[str, Any]:
        """JSON-ready description for a manifest: every field, the algorithm version, joints and limbs."""
        out = self.model_dump(mode="json")
        out["algo_version"] = self.ALGO_VERSION
        out["joint_list"] = list(self.joints)
        out["limb_list"] = [list(limb) for limb in self.limbs]
        out["channel_names"] = list(self.channel_names)
        return out


# opengait = upstream §4.1: every default above.
# recommended [decision]: the fork's registration fix (shared alignment), body-only joints with the body
# setting the scale, one scale per sequence and a fixed full-canvas crop (no crop jitter), sigma 8, rendered
# straight onto the 64-px output grid (raster="output": the speed, see HeatmapSpec; raster="canvas" gives
# the 128-px canvas and its 2x area downsample instead).
_PRESETS: dict[str, dict[str, Any]] = {
    "opengait": {},
    "recommended": {
        "align": "shared",
        "joint_set": "body",
        "scale_span_joints": "selected",
        "impute_on": "all17",
        "scale": "per_sequence",
        "crop": "full_canvas",
        "raster": "output",
        "sigma_limb": 8.0,
        "sigma_joint": 8.0,
        "quantise": "floor256",
    },
}

PRESET_NAMES: tuple[str, ...] = tuple(_PRESETS)


def preset(name: str, **overrides: Any) -> HeatmapSpec:
    """Return the named preset (``"opengait"`` or ``"recommended"``) with ``overrides`` applied.

    Raises BadInputError for an unknown name or an invalid override.
    """
    if name not in _PRESETS:
        raise BadInputError(f"unknown heatmap preset {name!r}; expected one of {', '.join(_PRESETS)}")
    params: dict[str, Any] = {"preset": name, **_PRESETS[name], **overrides}
    try:
        return HeatmapSpec(**params)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise BadInputError(f"invalid heatmap spec for preset {name!r}: {validation_summary(exc)}") from None
