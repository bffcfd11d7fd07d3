"""Other ways of writing a value that the checker does not equate.

BFCL's string normalization only drops spaces and `, . / - _ * ^` and
lower-cases, so `06/15/2023` is not `2023-06-15`, `NYC` is not `New York`
and `2:00 PM` is not `14:00`: each is a realistic wrong value. Numbers slip
by one, by a factor of ten or a hundred (a rate as 5 instead of 0.05), in
sign (a western longitude) or in precision.
"""
from __future__ import annotations

import datetime
import re
from typing import Any

from toolrm_beam.transforms.rules.text import Conversation

# Variants a model produces for the same intent.
_VARIANT_PAIRS = [
    ("celsius", "fahrenheit"), ("metric", "imperial"), ("kilometers", "miles"), ("km", "mi"),
    ("kg", "lbs"), ("kilograms", "pounds"), ("meters", "feet"), ("USD", "EUR"), ("dollars", "euros"),
    ("New York", "NYC"), ("New York City", "NYC"), ("New York", "New York City"),
    ("Los Angeles", "LA"), ("San Francisco", "SF"), ("Washington", "Washington DC"),
    ("United States", "USA"), ("United States", "US"), ("United Kingdom", "UK"),
    ("English", "en"), ("Spanish", "es"), ("French", "fr"), ("German", "de"), ("Chinese", "zh"),
    ("Japanese", "ja"), ("en", "en-US"), ("ascending", "descending"), ("asc", "desc"),
    ("daily", "weekly"), ("weekly", "monthly"), ("monthly", "yearly"), ("morning", "afternoon"),
    ("afternoon", "evening"), ("high", "medium"), ("medium", "low"), ("minimum", "maximum"),
    ("buy", "sell"), ("male", "female"), ("enable", "disable"), ("on", "off"), ("open", "closed"),
    ("hot", "warm"), ("cold", "warm"), ("large", "medium"), ("small", "medium"),
]
_VARIANTS: dict[str, list[str]] = {}
for _a, _b in _VARIANT_PAIRS:
    _VARIANTS.setdefault(_a.lower(), []).append(_b)
    _VARIANTS.setdefault(_b.lower(), []).append(_a)
# Variants found inside a longer value ("weather in New York" -> "weather in NYC");
# short keys such as "on" or "es" only ever match a whole value.
_INNER_VARIANT = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(_VARIANTS, key=len, reverse=True)
                      if " " in k or len(k) > 3) + r")\b", re.IGNORECASE)

_RATE_WORDS = {"rate", "percent", "percentage", "ratio", "probability", "interest", "tax",
               "discount", "fraction", "share", "growth", "yield"}
_COORD_WORDS = {"lat", "latitude", "lon", "lng", "longitude", "long", "coordinate", "coordinates"}

ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
ISO_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})([T ])(\d{2}):(\d{2})(.*)$")
CLOCK_TIME = re.compile(r"^(\d{1,2}):(\d{2})(:\d{2})?$")
NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")
_DIGIT = re.compile(r"\d")
_URL = re.compile(r"^(https?://)(www\.)?(.+)$")
_EMAIL = re.compile(r"^([\w.+-]+@[\w-]+\.)(\w+)$")


def written_variants(value: str) -> list[str]:
    """Unit, abbreviation and format variants of a text value, and of URLs and e-mails."""
    lowered = value.lower()
    if lowered in _VARIANTS:
        return [_match_case(v, value) for v in _VARIANTS[lowered]]
    match = _URL.match(value)
    if match:  # `https://site.com` -> `site.com`, `https://www.site.com`
        scheme, www, rest = match.groups()
        return [f"{www or ''}{rest}", f"{scheme}{'' if www else 'www.'}{rest}"]
    match = _EMAIL.match(value)
    if match:  # `a@b.com` -> `a@b.org`
        return [match[1] + ("org" if match[2] != "org" else "com")]
    match = _INNER_VARIANT.search(value)
    if not match:
        return []
    return [value[:match.start()] + r + value[match.end():] for r in _VARIANTS[match.group(1).lower()]]


