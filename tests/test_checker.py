"""The checker, one test per rule of docs/tool-call-correctness.md.

Cases come from BFCL v3 live rows (tools normalized with tool_spec, answers
converted with records.reference_from_bfcl); rules the sample has no case for
(arrays) use small tools in BFCL's style.
"""
from __future__ import annotations

import copy
import functools
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolrm_beam.schemas.checker import CheckResult, check, standardize_string
from toolrm_beam.schemas.errors import FC_REWARDBENCH_COUNTS, ErrorType
from toolrm_beam.schemas.records import reference_from_bfcl
from toolrm_beam.schemas.tool_spec import normalize_tool

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BFCL_DIRS = (os.path.join(REPO, "data", "samples", "bfcl_live_sample"),
             os.path.join(os.path.dirname(REPO), "shared", "data", "corpora", "bfcl_live_sample"))


def _read_row(path: str, case_id: str) -> dict | None:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["id"] == case_id:
                return row
    return None


@functools.lru_cache(maxsize=None)
def _load_bfcl(category: str, case_id: str) -> tuple[list, list]:
    for directory in BFCL_DIRS:
        path = os.path.join(directory, f"BFCL_v3_{category}.json")
        if os.path.exists(path):
            break
    else:
        pytest.skip("BFCL live sample corpus not available")
    row = _read_row(path, case_id)
    tools = [normalize_tool(s["name"], s.get("description"), s.get("parameters")) for s in row["function"]]
    answer_path = os.path.join(directory, "possible_answer", f"BFCL_v3_{category}.json")
    answer = _read_row(answer_path, case_id) if os.path.exists(answer_path) else None
    return tools, reference_from_bfcl(answer["ground_truth"]) if answer else []


def bfcl(category: str, case_id: str) -> tuple[list, list]:
    tools, reference = _load_bfcl(category, case_id)
    return copy.deepcopy(tools), copy.deepcopy(reference)


def call(name, /, **arguments):
    return {"name": name, "arguments": arguments}


def first_choice(reference: list[dict]) -> list[dict]:
    """A correct candidate: the first acceptable value of every parameter, "" omitted."""
    def pick(options):
        value = next(v for v in options if v != "")
        if isinstance(value, dict):
            return {k: pick(v) for k, v in value.items() if any(x != "" for x in v)}
        return value
    return [call(c["name"], **{p: pick(v) for p, v in c["arguments"].items() if any(x != "" for x in v)})
            for c in reference]


def assert_fails(result: CheckResult, error_type: ErrorType, code: str | None = None):
    assert not result.correct, result
    assert result.error_type is error_type, result
    if code is not None:
        assert result.code == code, result
    assert result.detail


def assert_ok(result: CheckResult):
    assert result == CheckResult(True, None, "ok", result.detail), result


CASES = [
    ("live_simple", "live_simple_10-3-6"),
    ("live_simple", "live_simple_1-1-0"),
    ("live_multiple", "live_multiple_0-0-0"),
    ("live_parallel", "live_parallel_11-7-0"),
    ("live_parallel_multiple", "live_parallel_multiple_0-0-0"),
    ("live_parallel_multiple", "live_parallel_multiple_13-11-0"),
    ("live_parallel_multiple", "live_parallel_multiple_21-18-0"),
]


@pytest.mark.parametrize("category, case_id", CASES)
def test_reference_answer_passes_in_every_output_form(category, case_id):
    tools, reference = bfcl(category, case_id)
    calls = first_choice(reference)
    assert_ok(check(tools, reference, calls))
    assert_ok(check(tools, reference, json.dumps(calls)))
    assert_ok(check(tools, reference, json.dumps([{c["name"]: c["arguments"]} for c in calls])))
    python = "[" + ", ".join(f"{c['name']}(" + ", ".join(f"{k}={v!r}" for k, v in c["arguments"].items()) + ")"
                             for c in calls) + "]"
    assert_ok(check(tools, reference, python))


# --- rule 1: count ------------------------------------------------------------

