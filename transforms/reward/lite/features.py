"""Reference-free features of (tools, conversation, candidate output).

The bundled reward model judges a candidate tool call from what a judge can
see at scoring time: the tool catalog, the conversation and the output. No
reference is read here. Each feature targets one way calls go wrong
(docs/tool-call-correctness.md):

- parsing: does the output decode; is undecodable text call-like or prose?
- call count: number of calls, duplicates, how many entities/conjunctions the
  user's text lists, how much of what the user mentioned the calls use;
- function name: unknown names and near-misses of catalog names; how well the
  chosen tool matches the request (similarity and rank among the catalog);
- required/unexpected/optional parameters: schema bookkeeping, plus optional
  parameters whose name or enum values the user mentioned but the call left
  out, and optional ones sent with values the user never gave;
- value types: JSON-Schema type, enum and bounds per argument;
- values: is each value grounded in the conversation (exact token span,
  normalized substring, word overlap, the number/date the user wrote), is it
  a truncated piece of a longer entity, does it contradict an enum member the
  user named, does it match the shape of the examples the parameter's
  description gives, and is each value nearest to the words of its own
  parameter in the text (swapped values are not);
- no-call answers: prose versus calls when no tool fits the request, and
  whether a text answer asks back, names parameters or flags a value.

Pure Python over decoded JSON; everything about an example (text, numbers,
dates, entities, per-tool similarity) is computed once per example and cached,
so scoring many candidates of one example is cheap. `FEATURE_NAMES` fixes the
column order; `FEATURE_VERSION` changes whenever features change meaning, and
a saved model refuses to load against other features.
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import json
import math
import re
from collections import OrderedDict
from typing import Any, Iterable, Sequence

import numpy as np

from schemas.decoding import DecodeError, decode_calls

FEATURE_VERSION = "lite-features-15"

# --------------------------------------------------------------------------- text helpers

_TOKEN = re.compile(r"[a-z0-9]+")
_HAS_DIGIT = re.compile(r"\d")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_STRING_NOISE = re.compile(r"[ ,./\-_*^]")
_NUMBER = re.compile(r"(?<![\w.])(?=[-+$\d.])[-+]?\$?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.?\d+(?:[eE][-+]?\d+)?)")
_ISO_DATE = re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b")
_MDY_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b")
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"]
_MONTH_RE = "|".join(m[:3] + "(?:" + m[3:] + ")?" for m in _MONTHS)
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\.?,?\s+(\d{{4}})\b", re.I)
_MONTH_DAY = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", re.I)
_QUOTED = re.compile(r"\"([^\"\n]{1,100})\"|“([^”\n]{1,100})”|‘([^’\n]{1,100})’|(?<![A-Za-z])'([^'\n]{1,100})'(?![A-Za-z])")
_QUOTE_CHARS = ("\"", "“", "‘", "'")
_CAPWORD = r"(?:[A-Z][A-Za-z0-9&'-]*(?:\.(?=[A-Za-z0-9]))?[A-Za-z0-9&'-]*|[0-9]*[A-Z][A-Z0-9]+)"
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]\s*|[\"“(]\s*)$")
_ENTITY = re.compile(rf"\b{_CAPWORD}(?:(?:\s+|\s+(?:of|de|la|the)\s+|,\s+){_CAPWORD})*")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_URL = re.compile(r"https?://[^\s'\"<>]+")
_DOMAIN = re.compile(r"\b[\w-]+\.(?:com|org|net|io|gov|edu)\b")
_DOMAIN_ENDINGS = (".com", ".org", ".net", ".io", ".gov", ".edu")


_DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_NUMERIC_STRING = re.compile(r"^\s*[-+]?\$?\d[\d,]*(?:\.\d+)?\s*%?\s*$")
_EXAMPLE_QUOTED = re.compile(r"'([^'\n]{1,40})'|\"([^\"\n]{1,40})\"")
_EXAMPLE_EG = re.compile(r"(?:e\.g\.|eg\.|for example|such as|like)[,:]?\s+([^;()\n]{1,40})", re.I)

STOPWORDS = frozenset("""
a an and are as at be by can could do does for from get give has have i if in into is it its
me my of on or our please the their them this that to us was we what when where which who will
with would you your about some any all also than then there these those so such not no yes
i'd i'm let know need want like just tell show find make provide using use based am been
how many much more most other only own same should very s t don now help hi hello
""".split())
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20,
                 "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "dozen": 12, "half": 0.5,
                 "first": 1, "second": 2, "third": 3, "once": 1, "twice": 2, "single": 1, "double": 2}
_COUNT_WORDS = {"both": 2, "two": 2, "three": 3, "four": 4, "five": 5, "pair": 2, "couple": 2}
_MULTI_CUES = frozenset("each both respectively all every multiple several separately also additionally "
                        "plus then afterwards another too as well".split())
_NOT_NAMES = STOPWORDS | frozenset("""hi hello hey thanks thank ok okay sure also firstly secondly lastly finally
additionally then next after afterwards first second third furthermore moreover besides lastly retrieve get find
search give check create update help could would should can please i'm i'd i've i'll""".split())
_PLACEHOLDERS = frozenset({"", "string", "str", "value", "example", "none", "null", "n/a", "na", "unknown",
                           "tbd", "xxx", "placeholder", "test", "sample", "default", "your", "user", "id",
                           "string_value", "<string>", "...", "todo"})
_NEGATIVE_WORDS = frozenset("cannot can't unable not no none sorry unfortunately without neither nor "
                            "outside beyond don't doesn't isn't won't".split())
_ASK_WORDS = frozenset("could would please provide specify tell which what clarify need information "
                       "missing confirm more details".split())
_INVALID_WORDS = frozenset("invalid valid incorrect wrong format check error correct".split())


def find_emails_urls(text: str) -> list[str]:
    """Emails, URLs and bare domains (each regex only where its telltale character occurs)."""
    out = []
    if "@" in text:
        out += _EMAIL.findall(text)
    if "://" in text:
        out += _URL.findall(text)
    if any(ending in text for ending in _DOMAIN_ENDINGS):
        out += _DOMAIN.findall(text)
    return out


def standardize(text: str) -> str:
    """The checker's string normalization (spaces and `, . / - _ * ^` removed, lower-cased)."""
    return _STRING_NOISE.sub("", text).lower().replace("'", '"')


def identifier_words(name: str) -> list[str]:
    return [w.lower() for w in _CAMEL.findall(name)]


_STEMS: dict[str, str] = {}


def stem(word: str) -> str:
    """A crude stem so that 'drinks', 'drink' and 'drinking' meet (memoized)."""
    out = _STEMS.get(word)
    if out is not None:
        return out
    out = word
    for suffix in ("ing", "ies", "es", "s", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
            break
    if len(_STEMS) < 200_000:
        _STEMS[word] = out
    return out


def content_stems(text: str) -> set[str]:
    """Stems of the non-stopword words of text or identifiers (camelCase split)."""
    return {stem(w.lower()) for w in _CAMEL.findall(text) if len(w) > 1 and w.lower() not in STOPWORDS}


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _to_iso(year: int, month: int, day: int) -> str | None:
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None


def _month(name: str) -> int:
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(name.lower()[:3]))


def find_dates(text: str) -> set[str]:
    found = set()
    for m in _ISO_DATE.finditer(text):
        found.add(_to_iso(int(m[1]), int(m[2]), int(m[3])))
    for m in _MDY_DATE.finditer(text):
        found.add(_to_iso(int(m[3]), int(m[1]), int(m[2])))
        found.add(_to_iso(int(m[3]), int(m[2]), int(m[1])))
    for m in _MONTH_DAY_YEAR.finditer(text):
        found.add(_to_iso(int(m[3]), _month(m[1]), int(m[2])))
    for m in _DAY_MONTH_YEAR.finditer(text):
        found.add(_to_iso(int(m[3]), _month(m[2]), int(m[1])))
    found.discard(None)
    return found


def find_month_days(text: str) -> set[str]:
    """`MM-DD` of dates written without a year ("March 3rd")."""
    out = set()
    for m in _MONTH_DAY.finditer(text):
        day = int(m[2])
        if 1 <= day <= 31:
            out.add(f"{_month(m[1]):02d}-{day:02d}")
    return out


_DATE_MEMO: dict[str, str | None] = {}


def parse_date(value: str) -> str | None:
    """ISO date of a date-like string value, else None (memoized)."""
    if len(value) > 40:
        return None
    if value in _DATE_MEMO:
        return _DATE_MEMO[value]
    dates = find_dates(value)
    out = min(dates) if dates else None
    if len(_DATE_MEMO) < 100_000:
        _DATE_MEMO[value] = out
    return out


