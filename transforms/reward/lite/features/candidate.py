"""A candidate's feature vector, and the batch API (`featurize`).

`candidate_features` decodes the output, takes the memoized `CallRecord` of
each call, adds their counts up and writes the columns: call count and
duplicates, names, parameters, value types and grounding, coverage of what
the user mentioned (and, through `multi_call`, the structure of several
calls). Counts over all arguments of all calls are reported per call
(`PER_CALL`); `featurize` divides them for a whole batch at once.
"""
from __future__ import annotations

import math
import re
from itertools import chain
from operator import add
from typing import Any, Sequence

import numpy as np

from toolrm_beam.schemas.decoding import LENIENT, DecodeError, decode_calls
from toolrm_beam.transforms.reward.lite.features.calls import CALL_COUNTS, call_identity, call_record, plain_calls
from toolrm_beam.transforms.reward.lite.features.context import ContextCache, ExampleInfo
from toolrm_beam.transforms.reward.lite.features.layout import COLUMNS, N_FEATURES, PER_CALL_INDEX
from toolrm_beam.transforms.reward.lite.features.multi_call import multi_call_features
from toolrm_beam.transforms.reward.lite.features.prose import text_features
from toolrm_beam.transforms.reward.lite.features.text import format_number, standardize

globals().update(COLUMNS)  # I_<name>: the column of each feature
# C_<name>: the position of each CALL_COUNTS entry in a call's (or candidate's) counts
globals().update({f"C_{name}": index for index, name in enumerate(CALL_COUNTS)})

_OPENING = re.compile(r"[\[{(]")


def candidate_features(ex: ExampleInfo, output: Any) -> list[float]:
    """The feature vector (in FEATURE_NAMES order) of one candidate output."""
    v, n = _undivided_features(ex, output)
    if n > 1:
        for index in PER_CALL_INDEX:
            v[index] /= n
    return v


def featurize(examples: Sequence[dict] | dict, outputs: Sequence[Any],
              cache: ContextCache | None = None) -> np.ndarray:
    """Features of (example, output) pairs, one row each (float32).

    `examples` is one example for all outputs, or one per output; the same
    example object may repeat (its context is computed once).
    """
    n = len(outputs)
    if n == 0:
        return np.zeros((0, N_FEATURES), dtype=np.float32)
    single = isinstance(examples, dict)
    if not single and len(examples) != n:
        raise ValueError(f"got {len(examples)} examples for {n} outputs")
    cache = cache if cache is not None else ContextCache()
    local: dict[int, ExampleInfo] = {}
    rows = []
    n_calls = []
    for i in range(n):
        example = examples if single else examples[i]
        info = local.get(id(example))
        if info is None:
            info = cache.get(example)
            local[id(example)] = info
        row, calls = _undivided_features(info, outputs[i])
        rows.append(row)
        n_calls.append(calls)
    # float64 as Python computes, the per-call division for all rows at once, then float32
    out = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=n * N_FEATURES).reshape(n, N_FEATURES)
    calls = np.array(n_calls, dtype=np.float64)
    multi = np.flatnonzero(calls > 1)
    if len(multi):
        columns = np.array(PER_CALL_INDEX)
        out[np.ix_(multi, columns)] /= calls[multi, None]
    return out.astype(np.float32)


def _example_features(ex: ExampleInfo, v: list) -> None:
    v[I_e_n_tools] = math.log1p(ex.n_tools)
    v[I_e_best_sim] = ex.best_sim
    v[I_e_sim_gap] = ex.best_sim - ex.second_sim
    v[I_e_n_relevant] = min(ex.n_relevant, 6)
    v[I_e_n_and] = min(ex.n_and, 8)
    v[I_e_n_commas] = min(ex.n_commas, 10)
    v[I_e_n_multi] = min(ex.n_multi, 6)
    v[I_e_n_entities] = min(len(ex.entity_parts), 12)
    v[I_e_n_numbers] = min(len(ex.user_numbers), 12)
    v[I_e_user_len] = math.log1p(ex.user_len)
    v[I_e_n_turns] = min(ex.n_turns, 6)
    v[I_e_n_questions] = min(ex.n_questions, 4)
    v[I_e_max_required] = min(ex.max_required, 8)
    v[I_e_count_cue] = ex.count_cue
    v[I_e_non_ascii] = ex.non_ascii


