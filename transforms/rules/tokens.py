"""Words in identifiers and text, and how alike two bags of words are.

Tool names come as camelCase, snake_case, dotted namespaces or a mix
(`ChaDri.change_drink`, `StockInsightProvider_getTechStockInsights`); the
similarity of tools (sibling functions, the tool an irrelevant request would
tempt a model to call) is Jaccard overlap of their lower-cased word sets.
"""
from __future__ import annotations

import re

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_WORD = re.compile(r"[A-Za-z]+|\d+")

STOPWORDS = frozenset("""
a an and are as at be by can could do does for from get give has have i if in into is it its
me my of on or our please the their them this that to us was we what when where which who will
with would you your about some any all also than then there these those so such not no yes
i'd i'm let know need want like just tell show find make provide using use based
""".split())


def identifier_words(name: str) -> list[str]:
    """`getTechStockInsights` -> ['get', 'tech', 'stock', 'insights']."""
    return [w.lower() for w in _CAMEL.findall(name)]


def humanize(name: str) -> str:
    """`propertyDetails` -> 'property details'."""
    return " ".join(identifier_words(name)) or name


def text_words(text: str) -> list[str]:
    """Lower-cased words of free text, camelCase split, stopwords kept."""
    return [w.lower() for w in _CAMEL.findall(text)]


def content_words(text: str) -> set[str]:
    return {w for w in text_words(text) if w not in STOPWORDS and len(w) > 1}


def stem(word: str) -> str:
    """A crude stem so that 'drinks', 'drink' and 'drinking' meet."""
    for suffix in ("ing", "ies", "es", "s", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def stems(words) -> set[str]:
    return {stem(w) for w in words}


def jaccard(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def tool_words(tool: dict) -> set[str]:
    """Stems of a tool's name, description and parameter names."""
    properties = (tool.get("parameters") or {}).get("properties") or {}
    words = content_words(tool.get("name", "")) | content_words(tool.get("description") or "")
    for param in properties:
        words |= content_words(param)
    return stems(words)