_NUMBER_WORD = re.compile(r"\b(?:" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\b")
_WORD_POSITIONS = re.compile(r"[a-z][a-z0-9]+")


def find_numbers(text: str) -> dict[float, tuple[int, int]]:
    """Numbers in text (digits and number words) -> (start, end) of their first occurrence."""
    out: dict[float, tuple[int, int]] = {}
    for m in _NUMBER.finditer(text):
        raw = m.group(0).replace(",", "").replace("$", "").replace("+", "")
        try:
            value = float(raw)
        except ValueError:
            continue
        if math.isfinite(value) and value not in out:
            out[value] = (m.start(), m.end())
    low = text.lower()
    if not _NUMBER_WORDS.keys().isdisjoint(_TOKEN.findall(low)):
        for m in _NUMBER_WORD.finditer(low):
            out.setdefault(float(_NUMBER_WORDS[m.group(0)]), (m.start(), m.end()))
    return out


def _shape(value: str) -> tuple:
    return ("," in value, _HAS_DIGIT.search(value) is not None, " " in value.strip(),
            value.isupper(), ":" in value, "/" in value, "-" in value, "@" in value)


def _shape_similarity(a: tuple, b: tuple) -> float:
    return sum(x == y for x, y in zip(a, b)) / len(a)


# --------------------------------------------------------------------------- schema helpers

_TYPE_ALIASES = {"dict": "object", "float": "number", "tuple": "array", "list": "array", "int": "integer",
                 "str": "string", "bool": "boolean", "any": None}


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


def _type_ok(value: Any, types: list[str]) -> bool:
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
    def words(self) -> set[str]:
        return {stem(w) for w in identifier_words(self.name) if len(w) > 2 and w not in STOPWORDS}

    @functools.cached_property
    def align_words(self) -> set[str]:
        return {stem(w) for w in identifier_words(self.name) if len(w) >= 2 and w not in STOPWORDS}

    @functools.cached_property
    def enum_norm(self) -> set[str] | None:
        return {standardize(str(e)) for e in self.enum} if self.enum else None

    @functools.cached_property
    def norm_name(self) -> str:
        return standardize(self.name)

    @functools.cached_property
    def value_class(self) -> str | None:
        return param_class(self.name)

    @functools.cached_property
    def date_format(self) -> bool:
        return self.schema.get("format") in ("date", "date-time") or "yyyy-mm-dd" in self.description.lower() \
            or "yyyy-mm-dd" in str(self.schema.get("pattern", "")).lower()

    @functools.cached_property
    def _examples(self) -> list[tuple]:
        examples = []
        for m in _EXAMPLE_QUOTED.finditer(self.description):
            examples.append(next(g for g in m.groups() if g))
        if not examples:
            for m in _EXAMPLE_EG.finditer(self.description):
                examples.append(m.group(1).strip().rstrip("."))
        return [_shape(e) for e in examples[:4] if e.strip()]

    def shape_examples(self) -> list[tuple]:
        """Shapes of the example values the description gives ("e.g. 'San Francisco, CA'")."""
        return self._examples


class ToolInfo:
    __slots__ = ("name", "params", "required", "words", "name_words", "key")

    def __init__(self, tool: dict):
        self.name = tool.get("name") or ""
        parameters = tool.get("parameters") if isinstance(tool.get("parameters"), dict) else {}
        props = parameters.get("properties") if isinstance(parameters.get("properties"), dict) else {}
        self.params = {k: ParamInfo(k, v) for k, v in props.items()}
        req = parameters.get("required")
        self.required = [r for r in req if isinstance(r, str)] if isinstance(req, list) else []
        self.name_words = {stem(w) for w in identifier_words(self.name) if len(w) > 1 and w not in STOPWORDS}
        words = set(self.name_words) | content_stems(tool.get("description") or "")
        for p in props:
            words |= content_stems(p)
        self.words = words
        self.key = re.sub(r"[^a-z0-9]", "", self.name.lower())


_TOOL_CACHE: OrderedDict[str, ToolInfo] = OrderedDict()
_TOOL_CACHE_SIZE = 20_000


def tool_info(tool: dict) -> ToolInfo:
    """ToolInfo of a tool spec, shared by every example offering the same spec."""
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


# --------------------------------------------------------------------------- value and parameter classes

_GENERIC_PARAM_WORDS = frozenset(stem(w) for w in """
include includes detail details detailed type name id data info information value values analysis use enable
enabled option options flag is has get set list number num count level mode status preference preferences
setting settings request user target specific custom parameter param params input output format kind
""".split())
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RELATIVE_DATES = frozenset("today tomorrow yesterday tonight now week weekend month year next last this".split())
_TIME_VALUE = re.compile(r"^\d{1,2}(:\d{2})?(:\d{2})?\s*(am|pm)?$|^\d{1,2}\s*(am|pm)$", re.I)
_EMAIL_VALUE = re.compile(r"^[\w.+-]+@[\w-]+\.[\w.]+$")
_URL_VALUE = re.compile(r"^(https?://|www\.)\S+$|^[\w-]+(\.[\w-]+)+(/\S*)?$")
_PHONE_VALUE = re.compile(r"^\+?[\d\s().-]{7,}$")
# parameter-name words -> the class of value they take
_PARAM_CLASS_WORDS = {
    "date": "date", "day": "date", "birthday": "date", "deadline": "date", "dob": "date", "weekday": "weekday",
    "time": "time", "hour": "time", "clock": "time", "email": "email", "mail": "email", "url": "url",
    "link": "url", "website": "url", "uri": "url", "endpoint": "url", "phone": "phone", "mobile": "phone",
    "city": "place", "location": "place", "country": "place", "region": "place", "place": "place",
    "address": "place", "destination": "place", "origin": "place", "venue": "place", "area": "place",
    "state": "place", "town": "place", "month": "month", "year": "year",
}
_CLASS_ALLOWED = {
    "date": {"date", "weekday", "month", "relative", "numeric", "year"},
    "weekday": {"weekday", "date", "relative"},
    "time": {"time", "date", "relative", "numeric"},
    "email": {"email"},
    "url": {"url"},
    "phone": {"phone", "numeric"},
    "place": {"proper", "text"},
    "month": {"month", "date", "numeric", "relative"},
    "year": {"year", "numeric", "date", "relative"},
}


_CLASS_MEMO: dict[str, str] = {}


def cached_value_class(value: str) -> str:
    out = _CLASS_MEMO.get(value)
    if out is None:
        out = value_class(value)
        if len(_CLASS_MEMO) < 100_000:
            _CLASS_MEMO[value] = out
    return out


def value_class(value: str) -> str:
    v = value.strip()
    low = v.lower()
    if _EMAIL_VALUE.match(v):
        return "email"
    if _DATE_SHAPE.match(v) or (_HAS_DIGIT.search(v) is not None and parse_date(v)):
        return "date"
    if _TIME_VALUE.match(v):
        return "time"
    if low in _WEEKDAYS or low[:3] in {d[:3] for d in _WEEKDAYS} and len(low) <= 4:
        return "weekday"
    if low in _MONTHS:
        return "month"
    if re.fullmatch(r"(19|20)\d\d", v):
        return "year"
    if _NUMERIC_STRING.match(v):
        return "numeric"
    if _URL_VALUE.match(v) and "." in v and " " not in v:
        return "url"
    if _PHONE_VALUE.match(v) and sum(c.isdigit() for c in v) >= 7:
        return "phone"
    words = low.split()
    if words and all(w in _RELATIVE_DATES for w in words[:2]):
        return "relative"
    if v[:1].isupper():
        return "proper"
    return "text"


def param_class(name: str) -> str | None:
    words = identifier_words(name)
    for w in reversed(words):  # the head noun is last: `start_date`, `dayOfWeek` -> week (none) -> day
        cls = _PARAM_CLASS_WORDS.get(w)
        if cls is not None:
            return cls
    return None


# --------------------------------------------------------------------------- example context

class ExampleInfo:
    """Everything about one example that does not depend on the candidate."""

    def __init__(self, example: dict):
        messages = example.get("messages") or []
        user, context, turns = [], [], 0
        for message in messages:
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str) and content:
                context.append(content)
                if message.get("role") == "user":
                    user.append(content)
                    turns += 1
            calls = message.get("tool_calls")
            if isinstance(calls, list) and calls:
                try:
                    context.append(json.dumps(calls, ensure_ascii=False, default=str))
                except (TypeError, ValueError):
                    pass
        self.user_text = "\n".join(user)
        self.last_user = user[-1] if user else ""
        self.context_text = "\n".join(context)
        self.n_turns = turns
        # the whole conversation (values may come from earlier turns or tool results)
        low = self.context_text.lower()
        self.lower = low
        tokens = _TOKEN.findall(low)
        self.token_set = set(tokens)
        self.token_str = " " + " ".join(tokens) + " "
        self.norm_text = standardize(self.context_text)
        other_text = "\n".join(c for c in context if c not in user)
        self.user_number_spans = find_numbers(self.user_text)
        self.numbers = dict(self.user_number_spans)
        if other_text:
            for number, span in find_numbers(other_text).items():
                self.numbers.setdefault(number, span)
        # what the user said
        user_low = self.user_text.lower() if len(context) != len(user) else low
        self.user_lower = user_low
        user_tokens = _TOKEN.findall(user_low) if user_low is not low else tokens
        self.user_token_str = " " + " ".join(user_tokens) + " " if user_low is not low else self.token_str
        self.user_stems = set(map(stem, set(_WORD_POSITIONS.findall(user_low))))
        if len(user) <= 1:
            self.request_stems = {w for w in self.user_stems if len(w) > 1 and w not in STOPWORDS}
        else:
            self.request_stems = {stem(w) for w in _WORD_POSITIONS.findall(self.last_user.lower())
                                  if w not in STOPWORDS}
        entities = []
        if any(q in self.user_text for q in _QUOTE_CHARS):
            for m in _QUOTED.finditer(self.user_text):
                entities.append(next(g for g in m.groups() if g))
        self.quoted = [q for q in dict.fromkeys(standardize(e) for e in entities) if q]
        found = []
        for m in _ENTITY.finditer(self.user_text):
            words = m.group(0).strip(" ,.").split()
            at_start = bool(_SENTENCE_START.search(self.user_text, max(0, m.start() - 4), m.start())) or m.start() == 0
            while words and words[0].lower().strip(",") in _NOT_NAMES:
                words, at_start = words[1:], False
            phrase = " ".join(words).strip(" ,")
            if not phrase or (len(words) == 1 and len(phrase) < 2):
                continue
            found.append((phrase, at_start and len(words) == 1))
        mid_sentence = {p for p, at_start in found if not at_start}
        entities += [p for p, at_start in found if not at_start or p in mid_sentence]
        entities += find_emails_urls(self.user_text)
        ent_norm, parts = [], []
        for e in dict.fromkeys(entities):
            toks = _tokens(e)
            if toks:
                ent_norm.append((standardize(e), " " + " ".join(toks) + " "))
            for part in e.split(", ") if "@" not in e and "://" not in e else [e]:
                if _tokens(part):
                    parts.append(standardize(part))
        self.entities = ent_norm
        self.entity_parts = list(dict.fromkeys(parts))
        self.user_numbers = [v for v in self.user_number_spans if not (1900 <= v <= 2100)]
        self.n_and = user_tokens.count("and") + user_tokens.count("or")
        self.n_commas = self.user_text.count(",")
        self.n_multi = sum(1 for t in user_tokens if t in _MULTI_CUES)
        self.n_questions = self.user_text.count("?")
        self.user_len = len(user_tokens)
        # "two cities", "both", "three accounts": how many of something the user asks for
        cue = 0
        for i, t in enumerate(user_tokens):
            n = _COUNT_WORDS.get(t)
            if n is None and t.isdigit() and 2 <= int(t) <= 5 and i + 1 < len(user_tokens) \
                    and user_tokens[i + 1].endswith("s") and not user_tokens[i + 1].isdigit():
                n = int(t)
            if n is not None:
                cue = max(cue, n)
        self.count_cue = cue
        self.non_ascii = 1.0 - len(self.user_text.encode("ascii", "ignore")) / max(1, len(self.user_text))
        # tools
        tools = [t for t in example.get("tools") or [] if isinstance(t, dict) and isinstance(t.get("name"), str)]
        infos: dict[str, ToolInfo] = {}
        for tool in tools:
            if tool["name"] not in infos:
                infos[tool["name"]] = tool_info(tool)
        request = self.request_stems
        self.sim: dict[str, float] = {}
        self.name_hit: dict[str, float] = {}
        self.score: dict[str, float] = {}
        for name, info in infos.items():
            self.sim[name] = _jaccard(request, info.words)
            self.name_hit[name] = len(info.name_words & request) / len(info.name_words) if info.name_words else 0.0
            self.score[name] = self.sim[name] + 0.5 * self.name_hit[name]
        ranked = sorted(infos, key=lambda name: -self.score[name])
        self.rank = {name: rank for rank, name in enumerate(ranked)}
        self.tools = infos
        self.aliases = {name.replace(".", "_"): name for name in infos if "." in name}
        self.keys = {info.key: name for name, info in infos.items()}
        sims = sorted(self.score.values(), reverse=True)
        self.best_sim = sims[0] if sims else 0.0
        self.second_sim = sims[1] if len(sims) > 1 else 0.0
        self.relevant = [name for name, score in self.score.items() if score > 0.05 and score >= 0.6 * self.best_sim]
        self.n_relevant = len(self.relevant)
        # no tool resembles the request (in a language the word overlap can judge)
        self.no_tool_fits = max(0.0, 1.0 - self.best_sim / 0.2) * (1.0 - min(1.0, self.non_ascii * 5))
        self.n_tools = len(infos)
        self.max_required = max((len(t.required) for t in infos.values()), default=0)
        self._cache: dict[tuple, Any] = {}

    # -- grounding -----------------------------------------------------------

    @functools.cached_property
    def word_positions(self) -> dict[str, list[int]]:
        """Where each word stem occurs in the user's text (char offsets)."""
        positions: dict[str, list[int]] = {}
        for m in _WORD_POSITIONS.finditer(self.user_lower):
            key = stem(m[0])
            bucket = positions.get(key)
            if bucket is None:
                positions[key] = [m.start()]
            else:
                bucket.append(m.start())
        return positions

    @functools.cached_property
    def listed(self) -> tuple[dict[int, str], dict[int, str]]:
        return _listed_pairs(self.user_lower)

    @functools.cached_property
    def dates(self) -> set[str]:
        return find_dates(self.context_text)

    @functools.cached_property
    def month_days(self) -> set[str]:
        return find_month_days(self.context_text)

    def token_span(self, toks: list[str]) -> int:
        """Char offset in the conversation's token string of the token span, or -1."""
        if not toks:
            return -1
        return self.token_str.find(" " + " ".join(toks) + " ")

    def enum_mentions(self, key: tuple, param: ParamInfo) -> set:
        """Enum members (normalized) that the user's own words name."""
        ckey = ("enum",) + key
        hit = self._cache.get(ckey)
        if hit is None:
            hit = set()
            for member in param.enum or ():
                if isinstance(member, str):
                    toks = _tokens(member)
                    if toks and (" " + " ".join(toks) + " ") in self.user_token_str:
                        hit.add(standardize(member))
                elif isinstance(member, (int, float)) and not isinstance(member, bool):
                    if float(member) in self.numbers:
                        hit.add(standardize(str(member)))
            self._cache[ckey] = hit
        return hit

    def param_mention(self, key: tuple, param: ParamInfo) -> float:
        """Share of the parameter's distinctive name words that the user used (-1: none to check)."""
        ckey = ("mention",) + key
        hit = self._cache.get(ckey)
        if hit is None:
            words = [w for w in param.words if w not in _GENERIC_PARAM_WORDS]
            if not words:
                hit = -1.0
            else:
                hit = sum(1 for w in words if w in self.user_stems) / len(words)
            self._cache[ckey] = hit
        return hit

    def nearest_offset(self, words: Iterable[str], at: int) -> float:
        best = math.inf
        for w in words:
            for p in self.word_positions.get(w, ()):
                d = abs(p - at)
                if d < best:
                    best = d
        return best

    def optional_cues(self, name: str, info: ToolInfo) -> list[tuple[str, float, int]]:
        """(param, how much the user mentioned its name, whether the user named an enum member)
        for each optional parameter of a tool."""
        ckey = ("optional", name)
        hit = self._cache.get(ckey)
        if hit is None:
            required = set(info.required)
            hit = []
            for key, param in info.params.items():
                if key in required:
                    continue
                enum_cued = int(param.enum is not None and bool(self.enum_mentions((name, key), param)))
                hit.append((key, self.param_mention((name, key), param), enum_cued))
            self._cache[ckey] = hit
        return hit

    def window(self, offset: int, length: int) -> set[str]:
        """Stems of the 4 words before and the 2 words after a span of the user text."""
        ckey = ("window", offset, length)
        hit = self._cache.get(ckey)
        if hit is None:
            text = self.user_lower
            hit = {stem(t) for t in _TOKEN.findall(text[max(0, offset - 48):offset])[-4:]}
            hit |= {stem(t) for t in _TOKEN.findall(text[offset + length:offset + length + 24])[:2]}
            self._cache[ckey] = hit
        return hit

    def sub_params(self, key: tuple, param: ParamInfo) -> dict[str, ParamInfo]:
        ckey = ("props",) + key
        hit = self._cache.get(ckey)
        if hit is None:
            hit = {k: ParamInfo(k, v) for k, v in (param.properties or {}).items()}
            self._cache[ckey] = hit
        return hit

    def items_param(self, key: tuple, param: ParamInfo) -> ParamInfo | None:
        ckey = ("items",) + key
        if ckey not in self._cache:
            self._cache[ckey] = ParamInfo(param.name, param.items) if param.items else None
        return self._cache[ckey]


