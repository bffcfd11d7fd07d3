"""Score every candidate of an example with a reward model, through RunInference.

The element is one example with all its candidates, so the scores arrive
already grouped for selection (no second join). `GroupScoringHandler` wraps
any per-candidate reward handler (`ScoreRequest` -> `ScoreResult`): the
bundled CPU model or a transformers sequence classifier; it inherits the
inner handler's model sharing and flattens each batch of groups into one
batch of candidates, so token-budget batching works across examples.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import apache_beam as beam
from toolrm_beam.transforms.run_inference import ModelHandler, RunInference

from toolrm_beam.models import LITE_MODEL
from toolrm_beam.runners.presets import gpu_resource_hints
from toolrm_beam.transforms.dead_letter import dead_letter, exception_detail
from toolrm_beam.transforms.fileio import InputError
from toolrm_beam.transforms.reward.transformers_rm import ScoreRequest, ScoreResult

BUNDLED_MODEL = LITE_MODEL  # package data: found in a checkout and in an installed wheel alike

# No-model baselines (transforms/reward/heuristics.py): schema validity, grounding in the user's text, both.
HEURISTIC_SCORERS = ("heuristic-schema", "heuristic-grounded", "heuristic")
SCORERS = ("lite", "transformers", "vllm", *HEURISTIC_SCORERS)

SCORED = "scored"
DEAD_LETTER = "dead_letter"


def _text_length(record: dict) -> int:
    return sum(len(value) for value in record.values() if isinstance(value, str))


class GroupScoringHandler(ModelHandler):
    """`(example, [candidates])` -> `(example, [candidates with score, scorer, truncation])`."""

    def __init__(self, inner: ModelHandler, max_groups_per_batch: int = 64, fixed_batch: bool = False):
        super().__init__()
        self._inner = inner
        self._max_groups = max_groups_per_batch
        self._fixed_batch = fixed_batch

    @property
    def scorer_name(self) -> str:
        return getattr(self._inner, "model_name", type(self._inner).__name__)

    def load_model(self):
        return self._inner.load_model()

    def run_inference(self, batch: Sequence[tuple[dict, list[dict]]], model: Any,
                      inference_args: Optional[dict[str, Any]] = None) -> list[tuple]:
        """Scored groups; a batch that fails is scored group by group, and a group that fails
        alone comes back as `(example, candidates, error)` for ScoreGroups to dead-letter."""
        try:
            return self._score(batch, model, inference_args)
        except Exception:  # noqa: BLE001 - find the group at fault; the others still get their scores
            if len(batch) == 1:
                raise
        out: list[tuple] = []
        for group in batch:
            try:
                out.extend(self._score([group], model, inference_args))
            except Exception as error:  # noqa: BLE001 - this group's failure is its dead letter
                out.append((group[0], group[1], f"{type(error).__name__}: {error}"))
        return out

    def _score(self, batch: Sequence[tuple[dict, list[dict]]], model: Any,
               inference_args: Optional[dict[str, Any]]) -> list[tuple[dict, list[dict]]]:
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

    def get_num_bytes(self, batch: Sequence[tuple[dict, list[dict]]]) -> int:
        """About the batch's size, for RunInference's byte counter: the length of its records' text fields.

        Beam's default pickles the whole batch only to measure it: 1.3% of the
        workers' time in a two-worker `toolrm run` of the shared corpora (py-spy).
        Records here are rows as the shards hold them, their bulk in strings.
        """
        return sum(_text_length(example) + sum(map(_text_length, candidates)) for example, candidates in batch)

    def share_model_across_processes(self) -> bool:
        return self._inner.share_model_across_processes()

    def model_copies(self) -> int:
        return self._inner.model_copies()

    def batch_elements_kwargs(self) -> dict[str, Any]:
        # In-process CPU scorers take full batches: BatchElements' adaptive sizing started them at one
        # group and fitted a regression per batch (726 batches of ~4 groups for 2,912 examples). Model
        # servers and GPUs keep the adaptive sizing, bounded by the inner handler's token budget.
        return {"min_batch_size": self._max_groups if self._fixed_batch else 1, "max_batch_size": self._max_groups}

    def get_metrics_namespace(self) -> str:
        return "toolrm_score"


def _candidate_dead_letters(example: Any, candidates: Any, detail: str):
    """One dead letter per candidate of a group the scorer failed on (accounting is per candidate)."""
    example_id = example.get("example_id") if isinstance(example, dict) else None
    for candidate in candidates if isinstance(candidates, (list, tuple)) else []:
        yield dead_letter("score", 0, "score", "score_failed", detail,
                          {"example_id": example_id,
                           "candidate_id": candidate.get("candidate_id") if isinstance(candidate, dict) else None})


def _is_group(element: Any) -> bool:
    return isinstance(element, tuple) and len(element) == 2 and isinstance(element[0], dict)


class _FailedGroups(beam.DoFn):
    """RunInference failures (a batch of groups, with Beam's (type, repr, traceback)) -> dead letters."""

    def process(self, failure):
        element, error = failure if isinstance(failure, tuple) and len(failure) == 2 else (failure, None)
        if isinstance(error, tuple) and len(error) == 3:
            detail = exception_detail(*error)
        else:
            detail = f"{type(error).__name__}: {error}"
        groups = [element] if _is_group(element) else list(element) if isinstance(element, (list, tuple)) else []
        if not groups or not all(_is_group(g) for g in groups):
            yield dead_letter("score", 0, "score", "score_failed", detail, repr(element)[:1000])
            return
        for example, candidates in groups:
            yield from _candidate_dead_letters(example, candidates, detail)


class _SplitFailedGroups(beam.DoFn):
    """Groups the handler could not score alone (`(example, candidates, error)`) -> dead letters."""

    def process(self, element):
        if len(element) == 3:
            example, candidates, error = element
            for record in _candidate_dead_letters(example, candidates, error):
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, record)
            return
        yield element


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
        split = main | "SplitFailed" >> beam.ParDo(_SplitFailedGroups()).with_outputs(DEAD_LETTER, main=SCORED)
        dead = (failed, split[DEAD_LETTER]) | "DeadLetters" >> beam.Flatten()
        return {SCORED: split[SCORED], DEAD_LETTER: dead}


