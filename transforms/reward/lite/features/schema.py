"""What the features read from tool specs: JSON-Schema types, and per-tool/per-parameter facts.

`tool_info` shares one ToolInfo among every example that offers the same spec
(bounded cache, keyed by the spec's content).
"""
from __future__ import annotations

import functools
import marshal
import re
from collections import OrderedDict
from typing import Any

from toolrm_beam.transforms.reward.lite.features.conventions import Conventions, conventions_of
from toolrm_beam.transforms.reward.lite.features.text import STOPWORDS, content_stems, identifier_words, standardize, stem, \
    value_shape
from toolrm_beam.transforms.reward.lite.features.value_classes import param_class

_TYPE_ALIASES = {"dict": "object", "float": "number", "tuple": "array", "list": "array", "int": "integer",
                 "str": "string", "bool": "boolean", "any": None}
_EXAMPLE_QUOTED = re.compile(r"'([^'\n]{1,40})'|\"([^\"\n]{1,40})\"")
_EXAMPLE_EG = re.compile(r"(?:e\.g\.|eg\.|for example|such as|like)[,:]?\s+([^;()\n]{1,40})", re.I)
_EXAMPLE_EG_WORDS = ("e.g.", "eg.", "for example", "such as", "like")
# characters that match a letter of those words case-insensitively without lower-casing to it
_EXAMPLE_EG_ODD_CASES = ("\u0130", "\u0131", "\u017f")  # İ ı ſ
_NOT_KEY_CHARS = re.compile(r"[^a-z0-9]")
# words of parameter names that say nothing about which value a parameter takes
GENERIC_PARAM_WORDS = frozenset(stem(w) for w in """
include includes detail details detailed type name id data info information value values analysis use enable
enabled option options flag is has get set list number num count level mode status preference preferences
setting settings request user target specific custom parameter param params input output format kind
""".split())


def schema_types(schema: Any) -> list[str]:
    if not isinstance(schema, dict):
        return []
    declared = schema.get("type")
    if isinstance(declared, str):
        declared = [declared]
    out = []
    if isinstance(declared, list):
        for t in declared:
            if isinstance(t, str):
                t = _TYPE_ALIASES.get(t, t)
                if t:
                    out.append(t)
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list):
            for branch in branches:
                out.extend(t for t in schema_types(branch) if t not in out)
    return out


def type_ok(value: Any, types: list[str]) -> bool:
    if not types:
        return True
    for t in types:
        if t == "string" and isinstance(value, str):
            return True
        if t == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if t == "boolean" and isinstance(value, bool):
            return True
        if t == "array" and isinstance(value, (list, tuple)):
            return True
        if t == "object" and isinstance(value, dict):
            return True
        if t == "null" and value is None:
            return True
        if t not in ("string", "integer", "number", "boolean", "array", "object", "null"):
            return True
    return False


def _may_give_examples(description: str) -> bool:
    """False where _EXAMPLE_EG cannot match (a cheap test before the regex)."""
    low = description.lower()
    return any(w in low for w in _EXAMPLE_EG_WORDS) or any(c in description for c in _EXAMPLE_EG_ODD_CASES)


def key_of(name: str) -> str:
    """A name reduced to lower-case letters and digits (`get_weather` and `getWeather` meet)."""
    return _NOT_KEY_CHARS.sub("", name.lower())