def test_wrong_number_of_parallel_calls():
    tools, reference = bfcl("live_parallel", "live_parallel_11-7-0")
    result = check(tools, reference, first_choice(reference)[:3])
    assert_fails(result, ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS, "count:wrong_count")


def test_duplicate_call_in_a_single_call_case_is_wrong_count():
    tools, reference = bfcl("live_simple", "live_simple_10-3-6")
    calls = first_choice(reference)
    assert_fails(check(tools, reference, calls * 2), ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS, "count:wrong_count")
    assert_fails(check(tools, reference, "[]"), ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS, "count:wrong_count")


# --- rule 2: parallel calls match in any order -----------------------------------

def test_parallel_calls_match_in_any_order():
    tools, reference = bfcl("live_parallel", "live_parallel_11-7-0")
    calls = first_choice(reference)
    assert_ok(check(tools, reference, calls[::-1]))
    assert_ok(check(tools, reference, [calls[2], calls[0], calls[3], calls[1]]))


def test_parallel_mismatch_reports_the_same_name_failure():
    tools, reference = bfcl("live_parallel", "live_parallel_11-7-0")
    calls = first_choice(reference)[::-1]
    calls[0]["arguments"]["food_name"] = "black coffee"  # was "coffee"
    result = check(tools, reference, calls)
    assert_fails(result, ErrorType.PARAMETER_VALUE_ERROR, "value_error:string")
    assert "expected call 3" in result.detail and "black coffee" in result.detail


def test_parallel_mismatch_is_diagnosed_against_the_closest_leftover_call():
    tools, reference = bfcl("live_parallel", "live_parallel_11-7-0")
    mango, chai, pizza, coffee = first_choice(reference)
    chai["arguments"]["portion_unit"] = "tablespoon"
    mango["arguments"]["portion_amount"] = "8"
    # Neither chai nor mango matches; for the first expected call (mango) the
    # mango call agrees on more parameters than the chai call, so its type
    # error is reported rather than chai's value error.
    result = check(tools, reference, [coffee, pizza, chai, mango])
    assert_fails(result, ErrorType.PARAMETER_VALUE_TYPE_ERROR, "type_error:simple")
    assert "expected call 0" in result.detail and "closest is call 3" in result.detail


def test_parallel_duplicate_call_instead_of_second_city():
    tools, reference = bfcl("live_parallel_multiple", "live_parallel_multiple_0-0-0")
    calls = first_choice(reference)
    result = check(tools, reference, [calls[0], calls[0]])
    assert_fails(result, ErrorType.INCORRECT_FUNCTION_NAME, "simple:wrong_func_name")


# --- rule 3: function name ---------------------------------------------------------

def test_sibling_function_is_incorrect_name():
    tools, reference = bfcl("live_multiple", "live_multiple_0-0-0")
    (expected,) = first_choice(reference)
    result = check(tools, reference, [call("ChaFod", foodItem="latte")])
    assert_fails(result, ErrorType.INCORRECT_FUNCTION_NAME, "simple:wrong_func_name")
    assert expected["name"] == "ChaDri.change_drink"


def test_dots_may_be_sent_as_underscores():
    tools, reference = bfcl("live_multiple", "live_multiple_0-0-0")
    (expected,) = first_choice(reference)
    assert_ok(check(tools, reference, [call("ChaDri_change_drink", **expected["arguments"])]))
    assert_fails(check(tools, reference, [call("ChaDri-change_drink", **expected["arguments"])]),
                 ErrorType.INCORRECT_FUNCTION_NAME)
    assert_fails(check(tools, reference, [call("change_drink", **expected["arguments"])]),
                 ErrorType.INCORRECT_FUNCTION_NAME)


# --- rule 4: required parameters ------------------------------------------------------

def test_missing_required_parameter():
    tools, reference = bfcl("live_multiple", "live_multiple_0-0-0")
    result = check(tools, reference, [call("ChaDri.change_drink", drink_id="latte")])
    assert_fails(result, ErrorType.MISSING_REQUIRED_PARAMETER, "simple:missing_required")
    assert "new_preferences" in result.detail


