"""decode_calls: one test per accepted form, per value kind and per failure."""
from __future__ import annotations

import json

import pytest

from toolrm_beam.schemas.decoding import MAX_OUTPUT_CHARS, DecodeError, decode_calls


def call(name, /, **arguments):
    return {"name": name, "arguments": arguments}


def decode_error(output) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_calls(output)
    return info.value


# --- 1. JSON {name, arguments} -------------------------------------------

def test_json_list_of_name_arguments():
    text = '[{"name": "log_food", "arguments": {"food_name": "chai tea", "portion_amount": 1.0}}]'
    assert decode_calls(text) == [call("log_food", food_name="chai tea", portion_amount=1.0)]


def test_json_arguments_given_as_json_string():
    text = json.dumps([{"name": "f", "arguments": json.dumps({"a": 1, "b": [1, 2]})}])
    assert decode_calls(text) == [call("f", a=1, b=[1, 2])]


def test_json_parameters_key_is_accepted_as_arguments():
    assert decode_calls('[{"name": "f", "parameters": {"a": "x"}}]') == [call("f", a="x")]


@pytest.mark.parametrize("output", ['{"name": "f", "arguments": {"a": 1}}', {"name": "f", "arguments": {"a": 1}},
                                    "{'name': 'f', 'arguments': {'a': 1}}", '{"f": {"a": 1}}',
                                    '{"type": "function", "function": {"name": "f", "arguments": "{\\"a\\": 1}"}}'])
def test_single_call_object_is_not_a_list_by_default_and_one_call_when_lenient(output):
    # docs/tool-call-correctness.md: output that decodes but is not a list of calls is a parsing error.
    assert decode_error(output).code == "decode:not_a_list"
    assert decode_calls(output, "lenient") == [call("f", a=1)]


def test_unknown_decoding_mode_is_refused():
    with pytest.raises(ValueError, match="unknown decoding"):
        decode_calls("[]", "loose")


def test_json_call_without_arguments_has_empty_arguments():
    assert decode_calls('[{"name": "get_time"}]') == [call("get_time")]


# --- 2. OpenAI tool_calls ---------------------------------------------------

OPENAI_TOOL_CALLS = [
    {"id": "call_1", "type": "function", "function": {"name": "get_current_weather",
                                                      "arguments": "{\"location\": \"Boston, MA\"}"}},
    {"id": "call_2", "type": "function", "function": {"name": "get_current_weather",
                                                      "arguments": "{\"location\": \"San Francisco, CA\"}"}},
]


def test_openai_tool_calls_list():
    assert decode_calls(json.dumps(OPENAI_TOOL_CALLS)) == [
        call("get_current_weather", location="Boston, MA"),
        call("get_current_weather", location="San Francisco, CA"),
    ]


def test_openai_assistant_message():
    message = {"role": "assistant", "content": None, "tool_calls": OPENAI_TOOL_CALLS[:1]}
    assert decode_calls(json.dumps(message)) == [call("get_current_weather", location="Boston, MA")]
    assert decode_calls(message) == [call("get_current_weather", location="Boston, MA")]


@pytest.mark.parametrize("message", [
    {"role": "assistant", "content": "I cannot help with that."},
    {"role": "assistant", "content": "No tool fits.", "tool_calls": None},
    {"role": "assistant", "content": "", "tool_calls": []},
])
def test_openai_message_without_tool_calls_is_no_call(message):
    assert decode_calls(json.dumps(message)) == []


def test_openai_empty_arguments_string_is_no_arguments():
    item = {"id": "c", "type": "function", "function": {"name": "get_time", "arguments": ""}}
    assert decode_calls([item]) == [call("get_time")]


# --- 3. keyed by function name ---------------------------------------------

def test_dict_keyed_by_function_name_when_lenient():
    assert decode_calls('{"math_gcd": {"a": 48, "b": 36}}', "lenient") == [call("math_gcd", a=48, b=36)]


def test_bfcl_list_of_keyed_dicts():
    text = '[{"math_gcd": {"a": 48, "b": 36}}, {"estimate_derivative": {"function": "lambda x: x**2", "x": 5.0}}]'
    assert decode_calls(text) == [call("math_gcd", a=48, b=36),
                                  call("estimate_derivative", function="lambda x: x**2", x=5.0)]


# --- 4. Python call syntax --------------------------------------------------

def test_python_call_list():
    assert decode_calls('[get_weather(city="Paris", days=3), get_time(zone="CET")]') == [
        call("get_weather", city="Paris", days=3), call("get_time", zone="CET")]


def test_python_single_call_without_brackets():
    assert decode_calls("get_weather(city='Paris')") == [call("get_weather", city="Paris")]


def test_python_dotted_name():
    assert decode_calls("[math.factorial(n=5)]") == [call("math.factorial", n=5)]
    assert decode_calls("[ChaDri.change_drink(drink_id='latte')]") == [call("ChaDri.change_drink", drink_id="latte")]


def test_python_missing_bracket_is_added_as_bfcl_does():
    assert decode_calls("[f(a=1)") == [call("f", a=1)]
    assert decode_calls("f(a=1), g(b=2)") == [call("f", a=1), call("g", b=2)]


