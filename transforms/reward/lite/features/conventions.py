"""Value conventions that a parameter's description states in prose, and values that break them.

Real models' most common value errors are not invented values: they copy the
user's words where the tool asks for something else. The description says
"in the format of the stock symbol" and the call sends "Apple Inc." (grounded
in the request, wrong); it says "ranging from 0 to 1" and the call sends 3.5
for "3.5%"; it lists "Possible options: US, AT, DE, FR" and the call sends
"France"; it asks for "MM-DD-YYYY" and the call sends "2023-12-11". JSON Schema
would carry these as `enum`, `minimum`/`maximum` or `pattern`; tool authors
write them into the description instead. `conventions_of(description)` reads
them once per parameter (cached with the tool spec); `check_value` says
whether one value keeps them.

What is read (English descriptions; nothing here is specific to a corpus):
- options: "Possible options: a, b", "one of: a|b|c", "options [a, b]",
  "(Celsius or Fahrenheit)", "either 'x' or 'y'", "a|b|c";
- a numeric range: "ranging from 0 to 1", "between 0 and 100", "from 1 to 5",
  and the scale words "as a decimal"/"fraction" (0..1) or "percentage"/"percent";
- a value form: a code ("symbol", "ticker", "ISO ... code", "abbreviation",
  "two-letter"), a full name ("full name", "spelled out"), a Python lambda
  ("lambda"), a date pattern ("MM-DD-YYYY", "YYYY-MM-DD", "DD/MM/YYYY", ...).
"""
from __future__ import annotations

import datetime
import functools
import re
from typing import Any

_OPTION_CUE = re.compile(
    r"(?:possible|allowed|valid|available|supported|accepted)\s+(?:options|values|choices|inputs)"
    r"(?:\s+(?:are|is|include|includes))?\s*:?\s*"
    r"(\[[^\]]{1,400}\]|\([^)]{1,400}\)|[^.;\n]{1,300})"
    r"|(?:allows?|accepts?|must be|should be|can be)?\s*one\s+of(?:\s+the)?(?:\s+following)?\s*:?\s*"
    r"(\[[^\]]{1,400}\]|[^.;\n]{1,300})"
    r"|\boptions?\s*:?\s*(\[[^\]]{1,400}\])", re.I)
_PIPES = re.compile(r"(?<![\w|])([\w.+-]{1,24}(?:\s?\|\s?[\w.+-]{1,24}){1,30})(?![\w|])")
_PAREN_OR = re.compile(r"\(([^()]{1,40}?)\s+or\s+([^()]{1,40}?)\)")
_EITHER = re.compile(r"\beither\s+['\"]?([\w .-]{1,30}?)['\"]?\s+or\s+['\"]?([\w .-]{1,30}?)['\"]?(?=[\s.,;)]|$)", re.I)
_SPLIT_OPTIONS = re.compile(r"\s*(?:,|\||/|\bor\b|\band\b)\s*")
_QUOTES = "'\"`“”‘’"

_RANGE = re.compile(
    r"(?:rang(?:e|es|ing)|between|from|within|in\s+the\s+range(?:\s+of)?)\s*(?:from\s+)?\[?\(?"
    r"(-?\d+(?:\.\d+)?)\s*(?:to|and|-|–|,)\s*(-?\d+(?:\.\d+)?)", re.I)
_FRACTION_WORDS = re.compile(r"\b(?:as\s+a\s+decimal|in\s+decimal|decimal\s+(?:form|format|value|number)|"
                             r"fraction(?:al)?|proportion)\b", re.I)
_PERCENT_WORDS = re.compile(r"\b(?:percent(?:age)?|in\s*%|%)", re.I)

_CODE_WORDS = re.compile(r"\b(?:stock\s+symbol|ticker|symbol|abbreviat\w*|acronym|iso[\s-]?\d*\s*(?:\w+\s+)?code|"
                         r"(?:two|three|2|3)[\s-]letter|country\s+code|currency\s+code|language\s+code|"
                         r"airport\s+code|iata|icao|short\s*(?:name|form|code))\b", re.I)
_FULL_WORDS = re.compile(r"\b(?:full\s+(?:name|form|title)|spelled\s+out|complete\s+name|not\s+(?:an?\s+)?abbreviat\w*)\b",
                         re.I)
_LAMBDA_WORDS = re.compile(r"\blambda\b", re.I)
_DATE_PATTERN = re.compile(r"\b((?:yyyy|yy|mm|dd)(?:[-/. ](?:yyyy|yy|mm|dd)){2})\b", re.I)

CODE_VALUE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,7}$")


class Conventions:
    """What one description says a value must look like (all empty where it says nothing)."""

    __slots__ = ("options", "low", "high", "fraction", "percent", "form", "date_regex", "date_order")

    def __init__(self):
        self.options: frozenset[str] | None = None
        self.low: float | None = None
        self.high: float | None = None
        self.fraction = False
        self.percent = False
        self.form: str | None = None      # "code", "full", "lambda"
        self.date_regex: re.Pattern | None = None
        self.date_order: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.options or self.low is not None or self.fraction or self.percent or self.form
                    or self.date_regex)