def test_missing_required_is_found_before_an_unexpected_parameter():
    tools, reference = bfcl("live_parallel", "live_parallel_11-7-0")
    calls = first_choice(reference)
    calls[1]["arguments"] = {"calories": 5, "food_name": "chai tea", "portion_amount": 1.0}
    assert_fails(check(tools, reference, calls), ErrorType.MISSING_REQUIRED_PARAMETER)


# --- rule 5: unexpected parameters ------------------------------------------------------

def test_parameter_not_in_schema_is_unexpected():
    tools, reference = bfcl("live_multiple", "live_multiple_0-0-0")
    (candidate,) = first_choice(reference)
    candidate["arguments"]["extra_shot"] = True
    result = check(tools, reference, [candidate])
    assert_fails(result, ErrorType.UNEXPECTED_PARAMETER, "simple:unexpected_param")
    assert "extra_shot" in result.detail and "schema" in result.detail


def test_parameter_in_schema_but_not_in_reference_is_unexpected():
    tools, reference = bfcl("live_parallel", "live_parallel_11-7-0")
    calls = first_choice(reference)
    calls[0]["arguments"]["log_date"] = "2024-01-01T08:00:00Z"  # defined by log_food, not expected
    result = check(tools, reference, calls)
    assert_fails(result, ErrorType.UNEXPECTED_PARAMETER, "simple:unexpected_param")
    assert "reference" in result.detail


def test_first_failing_parameter_in_candidate_order_is_reported():
    tools, reference = bfcl("live_simple", "live_simple_10-3-6")
    wrong_value_first = call("get_current_weather", location="Paris", units="celsius")
    assert_fails(check(tools, reference, [wrong_value_first]), ErrorType.PARAMETER_VALUE_ERROR)
    unexpected_first = call("get_current_weather", units="celsius", location="Paris")
    assert_fails(check(tools, reference, [unexpected_first]), ErrorType.UNEXPECTED_PARAMETER)


# --- rule 6: types --------------------------------------------------------------------

def test_integer_is_accepted_for_a_float():
    tools, reference = bfcl("live_parallel", "live_parallel_11-7-0")
    calls = first_choice(reference)
    calls[0]["arguments"]["portion_amount"] = 8      # reference [8.0]
    assert_ok(check(tools, reference, calls))
    assert_ok(check(tools, reference, "[" + ", ".join(
        f"log_food(food_name={c['arguments']['food_name']!r}, portion_amount={int(c['arguments']['portion_amount'])}, "
        f"portion_unit={c['arguments']['portion_unit']!r})" for c in calls) + "]"))


def test_numeric_string_for_a_float_is_a_type_error():
    tools, reference = bfcl("live_parallel", "live_parallel_11-7-0")
    calls = first_choice(reference)
    calls[2]["arguments"]["portion_amount"] = "2.0"
    assert_fails(check(tools, reference, calls), ErrorType.PARAMETER_VALUE_TYPE_ERROR, "type_error:simple")
    tool = normalize_tool("geo", None, {"type": "dict", "required": ["lat"], "properties": {"lat": {"type": "float"}}})
    assert_fails(check([tool], [call("geo", lat=[40.7])], [call("geo", lat="40.7")]),
                 ErrorType.PARAMETER_VALUE_TYPE_ERROR, "type_error:simple")


def test_bool_is_not_an_integer_and_float_is_not_an_integer():
    tools, reference = bfcl("live_parallel_multiple", "live_parallel_multiple_13-11-0")
    calls = first_choice(reference)
    for wrong in (True, 48.0, "48"):
        calls[0]["arguments"]["a"] = wrong
        assert_fails(check(tools, reference, calls), ErrorType.PARAMETER_VALUE_TYPE_ERROR, "type_error:simple")


