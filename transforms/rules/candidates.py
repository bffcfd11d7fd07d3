"""Candidate records as the rule generator writes them."""
from __future__ import annotations

from typing import Any

from toolrm_beam.schemas import records


def make_candidate(example_id: str, output: Any, origin: str, *, correct: bool,
                   error_type: str | None, detail: str | None) -> dict[str, Any]:
    return records.make_candidate(example_id, output, origin, correct=correct, error_type=error_type, detail=detail)


def clone(value: Any) -> Any:
    """Deep copy of JSON-like data (faster than copy.deepcopy for these shapes)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    if isinstance(value, tuple):
        return tuple(clone(v) for v in value)
    return value
