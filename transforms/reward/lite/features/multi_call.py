"""Features of an output with several calls: what varies between calls of one function, and what each call adds.

Right parallel calls differ in values the user listed side by side ("Boston
and Denver"); a wrong extra call repeats another or adds nothing grounded.
"""
from __future__ import annotations

import re
from typing import Any

from toolrm_beam.transforms.reward.lite.features.calls import CallRecord
from toolrm_beam.transforms.reward.lite.features.context import ExampleInfo
from toolrm_beam.transforms.reward.lite.features.layout import COLUMNS
from toolrm_beam.transforms.reward.lite.features.text import standardize, tokens
from toolrm_beam.transforms.reward.lite.features.values import SCALARS, value_key

globals().update(COLUMNS)  # I_<name>: the column of each feature

_JOINER = re.compile(r"^[\s,;&/]*(?:(?:and|or|vs\.?|also|then|as well as|plus|for|in|at|of|the|to|from|on|with)"
                     r"[\s,;&/]+)*$")


def multi_call_features(ex: ExampleInfo, calls: list[dict], records: list[CallRecord],
                        by_name: dict[str, list[dict]], v: list) -> None:
    """Write the multi-call columns of `v` (`by_name`: the arguments of the calls of each known function)."""
    varying = identical = varying_grounded = varying_listed = 0
    for arg_list in by_name.values():
        if len(arg_list) < 2:
            continue
        for key in set().union(*arg_list):
            values = [a.get(key) for a in arg_list]
            if len({value_key(x) for x in values}) > 1:
                varying += 1
                varying_grounded += all(_grounded_simple(ex, x) for x in values)
                varying_listed += _listed_together(ex, values)
            else:
                identical += 1
    v[I_same_name_varying] = varying
    v[I_same_name_identical_params] = identical
    v[I_varying_grounded_frac] = varying_grounded / varying if varying else 0.0
    v[I_varying_listed_frac] = varying_listed / varying if varying else 0.0
    # does every call carry something (grounded) that no other call has?
    keyed = [_value_keys(ex, record, call) for record, call in zip(records, calls)]
    new = 0
    for i, (own, grounded) in enumerate(keyed):
        others = set().union(*[keys for j, (keys, _) in enumerate(keyed) if j != i])
        if grounded - others:
            new += 1
        else:  # grounded lists and objects are not in `grounded`
            args = calls[i]["arguments"]
            if any(not isinstance(args[k], SCALARS) and _grounded_simple(ex, args[k]) for k, _ in own - others):
                new += 1
    v[I_calls_new_info_frac] = new / len(calls)


def _value_keys(ex: ExampleInfo, record: CallRecord, call: dict) -> tuple[set, set]:
    """{(parameter, value_key)} of a call's arguments, and the subset whose (scalar) values are grounded.

    Memoized on the call's record.
    """
    if record.value_keys is None:
        pairs, grounded = set(), set()
        for k, value in call["arguments"].items():
            pair = (k, value_key(value))
            pairs.add(pair)
            if isinstance(value, SCALARS) and _grounded_simple(ex, value):
                grounded.add(pair)
        record.value_keys, record.grounded_value_keys = pairs, grounded
    return record.value_keys, record.grounded_value_keys


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
    toks = tokens(value)
    if not toks:
        return False
    if ex.token_span(toks) >= 0 or standardize(value) in ex.norm_text:
        return True
    head = tokens(value.split(",", 1)[0]) if "," in value else None
    return bool(head) and ex.token_span(head) >= 0
