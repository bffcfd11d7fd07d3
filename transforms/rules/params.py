"""Parameters left out or invented.

- Missing optional parameter: the schema makes it optional but the reference
  expects it (the user stated a unit, the call leaves it out).
- Missing required parameter: a schema-required argument left out.
- Unexpected parameter: an argument the reference does not accept. Most
  plausible is a real optional parameter of the tool that the user never
  asked for (`unit="celsius"` when no unit was stated); then a parameter
  another tool of the catalog has; then a common one (`limit`, `language`).
"""
from __future__ import annotations

import random
from typing import Any, Iterator

from toolrm_beam.transforms.rules import spec
from toolrm_beam.transforms.rules.context import ExampleContext
from toolrm_beam.transforms.rules.fill import NOTHING, guess_value
from toolrm_beam.transforms.rules.tokens import identifier_words

# Invented parameters models add, with a typical value: paging and sorting
# for look-ups, output options for everything else.
_LOOKUP_EXTRAS: list[tuple[str, Any]] = [
    ("limit", 10), ("max_results", 5), ("sort_by", "relevance"), ("page", 1), ("include_details", True),
]
_COMMON_EXTRAS: list[tuple[str, Any]] = [
    ("language", "en"), ("format", "json"), ("units", "metric"), ("verbose", False), ("timezone", "UTC"),
]
_LOOKUP_VERBS = {"get", "list", "search", "find", "retrieve", "fetch", "query", "lookup", "show"}


def _without(calls: list[dict], position: int, param: str) -> list[dict]:
    call = calls[position]
    arguments = {k: v for k, v in call["arguments"].items() if k != param}
    return calls[:position] + [{"name": call["name"], "arguments": arguments}] + calls[position + 1:]


def _with(calls: list[dict], position: int, param: str, value: Any) -> list[dict]:
    call = calls[position]
    return calls[:position] + [{"name": call["name"], "arguments": {**call["arguments"], param: value}}] \
        + calls[position + 1:]


def _dropped(ctx: ExampleContext, rng: random.Random, required: bool) -> Iterator[list[dict]]:
    slots = []
    for position, call in enumerate(ctx.calls):
        schema_required = set(ctx.required(call["name"]))
        acceptable = ctx.acceptable(position)
        for param in call["arguments"]:
            if required and param in schema_required:
                slots.append((position, param))
            elif not required and param not in schema_required and "" not in acceptable.get(param, [""]):
                slots.append((position, param))
    rng.shuffle(slots)
    for position, param in slots:
        yield _without(ctx.calls, position, param)


def missing_optional_proposals(ctx: ExampleContext, rng: random.Random) -> Iterator[list[dict]]:
    return _dropped(ctx, rng, required=False)


def missing_required_proposals(ctx: ExampleContext, rng: random.Random) -> Iterator[list[dict]]:
    return _dropped(ctx, rng, required=True)


def unexpected_parameter_proposals(ctx: ExampleContext, rng: random.Random) -> Iterator[list[dict]]:
    calls = ctx.calls
    positions = list(range(len(calls)))
    rng.shuffle(positions)
    for position in positions[:2]:
        call = calls[position]
        properties = ctx.properties(call["name"])
        acceptable = ctx.acceptable(position)
        used = set(call["arguments"])
        # A real optional parameter the reference does not accept.
        unasked = [p for p in properties if p not in acceptable and p not in used]
        rng.shuffle(unasked)
        for param in unasked[:2]:
            value = _value_for(param, properties[param], ctx, rng)
            if value is not NOTHING:
                yield _with(calls, position, param, value)
        # A parameter of another tool in the catalog, then a common invented one.
        borrowed = [(p, s) for name in ctx.tools_by_name if name != call["name"]
                    for p, s in ctx.properties(name).items() if p not in properties and p not in used]
        if borrowed:
            param, schema = borrowed[rng.randrange(len(borrowed))]
            value = _value_for(param, schema, ctx, rng)
            if value is not NOTHING:
                yield _with(calls, position, param, value)
        words = identifier_words(call["name"].rpartition(".")[2])
        pool = _LOOKUP_EXTRAS if _LOOKUP_VERBS & set(words[:2]) else _COMMON_EXTRAS
        extras = [(p, v) for p, v in pool if p not in properties and p not in used]
        if extras:
            param, value = extras[rng.randrange(len(extras))]
            yield _with(calls, position, param, value)


def _value_for(param: str, schema: Any, ctx: ExampleContext, rng: random.Random) -> Any:
    """The schema default if it has one (what a model fills in unasked), else a guess."""
    if isinstance(schema, dict) and "default" in schema and schema["default"] not in (None, "") \
            and spec.fits(schema["default"], schema):
        return schema["default"]
    return guess_value(param, schema, ctx.conversation, rng)
