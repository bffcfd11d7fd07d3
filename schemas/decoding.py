"""Decode a candidate's output into a list of `{"name", "arguments"}` calls.

Accepted forms, as models and corpora write them:
- JSON `[{name, arguments|parameters}]` (arguments a dict or a JSON string);
- OpenAI `tool_calls` items, or a whole assistant message (its `tool_calls` list);
- BFCL's `[{fn: {args}}]`;
- Python call syntax as prompt-based models answer (`[f(a=1), g.h(b="x")]`;
  a bare `f(a=1)` too, which BFCL's decoder also wraps in a list), read
  from the syntax tree and never evaluated;
- Python call statements separated by `;` (`f(a=1); g(b=2);`, Raven's form),
  and a list of quoted calls (`["f(a=1)"]`);
- function-calling dumps keyed by name with JSON-text arguments
  (`[{"f": "{\"a\": 1}"}]`, BFCL's record of FC models' answers);
- Hermes/Qwen `<tool_call>{...}</tool_call>` blocks (one call per block; JSON,
  or a Python dict literal), and Granite's `<function_call> {...}` blocks;
- GLM-4's function name on its own line followed by its JSON arguments;
- any of the text forms inside one code fence; markdown-escaped names
  (`get\\_weather`) are unescaped when the text does not parse as it is.

A call with prose around it (before, or after a closing fence) stays a
parsing error: the output is not a call list.

Decoding modes. `strict` (the default) follows docs/tool-call-correctness.md:
output that decodes but is not a list of calls is a parsing error, so a
single `{name, arguments}` object, a single OpenAI tool call or an object
keyed by function name (`{fn: {args}}`) at the top level raises
`decode:not_a_list`. `lenient` accepts those as a one-call (or one call per
key) list: an explicit option for labelling LLM samples whose models answer
that way, and how corpus references (documented shapes, not outputs under
judgement) are read.

Empty output, `[]` and `null` are no call. Anything else raises `DecodeError`,
whose `code` is a stable `decode:<reason>`. Text holding an unpaired
surrogate is `decode:bad_text`: it is not valid Unicode.
"""
from __future__ import annotations

import ast
import json
import operator
import re
from typing import Any

from toolrm_beam.schemas.strict_json import has_unpaired_surrogate

STRICT = "strict"
LENIENT = "lenient"
DECODINGS = (STRICT, LENIENT)

MAX_OUTPUT_CHARS = 1_000_000   # longer outputs are rejected before parsing
MAX_DEPTH = 32                 # nesting of argument values
MAX_INT_BITS = 4096            # keeps repr() of any decoded int cheap and legal
_MAX_EXPONENT = 128            # bound for `**` in the arithmetic evaluator

_TOOL_CALL_BLOCK = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_FUNCTION_CALL_TAG = "<function_call>"
_NAME_LINE = re.compile(r"^([A-Za-z_][\w.]*)[ \t]*\r?\n(\{.*\})$", re.DOTALL)
_FENCE_LANGUAGE = re.compile(r"(?:python|py|json|tool_code)[ \t]*\r?\n", re.IGNORECASE)
# Keys an item in `{name, arguments}` form may carry besides name and arguments.
_CALL_KEYS = {"name", "arguments", "parameters", "id", "type"}

_BINARY_OPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


