"""Read calls and literals written in Java or JavaScript syntax, keeping values as source text.

BFCL's Java and JavaScript categories ask for calls such as
`[Foo.bar(limit=50L, names=new ArrayList<>(Arrays.asList("a", "b")))]`: the
argument values are source text in the target language, typed later by the
tool spec (`schemas/source_types.py`). This module only splits text, never
evaluates it: top-level pieces respecting brackets and quoted literals, the
content of a string literal, and the calls of an answer with each argument's
source text.
"""
from __future__ import annotations

import re
from typing import Any

from toolrm_beam.schemas.decoding import MAX_OUTPUT_CHARS, DecodeError, strip_fence

_CLOSING = {"(": ")", "[": "]", "{": "}"}
_QUOTES = "\"'`"
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0", "\\": "\\", "'": "'", '"': '"', "`": "`"}

_CALL = re.compile(r"^\s*([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)\s*\((.*)\)\s*$", re.DOTALL)
_NAMED = re.compile(r"^\s*([A-Za-z_$][\w$]*)\s*=(?![=>])(.*)$", re.DOTALL)


class SourceTextError(ValueError):
    """Text that does not split as Java/JavaScript source (unbalanced brackets or quotes)."""


def split_top_level(text: str, separators: str = ",") -> list[str]:
    """`text` cut at separators outside brackets and quoted literals; pieces stripped, empty ones kept."""
    pieces, stack, start, index = [], [], 0, 0
    while index < len(text):
        char = text[index]
        if char in _QUOTES:
            index = _end_of_literal(text, index)
            continue
        if char in _CLOSING:
            stack.append(_CLOSING[char])
        elif char in ")]}":
            if not stack or stack.pop() != char:
                raise SourceTextError(f"unbalanced {char!r} at {index}")
        elif char in separators and not stack:
            pieces.append(text[start:index].strip())
            start = index + 1
        index += 1
    if stack:
        raise SourceTextError(f"unclosed bracket (expected {stack[-1]!r})")
    pieces.append(text[start:].strip())
    return pieces


def _end_of_literal(text: str, start: int) -> int:
    """Index just past the quoted literal that opens at `start`."""
    quote, index = text[start], start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == quote:
            return index + 1
        index += 1
    raise SourceTextError(f"unclosed {quote} literal at {start}")


def string_literal(text: str) -> str | None:
    """The content of `text` if it is exactly one quoted literal ('..', "..", `..`), escapes resolved; else None."""
    text = text.strip()
    if len(text) < 2 or text[0] not in _QUOTES:
        return None
    try:
        if _end_of_literal(text, 0) != len(text):
            return None
    except SourceTextError:
        return None
    return _unescape(text[1:-1])


def _unescape(body: str) -> str:
    out, index = [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            following = body[index + 1]
            if following == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[index + 2:index + 6]):
                out.append(chr(int(body[index + 2:index + 6], 16)))
                index += 6
                continue
            out.append(_ESCAPES.get(following, following))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def argument_value(text: str) -> str:
    """An argument's source text: a string literal's content, anything else as written (trimmed)."""
    literal = string_literal(text)
    return literal if literal is not None else text.strip()


def decode_source_calls(output: str) -> list[dict[str, Any]]:
    """`[a.b(x=1, y="s"), c(z=new Foo())]` (brackets optional, `;` also separates calls) -> calls.

    Every argument value is a string: a literal's content or the expression's
    source text. Positional arguments are ignored, as BFCL ignores them; an
    argument piece that does not start with `name=` continues the previous
    one (a comma inside generics, `new HashMap<String, Object>()`).
    Raises DecodeError("decode:not_source_calls") for anything else.
    """
    if not isinstance(output, str):
        raise DecodeError("decode:not_source_calls", f"expected text, got {type(output).__name__}")
    if len(output) > MAX_OUTPUT_CHARS:
        raise DecodeError("decode:too_large", f"output has {len(output)} characters (limit {MAX_OUTPUT_CHARS})")
    # Markdown-escaped underscores (`node\\_type=`), as some models write them; inside a
    # literal, `\\_` would read as `_` anyway.
    text = strip_fence(output.strip()).replace("\\_", "_")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        pieces = [piece for piece in split_top_level(text, ",;") if piece]
        calls = [_source_call(piece) for piece in pieces]
    except SourceTextError as error:
        raise DecodeError("decode:not_source_calls", f"not calls in source syntax: {error}") from None
    return calls


def _source_call(piece: str) -> dict[str, Any]:
    match = _CALL.match(piece)
    if match is None:
        raise SourceTextError(f"not a call: {piece[:80]!r}")
    name = re.sub(r"\s+", "", match.group(1))
    arguments: dict[str, str] = {}
    current: list[str] | None = None   # [name, source text so far] of the argument being read
    for part in split_top_level(match.group(2), ","):
        named = _NAMED.match(part)
        if named is not None:
            current = [named.group(1), named.group(2)]
            if current[0] in arguments:
                raise SourceTextError(f"argument {current[0]!r} given twice")
            arguments[current[0]] = ""
        elif current is not None:
            current[1] += ", " + part
        else:
            continue  # positional argument: ignored
        arguments[current[0]] = argument_value(current[1])
    return {"name": name, "arguments": arguments}
