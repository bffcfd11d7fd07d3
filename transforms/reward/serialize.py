"""What a reward model reads: (tools, conversation, candidate) as one token sequence.

Format
------
With a chat template (any checkpoint whose tokenizer has one; ToolRM and
other Qwen-based reward models do), the input is the example's conversation
(`messages`, OpenAI-style) followed by one assistant message carrying the
candidate, rendered by the checkpoint's own template:

    tokenizer.apply_chat_template(messages + [candidate_message],
                                  tools=<OpenAI tools>, tokenize=False)

A candidate that is a list of decoded calls becomes OpenAI `tool_calls`
(`{"type": "function", "function": {"name", "arguments"}}` with the arguments
as JSON text, as the OpenAI API and Qwen templates take them; pass
`tool_call_arguments="object"` for templates that apply `tojson` to them).
Anything else (raw text, an empty call list) becomes the assistant's
`content`. The text is tokenized with `add_special_tokens=False`: the
template already wrote the special tokens.

Without a template, a plain format, one block per line, tokenized with the
tokenizer's own special tokens:

    <tools>[OpenAI tools as JSON]</tools>
    <system>...</system>                       (each message, in order)
    <user>...</user>
    <assistant>text or [{"name", "arguments"}] as JSON</assistant>
    <tool>...</tool>
    <assistant>the candidate</assistant>

Truncation
----------
An input longer than `max_length` tokens is shortened; the candidate (the
rendered assistant turn, from its header to the end of the text) is never
cut. In order, each step taken only while the input is still too long:

1. `param_descriptions`: drop every parameter's `description`.
2. `tool_descriptions`: drop every tool's `description`.
3. `uncalled_tools:N`: drop the N last tools that the candidate does not call
   (N as small as fits).
4. `turns:N`: drop the N oldest turns (a turn is a user message and what
   follows it up to the next user message); leading system messages and the
   last user turn are kept.
5. `head_tokens:N`: cut the first N tokens, so the model sees the end of the
   context and the whole candidate.

The steps taken are recorded, comma-separated, in `truncation` ("" when
nothing was cut). If the candidate alone is longer than `max_length`, nothing
is scored: `truncation` is `candidate_too_long` and `input_ids` is empty. A
score of a candidate the model could not read whole would be a guess, and
feeding more than `max_length` tokens would break the memory bound the
batching relies on.
"""
from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any, Callable, Sequence

from toolrm_beam.transforms.llm.prompts import openai_tools


TRUNCATION_STEPS = ("param_descriptions", "tool_descriptions", "uncalled_tools", "turns", "head_tokens")
CANDIDATE_TOO_LONG = "candidate_too_long"
_ARGUMENT_FORMS = ("string", "object")
_TEMPLATE_MODES = ("auto", "always", "never")


@dataclasses.dataclass(frozen=True)
class Serialized:
    """One (example, candidate) as the model reads it.

    `input_ids` is empty when the candidate is too long to score.
    `candidate_tokens` counts the candidate's tokens (its rendered turn, to
    the end of the input); `text` is the rendered text after the text-level
    truncation steps and before any head cut. `candidate_last` says the
    template rendered the conversation exactly as it does without the
    candidate and put the candidate after it: then every candidate of the
    example starts with the same text (what prefix-shared scoring relies on).
    """
    input_ids: list[int]
    truncation: str
    candidate_tokens: int
    text: str
    candidate_text: str
    candidate_last: bool = True

    @property
    def skipped(self) -> bool:
        return not self.input_ids


# --- the candidate as a message -------------------------------------------------

def _is_call(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("name"), str)


def candidate_calls(output: Any) -> list[dict[str, Any]] | None:
    """The calls of a decoded candidate, or None where it is text (or not call-shaped)."""
    if _is_call(output):
        output = [output]
    if isinstance(output, list) and output and all(_is_call(item) for item in output):
        return output
    return None


def called_tool_names(output: Any) -> set[str]:
    calls = candidate_calls(output)
    return {call["name"] for call in calls} if calls else set()


def _arguments_json(arguments: Any) -> str:
    # Already-text arguments (a parsing-error candidate) stay exactly as written.
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def candidate_message(output: Any, tool_call_arguments: str = "string") -> dict[str, Any]:
    """The assistant message that carries a candidate."""
    calls = candidate_calls(output)
    if calls is None:
        if output is None or output == []:
            content = ""
        elif isinstance(output, str):
            content = output
        else:
            content = json.dumps(output, ensure_ascii=False)
        return {"role": "assistant", "content": content}
    tool_calls = []
    for index, call in enumerate(calls):
        arguments = call.get("arguments", {})
        if tool_call_arguments == "string":
            arguments = _arguments_json(arguments)
        tool_calls.append({"id": f"call_{index}", "type": "function",
                           "function": {"name": call["name"], "arguments": arguments}})
    return {"role": "assistant", "content": "", "tool_calls": tool_calls}


