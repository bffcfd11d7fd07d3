"""Parameter value errors: a wrong value that stays schema-valid and plausible.

FC-RewardBench's most common error (43%) is a call that is right in every
way but one value: the other city, the number across the boundary the user
stated, the default instead of what was asked, a date in another format.
Alternatives come, in order of plausibility, from the conversation, the
schema (other enum members, the default, the bounds) and small tables of
unit, format and abbreviation variants that BFCL's string normalization does
not collapse. Every alternative keeps the parameter's JSON type and stays
within its enum and bounds.
"""
from __future__ import annotations

import datetime
import random
import re
from typing import Any, Iterator

from schemas.checker import standardize_string
from transforms.rules import spec
from transforms.rules.context import ExampleContext
from transforms.rules.tokens import identifier_words

MAX_PER_PARAM = 4
_MAX_DEPTH = 2

# Variants a model produces for the same intent, which the checker does not
# equate (it only drops spaces and , . / - _ * ^ and lower-cases).
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

# Parameters that come in pairs: swapping their values is a classic slip.
_PAIRED = [("start", "end"), ("origin", "destination"), ("from", "to"), ("source", "target"),
           ("min", "max"), ("lat", "lon"), ("latitude", "longitude"), ("width", "height"),
           ("first", "last"), ("departure", "arrival"), ("sender", "recipient"), ("begin", "end"),
           ("check", "check")]
_RATE_WORDS = {"rate", "percent", "percentage", "ratio", "probability", "interest", "tax",
               "discount", "fraction", "share", "growth", "yield"}
_COORD_WORDS = {"lat", "latitude", "lon", "lng", "longitude", "long", "coordinate", "coordinates"}

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_ISO_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})([T ])(\d{2}):(\d{2})(.*)$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(:\d{2})?$")
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")
_DIGIT = re.compile(r"\d")


def _norm(value: Any) -> Any:
    return standardize_string(value) if isinstance(value, str) else value


def _unique(values: list, original: Any) -> list:
    """Drop repeats and anything equal to the original under the checker's normalization."""
    seen = {_key(original)}
    out = []
    for value in values:
        key = _key(value)
        if key in seen:
            continue
        seen.add(key)
        out.append(value)
    return out


def _key(value: Any) -> Any:
    if isinstance(value, str):
        return ("s", standardize_string(value))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(_key(v) for v in value))
    if isinstance(value, dict):
        return ("d", tuple(sorted((str(k), _key(v)) for k, v in value.items())))
    return (type(value).__name__, value)