def _jaccard(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


# --------------------------------------------------------------------------- features

FEATURE_NAMES: list[str] = [
    # output form
    "is_text", "decode_error", "callish_text", "empty_output", "text_len", "text_question",
    "text_negative", "text_ask", "text_invalid", "text_mentions_tool", "text_mentions_required",
    "text_mentions_value",
    # calls
    "n_calls", "one_call", "multi_call", "dup_calls", "dup_names", "distinct_names_frac",
    "calls_minus_relevant", "relevant_uncalled", "count_cue_match", "count_cue_short", "count_cue_over",
    # names
    "unknown_names", "unknown_near", "name_sim_mean", "name_sim_min", "name_rank_max", "name_gap_max",
    "name_hit_min", "is_best_all", "name_in_text",
    # parameters
    "n_args", "args_per_call", "unexpected", "unexpected_near", "missing_required", "missing_required_frac",
    "opt_present", "opt_absent", "opt_absent_cued", "opt_absent_enum_cued", "opt_present_uncued",
    "opt_present_default", "opt_present_ungrounded", "opt_present_grounded", "opt_nondefault_uncued",
    "nested_unexpected",
    "nested_missing_required",
    # types
    "type_errors", "numeric_string_for_number", "string_for_array", "array_item_type_errors",
    "enum_violations", "range_violations", "null_values",
    # values (fractions of the values of each kind, and a few counts)
    "n_values", "str_share", "str_exact_frac", "str_norm_frac", "str_ungrounded_frac", "str_ungrounded_any",
    "str_head_grounded_frac", "sibling_unused",
    "str_overlap_mean", "str_overlap_min", "str_sub_entity", "str_super_entity", "str_entity_exact_frac",
    "str_placeholder", "str_empty", "str_and_joined", "str_case_mixed", "span_next_content", "span_prev_content",
    "date_values", "date_grounded_frac", "date_ungrounded", "date_format_bad",
    "num_share", "num_grounded_frac", "num_scaled", "num_ungrounded_frac", "num_ungrounded_any",
    "num_default", "num_year",
    "bool_share", "bool_true_mentioned", "bool_true_unmentioned", "bool_false_mentioned",
    "bool_false_unmentioned", "bool_default_frac",
    "enum_values", "enum_grounded_frac", "enum_contradict", "enum_default",
    "shape_checked", "shape_sim_min", "shape_sim_mean", "class_checked", "class_mismatch",
    "req_ungrounded", "dup_values_in_call", "value_is_param_name",
    # alignment of values with their parameters' words in the text
    "align_checked", "align_own_frac", "align_other", "align_near_mean", "order_discordant_frac",
    "ctx_checked", "ctx_own_frac", "ctx_other_only", "value_has_param_word", "quoted_uncovered",
    # coverage of what the user mentioned
    "entity_cover", "entity_uncovered", "number_cover", "number_uncovered",
    # multi-call structure
    "same_name_varying", "same_name_identical_params", "varying_grounded_frac", "varying_listed_frac",
    "calls_per_entity",
    "calls_new_info_frac",
    # example cues (constant within an example; interact with the rest)
    "e_n_tools", "e_best_sim", "e_sim_gap", "e_n_relevant", "e_n_and", "e_n_commas", "e_n_multi",
    "e_n_entities", "e_n_numbers", "e_user_len", "e_n_turns", "e_n_questions", "e_max_required",
    "e_count_cue", "e_non_ascii",
    # interactions
    "text_x_best_sim", "text_x_n_tools", "calls_x_and", "calls_x_entities", "calls_x_cue",
    "text_x_no_tool_fits", "call_x_tool_unfit",
]
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
# I_<name>: the column of each feature (module constants, so filling a vector is cheap)
globals().update({f"I_{name}": index for index, name in enumerate(FEATURE_NAMES)})
# Counts over all arguments of all calls, reported per call, so that a right
# answer with two calls does not look twice as bad as one call.
_PER_CALL = (
    "name_in_text", "unexpected", "unexpected_near", "missing_required", "opt_present", "opt_absent",
    "opt_absent_cued", "opt_absent_enum_cued", "opt_present_uncued", "opt_present_default",
    "opt_present_ungrounded", "opt_nondefault_uncued", "opt_present_grounded", "nested_unexpected",
    "nested_missing_required",
    "type_errors", "numeric_string_for_number", "string_for_array", "array_item_type_errors", "enum_violations",
    "range_violations", "null_values", "str_sub_entity", "str_super_entity", "str_placeholder", "str_empty",
    "str_and_joined", "str_case_mixed", "span_next_content", "span_prev_content", "date_values",
    "date_ungrounded", "date_format_bad", "num_scaled", "num_default", "num_year", "bool_true_mentioned",
    "bool_true_unmentioned", "bool_false_mentioned", "bool_false_unmentioned", "enum_values", "enum_contradict",
    "enum_default", "shape_checked", "class_checked", "class_mismatch", "req_ungrounded", "dup_values_in_call",
    "value_is_param_name", "align_checked", "align_other", "n_values", "ctx_checked", "ctx_other_only",
    "value_has_param_word",
)
N_FEATURES = len(FEATURE_NAMES)


def feature_signature() -> str:
    """Hash of the feature version and names: a saved model must match it."""
    text = FEATURE_VERSION + "\n" + "\n".join(FEATURE_NAMES)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_STAT_FIELDS = (
    "n_str", "str_exact", "str_norm_sub", "str_ungrounded", "overlap_sum", "overlap_min",
    "sub_entity", "super_entity", "entity_exact", "placeholder", "empty", "and_joined", "case_mixed",
    "date_values", "date_grounded", "date_ungrounded", "date_format_bad", "n_num",
    "num_grounded", "num_scaled", "num_ungrounded", "num_default", "num_year", "n_bool",
    "bool_true_m", "bool_true_u", "bool_false_m", "bool_false_u", "bool_default",
    "enum_values", "enum_grounded", "enum_contradict",
    "enum_default", "shape_checked", "shape_min", "shape_sum", "class_checked", "class_mismatch",
    "type_errors", "numeric_string", "span_next", "span_prev", "head_grounded", "siblings",
    "string_for_array", "item_type_errors", "enum_violations", "range_violations",
    "null_values", "nested_unexpected", "nested_missing", "req_ungrounded", "call_values",
    "dup_values", "value_is_param_name", "blob", "nums_used")


class _ValueStats:
    """Accumulates per-argument observations of one candidate (counters default to 0)."""

    def __init__(self):
        self.overlap_min = 1.0
        self.shape_min = 1.0
        self.call_values = set()
        self.blob = []
        self.nums_used = set()
        self.siblings = []


for _field in _STAT_FIELDS:
    if not hasattr(_ValueStats, _field):
        setattr(_ValueStats, _field, 0)


def _value_key(value: Any) -> str:
    if isinstance(value, str):
        return "s" + value.strip().lower()
    return "v" + repr(value)


_NOT_ADDITIVE = {"overlap_min", "shape_min", "call_values", "blob", "nums_used", "siblings", "dup_values"}
_SCALARS = (str, int, float, bool, type(None))


def _observe(ex: ExampleInfo, st: _ValueStats, value: Any, param: ParamInfo | None, depth: int,
             key: tuple, required: bool) -> tuple[bool, int]:
    """Record one argument value. Returns (grounded, char offset in the user text or -1).

    What a scalar contributes depends only on the example, the parameter and the value, and
    the candidates of one example share most values: it is computed once and replayed.
    """
    if depth > 4:
        return True, -1
    if not isinstance(value, _SCALARS):
        return _observe_value(ex, st, value, param, depth, key, required)
    if depth == 0 and not isinstance(value, bool) and value is not None:
        vkey = _value_key(value)
        if vkey in st.call_values and (len(vkey) > 2 if isinstance(value, str) else abs(value) > 1):
            st.dup_values += 1
        st.call_values.add(vkey)
    memo_key = ("obs", key, depth, required, type(value), value)
    try:
        record = ex._cache.get(memo_key)
    except TypeError:
        record = None
    if record is None:
        tmp = _ValueStats()
        result = _observe_value(ex, tmp, value, param, depth, key, required)
        record = (_snapshot(tmp), result)
        if len(ex._cache) < 50_000:
            ex._cache[memo_key] = record
    _replay(st, record[0])
    return record[1]


def _observe_value(ex: ExampleInfo, st: _ValueStats, value: Any, param: ParamInfo | None, depth: int,
                   key: tuple, required: bool) -> tuple[bool, int]:
    if depth > 4:
        return True, -1
    grounded, offset = True, -1
    if param is not None:
        types = param.types
        if value is None:
            st.null_values += 1
        elif not _type_ok(value, types):
            st.type_errors += 1
            if isinstance(value, str) and ("number" in types or "integer" in types) \
                    and _NUMERIC_STRING.match(value):
                st.numeric_string += 1
            if isinstance(value, str) and "array" in types:
                st.string_for_array += 1
        if param.enum is not None and not isinstance(value, (list, dict)):
            st.enum_values += 1
            norm = standardize(str(value)) if not isinstance(value, bool) else str(value).lower()
            if norm not in param.enum_norm:
                st.enum_violations += 1
            mentions = ex.enum_mentions(key, param)
            if norm in mentions:
                st.enum_grounded += 1
            elif mentions:
                st.enum_contradict += 1
            if param.has_default and value == param.default:
                st.enum_default += 1
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if (param.minimum is not None and value < param.minimum) or \
                    (param.maximum is not None and value > param.maximum):
                st.range_violations += 1
    if isinstance(value, bool):
        st.n_bool += 1
        mention = ex.param_mention(key, param) if param is not None else -1.0
        if mention < 0:
            mention = 0.5
        if value:
            st.bool_true_m += mention
            st.bool_true_u += 1 - mention
        else:
            st.bool_false_m += mention
            st.bool_false_u += 1 - mention
        if param is not None and param.has_default and param.default == value:
            st.bool_default += 1
        return True, -1
    if isinstance(value, str):
        st.n_str += 1
        stripped = value.strip()
        if stripped.lower() in _PLACEHOLDERS or (stripped.startswith("<") and stripped.endswith(">")):
            st.placeholder += 1
        if not stripped:
            st.empty += 1
            return False, -1
        norm = standardize(value)
        if param is not None and norm == param.norm_name:
            st.value_is_param_name += 1
        st.blob.append(norm)
        toks = _tokens(value)
        if param is not None:
            examples = param.shape_examples()
            if examples:
                shape = _shape(value)
                best = max(_shape_similarity(shape, e) for e in examples)
                st.shape_checked += 1
                st.shape_sum += best
                st.shape_min = min(st.shape_min, best)
            pclass = param.value_class
            if pclass is not None and param.enum is None:
                st.class_checked += 1
                if cached_value_class(value) not in _CLASS_ALLOWED[pclass]:
                    st.class_mismatch += 1
        iso = parse_date(value) if _HAS_DIGIT.search(value) is not None else None
        if iso is not None or _DATE_SHAPE.match(stripped):
            st.date_values += 1
            if param is not None and param.date_format and not _DATE_SHAPE.match(stripped):
                st.date_format_bad += 1
            if iso is not None and (iso in ex.dates or iso[5:] in ex.month_days):
                st.date_grounded += 1
            elif norm not in ex.norm_text:
                st.date_ungrounded += 1
                grounded = False
        if _NUMERIC_STRING.match(value):
            try:
                number = float(value.replace(",", "").replace("$", "").replace("%", "").strip())
            except ValueError:
                number = None
            if number is not None and number in ex.numbers:
                st.nums_used.add(number)
        span = ex.token_span(toks)
        if span >= 0:
            st.str_exact += 1
            tstr = " " + " ".join(toks) + " "
            at = ex.user_token_str.find(tstr)
            if at >= 0:
                offset = ex.user_lower.find(value.lower())
                if offset >= 0:
                    st.span_next += _content_word_after(ex.user_lower, offset + len(value))
                    st.span_prev += _content_word_before(ex.user_lower, offset)
                else:
                    offset = ex.user_lower.find(toks[0])
        elif len(norm) >= 1 and norm in ex.norm_text:
            st.str_norm_sub += 1
        else:
            grounded = False
        if toks:
            overlap = sum(map(ex.token_set.__contains__, toks)) / len(toks)
        else:
            overlap = 1.0
        st.overlap_sum += overlap
        st.overlap_min = min(st.overlap_min, overlap)
        if grounded:
            st.head_grounded += 1
        elif "," in value:
            head = _tokens(value.split(",", 1)[0])
            if head and ex.token_span(head) >= 0:
                st.head_grounded += 1
        if offset >= 0:
            _siblings(ex, st, offset, offset + len(value) if ex.user_lower.startswith(value.lower(), offset) else -1)
        if not grounded and overlap < 1.0:
            st.str_ungrounded += 1
            if required:
                st.req_ungrounded += 1
        if toks:
            tstr = " " + " ".join(toks) + " "
            sub = sup = exact = False
            for ent_norm, ent_toks in ex.entities:
                if ent_toks == tstr:
                    exact = True
                elif tstr in ent_toks:
                    sub = True
                elif ent_toks in tstr:
                    sup = True
            st.entity_exact += exact
            st.sub_entity += sub and not exact
            st.super_entity += sup and not exact and span < 0
            if (" and " in value or " & " in value) and span < 0:
                st.and_joined += 1
            words = stripped.split()
            if len(words) > 1 and words[0][:1].isupper() and any(
                    w[:1].islower() and w.lower() not in STOPWORDS for w in words[1:]):
                st.case_mixed += 1
        return grounded, offset
    if isinstance(value, (int, float)):
        st.n_num += 1
        number = float(value)
        if param is not None and param.has_default and param.default == value:
            st.num_default += 1
        if 1900 <= number <= 2100 and number == int(number):
            st.num_year += 1
        if number in ex.numbers:
            st.num_grounded += 1
            st.nums_used.add(number)
            span = ex.user_number_spans.get(number)
            if span is not None:
                _siblings(ex, st, span[0], span[1])
                return True, span[0]
            return True, -1
        for scaled in (number * 100, number / 100, number * 1000, number / 1000, number * 60, number / 60):
            if scaled in ex.numbers or round(scaled, 6) in ex.numbers:
                st.num_scaled += 1
                return True, -1
        st.num_ungrounded += 1
        if required:
            st.req_ungrounded += 1
        return False, -1
    if isinstance(value, (list, tuple)):
        item_param = ex.items_param(key, param) if param is not None and param.items else None
        all_grounded = True
        for item in value[:32]:
            if item_param is not None and item is not None and not _type_ok(item, item_param.types):
                st.item_type_errors += 1
            g, _ = _observe(ex, st, item, item_param, depth + 1, key + ("[]",), required)
            all_grounded &= g
        return all_grounded, -1
    if isinstance(value, dict):
        sub_infos = None
        if param is not None and param.properties is not None:
            sub_infos = ex.sub_params(key, param)
            for req in param.required:
                if req not in value:
                    st.nested_missing += 1
        all_grounded = True
        for k, v in list(value.items())[:64]:
            sub = sub_infos.get(k) if sub_infos is not None else None
            if sub_infos and sub is None:
                st.nested_unexpected += 1
            g, _ = _observe(ex, st, v, sub, depth + 1, key + (str(k),), False)
            all_grounded &= g
        return all_grounded, -1
    return True, -1


_WORD_AFTER = re.compile(r"\s*([a-z0-9][a-z0-9'-]*)")
_WORD_BEFORE = re.compile(r"([a-z0-9][a-z0-9'-]*)\s*$")


_CONJ = re.compile(r"(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|vs\.?)\s+|\s*&\s*)"
                   r"(?:(?:also|then|for|in|at|of|the|to|from|on|with)\s+)*(?=[a-z0-9])")
_WORD_AT = re.compile(r"[a-z0-9][a-z0-9'-]*")
_CONJ_TRIGGER = re.compile(r",|&|\b(?:and|or|vs)\b")
_WORD_ENDING = re.compile(r"([a-z0-9][a-z0-9'-]*)$")


def _listed_pairs(text: str) -> tuple[dict[int, str], dict[int, str]]:
    """Words joined by a conjunction or comma: {end of left word: right word}, {start of right: left}."""
    after: dict[int, str] = {}
    before: dict[int, str] = {}
    for trigger in _CONJ_TRIGGER.finditer(text):
        # back up over spaces to the end of the left word, then match the whole joiner there
        start = trigger.start()
        while start > 0 and text[start - 1] == " ":
            start -= 1
        if start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "'-") or start in after:
            continue
        m = _CONJ.match(text, start)
        if m is None:
            continue
        end = m.end()
        right = _WORD_AT.match(text, end)
        left = _WORD_ENDING.search(text, max(0, start - 40), start)
        if right is None or left is None:
            continue
        after[start] = right.group(0)
        before[end] = left.group(1)
    return after, before


