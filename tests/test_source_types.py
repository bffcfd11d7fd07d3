"""Java and JavaScript answers: calls read as source text, values typed by the spec (one test per rule)."""
from __future__ import annotations

import pytest

from toolrm_beam.schemas.decoding import DecodeError
from toolrm_beam.schemas.source_text import decode_source_calls, split_top_level, string_literal
from toolrm_beam.schemas.source_types import (SourceTypeError, json_schema_spec, schema_type, typed_calls,
                                              typed_value)


def java(text, declared, items=None):
    return typed_value("java", text, declared, items)


def js(text, declared, items=None):
    return typed_value("javascript", text, declared, items)


# --- reading source text -----------------------------------------------------

def test_split_respects_brackets_and_quoted_literals():
    assert split_top_level('a, f(b, c), "d, e", [1, 2], {k: "x,y"}') == \
        ["a", "f(b, c)", '"d, e"', "[1, 2]", '{k: "x,y"}']


def test_string_literal_content_with_escapes():
    assert string_literal('"a \\"b\\" c"') == 'a "b" c'
    assert string_literal("'x'") == "x" and string_literal("`t`") == "t"
    assert string_literal('"a" + "b"') is None and string_literal("name") is None


def test_source_calls_keep_values_as_text():
    text = '[Foo.bar(limit=50L, flag=true, names=new ArrayList<String>(Arrays.asList("a", "b")), s="x, y")]'
    assert decode_source_calls(text) == [{"name": "Foo.bar", "arguments": {
        "limit": "50L", "flag": "true", "names": 'new ArrayList<String>(Arrays.asList("a", "b"))', "s": "x, y"}}]


def test_source_calls_rejoin_commas_inside_generics():
    text = 'f(m=new HashMap<String, Object>() {{ put("a", 1); }}, n=2)'
    assert decode_source_calls(text)[0]["arguments"] == {
        "m": 'new HashMap<String, Object>() {{ put("a", 1); }}', "n": "2"}


def test_source_calls_separated_by_semicolons_without_brackets():
    assert [c["name"] for c in decode_source_calls("a.b(x='1'); c(y=2);")] == ["a.b", "c"]


def test_source_calls_unescape_markdown_underscores():
    assert decode_source_calls("[f(node\\_type=Element.class)]") == [
        {"name": "f", "arguments": {"node_type": "Element.class"}}]


@pytest.mark.parametrize("text", ["Sure, call f(a=1)", '{"name": "f"}', "f(a=(1)", "f(a='x)"])
def test_text_that_is_not_source_calls_is_a_decode_error(text):
    with pytest.raises(DecodeError):
        decode_source_calls(text)


# --- Java -----------------------------------------------------------------------

def test_java_integer_types_need_plain_digits():
    assert java("42", "integer") == 42 and java("-3", "short") == -3 and java("7", "byte") == 7
    assert java("42L", "integer") == "42L" and java("4.0", "integer") == "4.0"


def test_java_long_needs_the_l_suffix():
    assert java("50L", "long") == 50 and java("-9l", "long") == -9
    assert java("50", "long") == "50"  # BFCL's rule: a long literal carries its suffix


def test_java_float_needs_the_f_suffix_and_double_does_not():
    assert java("3.14f", "float") == 3.14 and java("3e3F", "float") == 3000.0
    assert java("3.14", "float") == "3.14"
    assert java("3.14", "double") == 3.14 and java("2e-3", "double") == 0.002 and java("1.5d", "double") == 1.5
    assert java("3.14f", "double") == "3.14f"


def test_java_boolean_is_lower_case_true_or_false():
    assert java("true", "boolean") is True and java("false", "boolean") is False
    assert java("True", "boolean") == "True" and java("yes", "boolean") == "yes"


def test_java_char_string_and_any_stay_text():
    assert java("c", "char") == "c" and java("mapController", "String") == "mapController"
    assert java("new Path('/x')", "any") == "new Path('/x')"


def test_java_array_creation():
    assert java('new String[]{"a", "b,c"}', "Array", "String") == ["a", "b,c"]
    assert java("new int[] {1, 2, 3}", "Array", "integer") == [1, 2, 3]
    assert java("new Object[]{1, \"x\", true}", "Array") == [1, "x", True]
    assert java("new int[]{}", "Array", "integer") == []
    assert java('["a", "b"]', "Array", "String") == '["a", "b"]'  # not Java: stays text


