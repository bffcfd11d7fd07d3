"""Cheap reads of a parameter's JSON Schema: types, enum, bounds, items.

The perturbation families use these to keep wrong values schema-valid (the
realistic kind of error) without running a JSON Schema validator per
proposal; `schema_valid.is_schema_valid` is the full check.
"""
from __future__ import annotations

from typing import Any

_PYTHON = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
           "array": (list, tuple), "object": (dict,), "null": (type(None),)}


def types_of(schema: Any) -> list[str]:
    """Declared JSON types (unions and anyOf/oneOf flattened); [] when untyped."""
    if not isinstance(schema, dict):
        return []
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if isinstance(t, str)]
    out: list[str] = []
    for keyword in ("anyOf", "oneOf"):
        for branch in schema.get(keyword) or []:
            out.extend(t for t in types_of(branch) if t not in out)
    return out


def main_type(schema: Any) -> str | None:
    types = [t for t in types_of(schema) if t != "null"]
    return types[0] if types else None


def enum_of(schema: Any) -> list | None:
    enum = schema.get("enum") if isinstance(schema, dict) else None
    return enum if isinstance(enum, list) and enum else None


def items_of(schema: Any) -> dict:
    items = schema.get("items") if isinstance(schema, dict) else None
    return items if isinstance(items, dict) else {}


def properties_of(schema: Any) -> dict:
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return properties if isinstance(properties, dict) else {}


def required_of(schema: Any) -> list[str]:
    required = schema.get("required") if isinstance(schema, dict) else None
    return [r for r in required if isinstance(r, str)] if isinstance(required, list) else []


def is_type(value: Any, json_type: str) -> bool:
    if json_type in ("integer", "number") and isinstance(value, bool):
        return False
    if json_type == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _PYTHON.get(json_type, (object,)))


def within_bounds(value: Any, schema: dict) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return True
    low, high = schema.get("minimum"), schema.get("maximum")
    low_x, high_x = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    try:
        return not ((isinstance(low, (int, float)) and value < low)
                    or (isinstance(high, (int, float)) and value > high)
                    or (isinstance(low_x, (int, float)) and not isinstance(low_x, bool) and value <= low_x)
                    or (isinstance(high_x, (int, float)) and not isinstance(high_x, bool) and value >= high_x))
    except TypeError:
        return True


def fits(value: Any, schema: Any) -> bool:
    """Type, enum and bounds of one value (no recursion): a quick schema-validity test."""
    if not isinstance(schema, dict):
        return True
    types = types_of(schema)
    if types and not any(is_type(value, t) for t in types):
        return False
    enum = enum_of(schema)
    if enum is not None and value not in enum:
        return False
    if isinstance(value, str):
        min_length, max_length = schema.get("minLength"), schema.get("maxLength")
        if isinstance(min_length, int) and len(value) < min_length:
            return False
        if isinstance(max_length, int) and len(value) > max_length:
            return False
    return within_bounds(value, schema)
