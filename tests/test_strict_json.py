"""Strict corpus JSON and the `$ref` checks of tool schemas: the pure functions ingest relies on."""
from __future__ import annotations

import pytest

from toolrm_beam.schemas import strict_json
from toolrm_beam.schemas.json_schema import ref_problem
from toolrm_beam.transforms.read_rows import iter_file_rows


@pytest.mark.parametrize("text, reason", [
    ('{"a": NaN}', "non_standard_json_constant"), ('[Infinity]', "non_standard_json_constant"),
    ('{"a": {"b": -Infinity}}', "non_standard_json_constant"), ('[1e999]', "non_finite_number"),
    ('{"a": 1, "a": 2}', "duplicate_key"), ('[{"k": {"x": 1, "x": 1}}]', "duplicate_key"),
    ('"\\ud83d"', "unpaired_surrogate"), ('{"\\udc00": 1}', "unpaired_surrogate"),
    ('{"a": ', "malformed_json"), ("[" * 100_000, "malformed_json"),
])
def test_what_is_not_data_is_refused_with_its_reason(text, reason):
    with pytest.raises(strict_json.StrictJSONError) as refused:
        strict_json.loads(text)
    assert refused.value.reason == reason


@pytest.mark.parametrize("text, value", [
    ('{"a": 1.5, "b": [1, "x"]}', {"a": 1.5, "b": [1, "x"]}), ('"\\ud83d\\ude00"', "\U0001F600"),
    ('{"city": "Zürich"}', {"city": "Zürich"}), ("null", None),
])
def test_data_parses_as_json_does(text, value):
    assert strict_json.loads(text) == value


def test_an_array_file_keeps_each_flawed_element_apart():
    items = strict_json.parse('[{"a": 1}, {"a": NaN}, {"b": 2, "b": 3}]')
    assert [strict_json.problem(item) and strict_json.problem(item)[0] for item in items] == [
        None, "non_standard_json_constant", "duplicate_key"]


@pytest.mark.parametrize("properties, defs, reason", [
    ({"a": {"$ref": "#"}}, None, "cyclic_ref"),
    ({"a": {"$ref": "#/properties/a"}}, None, "cyclic_ref"),
    ({"a": {"$ref": "#/$defs/x"}}, {"x": {"$ref": "#/$defs/y"}, "y": {"items": {"$ref": "#/$defs/x"}}}, "cyclic_ref"),
    ({"a": {"$ref": "https://example.invalid/s.json"}}, None, "remote_ref"),
    ({"a": {"$ref": "other.json#/x"}}, None, "remote_ref"),
    ({"a": {"$ref": "#/$defs/missing"}}, {}, "unresolvable_ref"),
    ({"a": {"$ref": "#name"}}, None, "unresolvable_ref"),
    ({"a": {"$ref": "#/$defs/x"}, "b": {"$ref": "#/$defs/x"}}, {"x": {"type": "string"}}, None),
    ({"a": {"type": "object", "properties": {"$ref": {"type": "string"}}}}, None, None),  # a parameter named $ref
])
def test_refs_must_be_local_resolvable_and_acyclic(properties, defs, reason):
    schema = {"type": "object", "properties": properties, **({"$defs": defs} if defs is not None else {})}
    found = ref_problem(schema)
    assert (found.reason if found else None) == reason


def test_a_pretty_printed_object_file_is_one_row_and_jsonl_stays_one_row_a_line(tmp_path):
    (tmp_path / "one.json").write_text('{\n  "id": 1,\n  "query": "x"\n}\n')
    assert list(iter_file_rows(str(tmp_path / "one.json"))) == [(1, {"id": 1, "query": "x"}, None)]
    (tmp_path / "flawed.json").write_text('{\n  "id": 1,\n  "id": 2\n}\n')
    [(number, _, error)] = iter_file_rows(str(tmp_path / "flawed.json"))
    assert number == 1 and error.startswith("duplicate_key")
    (tmp_path / "rows.jsonl").write_text('{"a": 1}\n{broken\n{"a": NaN}\n')
    assert [(n, e and e.split(":")[0]) for n, _, e in iter_file_rows(str(tmp_path / "rows.jsonl"))] == [
        (1, None), (2, "malformed_json"), (3, "non_standard_json_constant")]
