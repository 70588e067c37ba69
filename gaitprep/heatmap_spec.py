"""``HeatmapSpec``: every parameter that changes the bits of a skeleton map, and the named presets.

Domain reference §2.3 (joint sets) and §4 (upstream rendering and its recorded variants). The spec is what
a manifest records (:meth:`HeatmapSpec.record`), so "what produced this file" is never reconstructed by hand.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gaitprep.errors import BadInputError
from gaitprep.skeleton import NUM_JOINTS, JointSet, joint_set

ChannelName = Literal["limb", "joint"]
PresetName = Literal["opengait", "recommended"]


class HeatmapSpec(BaseModel):
    """Parameters of :func:`gaitprep.heatmaps.render_sequence`. The defaults are upstream OpenGait (§4.1).

    Units: sigmas and ``canvas`` in canvas pixels, ``size`` in output pixels.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

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
# setting the scale, one scale per sequence and a fixed full-canvas downsample (no crop jitter), sigma 8.
_PRESETS: dict[str, dict[str, Any]] = {
    "opengait": {},
    "recommended": {
        "align": "shared",
        "joint_set": "body",
        "scale_span_joints": "selected",
        "impute_on": "all17",
        "scale": "per_sequence",
        "crop": "full_canvas",
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
        raise BadInputError(f"invalid heatmap spec for preset {name!r}: {exc}") from None