def test_string_for_a_boolean_is_a_type_error():
    tools, reference = bfcl("live_simple", "live_simple_1-1-0")
    (candidate,) = first_choice(reference)
    candidate["arguments"]["aligned"] = "true"
    assert_fails(check(tools, reference, [candidate]), ErrorType.PARAMETER_VALUE_TYPE_ERROR)
    candidate["arguments"]["aligned"] = 1
    assert_fails(check(tools, reference, [candidate]), ErrorType.PARAMETER_VALUE_TYPE_ERROR)


def test_value_of_the_reference_type_is_accepted_where_the_schema_differs():
    # is_unisex is "boolean" in the schema, but the reference says "dontcare":
    # BFCL's variable rule accepts a string and compares it exactly.
    tools, reference = bfcl("live_parallel_multiple", "live_parallel_multiple_21-18-0")
    calls = first_choice(reference)
    calls[0]["arguments"]["is_unisex"] = "dontcare"
    assert_ok(check(tools, reference, calls))
    calls[0]["arguments"]["is_unisex"] = "Dont Care"   # no string normalization for a variable
    assert_fails(check(tools, reference, calls), ErrorType.PARAMETER_VALUE_ERROR, "value_error:others")
    calls[0]["arguments"]["is_unisex"] = True          # schema type, but not an acceptable value
    assert_fails(check(tools, reference, calls), ErrorType.PARAMETER_VALUE_ERROR, "value_error:others")


ARRAY_TOOL = normalize_tool("plot", None, {
    "type": "dict", "required": ["points"],
    "properties": {"points": {"type": "array", "items": {"type": "float"}},
                   "labels": {"type": "array", "items": {"type": "string"}},
                   "coords": {"type": "tuple", "items": {"type": "float"}}},
})


def test_array_items_are_type_checked_one_level_deep():
    reference = [call("plot", points=[[1.0, 3.0]])]
    assert_ok(check([ARRAY_TOOL], reference, [call("plot", points=[1.0, 3.0])]))
    # No int -> float conversion inside lists: BFCL's "[1, 3] for a list of floats".
    assert_fails(check([ARRAY_TOOL], reference, [call("plot", points=[1, 3])]),
                 ErrorType.PARAMETER_VALUE_TYPE_ERROR, "type_error:nested")
    assert_fails(check([ARRAY_TOOL], reference, [call("plot", points=["1.0", "3.0"])]),
                 ErrorType.PARAMETER_VALUE_TYPE_ERROR, "type_error:nested")
    # ... unless the reference itself lists ints.
    assert_ok(check([ARRAY_TOOL], [call("plot", points=[[1, 3]])], [call("plot", points=[1, 3])]))


def test_array_items_may_have_any_type_the_reference_list_itself_has():
    # A reference mixing float and int items (`price=[0.1, 10]`) accepts itself (BFCL fails it).
    reference = [call("plot", points=[[0.1, 10]])]
    assert_ok(check([ARRAY_TOOL], reference, [call("plot", points=[0.1, 10])]))
    assert_fails(check([ARRAY_TOOL], reference, [call("plot", points=[0.1, "10"])]),
                 ErrorType.PARAMETER_VALUE_TYPE_ERROR, "type_error:nested")


def test_omittable_array_skips_the_item_type_check_as_bfcl_does():
    # BFCL's nested check passes vacuously on the "" option, so wrong item
    # types surface as a value error instead of a type error.
    reference = [call("plot", points=[[1.0]], labels=["", ["a"]])]
    assert_fails(check([ARRAY_TOOL], reference, [call("plot", points=[1.0], labels=[1, 2])]),
                 ErrorType.PARAMETER_VALUE_ERROR, "value_error:list")
    assert_ok(check([ARRAY_TOOL], reference, [call("plot", points=[1.0], labels=[])]))  # [] stands for omitted


def test_tuple_counts_as_an_array():
    reference = [call("plot", points=[[1.0, 3.0]], coords=[[0.5, 2.5]])]
    assert_ok(check([ARRAY_TOOL], reference, "[plot(points=(1.0, 3.0), coords=(0.5, 2.5))]"))
    assert_fails(check([ARRAY_TOOL], reference, "[plot(points=(3.0, 1.0), coords=(0.5, 2.5))]"),
                 ErrorType.PARAMETER_VALUE_ERROR, "value_error:list")