def test_python_positional_arguments_are_ignored_as_bfcl_does():
    assert decode_calls("[f(1, 2, a=3)]") == [call("f", a=3)]


def test_python_constants_and_negative_numbers():
    assert decode_calls("[f(s='x', i=-3, x=-2.5, t=True, n=None, e=...)]") == [
        call("f", s="x", i=-3, x=-2.5, t=True, n=None, e="...")]


def test_python_containers():
    (decoded,) = decode_calls("[f(l=[1, 'a'], t=(1.0, 2.0), d={'k': [1]}, s={3})]")
    assert decoded["arguments"] == {"l": [1, "a"], "t": (1.0, 2.0), "d": {"k": [1]}, "s": [3]}
    assert type(decoded["arguments"]["t"]) is tuple  # kept so the checker can accept tuple-as-array


def test_python_bare_name_becomes_its_identifier():
    assert decode_calls("[f(unit=celsius, x=my_var)]") == [call("f", unit="celsius", x="my_var")]


def test_python_nested_call_becomes_source_text():
    assert decode_calls("[f(when=datetime.now(), d=g(x=1))]") == [call("f", when="datetime.now()", d="g(x=1)")]


def test_python_arithmetic_on_numbers_is_computed():
    assert decode_calls("[f(a=2**10, b=7//2, c=1/4, d=10 % 3, e=-(2*3)+1, g=3-0.5)]") == [
        call("f", a=1024, b=3, c=0.25, d=1, e=-5, g=2.5)]


@pytest.mark.parametrize("source, text", [
    ("9**9**9", "9 ** 9 ** 9"),           # exponent out of bounds: not computed
    ("1/0", "1 / 0"),
    ("'a' * 3", "'a' * 3"),               # only numbers are computed
    ("lambda x: x**2", "lambda x: x ** 2"),
    ("obj.attr", "obj.attr"),
    ("xs[0]", "xs[0]"),
    ("True + 1", "True + 1"),             # bools are not numbers here
])
def test_python_other_expressions_become_source_text(source, text):
    assert decode_calls(f"[f(a={source})]") == [call("f", a=text)]


def test_python_is_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    output = f"[f(a=__import__('os').system('touch {marker}'), b=open('{marker}', 'w'))]"
    (decoded,) = decode_calls(output)
    assert decoded["arguments"]["a"] == f"__import__('os').system('touch {marker}')"
    assert isinstance(decoded["arguments"]["b"], str)
    assert not marker.exists()


def test_python_dict_literal_calls():
    assert decode_calls("[{'name': 'f', 'arguments': {'a': True}}]") == [call("f", a=True)]


# --- 5. Hermes / Qwen <tool_call> blocks -------------------------------------

def test_hermes_tool_call_blocks():
    text = ('<tool_call>\n{"name": "get_current_weather", "arguments": {"location": "Boston, MA"}}\n</tool_call>\n'
            '<tool_call>\n{"name": "get_current_weather", "arguments": {"location": "San Francisco, CA"}}\n</tool_call>')
    assert decode_calls(text) == [call("get_current_weather", location="Boston, MA"),
                                  call("get_current_weather", location="San Francisco, CA")]


def test_hermes_content_before_the_blocks_is_ignored():
    text = 'Let me check.\n<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>'
    assert decode_calls(text) == [call("f", a=1)]


def test_tool_call_tag_inside_a_json_string_is_just_text():
    assert decode_calls('[{"name": "f", "arguments": {"a": "<tool_call>"}}]') == [call("f", a="<tool_call>")]


def test_hermes_unclosed_block_is_an_error():
    assert decode_error('<tool_call>{"name": "f", "arguments": {"a": 1}}').code == "decode:unclosed_tool_call"


def test_hermes_block_that_is_not_json_is_an_error():
    assert decode_error("<tool_call>f(a=1)</tool_call>").code == "decode:bad_tool_call"


def test_tool_call_block_written_as_a_python_dict():
    text = "<tool_call>\n{\"arguments\": {'a': 1, 'b': True}, \"name\": 'f'}\n</tool_call>"
    assert decode_calls(text) == [call("f", a=1, b=True)]


def test_granite_function_call_blocks():
    text = '<function_call> {"name": "f", "arguments": {"a": 1}} <function_call> {"name": "g", "arguments": {}}'
    assert decode_calls(text) == [call("f", a=1), call("g")]
    assert decode_error("<function_call> f(a=1)").code == "decode:bad_function_call"


# --- BFCL's dumps of real answers ------------------------------------------------

def test_function_calling_dump_keyed_by_name_with_json_text_arguments():
    output = [{"calc": '{"n": 10, "k": 3}'}, {"calc": '{"n": 15, "k": 5}'}]
    assert decode_calls(output) == [call("calc", n=10, k=3), call("calc", n=15, k=5)]
    assert decode_calls(json.dumps(output)) == [call("calc", n=10, k=3), call("calc", n=15, k=5)]


