"""Incorrect number of function calls: a call dropped, repeated, merged or split.

The real cases (FC-RewardBench, 16%): two cities asked and one call made,
a call made twice, both cities packed into one call, or an extra call for
something the user did not ask; also no call at all where one was needed.
"""
from __future__ import annotations

import random
from typing import Any, Iterator

from toolrm_beam.schemas.checker import standardize_string
from toolrm_beam.transforms.rules import spec
from toolrm_beam.transforms.rules.context import ExampleContext
from toolrm_beam.transforms.rules.fill import NOTHING, guess_value
from toolrm_beam.transforms.rules.values import ValueAlternatives


def _merge(first: dict, second: dict) -> dict | None:
    """Two calls of one tool that differ in one string argument, as one call
    whose value names both ("Beijing, China and Shanghai, China")."""
    if first["name"] != second["name"] or set(first["arguments"]) != set(second["arguments"]):
        return None
    differing = [p for p in first["arguments"] if first["arguments"][p] != second["arguments"][p]]
    if len(differing) != 1:
        return None
    param = differing[0]
    a, b = first["arguments"][param], second["arguments"][param]
    if isinstance(a, str) and isinstance(b, str):
        merged: Any = f"{a} and {b}"
    elif isinstance(a, list) and isinstance(b, list):
        merged = a + b
    else:
        return None
    return {"name": first["name"], "arguments": {**first["arguments"], param: merged}}


def _packed(calls: list[dict]) -> list[dict] | None:
    """Parallel calls of one tool packed into one call: each argument that varies becomes the list
    of its values (four `order_food` calls as one with `item=["burger", "ice cream", ...]`), as
    models answer "for each of these" requests."""
    if len(calls) < 2 or len({call["name"] for call in calls}) != 1:
        return None
    keys = list(calls[0]["arguments"])
    if any(list(call["arguments"]) != keys for call in calls):
        return None
    arguments = {}
    for key in keys:
        values = [call["arguments"][key] for call in calls]
        if all(v == values[0] for v in values):
            arguments[key] = values[0]
        elif all(isinstance(v, list) for v in values):
            arguments[key] = [item for v in values for item in v]
        else:
            arguments[key] = values
    return [{"name": calls[0]["name"], "arguments": arguments}]


def _split(ctx: ExampleContext, position: int, rng: random.Random) -> list[list[dict]]:
    """One call as two: a list argument shared out, or a second call with another value."""
    calls = ctx.calls
    call = calls[position]
    out = []
    for param, value in call["arguments"].items():
        if isinstance(value, list) and len(value) >= 2 and not any(isinstance(v, dict) for v in value):
            half = (len(value) + 1) // 2
            parts = [{"name": call["name"], "arguments": {**call["arguments"], param: part}}
                     for part in (value[:half], value[half:])]
            out.append(calls[:position] + parts + calls[position + 1:])
            break
    properties = ctx.properties(call["name"])
    alternatives = ValueAlternatives(ctx, rng)
    params = [p for p, v in call["arguments"].items() if isinstance(v, str) and not spec.enum_of(properties.get(p))]
    params += [p for p in call["arguments"] if p not in params]
    normalized = {p: standardize_string(v) for p, v in call["arguments"].items() if isinstance(v, str)}
    for param in params[:2]:
        siblings = frozenset(v for p, v in normalized.items() if p != param)
        options = alternatives.for_value(call["arguments"][param], properties.get(param), param,
                                         siblings=siblings)
        entities = set(ctx.conversation.entities)
        # Another value the user actually mentioned makes the extra call believable.
        options.sort(key=lambda o: not (isinstance(o, str) and o in entities))
        if options:
            extra = {"name": call["name"], "arguments": {**call["arguments"], param: options[0]}}
            out.append(calls[:position + 1] + [extra] + calls[position + 1:])
            break
    return out


def _extra_tool_call(ctx: ExampleContext, rng: random.Random) -> list[dict] | None:
    """An additional call to the catalog tool the request most resembles, not already called."""
    called = {call["name"] for call in ctx.calls}
    for name in ctx.tools_by_request():
        if name in called:
            continue
        arguments = {}
        properties = ctx.properties(name)
        for param in ctx.required(name):
            value = guess_value(param, properties.get(param), ctx.conversation, rng)
            if value is NOTHING:
                return None
            arguments[param] = value
        return ctx.calls + [{"name": name, "arguments": arguments}]
    return None


def call_count_proposals(ctx: ExampleContext, rng: random.Random) -> Iterator[list[dict]]:
    calls = ctx.calls
    positions = list(range(len(calls)))
    rng.shuffle(positions)
    if len(calls) >= 2:
        packed = _packed(calls)
        if packed is not None:
            yield packed                                                 # all in one call, lists of values
        if len(calls) > 2:
            yield calls[:1]                                              # only the first one
        for position in positions[:2]:
            yield calls[:position] + calls[position + 1:]             # one call forgotten
        for i in positions:
            for j in range(i + 1, len(calls)):
                merged = _merge(calls[i], calls[j])
                if merged is not None:
                    rest = [c for k, c in enumerate(calls) if k not in (i, j)]
                    yield rest[:i] + [merged] + rest[i:]
                    break
            else:
                continue
            break
    position = positions[0]
    yield calls[:position + 1] + [calls[position]] + calls[position + 1:]  # a repeated call
    yield from _split(ctx, position, rng)
    extra = _extra_tool_call(ctx, rng)
    if extra is not None:
        yield extra
    yield []                                                             # no call at all
