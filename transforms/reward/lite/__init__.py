"""The bundled CPU reward model (toolrm-lite): reference-free features + a small numpy MLP.

- `LiteRewardModel.load(path)` / `.score(examples, outputs)` / `.save(path)`
- `train_lite(...)`, and `main(argv)` for `toolrm train-lite`
- `DEFAULT_MODEL_PATH`: the model shipped in the repository (models/toolrm-lite)
"""
from __future__ import annotations

import os

from toolrm_beam.transforms.reward.lite.model import LiteRewardModel, ModelFormatError

DEFAULT_MODEL_PATH = os.path.normpath(
    os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir, "models", "toolrm-lite"))


def load_default() -> LiteRewardModel:
    """The bundled model."""
    return LiteRewardModel.load(DEFAULT_MODEL_PATH)


__all__ = ["DEFAULT_MODEL_PATH", "LiteRewardModel", "ModelFormatError", "load_default"]
