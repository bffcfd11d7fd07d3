"""A model's raw answer to an example -> a labelled Candidate (and the upstream verdict beside it).

Shared by the sources of real model answers (`bfcl_results`, `model_samples`):
decode the raw output the way `schemas.decoding` reads every format models
write (Java/JavaScript answers as source text typed by the spec), label it
with the checker, and keep who answered and any upstream verdict.
"""
from __future__ import annotations

import json
from typing import Any

from toolrm_beam.schemas import checker, records
from toolrm_beam.schemas.adapters import common
from toolrm_beam.schemas.adapters.base import AdaptError
from toolrm_beam.schemas.decoding import DecodeError, decode_calls
from toolrm_beam.schemas.source_text import decode_source_calls
from toolrm_beam.schemas.source_types import LANGUAGES, SourceTypeError, typed_calls

# How Raven (`out_of_domain(user_query=...)`) and Granite (`no_function`) say that no tool fits: no call.
DECLINING_CALLS = ("out_of_domain", "no_function")


def decode_answer(raw: Any, language: str | None, original_tools: list[Any]) -> Any:
    """A raw answer -> decoded calls (typed by the spec for Java/JavaScript), or its text if it does not decode."""
    if language is not None and language not in LANGUAGES:
        raise AdaptError("bad_field_type", f"language must be one of {LANGUAGES}, got {language!r}")
    try:
        if language is not None and isinstance(raw, str):
            try:
                calls = decode_source_calls(raw)
            except DecodeError:
                calls = decode_calls(raw)
        else:
            calls = decode_calls(raw)
    except DecodeError:
        return raw if isinstance(raw, str) else records.canonical_json(raw)
    names = {spec.get("name") for spec in original_tools if isinstance(spec, dict)}
    if calls and all(call["name"] in DECLINING_CALLS and call["name"] not in names for call in calls):
        return []
    if language is not None:
        try:
            calls = typed_calls(language, calls, original_tools)
        except SourceTypeError as error:
            raise AdaptError(error.reason, error.detail) from None
    # As stored: JSON's form (a tuple is a list), so a candidate reads back as it was labelled.
    return json.loads(records.canonical_json(calls))


def labelled_answer(example: dict[str, Any], raw: Any, model: str, *, language: str | None = None,
                    upstream_correct: bool | None = None, upstream_error_type: str | None = None,
                    category: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The candidate `model:<model>` for a raw answer, labelled by the checker, and its verdict row
    for the agreement table (none without an upstream verdict)."""
    output = decode_answer(raw, language, example["original_tools"])
    result = checker.check(example["tools"], example["reference"], output, reference_kind=example["reference_kind"])
    candidate = common.make_candidate(
        example, output, f"model:{model}", correct=result.correct,
        error_type=result.error_type.value if result.error_type else None, detail=result.detail or None,
        models=[model], upstream_correct=upstream_correct,
        upstream_error_type=None if upstream_correct is not False else (upstream_error_type or "unknown"))
    verdicts = [] if upstream_correct is None else [{
        "category": category or example["split"], "model": model, "checker_correct": result.correct,
        "checker_code": result.code, "upstream_correct": upstream_correct,
        "upstream_error_type": candidate["upstream_error_type"]}]
    return candidate, verdicts