def _siblings(ex: ExampleInfo, st: "_ValueStats", start: int, end: int) -> None:
    """Words listed right next to a value ("Boston and San Francisco"): the value's siblings.

    A sibling that no argument uses is what a dropped call or a shortened list leaves behind.
    """
    listed_after, listed_before = ex.listed
    if end >= 0:
        word = listed_after.get(end)
        if word is not None and word not in STOPWORDS:
            st.siblings.append(word)
    word = listed_before.get(start)
    if word is not None and word not in STOPWORDS:
        st.siblings.append(word)


def _content_word_after(text: str, end: int) -> int:
    """1 if the text goes on with a content word right after a value's span (a truncated value?)."""
    if end < len(text) and text[end].isalnum():
        return 1
    m = _WORD_AFTER.match(text, end, min(len(text), end + 40))
    return int(bool(m) and m.group(1) not in STOPWORDS)


def _content_word_before(text: str, start: int) -> int:
    if start > 0 and text[start - 1].isalnum():
        return 1
    m = _WORD_BEFORE.search(text, max(0, start - 40), start)
    return int(bool(m) and m.group(1) not in STOPWORDS)


def _resolve_name(ex: ExampleInfo, name: str) -> str | None:
    if name in ex.tools:
        return name
    return ex.aliases.get(name)


