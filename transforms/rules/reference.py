"""The reference as a concrete candidate: the call (or text answer) that is right.

A canonical reference lists acceptable values per parameter (see
schemas/records.py); a candidate needs one concrete value. The first
acceptable value that is not the omission marker `""` is taken, and objects
given one level down (`[{key: [values]}]`) become plain objects.
"""
from __future__ import annotations

import functools
import json
from typing import Any

from toolrm_beam.schemas.json_schema import SCHEMA_CACHE_SIZE, ref_problem, validator

from toolrm_beam.schemas import records
from toolrm_beam.transforms.rules.candidates import make_candidate
from toolrm_beam.transforms.rules.tokens import humanize

_OMIT = object()  # "no concrete value": the parameter (or key) is left out


def concrete_value(acceptable: Any) -> Any:
    """The value a candidate sends for one parameter, or `_OMIT`."""
    options = acceptable if isinstance(acceptable, list) else [acceptable]
    for option in options:
        if option == "":
            continue
        if isinstance(option, dict):
            return _concrete_object(option)
        if isinstance(option, list) and option and all(isinstance(item, dict) for item in option):
            return [_concrete_object(item) for item in option]
        return option
    return _OMIT


def _concrete_object(option: dict) -> dict:
    """`{key: [values]}` -> `{key: value}`. Only this one level is given as
    acceptable lists; the values themselves (deeper objects too) are literal."""
    out = {}
    for key, acceptable in option.items():
        options = acceptable if isinstance(acceptable, list) else [acceptable]
        value = next((o for o in options if o != ""), _OMIT)
        if value is not _OMIT:
            out[key] = value
    return out


def concrete_calls(reference: list[dict], tools: list[dict] | None = None) -> list[dict]:
    """`[{name, arguments: {param: value}}]` for a canonical reference.

    With `tools`, an omittable parameter that the tool's schema does not
    define is left out: BFCL's live_parallel_9-5-0 lists `operating_system0`
    (a typo for `operating_system`, with "" allowed), and sending it would be
    an unexpected parameter.
    """
    properties_by_tool = {}
    for tool in tools or []:
        properties = (tool.get("parameters") or {}).get("properties")
        properties_by_tool.setdefault(tool.get("name"), properties if isinstance(properties, dict) else {})
    calls = []
    for call in reference:
        arguments = {}
        properties = properties_by_tool.get(call["name"])
        for param, acceptable in call["arguments"].items():
            if properties is not None and param not in properties and "" in acceptable:
                continue
            value = concrete_value(_schema_valid_first(acceptable, (properties or {}).get(param)))
            if value is None and "" in acceptable:
                # BFCL lists a Python default (None) beside "" for optional
                # parameters: leaving the parameter out says the same thing
                # and stays valid against a schema that types it.
                continue
            if value is not _OMIT:
                arguments[param] = value
        calls.append({"name": call["name"], "arguments": arguments})
    return calls


def _schema_valid_first(acceptable: list, schema: Any) -> list:
    """Acceptable values reordered so that ones valid under the parameter's schema come first.

    Any acceptable value is right for the checker; a schema-valid one also
    makes the reference a clean positive (BFCL lists e.g. "dontcare" before
    valid booleans only where its own label is noisy, and those stay).
    """
    if not isinstance(schema, dict) or len(acceptable) < 2:
        return acceptable
    validator = _validator(records.canonical_json(schema))
    if validator is None:
        return acceptable
    def is_valid(option: Any) -> bool:
        value = concrete_value([option])
        return value is not _OMIT and value is not None and validator.is_valid(value)
    return sorted(acceptable, key=lambda option: not is_valid(option))


@functools.lru_cache(maxsize=SCHEMA_CACHE_SIZE)
def _validator(schema_json: str):
    try:
        schema = json.loads(schema_json)
        return None if ref_problem(schema) is not None else validator(schema)
    except Exception:  # a schema jsonschema cannot compile: keep the corpus order
        return None


def text_answer(example: dict) -> str:
    """A short natural answer for the kinds where no call is right."""
    kind = example["reference_kind"]
    detail = example.get("reference_detail") or {}
    if kind == records.REFERENCE_CLARIFY:
        missing = [str(p) for p in detail.get("missing_parameters") or []]
        function = detail.get("function")
        what = _join([f"the {humanize(p)} ({p})" for p in missing]) or "the missing details"
        target = f" before I can use {function}" if function else ""
        return f"I need a bit more information{target}. Could you tell me {what}?"
    if kind == records.REFERENCE_FLAG_INVALID:
        invalid = detail.get("invalid_values") or {}
        parts = []
        for param, values in invalid.items():
            shown = _join([repr(v) if not isinstance(v, str) else f"'{v}'" for v in _as_list(values)])
            parts.append(f"{shown} for {param}")
        what = _join(parts) or "one of the values you gave"
        return (f"I can't do that yet: {what} does not look valid. "
                f"Could you check it and send a valid value?")
    names = [tool["name"] for tool in example.get("tools") or []]
    offered = _join(names if len(names) <= 3 else names[:3] + ["the other tools"]) if names else "no tools"
    return (f"None of the available tools can do this: the request is outside what "
            f"{offered} can handle, so I will answer without calling a tool.")


def reference_output(example: dict) -> Any:
    if example["reference_kind"] == records.REFERENCE_CALL:
        return concrete_calls(example["reference"], example.get("tools"))
    return text_answer(example)


def reference_candidate(example: dict) -> dict:
    """The reference as a Candidate record (origin "reference", correct)."""
    return make_candidate(example["example_id"], reference_output(example), "reference",
                          correct=True, error_type=None, detail=None)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
