"""Text normalisation: tokens, stems, identifier words, numbers, dates and value shapes.

Everything here is a pure function of its text; the few memos (stems, date
values) are bounded and shared by every example.
"""
from __future__ import annotations

import datetime
import math
import operator
import re
from typing import Iterable

TOKEN = re.compile(r"[a-z0-9]+")
# a word that starts with a letter (stems of the user's words, and where they occur)
WORD = re.compile(r"[a-z][a-z0-9]+")
HAS_DIGIT = re.compile(r"\d")
DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}")
NUMERIC_STRING = re.compile(r"^\s*[-+]?\$?\d[\d,]*(?:\.\d+)?\s*%?\s*$")
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_NUMBER = re.compile(r"(?=[-+$\d.])(?<![\w.])[-+]?\$?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.?\d+(?:[eE][-+]?\d+)?)")
_ISO_DATE = re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b")
_MDY_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b")
_MONTH_RE = "|".join(m[:3] + "(?:" + m[3:] + ")?" for m in MONTHS)
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\.?,?\s+(\d{{4}})\b", re.I)
_MONTH_DAY = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_URL = re.compile(r"https?://[^\s'\"<>]+")
_DOMAIN = re.compile(r"\b[\w-]+\.(?:com|org|net|io|gov|edu)\b")
_DOMAIN_ENDINGS = (".com", ".org", ".net", ".io", ".gov", ".edu")

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
_NUMBER_WORD = re.compile(r"\b(?:" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\b")


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
    # str.replace, not a regex substitution: several times faster on long texts
    return text.replace(" ", "").replace(",", "").replace(".", "").replace("/", "").replace("-", "") \
        .replace("_", "").replace("*", "").replace("^", "").lower().replace("'", '"')


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


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def token_string(toks: list[str]) -> str:
    """Tokens joined and padded with spaces, so that `in` finds whole-token spans."""
    return " " + " ".join(toks) + " "


_WORD_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789'-"


def word_ending_at(text: str, start: int, end: int) -> str | None:
    """The word (`[a-z0-9][a-z0-9'-]*`) ending at `end` and starting no earlier than `start`.

    What `re.search(r"([a-z0-9][a-z0-9'-]*)$", text, start, end)` finds, with string
    methods instead of a regex tried at every start position.
    """
    if end > start and text[end - 1] == "\n":  # `$` also matches before a final newline
        end -= 1
    segment = text[start:end]
    # the trailing run of word characters, from its first letter or digit
    word = segment[len(segment.rstrip(_WORD_CHARS)):].lstrip("'-")
    return word or None


def format_number(v: float) -> str:
    return str(int(v)) if v == int(v) else str(v)


# --------------------------------------------------------------------------- dates and numbers

def _to_iso(year: int, month: int, day: int) -> str | None:
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None


def _month(name: str) -> int:
    return next(i for i, m in enumerate(MONTHS, 1) if m.startswith(name.lower()[:3]))


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


def find_numbers(text: str, words: Iterable[str] | None = None) -> dict[float, tuple[int, int]]:
    """Numbers in text (digits and number words) -> (start, end) of their first occurrence.

    `words`: the text's lower-cased tokens (or any superset), where the caller has them already.
    """
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
    if not _NUMBER_WORDS.keys().isdisjoint(TOKEN.findall(low) if words is None else words):
        for m in _NUMBER_WORD.finditer(low):
            out.setdefault(float(_NUMBER_WORDS[m.group(0)]), (m.start(), m.end()))
    return out


# --------------------------------------------------------------------------- value shapes

def value_shape(value: str) -> tuple:
    """Which separators, digits and casing a string value has ("San Francisco, CA")."""
    return ("," in value, HAS_DIGIT.search(value) is not None, " " in value.strip(),
            value.isupper(), ":" in value, "/" in value, "-" in value, "@" in value)


def shape_similarity(a: tuple, b: tuple) -> float:
    return sum(map(operator.eq, a, b)) / len(a)