def _near_miss(ex: ExampleInfo, name: str) -> float:
    """How close an unknown name is to a catalog name (style variant = 1)."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    if key in ex.keys:
        return 1.0
    words = {stem(w) for w in identifier_words(name)}
    best = 0.0
    for info in ex.tools.values():
        best = max(best, _jaccard(words, info.name_words))
    return best


def _text_features(ex: ExampleInfo, text: str, v: list) -> None:
    low = text.lower()
    toks = _TOKEN.findall(low)
    v[I_text_len] = math.log1p(len(toks))
    v[I_text_question] = float("?" in text)
    tokset = set(toks) | set(re.findall(r"[a-z]+'[a-z]+", low))
    v[I_text_negative] = min(3, len(tokset & _NEGATIVE_WORDS)) / 3
    v[I_text_ask] = min(4, len(tokset & _ASK_WORDS)) / 4
    v[I_text_invalid] = min(2, len(tokset & _INVALID_WORDS)) / 2
    stems_ = {stem(t) for t in toks}
    mentions_tool = 0
    mentions_required = 0
    for info in ex.tools.values():
        if info.name and (info.name.lower() in low or (info.name_words and info.name_words <= stems_)):
            mentions_tool = 1
        for r in info.required:
            p = info.params.get(r)
            if r.lower() in low or (p is not None and p.words and p.words <= stems_):
                mentions_required += 1
    v[I_text_mentions_tool] = mentions_tool
    v[I_text_mentions_required] = min(mentions_required, 4) / 4
    hits = 0
    tstr = " " + " ".join(toks) + " "
    for ent_norm, ent_toks in ex.entities:
        if ent_toks in tstr:
            hits += 1
    v[I_text_mentions_value] = min(hits, 3) / 3


def _example_features(ex: ExampleInfo, v: list) -> None:
    v[I_e_n_tools] = math.log1p(ex.n_tools)
    v[I_e_best_sim] = ex.best_sim
    v[I_e_sim_gap] = ex.best_sim - ex.second_sim
    v[I_e_n_relevant] = min(ex.n_relevant, 6)
    v[I_e_n_and] = min(ex.n_and, 8)
    v[I_e_n_commas] = min(ex.n_commas, 10)
    v[I_e_n_multi] = min(ex.n_multi, 6)
    v[I_e_n_entities] = min(len(ex.entity_parts), 12)
    v[I_e_n_numbers] = min(len(ex.user_numbers), 12)
    v[I_e_user_len] = math.log1p(ex.user_len)
    v[I_e_n_turns] = min(ex.n_turns, 6)
    v[I_e_n_questions] = min(ex.n_questions, 4)
    v[I_e_max_required] = min(ex.max_required, 8)
    v[I_e_count_cue] = ex.count_cue
    v[I_e_non_ascii] = ex.non_ascii


_PER_CALL_INDEX = tuple(FEATURE_INDEX[name] for name in _PER_CALL)


def _arg_record(ex: ExampleInfo, resolved: str, info: ToolInfo, key: str, value: Any, param: ParamInfo,
                args: dict, is_required: bool, offset: int, value_grounded: bool) -> tuple:
    """What one argument adds to the parameter and alignment features (see _ARG_FIELDS)."""
    pkey = (resolved, key)
    out = [0.0] * len(_ARG_FIELDS)
    if not is_required:
        out[0] = 1
        mention = ex.param_mention(pkey, param)
        mentions = ex.enum_mentions(pkey, param) if param.enum is not None else ()
        enum_hit = bool(mentions)
        if mention <= 0 and not enum_hit and not value_grounded:
            out[1] = 1
        if (value_grounded and not isinstance(value, bool)) or (
                enum_hit and not isinstance(value, (list, dict)) and standardize(str(value)) in mentions) or (
                isinstance(value, bool) and mention > 0.5):
            out[2] = 1
        if param.has_default and value == param.default:
            out[3] = 1
        elif param.has_default and mention <= 0 and not value_grounded and not enum_hit:
            out[4] = 1
        if not value_grounded and not isinstance(value, bool):
            out[5] = 1
    if isinstance(value, str) and param.align_words and value.strip():
        if param.align_words & {stem(t) for t in _tokens(value)}:
            out[6] = 1
    if offset >= 0:
        shown = value if isinstance(value, str) else _fmt(float(value)) \
            if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
        window = ex.window(offset, len(shown))
        own_words = param.align_words
        own_hit = not window.isdisjoint(own_words)
        other_hit = False
        params = info.params
        for other_key in args:
            other_param = params.get(other_key)
            if other_key != key and other_param is not None and window & (other_param.align_words - own_words):
                other_hit = True
                break
        if own_hit or other_hit:
            out[7] = 1
            out[8] = int(own_hit)
            out[9] = int(other_hit and not own_hit)
        if param.words:
            own = ex.nearest_offset(param.words, offset)
            if own < math.inf:
                out[10] = 1
                out[11] = 1.0 / (1.0 + own / 30.0)
                other = math.inf
                for other_key in args:
                    other_param = params.get(other_key)
                    if other_key != key and other_param is not None:
                        distinct = other_param.words - param.words
                        if distinct:
                            other = min(other, ex.nearest_offset(distinct, offset))
                if other < own:
                    out[13] = 1
                else:
                    out[12] = 1
    return tuple(out)


_ARG_FIELDS = ("opt_present", "opt_present_uncued", "opt_present_grounded", "opt_present_default",
               "opt_nondefault_uncued", "opt_present_ungrounded", "value_has_param_word", "ctx_checked",
               "ctx_own", "ctx_other_only", "align_checked", "near_sum", "align_own", "align_other")


def _plain_calls(output: Any) -> list[dict] | None:
    """Already-decoded `[{name, arguments}]` as they are (what decode_calls would return), else None."""
    if type(output) is not list:
        return None
    for call in output:
        if type(call) is not dict or len(call) != 2 or type(call.get("name")) is not str \
                or type(call.get("arguments")) is not dict or not call["name"].strip():
            return None
        for key in call["arguments"]:
            if type(key) is not str:
                return None
    return output


def _call_record(ex: ExampleInfo, call: dict) -> tuple:
    """Everything one call contributes to a candidate's features (memoized per example and call)."""
    st = _ValueStats()
    args = call["arguments"]
    resolved = _resolve_name(ex, call["name"])
    if resolved is None:
        for key, value in args.items():
            _observe(ex, st, value, None, 0, ("?", key), False)
        return (None, _near_miss(ex, call["name"]), 0.0, 0, 0.0, 0.0, len(args), 0, 0, 0, len(args), 0,
                (), 0, 0.0, 0, 0, 0, _snapshot(st))
    info = ex.tools[resolved]
    name_in_text = int(info.name.lower() in ex.lower) if len(info.name) > 3 else 0
    required = info.required
    missing_req = sum(1 for r in required if r not in args)
    unexpected = unexpected_near = 0
    acc = [0.0] * len(_ARG_FIELDS)
    positions = []
    arg_keys = tuple(args)
    for key, value in args.items():
        param = info.params.get(key)
        pkey = (resolved, key)
        if param is None:
            unexpected += 1
            low_key = standardize(key)
            if any(low_key == standardize(p) for p in info.params):
                unexpected_near += 1
            _observe(ex, st, value, None, 0, pkey, False)
            continue
        is_required = key in required
        before = st.str_ungrounded + st.num_ungrounded + st.date_ungrounded
        grounded, offset = _observe(ex, st, value, param, 0, pkey, is_required)
        value_grounded = grounded and st.str_ungrounded + st.num_ungrounded + st.date_ungrounded == before
        if isinstance(value, _SCALARS):
            memo_key = ("arg", resolved, key, type(value), value, offset, value_grounded, arg_keys)
            try:
                record = ex._cache.get(memo_key)
            except TypeError:
                memo_key, record = None, None
            if record is None:
                record = _arg_record(ex, resolved, info, key, value, param, args, is_required,
                                     offset, value_grounded)
                if memo_key is not None and len(ex._cache) < 50_000:
                    ex._cache[memo_key] = record
        else:
            record = _arg_record(ex, resolved, info, key, value, param, args, is_required, offset, value_grounded)
        for index, delta in enumerate(record):
            if delta:
                acc[index] += delta
        if offset >= 0:
            positions.append(offset)
    discordant = ordered_pairs = 0
    for i in range(len(positions)):
        for j in range(i + 1, len(positions)):
            ordered_pairs += 1
            if positions[i] > positions[j]:
                discordant += 1
    opt_absent = opt_absent_enum = 0
    opt_absent_cued = 0.0
    for key, mention, enum_cued in ex.optional_cues(resolved, info):
        if key in args:
            continue
        opt_absent += 1
        if mention > 0:
            opt_absent_cued += mention
        opt_absent_enum += enum_cued
    return (resolved, 0.0, ex.sim[resolved], ex.rank[resolved], ex.best_sim - ex.score[resolved],
            ex.name_hit[resolved], len(args), name_in_text, len(required), missing_req, unexpected,
            unexpected_near, tuple(acc), opt_absent, opt_absent_cued, opt_absent_enum, discordant,
            ordered_pairs, _snapshot(st))