def test_union_and_null_types():
    tool = normalize_tool("q", None, {"type": "object", "properties": {"limit": {"type": ["integer", "null"]}}})
    reference = [call("q", limit=[10, None])]
    assert_ok(check([tool], reference, [call("q", limit=None)]))
    assert_ok(check([tool], reference, [call("q", limit=10)]))
    assert_fails(check([tool], reference, [call("q", limit="10")]), ErrorType.PARAMETER_VALUE_TYPE_ERROR)


def test_untyped_parameter_has_no_type_error():
    tools, reference = bfcl("live_parallel_multiple", "live_parallel_multiple_13-11-0")
    calls = first_choice(reference)
    assert_ok(check(tools, reference, "[math_gcd(a=48, b=36), estimate_derivative(function=lambda x: x**2, x=5)]"))
    calls[1]["arguments"]["function"] = 2
    assert_fails(check(tools, reference, calls), ErrorType.PARAMETER_VALUE_ERROR, "value_error:others")
    calls[1]["arguments"]["function"] = "lambda x: x**3"
    assert_fails(check(tools, reference, calls), ErrorType.PARAMETER_VALUE_ERROR, "value_error:string")


# --- rule 7: values -------------------------------------------------------------------

@pytest.mark.parametrize("location", ["Mariposa, CA", "mariposa ca", "MARIPOSA-CA", "Mariposa,CA.", "mariposa_ca"])
def test_strings_compare_after_normalization(location):
    tools, reference = bfcl("live_simple", "live_simple_10-3-6")
    assert_ok(check(tools, reference, [call("get_current_weather", location=location, unit="celsius")]))


@pytest.mark.parametrize("location", ["Mariposa, California", "Yosemite", "Mariposa CA USA"])
def test_different_strings_are_value_errors(location):
    tools, reference = bfcl("live_simple", "live_simple_10-3-6")
    result = check(tools, reference, [call("get_current_weather", location=location, unit="celsius")])
    assert_fails(result, ErrorType.PARAMETER_VALUE_ERROR, "value_error:string")
    assert "location" in result.detail


def test_string_normalization_rule():
    assert standardize_string("April 1, 2024") == standardize_string("april 1 2024") == "april12024"
    assert standardize_string("a/b-c_d*e^f.g") == "abcdefg"
    assert standardize_string("it's") == 'it"s'
    assert standardize_string("a\tb") == "a\tb"  # only the space character is removed


def test_lists_compare_item_by_item_in_order():
    reference = [call("plot", points=[[1.0]], labels=[["New York", "Los Angeles"]])]
    assert_ok(check([ARRAY_TOOL], reference, [call("plot", points=[1.0], labels=["new york", "los-angeles"])]))
    assert_fails(check([ARRAY_TOOL], reference, [call("plot", points=[1.0], labels=["Los Angeles", "New York"])]),
                 ErrorType.PARAMETER_VALUE_ERROR, "value_error:list")
    assert_fails(check([ARRAY_TOOL], reference, [call("plot", points=[1.0], labels=["New York"])]),
                 ErrorType.PARAMETER_VALUE_ERROR, "value_error:list")


def test_objects_compare_key_by_key():
    tools, reference = bfcl("live_multiple", "live_multiple_0-0-0")
    (candidate,) = first_choice(reference)
    preferences = candidate["arguments"]["new_preferences"]
    assert_ok(check(tools, reference, [candidate]))

    changed = copy.deepcopy(candidate)
    changed["arguments"]["new_preferences"]["size"] = "Large"          # normalized: still large
    assert_ok(check(tools, reference, [changed]))

    changed["arguments"]["new_preferences"]["milk_type"] = "soy"
    assert_fails(check(tools, reference, [changed]), ErrorType.PARAMETER_VALUE_ERROR, "value_error:dict_value")

    extra = copy.deepcopy(candidate)
    extra["arguments"]["new_preferences"]["shots"] = 2
    assert_fails(check(tools, reference, [extra]), ErrorType.PARAMETER_VALUE_ERROR, "value_error:dict_key")

    missing = copy.deepcopy(candidate)
    del missing["arguments"]["new_preferences"]["temperature"]
    assert_fails(check(tools, reference, [missing]), ErrorType.PARAMETER_VALUE_ERROR, "value_error:dict_key")
    assert preferences["special_instructions"] == "served boiling hot"


