"""Java and JavaScript typing rules: source text -> the value the tool spec's type names.

BFCL's Java and JavaScript specs type parameters in the target language
(`boolean`, `long`, `String`, `HashMap`, `ArrayList`; `Boolean`, `Bigint`,
`dict`, `array`; `any`), and answers give each value as source text
(`"true"`, `"50L"`, `"new ArrayList<>(Arrays.asList(\\"a\\"))"`). BFCL's checker
converts the text by the declared type before comparing, and text that does
not have the type's form stays text, so the type check then fails. These are
those rules, written for this project (literals are read by
`schemas/source_text.py`, never evaluated):

Java: byte/short/integer/int `-?\\d+`; long `-?\\d+L`; float `1.5f` (the `f`
is required, as in BFCL); double `1.5` or `1e3`; boolean `true`/`false`; char,
String and any stay text; Array `new T[]{a, b}`; ArrayList
`new ArrayList<T>(Arrays.asList(a, b))`, `new ArrayList<T>() {{ add(a); }}` or
`new ArrayList<>()`; HashMap `new HashMap<K, V>() {{ put("k", v); }}` or
`new HashMap<>()`. Items are typed by the spec's `items` type, else read as
Java literals.

JavaScript: String text (one layer of quotes removed); integer `-?\\d+`;
float a decimal number; Bigint `-?\\d+n`; Boolean `true`/`false`; array
`[a, b]` or `new Array(a, b)`; dict an object literal `{k: v, "k2": [..]}`
(values read as JavaScript literals, identifiers and expressions kept as
text); any stays text.

A value that is already typed (an answer that gave JSON `true` rather than
the text `"true"`) is kept as it is: it is checked against the JSON Schema
type, where BFCL, which demands source text, calls it a type error. A
declared type these rules do not know raises `SourceTypeError`, so the answer
is dead-lettered with the reason instead of being labelled by a guess.
"""
from __future__ import annotations

import copy
import re
from typing import Any

from toolrm_beam.schemas.source_text import SourceTextError, argument_value, split_top_level, string_literal

JAVA, JAVASCRIPT = "java", "javascript"
LANGUAGES = (JAVA, JAVASCRIPT)

# Declared type -> JSON Schema type (None: untyped).
_JAVA_SCHEMA = {
    "byte": "integer", "short": "integer", "integer": "integer", "int": "integer", "long": "integer",
    "float": "number", "double": "number", "boolean": "boolean", "char": "string", "String": "string",
    "Array": "array", "ArrayList": "array", "HashMap": "object", "any": None,
}
_JS_SCHEMA = {
    "String": "string", "integer": "integer", "float": "number", "Bigint": "integer", "Boolean": "boolean",
    "dict": "object", "array": "array", "any": None,
}
_SCHEMA_TYPES = {JAVA: _JAVA_SCHEMA, JAVASCRIPT: _JS_SCHEMA}

_INTEGER = re.compile(r"-?\d+")
_JAVA_LONG = re.compile(r"(-?\d+)[lL]")
_JAVA_FLOAT = re.compile(r"(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)[fF]")
_JAVA_DOUBLE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[dD]?")
_JS_FLOAT = re.compile(r"-?\d+(?:\.\d+)?")
_JS_BIGINT = re.compile(r"(-?\d+)n")
_JS_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BOOLEANS = {"true": True, "false": False}

_JAVA_ARRAY = re.compile(r"new\s+[\w.]+(?:<.*?>)?\s*\[\s*\]\s*\{(.*)\}", re.DOTALL)
_JAVA_AS_LIST = re.compile(r"new\s+ArrayList\s*<.*?>\s*\(\s*Arrays\s*\.\s*asList\s*\((.*)\)\s*\)", re.DOTALL)
_JAVA_ADDS = re.compile(r"new\s+ArrayList\s*<.*?>\s*\(\s*\)\s*\{\s*\{(.*)\}\s*\}", re.DOTALL)
_JAVA_EMPTY_LIST = re.compile(r"new\s+ArrayList\s*<.*?>\s*\(\s*\)")
_JAVA_PUTS = re.compile(r"new\s+HashMap\s*<.*?>\s*\(\s*\)\s*\{\s*\{(.*)\}\s*\}", re.DOTALL)
_JAVA_EMPTY_MAP = re.compile(r"new\s+HashMap\s*<.*?>\s*\(\s*\)(?:\s*\{\s*(?:\{\s*\}\s*)?\})?")
_JAVA_STATEMENT = re.compile(r"(add|put)\s*\((.*)\)", re.DOTALL)
_JS_NEW_ARRAY = re.compile(r"new\s+Array\s*\((.*)\)", re.DOTALL)
_JS_KEY = re.compile(r"[A-Za-z_$][\w$]*|-?\d+(?:\.\d+)?")


