"""Obfuscation (ToolRM's augmentation): meaningless function and parameter names.

A reward model should judge a call by how it fits the schema and the
request, not by memorized tool names. Function names and top-level
parameter names become random-looking identifiers, consistently across the
tools, the reference, the reference detail, tool calls in earlier turns and
every candidate output (raw text included); property order is shuffled.
User and assistant text is left alone, and so are values: a renamed example
checks exactly as the original did.

Names are derived from SHA-256 of (seed, example_id, name), so the same name
always maps the same way for an example, whatever order things come in.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from typing import Any, Callable

from toolrm_beam.schemas import records

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_IDENTIFIER = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*")
_AFTER_KEY = re.compile(r"\s*:")
_NEXT_STRING = re.compile(r"\s*:\s*\"((?:[^\"\\]|\\.)*)\"")
_PLAIN_WORD = re.compile(r"^[a-z]+$")


class _Names:
    """The renaming of one example: function names and parameter names."""

    def __init__(self, seed: int, example_id: str, functions: list[str], params: list[str]):
        self.prefix = f"{seed}:{example_id}"
        self.taken = set(functions) | set(params)
        self.functions: dict[str, str] = {}
        self.params: dict[str, str] = {}
        for name in functions:
            self.function(name)
        for name in params:
            self.param(name)
        # `a_b` is how providers without dots send `a.b`: the same function.
        self.underscored = {name.replace(".", "_"): name for name in functions if "." in name}

    def _fresh(self, kind: str, name: str) -> str:
        digest = hashlib.sha256(f"{self.prefix}:{kind}:{name}".encode("utf-8")).digest()
        letters = "".join(_LETTERS[b % 26] for b in digest)
        for length in range(8, len(letters) + 1):
            candidate = letters[:length]
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate
        raise RuntimeError("no fresh name")  # 2**-150 odds

    def function(self, name: str) -> str:
        if name in self.functions:
            return self.functions[name]
        original = getattr(self, "underscored", {}).get(name)
        if original is not None:
            return self.functions[original]
        self.functions[name] = self._fresh("function", name)
        return self.functions[name]

    def param(self, name: str) -> str:
        if name not in self.params:
            self.params[name] = self._fresh("param", name)
        return self.params[name]

    def is_function(self, name: str) -> bool:
        return name in self.functions or name in self.underscored


def _shuffled(mapping: dict, rng: random.Random) -> dict:
    keys = list(mapping)
    rng.shuffle(keys)
    return {k: mapping[k] for k in keys}


def _shuffle_schema(schema: Any, rng: random.Random) -> Any:
    """The same schema with the order of keys and properties shuffled, all levels."""
    if isinstance(schema, dict):
        out = {k: (_shuffle_schema(v, rng) if k in ("properties", "items") or isinstance(v, dict) else v)
               for k, v in schema.items()}
        return _shuffled(out, rng)
    return schema


def _rename_parameters(parameters: Any, names: _Names, rng: random.Random) -> Any:
    if not isinstance(parameters, dict):
        return parameters
    out = dict(parameters)
    properties = parameters.get("properties")
    if isinstance(properties, dict):
        out["properties"] = _shuffled({names.param(k): _shuffle_schema(v, rng) for k, v in properties.items()}, rng)
    required = parameters.get("required")
    if isinstance(required, list):
        out["required"] = [names.param(r) if isinstance(r, str) else r for r in required]
    return _shuffled(out, rng)


def _rename_description(text: Any, names: _Names) -> Any:
    """Function names in a description (identifiers only: not a plain word like `search`)."""
    if not isinstance(text, str):
        return text
    def replace(match: re.Match) -> str:
        token = match.group(0)
        if names.is_function(token) and not _PLAIN_WORD.match(token):
            return names.function(token)
        return token
    return _IDENTIFIER.sub(replace, text)


def _rename_calls(calls: Any, names: _Names) -> Any:
    """Decoded calls `[{name, arguments}]`; anything else is renamed through its JSON text."""
    if isinstance(calls, list) and all(isinstance(c, dict) and set(c) == {"name", "arguments"}
                                       and isinstance(c["arguments"], dict) for c in calls):
        return [{"name": names.function(c["name"]),
                 "arguments": {names.param(k): v for k, v in c["arguments"].items()}} for c in calls]
    return json.loads(rename_text(records.canonical_json(calls), names))


# --- raw text --------------------------------------------------------------

def _string_end(text: str, start: int) -> int:
    """Index of the closing quote of the literal opening at `start` (len(text) if unclosed)."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == quote and (quote == '"' or i + 1 >= len(text) or not text[i + 1].isalnum()):
            return i
        i += 1
    return len(text)


def _is_structural_key(key: str, text: str, after: int, names: _Names) -> bool:
    """A key of the call format itself (`"name": "<function>"`, `"arguments": {...}`), not a parameter."""
    rest = text[after:after + 64]
    value = rest.split(":", 1)[1].lstrip() if ":" in rest else ""
    if key == "name":
        match = _NEXT_STRING.match(text, after)
        return bool(match) and names.is_function(match.group(1))
    if key in ("arguments", "parameters"):
        return value[:1] in ('{', '"')
    if key == "function":
        return value[:1] == "{"
    if key == "type":
        return value.startswith('"function"')
    if key == "id":
        return value.startswith('"call')
    return key in ("tool_calls", "role") or (key == "content" and '"role"' in text)


