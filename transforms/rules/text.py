"""What the conversation says: numbers, dates, quoted strings, names.

Realistic wrong values are mostly other things the user said (the other
city, the other date, the number from the next clause), so perturbations
draw their alternatives from here. Everything is computed once per example
and only on first use.
"""
from __future__ import annotations

import datetime
import functools
import re

from toolrm_beam.transforms.rules.tokens import STOPWORDS

_NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w.])|(?<![\w.])-?\d+(?:\.\d+)?(?!\d|\.\d|[A-Z])")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_SLASH_YMD = re.compile(r"\b(\d{4})/(\d{1,2})/(\d{1,2})\b")
_SLASH_MDY = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"]
_MONTH_ABBREVIATIONS = {m[:3] for m in _MONTHS}
_MONTH_ALT = "|".join(m.capitalize() + "|" + m[:3].capitalize() for m in _MONTHS)
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH_ALT})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b")
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_ALT})\.?,?\s+(\d{{4}})\b")
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
_QUOTED = re.compile(r"\"([^\"\n]{1,80})\"|“([^”\n]{1,80})”|‘([^’\n]{1,80})’|(?<![A-Za-z])'([^'\n]{1,80})'(?![A-Za-z])")
_NAME_WORD = r"(?:[A-Z][A-Za-z0-9&'-]*|[A-Z0-9]*[A-Z][A-Z0-9]+)\b"
_CAPITALIZED = re.compile(rf"\b{_NAME_WORD}(?:\s+(?:(?:of|de|la|the)\s+)?{_NAME_WORD})*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:\n]\s*|[\"“(]\s*)$")
_WORD = re.compile(r"\b[A-Za-z][A-Za-z'-]*[A-Za-z]\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_URL = re.compile(r"https?://[^\s'\"<>]+")
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "dozen": 12,
}
# Capitalized words that start sentences and name nothing.
_NOT_NAMES = STOPWORDS | {"hi", "hello", "hey", "thanks", "thank", "ok", "okay", "sure", "also",
                          "i", "i'm", "i'd", "i've", "i'll", "id", "retrieve", "get", "find", "search", "give",
                          "check", "create", "update", "help", "could", "would", "should", "the"}


def _to_iso(year: int, month: int, day: int) -> str | None:
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None


def _month_number(name: str) -> int:
    name = name.lower().rstrip(".")
    for index, month in enumerate(_MONTHS, 1):
        if month.startswith(name[:3]):
            return index
    raise ValueError(name)


def find_dates(text: str) -> list[str]:
    """ISO dates for every date written in `text`, in order of appearance."""
    found: list[tuple[int, str]] = []
    for match in _ISO_DATE.finditer(text):
        found.append((match.start(), _to_iso(int(match[1]), int(match[2]), int(match[3]))))
    for match in _SLASH_YMD.finditer(text):
        found.append((match.start(), _to_iso(int(match[1]), int(match[2]), int(match[3]))))
    for match in _SLASH_MDY.finditer(text):
        found.append((match.start(), _to_iso(int(match[3]), int(match[1]), int(match[2]))))
    for match in _MONTH_DAY_YEAR.finditer(text):
        found.append((match.start(), _to_iso(int(match[3]), _month_number(match[1]), int(match[2]))))
    for match in _DAY_MONTH_YEAR.finditer(text):
        found.append((match.start(), _to_iso(int(match[3]), _month_number(match[2]), int(match[1]))))
    return list(dict.fromkeys(date for _, date in sorted(found) if date))


def find_numbers(text: str) -> list[int | float]:
    """Numbers in `text` (digits and common number words), in order, de-duplicated."""
    out: list[int | float] = []
    for match in _NUMBER.finditer(text):
        raw = match.group(0).replace(",", "")
        try:
            out.append(float(raw) if "." in raw else int(raw))
        except ValueError:
            continue
    for word in _WORD.findall(text.lower()):
        if word in _NUMBER_WORDS:
            out.append(_NUMBER_WORDS[word])
    return list(dict.fromkeys(out))


