"""Plausible values for a parameter, taken from the conversation where possible.

Used wherever a perturbation needs a value the reference does not give: the
arguments of a sibling function, a call made where none was right, a guessed
value for a parameter the user never stated. A model that hallucinates picks
something the user mentioned, the schema's default, or a typical value for
the parameter's name, so that is the order here.
"""
from __future__ import annotations

import random
import re
from typing import Any

from toolrm_beam.schemas.checker import standardize_string
from toolrm_beam.transforms.rules import spec
from toolrm_beam.transforms.rules.text import Conversation
from toolrm_beam.transforms.rules.tokens import identifier_words

NOTHING = object()  # no plausible value

_DATE_WORDS = {"date", "day", "deadline", "birthday", "dob", "checkin", "checkout"}
_TIME_WORDS = {"time", "hour"}
_PLACE_WORDS = {"location", "city", "country", "place", "address", "destination", "origin",
                "region", "state", "area", "venue", "from", "to", "departure", "arrival"}
_ID_WORDS = {"id", "identifier", "code", "number", "key", "token", "uuid", "sku"}
_COUNT_WORDS = {"limit", "count", "max", "size", "num", "results", "top", "amount", "quantity"}
# Typical values for common parameter names, when the text offers nothing.
_TYPICAL_STRINGS = {
    "language": "English", "lang": "en", "locale": "en-US", "currency": "USD", "unit": "metric",
    "units": "metric", "format": "json", "sort": "desc", "order": "desc", "country": "US",
    "timezone": "UTC", "email": "user@example.com", "url": "https://example.com",
    "status": "active", "mode": "standard",
}
_NOT_CLOCK = {"frame", "period", "range", "zone", "window", "span", "line", "series"}


def _words(name: str) -> set[str]:
    return set(identifier_words(name))


def _mentioned(option: Any, conversation: Conversation) -> bool:
    return isinstance(option, str) and len(option) > 1 and standardize_string(option) in \
        standardize_string(conversation.user_text)


def guess_value(name: str, schema: Any, conversation: Conversation, rng: random.Random,
                avoid: tuple = (), depth: int = 0) -> Any:
    """A plausible value for parameter `name`, or NOTHING."""
    schema = schema if isinstance(schema, dict) else {}
    enum = spec.enum_of(schema)
    if enum is not None:
        options = [o for o in enum if o not in avoid]
        if not options:
            return NOTHING
        mentioned = [o for o in options if _mentioned(o, conversation)]
        return mentioned[0] if mentioned else rng.choice(options)
    json_type = spec.main_type(schema) or "string"
    default = schema.get("default")
    words = _words(name)
    if json_type == "boolean":
        return True if default is not True else False
    if json_type in ("integer", "number"):
        return _guess_number(json_type, schema, words, conversation, avoid, default)
    if json_type == "array":
        if depth > 2:
            return NOTHING
        item = guess_value(name, spec.items_of(schema), conversation, rng, avoid, depth + 1)
        return NOTHING if item is NOTHING else [item]
    if json_type == "object":
        if depth > 2:
            return NOTHING
        properties = spec.properties_of(schema)
        keys = spec.required_of(schema) or list(properties)[:2]
        out: dict[str, Any] = {}
        for key in keys:
            # Values already used in this object are avoided: a range gets two dates.
            used = tuple(v for v in out.values() if isinstance(v, (str, int, float)))
            value = guess_value(key, properties.get(key), conversation, rng, used, depth + 1)
            if value is not NOTHING:
                out[key] = value
        return out
    return _guess_string(name, schema, words, conversation, avoid, default)


def _guess_number(json_type: str, schema: dict, words: set[str], conversation: Conversation,
                  avoid: tuple, default: Any) -> Any:
    numbers = [n for n in conversation.numbers if n not in avoid]
    if json_type == "integer":
        numbers = [int(n) for n in numbers if float(n).is_integer()]
    else:
        numbers = [float(n) for n in numbers]
    options = [n for n in numbers if spec.within_bounds(n, schema)]
    if not options and spec.is_type(default, json_type) and default not in avoid:
        options = [default]
    if not options:
        low = schema.get("minimum")
        if isinstance(low, (int, float)) and not isinstance(low, bool):
            options = [low]
        elif words & _COUNT_WORDS:
            options = [10]
        elif "year" in words:
            options = [int((conversation.today or "2024")[:4])]
        else:
            options = [1]
    value = options[0]
    return float(value) if json_type == "number" else int(value)


def _guess_string(name: str, schema: dict, words: set[str], conversation: Conversation,
                  avoid: tuple, default: Any) -> Any:
    fmt = schema.get("format")
    avoid_norm = {standardize_string(a) for a in avoid if isinstance(a, str)}

    def first(options: list[str]) -> str | None:
        return next((o for o in options if standardize_string(o) not in avoid_norm), None)

    dates = conversation.dates + [d for d in (conversation.today, "2024-01-01", "2024-01-31") if d]
    if fmt == "date-time":
        return f"{first(dates) or dates[0]}T09:00:00"
    if fmt == "date" or words & _DATE_WORDS:
        return first(dates) or dates[0]
    last = identifier_words(name)[-1:] or [""]
    if fmt == "time" or last[0] in _TIME_WORDS and not words & (_DATE_WORDS | _NOT_CLOCK):
        return first(conversation.times + ["10:00", "18:00"]) or "10:00"
    if fmt == "email" or "email" in words:
        return first(conversation.emails) or "user@example.com"
    if fmt in ("uri", "url") or words & {"url", "link", "uri", "website"}:
        return first(conversation.urls) or "https://example.com"
    if words & _ID_WORDS:
        with_digits = [q for q in conversation.quoted + conversation.names if re.search(r"\d", q)]
        found = first(with_digits)
        if found:
            return found
    if words & _PLACE_WORDS:
        found = first(conversation.names)
        if found:
            return found
    found = first(conversation.quoted) or first(conversation.names)
    if found:
        return found
    if isinstance(default, str) and default and standardize_string(default) not in avoid_norm:
        return default
    for word in identifier_words(name):  # in order: a set's order varies by process
        if word in _TYPICAL_STRINGS:
            return _TYPICAL_STRINGS[word]
    if words & _ID_WORDS:
        return "12345"
    content = [w for w in conversation.words if standardize_string(w) not in avoid_norm]
    if content:
        return " ".join(content[:2])
    return NOTHING
