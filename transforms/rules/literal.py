"""The user's own words where the tool asks for a converted value: real models' commonest value error.

In the real answers of 71 models (the BFCL generations' train part), most
wrong values are not invented: the model copies what the user wrote where
the parameter wants it converted. The rate "3.5%" goes in as 3.5 where the
description says "ranging from 0 to 1"; "Apple Inc." goes in where it asks
for "the stock symbol" (AAPL); "France" where it lists "US, AT, DE, FR";
the user's "f(x) = 3x^2 + 2x" where it wants a Python lambda; "December 11"
written day first into "MM-DD-YYYY". `literal_alternatives` proposes, for a
reference value the user did not write verbatim, the words or number of the
request it was converted from.
"""
from __future__ import annotations

import re
from typing import Any

from toolrm_beam.schemas.checker import standardize_string
from toolrm_beam.transforms.rules.text import Conversation

_SCALES = (100.0, 1000.0, 0.01, 0.001)
_LAMBDA = re.compile(r"^\s*lambda\s+(\w+)\s*:\s*(.+)$", re.S)
# "f(x) = 3x^2 + 2x - 1", "g(t)=5t^3": a function as people write it
_MATH_FUNCTION = re.compile(r"\b([a-z]\s*\(\s*[a-z]\s*\)\s*=\s*[^,;?]+?)(?=\s*(?:,|;|\?|\bat\b|\band\b|$|\.\s))", re.I)
_CODE = re.compile(r"^[A-Z0-9]{2,6}$")
_MDY = re.compile(r"^(\d{2})([-/.])(\d{2})\2(\d{4})$")


def literal_alternatives(value: Any, conversation: Conversation) -> list:
    """What the user wrote that `value` was converted from, most likely first (may be empty)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return _number_sources(float(value), conversation)
    if isinstance(value, str):
        return _text_sources(value, conversation)
    return []


def _number_sources(value: float, conversation: Conversation) -> list:
    """The user's number that `value` is a rescaling of (3.5 for 0.035, 5 for 0.05)."""
    if value == 0:
        return []
    out = []
    for number in conversation.numbers:
        number = float(number)
        if number != value and any(abs(number - value * scale) <= 1e-9 * abs(number) for scale in _SCALES):
            out.append(int(number) if number.is_integer() else number)
    return out


def _text_sources(value: str, conversation: Conversation) -> list:
    text = value.strip()
    user = conversation.user_text
    if not text or _written(text, user):
        return []      # the user wrote it: nothing was converted
    out: list[str] = []
    match = _LAMBDA.match(text)
    if match:
        body = match.group(2).strip()
        out.append(body)                                         # lambda x: x**2 -> x**2
        out += [m.strip() for m in _MATH_FUNCTION.findall(user)][:2]   # the user's f(x) = x^2
        return out
    date = _MDY.match(text)
    if date and date.group(1) != date.group(3):
        first, sep, second, year = date.groups()
        out.append(f"{second}{sep}{first}{sep}{year}")           # month and day the other way round
        out.append(f"{year}-{first}-{second}")
    if _CODE.match(text):
        out += _expansions(text, conversation)                   # AAPL -> Apple Inc.
    return out


def _written(text: str, user: str) -> bool:
    """Did the user write `text` (a short code as a word of its own: "FR" is not in "France")?"""
    if len(text) <= 4:
        return re.search(rf"(?<![a-z0-9]){re.escape(text.lower())}(?![a-z0-9])", user.lower()) is not None
    return standardize_string(text) in standardize_string(user)


def _expansions(code: str, conversation: Conversation) -> list[str]:
    """Names in the request that `code` abbreviates: they start with its first letter and hold its
    letters in order (AAPL in "Apple Inc.", MSFT in "Microsoft", FR in "France")."""
    letters = code.lower()
    candidates = list(dict.fromkeys(conversation.names + conversation.entities))
    out = []
    for name in candidates:
        name = re.sub(r"['’]s$", "", name)
        low = name.lower()
        if not low or low[0] != letters[0] or standardize_string(name) == standardize_string(code):
            continue
        at = 0
        for ch in letters:
            at = low.find(ch, at) + 1
            if at == 0:
                break
        else:
            out.append(name)
    out.sort(key=len, reverse=True)   # "Apple Inc." before "Apple": the whole name as written
    return out[:2]
