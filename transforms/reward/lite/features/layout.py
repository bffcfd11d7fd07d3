"""The feature vector's layout: column names and order, version and signature.

`FEATURE_NAMES` fixes the column order; `FEATURE_VERSION` changes whenever
features change meaning, and a saved model refuses to load against other
features (`feature_signature`).
"""
from __future__ import annotations

import hashlib

FEATURE_VERSION = "lite-features-16"

FEATURE_NAMES: list[str] = [
    # output form
    "is_text", "decode_error", "callish_text", "empty_output", "text_len", "text_question",
    "text_negative", "text_ask", "text_invalid", "text_mentions_tool", "text_mentions_required",
    "text_mentions_value",
    # calls
    "n_calls", "one_call", "multi_call", "dup_calls", "dup_names", "distinct_names_frac",
    "calls_minus_relevant", "relevant_uncalled", "count_cue_match", "count_cue_short", "count_cue_over",
    # names
    "unknown_names", "unknown_near", "name_sim_mean", "name_sim_min", "name_rank_max", "name_gap_max",
    "name_hit_min", "is_best_all", "name_in_text",
    # parameters
    "n_args", "args_per_call", "unexpected", "unexpected_near", "missing_required", "missing_required_frac",
    "opt_present", "opt_absent", "opt_absent_cued", "opt_absent_enum_cued", "opt_present_uncued",
    "opt_present_default", "opt_present_ungrounded", "opt_present_grounded", "opt_nondefault_uncued",
    "nested_unexpected",
    "nested_missing_required",
    # types
    "type_errors", "numeric_string_for_number", "string_for_array", "array_item_type_errors",
    "enum_violations", "range_violations", "null_values",
    # values (fractions of the values of each kind, and a few counts)
    "n_values", "str_share", "str_exact_frac", "str_norm_frac", "str_ungrounded_frac", "str_ungrounded_any",
    "str_head_grounded_frac", "sibling_unused",
    "str_overlap_mean", "str_overlap_min", "str_sub_entity", "str_super_entity", "str_entity_exact_frac",
    "str_placeholder", "str_empty", "str_and_joined", "str_case_mixed", "span_next_content", "span_prev_content",
    "date_values", "date_grounded_frac", "date_ungrounded", "date_format_bad",
    "num_share", "num_grounded_frac", "num_scaled", "num_ungrounded_frac", "num_ungrounded_any",
    "num_default", "num_year",
    "bool_share", "bool_true_mentioned", "bool_true_unmentioned", "bool_false_mentioned",
    "bool_false_unmentioned", "bool_default_frac",
    "enum_values", "enum_grounded_frac", "enum_contradict", "enum_default",
    "shape_checked", "shape_sim_min", "shape_sim_mean", "class_checked", "class_mismatch",
    "req_ungrounded", "dup_values_in_call", "value_is_param_name",
    # conventions the parameter descriptions state (options, range, form, date pattern)
    "conv_checked", "conv_violated", "conv_violated_grounded",
    # list arguments against the lists the user wrote
    "list_dup_items", "list_backward_frac", "list_literal_checked", "list_literal_mismatch",
    # alignment of values with their parameters' words in the text
    "align_checked", "align_own_frac", "align_other", "align_near_mean", "order_discordant_frac",
    "ctx_checked", "ctx_own_frac", "ctx_other_only", "value_has_param_word", "quoted_uncovered",
    # coverage of what the user mentioned
    "entity_cover", "entity_uncovered", "number_cover", "number_uncovered",
    # multi-call structure
    "same_name_varying", "same_name_identical_params", "varying_grounded_frac", "varying_listed_frac",
    "calls_per_entity",
    "calls_new_info_frac",
    # example cues (constant within an example; interact with the rest)
    "e_n_tools", "e_best_sim", "e_sim_gap", "e_n_relevant", "e_n_and", "e_n_commas", "e_n_multi",
    "e_n_entities", "e_n_numbers", "e_user_len", "e_n_turns", "e_n_questions", "e_max_required",
    "e_count_cue", "e_non_ascii",
    # interactions
    "text_x_best_sim", "text_x_n_tools", "calls_x_and", "calls_x_entities", "calls_x_cue",
    "text_x_no_tool_fits", "call_x_tool_unfit",
]
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
# I_<name>: the column of each feature. The modules that fill vectors add these to their own
# globals (`globals().update(COLUMNS)`), so that writing a column is a plain global load.
COLUMNS = {f"I_{name}": index for index, name in enumerate(FEATURE_NAMES)}
globals().update(COLUMNS)
# Counts over all arguments of all calls, reported per call, so that a right
# answer with two calls does not look twice as bad as one call.
PER_CALL = (
    "name_in_text", "unexpected", "unexpected_near", "missing_required", "opt_present", "opt_absent",
    "opt_absent_cued", "opt_absent_enum_cued", "opt_present_uncued", "opt_present_default",
    "opt_present_ungrounded", "opt_nondefault_uncued", "opt_present_grounded", "nested_unexpected",
    "nested_missing_required",
    "type_errors", "numeric_string_for_number", "string_for_array", "array_item_type_errors", "enum_violations",
    "range_violations", "null_values", "str_sub_entity", "str_super_entity", "str_placeholder", "str_empty",
    "str_and_joined", "str_case_mixed", "span_next_content", "span_prev_content", "date_values",
    "date_ungrounded", "date_format_bad", "num_scaled", "num_default", "num_year", "bool_true_mentioned",
    "bool_true_unmentioned", "bool_false_mentioned", "bool_false_unmentioned", "enum_values", "enum_contradict",
    "enum_default", "shape_checked", "class_checked", "class_mismatch", "req_ungrounded", "dup_values_in_call",
    "value_is_param_name", "conv_checked", "conv_violated", "conv_violated_grounded", "list_dup_items", "list_literal_checked",
    "list_literal_mismatch", "align_checked", "align_other", "n_values", "ctx_checked", "ctx_other_only",
    "value_has_param_word",
)
PER_CALL_INDEX = tuple(FEATURE_INDEX[name] for name in PER_CALL)
N_FEATURES = len(FEATURE_NAMES)


def feature_signature() -> str:
    """Hash of the feature version and names: a saved model must match it."""
    text = FEATURE_VERSION + "\n" + "\n".join(FEATURE_NAMES)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