def rename_text(text: str, names: _Names) -> str:
    """Rename inside raw output: keys and call names in JSON, identifiers in code and prose.

    String values are left alone (they are the user's data), except the
    value of `"name"` when it is a function and an `"arguments"` value that
    is itself JSON text.
    """
    out: list[str] = []
    i, last_key = 0, None
    while i < len(text):
        ch = text[i]
        opens = ch == '"' or (ch == "'" and (i == 0 or not text[i - 1].isalnum()))
        if not opens:
            j = i
            while j < len(text) and not (text[j] == '"' or (text[j] == "'" and (j == 0 or not text[j - 1].isalnum()))):
                j += 1
            out.append(_rename_identifiers(text[i:j], names))
            i = j
            continue
        end = _string_end(text, i)
        literal = text[i:end + 1]
        content = text[i + 1:end]
        if end < len(text) and _AFTER_KEY.match(text, end + 1):
            if content in names.params and not _is_structural_key(content, text, end + 1, names):
                literal = literal[0] + names.params[content] + literal[-1]
            last_key = content
        else:
            if last_key == "name" and names.is_function(content):
                literal = literal[0] + names.function(content) + literal[len(content) + 1:]
            elif last_key in ("arguments", "parameters") and literal[0] == '"' and end < len(text):
                literal = _rename_json_string(literal, names)
            last_key = None
        out.append(literal)
        i = end + 1
    return "".join(out)


def _rename_json_string(literal: str, names: _Names) -> str:
    try:
        inner = json.loads(literal)
    except ValueError:
        return literal
    if not isinstance(inner, str):
        return literal
    return json.dumps(rename_text(inner, names), ensure_ascii=False)


def _rename_identifiers(segment: str, names: _Names) -> str:
    def replace(match: re.Match) -> str:
        token = match.group(0)
        if names.is_function(token):
            return names.function(token)
        if token in names.params:
            return names.params[token]
        return token
    return _IDENTIFIER.sub(replace, segment)


# --- records ---------------------------------------------------------------

def _rename_output(output: Any, names: _Names) -> Any:
    return rename_text(output, names) if isinstance(output, str) else _rename_calls(output, names)


def _rename_messages(messages: list[dict], names: _Names) -> list[dict]:
    out = []
    for message in messages:
        message = dict(message)
        if isinstance(message.get("tool_calls"), list):
            message["tool_calls"] = [_rename_tool_call(c, names) for c in message["tool_calls"]]
        if message.get("role") == "tool" and isinstance(message.get("name"), str):
            message["name"] = names.function(message["name"])
        out.append(message)
    return out


def _rename_tool_call(call: Any, names: _Names) -> Any:
    if not isinstance(call, dict):
        return call
    call = dict(call)
    function = call.get("function")
    if isinstance(function, dict):
        function = dict(function)
        if isinstance(function.get("name"), str):
            function["name"] = names.function(function["name"])
        arguments = function.get("arguments")
        if isinstance(arguments, dict):
            function["arguments"] = {names.param(k): v for k, v in arguments.items()}
        elif isinstance(arguments, str):
            function["arguments"] = rename_text(arguments, names)
        call["function"] = function
    return call


def _rename_detail(detail: dict, names: _Names) -> dict:
    out = dict(detail)
    if isinstance(out.get("function"), str):
        out["function"] = names.function(out["function"])
    rename: Callable[[str], str] = lambda p: names.params.get(p, p)  # nested keys keep their name
    if isinstance(out.get("missing_parameters"), list):
        out["missing_parameters"] = [rename(p) if isinstance(p, str) else p for p in out["missing_parameters"]]
    if isinstance(out.get("invalid_values"), dict):
        out["invalid_values"] = {rename(k): v for k, v in out["invalid_values"].items()}
    return out


def obfuscate(example: dict, candidates: list[dict], *, seed: int) -> tuple[dict, list[dict]]:
    """The example and its candidates with function and parameter names replaced.

    `example_id` stays (it names the task); `content_hash` and every
    `candidate_id` are recomputed. `original_tools` keeps the upstream specs
    as provenance.
    """
    example_id = example["example_id"]
    tools = example.get("tools") or []
    functions = [t["name"] for t in tools] + [c["name"] for c in example.get("reference") or []]
    params = [p for t in tools for p in ((t.get("parameters") or {}).get("properties") or {})]
    params += [p for c in example.get("reference") or [] for p in c["arguments"]]
    names = _Names(seed, example_id, list(dict.fromkeys(functions)), list(dict.fromkeys(params)))
    rng = random.Random(f"{seed}:{example_id}:obfuscate")

    renamed = dict(example)
    renamed["tools"] = [{**tool, "name": names.function(tool["name"]),
                         "description": _rename_description(tool.get("description", ""), names),
                         "parameters": _rename_parameters(tool.get("parameters"), names, rng)}
                        for tool in tools]
    renamed["reference"] = [{"name": names.function(c["name"]),
                             "arguments": {names.param(k): v for k, v in c["arguments"].items()}}
                            for c in example.get("reference") or []]
    renamed["reference_detail"] = _rename_detail(example.get("reference_detail") or {}, names)
    renamed["messages"] = _rename_messages(example.get("messages") or [], names)
    renamed["content_hash"] = records.example_content_hash(renamed)

    out = []
    for candidate in candidates:
        output = _rename_output(candidate["output"], names)
        out.append({**candidate, "output": output,
                    "candidate_id": records.candidate_id(example_id, output)})
    return renamed, out
