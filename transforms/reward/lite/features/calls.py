"""Per-call features: name resolution, schema bookkeeping of arguments, and value alignment.

`call_record` sums up what one call contributes to a candidate's features
(a `CallRecord`); it is memoized per example and call, because the candidates
of one example repeat calls.
"""
from __future__ import annotations

import math
from operator import add
from typing import Any

from toolrm_beam.transforms.reward.lite.features.context import ExampleInfo, jaccard
from toolrm_beam.transforms.reward.lite.features.grounding import string_stems
from toolrm_beam.transforms.reward.lite.features.schema import ParamInfo, ToolInfo, key_of
from toolrm_beam.transforms.reward.lite.features.stats import COUNTERS, ValueStats, counts_of
from toolrm_beam.transforms.reward.lite.features.text import format_number, identifier_words, standardize, stem
from toolrm_beam.transforms.reward.lite.features.values import SCALARS, observe

# What one argument adds to the parameter and alignment features (see _arg_record)
ARG_FIELDS = ("opt_present", "opt_present_uncued", "opt_present_grounded", "opt_present_default",
              "opt_nondefault_uncued", "opt_present_ungrounded", "value_has_param_word", "ctx_checked",
              "ctx_own", "ctx_other_only", "align_checked", "near_sum", "align_own", "align_other")
# CallRecord.counts: everything about a call that adds up over the calls of a candidate
CALL_COUNTS = COUNTERS + ("n_args", "unexpected", "unknown", "name_in_text", "req_total", "missing_req",
                          "unexpected_near") + ARG_FIELDS + (
    "opt_absent", "opt_absent_cued", "opt_absent_enum", "discordant", "ordered_pairs")
_N_ARG_FIELDS = len(ARG_FIELDS)


class CallRecord:
    """What one call contributes to a candidate's features.

    `counts` (CALL_COUNTS order) add up over calls; the name features of a
    resolved call, the least overlap/shape similarity of its values and their
    lists (normalized strings, numbers used, listed neighbours) combine
    otherwise. `identity` and `value_keys` are filled when a candidate with
    several calls first needs them (see `call_identity`, `multi_call`).
    """

    __slots__ = ("resolved", "unknown_near", "sim", "rank", "gap", "hit", "counts", "overlap_min", "shape_min",
                 "blob", "nums_used", "siblings", "identity", "value_keys", "grounded_value_keys")

    def __init__(self, resolved: str | None, unknown_near: float, sim: float, rank: int, gap: float, hit: float,
                 counts: tuple, st: ValueStats):
        self.resolved = resolved
        self.unknown_near = unknown_near
        self.sim = sim
        self.rank = rank
        self.gap = gap
        self.hit = hit
        self.counts = counts
        self.overlap_min = st.overlap_min
        self.shape_min = st.shape_min
        # tuples of strings and numbers: the garbage collector stops tracking them
        self.blob = tuple(st.blob)
        self.nums_used = tuple(st.nums_used)
        self.siblings = tuple(st.siblings)
        self.identity = None
        self.value_keys = self.grounded_value_keys = None


def _first(item: tuple) -> Any:
    return item[0]


def call_identity(record: CallRecord, call: dict) -> str:
    """The call's name and arguments in key order: equal for duplicate calls (memoized on the record)."""
    identity = record.identity
    if identity is None:
        try:
            identity = call["name"] + "\x00" + repr(sorted(call["arguments"].items(), key=_first))
        except (TypeError, ValueError, RecursionError):
            identity = call["name"] + "\x00" + repr(call["arguments"])
        record.identity = identity
    return identity


def plain_calls(output: Any) -> list[dict] | None:
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


def call_record(ex: ExampleInfo, call: dict) -> CallRecord:
    """The CallRecord of a call, memoized per example by the call's name and arguments."""
    cache = ex._cache
    try:
        memo_key = ("call", call["name"], repr(call["arguments"]))
    except (TypeError, ValueError, RecursionError):
        return _call_record(ex, call)
    record = cache.get(memo_key)
    if record is None:
        record = _call_record(ex, call)
        if len(cache) < 50_000:
            cache[memo_key] = record
    return record


def _resolve_name(ex: ExampleInfo, name: str) -> str | None:
    if name in ex.tools:
        return name
    return ex.aliases.get(name)


def _near_miss(ex: ExampleInfo, name: str) -> float:
    """How close an unknown name is to a catalog name (style variant = 1)."""
    if key_of(name) in ex.keys:
        return 1.0
    words = {stem(w) for w in identifier_words(name)}
    best = 0.0
    for info in ex.tools.values():
        best = max(best, jaccard(words, info.name_words))
    return best


def _call_record(ex: ExampleInfo, call: dict) -> CallRecord:
    st = ValueStats()
    args = call["arguments"]
    resolved = _resolve_name(ex, call["name"])
    if resolved is None:
        for key, value in args.items():
            observe(ex, st, value, None, 0, ("?", key), False)
        counts = counts_of(st) + (len(args), len(args), 1) + (0,) * (len(CALL_COUNTS) - len(COUNTERS) - 3)
        return CallRecord(None, _near_miss(ex, call["name"]), 0.0, 0, 0.0, 0.0, counts, st)
    info = ex.tools[resolved]
    name_in_text = int(info.name.lower() in ex.lower) if len(info.name) > 3 else 0
    required = info.required
    missing_req = sum(1 for r in required if r not in args)
    unexpected = unexpected_near = 0
    acc = [0.0] * _N_ARG_FIELDS
    positions = []
    arg_keys = tuple(args)
    params = info.params
    for key, value in args.items():
        param = params.get(key)
        pkey = (resolved, key)
        if param is None:
            unexpected += 1
            low_key = standardize(key)
            if any(low_key == standardize(p) for p in params):
                unexpected_near += 1
            observe(ex, st, value, None, 0, pkey, False)
            continue
        is_required = key in required
        before = st.str_ungrounded + st.num_ungrounded + st.date_ungrounded
        grounded, offset = observe(ex, st, value, param, 0, pkey, is_required)
        value_grounded = grounded and st.str_ungrounded + st.num_ungrounded + st.date_ungrounded == before
        if isinstance(value, SCALARS):
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
        acc = list(map(add, acc, record))
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
    counts = counts_of(st) + (len(args), unexpected, 0, name_in_text, len(required), missing_req,
                              unexpected_near) + tuple(acc) + (
        opt_absent, opt_absent_cued, opt_absent_enum, discordant, ordered_pairs)
    return CallRecord(resolved, 0.0, ex.sim[resolved], ex.rank[resolved], ex.best_sim - ex.score[resolved],
                      ex.name_hit[resolved], counts, st)


def _arg_record(ex: ExampleInfo, resolved: str, info: ToolInfo, key: str, value: Any, param: ParamInfo,
                args: dict, is_required: bool, offset: int, value_grounded: bool) -> tuple:
    """What one argument adds to the ARG_FIELDS (in that order)."""
    pkey = (resolved, key)
    out = [0.0] * _N_ARG_FIELDS
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
        if not param.align_words.isdisjoint(string_stems(ex, value)):
            out[6] = 1
    if offset >= 0:
        shown = value if isinstance(value, str) else format_number(float(value)) \
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