def _first(item: tuple) -> Any:
    return item[0]


def _snapshot(st: _ValueStats) -> tuple:
    """A _ValueStats as a replayable record (see _replay)."""
    deltas = tuple([(slot, delta) for slot, delta in st.__dict__.items() if delta and slot not in _NOT_ADDITIVE])
    return (deltas + ((("dup_values", st.dup_values),) if st.dup_values else ()), st.overlap_min, st.shape_min,
            tuple(st.blob), tuple(st.nums_used), tuple(st.siblings))


def _replay(st: _ValueStats, record: tuple) -> None:
    deltas, overlap_min, shape_min, blob, nums, siblings = record
    counters = st.__dict__
    get = counters.get
    for slot, delta in deltas:
        counters[slot] = get(slot, 0) + delta
    if overlap_min < st.overlap_min:
        st.overlap_min = overlap_min
    if shape_min < st.shape_min:
        st.shape_min = shape_min
    if blob:
        st.blob.extend(blob)
    if nums:
        st.nums_used.update(nums)
    if siblings:
        st.siblings.extend(siblings)


def candidate_features(ex: ExampleInfo, output: Any) -> list[float]:
    """The feature vector (in FEATURE_NAMES order) of one candidate output."""
    base = ex._cache.get(("base",))
    if base is None:
        base = [0.0] * N_FEATURES
        _example_features(ex, base)
        ex._cache[("base",)] = base
    v = base.copy()
    calls = _plain_calls(output)
    if calls is None:
        try:
            calls = decode_calls(output)
        except DecodeError:
            calls = None
    if calls is None:
        if isinstance(output, str):
            stripped = output.strip()
            callish = bool(re.search(r"[\[{(]", stripped)) and (
                stripped[:1] in "[{(<`" or "<tool_call>" in stripped
                or any(name in stripped for name in ex.tools) or '"name"' in stripped)
            v[I_decode_error] = float(callish)  # a broken call; prose is not a decoding error
            v[I_callish_text] = float(callish)
            v[I_is_text] = float(not callish)
            _text_features(ex, output, v)
        else:
            v[I_decode_error] = 1.0
            v[I_callish_text] = 1.0
        v[I_text_x_best_sim] = v[I_is_text] * ex.best_sim
        v[I_text_x_n_tools] = v[I_is_text] * math.log1p(ex.n_tools)
        v[I_text_x_no_tool_fits] = v[I_is_text] * ex.no_tool_fits
        return v
    if not calls:
        v[I_is_text] = 1.0
        v[I_empty_output] = 1.0
        v[I_text_x_best_sim] = ex.best_sim
        v[I_text_x_n_tools] = math.log1p(ex.n_tools)
        v[I_text_x_no_tool_fits] = ex.no_tool_fits
        return v

    n = len(calls)
    v[I_n_calls] = min(n, 8)
    v[I_one_call] = float(n == 1)
    v[I_multi_call] = float(n > 1)
    v[I_calls_x_and] = min(n, 8) * min(ex.n_and, 8)
    v[I_calls_x_entities] = min(n, 8) * min(len(ex.entities), 12)
    v[I_calls_x_cue] = min(n, 8) * ex.count_cue
    names = [call["name"] for call in calls]
    if n > 1:
        seen_calls = set()
        dup = 0
        for call in calls:
            try:
                ckey = call["name"] + "\x00" + repr(sorted(call["arguments"].items(), key=_first))
            except (TypeError, ValueError, RecursionError):
                ckey = call["name"] + "\x00" + repr(call["arguments"])
            dup += ckey in seen_calls
            seen_calls.add(ckey)
        v[I_dup_calls] = dup
    v[I_dup_names] = n - len(set(names))
    v[I_distinct_names_frac] = len(set(names)) / n

    st = _ValueStats()
    unknown = unknown_near = 0.0
    sims, ranks, gaps, hits = [], [], [], []
    n_args = unexpected = unexpected_near = missing_req = req_total = 0
    acc = [0.0] * len(_ARG_FIELDS)
    opt_absent = 0
    opt_absent_cued = 0.0
    opt_absent_enum = 0
    discordant = ordered_pairs = 0
    called = set()
    name_in_text = 0
    by_name: dict[str, list[dict]] = {}
    cache = ex._cache
    for call in calls:
        try:
            memo_key = ("call", call["name"], repr(call["arguments"]))
        except (TypeError, ValueError, RecursionError):
            memo_key = None
        record = cache.get(memo_key) if memo_key is not None else None
        if record is None:
            record = _call_record(ex, call)
            if memo_key is not None and len(cache) < 50_000:
                cache[memo_key] = record
        (resolved, r_unknown_near, r_sim, r_rank, r_gap, r_hit, r_n_args, r_name_in_text, r_req_total,
         r_missing_req, r_unexpected, r_unexpected_near, r_acc, r_opt_absent, r_opt_absent_cued,
         r_opt_absent_enum, r_discordant, r_ordered_pairs, r_stats) = record
        n_args += r_n_args
        unexpected += r_unexpected
        if resolved is None:
            unknown += 1
            if r_unknown_near > unknown_near:
                unknown_near = r_unknown_near
        else:
            called.add(resolved)
            by_name.setdefault(resolved, []).append(call["arguments"])
            sims.append(r_sim)
            ranks.append(r_rank)
            gaps.append(r_gap)
            hits.append(r_hit)
            name_in_text += r_name_in_text
            req_total += r_req_total
            missing_req += r_missing_req
            unexpected_near += r_unexpected_near
            for index, delta in enumerate(r_acc):
                if delta:
                    acc[index] += delta
            opt_absent += r_opt_absent
            opt_absent_cued += r_opt_absent_cued
            opt_absent_enum += r_opt_absent_enum
            discordant += r_discordant
            ordered_pairs += r_ordered_pairs
        _replay(st, r_stats)

    (opt_present, opt_present_uncued, opt_present_grounded, opt_present_default, opt_nondefault_uncued,
     opt_present_ungrounded, value_has_param_word, ctx_checked, ctx_own, ctx_other_only, align_checked,
     near_sum, align_own, align_other) = acc
    v[I_unknown_names] = unknown
    v[I_unknown_near] = unknown_near
    if sims:
        worst = min(sim + 0.5 * hit for sim, hit in zip(sims, hits))
        v[I_call_x_tool_unfit] = max(0.0, 1.0 - worst / 0.2) * (1.0 - min(1.0, ex.non_ascii * 5))
        v[I_name_sim_mean] = sum(sims) / len(sims)
        v[I_name_sim_min] = min(sims)
        v[I_name_rank_max] = min(max(ranks), 8)
        v[I_name_gap_max] = max(gaps)
        v[I_name_hit_min] = min(hits)
        v[I_is_best_all] = float(max(ranks) < max(1, len(called)))
    v[I_name_in_text] = name_in_text
    relevant = ex.relevant
    v[I_relevant_uncalled] = min(sum(1 for r in relevant if r not in called), 6)
    v[I_calls_minus_relevant] = max(-6, min(6, len(called) - len(relevant)))
    if ex.count_cue:
        most = max(len(v) for v in by_name.values()) if by_name else n
        v[I_count_cue_match] = float(n == ex.count_cue or most == ex.count_cue)
        v[I_count_cue_short] = float(n < ex.count_cue)
        v[I_count_cue_over] = float(n > ex.count_cue and most != ex.count_cue)
    v[I_n_args] = math.log1p(n_args)
    v[I_args_per_call] = n_args / n
    v[I_unexpected] = unexpected
    v[I_unexpected_near] = unexpected_near
    v[I_missing_required] = missing_req
    v[I_missing_required_frac] = missing_req / req_total if req_total else 0.0
    v[I_opt_present] = min(opt_present, 10)
    v[I_opt_absent] = min(opt_absent, 10)
    v[I_opt_absent_cued] = opt_absent_cued
    v[I_opt_absent_enum_cued] = opt_absent_enum
    v[I_opt_present_uncued] = opt_present_uncued
    v[I_opt_present_default] = opt_present_default
    v[I_opt_present_ungrounded] = opt_present_ungrounded
    v[I_opt_nondefault_uncued] = opt_nondefault_uncued
    v[I_opt_present_grounded] = opt_present_grounded
    g = st.__dict__.get
    v[I_nested_unexpected] = g("nested_unexpected", 0)
    v[I_nested_missing_required] = g("nested_missing", 0)
    v[I_type_errors] = g("type_errors", 0)
    v[I_numeric_string_for_number] = g("numeric_string", 0)
    v[I_string_for_array] = g("string_for_array", 0)
    v[I_array_item_type_errors] = g("item_type_errors", 0)
    v[I_enum_violations] = g("enum_violations", 0)
    v[I_range_violations] = g("range_violations", 0)
    v[I_null_values] = g("null_values", 0)
    n_values = g("n_str", 0) + g("n_num", 0) + g("n_bool", 0)
    v[I_n_values] = math.log1p(n_values)
    if n_values:
        v[I_str_share] = g("n_str", 0) / n_values
        v[I_num_share] = g("n_num", 0) / n_values
        v[I_bool_share] = g("n_bool", 0) / n_values
    if g("n_str", 0):
        v[I_str_exact_frac] = g("str_exact", 0) / g("n_str", 0)
        v[I_str_norm_frac] = g("str_norm_sub", 0) / g("n_str", 0)
        v[I_str_ungrounded_frac] = g("str_ungrounded", 0) / g("n_str", 0)
        v[I_str_entity_exact_frac] = g("entity_exact", 0) / g("n_str", 0)
        v[I_str_overlap_mean] = g("overlap_sum", 0) / g("n_str", 0)
        v[I_str_overlap_min] = st.overlap_min
    else:
        v[I_str_overlap_mean] = 1.0
        v[I_str_overlap_min] = 1.0
    v[I_str_ungrounded_any] = float(g("str_ungrounded", 0) > 0)
    v[I_str_head_grounded_frac] = g("head_grounded", 0) / g("n_str", 0) if g("n_str", 0) else 1.0
    v[I_str_sub_entity] = min(g("sub_entity", 0), 4)
    v[I_str_super_entity] = min(g("super_entity", 0), 4)
    v[I_str_placeholder] = g("placeholder", 0)
    v[I_str_empty] = g("empty", 0)
    v[I_str_and_joined] = g("and_joined", 0)
    v[I_str_case_mixed] = g("case_mixed", 0)
    v[I_span_next_content] = g("span_next", 0)
    v[I_span_prev_content] = g("span_prev", 0)
    v[I_date_values] = min(g("date_values", 0), 6)
    v[I_date_grounded_frac] = g("date_grounded", 0) / g("date_values", 0) if g("date_values", 0) else 0.0
    v[I_date_ungrounded] = g("date_ungrounded", 0)
    v[I_date_format_bad] = g("date_format_bad", 0)
    if g("n_num", 0):
        v[I_num_grounded_frac] = g("num_grounded", 0) / g("n_num", 0)
        v[I_num_ungrounded_frac] = g("num_ungrounded", 0) / g("n_num", 0)
    v[I_num_ungrounded_any] = float(g("num_ungrounded", 0) > 0)
    v[I_num_scaled] = g("num_scaled", 0)
    v[I_num_default] = g("num_default", 0)
    v[I_num_year] = min(g("num_year", 0), 4)
    v[I_bool_true_mentioned] = g("bool_true_m", 0)
    v[I_bool_true_unmentioned] = g("bool_true_u", 0)
    v[I_bool_false_mentioned] = g("bool_false_m", 0)
    v[I_bool_false_unmentioned] = g("bool_false_u", 0)
    v[I_bool_default_frac] = g("bool_default", 0) / g("n_bool", 0) if g("n_bool", 0) else 0.0
    v[I_enum_values] = min(g("enum_values", 0), 10)
    v[I_enum_grounded_frac] = g("enum_grounded", 0) / g("enum_values", 0) if g("enum_values", 0) else 0.0
    v[I_enum_contradict] = g("enum_contradict", 0)
    v[I_enum_default] = g("enum_default", 0)
    v[I_shape_checked] = min(g("shape_checked", 0), 6)
    v[I_shape_sim_min] = st.shape_min if g("shape_checked", 0) else 1.0
    v[I_shape_sim_mean] = g("shape_sum", 0) / g("shape_checked", 0) if g("shape_checked", 0) else 1.0
    v[I_class_checked] = min(g("class_checked", 0), 6)
    v[I_class_mismatch] = g("class_mismatch", 0)
    v[I_req_ungrounded] = g("req_ungrounded", 0)
    v[I_dup_values_in_call] = g("dup_values", 0)
    v[I_value_is_param_name] = g("value_is_param_name", 0)
    v[I_align_checked] = min(align_checked, 6)
    v[I_align_own_frac] = align_own / align_checked if align_checked else 0.0
    v[I_align_other] = align_other
    v[I_align_near_mean] = near_sum / align_checked if align_checked else 0.0
    v[I_order_discordant_frac] = discordant / ordered_pairs if ordered_pairs else 0.0
    v[I_ctx_checked] = min(ctx_checked, 6)
    v[I_ctx_own_frac] = ctx_own / ctx_checked if ctx_checked else 0.0
    v[I_ctx_other_only] = ctx_other_only
    v[I_value_has_param_word] = value_has_param_word
    blob = "\x00".join(st.blob)
    if ex.quoted:
        v[I_quoted_uncovered] = sum(1 for q in ex.quoted if q not in blob)
    if st.siblings:
        used_numbers = {_fmt(v) for v in st.nums_used}
        v[I_sibling_unused] = min(4, sum(1 for w in set(st.siblings)
                                         if standardize(w) not in blob and w not in used_numbers))
    if ex.entity_parts:
        covered = sum(1 for part in ex.entity_parts if part in blob)
        v[I_entity_cover] = covered / len(ex.entity_parts)
        v[I_entity_uncovered] = min(len(ex.entity_parts) - covered, 10)
    else:
        v[I_entity_cover] = 1.0
    if ex.user_numbers:
        used = sum(1 for v in ex.user_numbers if v in st.nums_used or standardize(_fmt(v)) in blob)
        v[I_number_cover] = used / len(ex.user_numbers)
        v[I_number_uncovered] = min(len(ex.user_numbers) - used, 10)
    else:
        v[I_number_cover] = 1.0
    varying = identical = varying_grounded = varying_listed = 0
    for name, arg_list in by_name.items():
        if len(arg_list) < 2:
            continue
        keys = set().union(*arg_list)
        for key in keys:
            values = [a.get(key) for a in arg_list]
            if len({_value_key(v) for v in values}) > 1:
                varying += 1
                varying_grounded += all(_grounded_simple(ex, v) for v in values)
                varying_listed += _listed_together(ex, values)
            else:
                identical += 1
    v[I_same_name_varying] = varying
    v[I_same_name_identical_params] = identical
    v[I_varying_grounded_frac] = varying_grounded / varying if varying else 0.0
    v[I_varying_listed_frac] = varying_listed / varying if varying else 0.0
    if n > 1:
        # does every call carry something (grounded) that no other call has?
        keyed = [{(k, _value_key(v)) for k, v in call["arguments"].items()} for call in calls]
        new = 0
        for i, own in enumerate(keyed):
            others = set().union(*(keyed[:i] + keyed[i + 1:]))
            if any(_grounded_simple(ex, calls[i]["arguments"][k]) for k, _ in own - others):
                new += 1
        v[I_calls_new_info_frac] = new / n
    v[I_calls_per_entity] = n / (1 + len(ex.entity_parts))
    if n > 1:
        for index in _PER_CALL_INDEX:
            v[index] /= n
    return v


