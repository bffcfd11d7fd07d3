"""Parse corpus JSON strictly: refuse what `json.loads` lets through that is not data.

Python's `json` accepts `NaN`, `Infinity` and `-Infinity` (not JSON), keeps
the last of duplicate keys without a word, and decodes an unpaired surrogate
escape (`"\\ud83d"`) into a string that cannot be written as UTF-8 later (the
Parquet writer, a hash or a JSONL writer then fails). A row holding any of
them is refused here with a stable reason, so it ends in the dead letter at
ingest instead of a wrong label or a crash in a later stage.

Reasons: `malformed_json`, `non_standard_json_constant`, `duplicate_key`,
`unpaired_surrogate`, `non_finite_number` (a NaN/inf float from a Parquet cell).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

# Python strings hold a surrogate code point only when it was unpaired: json
# and UTF-8 decoding combine valid pairs into one character.
_SURROGATE = re.compile("[\ud800-\udfff]")


class StrictJSONError(ValueError):
    """JSON text that is not data; `reason` is a stable code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class _Flaw:
    """Stands where a parse found a flaw, so the element holding it can be named."""

    __slots__ = ("reason", "detail")

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        self.detail = detail


def parse(text: str | bytes) -> Any:
    """Parse JSON text, leaving a flaw marker where a value is not data (see `problem`).

    For files holding many rows (a JSON array) whose bad elements must be
    refused one by one; `loads` is the one-value form. Raises StrictJSONError
    (`malformed_json`) for text that is not JSON at all.
    """
    return _parse(text)[0]


def _parse(text: str | bytes) -> tuple[Any, bool]:
    """The value, and whether it may hold a flaw (else `problem` need not walk it)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    flawed = []

    def constant(name: str) -> _Flaw:
        flawed.append(name)
        return _Flaw("non_standard_json_constant", f"{name} is not a JSON value")

    def number(literal: str) -> Any:
        value = float(literal)
        if math.isfinite(value):
            return value
        flawed.append(literal)
        return _Flaw("non_finite_number", f"{literal[:40]} is too large for a JSON number")

    def unique(pairs: list[tuple[str, Any]]) -> Any:
        value = dict(pairs)
        if len(value) == len(pairs):
            return value
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        flawed.append(duplicate)
        return _Flaw("duplicate_key", f"key {_clip(duplicate)} appears more than once in one object")

    try:
        value = json.loads(text, parse_constant=constant, parse_float=number, object_pairs_hook=unique)
        # An unpaired surrogate can only come from an escape (UTF-8 text cannot hold one).
        return value, bool(flawed) or "\\ud" in text or "\\uD" in text or has_unpaired_surrogate(text)
    except json.JSONDecodeError as error:
        raise StrictJSONError("malformed_json", f"{error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise StrictJSONError("malformed_json", "nesting too deep to parse") from None
    except ValueError as error:  # an integer over Python's digit limit
        raise StrictJSONError("malformed_json", str(error)[:200]) from None


def loads(text: str | bytes) -> Any:
    """`json.loads`, refusing NaN/Infinity, duplicate keys and unpaired surrogates (StrictJSONError)."""
    value, suspicious = _parse(text)
    found = problem(value) if suspicious else None
    if found is not None:
        raise StrictJSONError(*found)
    return value


def problem(value: Any, *, strings: bool = True) -> tuple[str, str] | None:
    """The first reason `value` is not clean data, as `(reason, detail)`, or None.

    Finds parse flaws, non-finite floats and (with `strings`) strings or keys
    holding an unpaired surrogate. Strings read from Parquet are valid UTF-8
    already, so their reader passes `strings=False`.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if strings and not item.isascii() and _SURROGATE.search(item):
                return "unpaired_surrogate", f"text holds an unpaired surrogate ({_surrogate(item)}), not valid Unicode"
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and strings and not key.isascii() and _SURROGATE.search(key):
                    return "unpaired_surrogate", f"a key holds an unpaired surrogate ({_surrogate(key)})"
                stack.append(sub)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "non_finite_number", f"{item!r} is not a JSON number"
        elif isinstance(item, _Flaw):
            return item.reason, item.detail
    return None


def has_unpaired_surrogate(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def _surrogate(text: str) -> str:
    match = _SURROGATE.search(text)
    return f"U+{ord(match.group()):04X}" if match else "?"


def _clip(value: Any, limit: int = 80) -> str:
    text = repr(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "..."