class SourceTypeError(ValueError):
    """A declared type that these rules cannot type; `reason` is a stable code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def schema_type(language: str, declared: Any) -> str | None:
    """The JSON Schema type of a declared Java/JavaScript type (None: any value)."""
    table = _table(language)
    if not isinstance(declared, str) or declared not in table:
        raise SourceTypeError("unsupported_source_type",
                              f"{language} type {declared!r} has no typing rule (known: {sorted(table)})")
    return table[declared]


def _table(language: str) -> dict[str, str | None]:
    if language not in _SCHEMA_TYPES:
        raise ValueError(f"unknown language {language!r}; expected one of {LANGUAGES}")
    return _SCHEMA_TYPES[language]


def json_schema_spec(language: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of a Java/JavaScript tool spec with JSON Schema types, for `normalize_tools`."""
    spec = copy.deepcopy(spec)
    parameters = spec.get("parameters")
    if isinstance(parameters, dict):
        for name, schema in (parameters.get("properties") or {}).items():
            _retype(language, schema, f"{spec.get('name')}.{name}")
    return spec


def _retype(language: str, schema: Any, where: str, nested: bool = False) -> None:
    if not isinstance(schema, dict) or "type" not in schema:
        return
    try:
        kind = schema_type(language, schema["type"])
    except SourceTypeError as error:
        if not nested:
            raise SourceTypeError(error.reason, f"{where}: {error.detail}") from None
        # Inside an object value the checker compares values key by key and
        # never types them (as BFCL): an unknown type there leaves the key untyped.
        kind = None
    if kind is None:
        del schema["type"]
    else:
        schema["type"] = kind
    if isinstance(schema.get("items"), dict):
        _retype(language, schema["items"], f"{where}[]", nested)
    for name, sub in (schema.get("properties") or {}).items():
        _retype(language, sub, f"{where}.{name}", True)


def typed_value(language: str, value: Any, declared: Any, items: Any = None) -> Any:
    """`value` converted from source text by its declared type; text without the type's form stays text."""
    schema_type(language, declared)  # unknown types raise
    if not isinstance(value, str):
        return value
    if language == JAVA:
        return _java(value.strip(), declared, items)
    return _javascript(value.strip(), declared, items)


def typed_calls(language: str, calls: list[dict[str, Any]], original_tools: list[dict[str, Any]]
                ) -> list[dict[str, Any]]:
    """Every argument of every call typed by its tool's declared parameter type.

    Calls and parameters the tools do not declare are left as they are (the
    checker reports them); a call may name `a_b` for the tool `a.b`.
    """
    specs = {}
    for tool in original_tools:
        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
            specs.setdefault(tool["name"], tool)
            specs.setdefault(tool["name"].replace(".", "_"), tool)
    out = []
    for call in calls:
        spec = specs.get(call["name"])
        properties = ((spec or {}).get("parameters") or {}).get("properties") or {}
        arguments = {}
        for param, value in call["arguments"].items():
            schema = properties.get(param)
            if isinstance(schema, dict) and "type" in schema:
                items = schema["items"].get("type") if isinstance(schema.get("items"), dict) else None
                value = typed_value(language, value, schema["type"], items)
            arguments[param] = value
        out.append({"name": call["name"], "arguments": arguments})
    return out


# --- Java --------------------------------------------------------------------

def _java(text: str, declared: str, items: Any) -> Any:
    if declared in ("byte", "short", "integer", "int"):
        return int(text) if _INTEGER.fullmatch(text) else text
    if declared == "long":
        match = _JAVA_LONG.fullmatch(text)
        return int(match.group(1)) if match else text
    if declared == "float":
        match = _JAVA_FLOAT.fullmatch(text)
        return float(match.group(1)) if match else text
    if declared == "double":
        return float(text.rstrip("dD")) if _JAVA_DOUBLE.fullmatch(text) else text
    if declared == "boolean":
        return _BOOLEANS.get(text, text)
    if declared in ("Array", "ArrayList"):
        elements = _java_elements(text, declared)
        return text if elements is None else [_java_item(e, items) for e in elements]
    if declared == "HashMap":
        return _java_map(text)
    return text  # char, String, any: the text itself


def _java_elements(text: str, declared: str) -> list[str] | None:
    """The element texts of an array or list creation expression; None if `text` is not one."""
    try:
        if declared == "Array":
            match = _JAVA_ARRAY.fullmatch(text)
            return _pieces(match.group(1)) if match else None
        match = _JAVA_AS_LIST.fullmatch(text)
        if match:
            return _pieces(match.group(1))
        match = _JAVA_ADDS.fullmatch(text)
        if match:
            return [_statement_arguments(s, "add")[0] for s in _pieces(match.group(1), ";")]
        return [] if _JAVA_EMPTY_LIST.fullmatch(text) else None
    except (SourceTextError, _NotStatements):
        return None


def _java_map(text: str) -> Any:
    if _JAVA_EMPTY_MAP.fullmatch(text):
        return {}
    match = _JAVA_PUTS.fullmatch(text)
    if not match:
        return text
    out = {}
    try:
        for statement in _pieces(match.group(1), ";"):
            key, value = _statement_arguments(statement, "put")
            out[argument_value(key)] = _java_literal(value)
    except (SourceTextError, _NotStatements, ValueError):
        return text
    return out