def _history_message(message: dict[str, Any], tool_call_arguments: str) -> dict[str, Any]:
    """A conversation message in the form the template gets (content never None)."""
    message = dict(message)
    if message.get("content") is None:
        message["content"] = ""
    if message.get("tool_calls"):
        calls = []
        for call in message["tool_calls"]:
            call = copy.deepcopy(call)
            function = call.get("function", call)
            arguments = function.get("arguments")
            if tool_call_arguments == "string" and not isinstance(arguments, str):
                function["arguments"] = json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
            elif tool_call_arguments == "object" and isinstance(arguments, str):
                try:
                    function["arguments"] = json.loads(arguments)
                except ValueError:
                    pass  # not JSON: the template shows the text as it is
            calls.append(call)
        message["tool_calls"] = calls
    return message


# --- shortening ------------------------------------------------------------------

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def _without_descriptions(schema: Any) -> Any:
    """A JSON Schema with every `description` keyword removed (property names untouched)."""
    if isinstance(schema, list):
        return [_without_descriptions(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {}
    for key, value in schema.items():
        if key == "description" and isinstance(value, str):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            result[key] = {name: _without_descriptions(sub) for name, sub in value.items()}
        elif key in _SCHEMA_ONE or key in _SCHEMA_LISTS:
            result[key] = _without_descriptions(value)
        else:
            result[key] = value
    return result


def strip_parameter_descriptions(tools: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**tool, "parameters": _without_descriptions(tool.get("parameters", {}))} for tool in tools]


def strip_tool_descriptions(tools: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**tool, "description": ""} for tool in tools]


def drop_uncalled_tools(tools: Sequence[dict[str, Any]], called: set[str], count: int) -> list[dict[str, Any]]:
    """`tools` without the last `count` tools that are not in `called`."""
    uncalled = [i for i, tool in enumerate(tools) if tool.get("name") not in called]
    dropped = set(uncalled[len(uncalled) - count:]) if count else set()
    return [tool for i, tool in enumerate(tools) if i not in dropped]


def droppable_turns(messages: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """(start, end) message ranges that may be dropped, oldest first.

    Leading system messages and everything from the last user message on are
    kept. A turn starts at a user message; messages between the system
    messages and the first user message form a turn of their own.
    """
    first = 0
    while first < len(messages) and messages[first].get("role") == "system":
        first += 1
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
    if last_user is None or last_user <= first:
        return []
    starts = [first] + [i for i in range(first + 1, last_user) if messages[i].get("role") == "user"]
    return list(zip(starts, starts[1:] + [last_user]))


def drop_turns(messages: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    turns = droppable_turns(messages)
    if not count:
        return list(messages)
    start, end = turns[0][0], turns[count - 1][1]
    return list(messages[:start]) + list(messages[end:])


def _fewest(count: int, fits: Callable[[int], bool]) -> int | None:
    """Smallest k in 1..count with fits(k), given fits is monotone; None where fits(count) fails."""
    if count < 1 or not fits(count):
        return None
    low, high = 1, count
    while low < high:
        middle = (low + high) // 2
        if fits(middle):
            high = middle
        else:
            low = middle + 1
    return low


# --- rendering -------------------------------------------------------------------

def plain_format(messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]]) -> str:
    """The documented template-free format (see the module docstring)."""
    lines = [f"<tools>{json.dumps(list(tools), ensure_ascii=False)}</tools>"]
    for message in messages:
        role = message.get("role", "user")
        body = message.get("content") or ""
        if message.get("tool_calls"):
            calls = []
            for call in message["tool_calls"]:
                function = call.get("function", call)
                arguments = function.get("arguments")
                if isinstance(arguments, str):
                    try:
                        arguments = json.loads(arguments)
                    except ValueError:
                        pass
                calls.append({"name": function.get("name"), "arguments": arguments})
            body += json.dumps(calls, ensure_ascii=False)
        lines.append(f"<{role}>{body}</{role}>")
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class _Encoded:
    ids: list[int]
    candidate_tokens: int
    text: str
    candidate_text: str
    candidate_last: bool


