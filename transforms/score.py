"""Score every candidate of an example with a reward model, through RunInference.

The element is one example with all its candidates, so the scores arrive
already grouped for selection (no second join). `GroupScoringHandler` wraps
any per-candidate reward handler (`ScoreRequest` -> `ScoreResult`): the
bundled CPU model or a transformers sequence classifier; it inherits the
inner handler's model sharing and flattens each batch of groups into one
batch of candidates, so token-budget batching works across examples.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import apache_beam as beam
from apache_beam.ml.inference.base import ModelHandler, RunInference

from toolrm_beam.models import LITE_MODEL
from toolrm_beam.runners.presets import gpu_resource_hints
from toolrm_beam.transforms.dead_letter import dead_letter
from toolrm_beam.transforms.reward.transformers_rm import ScoreRequest, ScoreResult

BUNDLED_MODEL = LITE_MODEL  # package data: found in a checkout and in an installed wheel alike

SCORED = "scored"
DEAD_LETTER = "dead_letter"


class GroupScoringHandler(ModelHandler):
    """`(example, [candidates])` -> `(example, [candidates with score, scorer, truncation])`."""

    def __init__(self, inner: ModelHandler, max_groups_per_batch: int = 64):
        super().__init__()
        self._inner = inner
        self._max_groups = max_groups_per_batch

    @property
    def scorer_name(self) -> str:
        return getattr(self._inner, "model_name", type(self._inner).__name__)

    def load_model(self):
        return self._inner.load_model()

    def run_inference(self, batch: Sequence[tuple[dict, list[dict]]], model: Any,
                      inference_args: Optional[dict[str, Any]] = None) -> list[tuple[dict, list[dict]]]:
        requests = [ScoreRequest(example, candidate) for example, candidates in batch for candidate in candidates]
        results: list[ScoreResult] = list(self._inner.run_inference(requests, model, inference_args))
        if len(results) != len(requests):
            raise RuntimeError(f"scorer returned {len(results)} results for {len(requests)} candidates")
        out, position = [], 0
        for example, candidates in batch:
            scored = []
            for candidate in candidates:
                result = results[position]
                position += 1
                scored.append({**candidate, "score": result.score, "scorer": result.scorer,
                               "truncation": result.truncation, "score_error": result.error})
            out.append((example, scored))
        return out

    def share_model_across_processes(self) -> bool:
        return self._inner.share_model_across_processes()

    def model_copies(self) -> int:
        return self._inner.model_copies()

    def batch_elements_kwargs(self) -> dict[str, Any]:
        return {"min_batch_size": 1, "max_batch_size": self._max_groups}

    def get_metrics_namespace(self) -> str:
        return "toolrm_score"


class _FailedGroups(beam.DoFn):
    """RunInference failures (a whole batch of groups) -> one dead letter per candidate."""

    def process(self, failure):
        element, error = failure if isinstance(failure, tuple) and len(failure) == 2 else (failure, None)
        try:
            example, candidates = element
        except (TypeError, ValueError):
            yield dead_letter("score", 0, "score", "score_failed", repr(error)[:2000], repr(element)[:1000])
            return
        for candidate in candidates:
            yield dead_letter("score", 0, "score", "score_failed", f"{type(error).__name__}: {error}"[:2000],
                              {"example_id": example.get("example_id"), "candidate_id": candidate.get("candidate_id")})


class ScoreGroups(beam.PTransform):
    """Groups -> scored groups, and a dead letter for groups the model failed on."""

    def __init__(self, handler: GroupScoringHandler):
        super().__init__()
        self._handler = handler

    def expand(self, groups):
        # On Dataflow with --gpu_type, only this step asks for GPU workers.
        hints = gpu_resource_hints(groups.pipeline.options)
        main, other = groups | "RunInference" >> RunInference(self._handler).with_exception_handling() \
            .with_resource_hints(**hints)
        failures = (other.failed_inferences, *other.failed_preprocessing, *other.failed_postprocessing)
        failed = failures | "Failures" >> beam.Flatten() | "ToDeadLetter" >> beam.ParDo(_FailedGroups())
        return {SCORED: main, DEAD_LETTER: failed}


def make_scorer(scorer: str, *, model: str | None = None, device: str = "cpu", max_length: int = 4096,
                batch_tokens: int | None = None) -> GroupScoringHandler:
    """`lite` (the bundled CPU model, or a lite model at `model`) or `transformers` (a checkpoint at `model`)."""
    if scorer == "lite":
        from toolrm_beam.transforms.reward.lite.handler import LiteRewardHandler
        return GroupScoringHandler(LiteRewardHandler(model or BUNDLED_MODEL), max_groups_per_batch=256)
    if scorer == "transformers":
        if not model:
            raise ValueError("--model (a local path or gs:// URL of the reward model) is required for --scorer transformers")
        from toolrm_beam.transforms.reward.transformers_rm import TransformersRewardHandler
        kwargs = {"device": device, "max_length": max_length}
        if batch_tokens:
            kwargs["max_batch_tokens"] = batch_tokens
        return GroupScoringHandler(TransformersRewardHandler(model, **kwargs), max_groups_per_batch=16)
    if scorer == "vllm":
        if not model:
            raise ValueError("--model is required for --scorer vllm")
        from toolrm_beam.transforms.reward.vllm_rm import VLLMRewardHandler
        return GroupScoringHandler(VLLMRewardHandler(model), max_groups_per_batch=64)
    raise ValueError(f"unknown scorer {scorer!r}; choose lite, transformers or vllm")
