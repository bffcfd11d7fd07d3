"""RunInference handler for the bundled CPU reward model (numpy only)."""
from __future__ import annotations

import os
import tempfile
from typing import Any, Optional, Sequence

from toolrm_beam.transforms.run_inference import ModelHandler

from toolrm_beam.transforms import fileio

from toolrm_beam.transforms.reward.lite.features import ContextCache
from toolrm_beam.transforms.reward.lite.model import LiteRewardModel
from toolrm_beam.transforms.reward.transformers_rm import ScoreRequest, ScoreResult, as_score_request


# Examples' contexts kept between batches: as many as the groups of one batch (transforms/score.py).
CONTEXTS_KEPT = 256


class LiteRewardHandler(ModelHandler[ScoreRequest, ScoreResult, LiteRewardModel]):
    """Scores `ScoreRequest`s with a `LiteRewardModel` loaded from a local directory.

    The model is a few hundred kilobytes and scores from features, so every
    process keeps its own copy; batches are large because a row costs microseconds.
    """

    def __init__(self, model_path: str, *, min_batch_size: int = 64, max_batch_size: int = 4096):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size)
        # The model is small: carry its files in the handler, so remote
        # workers (Dataflow, Flink) score without the repository on disk.
        self._files = _read_model_files(model_path)
        self._name = self._load().name

    @property
    def model_name(self) -> str:
        return self._name

    def _load(self) -> LiteRewardModel:
        with tempfile.TemporaryDirectory(prefix="toolrm-lite-") as directory:
            for name, data in self._files.items():
                with open(os.path.join(directory, name), "wb") as handle:
                    handle.write(data)
            return LiteRewardModel.load(directory)

    def load_model(self) -> LiteRewardModel:
        model = self._load()
        # A pipeline scores each example once, its candidates side by side in one batch: the
        # contexts of a batch are all a cache can reuse. The model's default (4,096 contexts, for
        # training's epochs) held about 200 MB for nothing.
        model.cache = ContextCache(size=CONTEXTS_KEPT)
        return model

    def run_inference(self, batch: Sequence[Any], model: LiteRewardModel,
                      inference_args: Optional[dict[str, Any]] = None) -> list[ScoreResult]:
        requests = [as_score_request(element) for element in batch]
        scores = model.score_pairs([(r.example, r.candidate["output"]) for r in requests])
        return [ScoreResult(candidate_id=r.candidate["candidate_id"], example_id=r.example["example_id"],
                            score=float(score), truncation="", tokens=0, scorer=model.name)
                for r, score in zip(requests, scores)]

    def get_metrics_namespace(self) -> str:
        return "toolrm_lite"


_MODEL_FILES = ("config.json", "model.safetensors")


def _read_model_files(path: str) -> dict[str, bytes]:
    files = {}
    for name in _MODEL_FILES:
        location = fileio.join(path, name)
        if not fileio.exists(location):
            raise FileNotFoundError(f"lite reward model: {location} is missing (expected {', '.join(_MODEL_FILES)})")
        with fileio.open_read(location) as handle:
            files[name] = handle.read()
    return files
