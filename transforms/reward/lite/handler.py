"""RunInference handler for the bundled CPU reward model (numpy only)."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from apache_beam.ml.inference.base import ModelHandler

from transforms.reward.lite.model import LiteRewardModel
from transforms.reward.transformers_rm import ScoreRequest, ScoreResult, as_score_request


class LiteRewardHandler(ModelHandler[ScoreRequest, ScoreResult, LiteRewardModel]):
    """Scores `ScoreRequest`s with a `LiteRewardModel` loaded from a local directory.

    The model is a few hundred kilobytes and scores from features, so every
    process keeps its own copy; batches are large because a row costs microseconds.
    """

    def __init__(self, model_path: str, *, min_batch_size: int = 64, max_batch_size: int = 4096):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size)
        self._model_path = model_path
        self._name = None

    @property
    def model_name(self) -> str:
        if self._name is None:
            self._name = LiteRewardModel.load(self._model_path).name
        return self._name

    def load_model(self) -> LiteRewardModel:
        return LiteRewardModel.load(self._model_path)

    def run_inference(self, batch: Sequence[Any], model: LiteRewardModel,
                      inference_args: Optional[dict[str, Any]] = None) -> list[ScoreResult]:
        requests = [as_score_request(element) for element in batch]
        scores = model.score_pairs([(r.example, r.candidate["output"]) for r in requests])
        return [ScoreResult(candidate_id=r.candidate["candidate_id"], example_id=r.example["example_id"],
                            score=float(score), truncation="", tokens=0, scorer=model.name)
                for r, score in zip(requests, scores)]

    def get_metrics_namespace(self) -> str:
        return "toolrm_lite"