def test_object_keys_with_empty_string_may_be_omitted():
    tools, reference = bfcl("live_parallel_multiple", "live_parallel_multiple_0-0-0")
    calls = first_choice(reference)
    assert calls[1]["arguments"]["new_preferences"] == {"size": "large", "temperature": "hot",
                                                      "sweetness_level": "regular", "milk_type": "almond"}
    del calls[1]["arguments"]["new_preferences"]["sweetness_level"]   # ["", "regular"]
    assert_ok(check(tools, reference, calls))
    del calls[1]["arguments"]["new_preferences"]["milk_type"]         # ["almond"]
    assert_fails(check(tools, reference, calls), ErrorType.PARAMETER_VALUE_ERROR, "value_error:dict_key")


def test_object_passes_if_any_acceptable_object_matches():
    tool = normalize_tool("set", None, {"type": "object", "properties": {"cfg": {"type": "object"}}})
    reference = [call("set", cfg=[{"mode": ["a"]}, {"mode": ["b"], "level": [1]}])]
    assert_ok(check([tool], reference, [call("set", cfg={"mode": "b", "level": 1})]))
    assert_fails(check([tool], reference, [call("set", cfg={"mode": "b"})]), ErrorType.PARAMETER_VALUE_ERROR)


LIST_OF_OBJECTS_TOOL = normalize_tool("order", None, {
    "type": "dict", "required": ["items"],
    "properties": {"items": {"type": "array", "items": {"type": "dict", "properties": {
        "name": {"type": "string"}, "qty": {"type": "integer"}}}}},
})


def test_list_of_objects_compares_each_object_in_order():
    reference = [call("order", items=[[{"name": ["Tea"], "qty": [1]}, {"name": ["Cake"], "qty": ["", 1]}]])]
    assert_ok(check([LIST_OF_OBJECTS_TOOL], reference,
                    [call("order", items=[{"name": "tea", "qty": 1}, {"name": "cake"}])]))
    assert_fails(check([LIST_OF_OBJECTS_TOOL], reference,
                       [call("order", items=[{"name": "Cake", "qty": 1}, {"name": "Tea", "qty": 1}])]),
                 ErrorType.PARAMETER_VALUE_ERROR, "value_error:dict_value")
    assert_fails(check([LIST_OF_OBJECTS_TOOL], reference, [call("order", items=[{"name": "Tea", "qty": 1}])]),
                 ErrorType.PARAMETER_VALUE_ERROR, "value_error:list_dict_count")
    assert_fails(check([LIST_OF_OBJECTS_TOOL], reference, [call("order", items=[{"name": "Tea", "qty": 1}, "Cake"])]),
                 ErrorType.PARAMETER_VALUE_TYPE_ERROR, "type_error:nested")


def test_other_values_must_be_acceptable_exactly():
    tools, reference = bfcl("live_parallel_multiple", "live_parallel_multiple_13-11-0")
    calls = first_choice(reference)
    calls[0]["arguments"]["a"] = 36
    assert_fails(check(tools, reference, calls), ErrorType.PARAMETER_VALUE_ERROR, "value_error:others")


# --- rule 8: omission -----------------------------------------------------------------