class DecodeError(ValueError):
    """Output that is not a list of calls; `code` is a stable `decode:<reason>`."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def decode_calls(output: Any, mode: str = STRICT) -> list[dict[str, Any]]:
    """Return the calls in `output` (text or already-decoded objects), under `mode` (strict or lenient)."""
    if mode not in DECODINGS:
        raise ValueError(f"unknown decoding {mode!r}; expected one of {DECODINGS}")
    try:
        if isinstance(output, str):
            calls = _decode_text(output, mode)
        else:
            calls = _top_level(output, mode)
        return [_clean_call(call) for call in calls]
    except (RecursionError, MemoryError):
        raise DecodeError("decode:too_deep", "output is nested too deeply to decode") from None


def _top_level(value: Any, mode: str) -> list[dict[str, Any]]:
    """The decoded output as a whole: strict decoding wants a list (or a message holding one)."""
    if mode == STRICT and isinstance(value, dict) and "tool_calls" not in value and "role" not in value:
        raise DecodeError("decode:not_a_list",
                          f"output is a single object, not a list of calls: {_clip(value)}")
    return _calls_from_object(value)


def decode_call_parts(text: str) -> tuple[str, list[Any], dict[str, Any]]:
    """One Python call written as text -> (name, positional values, keyword values).

    For references written as calls (BFCL's executable answers, e.g.
    `calculate_mean([1, 3])`), whose positional arguments the caller maps onto
    the tool's parameters. Values are read as `decode_calls` reads them.
    """
    body = _parse_expression(text.strip()) if isinstance(text, str) else None
    if not isinstance(body, ast.Call):
        raise DecodeError("decode:not_a_call", f"not one Python call: {_clip(text)}")
    call = _clean_call(_resolve_call(body))
    positional = [_clean_value(_resolve_value(node), 1) for node in body.args if not isinstance(node, ast.Starred)]
    if len(positional) != len(body.args):
        raise DecodeError("decode:not_a_call", f"*args in a call: {_clip(text)}")
    return call["name"], positional, call["arguments"]


# --- text ------------------------------------------------------------------

def _decode_text(text: str, mode: str) -> list[dict[str, Any]]:
    if len(text) > MAX_OUTPUT_CHARS:
        raise DecodeError("decode:too_large", f"output has {len(text)} characters (limit {MAX_OUTPUT_CHARS})")
    if has_unpaired_surrogate(text):
        raise DecodeError("decode:bad_text", "output holds an unpaired surrogate: not valid Unicode")
    text = text.strip()
    inner = strip_fence(text)
    if not inner:
        return []
    try:
        value = json.loads(inner)
    except ValueError:  # JSONDecodeError, and ints over Python's digit limit
        pass
    else:
        return _top_level(value, mode)
    if "<tool_call>" in text or "</tool_call>" in text:
        return _decode_tool_call_tags(text)
    if text.startswith(_FUNCTION_CALL_TAG):
        return _decode_function_call_tags(text)
    try:
        return _decode_python(inner, mode)
    except DecodeError as error:
        # Readings tried only when the text fails as it is, so none changes what already decodes.
        for alternative in (_unescaped_markdown, _name_then_json):
            calls = alternative(inner, mode)
            if calls is not None:
                return calls
        raise error


def _unescaped_markdown(text: str, mode: str) -> list[dict[str, Any]] | None:
    """Markdown renderers escape "_" as "\\_"; a model imitating them writes `get\\_weather(...)`."""
    if "\\_" not in text:
        return None
    try:
        return _decode_python(text.replace("\\_", "_"), mode)
    except DecodeError:
        return None


def _name_then_json(text: str, mode: str) -> list[dict[str, Any]] | None:
    """GLM-4's form: the function name on its own line, then its arguments as a JSON object."""
    match = _NAME_LINE.match(text)
    if match is None:
        return None
    try:
        arguments = json.loads(match.group(2))
    except ValueError:
        return None
    return [_make_call(match.group(1), arguments)] if isinstance(arguments, dict) else None


def strip_fence(text: str) -> str:
    """Drop surrounding backticks and a fence language tag, as BFCL strips "`\\n "."""
    if not text.startswith("`"):
        return text
    inner = text.strip("`\n\r\t ")
    tag = _FENCE_LANGUAGE.match(inner)
    if tag:
        inner = inner[tag.end():]
    return inner.strip()


def _decode_tool_call_tags(text: str) -> list[dict[str, Any]]:
    """Hermes/Qwen blocks; text outside them is the message content and is ignored,
    as vLLM's hermes parser does."""
    if text.count("<tool_call>") != text.count("</tool_call>"):
        raise DecodeError("decode:unclosed_tool_call", "a <tool_call> block is not closed (truncated output?)")
    blocks = _TOOL_CALL_BLOCK.findall(text)
    if not blocks:
        raise DecodeError("decode:bad_tool_call", "</tool_call> without a matching <tool_call> before it")
    calls = []
    for block in blocks:
        calls.extend(_calls_from_object(_block_object(block, "<tool_call>", "decode:bad_tool_call")))
    return calls


