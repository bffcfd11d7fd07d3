"""Argument values against their parameters: type, enum, bounds, and how each value is grounded.

`observe` records one argument value into a `ValueStats` (see `stats`): is the
value's type, enum member and range right; is it grounded in the conversation
(strings: see `grounding`; numbers: the number the user wrote, or it scaled);
does it contradict an enum member the user named; does it match the shape of
the examples in the parameter's description. What a scalar contributes depends
only on the example, the parameter and the value, so it is computed once per
example and replayed for every candidate that sends it.
"""
from __future__ import annotations

from typing import Any

from toolrm_beam.transforms.reward.lite.features.context import ExampleInfo
from toolrm_beam.transforms.reward.lite.features.conventions import check_value
from toolrm_beam.transforms.reward.lite.features.grounding import siblings, string_facts
from toolrm_beam.transforms.reward.lite.features.schema import ParamInfo, type_ok
from toolrm_beam.transforms.reward.lite.features.stats import SNAPSHOT_FIELDS, ValueStats, replay, snapshot
from toolrm_beam.transforms.reward.lite.features.text import NUMERIC_STRING, format_number, shape_similarity, standardize, value_shape
from toolrm_beam.transforms.reward.lite.features.value_classes import CLASS_ALLOWED, cached_value_class

SCALARS = (str, int, float, bool, type(None))


def value_key(value: Any) -> str:
    """A value as a comparable string (strings case- and space-insensitive)."""
    if isinstance(value, str):
        return "s" + value.strip().lower()
    return "v" + repr(value)


def observe(ex: ExampleInfo, st: ValueStats, value: Any, param: ParamInfo | None, depth: int,
            key: tuple, required: bool) -> tuple[bool, int]:
    """Record one argument value. Returns (grounded, char offset in the user text or -1).

    What a scalar contributes depends only on the example, the parameter and the value, and
    the candidates of one example share most values: it is computed once and replayed.
    """
    if depth > 4:
        return True, -1
    if not isinstance(value, SCALARS):
        return _observe_value(ex, st, value, param, depth, key, required)
    if depth == 0 and not isinstance(value, bool) and value is not None:
        vkey = value_key(value)
        if vkey in st.call_values and (len(vkey) > 2 if isinstance(value, str) else abs(value) > 1):
            st.dup_values += 1
        st.call_values.add(vkey)
    memo_key = ("obs", key, depth, required, type(value), value)
    try:
        record = ex._cache.get(memo_key)
    except TypeError:
        record = None
    if record is None:
        tmp = ValueStats()
        result = _observe_value(ex, tmp, value, param, depth, key, required)
        record = snapshot(tmp) + result
        if len(ex._cache) < 50_000:
            ex._cache[memo_key] = record
    replay(st, record)
    return record[SNAPSHOT_FIELDS], record[SNAPSHOT_FIELDS + 1]


def _observe_value(ex: ExampleInfo, st: ValueStats, value: Any, param: ParamInfo | None, depth: int,
                   key: tuple, required: bool) -> tuple[bool, int]:
    if depth > 4:
        return True, -1
    conventions = param.conventions if param is not None else None
    if not conventions or not isinstance(value, (str, int, float)):
        return _observe_typed(ex, st, value, param, depth, key, required)
    # a convention the description states ("ranging from 0 to 1", "stock symbol", "Possible
    # options: US, FR"); breaking it with the user's own words is real models' commonest value error
    checked, violated = check_value(conventions, value, ex.user_percents, ex.dates)
    result = _observe_typed(ex, st, value, param, depth, key, required)
    if checked:
        st.conv_checked += 1
        if violated:
            st.conv_violated += 1
            if result[0]:
                st.conv_violated_grounded += 1
    return result


