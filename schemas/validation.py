"""Validation of canonical Examples beyond what the adapters check.

The JSON Schema of the record catches structural mistakes; the semantic checks
catch examples that no candidate could ever pass (a reference naming a tool or
parameter the catalog does not have), which would poison the labels.
"""
from __future__ import annotations

from typing import Any

from toolrm_beam.schemas.json_schema import ref_problem, validator
from toolrm_beam.schemas.records import EXAMPLE_JSON_SCHEMA
from toolrm_beam.schemas.tool_spec import function_name_error, schema_error

_EXAMPLE_VALIDATOR = validator(EXAMPLE_JSON_SCHEMA)


class ValidationError(ValueError):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def validate_example(example: dict[str, Any]) -> None:
    """Raise ValidationError with a stable reason code if the example is unusable."""
    error = next(iter(sorted(_EXAMPLE_VALIDATOR.iter_errors(example), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(record)"
        raise ValidationError("invalid_record", f"{where}: {error.message[:300]}")
    names = [tool["name"] for tool in example["tools"]]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValidationError("duplicate_tool_name", f"tools defined more than once: {duplicated}")
    tools = {tool["name"]: tool for tool in example["tools"]}
    for tool in example["tools"]:
        problem = function_name_error(tool["name"])
        if problem is not None:
            raise ValidationError("invalid_function_name", problem)
        problem = schema_error(tool["parameters"])
        if problem is not None:
            raise ValidationError("invalid_tool_spec", f"tool {tool['name']!r}: {problem}")
        refs = ref_problem(tool["parameters"])
        if refs is not None:
            raise ValidationError(refs.reason, f"tool {tool['name']!r}: {refs.detail}")
    for call in example["reference"]:
        tool = tools.get(call["name"])
        if tool is None:
            raise ValidationError("unknown_tool_in_reference",
                                  f"reference calls {call['name']!r}, not among the tools {sorted(tools)[:20]}")
        properties = tool["parameters"].get("properties", {})
        unknown = sorted(set(call["arguments"]) - set(properties))
        if unknown:
            raise ValidationError("unknown_parameter_in_reference",
                                  f"reference call {call['name']!r} sets {unknown}, not in its schema")
        for name, values in call["arguments"].items():
            if not values:
                raise ValidationError("empty_acceptable_values",
                                      f"reference call {call['name']!r} gives no acceptable value for {name!r}")
