"""Normalize tool specs from every corpus dialect to JSON Schema.

Corpora describe parameters in several dialects: real JSON Schema (ACEBench,
OpenAI), BFCL's `dict`/`float`/`tuple`/`any`, Seal-Tools' Python type names
(`str`, `int`, `list`, ...) and xLAM's annotations (`List[str]`,
`str, optional`). Everything downstream (checker, perturbations, validation)
reads one form: `{name, description, parameters}` where `parameters` is a JSON
Schema object. The original spec is kept beside it by the adapters.
"""
from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

import regress
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match

from toolrm_beam.schemas.json_schema import SCHEMA_CACHE_SIZE, ref_problem, validator

# Dialect type names -> JSON Schema type. `None` means "any type" (no keyword).
_TYPE_ALIASES: dict[str, str | None] = {
    "string": "string", "str": "string", "text": "string", "char": "string",
    "integer": "integer", "int": "integer", "long": "integer",
    "number": "number", "float": "number", "double": "number", "decimal": "number",
    "boolean": "boolean", "bool": "boolean",
    "array": "array", "list": "array", "tuple": "array", "set": "array",
    "object": "object", "dict": "object", "dictionary": "object", "map": "object",
    "hashmap": "object", "mapping": "object",
    "null": "null", "none": "null",
    "any": None,
}

# Keywords whose values are themselves schemas keyed by name.
_SCHEMA_MAP_KEYWORDS = ("properties", "patternProperties", "$defs", "definitions")
# Keywords whose values are a schema or a list of schemas.
_SCHEMA_KEYWORDS = ("items", "additionalProperties", "not", "if", "then", "else",
                    "contains", "propertyNames", "additionalItems")
_SCHEMA_LIST_KEYWORDS = ("anyOf", "oneOf", "allOf", "prefixItems")

_GENERIC = re.compile(r"^\s*([A-Za-z_.]+)\s*\[(.*)\]\s*$")


class ToolSpecError(ValueError):
    """A tool spec that cannot be normalized to valid JSON Schema; `reason` is a stable code."""

    def __init__(self, message: str, reason: str = "invalid_tool_spec"):
        super().__init__(message)
        self.reason = reason


# The names chat APIs accept for a function (OpenAI's rule, with the dots
# BFCL's dotted names need): anything else no model could be asked to call.
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def function_name_error(name: Any) -> str | None:
    """Why `name` cannot be a function name, or None."""
    if not isinstance(name, str) or not name.strip():
        return f"tool name must be a non-empty string, got {name!r}"[:200]
    if FUNCTION_NAME.fullmatch(name) is None:
        return (f"function name {name[:80]!r}{'...' if len(name) > 80 else ''} ({len(name)} characters) is not "
                f"accepted by chat APIs: 1-64 of A-Z a-z 0-9 _ . -")
    return None


# JSON Schema's `pattern` and `format: regex` are ECMA-262 regular expressions,
# which Python's `re` (jsonschema's default check) rejects in places, e.g.
# `[\w-\.]`. Check them with an ECMA-262 engine instead.
_FORMAT_CHECKER = FormatChecker()


@_FORMAT_CHECKER.checks("regex", raises=regress.RegressError)
def _is_ecma_regex(instance: object) -> bool:
    if isinstance(instance, str):
        regress.Regex(instance)
    return True


# Built once: constructing a metaschema validator per call dominated ingest time.
_META_2020 = validator(Draft202012Validator.META_SCHEMA, Draft202012Validator, format_checker=_FORMAT_CHECKER)
# The 2020-12 metaschema resolves `$dynamicRef` at every node and costs ~2.5 ms
# per tool; draft 7's states the same rules for the keywords tool specs use
# and costs ~0.5 ms. Schemas using any keyword draft 7 lacks get the full check.
_META_7 = validator(Draft7Validator.META_SCHEMA, Draft7Validator, format_checker=_FORMAT_CHECKER)
_NEWER_KEYWORDS = ('"$defs"', '"prefixItems"', '"$dynamicRef"', '"$dynamicAnchor"', '"$anchor"',
                   '"unevaluatedProperties"', '"unevaluatedItems"', '"dependentRequired"',
                   '"dependentSchemas"', '"minContains"', '"maxContains"', '"$vocabulary"',
                   '"items": [')  # tuple-form items: valid in draft 7, not in 2020-12


def schema_error(schema: Any) -> str | None:
    """Why `schema` is not valid JSON Schema (draft 2020-12), or None if it is."""
    text = json.dumps(schema, sort_keys=True, default=str)
    return _schema_error_cached(text)


