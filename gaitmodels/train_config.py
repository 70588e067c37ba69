"""A run's configuration (:class:`TrainConfig`) and the optimiser and learning-rate plan it implies."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from gaitmodels.choices import DEFAULT_WIDTHS, ClassWeights, ModelName, Recipe

if TYPE_CHECKING:
    import torch


class TrainConfig(BaseModel):
    """Every choice of a run; stored in each checkpoint and in ``RUN/train_config.json``."""

    # Hyper-parameters are finite numbers: NaN or infinity is refused when the configuration is parsed.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    model: ModelName
    recipe: Recipe = "sgd-multistep"
    class_weights: ClassWeights = "none"
    iterations: int = Field(20_000, ge=1)
    batch_p: int = Field(8, ge=1)
    batch_k: int = Field(8, ge=1)
    frames: int = Field(30, ge=1)
    sampling: str = "fixed_unordered"  # one of choices.FRAME_SAMPLING, refused by train() naming them
    lr: float | None = Field(None, ge=0)  # None: the recipe's default; 0 freezes the weights
    weight_decay: float | None = Field(None, ge=0)
    widths: tuple[PositiveInt, PositiveInt, PositiveInt, PositiveInt] = DEFAULT_WIDTHS
    seed: int = Field(0, ge=0, lt=2**63)
    save_every: int = Field(1000, ge=1)
    log_every: int = Field(10, ge=1)
    amp: bool = True  # fp16 autocast + GradScaler on CUDA only (upstream); ignored on CPU
    loader_workers: int = Field(0, ge=0)
    triplet_margin: float = Field(0.2, ge=0)
    label_smoothing: float = Field(0.1, ge=0, le=1)
    ce_scale: float = Field(16.0, gt=0)

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else (0.1 if self.recipe == "sgd-multistep" else 1e-3)

    def resolved_weight_decay(self) -> float:
        if self.weight_decay is not None:
            return self.weight_decay
        return 5e-4 if self.recipe == "sgd-multistep" else 0.05

    def milestones(self) -> list[int]:
        """Upstream decays at 10k/14k/18k of 20k iterations: the same fractions of ours."""
        return sorted({max(1, round(self.iterations * f)) for f in (0.5, 0.7, 0.9)})


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """The learning rate of 0-based iteration ``step`` as a fraction of the base rate.

    sgd-multistep: x0.1 at each milestone (50/70/90 % of the iterations); adamw-cosine: linear warm-up
    over the first 5 %, then cosine to 0. A pure function of (config, step), so a resumed run recomputes
    the same rate whatever was saved, and an extended run (larger ``iterations``) follows the new plan.
    """
    if cfg.recipe == "sgd-multistep":
        return 0.1 ** sum(1 for m in cfg.milestones() if m <= step)
    warmup = max(1, cfg.iterations // 20)
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, cfg.iterations - warmup)))


def make_optimizer(cfg: TrainConfig, params) -> tuple[torch.optim.Optimizer, Any]:
    """SGD (momentum 0.9) or AdamW, with a LambdaLR scheduler following :func:`lr_factor`."""
    import torch  # here, so that the configuration (and the command line's defaults) need no torch

    lr, wd = cfg.resolved_lr(), cfg.resolved_weight_decay()
    if cfg.recipe == "sgd-multistep":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    else:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)

    def factor(step: int) -> float:  # a plain function: LambdaLR's state_dict then stores no code
        return lr_factor(cfg, step)

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)