def test_empty_string_marks_a_parameter_omittable():
    tools, reference = bfcl("live_parallel", "live_parallel_11-7-0")
    calls = first_choice(reference)
    assert reference[0]["arguments"]["meal_type"] == ["", "snack"]
    del calls[0]["arguments"]["meal_type"]
    assert_ok(check(tools, reference, calls))
    calls[0]["arguments"]["meal_type"] = "snack"
    assert_ok(check(tools, reference, calls))
    calls[0]["arguments"]["meal_type"] = "lunch"
    assert_fails(check(tools, reference, calls), ErrorType.PARAMETER_VALUE_ERROR, "value_error:string")


def test_missing_optional_parameter():
    tools, reference = bfcl("live_simple", "live_simple_10-3-6")   # unit: ["celsius"], not required
    result = check(tools, reference, [call("get_current_weather", location="Mariposa, CA")])
    assert_fails(result, ErrorType.MISSING_OPTIONAL_PARAMETER, "simple:missing_optional")
    assert "unit" in result.detail


# --- irrelevance ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["no_call", "clarify", "flag_invalid"])
@pytest.mark.parametrize("output", [
    "I can't look up addresses with these tools.",
    "",
    "[]",
    {"role": "assistant", "content": "Which city do you mean?"},
])
def test_no_call_references_accept_prose_and_empty_output(kind, output):
    tools, _ = bfcl("live_irrelevance", "live_irrelevance_0-0-0")
    assert_ok(check(tools, [], output, reference_kind=kind))


@pytest.mark.parametrize("output", [
    "[requests.get(url='https://maps.googleapis.com/maps/api/geocode/json')]",
    '<tool_call>{"name": "requests.get", "arguments": {"url": "https://x"}}</tool_call>',
    [call("unknown_tool")],
])
def test_no_call_reference_rejects_any_call(output):
    tools, _ = bfcl("live_irrelevance", "live_irrelevance_0-0-0")
    result = check(tools, [], output, reference_kind="no_call")
    assert_fails(result, ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS, "irrelevance:called_a_tool")


@pytest.mark.parametrize("output", [
    '<tool_call>\n{"name": "requests.get", "arguments": {"url": "https://x"}}\n<tool_call>',  # cut off
    "<tool_call>requests.get(url='https://x')</tool_call>",
])
def test_no_call_reference_rejects_broken_tool_call_markup(output):
    # Markup that starts a tool call is an attempted call even when it does not decode.
    tools, _ = bfcl("live_irrelevance", "live_irrelevance_0-0-0")
    result = check(tools, [], output, reference_kind="no_call")
    assert_fails(result, ErrorType.PARSING_ERROR, "irrelevance:broken_call")


# --- parsing errors ----------------------------------------------------------------------

@pytest.mark.parametrize("output, code", [
    ("Sure! [get_current_weather(location='Mariposa, CA', unit='celsius')] hope it helps", "decode:not_json_or_python"),
    ('[{"name": "get_current_weather", "arguments": {"location": "Mariposa, CA"', "decode:not_json_or_python"),
    ("42", "decode:not_a_call_list"),
    ('["get_current_weather", "Mariposa, CA"]', "decode:not_a_call_list"),
    ("I don't know.", "decode:not_json_or_python"),
])
def test_undecodable_output_is_a_parsing_error(output, code):
    tools, reference = bfcl("live_simple", "live_simple_10-3-6")
    assert_fails(check(tools, reference, output), ErrorType.PARSING_ERROR, code)


def test_a_single_call_object_is_a_parsing_error_unless_decoding_is_lenient():
    tools, reference = bfcl("live_simple", "live_simple_10-3-6")
    [expected] = first_choice(reference)
    single = json.dumps(expected)
    assert_fails(check(tools, reference, single), ErrorType.PARSING_ERROR, "decode:not_a_list")
    assert_fails(check(tools, reference, expected), ErrorType.PARSING_ERROR, "decode:not_a_list")
    assert check(tools, reference, single, decoding="lenient").correct
    assert check(tools, reference, f"[{single}]").correct
    # Where no call is right, a single call object is still a call.
    tools, _ = bfcl("live_irrelevance", "live_irrelevance_0-0-0")
    result = check(tools, [], single, reference_kind="no_call")
    assert_fails(result, ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS, "irrelevance:called_a_tool")


