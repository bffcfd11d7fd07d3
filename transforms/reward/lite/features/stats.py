"""How value observations are counted and replayed.

A `ValueStats` accumulates what the values of one call (or one value) show:
counters that add up (`COUNTERS`), the least word overlap and shape
similarity, and lists. `snapshot` freezes one into a record that `replay`
adds to another, so that what a value contributes is computed once per
example and replayed for every candidate that sends it.
"""
from __future__ import annotations

import operator

# ValueStats counters that add up over values and calls, in the order of a call's counts
COUNTERS = (
    "n_str", "str_exact", "str_norm_sub", "str_ungrounded", "overlap_sum",
    "sub_entity", "super_entity", "entity_exact", "placeholder", "empty", "and_joined", "case_mixed",
    "date_values", "date_grounded", "date_ungrounded", "date_format_bad", "n_num",
    "num_grounded", "num_scaled", "num_ungrounded", "num_default", "num_year", "n_bool",
    "bool_true_m", "bool_true_u", "bool_false_m", "bool_false_u", "bool_default",
    "enum_values", "enum_grounded", "enum_contradict",
    "enum_default", "shape_checked", "shape_sum", "class_checked", "class_mismatch",
    "type_errors", "numeric_string", "span_next", "span_prev", "head_grounded",
    "string_for_array", "item_type_errors", "enum_violations", "range_violations",
    "null_values", "nested_unexpected", "nested_missing", "req_ungrounded",
    "dup_values", "value_is_param_name", "conv_checked", "conv_violated", "conv_violated_grounded",
    "list_dup_items", "list_pairs", "list_backward", "list_lit_checked", "list_lit_match")


class ValueStats:
    """Accumulates per-argument observations (counters default to 0).

    Besides the COUNTERS: the least word overlap and shape similarity of any
    value, the normalized string values (`blob`), the numbers used, and the
    words listed next to values in the user's text (`siblings`). Those are
    slots, so that `__dict__` holds just the counters a value touched.
    """

    __slots__ = ("overlap_min", "shape_min", "call_values", "blob", "nums_used", "siblings", "__dict__")

    def __init__(self):
        self.overlap_min = 1.0
        self.shape_min = 1.0
        self.call_values = set()
        self.blob = []
        self.nums_used = set()
        self.siblings = []


for _field in COUNTERS:
    setattr(ValueStats, _field, 0)

# the COUNTERS of a ValueStats, as a tuple
counts_of = operator.attrgetter(*COUNTERS)


# a snapshot's length: records built on one (see values.observe, grounding.string_facts) add fields after it
SNAPSHOT_FIELDS = 7


def snapshot(st: ValueStats) -> tuple:
    """A ValueStats as a replayable record (see replay): the counters it touched, minima and lists.

    A flat tuple of strings, numbers and tuples of those: the garbage collector stops tracking it.
    """
    counters = st.__dict__
    return (tuple(counters), tuple(counters.values()), st.overlap_min, st.shape_min, tuple(st.blob),
            tuple(st.nums_used), tuple(st.siblings))


def replay(st: ValueStats, record: tuple) -> None:
    """Add a snapshot (or a longer record that starts with one) to `st`."""
    slots, deltas, overlap_min, shape_min, blob, nums, siblings = record[:SNAPSHOT_FIELDS]
    counters = st.__dict__
    get = counters.get
    for slot, delta in zip(slots, deltas):
        counters[slot] = get(slot, 0) + delta
    if overlap_min < st.overlap_min:
        st.overlap_min = overlap_min
    if shape_min < st.shape_min:
        st.shape_min = shape_min
    if blob:
        st.blob.extend(blob)
    if nums:
        st.nums_used.update(nums)
    if siblings:
        st.siblings.extend(siblings)