def _observe_typed(ex: ExampleInfo, st: ValueStats, value: Any, param: ParamInfo | None, depth: int,
                   key: tuple, required: bool) -> tuple[bool, int]:
    if param is not None:
        types = param.types
        if value is None:
            st.null_values += 1
        elif not type_ok(value, types):
            st.type_errors += 1
            if isinstance(value, str) and ("number" in types or "integer" in types) \
                    and NUMERIC_STRING.match(value):
                st.numeric_string += 1
            if isinstance(value, str) and "array" in types:
                st.string_for_array += 1
        if param.enum is not None and not isinstance(value, (list, dict)):
            st.enum_values += 1
            norm = standardize(str(value)) if not isinstance(value, bool) else str(value).lower()
            if norm not in param.enum_norm:
                st.enum_violations += 1
            mentions = ex.enum_mentions(key, param)
            if norm in mentions:
                st.enum_grounded += 1
            elif mentions:
                st.enum_contradict += 1
            if param.has_default and value == param.default:
                st.enum_default += 1
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if (param.minimum is not None and value < param.minimum) or \
                    (param.maximum is not None and value > param.maximum):
                st.range_violations += 1
    if isinstance(value, bool):
        st.n_bool += 1
        mention = ex.param_mention(key, param) if param is not None else -1.0
        if mention < 0:
            mention = 0.5
        if value:
            st.bool_true_m += mention
            st.bool_true_u += 1 - mention
        else:
            st.bool_false_m += mention
            st.bool_false_u += 1 - mention
        if param is not None and param.has_default and param.default == value:
            st.bool_default += 1
        return True, -1
    if isinstance(value, str):
        return _observe_string(ex, st, value, param, required)
    if isinstance(value, (int, float)):
        st.n_num += 1
        number = float(value)
        if param is not None and param.has_default and param.default == value:
            st.num_default += 1
        if 1900 <= number <= 2100 and number == int(number):
            st.num_year += 1
        if number in ex.numbers:
            st.num_grounded += 1
            st.nums_used.add(number)
            span = ex.user_number_spans.get(number)
            if span is not None:
                siblings(ex, st, span[0], span[1])
                return True, span[0]
            return True, -1
        for scaled in (number * 100, number / 100, number * 1000, number / 1000, number * 60, number / 60):
            if scaled in ex.numbers or round(scaled, 6) in ex.numbers:
                st.num_scaled += 1
                return True, -1
        st.num_ungrounded += 1
        if required:
            st.req_ungrounded += 1
        return False, -1
    if isinstance(value, (list, tuple)):
        item_param = ex.items_param(key, param) if param is not None and param.items else None
        all_grounded = True
        offsets = []
        for item in value[:32]:
            if item_param is not None and item is not None and not type_ok(item, item_param.types):
                st.item_type_errors += 1
            g, offset = observe(ex, st, item, item_param, depth + 1, key + ("[]",), required)
            all_grounded &= g
            offsets.append(offset)
        if depth == 0 and len(value) > 1:
            _list_shape(ex, st, value, offsets)
        return all_grounded, -1
    if isinstance(value, dict):
        sub_infos = None
        if param is not None and param.properties is not None:
            sub_infos = ex.sub_params(key, param)
            for req in param.required:
                if req not in value:
                    st.nested_missing += 1
        all_grounded = True
        for k, v in list(value.items())[:64]:
            sub = sub_infos.get(k) if sub_infos is not None else None
            if sub_infos and sub is None:
                st.nested_unexpected += 1
            g, _ = observe(ex, st, v, sub, depth + 1, key + (str(k),), False)
            all_grounded &= g
        return all_grounded, -1
    return True, -1


def _list_shape(ex: ExampleInfo, st: ValueStats, value: list | tuple, offsets: list[int]) -> None:
    """How a list argument relates to the lists the user wrote: repeated items, items in another
    order than the text's ([lat, long] sent as [long, lat]), a bracketed literal the user wrote
    but the value flattens or cuts ([[1, 2], [3, 4]] sent as [1, 2, 3, 4])."""
    strings = [item.strip().lower() for item in value if isinstance(item, str)]
    if len(strings) > 1:
        st.list_dup_items += len(strings) - len(set(strings))
    for a, b in zip(offsets, offsets[1:]):
        if a >= 0 and b >= 0 and a != b:
            st.list_pairs += 1
            st.list_backward += int(b < a)
    if ex.user_brackets and ex.user_number_lists:
        literal = numeric_literal(value)
        # checked where a list the user bracketed holds the value's first number
        if literal is not None and literal.lstrip("[").split(",")[0].rstrip("]") in ex.user_number_lists:
            st.list_lit_checked += 1
            st.list_lit_match += int(literal in ex.compact_user)


def numeric_literal(value: Any) -> str | None:
    """A list of numbers (nested too) as the user would write it, without spaces: `[[1,2],[3,4]]`."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return format_number(value) if value == value and abs(value) < 1e15 else None
    if isinstance(value, (list, tuple)) and value:
        parts = [numeric_literal(item) for item in value[:64]]
        return None if None in parts else "[" + ",".join(parts) + "]"
    return None


def _observe_string(ex: ExampleInfo, st: ValueStats, value: str, param: ParamInfo | None,
                    required: bool) -> tuple[bool, int]:
    """A string value: its grounding (the same for any parameter), then what its parameter says of it."""
    facts = string_facts(ex, value)
    replay(st, facts)
    grounded, offset, norm, is_date, date_shaped, ungrounded, _ = facts[SNAPSHOT_FIELDS:]
    if norm is None:  # blank
        return False, -1
    if param is not None:
        if norm == param.norm_name:
            st.value_is_param_name += 1
        examples = param.shape_examples()
        if examples:
            shape = value_shape(value)
            best = max(shape_similarity(shape, e) for e in examples)
            st.shape_checked += 1
            st.shape_sum += best
            st.shape_min = min(st.shape_min, best)
        pclass = param.value_class
        if pclass is not None and param.enum is None:
            st.class_checked += 1
            if cached_value_class(value) not in CLASS_ALLOWED[pclass]:
                st.class_mismatch += 1
        if is_date and param.date_format and not date_shaped:
            st.date_format_bad += 1
    if ungrounded and required:
        st.req_ungrounded += 1
    return grounded, offset
