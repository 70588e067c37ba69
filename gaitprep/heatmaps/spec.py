"""``HeatmapSpec``: every parameter that changes the bits of a skeleton map, and the named presets.

Domain reference §2.3 (joint sets) and §4 (upstream rendering and its recorded variants). The spec is what
a manifest records (:meth:`HeatmapSpec.record`), so "what produced this file" is never reconstructed by hand.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gaitprep.errors import BadInputError, validation_summary
from gaitprep.keypoints import Placement, ScaleMode
from gaitprep.skeleton import NUM_JOINTS, JointSet, JointSetName, joint_set

# Choices shared with the recipes (ScaleMode and Placement come from the keypoint transform); the CLI
# derives its choices from the fields typed with them (gaitprep/commands/choices.py).
ChannelName = Literal["limb", "joint"]
PresetName = Literal["opengait", "recommended"]
DEFAULT_PRESET: PresetName = "opengait"
JointScope = Literal["all17", "selected"]
"""Which joints a step uses: all 17 COCO joints, or the joint set drawn."""


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
    ALGO_VERSION: ClassVar[str] = "gaitprep-heatmaps-2"

    preset: str | None = Field(None, description="preset the spec came from (informational only)")
    sigma_limb: float = Field(8.0, gt=0, description="Gaussian sigma of the limb channel, canvas px")
    sigma_joint: float = Field(8.0, gt=0, description="Gaussian sigma of the joint channel, canvas px")
    joint_set: JointSetName = "coco17"
    shoulder_edge: bool = Field(False, description="add the (5, 6) shoulder limb (not upstream)")
    scale_span_joints: JointScope = "all17"
    impute_on: JointScope = "all17"
    channels: tuple[ChannelName, ...] = ("limb", "joint")
    align: Literal["per_channel", "shared"] = "per_channel"
    combine: Literal["max", "sum"] = "max"
    scale: ScaleMode = Field(
        "per_frame",
        description=(
            "per_frame: the span of each frame (upstream; the map breathes with the stride); per_sequence: the "
            "sequence median; smoothed: a centred local-linear fit with triangular weights over scale_window "
            "frames (follows perspective, not the stride; gaitprep.keypoints.smoothed_span)"
        ),
    )
    scale_window: int = Field(
        45, ge=1, le=1001, description="frames of the centred smoothing window of scale='smoothed' (odd)"
    )
    placement: Placement = Field(
        "hip",
        description=(
            "hip: the hip midpoint at the canvas centre (upstream); extent: x from the hip midpoint, y from the "
            "middle of the span joints' own vertical extent (missing joints left out), so a body that is not "
            "symmetric about its hips stays inside the map"
        ),
    )
    margin_sigmas: float | None = Field(
        None,
        ge=0,
        description=(
            "None: the span maps to canvas // 1.5 px (upstream, 85 of 128); a number m: to canvas - 2 m "
            "max(sigma_limb, sigma_joint), leaving a margin of m sigmas for the Gaussian tails above and below"
        ),
    )
    min_margin_sigmas: float | None = Field(
        None,
        ge=0,
        description=(
            "placement='extent' only: cap a frame's scale so that its own extent keeps this many sigmas from the "
            "top and bottom edges (a subject turning or coming close faster than the smoothing follows); "
            "None: no cap"
        ),
    )
    hip_missing: Literal["draw", "unnormalisable"] = Field(
        "draw",
        description=(
            "a frame whose hip is still (0, 0) after gap filling: draw it centred on that midpoint as upstream "
            "does, or treat it as unnormalisable; counted (hip_missing_frames) and warned about either way"
        ),
    )
    knn_never_observed: Literal["keep_all_raw", "leave_joint"] = Field(
        "keep_all_raw",
        description=(
            "a joint never observed in a sequence: keep_all_raw switches gap filling off for every joint "
            "(upstream: scikit-learn drops the column and the reshape fails); leave_joint leaves only that "
            "joint unfilled (and undrawn) and fills every other"
        ),
    )
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

    @field_validator("scale_window")
    @classmethod
    def _window_odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"scale_window must be odd (a centred window), got {v}")
        return v

    @model_validator(mode="after")
    def _output_raster_needs_full_canvas(self) -> HeatmapSpec:
        if self.raster == "output" and self.crop != "full_canvas":
            raise ValueError(
                f"raster='output' renders the whole canvas straight onto the output grid, so it needs "
                f"crop='full_canvas' (got crop={self.crop!r}); use raster='canvas' for a content crop"
            )
        if self.min_margin_sigmas is not None and self.placement != "extent":
            raise ValueError("min_margin_sigmas needs placement='extent' (the body's extent is centred)")
        if self.fit_target is not None and self.fit_target <= 0:
            raise ValueError(f"min_margin_sigmas={self.min_margin_sigmas} leaves no room on the canvas")
        if self.span_target is not None and self.span_target <= 0:
            raise ValueError(
                f"margin_sigmas={self.margin_sigmas} leaves no room for the body on a {self.canvas}-px canvas "
                f"with sigma {max(self.sigma_limb, self.sigma_joint)}"
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
    def span_target(self) -> float | None:
        """Canvas px the span maps to (None: upstream's ``canvas // 1.5``)."""
        if self.margin_sigmas is None:
            return None
        return self.canvas - 2.0 * self.margin_sigmas * max(self.sigma_limb, self.sigma_joint)

    @property
    def fit_target(self) -> float | None:
        """Canvas px a frame's own extent may fill at most (None: no cap)."""
        if self.min_margin_sigmas is None:
            return None
        return self.canvas - 2.0 * self.min_margin_sigmas * max(self.sigma_limb, self.sigma_joint)

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
# setting the scale, a fixed full-canvas crop (no crop jitter), sigma 8, rendered straight onto the 64-px
# output grid (raster="output": the speed, see HeatmapSpec; raster="canvas" gives the 128-px canvas and its
# 2x area downsample instead). Geometry that holds on real walking: the body's own vertical extent in the
# middle with a 3-sigma margin for the Gaussian tails above and below (feet and shoulders never leave the
# map), and the span smoothed over 45 frames (1.5 s at 30 fps: the scale follows a subject walking toward
# or away from the camera, not the stride), with a cap that keeps any frame's extent 2 sigmas from the
# edges when the size changes faster than the smoothing follows (a subject turning close to the camera). Gap filling leaves a never-observed joint alone and fills the
# rest; a frame whose hip was never observed is blanked.
_PRESETS: dict[str, dict[str, Any]] = {
    "opengait": {},
    "recommended": {
        "align": "shared",
        "joint_set": "body",
        "scale_span_joints": "selected",
        "impute_on": "all17",
        "knn_never_observed": "leave_joint",
        "scale": "smoothed",
        "scale_window": 45,
        "placement": "extent",
        "margin_sigmas": 3.0,
        "min_margin_sigmas": 2.0,
        "hip_missing": "unnormalisable",
        "crop": "full_canvas",
        "raster": "output",
        "sigma_limb": 8.0,
        "sigma_joint": 8.0,
        "quantise": "floor256",
    },
}

PRESET_NAMES: tuple[str, ...] = get_args(PresetName)


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