_JOINER = re.compile(r"^[\s,;&/]*(?:(?:and|or|vs\.?|also|then|as well as|plus|for|in|at|of|the|to|from|on|with)"
                     r"[\s,;&/]+)*$")


def _listed_together(ex: ExampleInfo, values: list) -> int:
    """1 if the user listed these values side by side ("Boston and Denver", "5, 7 or 9")."""
    spans = []
    for value in values:
        if isinstance(value, str):
            full = value.strip().lower()
            at = ex.user_lower.find(full) if full else -1
            end = at + len(full)
            if at < 0:
                head = full.split(",", 1)[0].strip()
                at = ex.user_lower.find(head) if head else -1
                end = at + len(head)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            span = ex.user_number_spans.get(float(value))
            at, end = span if span else (-1, -1)
        else:
            return 0
        if at < 0:
            return 0
        spans.append((at, end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:]):
        gap = ex.user_lower[end:start]
        if len(gap) > 40 or not (("," in gap or "&" in gap or " and " in f" {gap} " or " or " in f" {gap} ")
                                 and _JOINER.match(gap)):
            return 0
    return 1


def _grounded_simple(ex: ExampleInfo, value: Any) -> bool:
    if isinstance(value, str):
        memo_key = ("grounded", value)
        hit = ex._cache.get(memo_key)
        if hit is None:
            hit = ex._cache[memo_key] = _grounded_string(ex, value)
        return hit
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, (int, float)):
        return float(value) in ex.numbers
    if isinstance(value, (list, tuple)):
        return all(_grounded_simple(ex, v) for v in value[:16])
    if isinstance(value, dict):
        return all(_grounded_simple(ex, v) for v in list(value.values())[:16])
    return True