def test_semicolon_separated_call_statements():
    assert decode_calls("f(a=1); g.h(b='x');") == [call("f", a=1), call("g.h", b="x")]
    assert decode_calls("f(a=1);") == [call("f", a=1)]


def test_quoted_calls_in_a_list():
    assert decode_calls(['f(a=1)', 'g(b=2), h(c=3)']) == [call("f", a=1), call("g", b=2), call("h", c=3)]
    assert decode_calls("['f(a=1)']") == [call("f", a=1)]


def test_markdown_escaped_underscores_in_names():
    assert decode_calls("[get\\_weather(city\\_name='Paris')]") == [call("get_weather", city_name="Paris")]


def test_name_line_then_json_arguments():
    assert decode_calls('book_room\n{"room": "king", "nights": 2}') == [call("book_room", room="king", nights=2)]


@pytest.mark.parametrize("text", [
    "[f(a=1)]\n\nThis call computes the answer for you.",
    "```python\n[f(a=1)]\n```\nThe call above does it.",
])
def test_a_call_followed_by_commentary_stays_a_parse_error(text):
    assert decode_error(text).code == "decode:not_json_or_python"


# --- 6. code fences ---------------------------------------------------------

@pytest.mark.parametrize("text", [
    '```json\n[{"name": "f", "arguments": {"a": 1}}]\n```',
    '```\n[{"name": "f", "arguments": {"a": 1}}]\n```',
    "```python\n[f(a=1)]\n```",
    "`f(a=1)`",
    "\n\n  [f(a=1)]  \n",
])
def test_code_fence_and_surrounding_whitespace_are_stripped(text):
    assert decode_calls(text) == [call("f", a=1)]


# --- no call ------------------------------------------------------------------

@pytest.mark.parametrize("output", ["", "   \n", "[]", "null", "```json\n[]\n```", None, []])
def test_empty_outputs_are_no_call(output):
    assert decode_calls(output) == []


# --- already-decoded objects --------------------------------------------------

def test_already_decoded_calls_are_accepted():
    calls = [call("f", a=(1, 2), b={"k": "v"})]
    assert decode_calls(calls) == calls


def test_already_decoded_value_that_is_not_json_like_is_rejected():
    assert decode_error([call("f", a=object())]).code == "decode:bad_arguments"


# --- failures ----------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Sure! [f(a=1)] hope it helps",
    "I'd call f(a=1) for that.",
    "f(a=1)\ng(b=2)",
])
def test_prose_around_a_call_is_a_parse_error(text):
    assert decode_error(text).code == "decode:not_json_or_python"


@pytest.mark.parametrize("text", [
    '[{"name": "f", "arguments": {"a": 1}}',          # "]" added as BFCL does, still not calls
    '[{"name": "f", "arguments": {"a": ',
    '{"name": "f", "arguments": {"a": 1}',
])
def test_truncated_json_is_a_parse_error(text):
    assert decode_error(text).code == "decode:not_json_or_python"


@pytest.mark.parametrize("output", ["42", '["a", "b"]', '"f(a=1)"', "[[f(a=1)]]", "Paris",
                                    '[{"name": "f", "city": "Paris"}]', "f()(a=1)", [1, 2], '[{"foo": 1}]'])
def test_decodes_but_is_not_a_call_list(output):
    assert decode_error(output).code == "decode:not_a_call_list"


@pytest.mark.parametrize("output", ['[{"name": "f", "arguments": {"a": "\\ud83d"}}]', '[f(a="\\ud83d")]',
                                    '[{"name": "f", "arguments": {"\\udc00": 1}}]', "[f(a=1)] \ud83d"])
def test_unpaired_surrogates_are_not_text(output):
    assert decode_error(output).code == "decode:bad_text"


def test_arguments_string_that_is_not_json():
    assert decode_error('[{"name": "f", "arguments": "{a: 1"}]').code == "decode:bad_arguments_json"


def test_arguments_json_that_is_not_an_object():
    assert decode_error('[{"name": "f", "arguments": "[1, 2]"}]').code == "decode:bad_arguments_json"


def test_arguments_that_are_not_an_object():
    assert decode_error('[{"name": "f", "arguments": [1, 2]}]').code == "decode:bad_arguments"


def test_decode_error_is_a_value_error_with_code_and_message():
    error = decode_error("42")
    assert isinstance(error, ValueError)
    assert error.code == "decode:not_a_call_list" and error.message and error.code in str(error)


# --- bounds --------------------------------------------------------------------

def test_oversized_output_is_rejected_before_parsing():
    assert decode_error("[f(a='" + "x" * MAX_OUTPUT_CHARS + "')]").code == "decode:too_large"


@pytest.mark.parametrize("text", [
    "[" * 100_000,
    '[{"name": "f", "arguments": {"a": ' + "[" * 5_000 + "]" * 5_000 + "}}]",
    "[f(a=" + "[" * 150 + "]" * 150 + ")]",
    "[f(a=" + "-" * 50_000 + "1)]",
])
def test_deep_nesting_is_a_decode_error_not_a_crash(text):
    assert decode_error(text).code in ("decode:too_deep", "decode:not_json_or_python")