def find_quoted(text: str) -> list[str]:
    return list(dict.fromkeys(next(g for g in m.groups() if g) for m in _QUOTED.finditer(text)))


def find_names(text: str) -> list[str]:
    """Capitalized phrases and acronyms ("New York", "AAPL"; not "Caesar salad").

    A lone capitalized word that starts a sentence is usually an ordinary
    word ("Adjust the thermostat"), so it counts only if it also appears
    capitalized mid-sentence.
    """
    found = []
    for match in _CAPITALIZED.finditer(text):
        words = match.group(0).split()
        at_start = bool(_SENTENCE_START.search(text[:match.start()]))
        while words and (words[0] in _GENERIC_ACRONYMS
                         or words[0].lower() in _NOT_NAMES and not _is_acronym(words[0])):
            words, at_start = words[1:], False
        while words and words[-1].lower() in ("of", "de", "la", "the"):
            words = words[:-1]
        if not words or any(w.lower().rstrip(".") in _MONTHS or w.lower() in _MONTH_ABBREVIATIONS for w in words):
            continue
        phrase = " ".join(words)
        found.append((phrase, at_start and len(words) == 1))
    mid_sentence = {phrase for phrase, at_start in found if not at_start}
    return list(dict.fromkeys(p for p, at_start in found if not at_start or p in mid_sentence))


def find_words(text: str) -> list[str]:
    """Content words, in order, de-duplicated."""
    return list(dict.fromkeys(w for w in (m.lower().strip("'-") for m in _WORD.findall(text))
                              if w not in _NOT_NAMES and len(w) > 2))


_GENERIC_ACRONYMS = {"ID", "IDs", "URL", "API", "JSON", "HTTP", "HTTPS", "IP", "OK"}


def _is_acronym(word: str) -> bool:
    return len(word) > 1 and word.isupper()


class Conversation:
    """The user-visible text of an example and what it mentions."""

    def __init__(self, messages: list[dict]):
        user, system = [], []
        for message in messages or []:
            content = message.get("content")
            if not isinstance(content, str):
                continue
            (system if message.get("role") == "system" else user if message.get("role") == "user" else []).append(content)
        self.user_text = "\n".join(user)
        self.last_user = user[-1] if user else ""
        self.system_text = "\n".join(system)

    @functools.cached_property
    def numbers(self) -> list[int | float]:
        return find_numbers(self.user_text)

    @functools.cached_property
    def dates(self) -> list[str]:
        return find_dates(self.user_text)

    @functools.cached_property
    def today(self) -> str | None:
        """The date a system prompt gives as now ("The current time is ...")."""
        dates = find_dates(self.system_text)
        return dates[0] if dates else None

    @functools.cached_property
    def times(self) -> list[str]:
        return list(dict.fromkeys(f"{int(h):02d}:{m}" for h, m in _TIME.findall(self.user_text)))

    @functools.cached_property
    def quoted(self) -> list[str]:
        return find_quoted(self.user_text)

    @functools.cached_property
    def names(self) -> list[str]:
        return find_names(self.user_text)

    @functools.cached_property
    def words(self) -> list[str]:
        return find_words(self.user_text)

    @functools.cached_property
    def emails(self) -> list[str]:
        return list(dict.fromkeys(_EMAIL.findall(self.user_text)))

    @functools.cached_property
    def urls(self) -> list[str]:
        return list(dict.fromkeys(u.rstrip(".,;)") for u in _URL.findall(self.user_text)))

    @functools.cached_property
    def lower(self) -> str:
        return self.user_text.lower()

    @functools.cached_property
    def entities(self) -> list[str]:
        """String-like things the user mentioned, most specific first."""
        return list(dict.fromkeys(self.quoted + self.names + self.emails + self.urls))