def _grounded_string(ex: ExampleInfo, value: str) -> bool:
    toks = _tokens(value)
    if not toks:
        return False
    if ex.token_span(toks) >= 0 or standardize(value) in ex.norm_text:
        return True
    head = _tokens(value.split(",", 1)[0]) if "," in value else None
    return bool(head) and ex.token_span(head) >= 0


def _fmt(v: float) -> str:
    return str(int(v)) if v == int(v) else str(v)


# --------------------------------------------------------------------------- batch API

class ContextCache:
    """A bounded cache of ExampleInfo by example identity and content."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._items: OrderedDict[Any, ExampleInfo] = OrderedDict()

    @staticmethod
    def key(example: dict) -> Any:
        content = example.get("content_hash")
        if content:
            return ("h", example.get("example_id"), content)
        return ("o", id(example))

    def get(self, example: dict) -> ExampleInfo:
        key = self.key(example)
        info = self._items.get(key)
        if info is not None and key[0] == "h":
            self._items.move_to_end(key)
            return info
        info = ExampleInfo(example)
        if key[0] == "h":
            self._items[key] = info
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return info


def featurize(examples: Sequence[dict] | dict, outputs: Sequence[Any],
              cache: ContextCache | None = None) -> np.ndarray:
    """Features of (example, output) pairs, one row each (float32).

    `examples` is one example for all outputs, or one per output; the same
    example object may repeat (its context is computed once).
    """
    n = len(outputs)
    out = np.zeros((n, N_FEATURES), dtype=np.float32)
    if n == 0:
        return out
    single = isinstance(examples, dict)
    if not single and len(examples) != n:
        raise ValueError(f"got {len(examples)} examples for {n} outputs")
    cache = cache if cache is not None else ContextCache()
    local: dict[int, ExampleInfo] = {}
    for i in range(n):
        example = examples if single else examples[i]
        info = local.get(id(example))
        if info is None:
            info = cache.get(example)
            local[id(example)] = info
        out[i] = candidate_features(info, outputs[i])
    return out