class _NotStatements(ValueError):
    pass


def _statement_arguments(statement: str, method: str) -> list[str]:
    match = _JAVA_STATEMENT.fullmatch(statement)
    if not match or match.group(1) != method:
        raise _NotStatements(statement)
    arguments = split_top_level(match.group(2))
    if len(arguments) != (1 if method == "add" else 2):
        raise _NotStatements(statement)
    return arguments


def _java_item(text: str, items: Any) -> Any:
    if items in ("String", "char"):
        literal = string_literal(text)
        return literal if literal is not None else text
    if isinstance(items, str) and items in _JAVA_SCHEMA and items != "any":
        return _java(text, items, None)
    return _java_literal(text)


def _java_literal(text: str) -> Any:
    """A Java literal read without a declared type: boolean, string, long, float, int, double, else text."""
    text = text.strip()
    if text in _BOOLEANS:
        return _BOOLEANS[text]
    literal = string_literal(text)
    if literal is not None:
        return literal
    for pattern, convert in ((_JAVA_LONG, int), (_JAVA_FLOAT, float)):
        match = pattern.fullmatch(text)
        if match:
            return convert(match.group(1))
    if _INTEGER.fullmatch(text):
        return int(text)
    if _JAVA_DOUBLE.fullmatch(text):
        return float(text.rstrip("dD"))
    return text


# --- JavaScript ---------------------------------------------------------------

def _javascript(text: str, declared: str, items: Any) -> Any:
    if declared == "String":
        literal = string_literal(text)
        return literal if literal is not None else text
    if declared == "integer":
        return int(text) if _INTEGER.fullmatch(text) else text
    if declared == "float":
        return float(text) if _JS_FLOAT.fullmatch(text) else text
    if declared == "Bigint":
        match = _JS_BIGINT.fullmatch(text)
        return int(match.group(1)) if match else text
    if declared == "Boolean":
        return _BOOLEANS.get(text, text)
    if declared == "array":
        elements = _js_elements(text)
        if elements is None:
            return text
        if isinstance(items, str) and items in _JS_SCHEMA and items != "any":
            return [_javascript(e, items, None) for e in elements]
        return [_js_literal(e) for e in elements]
    if declared == "dict":
        value = _js_literal(text)
        return value if isinstance(value, dict) else text
    return text  # any


def _js_elements(text: str) -> list[str] | None:
    try:
        if text.startswith("[") and text.endswith("]") and split_top_level(text, "") == [text]:
            return _pieces(text[1:-1])
        match = _JS_NEW_ARRAY.fullmatch(text)
        return _pieces(match.group(1)) if match else None
    except SourceTextError:
        return None


def _js_literal(text: str) -> Any:
    """A JavaScript literal: string, number, boolean, null, array, object; anything else stays text."""
    text = text.strip()
    if text in _BOOLEANS:
        return _BOOLEANS[text]
    if text == "null":
        return None
    literal = string_literal(text)
    if literal is not None:
        return literal
    if _INTEGER.fullmatch(text):
        return int(text)
    if _JS_NUMBER.fullmatch(text):
        return float(text)
    elements = _js_elements(text)
    if elements is not None:
        return [_js_literal(e) for e in elements]
    if text.startswith("{") and text.endswith("}"):
        try:
            if split_top_level(text, "") != [text]:
                return text
            return _js_object(text[1:-1])
        except (SourceTextError, _NotStatements):
            return text
    return text


def _js_object(body: str) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for entry in _pieces(body):
        key_text, sep, value = _key_and_value(entry)
        if not sep:
            if not re.fullmatch(r"[A-Za-z_$][\w$]*", key_text):  # shorthand `{a}` means {a: a}
                raise _NotStatements(entry)
            out[key_text] = key_text
            continue
        key = string_literal(key_text)
        if key is None:
            if not _JS_KEY.fullmatch(key_text):
                raise _NotStatements(entry)
            key = key_text
        out[key] = _js_literal(value)
    return out


def _key_and_value(entry: str) -> tuple[str, str, str]:
    """`key: value` split at the first top-level colon (not inside the key's quotes)."""
    literal_end = 0
    if entry[:1] in "\"'`":
        literal = re.match(r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`)", entry, re.DOTALL)
        literal_end = literal.end() if literal else 0
    colon = entry.find(":", literal_end)
    if colon < 0:
        return entry.strip(), "", ""
    return entry[:colon].strip(), ":", entry[colon + 1:]


def _pieces(text: str, separator: str = ",") -> list[str]:
    """Non-empty top-level pieces (a trailing separator is allowed)."""
    pieces = split_top_level(text, separator)
    if pieces and not pieces[-1]:
        pieces = pieces[:-1]
    if any(not piece for piece in pieces):
        raise SourceTextError("empty element")
    return pieces