# --- malformed inputs -------------------------------------------------------------------

def test_malformed_reference_or_tools_raise_value_error():
    tools, reference = bfcl("live_simple", "live_simple_10-3-6")
    candidate = first_choice(reference)
    with pytest.raises(ValueError):
        check(tools, [call("not_a_tool", x=[1])], candidate)
    with pytest.raises(ValueError):
        check(tools, [call("get_current_weather", location="Paris")], candidate)   # not a list of values
    with pytest.raises(ValueError):
        check(tools, [{"get_current_weather": {"location": ["Paris"]}}], candidate)  # BFCL form, not canonical
    with pytest.raises(ValueError):
        check(tools, reference, candidate, reference_kind="maybe")
    with pytest.raises(ValueError):
        check(tools, reference, candidate, reference_kind="no_call")
    with pytest.raises(ValueError):
        check("tools", reference, candidate)


# --- error taxonomy ----------------------------------------------------------------------

def test_error_types_labels_and_counts():
    assert len(ErrorType) == 8 and set(FC_REWARDBENCH_COUNTS) == set(ErrorType)
    assert sum(FC_REWARDBENCH_COUNTS.values()) == 1500
    assert FC_REWARDBENCH_COUNTS[ErrorType.PARAMETER_VALUE_ERROR] == 650
    assert ErrorType.PARAMETER_VALUE_ERROR.label == "Parameter value error"
    assert ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS.label == "Incorrect number of function calls"
    assert ErrorType.PARAMETER_VALUE_TYPE_ERROR.value == "parameter_value_type_error"


@pytest.mark.parametrize("text", ["Parameter value type error", "parameter_value_type_error",
                                  "PARAMETER VALUE TYPE ERROR", " parameter-value-type_error "])
def test_error_type_from_label_is_loose(text):
    assert ErrorType.from_label(text) is ErrorType.PARAMETER_VALUE_TYPE_ERROR


def test_error_type_from_unknown_label_raises():
    with pytest.raises(ValueError):
        ErrorType.from_label("Parameter value")


# --- fuzz -----------------------------------------------------------------------------

FUZZ_TOOL = normalize_tool("f.g", None, {
    "type": "dict", "required": ["a"],
    "properties": {"a": {"type": "integer"}, "b": {"type": "float"}, "c": {"type": "array", "items": {"type": "string"}},
                   "d": {"type": "dict"}, "e": {"type": "any"},
                   "h": {"type": "array", "items": {"type": "dict"}}},
})
FUZZ_REFERENCE = [{"name": "f.g", "arguments": {"a": [1], "b": ["", 2.0], "c": [["x"]], "d": [{"k": ["v", ""]}],
                                                "e": ["s"], "h": ["", [{"k": [1]}]]}}]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=20,
)
call_like = st.fixed_dictionaries({"name": st.sampled_from(["f.g", "f_g", "x"]),
                                   "arguments": st.dictionaries(st.sampled_from("abcdehz"), json_values, max_size=6)})
fragments = st.lists(st.sampled_from(["[", "]", "(", ")", "{", "}", "f.g(", "a=", "1", "-", "**", "'x'", ",", ":",
                                      '"name"', '"arguments"', "<tool_call>", "</tool_call>", "```", "\n", " ",
                                      "lambda", "True", "None", "(1, 2)", "{1}"]), max_size=25).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), fragments, json_values, json_values.map(json.dumps),
                 st.lists(call_like, max_size=3), st.lists(call_like, max_size=3).map(json.dumps)))
def test_check_never_raises_on_any_candidate(candidate):
    for reference, kind in ((FUZZ_REFERENCE, "call"), ([], "no_call")):
        result = check([FUZZ_TOOL], reference, candidate, reference_kind=kind)
        assert isinstance(result, CheckResult)
        assert result.correct == (result.error_type is None)
        assert result.correct == (result.code == "ok")