def test_java_arraylist_forms():
    assert java('new ArrayList<>(Arrays.asList("a", "b"))', "ArrayList", "String") == ["a", "b"]
    assert java("new ArrayList<Long>(Arrays.asList(1L, 2L))", "ArrayList", "long") == [1, 2]
    assert java('new ArrayList<String>() {{ add("x"); add("y"); }}', "ArrayList", "String") == ["x", "y"]
    assert java("new ArrayList<>()", "ArrayList") == []
    assert java("Arrays.asList(1, 2)", "ArrayList") == "Arrays.asList(1, 2)"


def test_java_hashmap_forms():
    text = 'new HashMap<String, Object>() {{ put("limit", 50); put("name", "x"); put("on", true); }}'
    assert java(text, "HashMap") == {"limit": 50, "name": "x", "on": True}
    assert java("new HashMap<>()", "HashMap") == {} and java("new HashMap<>() {{ }}", "HashMap") == {}
    assert java("{limit=50, schema=public}", "HashMap") == "{limit=50, schema=public}"


def test_java_types_map_to_json_schema():
    assert [schema_type("java", t) for t in ("long", "double", "boolean", "String", "ArrayList", "HashMap", "any")] \
        == ["integer", "number", "boolean", "string", "array", "object", None]


def test_unknown_declared_type_is_an_error_not_a_guess():
    with pytest.raises(SourceTypeError) as info:
        java("x", "Queue")
    assert info.value.reason == "unsupported_source_type"
    with pytest.raises(SourceTypeError):
        json_schema_spec("java", {"name": "f", "parameters": {"type": "dict", "properties": {"q": {"type": "Set"}}}})


# --- JavaScript -------------------------------------------------------------------

def test_js_string_loses_one_layer_of_quotes():
    assert js("'userInputField'", "String") == "userInputField" and js("plain", "String") == "plain"
    assert js("\"'both'\"", "String") == "'both'"


def test_js_numbers():
    assert js("5", "integer") == 5 and js("5.5", "integer") == "5.5"
    assert js("4", "float") == 4.0 and js("4.25", "float") == 4.25 and js("abc", "float") == "abc"
    assert js("12n", "Bigint") == 12 and js("12", "Bigint") == "12"


def test_js_boolean():
    assert js("true", "Boolean") is True and js("false", "Boolean") is False and js("TRUE", "Boolean") == "TRUE"


def test_js_arrays():
    assert js("['completed', 'failed']", "array", "String") == ["completed", "failed"]
    assert js("[60, 30]", "array", "float") == [60.0, 30.0]
    assert js("new Array(1, 2)", "array") == [1, 2]
    assert js("[a, 'b', 3, [4]]", "array") == ["a", "b", 3, [4]]
    assert js("notAnArray", "array") == "notAnArray"


def test_js_object_literal():
    text = "{initialState: initialStateObject, 'reducers': reducersMap, middlewares: [loggerMiddleware], n: 2}"
    assert js(text, "dict") == {"initialState": "initialStateObject", "reducers": "reducersMap",
                                "middlewares": ["loggerMiddleware"], "n": 2}
    assert js('{"a": {"b": null}}', "dict") == {"a": {"b": None}}
    assert js("{}", "dict") == {} and js("config", "dict") == "config"


def test_js_any_stays_text():
    assert js("React.createContext()", "any") == "React.createContext()"


def test_typed_values_are_kept_as_given():
    assert java(True, "boolean") is True and js([1, 2], "array", "integer") == [1, 2]


def test_nested_unknown_types_leave_the_key_untyped():
    spec = {"name": "f", "parameters": {"type": "dict", "properties": {
        "options": {"type": "dict", "properties": {"issuer": {"type": ""}, "role": {"type": "String"}}}}}}
    options = json_schema_spec("javascript", spec)["parameters"]["properties"]["options"]
    assert options == {"type": "object", "properties": {"issuer": {}, "role": {"type": "string"}}}


def test_typed_calls_find_the_spec_by_dotted_or_underscored_name():
    spec = {"name": "a.b", "parameters": {"type": "dict", "properties": {"n": {"type": "long"}}}}
    calls = [{"name": "a_b", "arguments": {"n": "3L"}}, {"name": "zz", "arguments": {"n": "3L"}}]
    assert typed_calls("java", calls, [spec]) == [{"name": "a_b", "arguments": {"n": 3}},
                                                  {"name": "zz", "arguments": {"n": "3L"}}]
