"""Canonical records and tool-spec normalization."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from jsonschema import Draft202012Validator

from toolrm_beam.schemas.records import (CANDIDATE_JSON_SCHEMA, EXAMPLE_JSON_SCHEMA, acceptable_values, from_row,
                             make_example, make_example_id, reference_call, reference_from_bfcl, to_row)
from toolrm_beam.schemas.tool_spec import ToolSpecError, normalize_tool, parse_type_annotation, properties_schema
from toolrm_beam.schemas.validation import ValidationError, validate_example

WEATHER = {"type": "dict", "required": ["location"], "properties": {
    "location": {"type": "string"},
    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    "days": {"type": "integer"},
    "ratio": {"type": "float"},
    "point": {"type": "tuple", "items": {"type": "float"}},
    "extra": {"type": "any"},
    "headers": {"type": "dict", "properties": {"Accept": {"type": "string"}}},
}}


def test_bfcl_dialect_normalizes_to_json_schema():
    tool = normalize_tool("get_weather", "Weather", WEATHER)
    props = tool["parameters"]["properties"]
    assert tool["parameters"]["type"] == "object"
    assert props["ratio"] == {"type": "number"}
    assert props["point"] == {"type": "array", "items": {"type": "number"}}
    assert props["extra"] == {}
    assert props["headers"]["type"] == "object"
    Draft202012Validator.check_schema(tool["parameters"])


@pytest.mark.parametrize("annotation, fragment, optional", [
    ("str", {"type": "string"}, False),
    ("int", {"type": "integer"}, False),
    ("float", {"type": "number"}, False),
    ("list", {"type": "array"}, False),
    ("dict", {"type": "object"}, False),
    ("bool", {"type": "boolean"}, False),
    ("List[str]", {"type": "array", "items": {"type": "string"}}, False),
    ("str, optional", {"type": "string"}, True),
    ("int, default 10", {"type": "integer"}, True),
    ("Optional[float]", {"type": "number"}, True),
    ("Dict[str, int]", {"type": "object", "additionalProperties": {"type": "integer"}}, False),
])
def test_python_type_annotations(annotation, fragment, optional):
    assert parse_type_annotation(annotation) == (fragment, optional)


def test_flat_property_maps_infer_required():
    schema = properties_schema({"query": {"type": "str"}, "limit": {"type": "int, optional"},
                                "page": {"type": "int", "default": 1}})
    assert schema["required"] == ["query"]
    assert schema["properties"]["limit"] == {"type": "integer"}


def test_invalid_specs_are_rejected_with_the_reason():
    with pytest.raises(ToolSpecError, match="blob"):
        normalize_tool("f", "", {"type": "object", "properties": {"a": {"type": "blob"}}})
    with pytest.raises(ToolSpecError, match="not defined in properties"):
        normalize_tool("f", "", {"type": "object", "properties": {}, "required": ["a"]})
    with pytest.raises(ToolSpecError, match="regex"):
        normalize_tool("f", "", {"type": "object", "properties": {"a": {"type": "string", "pattern": "([a-"}}})
    # ECMA-262 patterns that Python's re rejects are valid JSON Schema (ACEBench has one).
    normalize_tool("f", "", {"type": "object", "properties": {"a": {"type": "string",
                                                                      "pattern": r"^[\w-\.]+@([\w-]+\.)+[\w-]{2,4}$"}}})


def test_example_id_is_stable_across_processes():
    here = make_example_id("bfcl", "live_simple", "live_simple_0-0-0")
    code = "from toolrm_beam.schemas.records import make_example_id; print(make_example_id('bfcl','live_simple','live_simple_0-0-0'))"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=".").stdout.strip()
    assert here == there
    assert here != make_example_id("bfcl", "live_multiple", "live_simple_0-0-0")


def _example(**overrides):
    tool = normalize_tool("get_weather", "Weather", WEATHER)
    fields = dict(source="bfcl", split="live_simple", upstream_id="x1", tools=[tool], original_tools=[WEATHER],
                  messages=[{"role": "user", "content": "Weather in Paris?"}],
                  reference=[reference_call("get_weather", {"location": "Paris"})], license="Apache-2.0")
    fields.update(overrides)
    return make_example(**fields)


def test_example_round_trips_and_validates():
    example = _example()
    Draft202012Validator(EXAMPLE_JSON_SCHEMA).validate(example)
    row = to_row(example)
    assert isinstance(row["tools"], str) and json.loads(row["reference"]) == example["reference"]
    assert from_row(row) == example
    validate_example(example)
    Draft202012Validator.check_schema(CANDIDATE_JSON_SCHEMA)


def test_validation_rejects_unusable_references():
    with pytest.raises(ValidationError) as error:
        validate_example(_example(reference=[reference_call("no_such_tool", {})]))
    assert error.value.reason == "unknown_tool_in_reference"
    with pytest.raises(ValidationError) as error:
        validate_example(_example(reference=[reference_call("get_weather", {"city": "Paris"})]))
    assert error.value.reason == "unknown_parameter_in_reference"
    with pytest.raises(ValidationError) as error:
        validate_example(_example(reference_kind="no_call"))  # no_call must have an empty reference
    assert error.value.reason == "invalid_record"


def test_content_hash_ignores_provenance():
    assert _example()["content_hash"] == _example(source="other", split="dev", upstream_id="y")["content_hash"]
    assert _example()["content_hash"] != _example(messages=[{"role": "user", "content": "Rome?"}])["content_hash"]


def test_acceptable_values_follow_bfcl_form():
    assert acceptable_values(3) == [3]
    assert acceptable_values({"week": "Spring", "year": 2022}) == [{"week": ["Spring"], "year": [2022]}]
    assert acceptable_values([{"a": 1}, {"a": 2}]) == [[{"a": [1]}, {"a": [2]}]]
    assert acceptable_values(["x", "y"]) == [["x", "y"]]
    assert reference_from_bfcl([{"f": {"a": [1, ""]}}]) == [{"name": "f", "arguments": {"a": [1, ""]}}]
    with pytest.raises(ValueError):
        reference_from_bfcl([{"f": {"a": 1}}])


def test_candidate_with_models_and_upstream_verdict_round_trips_through_parquet():
    import pyarrow as pa

    from toolrm_beam.beam_pipelines.common import candidate_row
    from toolrm_beam.schemas.records import (CANDIDATE_ARROW_SCHEMA, CANDIDATE_JSON_FIELDS,
                                             CANDIDATE_SCHEMA_VERSION, collapse_candidates, make_candidate)

    output = [{"name": "f", "arguments": {"a": 1}}]
    answers = [make_candidate("bfcl_results:0123456789abcdef", output, f"model:{m}", correct=False,
                              error_type="parameter_value_error", models=[m], upstream_correct=False,
                              upstream_error_type=e)
               for m, e in (("b", "value_error:string"), ("a", "value_error:others"), ("c", "value_error:string"))]
    merged = collapse_candidates(answers)
    assert merged["origin"] == "model:a" and merged["models"] == ["a", "b", "c"]
    assert merged["upstream_correct"] is False and merged["upstream_error_type"] == "value_error:string"
    mixed = collapse_candidates([answers[0], {**answers[1], "upstream_correct": True, "upstream_error_type": None}])
    assert mixed["upstream_correct"] is None and mixed["upstream_error_type"] is None
    Draft202012Validator(CANDIDATE_JSON_SCHEMA).validate(merged)
    table = pa.Table.from_pylist([candidate_row(merged)], schema=CANDIDATE_ARROW_SCHEMA)
    back = from_row(table.to_pylist()[0], CANDIDATE_JSON_FIELDS)
    assert {k: back[k] for k in ("output", "models", "upstream_correct", "upstream_error_type", "origin")} == \
        {k: merged[k] for k in ("output", "models", "upstream_correct", "upstream_error_type", "origin")}
    assert CANDIDATE_ARROW_SCHEMA.metadata[b"toolrm.schema_version"].decode() == CANDIDATE_SCHEMA_VERSION == "1.2"
