"""Is a string value grounded in the conversation? The same for whatever parameter it is sent for.

Exact token span, normalized substring, word overlap, the date the user wrote;
whether the value is a truncated piece of a longer span or entity; and which
words the user listed right next to it. Memoized per example by the value,
since candidates send the same value for different parameters and tools.
"""
from __future__ import annotations

import re

from toolrm_beam.transforms.reward.lite.features.context import ExampleInfo
from toolrm_beam.transforms.reward.lite.features.stats import ValueStats, snapshot
from toolrm_beam.transforms.reward.lite.features.text import DATE_SHAPE, HAS_DIGIT, NUMERIC_STRING, STOPWORDS, parse_date, \
    standardize, stem, token_string, tokens, word_ending_at

_PLACEHOLDERS = frozenset({"", "string", "str", "value", "example", "none", "null", "n/a", "na", "unknown",
                           "tbd", "xxx", "placeholder", "test", "sample", "default", "your", "user", "id",
                           "string_value", "<string>", "...", "todo"})
_WORD_AFTER = re.compile(r"\s*([a-z0-9][a-z0-9'-]*)")


def string_stems(ex: ExampleInfo, value: str) -> tuple[str, ...]:
    """Stems of a string value's tokens."""
    return string_facts(ex, value)[-1]


def string_facts(ex: ExampleInfo, value: str) -> tuple:
    """What the conversation says about a string value, whatever parameter it is sent for.

    A snapshot of its counters (see `snapshot`) + (grounded, offset, normalized value or None
    if blank, date-like, ISO-date-shaped, counted as ungrounded, stems of its tokens); memoized
    per example, since candidates send the same value for different parameters and tools.
    """
    memo_key = ("string", value)
    facts = ex._cache.get(memo_key)
    if facts is None:
        fs = ValueStats()
        result = _string_grounding(ex, fs, value)
        facts = snapshot(fs) + result
        if len(ex._cache) < 50_000:
            ex._cache[memo_key] = facts
    return facts


def _string_grounding(ex: ExampleInfo, st: ValueStats, value: str) -> tuple:
    grounded, offset = True, -1
    st.n_str += 1
    stripped = value.strip()
    if stripped.lower() in _PLACEHOLDERS or (stripped.startswith("<") and stripped.endswith(">")):
        st.placeholder += 1
    if not stripped:
        st.empty += 1
        return False, -1, None, False, False, False, ()
    norm = standardize(value)
    st.blob.append(norm)
    toks = tokens(value)
    iso = parse_date(value) if HAS_DIGIT.search(value) is not None else None
    date_shaped = DATE_SHAPE.match(stripped) is not None
    is_date = iso is not None or date_shaped
    if is_date:
        st.date_values += 1
        if iso is not None and (iso in ex.dates or iso[5:] in ex.month_days):
            st.date_grounded += 1
        elif norm not in ex.norm_text:
            st.date_ungrounded += 1
            grounded = False
    if NUMERIC_STRING.match(value):
        try:
            number = float(value.replace(",", "").replace("$", "").replace("%", "").strip())
        except ValueError:
            number = None
        if number is not None and number in ex.numbers:
            st.nums_used.add(number)
    span = ex.token_span(toks)
    if span >= 0:
        st.str_exact += 1
        tstr = token_string(toks)
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
        head = tokens(value.split(",", 1)[0])
        if head and ex.token_span(head) >= 0:
            st.head_grounded += 1
    if offset >= 0:
        siblings(ex, st, offset, offset + len(value) if ex.user_lower.startswith(value.lower(), offset) else -1)
    ungrounded = not grounded and overlap < 1.0
    if ungrounded:
        st.str_ungrounded += 1
    if toks:
        tstr = token_string(toks)
        # the value is an entity the user named, a piece of one, or one with more around it
        if ex.entities:
            if tstr in ex.entity_token_strings:
                st.entity_exact += 1
            else:
                if tstr in ex.entity_token_text:
                    st.sub_entity += 1
                if span < 0 and any(ent_toks in tstr for ent_toks in ex.entity_token_strings):
                    st.super_entity += 1
        if (" and " in value or " & " in value) and span < 0:
            st.and_joined += 1
        words = stripped.split()
        if len(words) > 1 and words[0][:1].isupper() and any(
                w[:1].islower() and w.lower() not in STOPWORDS for w in words[1:]):
            st.case_mixed += 1
    return grounded, offset, norm, is_date, date_shaped, ungrounded, tuple(map(stem, toks))


def siblings(ex: ExampleInfo, st: ValueStats, start: int, end: int) -> None:
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
    # the word before the spaces before `start`, within 40 characters
    low = max(0, start - 40)
    word = word_ending_at(text, low, low + len(text[low:start].rstrip()))
    return int(word is not None and word not in STOPWORDS)
