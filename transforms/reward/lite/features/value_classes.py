"""Classes of values (date, time, email, place, ...) and the class a parameter's name asks for.

A value whose class its parameter's name rules out (an email in `city`) is a
wrong value even where it is grounded in the conversation.
"""
from __future__ import annotations

import re

from toolrm_beam.transforms.reward.lite.features.text import DATE_SHAPE, HAS_DIGIT, MONTHS, NUMERIC_STRING, identifier_words, \
    parse_date

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_PREFIXES = {d[:3] for d in _WEEKDAYS}
_RELATIVE_DATES = frozenset("today tomorrow yesterday tonight now week weekend month year next last this".split())
_TIME_VALUE = re.compile(r"^\d{1,2}(:\d{2})?(:\d{2})?\s*(am|pm)?$|^\d{1,2}\s*(am|pm)$", re.I)
_EMAIL_VALUE = re.compile(r"^[\w.+-]+@[\w-]+\.[\w.]+$")
_URL_VALUE = re.compile(r"^(https?://|www\.)\S+$|^[\w-]+(\.[\w-]+)+(/\S*)?$")
_PHONE_VALUE = re.compile(r"^\+?[\d\s().-]{7,}$")
_YEAR_VALUE = re.compile(r"(19|20)\d\d")
# parameter-name words -> the class of value they take
_PARAM_CLASS_WORDS = {
    "date": "date", "day": "date", "birthday": "date", "deadline": "date", "dob": "date", "weekday": "weekday",
    "time": "time", "hour": "time", "clock": "time", "email": "email", "mail": "email", "url": "url",
    "link": "url", "website": "url", "uri": "url", "endpoint": "url", "phone": "phone", "mobile": "phone",
    "city": "place", "location": "place", "country": "place", "region": "place", "place": "place",
    "address": "place", "destination": "place", "origin": "place", "venue": "place", "area": "place",
    "state": "place", "town": "place", "month": "month", "year": "year",
}
# parameter class -> the value classes it accepts
CLASS_ALLOWED = {
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
    if DATE_SHAPE.match(v) or (HAS_DIGIT.search(v) is not None and parse_date(v)):
        return "date"
    if _TIME_VALUE.match(v):
        return "time"
    if low in _WEEKDAYS or low[:3] in _WEEKDAY_PREFIXES and len(low) <= 4:
        return "weekday"
    if low in MONTHS:
        return "month"
    if _YEAR_VALUE.fullmatch(v):
        return "year"
    if NUMERIC_STRING.match(v):
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


def param_class(name: str, words: list[str] | None = None) -> str | None:
    """The value class a parameter's name asks for (`words`: its identifier words, if known)."""
    if words is None:
        words = identifier_words(name)
    for w in reversed(words):  # the head noun is last: `start_date`, `dayOfWeek` -> week (none) -> day
        cls = _PARAM_CLASS_WORDS.get(w)
        if cls is not None:
            return cls
    return None
