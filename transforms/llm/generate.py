"""GenerateWithLLM: candidates from an open-weight LLM, labelled by the checker.

examples -> requests (prompts.py) -> RunInference(handler) -> join back to the
example by example_id -> decode + check -> Candidate dicts.

Every request ends somewhere: its outputs become candidates (perturbation
keeps only those the checker finds wrong), a request that failed after its
retries and any batch RunInference could not run become dead-letter records.
"""
from __future__ import annotations

from typing import Any, Iterable

import apache_beam as beam
from toolrm_beam.transforms.run_inference import ModelHandler, RunInference

from toolrm_beam.schemas.checker import check
from toolrm_beam.transforms.rules import is_schema_valid
from toolrm_beam.schemas.decoding import DECODINGS, STRICT, DecodeError, decode_calls
from toolrm_beam.schemas.errors import ErrorType
from toolrm_beam.schemas.records import (CANDIDATE_JSON_FIELDS, REFERENCE_CALL, candidate_id, canonical_json,
                                         make_candidate, to_row)
from toolrm_beam.runners.presets import gpu_resource_hints
from toolrm_beam.transforms.dead_letter import dead_letter, unwritable
from toolrm_beam.transforms.llm.prompts import build_requests
from toolrm_beam.transforms.llm.requests import MODES, GenerationRequest, GenerationResult

DEAD_LETTER = "dead_letter"
_METRICS = "toolrm_generate_llm"


def candidate_output(raw: Any, decoding: str = STRICT) -> Any:
    """The decoded call list when the output decodes (under `decoding`), else the raw text."""
    try:
        return decode_calls(raw, decoding)
    except DecodeError:
        return raw if isinstance(raw, str) else canonical_json(raw)


def origin_of(mode: str, model_name: str, target_error: str | None) -> str:
    if mode == "sample":
        return f"llm-sample:{model_name}"
    return f"llm-perturb:{model_name}:{target_error}"


def label_outputs(example: dict[str, Any], result: GenerationResult, model_name: str,
                  decoding: str = STRICT) -> list[dict[str, Any]]:
    """Candidates from one result; raises ValueError for a malformed example.

    Sampling keeps every answer (right ones are extra positives, wrong ones
    real negatives); perturbation keeps only answers the checker finds wrong,
    labelled with the checker's error type, which may differ from the target.
    `decoding` is the checker's (strict by default; lenient reads a single
    call object as a list of one).
    """
    candidates, seen = [], set()
    origin = origin_of(result.mode, model_name, result.target_error)
    for raw in result.outputs:
        output = candidate_output(raw, decoding)
        verdict = check(example["tools"], example["reference"], output,
                        reference_kind=example.get("reference_kind", REFERENCE_CALL), decoding=decoding)
        if result.mode == "perturb" and verdict.correct:
            continue
        cid = candidate_id(example["example_id"], output)
        if cid in seen:
            continue
        seen.add(cid)
        candidates.append(make_candidate(
            example["example_id"], output, origin, correct=verdict.correct,
            error_type=verdict.error_type.value if verdict.error_type is not None else None,
            detail=None if verdict.correct else f"{verdict.code}: {verdict.detail}",
            schema_valid=is_schema_valid(example["tools"], output)))
    return candidates


def _example_ids(element: Any) -> list[str]:
    """The example ids in what RunInference dead-lettered (a batch, or one record)."""
    if isinstance(element, (GenerationRequest, GenerationResult)):
        return [element.example_id]
    if isinstance(element, (list, tuple)):
        return [i for item in element for i in _example_ids(item)]
    return [repr(element)[:200]]


class _FailedBatchToDeadLetter(beam.DoFn):
    """RunInference's (batch, (type, repr, traceback)) -> one dead letter per request."""

    def __init__(self, source: str, stage: str):
        self._source = source
        self._stage = stage
        self._counter = beam.metrics.Metrics.counter(_METRICS, "inference_failed_requests")

    def process(self, failure):
        element, (exc_type, exc_repr, trace) = failure
        name = getattr(exc_type, "__name__", str(exc_type))
        detail = f"{name}: {exc_repr}\n{''.join(trace[-3:]) if isinstance(trace, list) else trace}"
        for example_id in _example_ids(element):
            self._counter.inc()
            yield dead_letter(source_file=self._source, row_number=0, stage="generate",
                              reason=f"generate:{self._stage}_failed", detail=detail, row=example_id)