def _decode_function_call_tags(text: str) -> list[dict[str, Any]]:
    """Granite's `<function_call> {json} <function_call> {json}`: one call object after each tag."""
    blocks = [block for block in text.split(_FUNCTION_CALL_TAG) if block.strip()]
    if not blocks:
        raise DecodeError("decode:bad_function_call", "<function_call> without a call after it")
    calls = []
    for block in blocks:
        value = _block_object(block, "<function_call>", "decode:bad_function_call")
        if not isinstance(value, dict):
            raise DecodeError("decode:bad_function_call", f"<function_call> block is not an object: {_clip(block)}")
        calls.extend(_calls_from_object(value))
    return calls


def _block_object(block: str, tag: str, code: str) -> Any:
    """A tagged block's JSON value; a Python literal (single quotes, True) is read from its syntax tree."""
    try:
        return json.loads(block)
    except ValueError as error:
        literal = _parse_expression(block.strip())
        if isinstance(literal, (ast.Dict, ast.List)) and not _has_source_text(literal):
            return _resolve_value(literal)
        raise DecodeError(code, f"{tag} block is not JSON: {error}") from None


def _has_source_text(node: ast.expr) -> bool:
    """Whether `_resolve_value` would keep some part of `node` as source text (names, calls, ...)."""
    for child in ast.walk(node):
        if not isinstance(child, (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.Load,
                                  ast.UnaryOp, ast.USub, ast.UAdd)):
            return True
    return False


def _decode_python(text: str, mode: str) -> list[dict[str, Any]]:
    """Python call syntax, following BFCL's prompting decoder, without eval."""
    body = _parse_expression(text)
    if body is None and ";" in text:
        statements = _call_statements(text)
        if statements is not None:
            return [_resolve_call(call) for call in statements]
    if body is None:
        # BFCL wraps the output in [...] when a bracket is missing on either side.
        wrapped = ("" if text.startswith("[") else "[") + text + ("" if text.endswith("]") else "]")
        body = _parse_expression(wrapped) if wrapped != text else None
        if not isinstance(body, ast.List) or not body.elts or not all(isinstance(e, ast.Call) for e in body.elts):
            raise DecodeError("decode:not_json_or_python", "output is neither JSON nor a Python list of calls")
    if isinstance(body, ast.Call):
        return [_resolve_call(body)]
    if isinstance(body, (ast.List, ast.Tuple)) and body.elts and all(isinstance(e, ast.Call) for e in body.elts):
        return [_resolve_call(e) for e in body.elts]
    if isinstance(body, (ast.List, ast.Tuple, ast.Dict, ast.Set, ast.Constant)) and not _has_top_level_call(body):
        # A Python literal such as [{'name': 'f', 'arguments': {...}}].
        return _top_level(_resolve_value(body), mode)
    raise DecodeError("decode:not_a_call_list", f"Python expression is not a list of calls: {_clip(text)}")


def _call_statements(text: str) -> list[ast.Call] | None:
    """`f(a=1); g(b=2);`: call statements separated by semicolons (a trailing one allowed), else None."""
    try:
        module = ast.parse(text, mode="exec")
    except (SyntaxError, ValueError, OverflowError):
        return None
    body = module.body
    if not body or not all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) for s in body):
        return None
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode("utf-8")))
    # Only `;` may separate two statements: calls on separate lines are prose-like and stay an error.
    for before, after in zip(body, body[1:]):
        start = offsets[before.end_lineno - 1] + before.end_col_offset
        end = offsets[after.lineno - 1] + after.col_offset
        if ";" not in text.encode("utf-8")[start:end].decode("utf-8", "replace"):
            return None
    return [statement.value for statement in body]


def _parse_expression(text: str) -> ast.expr | None:
    try:
        return ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, OverflowError):
        return None


def _has_top_level_call(node: ast.expr) -> bool:
    children = node.elts if isinstance(node, (ast.List, ast.Tuple, ast.Set)) else []
    return any(isinstance(child, ast.Call) for child in children)