class ValueAlternatives:
    """Plausible wrong values for the parameters of one example."""

    def __init__(self, ctx: ExampleContext, rng: random.Random):
        self.ctx = ctx
        self.conversation = ctx.conversation
        self.rng = rng

    def for_value(self, value: Any, schema: Any, param: str, peers: list = (), depth: int = 0,
                  siblings: frozenset = frozenset()) -> list:
        """Alternatives to `value`, the most plausible first.

        `peers` are values of the same parameter in the other calls of the
        example (the likeliest mix-up); `siblings` are the normalized values
        of the call's other arguments, which a swap covers and which are not
        offered here again.
        """
        schema = schema if isinstance(schema, dict) else {}
        if isinstance(value, bool):
            options = [not value]
        elif spec.enum_of(schema) is not None and not isinstance(value, (list, dict)):
            options = self._enum(value, spec.enum_of(schema))
        elif isinstance(value, int):
            options = self._integer(value, schema, param)
        elif isinstance(value, float):
            options = self._float(value, schema, param)
        elif isinstance(value, str):
            options = self._string(value, schema, param, siblings)
        elif isinstance(value, (list, tuple)):
            options = self._list(list(value), schema, param, depth) if depth <= _MAX_DEPTH else []
        elif isinstance(value, dict):
            options = self._dict(value, schema, depth) if depth <= _MAX_DEPTH else []
        else:
            options = []
        options = [peer for peer in peers if type(peer) is type(value)] + options
        return [o for o in _unique(options, value) if spec.fits(o, schema)][:MAX_PER_PARAM * 2]

    # --- scalars -----------------------------------------------------------

    def _enum(self, value: Any, enum: list) -> list:
        """Other members, the neighbours in the declared order first (`large` -> `medium`)."""
        members = [m for m in enum if type(m) is type(value) and m != value]
        if value in enum:
            at = enum.index(value)
            members.sort(key=lambda m: abs(enum.index(m) - at))
        return members

    def _integer(self, value: int, schema: dict, param: str) -> list:
        from_text = sorted((int(n) for n in self.conversation.numbers
                            if float(n).is_integer() and int(n) != value), key=lambda n: abs(n - value))
        near = [value + 1, value - 1] if value > 0 else [value + 1] if value == 0 else [value - 1, value + 1]
        if 1900 <= value <= 2100:  # a year: the neighbouring year is the classic slip
            return near + from_text[:2]
        scaled = [value * 10] + ([value // 10] if value and value % 10 == 0 else [])
        return from_text[:1] + near + from_text[1:3] + scaled

    def _float(self, value: float, schema: dict, param: str) -> list:
        words = set(identifier_words(param))
        from_text = sorted((float(n) for n in self.conversation.numbers if float(n) != value),
                           key=lambda n: abs(n - value))
        rounded = next((float(round(value, d)) for d in (2, 1, 0) if float(round(value, d)) != value), None)
        if words & _COORD_WORDS:
            # A coordinate: the sign (west/south) or precision goes wrong, not
            # another number from the text.
            options = ([-value] if value else []) + ([rounded] if rounded is not None else []) + [value + 1.0]
            return [float(o) for o in options]
        options = from_text[:1]
        if words & _RATE_WORDS or 0 < abs(value) < 1:
            options += [round(value * 100, 6), round(value / 100, 8)]
        if rounded is not None:
            options.append(rounded)
        options += [value + 1.0] + from_text[1:3]
        return [float(o) for o in options]

    def _string(self, value: str, schema: dict, param: str, siblings: frozenset) -> list:
        special = self._date_time_or_number(value)
        if special is not None:
            return special
        options = self._variants(value) + _url_or_email_variants(value)
        entities = [e for e in self._entities(value) if standardize_string(e) not in siblings]
        default = schema.get("default")
        if isinstance(default, str) and default:
            options.append(default)
        options += entities[:2]
        if "," in value:
            options.append(value.split(",")[0].strip())  # "Beijing, China" -> "Beijing"
        options += self._span_edits(value)
        if _DIGIT.search(value):
            options.append(_bump_last_digit(value))
        options += entities[2:4]
        if " " not in value and value.isalpha() and value.islower() and len(value) > 3:
            if value.endswith("s") and not value.endswith("ss"):
                options.append(value[:-1])  # "nurses" -> "nurse"
            options += [w for w in self.conversation.words if w not in value and value not in w
                        and standardize_string(w) not in siblings][:1]
        return options

    def _date_time_or_number(self, value: str) -> list | None:
        text = value.strip()
        match = _ISO_DATE.match(text)
        if match:
            try:
                day = datetime.date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                return []
            others = [d for d in self.conversation.dates if d != text]
            options = others[:1] + [(day + datetime.timedelta(days=1)).isoformat(),
                                    day.strftime("%m/%d/%Y")]
            options += others[1:2] + [_replace_year(day, day.year - 1), day.strftime("%B %d, %Y"),
                                      (day - datetime.timedelta(days=1)).isoformat()]
            return [o for o in options if o]
        match = _ISO_DATETIME.match(text)
        if match:
            date, sep, hour, minute, rest = match.groups()
            hour_next = f"{date}{sep}{(int(hour) + 1) % 24:02d}:{minute}{rest}"
            others = [f"{d}{sep}{hour}:{minute}{rest}" for d in self.conversation.dates if d != date]
            day_next = self._date_time_or_number(date) or []
            return others[:1] + [hour_next] + [f"{d}{sep}{hour}:{minute}{rest}" for d in day_next[:1]]
        match = _TIME.match(text)
        if match:
            hour, minute = int(match[1]), match[2]
            others = [t for t in self.conversation.times if t != f"{hour:02d}:{minute}"]
            twelve = f"{(hour % 12) or 12}:{minute} {'PM' if hour >= 12 else 'AM'}"
            return others[:1] + [f"{(hour + 1) % 24:02d}:{minute}", twelve, f"{(hour + 12) % 24:02d}:{minute}"]
        if _NUMERIC.match(text):
            number = float(text) if "." in text else int(text)
            alternatives = self._float(number, {}, "") if isinstance(number, float) else self._integer(number, {}, "")
            return [str(a) for a in alternatives]
        return None

    def _variants(self, value: str) -> list:
        lowered = value.lower()
        if lowered in _VARIANTS:
            return [_match_case(v, value) for v in _VARIANTS[lowered]]
        match = _INNER_VARIANT.search(value)
        if not match:
            return []
        return [value[:match.start()] + r + value[match.end():] for r in _VARIANTS[match.group(1).lower()]]

    def _entities(self, value: str) -> list:
        """Other things the user mentioned, those shaped like `value` first."""
        norm = standardize_string(value)
        has_digit = bool(_DIGIT.search(value))
        capitalized = value[:1].isupper()
        scored = []
        for index, entity in enumerate(self.conversation.entities):
            entity_norm = standardize_string(entity)
            if not entity_norm or entity_norm == norm:
                continue
            shape = (bool(_DIGIT.search(entity)) == has_digit) + (entity[:1].isupper() == capitalized)
            scored.append((-shape, index, entity))
        return [entity for _, _, entity in sorted(scored)]

    def _span_edits(self, value: str) -> list:
        """The user's words around `value`, taken in or left out ("specific country")."""
        text = self.conversation.user_text
        at = text.lower().find(value.lower())
        if at < 0 or not value.strip():
            return []
        options = []
        before = re.search(r"([A-Za-z][\w'-]*)\s+$", text[:at])
        after = re.match(r"\s+([A-Za-z][\w'-]*)", text[at + len(value):])
        if after and after[1].lower() not in _FILLER:
            options.append(f"{value} {after[1]}")
        if before and before[1][:1].isupper() and before[1].lower() not in _FILLER:
            options.append(f"{before[1]} {value}")  # "York" -> "New York"
        words = value.split()
        if len(words) >= 2:
            options.append(" ".join(words[:-1]))
        return options

    # --- containers --------------------------------------------------------

    def _list(self, value: list, schema: dict, param: str, depth: int) -> list:
        items = spec.items_of(schema)
        options: list = []
        if value and all(isinstance(item, dict) for item in value):
            for index in self.rng.sample(range(len(value)), len(value)):
                for alternative in self._dict(value[index], items, depth + 1)[:2]:
                    options.append(value[:index] + [alternative] + value[index + 1:])
            if len(value) > 1:
                options.append(value[:-1])
            return options
        if len(value) > 1:
            options += [value[:-1], value[1:]]
        scalars = [v for v in value if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
        if scalars:
            index = value.index(scalars[0]) if len(value) == 1 else self.rng.randrange(len(value))
            for alternative in self.for_value(value[index], items, param, (), depth + 1)[:2]:
                if _key(alternative) not in {_key(v) for v in value}:
                    options.append(value[:index] + [alternative] + value[index + 1:])
        extra = [e for e in self.conversation.entities
                 if all(isinstance(v, str) for v in value) and _key(e) not in {_key(v) for v in value}
                 and spec.fits(e, items)]
        if extra:
            options.append(value + extra[:1])
        if len(value) > 1 and _key(value[0]) != _key(value[-1]):
            options.append(list(reversed(value)))  # order counts for the checker
        return options

    def _dict(self, value: dict, schema: dict, depth: int) -> list:
        properties = spec.properties_of(schema)
        options = []
        keys = list(value)
        self.rng.shuffle(keys)
        for key in keys:
            for alternative in self.for_value(value[key], properties.get(key), key, (), depth + 1)[:2]:
                options.append({**value, key: alternative})
        optional = [k for k in keys if k not in spec.required_of(schema)]
        if optional and len(value) > 1:
            options.append({k: v for k, v in value.items() if k != optional[0]})
        return options


_FILLER = {"a", "an", "the", "of", "in", "on", "at", "for", "to", "and", "or", "with", "is", "are",
           "my", "your", "me", "it", "as", "by", "from", "that", "this", "be", "was", "i", "we"}


def _url_or_email_variants(value: str) -> list:
    """`https://site.com` -> `site.com`, `https://www.site.com`; `a@b.com` -> `a@b.org`."""
    match = re.match(r"^(https?://)(www\.)?(.+)$", value)
    if match:
        scheme, www, rest = match.groups()
        return [f"{www or ''}{rest}", f"{scheme}{'' if www else 'www.'}{rest}"]
    match = re.match(r"^([\w.+-]+@[\w-]+\.)(\w+)$", value)
    if match:
        return [match[1] + ("org" if match[2] != "org" else "com")]
    return []


def _match_case(replacement: str, original: str) -> str:
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original.islower():
        return replacement.lower() if not replacement.isupper() else replacement
    return replacement


def _replace_year(day: datetime.date, year: int) -> str | None:
    try:
        return day.replace(year=year).isoformat()
    except ValueError:
        return None


def _bump_last_digit(value: str) -> str:
    positions = [m.start() for m in _DIGIT.finditer(value)]
    at = positions[-1]
    return value[:at] + str((int(value[at]) + 1) % 10) + value[at + 1:]


def _paired(a: str, b: str) -> bool:
    wa, wb = set(identifier_words(a)), set(identifier_words(b))
    return any((x in wa and y in wb) or (y in wa and x in wb) for x, y in _PAIRED)


def _accepted(value: Any, acceptable: list | None) -> bool:
    """Cheap pre-filter for a scalar the reference accepts (the checker has the last word)."""
    if acceptable is None or isinstance(value, (list, dict, tuple)):
        return False
    if isinstance(value, str):
        norm = standardize_string(value)
        return any(isinstance(a, str) and standardize_string(a) == norm for a in acceptable)
    return any(type(a) is type(value) and a == value for a in acceptable)


def _with_argument(calls: list[dict], position: int, param: str, value: Any) -> list[dict]:
    call = calls[position]
    changed = {"name": call["name"], "arguments": {**call["arguments"], param: value}}
    return calls[:position] + [changed] + calls[position + 1:]


def _shape(value: Any) -> str:
    """A rough kind of value: two values of one kind can be mixed up (two dates, two cities)."""
    if not isinstance(value, str):
        return type(value).__name__
    text = value.strip()
    if _ISO_DATE.match(text) or _ISO_DATETIME.match(text):
        return "date"
    if _TIME.match(text):
        return "time"
    if _NUMERIC.match(text):
        return "number"
    if _DIGIT.search(text):
        return "code"
    if text[:1].isupper():
        return "name" if len(text.split()) <= 3 else "phrase"
    return "text" if len(text.split()) <= 3 else "phrase"


def _swaps(ctx: ExampleContext, position: int) -> list[list[dict]]:
    """Two same-typed arguments of one call traded (origin <-> destination)."""
    call = ctx.calls[position]
    properties = ctx.properties(call["name"])
    scalars = [(p, v) for p, v in call["arguments"].items()
               if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
    pairs = []
    for i, (p, v) in enumerate(scalars):
        for q, w in scalars[i + 1:]:
            if type(v) is not type(w) or _key(v) == _key(w):
                continue
            if not (spec.fits(w, properties.get(p)) and spec.fits(v, properties.get(q))):
                continue
            paired = _paired(p, q)
            if paired or _shape(v) == _shape(w):
                pairs.append((not paired, p, q))
    pairs.sort(key=lambda item: item[0])
    out = []
    for _, p, q in pairs[:2]:
        arguments = {**call["arguments"], p: call["arguments"][q], q: call["arguments"][p]}
        out.append(ctx.calls[:position] + [{"name": call["name"], "arguments": arguments}] + ctx.calls[position + 1:])
    return out


def value_error_proposals(ctx: ExampleContext, rng: random.Random) -> Iterator[list[dict]]:
    """Outputs with one wrong value each, one parameter after another (round robin).

    Alternatives for a parameter are worked out only when its turn first
    comes: most examples need two or three value errors, not all of them.
    """
    alternatives = ValueAlternatives(ctx, rng)
    calls = ctx.calls
    slots: list[tuple[int, str | None]] = []   # (call position, parameter); None = a swap
    for position, call in enumerate(calls):
        slots.extend((position, param) for param in call["arguments"])
        if len(call["arguments"]) >= 2:
            slots.append((position, None))
    rng.shuffle(slots)
    cache: dict[tuple[int, str | None], list[list[dict]]] = {}

    def outputs(slot: tuple[int, str | None]) -> list[list[dict]]:
        if slot not in cache:
            position, param = slot
            cache[slot] = _swaps(ctx, position) if param is None else \
                _param_outputs(ctx, alternatives, position, param)
        return cache[slot]

    for round_ in range(MAX_PER_PARAM):
        for slot in slots:
            options = outputs(slot)
            if round_ < len(options):
                yield options[round_]


def _param_outputs(ctx: ExampleContext, alternatives: ValueAlternatives, position: int,
                   param: str) -> list[list[dict]]:
    calls = ctx.calls
    call = calls[position]
    value = call["arguments"][param]
    peers = [other["arguments"][param] for other in calls
             if other is not call and other["name"] == call["name"] and param in other["arguments"]]
    siblings = frozenset(standardize_string(v) for p, v in call["arguments"].items()
                         if p != param and isinstance(v, str))
    acceptable = ctx.acceptable(position).get(param)
    options = [o for o in alternatives.for_value(value, ctx.properties(call["name"]).get(param), param, peers,
                                                 siblings=siblings)
               if not _accepted(o, acceptable)][:MAX_PER_PARAM]
    return [_with_argument(calls, position, param, o) for o in options]