def _undivided_features(ex: ExampleInfo, output: Any) -> tuple[list, int]:
    """The feature vector before the PER_CALL columns are divided by the number of calls, and that number."""
    base = ex._cache.get(("base",))
    if base is None:
        base = [0.0] * N_FEATURES
        _example_features(ex, base)
        ex._cache[("base",)] = base
    v = base.copy()
    calls = plain_calls(output)
    if calls is None:
        try:
            calls = decode_calls(output, LENIENT)  # the features the model was trained on
        except DecodeError:
            calls = None
    if calls is None:
        if isinstance(output, str):
            stripped = output.strip()
            callish = bool(_OPENING.search(stripped)) and (
                stripped[:1] in "[{(<`" or "<tool_call>" in stripped
                or any(name in stripped for name in ex.tools) or '"name"' in stripped)
            v[I_decode_error] = float(callish)  # a broken call; prose is not a decoding error
            v[I_callish_text] = float(callish)
            v[I_is_text] = float(not callish)
            text_features(ex, output, v)
        else:
            v[I_decode_error] = 1.0
            v[I_callish_text] = 1.0
        v[I_text_x_best_sim] = v[I_is_text] * ex.best_sim
        v[I_text_x_n_tools] = v[I_is_text] * math.log1p(ex.n_tools)
        v[I_text_x_no_tool_fits] = v[I_is_text] * ex.no_tool_fits
        return v, 0
    if not calls:
        v[I_is_text] = 1.0
        v[I_empty_output] = 1.0
        v[I_text_x_best_sim] = ex.best_sim
        v[I_text_x_n_tools] = math.log1p(ex.n_tools)
        v[I_text_x_no_tool_fits] = ex.no_tool_fits
        return v, 0

    n = len(calls)
    v[I_n_calls] = min(n, 8)
    v[I_one_call] = float(n == 1)
    v[I_multi_call] = float(n > 1)
    v[I_calls_x_and] = min(n, 8) * min(ex.n_and, 8)
    v[I_calls_x_entities] = min(n, 8) * min(len(ex.entities), 12)
    v[I_calls_x_cue] = min(n, 8) * ex.count_cue
    records = [call_record(ex, call) for call in calls]
    distinct_names = len({call["name"] for call in calls})
    if distinct_names < n:  # only calls of one function can be duplicates
        v[I_dup_calls] = n - len({call_identity(r, call) for r, call in zip(records, calls)})
    v[I_dup_names] = n - distinct_names
    v[I_distinct_names_frac] = distinct_names / n

    # combine the calls' records
    c = records[0].counts
    overlap_min = shape_min = 1.0
    unknown_near = 0.0
    sims, ranks, gaps, hits = [], [], [], []
    called = set()
    by_name: dict[str, list[dict]] = {}
    for index, (call, record) in enumerate(zip(calls, records)):
        if index:
            c = list(map(add, c, record.counts))
        if record.overlap_min < overlap_min:
            overlap_min = record.overlap_min
        if record.shape_min < shape_min:
            shape_min = record.shape_min
        resolved = record.resolved
        if resolved is None:
            if record.unknown_near > unknown_near:
                unknown_near = record.unknown_near
        else:
            called.add(resolved)
            by_name.setdefault(resolved, []).append(call["arguments"])
            sims.append(record.sim)
            ranks.append(record.rank)
            gaps.append(record.gap)
            hits.append(record.hit)

    v[I_unknown_names] = c[C_unknown]
    v[I_unknown_near] = unknown_near
    if sims:
        worst = min(sim + 0.5 * hit for sim, hit in zip(sims, hits))
        v[I_call_x_tool_unfit] = max(0.0, 1.0 - worst / 0.2) * (1.0 - min(1.0, ex.non_ascii * 5))
        v[I_name_sim_mean] = sum(sims) / len(sims)
        v[I_name_sim_min] = min(sims)
        v[I_name_rank_max] = min(max(ranks), 8)
        v[I_name_gap_max] = max(gaps)
        v[I_name_hit_min] = min(hits)
        v[I_is_best_all] = float(max(ranks) < max(1, len(called)))
    v[I_name_in_text] = c[C_name_in_text]
    relevant = ex.relevant
    v[I_relevant_uncalled] = min(sum(1 for r in relevant if r not in called), 6)
    v[I_calls_minus_relevant] = max(-6, min(6, len(called) - len(relevant)))
    if ex.count_cue:
        most = max(len(v) for v in by_name.values()) if by_name else n
        v[I_count_cue_match] = float(n == ex.count_cue or most == ex.count_cue)
        v[I_count_cue_short] = float(n < ex.count_cue)
        v[I_count_cue_over] = float(n > ex.count_cue and most != ex.count_cue)

    # parameters
    n_args = c[C_n_args]
    v[I_n_args] = math.log1p(n_args)
    v[I_args_per_call] = n_args / n
    v[I_unexpected] = c[C_unexpected]
    v[I_unexpected_near] = c[C_unexpected_near]
    missing_req = c[C_missing_req]
    v[I_missing_required] = missing_req
    v[I_missing_required_frac] = missing_req / c[C_req_total] if c[C_req_total] else 0.0
    v[I_opt_present] = min(c[C_opt_present], 10)
    v[I_opt_absent] = min(c[C_opt_absent], 10)
    v[I_opt_absent_cued] = c[C_opt_absent_cued]
    v[I_opt_absent_enum_cued] = c[C_opt_absent_enum]
    v[I_opt_present_uncued] = c[C_opt_present_uncued]
    v[I_opt_present_default] = c[C_opt_present_default]
    v[I_opt_present_ungrounded] = c[C_opt_present_ungrounded]
    v[I_opt_nondefault_uncued] = c[C_opt_nondefault_uncued]
    v[I_opt_present_grounded] = c[C_opt_present_grounded]
    v[I_nested_unexpected] = c[C_nested_unexpected]
    v[I_nested_missing_required] = c[C_nested_missing]
    # types
    v[I_type_errors] = c[C_type_errors]
    v[I_numeric_string_for_number] = c[C_numeric_string]
    v[I_string_for_array] = c[C_string_for_array]
    v[I_array_item_type_errors] = c[C_item_type_errors]
    v[I_enum_violations] = c[C_enum_violations]
    v[I_range_violations] = c[C_range_violations]
    v[I_null_values] = c[C_null_values]
    # values
    n_str, n_num, n_bool = c[C_n_str], c[C_n_num], c[C_n_bool]
    n_values = n_str + n_num + n_bool
    v[I_n_values] = math.log1p(n_values)
    if n_values:
        v[I_str_share] = n_str / n_values
        v[I_num_share] = n_num / n_values
        v[I_bool_share] = n_bool / n_values
    str_ungrounded = c[C_str_ungrounded]
    if n_str:
        v[I_str_exact_frac] = c[C_str_exact] / n_str
        v[I_str_norm_frac] = c[C_str_norm_sub] / n_str
        v[I_str_ungrounded_frac] = str_ungrounded / n_str
        v[I_str_entity_exact_frac] = c[C_entity_exact] / n_str
        v[I_str_overlap_mean] = c[C_overlap_sum] / n_str
        v[I_str_overlap_min] = overlap_min
        v[I_str_head_grounded_frac] = c[C_head_grounded] / n_str
    else:
        v[I_str_overlap_mean] = 1.0
        v[I_str_overlap_min] = 1.0
        v[I_str_head_grounded_frac] = 1.0
    v[I_str_ungrounded_any] = float(str_ungrounded > 0)
    v[I_str_sub_entity] = min(c[C_sub_entity], 4)
    v[I_str_super_entity] = min(c[C_super_entity], 4)
    v[I_str_placeholder] = c[C_placeholder]
    v[I_str_empty] = c[C_empty]
    v[I_str_and_joined] = c[C_and_joined]
    v[I_str_case_mixed] = c[C_case_mixed]
    v[I_span_next_content] = c[C_span_next]
    v[I_span_prev_content] = c[C_span_prev]
    date_values = c[C_date_values]
    v[I_date_values] = min(date_values, 6)
    v[I_date_grounded_frac] = c[C_date_grounded] / date_values if date_values else 0.0
    v[I_date_ungrounded] = c[C_date_ungrounded]
    v[I_date_format_bad] = c[C_date_format_bad]
    num_ungrounded = c[C_num_ungrounded]
    if n_num:
        v[I_num_grounded_frac] = c[C_num_grounded] / n_num
        v[I_num_ungrounded_frac] = num_ungrounded / n_num
    v[I_num_ungrounded_any] = float(num_ungrounded > 0)
    v[I_num_scaled] = c[C_num_scaled]
    v[I_num_default] = c[C_num_default]
    v[I_num_year] = min(c[C_num_year], 4)
    v[I_bool_true_mentioned] = c[C_bool_true_m]
    v[I_bool_true_unmentioned] = c[C_bool_true_u]
    v[I_bool_false_mentioned] = c[C_bool_false_m]
    v[I_bool_false_unmentioned] = c[C_bool_false_u]
    v[I_bool_default_frac] = c[C_bool_default] / n_bool if n_bool else 0.0
    enum_values = c[C_enum_values]
    v[I_enum_values] = min(enum_values, 10)
    v[I_enum_grounded_frac] = c[C_enum_grounded] / enum_values if enum_values else 0.0
    v[I_enum_contradict] = c[C_enum_contradict]
    v[I_enum_default] = c[C_enum_default]
    shape_checked = c[C_shape_checked]
    v[I_shape_checked] = min(shape_checked, 6)
    v[I_shape_sim_min] = shape_min if shape_checked else 1.0
    v[I_shape_sim_mean] = c[C_shape_sum] / shape_checked if shape_checked else 1.0
    v[I_class_checked] = min(c[C_class_checked], 6)
    v[I_class_mismatch] = c[C_class_mismatch]
    v[I_req_ungrounded] = c[C_req_ungrounded]
    v[I_dup_values_in_call] = c[C_dup_values]
    v[I_value_is_param_name] = c[C_value_is_param_name]
    # alignment of values with their parameters' words in the text
    align_checked = c[C_align_checked]
    v[I_align_checked] = min(align_checked, 6)
    v[I_align_own_frac] = c[C_align_own] / align_checked if align_checked else 0.0
    v[I_align_other] = c[C_align_other]
    v[I_align_near_mean] = c[C_near_sum] / align_checked if align_checked else 0.0
    ordered_pairs = c[C_ordered_pairs]
    v[I_order_discordant_frac] = c[C_discordant] / ordered_pairs if ordered_pairs else 0.0
    ctx_checked = c[C_ctx_checked]
    v[I_ctx_checked] = min(ctx_checked, 6)
    v[I_ctx_own_frac] = c[C_ctx_own] / ctx_checked if ctx_checked else 0.0
    v[I_ctx_other_only] = c[C_ctx_other_only]
    v[I_value_has_param_word] = c[C_value_has_param_word]

    # coverage of what the user mentioned
    if n == 1:
        record = records[0]
        blob, nums_used, siblings = "\x00".join(record.blob), record.nums_used, record.siblings
    else:
        blob = "\x00".join([s for record in records for s in record.blob])
        nums_used = set().union(*[record.nums_used for record in records])
        siblings = [w for record in records for w in record.siblings]
    if ex.quoted:
        v[I_quoted_uncovered] = sum(1 for q in ex.quoted if q not in blob)
    if siblings:
        used_numbers = {format_number(x) for x in nums_used}
        v[I_sibling_unused] = min(4, sum(1 for w in set(siblings)
                                         if standardize(w) not in blob and w not in used_numbers))
    if ex.entity_parts:
        covered = sum(1 for part in ex.entity_parts if part in blob)
        v[I_entity_cover] = covered / len(ex.entity_parts)
        v[I_entity_uncovered] = min(len(ex.entity_parts) - covered, 10)
    else:
        v[I_entity_cover] = 1.0
    if ex.user_numbers:
        used = sum(1 for x, norm in ex.user_number_norms if x in nums_used or norm in blob)
        v[I_number_cover] = used / len(ex.user_numbers)
        v[I_number_uncovered] = min(len(ex.user_numbers) - used, 10)
    else:
        v[I_number_cover] = 1.0

    if n > 1:
        multi_call_features(ex, calls, records, by_name, v)
    v[I_calls_per_entity] = n / (1 + len(ex.entity_parts))
    return v, n
