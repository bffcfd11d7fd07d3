"""Features of a text (no-call) answer: does it refuse, ask back, name parameters or flag a value?

Prose is right where no tool fits the request and wrong where a call is
needed; these features let the model tell a fitting refusal or question from
a dodge.
"""
from __future__ import annotations

import math
import re

from toolrm_beam.transforms.reward.lite.features.context import ExampleInfo
from toolrm_beam.transforms.reward.lite.features.layout import COLUMNS
from toolrm_beam.transforms.reward.lite.features.text import TOKEN, stem, token_string

globals().update(COLUMNS)  # I_<name>: the column of each feature

_CONTRACTION = re.compile(r"[a-z]+'[a-z]+")
_NEGATIVE_WORDS = frozenset("cannot can't unable not no none sorry unfortunately without neither nor "
                            "outside beyond don't doesn't isn't won't".split())
_ASK_WORDS = frozenset("could would please provide specify tell which what clarify need information "
                       "missing confirm more details".split())
_INVALID_WORDS = frozenset("invalid valid incorrect wrong format check error correct".split())


def text_features(ex: ExampleInfo, text: str, v: list) -> None:
    low = text.lower()
    toks = TOKEN.findall(low)
    v[I_text_len] = math.log1p(len(toks))
    v[I_text_question] = float("?" in text)
    tokset = set(toks) | set(_CONTRACTION.findall(low))
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
    tstr = token_string(toks)
    for ent_norm, ent_toks in ex.entities:
        if ent_toks in tstr:
            hits += 1
    v[I_text_mentions_value] = min(hits, 3) / 3
