"""Parsing errors: the right call written so that it does not decode.

Raw text, as models produce it: JSON cut off at the length limit, the call
wrapped in prose, a code fence followed by commentary, Python call syntax
with a syntax error, an unclosed `<tool_call>` block, arguments given as a
broken JSON string, or the call described in words instead of made.
"""
from __future__ import annotations

import json
import random
from typing import Any, Iterator

from toolrm_beam.transforms.rules.context import ExampleContext


def _python_call(call: dict) -> str:
    arguments = ", ".join(f"{k}={_python_literal(v)}" for k, v in call["arguments"].items())
    return f"{call['name']}({arguments})"


def _python_literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_python_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_python_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _describe(calls: list[dict]) -> str:
    parts = []
    for call in calls:
        arguments = ", ".join(f"{k} set to {json.dumps(v, ensure_ascii=False)}" for k, v in call["arguments"].items())
        parts.append(f"{call['name']} with {arguments}" if arguments else call["name"])
    return "I will call " + " and then ".join(parts) + "."


def _broken_python(calls: list[dict], rng: random.Random) -> str | None:
    text = "[" + ", ".join(_python_call(c) for c in calls) + "]"
    first = calls[0]
    if first["arguments"]:
        # `name: value` instead of `name=value`.
        key = next(iter(first["arguments"]))
        return text.replace(f"{key}=", f"{key}: ", 1)
    return text.replace("(", "(,", 1)  # `f(,)`


def parsing_error_texts(calls: list[dict], rng: random.Random) -> list[str]:
    as_json = json.dumps(calls, ensure_ascii=False)
    cut = max(2, int(len(as_json) * rng.uniform(0.55, 0.9)))
    one = calls[0]
    texts = [
        as_json[:cut],                                                               # truncated
        f"Sure! Here is the function call you need: {as_json} Let me know if you need anything else.",
        f"```json\n{as_json}\n```\nThis call uses {one['name']} with the details you gave.",
        _broken_python(calls, rng),
        f"<tool_call>\n{json.dumps(one, ensure_ascii=False)}\n",                      # unclosed block
        json.dumps([{"name": c["name"], "arguments": _broken_arguments(c["arguments"])} for c in calls],
                   ensure_ascii=False),
        _describe(calls),
    ]
    return [t for t in texts if t]


def _broken_arguments(arguments: dict) -> str:
    """Arguments as a JSON string with unquoted keys, as weaker models write them."""
    body = ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    return "{" + body + "}" if arguments else "{"


def parsing_error_proposals(ctx: ExampleContext, rng: random.Random) -> Iterator[str]:
    if not ctx.calls:
        return
    texts = parsing_error_texts(ctx.calls, rng)
    order = list(range(len(texts)))
    rng.shuffle(order)
    for index in order:
        yield texts[index]