_NONE = Conventions()


def _clean_option(text: str) -> str:
    return text.strip().strip(_QUOTES).strip().strip(_QUOTES).strip().lower()


def _options_from(text: str) -> list[str]:
    text = text.strip()
    if text[:1] in "[(" and text[-1:] in "])":
        text = text[1:-1]
    parts = [_clean_option(p) for p in _SPLIT_OPTIONS.split(text)]
    parts = [p for p in parts if p and len(p) <= 30]
    # prose after the list ("true|false. Default to false") was cut at the sentence end;
    # a long phrase among the parts means this was not a list
    if len(parts) < 2 or any(len(p.split()) > 3 for p in parts):
        return []
    return parts


def _date_regex(pattern: str) -> re.Pattern:
    out = ""
    for token in re.split(r"([-/. ])", pattern.lower()):
        if token in ("yyyy",):
            out += r"\d{4}"
        elif token in ("yy", "mm", "dd"):
            out += r"\d{2}"
        else:
            out += re.escape(token)
    return re.compile("^" + out + "$")


@functools.lru_cache(maxsize=16384)
def conventions_of(description: str) -> Conventions:
    """The conventions a parameter description states (cached by text)."""
    if not description or len(description) > 2000:
        return _NONE
    c = Conventions()
    options: list[str] = []
    for m in _OPTION_CUE.finditer(description):
        options += _options_from(next(g for g in m.groups() if g))
    if not options and "|" in description:
        for m in _PIPES.finditer(description):
            options += _options_from(m.group(1))
    if not options and " or " in description:
        for regex in (_PAREN_OR, _EITHER):
            for m in regex.finditer(description):
                pair = [_clean_option(m.group(1)), _clean_option(m.group(2))]
                if all(p and len(p.split()) <= 2 for p in pair):
                    options += pair
    if options:
        c.options = frozenset(options)
    m = _RANGE.search(description)
    if m:
        low, high = float(m.group(1)), float(m.group(2))
        if low < high:
            c.low, c.high = low, high
    c.fraction = bool(_FRACTION_WORDS.search(description)) or (c.low == 0 and c.high == 1)
    c.percent = not c.fraction and bool(_PERCENT_WORDS.search(description))
    if _LAMBDA_WORDS.search(description):
        c.form = "lambda"
    elif _FULL_WORDS.search(description):
        c.form = "full"
    elif _CODE_WORDS.search(description):
        c.form = "code"
    d = _DATE_PATTERN.search(description)
    if d:
        c.date_regex = _date_regex(d.group(1))
        c.date_order = tuple(p.lower() for p in re.split(r"[-/. ]", d.group(1)))
    return c if c else _NONE


def check_value(c: Conventions, value: Any, user_percents: frozenset, user_dates: set | frozenset = frozenset()
                ) -> tuple[int, int]:
    """(checked, violated) for one scalar value against the stated conventions.

    `user_percents`: the numbers the user wrote with a percent sign (3.5 of "3.5%");
    `user_dates`: the ISO dates the conversation mentions.
    """
    if c is _NONE or value is None or isinstance(value, bool):
        return 0, 0
    if isinstance(value, (int, float)):
        number = float(value)
        checked = violated = 0
        if c.options is not None:
            checked = 1
            violated = int(not any(_same_number(number, o) for o in c.options))
        if c.low is not None:
            checked = 1
            violated |= int(not (c.low <= number <= c.high))
        if c.fraction and number in user_percents and abs(number) > 1:
            checked, violated = 1, 1   # "3.5%" sent as 3.5 where a fraction is asked for
        elif c.percent and number * 100 in user_percents:
            checked, violated = 1, 1   # "3.5%" sent as 0.035 where a percentage is asked for
        return checked, violated
    if not isinstance(value, str):
        return 0, 0
    text = value.strip()
    if not text:
        return 0, 0
    checked = violated = 0
    if c.options is not None:
        checked = 1
        violated = int(_clean_option(text) not in c.options)
    if c.form == "lambda":
        checked = 1
        violated |= int(not text.lower().startswith("lambda"))
    elif c.form == "code":
        checked = 1
        violated |= int(not CODE_VALUE.match(text) and c.options is None)
    elif c.form == "full":
        checked = 1
        violated |= int(bool(CODE_VALUE.match(text)) and len(text) <= 3)
    if c.date_regex is not None:
        checked = 1
        if not c.date_regex.match(text):
            violated = 1
        elif user_dates:
            # read in the stated order: "12-11-2023" under MM-DD-YYYY is December 11
            iso = _read_date(text, c.date_order)
            violated |= int(iso is not None and iso not in user_dates)
    return checked, violated


def _read_date(text: str, order: tuple[str, ...]) -> str | None:
    fields = dict(zip(order, (int(p) for p in re.split(r"[-/. ]", text) if p.isdigit())))
    year = fields.get("yyyy", 2000 + fields.get("yy", 0))
    try:
        return datetime.date(year, fields["mm"], fields["dd"]).isoformat()
    except (KeyError, ValueError):
        return None


def _same_number(number: float, option: str) -> bool:
    try:
        return float(option) == number
    except ValueError:
        return False
