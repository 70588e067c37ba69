"""The ScoNet family: ``build_model(ModelConfig(name="sconet-mt"))``; see :mod:`gaitmodels.models.sconet`."""

from gaitmodels.models.errors import InvalidInputError
from gaitmodels.models.sconet import (
    ModelConfig,
    ScoNet,
    build_model,
    convert_opengait_state_dict,
    init_parameters,
    predict,
)

__all__ = [
    "InvalidInputError",
    "ModelConfig",
    "ScoNet",
    "build_model",
    "convert_opengait_state_dict",
    "init_parameters",
    "predict",
]