def make_scorer(scorer: str, *, model: str | None = None, device: str = "cpu", max_length: int = 4096,
                batch_tokens: int | None = None) -> GroupScoringHandler:
    """`lite` (the bundled CPU model, or a lite model at `model`), `transformers`/`vllm` (a checkpoint at
    `model`), or a no-model heuristic (`heuristic-schema`, `heuristic-grounded`, `heuristic`).

    A local model path that does not exist is an InputError, before anything runs.
    """
    if model and "://" not in model and not os.path.exists(model):
        raise InputError(f"--model {model!r}: no such file or directory (models are local paths or gs:// URLs)")
    if scorer == "lite":
        from toolrm_beam.transforms.reward.lite.handler import LiteRewardHandler
        try:
            handler = LiteRewardHandler(model or BUNDLED_MODEL)
        except (FileNotFoundError, ValueError) as error:
            raise InputError(f"--model {model!r}: not a lite reward model ({error})") from None
        return GroupScoringHandler(handler, max_groups_per_batch=64, fixed_batch=True)
    if scorer == "transformers":
        if not model:
            raise InputError("--model (a local path or gs:// URL of the reward model) is required for --scorer transformers")
        from toolrm_beam.transforms.reward.transformers_rm import TransformersRewardHandler
        kwargs = {"device": device, "max_length": max_length}
        if batch_tokens:
            kwargs["max_batch_tokens"] = batch_tokens
        return GroupScoringHandler(TransformersRewardHandler(model, **kwargs), max_groups_per_batch=16)
    if scorer == "vllm":
        if not model:
            raise InputError("--model is required for --scorer vllm")
        from toolrm_beam.transforms.reward.vllm_rm import VLLMRewardHandler
        return GroupScoringHandler(VLLMRewardHandler(model), max_groups_per_batch=64)
    if scorer in HEURISTIC_SCORERS:
        from toolrm_beam.transforms.reward.heuristics import HeuristicHandler
        return GroupScoringHandler(HeuristicHandler(scorer), max_groups_per_batch=64, fixed_batch=True)
    raise InputError(f"unknown scorer {scorer!r}; choose from {', '.join(SCORERS)}")