class RewardSerializer:
    """Serializes and truncates (example, candidate) pairs for one tokenizer.

    Args:
      tokenizer: a transformers tokenizer (fast tokenizers give exact
        candidate token counts from offsets).
      max_length: most tokens one input may have.
      use_chat_template: "auto" (the template where the tokenizer has one),
        "always" or "never" (the plain format).
      tool_call_arguments: "string" (OpenAI form, JSON text) or "object".
      chat_template_kwargs: extra template variables.
    """

    def __init__(self, tokenizer: Any, max_length: int, *, use_chat_template: str = "auto",
                 tool_call_arguments: str = "string", chat_template_kwargs: dict | None = None):
        if max_length < 1:
            raise ValueError(f"max_length must be positive, got {max_length!r}")
        if use_chat_template not in _TEMPLATE_MODES:
            raise ValueError(f"use_chat_template must be one of {_TEMPLATE_MODES}, got {use_chat_template!r}")
        if tool_call_arguments not in _ARGUMENT_FORMS:
            raise ValueError(f"tool_call_arguments must be one of {_ARGUMENT_FORMS}, got {tool_call_arguments!r}")
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if use_chat_template == "always" and not has_template:
            raise ValueError("use_chat_template='always' but the tokenizer has no chat template")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.uses_template = has_template and use_chat_template != "never"
        self.tool_call_arguments = tool_call_arguments
        self.chat_template_kwargs = dict(chat_template_kwargs or {})

    # rendering
    def render(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]]) -> str:
        """Text of `messages` (the candidate included, as the last one) with canonical `tools`."""
        rendered_tools = openai_tools(list(tools))
        if not self.uses_template:
            return plain_format(messages, rendered_tools)
        return self.tokenizer.apply_chat_template(
            list(messages), tools=rendered_tools or None, tokenize=False, add_generation_prompt=False,
            **self.chat_template_kwargs)

    def _encode(self, history: list[dict], tools: list[dict], candidate: dict) -> _Encoded:
        text = self.render(history + [candidate], tools)
        context = self.render(history, tools) if history else ""
        start = _common_prefix_length(text, context)
        ids, candidate_tokens = self._tokenize(text, start, special=not self.uses_template)
        return _Encoded(ids, candidate_tokens, text, text[start:], candidate_last=start == len(context))

    def _length(self, history: list[dict], tools: list[dict], candidate: dict) -> int:
        text = self.render(history + [candidate], tools)
        return len(self.tokenizer(text, add_special_tokens=not self.uses_template)["input_ids"])

    def _tokenize(self, text: str, candidate_start: int, special: bool) -> tuple[list[int], int]:
        tokenizer = self.tokenizer
        if getattr(tokenizer, "is_fast", False):
            encoded = tokenizer(text, add_special_tokens=special, return_offsets_mapping=True)
            ids = list(encoded["input_ids"])
            offsets = encoded["offset_mapping"]
            # The first token that ends after the candidate starts (a token
            # straddling the boundary counts as the candidate's).
            first = next((i for i, (_, end) in enumerate(offsets) if end > candidate_start), len(ids))
            return ids, len(ids) - first
        ids = list(tokenizer(text, add_special_tokens=special)["input_ids"])
        head = tokenizer(text[:candidate_start], add_special_tokens=False)["input_ids"]
        return ids, max(0, len(ids) - len(head))

    # truncation
    def serialize(self, example: dict[str, Any], output: Any) -> Serialized:
        """The model input for one candidate `output` of `example`."""
        limit = self.max_length
        history = [_history_message(m, self.tool_call_arguments) for m in example["messages"]]
        tools = list(example.get("tools") or [])
        candidate = candidate_message(output, self.tool_call_arguments)
        encoded = self._encode(history, tools, candidate)
        if len(encoded.ids) <= limit:
            return self._result(encoded, [])
        if encoded.candidate_tokens > limit:
            return Serialized([], CANDIDATE_TOO_LONG, encoded.candidate_tokens, encoded.text, encoded.candidate_text,
                              encoded.candidate_last)

        steps: list[str] = []
        for name, shorten in (("param_descriptions", strip_parameter_descriptions),
                              ("tool_descriptions", strip_tool_descriptions)):
            shorter = shorten(tools)
            if shorter != tools:
                tools = shorter
                steps.append(name)
                encoded = self._encode(history, tools, candidate)
                if len(encoded.ids) <= limit:
                    return self._result(encoded, steps)

        called = called_tool_names(output)
        uncalled = sum(1 for tool in tools if tool.get("name") not in called)
        dropped = self._fewest_dropped(uncalled, lambda k: (history, drop_uncalled_tools(tools, called, k)),
                                       candidate)
        if dropped:
            tools = drop_uncalled_tools(tools, called, dropped)
            steps.append(f"uncalled_tools:{dropped}")
            encoded = self._encode(history, tools, candidate)
            if len(encoded.ids) <= limit:
                return self._result(encoded, steps)

        dropped = self._fewest_dropped(len(droppable_turns(history)), lambda k: (drop_turns(history, k), tools),
                                       candidate)
        if dropped:
            history = drop_turns(history, dropped)
            steps.append(f"turns:{dropped}")
            encoded = self._encode(history, tools, candidate)
            if len(encoded.ids) <= limit:
                return self._result(encoded, steps)

        cut = len(encoded.ids) - limit
        steps.append(f"head_tokens:{cut}")
        return Serialized(encoded.ids[cut:], ",".join(steps), encoded.candidate_tokens, encoded.text,
                          encoded.candidate_text, encoded.candidate_last)

    def _fewest_dropped(self, count: int, variant: Callable[[int], tuple[list, list]], candidate: dict) -> int:
        """How many items to drop: as few as fits, or all `count` where even that does not fit."""
        if count < 1:
            return 0

        def fits(k: int) -> bool:
            history, tools = variant(k)
            return self._length(history, tools, candidate) <= self.max_length

        return _fewest(count, fits) or count

    @staticmethod
    def _result(encoded: _Encoded, steps: list[str]) -> Serialized:
        return Serialized(encoded.ids, ",".join(steps), encoded.candidate_tokens, encoded.text,
                          encoded.candidate_text, encoded.candidate_last)


def _common_prefix_length(a: str, b: str) -> int:
    """Length of the longest common prefix (where the candidate's turn starts)."""
    if a.startswith(b):
        return len(b)
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
