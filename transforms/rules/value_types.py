"""Parameter value type errors: the right value in the wrong JSON type.

What models do: quote a number (`"40.7"` for a float, `"3"` for an
integer), send a boolean as text (`"true"`), a scalar where a list is due or
a one-item list where a scalar is, an object as a JSON string, and list
items of the wrong type (`["1", "3"]` for integers).
"""
from __future__ import annotations

import json
import random
from typing import Any, Iterator

from toolrm_beam.transforms.rules import spec
from toolrm_beam.transforms.rules.context import ExampleContext


def _number_text(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def wrong_types(value: Any, schema: Any) -> list[Any]:
    """The same value in other JSON types, the commonest slip first."""
    json_type = spec.main_type(schema)
    if isinstance(value, bool):
        return ["true" if value else "false", "'true'" if value else "'false'", int(value)]
    if isinstance(value, (int, float)):
        options: list[Any] = [_number_text(value)]
        if isinstance(value, int) and json_type == "integer":
            options.append(float(value))
        options.append([value])
        return options
    if isinstance(value, str):
        options = []
        text = value.strip()
        try:
            number = float(text) if any(c in text for c in ".eE") else int(text)
            options.append(number)
        except ValueError:
            pass
        if text.lower() in ("true", "false"):
            options.append(text.lower() == "true")
        options.append([value])
        return options
    if isinstance(value, (list, tuple)):
        value = list(value)
        # the list written out as text (JSON, Python, comma-separated): what models sending
        # source text do most; then items quoted, then a scalar for the list
        options = [json.dumps(value, ensure_ascii=False)]
        if value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            options.append([_number_text(v) for v in value])  # items quoted
            options.append(",".join(_number_text(v) for v in value))
        if value and all(isinstance(v, str) for v in value):
            options.append(repr(value))                       # ['a', 'b']
            options.append(", ".join(value))                 # a list written as text
        if len(value) >= 1 and not isinstance(value[0], (list, dict)):
            options.append(value[0])                           # a scalar for a list
        return options
    if isinstance(value, dict):
        return [json.dumps(value, ensure_ascii=False), [value]]
    return []


def value_type_proposals(ctx: ExampleContext, rng: random.Random) -> Iterator[list[dict]]:
    calls = ctx.calls
    slots = []
    for position, call in enumerate(calls):
        properties = ctx.properties(call["name"])
        for param, value in call["arguments"].items():
            schema = properties.get(param)
            if not spec.types_of(schema):
                continue  # untyped (`any`): no value has the wrong type
            options = [o for o in wrong_types(value, schema) if not spec.fits(o, schema)]
            if options:
                slots.append([(position, param, o) for o in options[:3]])
    rng.shuffle(slots)
    # A quoted number or boolean is the common slip; a text value wrapped in a
    # list is rarer, so those come last.
    slots.sort(key=lambda slot: isinstance(calls[slot[0][0]]["arguments"][slot[0][1]], str))
    for round_ in range(3):
        for slot in slots:
            if round_ < len(slot):
                position, param, value = slot[round_]
                call = calls[position]
                changed = {"name": call["name"], "arguments": {**call["arguments"], param: value}}
                yield calls[:position] + [changed] + calls[position + 1:]
