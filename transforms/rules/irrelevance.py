"""Negatives for examples where no call is right: a tool called anyway.

- no_call: the tool most like the user's request, arguments filled from the
  conversation (what an over-eager model does).
- clarify: the intended function with a guessed value for each missing
  parameter, instead of asking.
- flag_invalid: the intended function with the invalid value passed as is.
"""
from __future__ import annotations

import random
from typing import Any, Iterator

from toolrm_beam.schemas import records
from toolrm_beam.transforms.rules import spec
from toolrm_beam.transforms.rules.context import ExampleContext
from toolrm_beam.transforms.rules.fill import NOTHING, guess_value

MAX_TOOLS = 3


def _fill(ctx: ExampleContext, name: str, rng: random.Random, *, given: dict | None = None,
          avoid: dict | None = None) -> dict[str, Any]:
    """Arguments for tool `name`: `given`, then the required ones guessed from the
    conversation (other than the values in `avoid`, for a second variant)."""
    properties = ctx.properties(name)
    arguments = dict(given or {})
    for param in ctx.required(name):
        if param not in arguments:
            previous = (avoid or {}).get(param)
            value = guess_value(param, properties.get(param), ctx.conversation, rng,
                                avoid=(previous,) if previous is not None else ())
            if value is not NOTHING:
                arguments[param] = value
    return arguments


def _set_path(arguments: dict, schema: dict, param: str, value: Any) -> bool:
    """Put `value` at `param`: a top-level parameter or a key of a nested object."""
    properties = spec.properties_of(schema)
    if param in properties:
        arguments[param] = value
        return True
    for key, sub in properties.items():
        if spec.main_type(sub) == "object" and param in spec.properties_of(sub):
            nested = arguments.get(key)
            arguments[key] = {**(nested if isinstance(nested, dict) else {}), param: value}
            return True
    return False


def _clarify(ctx: ExampleContext, rng: random.Random) -> Iterator[list[dict]]:
    name = ctx.detail.get("function")
    if name not in ctx.tools_by_name:
        name = ctx.tools_by_request()[0] if ctx.tools_by_name else None
    if name is None:
        return
    schema = ctx.schema(name)
    first: dict[str, Any] = {}
    for variant in range(2):
        guessed: dict[str, Any] = {}
        for param in ctx.detail.get("missing_parameters") or []:
            sub = spec.properties_of(schema).get(param) or _nested_schema(schema, param)
            avoid = (first[param],) if variant and param in first and not isinstance(first[param], (list, dict)) else ()
            value = guess_value(param, sub, ctx.conversation, rng, avoid=avoid)
            if value is not NOTHING:
                first.setdefault(param, value)
                _set_path(guessed, schema, param, value)
        yield [{"name": name, "arguments": _fill(ctx, name, rng, given=guessed)}]
    yield from _called_anyway(ctx, rng, exclude={name})


def _nested_schema(schema: dict, param: str) -> dict:
    for sub in spec.properties_of(schema).values():
        nested = spec.properties_of(sub)
        if param in nested:
            return nested[param]
    return {}


def _flag_invalid(ctx: ExampleContext, rng: random.Random) -> Iterator[list[dict]]:
    invalid = ctx.detail.get("invalid_values") or {}
    name = ctx.detail.get("function")
    if name not in ctx.tools_by_name:
        holders = [n for n in ctx.tools_by_request()
                   if any(p in ctx.properties(n) or _nested_schema(ctx.schema(n), p) for p in invalid)]
        name = holders[0] if holders else None
    if name is not None:
        given: dict[str, Any] = {}
        for param, values in invalid.items():
            value = values[0] if isinstance(values, list) and values else values
            _set_path(given, ctx.schema(name), param, value)
        arguments = _fill(ctx, name, rng, given=given)
        yield [{"name": name, "arguments": arguments}]
        yield [{"name": name, "arguments": _fill(ctx, name, rng, given=given, avoid=arguments)}]
    yield from _called_anyway(ctx, rng, exclude={name} if name else set())


def _called_anyway(ctx: ExampleContext, rng: random.Random, exclude: set = frozenset()) -> Iterator[list[dict]]:
    names = [n for n in ctx.tools_by_request() if n not in exclude][:MAX_TOOLS]
    first = {}
    for name in names:
        first[name] = _fill(ctx, name, rng)
        yield [{"name": name, "arguments": first[name]}]
    for name in names[:2]:
        yield [{"name": name, "arguments": _fill(ctx, name, rng, avoid=first[name])}]


def irrelevance_proposals(ctx: ExampleContext, rng: random.Random) -> Iterator[list[dict]]:
    if ctx.kind == records.REFERENCE_CLARIFY:
        yield from _clarify(ctx, rng)
    elif ctx.kind == records.REFERENCE_FLAG_INVALID:
        yield from _flag_invalid(ctx, rng)
    else:
        yield from _called_anyway(ctx, rng)
