"""The bundled CPU reward model (toolrm-lite): reference-free features + a small numpy MLP.

- `LiteRewardModel.load(path)` / `.score(examples, outputs)` / `.save(path)`
- `train_lite(...)`, and `main(argv)` for `toolrm train-lite`
- `DEFAULT_MODEL_PATH`: the model shipped in the package (models/toolrm-lite, package data)
"""
from __future__ import annotations

from toolrm_beam.models import LITE_MODEL as DEFAULT_MODEL_PATH
from toolrm_beam.transforms.reward.lite.model import LiteRewardModel, ModelFormatError


def load_default() -> LiteRewardModel:
    """The bundled model."""
    return LiteRewardModel.load(DEFAULT_MODEL_PATH)


__all__ = ["DEFAULT_MODEL_PATH", "LiteRewardModel", "ModelFormatError", "load_default"]
