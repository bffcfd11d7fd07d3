"""Beam's RunInference API, imported without the optional model manager that pulls in torch.

`apache_beam.ml.inference.base` imports its `ModelManager` (GPU model
placement for `use_model_manager=True`; it imports torch and scipy) at import
time inside a `try/except ImportError`, and imports it again lazily where that
option is used. toolrm does not use the option, and importing torch was about
2 s of every CPU stage's start-up (a third of `toolrm score`'s imports, found
with py-spy). So the base module is imported once with that one import
refused; afterwards nothing is refused, and the lazy import works as Beam
intends. (In this project's environment model_manager's next import, scipy,
is not installed: the import failed anyway, after paying for torch, and
`ModelManager` was None all along.) Scorers that need torch (transformers)
import it themselves.
Every toolrm module imports the RunInference API from here.
"""
from __future__ import annotations

import sys

_BASE = "apache_beam.ml.inference.base"
_MODEL_MANAGER = "apache_beam.ml.inference.model_manager"

if _BASE not in sys.modules and _MODEL_MANAGER not in sys.modules:
    sys.modules[_MODEL_MANAGER] = None  # type: ignore[assignment]  # `from ... import` raises ImportError
    try:
        import apache_beam.ml.inference.base  # noqa: F401
    finally:
        del sys.modules[_MODEL_MANAGER]

from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, RunInference  # noqa: E402

__all__ = ["KeyedModelHandler", "ModelHandler", "RunInference"]