class ParamInfo:
    """What the features read about one parameter's schema; the costlier parts on first use."""

    def __init__(self, name: str, schema: Any):
        schema = schema if isinstance(schema, dict) else {}
        self.name = name
        self.schema = schema
        self.types = schema_types(schema)
        enum = schema.get("enum")
        self.enum = enum if isinstance(enum, list) and enum else None
        minimum, maximum = schema.get("minimum"), schema.get("maximum")
        self.minimum = minimum if isinstance(minimum, (int, float)) else None
        self.maximum = maximum if isinstance(maximum, (int, float)) else None
        self.has_default = "default" in schema
        self.default = schema.get("default")
        description = schema.get("description")
        self.description = description if isinstance(description, str) else ""
        props = schema.get("properties")
        self.properties = props if isinstance(props, dict) else None
        req = schema.get("required")
        self.required = [r for r in req if isinstance(r, str)] if isinstance(req, list) else []
        items = schema.get("items")
        self.items = items if isinstance(items, dict) else None

    @functools.cached_property
    def name_parts(self) -> list[str]:
        """The words of the parameter's name (`start_date`, `startDate` -> start, date)."""
        return identifier_words(self.name)

    @functools.cached_property
    def words(self) -> set[str]:
        return {stem(w) for w in self.name_parts if len(w) > 2 and w not in STOPWORDS}

    @functools.cached_property
    def align_words(self) -> set[str]:
        return {stem(w) for w in self.name_parts if len(w) >= 2 and w not in STOPWORDS}

    @functools.cached_property
    def enum_norm(self) -> set[str] | None:
        return {standardize(str(e)) for e in self.enum} if self.enum else None

    @functools.cached_property
    def norm_name(self) -> str:
        return standardize(self.name)

    @functools.cached_property
    def value_class(self) -> str | None:
        return param_class(self.name, self.name_parts)

    @functools.cached_property
    def date_format(self) -> bool:
        return self.schema.get("format") in ("date", "date-time") or "yyyy-mm-dd" in self.description.lower() \
            or "yyyy-mm-dd" in str(self.schema.get("pattern", "")).lower()

    @functools.cached_property
    def _examples(self) -> list[tuple]:
        examples = []
        for m in _EXAMPLE_QUOTED.finditer(self.description):
            examples.append(next(g for g in m.groups() if g))
        if not examples and _may_give_examples(self.description):
            for m in _EXAMPLE_EG.finditer(self.description):
                examples.append(m.group(1).strip().rstrip("."))
        return [value_shape(e) for e in examples[:4] if e.strip()]

    @functools.cached_property
    def conventions(self) -> Conventions:
        """What the description says values must look like (options, range, form, date pattern)."""
        return conventions_of(self.description)

    def shape_examples(self) -> list[tuple]:
        """Shapes of the example values the description gives ("e.g. 'San Francisco, CA'")."""
        return self._examples


class ToolInfo:
    __slots__ = ("name", "_properties", "_params", "required", "words", "name_words", "key")

    def __init__(self, tool: dict):
        self.name = tool.get("name") or ""
        parameters = tool.get("parameters") if isinstance(tool.get("parameters"), dict) else {}
        props = parameters.get("properties") if isinstance(parameters.get("properties"), dict) else {}
        self._properties = props
        self._params = None
        req = parameters.get("required")
        self.required = [r for r in req if isinstance(r, str)] if isinstance(req, list) else []
        self.name_words = {stem(w) for w in identifier_words(self.name) if len(w) > 1 and w not in STOPWORDS}
        words = set(self.name_words) | content_stems(tool.get("description") or "")
        for p in props:
            words |= content_stems(p)
        self.words = words
        self.key = key_of(self.name)

    @property
    def params(self) -> dict[str, ParamInfo]:
        """ParamInfo of each parameter, made on first use: most tools an example offers are not called."""
        params = self._params
        if params is None:
            params = self._params = {k: ParamInfo(k, v) for k, v in self._properties.items()}
        return params


_TOOL_CACHE: OrderedDict[bytes | str, ToolInfo] = OrderedDict()
_TOOL_CACHE_SIZE = 20_000


def tool_info(tool: dict) -> ToolInfo:
    """ToolInfo of a tool spec, shared by every example offering the same spec."""
    try:
        # marshal (version 2: no back-references) writes a JSON-like spec exactly (types
        # included) and faster than repr; repr for anything marshal does not take
        key = marshal.dumps(tool, 2)
    except ValueError:
        try:
            key = repr(tool)
        except (TypeError, ValueError, RecursionError):
            return ToolInfo(tool)
    info = _TOOL_CACHE.get(key)
    if info is None:
        info = ToolInfo(tool)
        _TOOL_CACHE[key] = info
        if len(_TOOL_CACHE) > _TOOL_CACHE_SIZE:
            _TOOL_CACHE.popitem(last=False)
    return info