@functools.lru_cache(maxsize=SCHEMA_CACHE_SIZE)
def _schema_error_cached(text: str) -> str | None:
    schema = json.loads(text)
    validator = _META_2020 if any(k in text for k in _NEWER_KEYWORDS) or not isinstance(schema, dict) else _META_7
    if isinstance(schema, dict) and "$schema" in schema:
        validator = _META_2020
    error = best_match(validator.iter_errors(schema))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{error.message[:300]}" + (f" (at {where})" if where else "")


def _split_top_level(text: str) -> list[str]:
    """Split `a, b[c, d]` on commas that are not inside brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def parse_type_annotation(annotation: str) -> tuple[dict[str, Any], bool]:
    """Turn a type name or annotation into a JSON Schema fragment.

    Returns the fragment and whether the annotation marked the value optional
    (`Optional[str]`, `str, optional`, `str, default: 'x'`).
    """
    text = annotation.strip()
    optional = False
    # xLAM style suffixes: "str, optional", "int, default 10".
    head, *rest = _split_top_level(text) or [text]
    if rest and all(r.lower().startswith(("optional", "default")) for r in rest):
        optional = True
        text = head
    lowered = text.lower()
    if lowered in _TYPE_ALIASES:
        kind = _TYPE_ALIASES[lowered]
        return ({"type": kind} if kind else {}), optional
    match = _GENERIC.match(text)
    if match:
        outer, inner = match.group(1).lower().split(".")[-1], match.group(2)
        args = _split_top_level(inner)
        if outer == "optional" and len(args) == 1:
            fragment, _ = parse_type_annotation(args[0])
            return fragment, True
        if outer == "union":
            fragments = [parse_type_annotation(a)[0] for a in args if a.lower() not in ("none", "nonetype")]
            optional = len(fragments) < len(args)
            if len(fragments) == 1:
                return fragments[0], optional
            return {"anyOf": fragments}, optional
        if outer == "literal":
            values = [a.strip("'\"") for a in args]
            return {"type": "string", "enum": values}, optional
        kind = _TYPE_ALIASES.get(outer)
        if kind == "array":
            fragment: dict[str, Any] = {"type": "array"}
            if args and args[0] not in ("...",):
                item, _ = parse_type_annotation(args[0])
                if item:
                    fragment["items"] = item
            return fragment, optional
        if kind == "object":
            fragment = {"type": "object"}
            if len(args) == 2:
                value, _ = parse_type_annotation(args[1])
                if value:
                    fragment["additionalProperties"] = value
            return fragment, optional
    if "|" in text:
        alternatives = [a.strip() for a in text.split("|")]
        fragments = [parse_type_annotation(a)[0] for a in alternatives if a.lower() not in ("none", "null")]
        optional = len(fragments) < len(alternatives)
        if len(fragments) == 1:
            return fragments[0], optional
        return {"anyOf": fragments}, optional
    raise ToolSpecError(f"unknown parameter type {annotation!r}")


def normalize_schema(schema: Any, path: str = "parameters", *, is_property: bool = False) -> dict[str, Any]:
    """Return a JSON Schema copy of a (possibly dialect) schema node."""
    if not isinstance(schema, dict):
        raise ToolSpecError(f"{path}: schema must be an object, got {type(schema).__name__}")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            out.update(_normalize_type(value, path))
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: normalize_schema(sub, f"{path}.{name}", is_property=True) for name, sub in value.items()}
        elif key in _SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            out[key] = {name: normalize_schema(sub, f"{path}.{name}") for name, sub in value.items()}
        elif key in _SCHEMA_KEYWORDS and isinstance(value, dict):
            out[key] = normalize_schema(value, f"{path}.{key}")
        elif key in _SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            out[key] = [normalize_schema(sub, f"{path}.{key}[{i}]") for i, sub in enumerate(value)]
        elif key == "required" and isinstance(value, bool) and is_property:
            # The one lenient form: OpenAPI-style dialects mark a property
            # `required: true`; it is lifted into the parent's list below.
            continue
        elif key == "required":
            out[key] = required_names(value, path)
        else:
            out[key] = copy.deepcopy(value)
    # Property-level `required: true` (OpenAPI-ish dialects) lifts to the parent.
    properties = out.get("properties")
    if isinstance(properties, dict):
        lifted = [n for n, sub in schema.get("properties", {}).items()
                  if isinstance(sub, dict) and sub.get("required") is True]
        if lifted:
            out["required"] = list(dict.fromkeys(list(out.get("required", [])) + lifted))
    return out


def required_names(value: Any, path: str) -> list[str]:
    """`required` as JSON Schema defines it, a list of parameter names; anything else is refused, not dropped."""
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ToolSpecError(f"{path}: `required` must be a list of parameter names, got {_clip(value)}",
                            "invalid_required")
    return list(value)


def _clip(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def _normalize_type(value: Any, path: str) -> dict[str, Any]:
    if isinstance(value, list):
        kinds = []
        for item in value:
            fragment, _ = parse_type_annotation(str(item))
            if "type" not in fragment:
                return {}
            kinds.append(fragment["type"])
        return {"type": list(dict.fromkeys(kinds))}
    if not isinstance(value, str):
        raise ToolSpecError(f"{path}: type must be a string, got {value!r}")
    try:
        fragment, _ = parse_type_annotation(value)
    except ToolSpecError as error:
        raise ToolSpecError(f"{path}: {error}") from None
    return fragment


def properties_schema(properties: dict[str, Any], required: list[str] | None = None,
                      path: str = "parameters") -> dict[str, Any]:
    """Build an object schema from a flat `{param: {type, description, ...}}` map.

    Used by dialects (Seal-Tools, xLAM) whose `parameters` is the property map
    itself. Annotations like `str, optional` mark the parameter not required;
    without an explicit `required` list, parameters without a default or an
    optional marker are required (xLAM's convention).
    """
    if not isinstance(properties, dict):
        raise ToolSpecError(f"{path}: parameters must be an object, got {type(properties).__name__}")
    normalized: dict[str, Any] = {}
    inferred_required = []
    for name, spec in properties.items():
        if isinstance(spec, str):
            spec = {"type": spec}
        if not isinstance(spec, dict):
            raise ToolSpecError(f"{path}.{name}: parameter spec must be an object")
        spec = dict(spec)
        optional = False
        if isinstance(spec.get("type"), str):
            fragment, optional = parse_type_annotation(spec["type"]) if _is_known(spec["type"]) else ({}, False)
            if not _is_known(spec["type"]):
                raise ToolSpecError(f"{path}.{name}: unknown parameter type {spec['type']!r}")
            spec.pop("type")
            spec = {**fragment, **{k: v for k, v in spec.items()}}
        sub = normalize_schema(spec, f"{path}.{name}", is_property=True)
        sub.pop("required", None) if isinstance(sub.get("required"), bool) else None
        normalized[name] = sub
        if not optional and "default" not in spec:
            inferred_required.append(name)
    out: dict[str, Any] = {"type": "object", "properties": normalized}
    if required is not None:
        out["required"] = required_names(required, path)
    else:
        out["required"] = inferred_required
    return out


def _is_known(annotation: str) -> bool:
    try:
        parse_type_annotation(annotation)
        return True
    except ToolSpecError:
        return False


def normalize_tool(name: Any, description: Any, parameters: Any) -> dict[str, Any]:
    """Build the canonical `{name, description, parameters}` tool and validate it.

    `parameters` must already be an object schema in some dialect; adapters
    for flat property maps call `properties_schema` first.
    """
    problem = function_name_error(name)
    if problem is not None:
        raise ToolSpecError(problem, "invalid_function_name")
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    schema = normalize_schema(parameters)
    if "type" not in schema and "properties" in schema:
        schema["type"] = "object"
    schema.setdefault("properties", {})
    if schema.get("type") != "object":
        raise ToolSpecError(f"tool {name!r}: parameters must be an object schema, got type {schema.get('type')!r}")
    if not isinstance(schema["properties"], dict) or not isinstance(schema.get("required", []), list):
        raise ToolSpecError(f"tool {name!r}: `properties` must be an object and `required` a list of names")
    missing = [r for r in schema.get("required", []) if r not in schema["properties"]]
    if missing:
        raise ToolSpecError(f"tool {name!r}: required parameters {missing} are not defined in properties")
    problem = schema_error(schema)
    if problem is not None:
        raise ToolSpecError(f"tool {name!r}: not valid JSON Schema after normalization: {problem}")
    refs = ref_problem(schema)
    if refs is not None:
        raise ToolSpecError(f"tool {name!r}: {refs.detail}", refs.reason)
    return {
        "name": name,
        "description": description if isinstance(description, str) else ("" if description is None else str(description)),
        "parameters": schema,
    }
