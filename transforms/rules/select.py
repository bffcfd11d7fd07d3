"""Pick rule-made negatives for one example, following an error-type mix.

Each error type has one perturbation family that proposes outputs lazily,
most plausible first. For every slot up to `max_negatives`, an error type is
drawn with the mix's weights among the types whose family still has
proposals; its next proposal is labelled by the checker and kept only if the
checker calls it wrong. The label is the checker's, never the family's
intent. All randomness comes from `random.Random("<seed>:<example_id>")`
(seeded from the string by SHA-512, so every process agrees; Python's
salted `hash()` is never used).
"""
from __future__ import annotations

import random
from typing import Any, Callable, Iterator, Mapping

from toolrm_beam.schemas import records
from toolrm_beam.schemas.checker import check
from toolrm_beam.schemas.errors import FC_REWARDBENCH_COUNTS, ErrorType
from toolrm_beam.transforms.rules.calls import call_count_proposals
from toolrm_beam.transforms.rules.candidates import clone, make_candidate
from toolrm_beam.transforms.rules.context import ExampleContext
from toolrm_beam.transforms.rules.irrelevance import irrelevance_proposals
from toolrm_beam.transforms.rules.names import function_name_proposals
from toolrm_beam.transforms.rules.reference import text_answer
from toolrm_beam.transforms.rules.params import (missing_optional_proposals, missing_required_proposals,
                                     unexpected_parameter_proposals)
from toolrm_beam.transforms.rules.parsing import parsing_error_proposals
from toolrm_beam.transforms.rules.value_types import value_type_proposals
from toolrm_beam.transforms.rules.values import value_error_proposals

Family = Callable[[ExampleContext, random.Random], Iterator[Any]]

_TOTAL = sum(FC_REWARDBENCH_COUNTS.values())
DEFAULT_MIX: dict[str, float] = {t.value: n / _TOTAL for t, n in FC_REWARDBENCH_COUNTS.items()}

# One family per error type, for examples whose reference is a call.
CALL_FAMILIES: dict[str, Family] = {
    ErrorType.PARAMETER_VALUE_ERROR.value: value_error_proposals,
    ErrorType.INCORRECT_FUNCTION_NAME.value: function_name_proposals,
    ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS.value: call_count_proposals,
    ErrorType.MISSING_OPTIONAL_PARAMETER.value: missing_optional_proposals,
    ErrorType.MISSING_REQUIRED_PARAMETER.value: missing_required_proposals,
    ErrorType.PARAMETER_VALUE_TYPE_ERROR.value: value_type_proposals,
    ErrorType.UNEXPECTED_PARAMETER.value: unexpected_parameter_proposals,
    ErrorType.PARSING_ERROR.value: parsing_error_proposals,
}
# Where no call is right, any call is wrong, and the checker calls that an
# incorrect number of calls; text never is (it counts as no call).
IRRELEVANCE_FAMILIES: dict[str, Family] = {
    ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS.value: irrelevance_proposals,
}

# Proposals a family may have rejected by the checker (judged correct, or
# repeats) before it counts as exhausted: bounds the time per example.
MAX_MISSES_PER_FAMILY = 6


def normalize_mix(mix: Mapping[Any, float] | None) -> dict[str, float]:
    """Weights by ErrorType value, summing to 1. Keys may be values, labels or members."""
    if mix is None:
        return dict(DEFAULT_MIX)
    weights: dict[str, float] = {}
    for key, weight in mix.items():
        error_type = ErrorType.from_label(key)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0 or weight != weight:
            raise ValueError(f"mix weight for {error_type.value!r} must be a non-negative number, got {weight!r}")
        weights[error_type.value] = weights.get(error_type.value, 0.0) + float(weight)
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("mix needs at least one positive weight")
    return {k: v / total for k, v in weights.items() if v > 0}


def generate_rule_candidates(example: dict, *, seed: int, mix: Mapping[Any, float] | None = None,
                             max_negatives: int = 6) -> list[dict]:
    """Rule-made negative Candidate records for `example` (the reference is not among them)."""
    if max_negatives <= 0:
        return []
    weights = normalize_mix(mix)
    ctx = ExampleContext(example)
    families = CALL_FAMILIES if ctx.kind == records.REFERENCE_CALL else IRRELEVANCE_FAMILIES
    example_id = ctx.example_id
    prefix = f"{seed}:{example_id}"
    rng = random.Random(prefix)
    # Families start on their first draw (most examples never reach the rare
    # ones), each with its own random stream, so what one proposes does not
    # depend on how often another was drawn or on the mix.
    active: dict[str, Iterator[Any] | None] = {
        error_type: None for error_type in families if weights.get(error_type, 0) > 0}
    misses = dict.fromkeys(active, 0)
    reference = ctx.calls if ctx.kind == records.REFERENCE_CALL else text_answer(example)
    seen = {records.candidate_id(example_id, reference)}
    tools, kind, ref = ctx.tools, ctx.kind, ctx.reference
    out: list[dict] = []
    while len(out) < max_negatives and active:
        names = list(active)
        error_type = rng.choices(names, weights=[weights[n] for n in names])[0]
        proposals = active[error_type]
        if proposals is None:
            proposals = active[error_type] = iter(families[error_type](ctx, random.Random(f"{prefix}:{error_type}")))
        try:
            output = next(proposals)
        except StopIteration:
            del active[error_type]
            continue
        candidate_id = records.candidate_id(example_id, output)
        result = None
        if candidate_id not in seen:
            seen.add(candidate_id)
            result = check(tools, ref, output, reference_kind=kind)
        if result is None or result.correct:
            misses[error_type] += 1
            if misses[error_type] >= MAX_MISSES_PER_FAMILY:
                del active[error_type]
            continue
        label = result.error_type.value
        out.append(make_candidate(example_id, clone(output), f"rule:{label}", correct=False,
                                  error_type=label, detail=result.detail))
    return out