def _resolve_call(node: ast.Call) -> dict[str, Any]:
    parts = []
    target = node.func
    while isinstance(target, ast.Attribute):
        parts.append(target.attr)
        target = target.value
    if not isinstance(target, ast.Name):
        raise DecodeError("decode:not_a_call_list", f"call target is not a (dotted) name: {_clip(ast.unparse(node.func))}")
    parts.append(target.id)
    # BFCL ignores positional arguments (and so `**kwargs`): keyword arguments only.
    arguments = {kw.arg: _resolve_value(kw.value) for kw in node.keywords if kw.arg is not None}
    return {"name": ".".join(reversed(parts)), "arguments": arguments}


def _resolve_value(node: ast.expr) -> Any:
    """A literal's value; anything that would need running code becomes its source text."""
    if isinstance(node, ast.Constant):
        if node.value is Ellipsis:
            return "..."
        if isinstance(node.value, (str, int, float, bool)) or node.value is None:
            return node.value
        return ast.unparse(node)  # bytes, complex
    if isinstance(node, ast.Name):
        return node.id  # BFCL: a bare name stands for its identifier (a variable reference)
    if isinstance(node, ast.List):
        return [_resolve_value(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_resolve_value(e) for e in node.elts)  # kept: the checker accepts tuple-as-array
    if isinstance(node, ast.Set):
        return [_resolve_value(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):  # {**other}
            return ast.unparse(node)
        keys = [_resolve_value(k) for k in node.keys]
        if not all(_is_scalar(k) for k in keys):
            return ast.unparse(node)
        return {k: _resolve_value(v) for k, v in zip(keys, node.values)}
    if isinstance(node, (ast.UnaryOp, ast.BinOp)):
        number = _arithmetic(node)
        return ast.unparse(node) if number is None else number
    # Nested calls, lambdas, attributes, subscripts, f-strings...: source text.
    return ast.unparse(node)


def _arithmetic(node: ast.expr) -> int | float | None:
    """Evaluate + - * / // % ** on numeric constants; None where that is not possible or safe."""
    if isinstance(node, ast.Constant):
        value = node.value
        return value if type(value) in (int, float) else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _arithmetic(node.operand)
        if operand is None:
            return None
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPS:
        left, right = _arithmetic(node.left), _arithmetic(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            return None
        try:
            result = _BINARY_OPS[type(node.op)](left, right)
        except (ArithmeticError, ValueError):  # division by zero, overflow
            return None
        if isinstance(result, complex) or (isinstance(result, int) and result.bit_length() > MAX_INT_BITS):
            return None
        return result
    return None


# --- objects ---------------------------------------------------------------

def _calls_from_object(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(item, str) for item in value):
            return [call for item in value for call in _quoted_calls(item)]
        calls = []
        for item in value:
            if not isinstance(item, dict):
                raise DecodeError("decode:not_a_call_list", f"list item is not a call object: {_clip(item)}")
            calls.extend(_calls_from_dict(item))
        return calls
    if isinstance(value, dict):
        if "tool_calls" in value or "role" in value:
            return _calls_from_message(value)
        return _calls_from_dict(value)
    raise DecodeError("decode:not_a_call_list", f"expected a list of calls, got {type(value).__name__}: {_clip(value)}")


def _calls_from_message(message: dict[str, Any]) -> list[dict[str, Any]]:
    tool_calls = message.get("tool_calls")
    if tool_calls is None:
        return []
    if not isinstance(tool_calls, list):
        raise DecodeError("decode:not_a_call_list", "message tool_calls is not a list")
    return _calls_from_object(tool_calls)


def _calls_from_dict(item: dict[str, Any]) -> list[dict[str, Any]]:
    """One object: `{name, arguments}`, an OpenAI tool call, or `{fn: {args}, ...}`."""
    function = item.get("function")
    if isinstance(function, dict) and "name" in function and set(item) <= {"id", "type", "function", "index"}:
        return [_make_call(function["name"], function.get("arguments"))]
    if isinstance(item.get("name"), str) and set(item) <= _CALL_KEYS:
        arguments = item["arguments"] if "arguments" in item else item.get("parameters")
        return [_make_call(item["name"], arguments)]
    if item and all(isinstance(k, str) and (isinstance(v, dict) or _is_json_object_text(v))
                    for k, v in item.items()):
        # `{fn: {args}}`, or `{fn: "<JSON of args>"}` as BFCL records function-calling answers.
        return [_make_call(name, arguments) for name, arguments in item.items()]
    raise DecodeError("decode:not_a_call_list", f"object is not a call: {_clip(item)}")


def _is_json_object_text(value: Any) -> bool:
    if not isinstance(value, str) or not value.lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(value), dict)
    except ValueError:
        return False


def _quoted_calls(item: str) -> list[dict[str, Any]]:
    """One list item that is calls written as text, `"f(a=1)"` or `"f(a=1), g(b=2)"` (some models quote them)."""
    body = _parse_expression(item.strip())
    if body is None:
        body = _parse_expression("[" + item.strip() + "]")
    if isinstance(body, ast.Call):
        return [_resolve_call(body)]
    if isinstance(body, (ast.List, ast.Tuple)) and body.elts and all(isinstance(e, ast.Call) for e in body.elts):
        return [_resolve_call(e) for e in body.elts]
    raise DecodeError("decode:not_a_call_list", f"list item is not a call: {_clip(item)}")


def _make_call(name: Any, arguments: Any) -> dict[str, Any]:
    if not isinstance(name, str) or not name.strip():
        raise DecodeError("decode:not_a_call_list", f"call has no function name: {_clip(name)}")
    if arguments is None:
        arguments = {}
    elif isinstance(arguments, str):
        arguments = _arguments_from_json(arguments)
    if not isinstance(arguments, dict):
        raise DecodeError("decode:bad_arguments", f"arguments of {name!r} are not an object: {_clip(arguments)}")
    return {"name": name, "arguments": arguments}


def _arguments_from_json(text: str) -> Any:
    if not text.strip():
        return {}  # OpenAI-style models send "" for a call without arguments
    try:
        value = json.loads(text)
    except ValueError as error:
        raise DecodeError("decode:bad_arguments_json", f"arguments are not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise DecodeError("decode:bad_arguments_json", f"arguments JSON is not an object: {_clip(value)}")
    return value


# --- cleaning --------------------------------------------------------------

def _clean_call(call: dict[str, Any]) -> dict[str, Any]:
    """Copy a call keeping only JSON-like values (plus tuples), bounded in depth and size,
    so the checker can compare anything it is given without surprises."""
    arguments = {}
    for key, value in call["arguments"].items():
        if not isinstance(key, str):
            raise DecodeError("decode:bad_arguments", f"argument name is not a string: {_clip(key)}")
        arguments[_clean_value(key, 1)] = _clean_value(value, 1)
    return {"name": _clean_value(call["name"], 1), "arguments": arguments}


def _clean_value(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise DecodeError("decode:too_deep", f"argument values are nested deeper than {MAX_DEPTH}")
    if isinstance(value, str):
        if has_unpaired_surrogate(value):
            raise DecodeError("decode:bad_text", "an argument holds an unpaired surrogate: not valid Unicode")
        return value
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise DecodeError("decode:bad_arguments", "integer argument is too large")
        return int(value)
    if isinstance(value, list):
        return [_clean_value(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(_clean_value(v, depth + 1) for v in value)
    if isinstance(value, (set, frozenset)):
        return [_clean_value(v, depth + 1) for v in value]
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            if not _is_scalar(key):
                raise DecodeError("decode:bad_arguments", f"object key is not a scalar: {_clip(key)}")
            cleaned[_clean_value(key, depth + 1)] = _clean_value(item, depth + 1)
        return cleaned
    raise DecodeError("decode:bad_arguments", f"argument value of type {type(value).__name__} is not JSON-like")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _clip(value: Any, limit: int = 120) -> str:
    try:
        text = value if isinstance(value, str) else repr(value)
    except (ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."