class _LabelCandidates(beam.DoFn):
    """(example_id, {"example": [...], "result": [...]}) -> candidates, dead letters."""

    def __init__(self, model_name: str, source: str, decoding: str = STRICT):
        self._model_name = model_name
        self._source = source
        self._decoding = decoding
        self._correct = beam.metrics.Metrics.counter(_METRICS, "candidates_correct")
        self._incorrect = beam.metrics.Metrics.counter(_METRICS, "candidates_incorrect")
        self._failed = beam.metrics.Metrics.counter(_METRICS, "requests_failed")

    def process(self, joined):
        example_id, groups = joined
        examples, results = list(groups["example"]), list(groups["result"])
        if not results:
            return
        for result in results:
            if result.error:
                self._failed.inc()
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(
                    source_file=self._source, row_number=0, stage="generate",
                    reason=f"generate:{result.error_code or 'request_failed'}",
                    detail=f"{result.key}: {result.error}", row=example_id))
            if not result.outputs:
                continue
            if not examples:
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(
                    source_file=self._source, row_number=0, stage="generate", reason="generate:example_missing",
                    detail=f"{result.key}: no example with this id to check against", row=example_id))
                continue
            try:
                candidates = label_outputs(examples[0], result, self._model_name, self._decoding)
            except ValueError as error:  # malformed reference or tools: the checker refuses to judge
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(
                    source_file=self._source, row_number=0, stage="generate", reason="generate:check_failed",
                    detail=f"{result.key}: {error}", row=example_id))
                continue
            for candidate in candidates:
                problem = unwritable(to_row(candidate, CANDIDATE_JSON_FIELDS))
                if problem is not None:  # model text that is not valid Unicode: it could not be written
                    yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(
                        source_file=self._source, row_number=0, stage="write", reason="unpaired_surrogate",
                        detail=f"{result.key}: {problem}", row=example_id))
                    continue
                (self._correct if candidate["correct"] else self._incorrect).inc()
                yield candidate


def _check_context(example: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Only what checking needs travels through the join."""
    return example["example_id"], {"example_id": example["example_id"], "tools": example["tools"],
                                   "reference": example["reference"],
                                   "reference_kind": example.get("reference_kind", REFERENCE_CALL)}


class GenerateWithLLM(beam.PTransform):
    """Canonical examples -> {"candidates": Candidate dicts, "dead_letter": dead-letter dicts}.

    Args:
      handler: a ModelHandler taking GenerationRequest and giving GenerationResult
        (TransformersChatHandler, OpenAICompatibleHandler, VLLMChatHandler).
      mode: "sample" (sample-and-check) or "perturb" (targeted perturbation).
      samples: answers asked per request.
      error_types: perturbation targets (default: prompts.DEFAULT_PERTURB_ERRORS).
      model_name: written in origins; defaults to the handler's `model_name`.
      decoding: how the checker decodes the answers: "strict" (the rules: a single
        call object is a parsing error) or "lenient" (it is a list of one).
    """

    def __init__(self, handler: ModelHandler, *, mode: str, samples: int = 4, temperature: float = 0.8,
                 max_new_tokens: int = 512, seed: int = 0, error_types: Iterable[str] | None = None,
                 model_name: str | None = None, decoding: str = STRICT):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if decoding not in DECODINGS:
            raise ValueError(f"decoding must be one of {DECODINGS}, got {decoding!r}")
        self._decoding = decoding
        if samples < 1 or max_new_tokens < 1 or temperature < 0:
            raise ValueError("samples and max_new_tokens must be positive and temperature >= 0")
        model_name = model_name or getattr(handler, "model_name", None)
        if not model_name:
            raise ValueError("model_name is required (the handler does not name its model)")
        self._handler = handler
        self._mode = mode
        self._samples = samples
        self._temperature = temperature
        self._max_new_tokens = max_new_tokens
        self._seed = seed
        # Checked here, not in a worker: a misspelt error type should fail at construction.
        self._error_types = ([ErrorType.from_label(e).value for e in error_types]
                             if error_types is not None else None)
        self._model_name = model_name

    def expand(self, examples):
        source = f"llm:{self._model_name}"
        requests = examples | "BuildRequests" >> beam.FlatMap(
            build_requests, mode=self._mode, samples=self._samples, temperature=self._temperature,
            max_new_tokens=self._max_new_tokens, seed=self._seed, error_types=self._error_types)
        hints = gpu_resource_hints(requests.pipeline.options)  # GPU workers for this step only (Dataflow)
        results, failed = requests | "RunInference" >> RunInference(self._handler).with_exception_handling() \
            .with_resource_hints(**hints)

        failures = [failed.failed_inferences | "FailedBatches" >> beam.ParDo(
            _FailedBatchToDeadLetter(source, "inference"))]
        for index, pcoll in enumerate(list(failed.failed_preprocessing or []) + list(failed.failed_postprocessing or [])):
            failures.append(pcoll | f"FailedProcessing{index}" >> beam.ParDo(
                _FailedBatchToDeadLetter(source, "processing")))

        keyed_examples = examples | "KeyExamples" >> beam.Map(_check_context)
        keyed_results = results | "KeyResults" >> beam.Map(lambda result: (result.example_id, result))
        labelled = (
            {"example": keyed_examples, "result": keyed_results}
            | "JoinExamples" >> beam.CoGroupByKey()
            | "Label" >> beam.ParDo(_LabelCandidates(self._model_name, source, self._decoding)).with_outputs(
                DEAD_LETTER, main="candidates"))
        dead = tuple(failures) + (labelled[DEAD_LETTER],) | "DeadLetter" >> beam.Flatten()
        return {"candidates": labelled.candidates, "dead_letter": dead}