def integer_alternatives(value: int, numbers: list) -> list[int]:
    """Another number the user wrote (closest first), one off, ten times."""
    from_text = sorted((int(n) for n in numbers if float(n).is_integer() and int(n) != value),
                       key=lambda n: abs(n - value))
    near = [value + 1, value - 1] if value > 0 else [value + 1] if value == 0 else [value - 1, value + 1]
    if 1900 <= value <= 2100:  # a year: the neighbouring year is the classic slip
        return near + from_text[:2]
    scaled = [value * 10] + ([value // 10] if value and value % 10 == 0 else [])
    return from_text[:1] + near + from_text[1:3] + scaled


def float_alternatives(value: float, words: set[str], numbers: list) -> list[float]:
    """For a parameter named by `words`: a number from the text, a rate scaled, a rounding."""
    rounded = next((float(round(value, d)) for d in (2, 1, 0) if float(round(value, d)) != value), None)
    if words & _COORD_WORDS:
        # A coordinate: the sign (west/south) or precision goes wrong, not
        # another number from the text.
        options = ([-value] if value else []) + ([rounded] if rounded is not None else []) + [value + 1.0]
        return [float(o) for o in options]
    from_text = sorted((float(n) for n in numbers if float(n) != value), key=lambda n: abs(n - value))
    options = []
    if words & _RATE_WORDS or 0 < abs(value) < 1:
        options += [round(value * 100, 6)]   # a fraction sent as the percentage (0.05 -> 5)
    options += from_text[:1]
    if words & _RATE_WORDS or 0 < abs(value) < 1:
        options += [round(value / 100, 8)]
    if rounded is not None:
        options.append(rounded)
    options += [value + 1.0] + from_text[1:3]
    return [float(o) for o in options]


def dated_or_numeric_alternatives(value: str, conversation: Conversation) -> list[str] | None:
    """Alternatives for a date, date-time, clock time or number written as text; None otherwise."""
    text = value.strip()
    match = ISO_DATE.match(text)
    if match:
        try:
            day = datetime.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return []
        others = [d for d in conversation.dates if d != text]
        options = others[:1] + [(day + datetime.timedelta(days=1)).isoformat(), day.strftime("%m/%d/%Y")]
        options += others[1:2] + [_replace_year(day, day.year - 1), day.strftime("%B %d, %Y"),
                                  (day - datetime.timedelta(days=1)).isoformat()]
        return [o for o in options if o]
    match = ISO_DATETIME.match(text)
    if match:
        date, sep, hour, minute, rest = match.groups()
        hour_next = f"{date}{sep}{(int(hour) + 1) % 24:02d}:{minute}{rest}"
        others = [f"{d}{sep}{hour}:{minute}{rest}" for d in conversation.dates if d != date]
        day_next = dated_or_numeric_alternatives(date, conversation) or []
        return others[:1] + [hour_next] + [f"{d}{sep}{hour}:{minute}{rest}" for d in day_next[:1]]
    match = CLOCK_TIME.match(text)
    if match:
        hour, minute = int(match[1]), match[2]
        others = [t for t in conversation.times if t != f"{hour:02d}:{minute}"]
        twelve = f"{(hour % 12) or 12}:{minute} {'PM' if hour >= 12 else 'AM'}"
        return others[:1] + [f"{(hour + 1) % 24:02d}:{minute}", twelve, f"{(hour + 12) % 24:02d}:{minute}"]
    if NUMERIC.match(text):
        if "." in text:
            return [str(a) for a in float_alternatives(float(text), set(), conversation.numbers)]
        return [str(a) for a in integer_alternatives(int(text), conversation.numbers)]
    return None


def bump_last_digit(value: str) -> str:
    """`jpLx1WS9` -> `jpLx1WS0`: an identifier copied with one digit wrong."""
    at = [m.start() for m in _DIGIT.finditer(value)][-1]
    return value[:at] + str((int(value[at]) + 1) % 10) + value[at + 1:]


def shape(value: Any) -> str:
    """A rough kind of value: two values of one kind can be mixed up (two dates, two cities)."""
    if not isinstance(value, str):
        return type(value).__name__
    text = value.strip()
    if ISO_DATE.match(text) or ISO_DATETIME.match(text):
        return "date"
    if CLOCK_TIME.match(text):
        return "time"
    if NUMERIC.match(text):
        return "number"
    if _DIGIT.search(text):
        return "code"
    if text[:1].isupper():
        return "name" if len(text.split()) <= 3 else "phrase"
    return "text" if len(text.split()) <= 3 else "phrase"


def _match_case(replacement: str, original: str) -> str:
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original.islower():
        return replacement.lower() if not replacement.isupper() else replacement
    return replacement


def _replace_year(day: datetime.date, year: int) -> str | None:
    try:
        return day.replace(year=year).isoformat()
    except ValueError:  # 29 February
        return None


def inlined_literal(name: str, conversation: Conversation) -> str:
    """What a model writes in place of a variable: an object literal filled from the request."""
    fields = {}
    for entity in conversation.entities[:2]:
        fields.setdefault("name" if not fields else "value", entity)
    numbers = [n for n in conversation.numbers if not isinstance(n, bool)]
    if numbers:
        fields["id"] = numbers[0]
    if not fields:
        return "{}"
    import json
    return json.dumps(fields, ensure_ascii=False)
