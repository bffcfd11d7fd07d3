"""Rule-made candidates (transforms/rules) on real examples of the bundled samples:
the reference passes its own check, every negative is wrong in the way its
label says, each family makes its own error type plausibly, selection is
deterministic and follows the mix, obfuscation keeps every verdict."""
from __future__ import annotations

import collections
import json
import os
import pathlib
import re
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from toolrm_beam.schemas import records
from toolrm_beam.schemas.adapters import AdaptError, get_adapter
from toolrm_beam.schemas.checker import check
from toolrm_beam.schemas.decoding import DecodeError, decode_calls
from toolrm_beam.schemas.errors import FC_REWARDBENCH_COUNTS, ErrorType
from toolrm_beam.transforms.rules import (DEFAULT_MIX, generate_rule_candidates, is_schema_valid, obfuscate,
                              reference_candidate)
from toolrm_beam.transforms.rules.names import invented_names

ROOT = pathlib.Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
CANDIDATE_KEYS = {"example_id", "candidate_id", "output", "origin", "correct", "error_type",
                  "detail", "schema_valid", "score", "scorer", "models", "upstream_correct",
                  "upstream_error_type"}
SEED = 7

VALUE = ErrorType.PARAMETER_VALUE_ERROR.value
NAME = ErrorType.INCORRECT_FUNCTION_NAME.value
COUNT = ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS.value
OPTIONAL = ErrorType.MISSING_OPTIONAL_PARAMETER.value
REQUIRED = ErrorType.MISSING_REQUIRED_PARAMETER.value
TYPE = ErrorType.PARAMETER_VALUE_TYPE_ERROR.value
UNEXPECTED = ErrorType.UNEXPECTED_PARAMETER.value
PARSING = ErrorType.PARSING_ERROR.value


def _open(path):
    return open(path, "rb")


def _rows(path: pathlib.Path) -> list:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_samples() -> list[dict]:
    examples = []
    for source, folder in (("seal_tools", "seal_tools"), ("acebench", "acebench_en"), ("bfcl", "bfcl_live_sample")):
        adapter = get_adapter(source)
        for path in sorted((SAMPLES / folder).glob("*")):
            if not path.is_file() or not adapter.is_data_file(str(path)):
                continue
            context = adapter.load_context(str(path), _open)
            split = adapter.split_of(str(path))
            for row in _rows(path):
                try:
                    examples.extend(adapter.adapt(row, context, split).examples)
                except AdaptError:
                    continue
    return examples


@pytest.fixture(scope="module")
def examples() -> list[dict]:
    loaded = load_samples()
    assert {e["source"] for e in loaded} == {"seal_tools", "acebench", "bfcl"}
    return loaded


@pytest.fixture(scope="module")
def by_upstream(examples) -> dict[str, dict]:
    return {e["upstream_id"]: e for e in examples}


@pytest.fixture(scope="module")
def generated(examples) -> dict[str, list[dict]]:
    return {e["example_id"]: generate_rule_candidates(e, seed=SEED) for e in examples}


def _check(example, output):
    return check(example["tools"], example["reference"], output, reference_kind=example["reference_kind"])


def _only(example, error_type, n=12):
    return generate_rule_candidates(example, seed=SEED, mix={error_type: 1.0}, max_negatives=n)


def _changes(reference_output, output):
    """(call position, param, reference value, new value) for each changed argument."""
    out = []
    for position, (ref, call) in enumerate(zip(reference_output, output)):
        for param in set(ref["arguments"]) | set(call["arguments"]):
            if ref["arguments"].get(param) != call["arguments"].get(param):
                out.append((position, param, ref["arguments"].get(param), call["arguments"].get(param)))
    return out


def _properties(example, name):
    tool = next(t for t in example["tools"] if t["name"] == name)
    return tool["parameters"].get("properties", {}), tool["parameters"].get("required", [])


# --- the reference as a candidate ------------------------------------------

def test_reference_candidate_passes_its_check_for_every_call_example(examples):
    call_examples = [e for e in examples if e["reference_kind"] == records.REFERENCE_CALL]
    assert len(call_examples) > 500
    for example in call_examples:
        candidate = reference_candidate(example)
        assert set(candidate) == CANDIDATE_KEYS
        assert candidate["origin"] == "reference" and candidate["correct"] is True
        assert candidate["error_type"] is None and candidate["score"] is None
        assert candidate["candidate_id"] == records.candidate_id(example["example_id"], candidate["output"])
        assert len(candidate["output"]) == len(example["reference"])
        result = _check(example, candidate["output"])
        assert result.correct, (example["upstream_id"], result.detail)


def test_reference_candidate_takes_first_concrete_value_and_unwraps_objects():
    example = records.make_example(
        source="unit", split="t", upstream_id="1",
        tools=[{"name": "order", "description": "", "parameters": {"type": "object", "properties": {
            "item": {"type": "string"}, "size": {"type": "string"}, "note": {"type": "string"},
            "prefs": {"type": "object", "properties": {"milk": {"type": "string"}, "sugar": {"type": "string"}}},
            "lines": {"type": "array", "items": {"type": "object"}}}}}],
        original_tools=[], messages=[{"role": "user", "content": "x"}],
        reference=[{"name": "order", "arguments": {
            "item": ["latte", "Latte"], "size": ["", "large"], "note": [""],
            "prefs": [{"milk": ["", "oat"], "sugar": [""]}],
            "lines": [[{"sku": ["A1"], "qty": [2]}, {"sku": ["B2", "b2"], "qty": [1]}]]}}])
    output = reference_candidate(example)["output"]
    assert output == [{"name": "order", "arguments": {
        "item": "latte", "size": "large", "prefs": {"milk": "oat"},
        "lines": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1}]}}]
    assert _check(example, output).correct


def test_reference_candidate_leaves_out_an_omittable_parameter_the_schema_lacks(by_upstream):
    # BFCL live_parallel_9-5-0 lists `operating_system0` (a typo), omittable.
    example = by_upstream["live_parallel_9-5-0"]
    assert any("operating_system0" in c["arguments"] for c in example["reference"])
    output = reference_candidate(example)["output"]
    assert all("operating_system0" not in call["arguments"] for call in output)
    assert _check(example, output).correct


@pytest.mark.parametrize("kind", [records.REFERENCE_NO_CALL, records.REFERENCE_CLARIFY,
                                  records.REFERENCE_FLAG_INVALID])
def test_reference_candidate_answers_in_text_where_no_call_is_right(examples, kind):
    chosen = [e for e in examples if e["reference_kind"] == kind]
    assert chosen
    for example in chosen:
        output = reference_candidate(example)["output"]
        assert isinstance(output, str) and 20 < len(output) < 600
        assert _check(example, output).correct
        detail = example["reference_detail"]
        if kind == records.REFERENCE_CLARIFY:
            assert output.rstrip().endswith("?")
            assert all(param in output for param in detail["missing_parameters"])
        elif kind == records.REFERENCE_FLAG_INVALID:
            assert all(str(v) in output for values in detail["invalid_values"].values() for v in values)
        else:
            assert output.startswith("None of the available tools can do this")


# --- negatives -------------------------------------------------------------

def test_every_negative_is_wrong_as_its_label_says(examples, generated):
    total = 0
    for example in examples:
        reference_id = reference_candidate(example)["candidate_id"]
        candidates = generated[example["example_id"]]
        assert len(candidates) <= 6
        ids = [c["candidate_id"] for c in candidates]
        assert len(ids) == len(set(ids)) and reference_id not in ids
        for candidate in candidates:
            total += 1
            assert set(candidate) == CANDIDATE_KEYS
            assert candidate["example_id"] == example["example_id"]
            assert candidate["candidate_id"] == records.candidate_id(example["example_id"], candidate["output"])
            assert candidate["correct"] is False and candidate["score"] is None and candidate["scorer"] is None
            result = _check(example, candidate["output"])
            assert not result.correct
            assert candidate["error_type"] == result.error_type.value
            assert candidate["detail"] == result.detail
            assert candidate["origin"] == f"rule:{candidate['error_type']}"
    assert total > 3000


def test_value_error_picks_another_enum_member_and_stays_schema_valid(by_upstream):
    example = by_upstream["normal_atom_enum_0"]  # region / analysisType / dataSource are enums
    reference = reference_candidate(example)["output"]
    properties, _ = _properties(example, reference[0]["name"])
    candidates = _only(example, VALUE)
    assert len(candidates) >= 3
    enum_changes = 0
    for candidate in candidates:
        assert candidate["error_type"] == VALUE
        assert is_schema_valid(example["tools"], candidate["output"])
        [(_, param, old, new)] = _changes(reference, candidate["output"])
        if "enum" in properties[param]:
            enum_changes += 1
            assert new in properties[param]["enum"] and new != old
    assert enum_changes >= 3


def test_value_error_on_a_number_is_off_by_one_or_from_the_text(by_upstream):
    example = by_upstream["test_in_domain-easy-47"]  # "End the game with ID 37."
    candidates = _only(example, VALUE)
    values = [c["output"][0]["arguments"]["game_id"] for c in candidates]
    assert values and all(type(v) is int for v in values)
    assert values[0] in (36, 38)
    assert all(is_schema_valid(example["tools"], c["output"]) for c in candidates)


def test_value_error_on_a_date_uses_the_other_date_a_neighbour_or_another_format(by_upstream):
    example = by_upstream["dev-easy-5"]  # "from November 25, 2013, to January 7, 2006"
    reference = reference_candidate(example)["output"]
    assert reference[0]["arguments"]["check_in_date"] == "2013-11-25"
    dates = [new for c in _only(example, VALUE) for _, param, _, new in _changes(reference, c["output"])
             if param == "check_in_date"]
    assert dates
    assert set(dates) <= {"2006-01-07", "2013-11-26", "2013-11-24", "11/25/2013", "2012-11-25",
                          "November 25, 2013", reference[0]["arguments"].get("check_out_date")}
    assert "2006-01-07" in dates  # the other date the user wrote


def test_value_error_in_parallel_calls_mixes_up_the_cities(by_upstream):
    example = by_upstream["live_parallel_1-0-1"]  # Boston, MA and San Francisco
    reference = reference_candidate(example)["output"]
    locations = {c["arguments"]["location"] for c in reference}
    mixed = [c for c in _only(example, VALUE)
             if {call["arguments"]["location"] for call in c["output"]} < locations]
    assert mixed, "expected a candidate asking twice for the same city"


def test_function_name_error_picks_a_sibling_from_the_catalog(by_upstream):
    example = by_upstream["live_multiple_2-1-0"]  # uber.ride vs uber.ride2
    candidates = _only(example, NAME)
    assert candidates and all(c["error_type"] == NAME for c in candidates)
    first = candidates[0]["output"][0]
    assert first["name"] == "uber.ride2"
    # Arguments carry over where the sibling has the same parameters.
    assert first["arguments"] == reference_candidate(example)["output"][0]["arguments"]
    assert is_schema_valid(example["tools"], candidates[0]["output"])


def test_function_name_error_with_one_tool_invents_a_near_miss(by_upstream):
    example = by_upstream["test_in_domain-easy-47"]  # the catalog is endGame alone
    names = [c["output"][0]["name"] for c in _only(example, NAME)]
    assert names and "endGame" not in names
    assert set(names) <= {"stopGame", "end_game"}
    assert invented_names("get_current_weather", set())[0] == "fetch_current_weather"
    assert "change_drink" in invented_names("ChaDri.change_drink", set())


def test_call_count_error_drops_duplicates_or_splits_calls(by_upstream):
    example = by_upstream["live_parallel_1-0-1"]
    reference = reference_candidate(example)["output"]
    candidates = _only(example, COUNT)
    counts = {len(c["output"]) for c in candidates}
    assert 1 in counts and 3 in counts
    for candidate in candidates:
        assert candidate["error_type"] == COUNT
        assert all(call["name"] == "get_current_weather" for call in candidate["output"])
    single = [c["output"][0] for c in candidates if len(c["output"]) == 1]
    dropped = [call for call in single if call in reference]
    merged = [call for call in single if call["arguments"]["location"] == "Boston, MA and San Francisco, CA"]
    assert dropped and merged and len(dropped) + len(merged) == len(single)


def test_missing_optional_parameter_drops_one_the_reference_expects(by_upstream):
    example = by_upstream["normal_atom_enum_0"]
    reference = reference_candidate(example)["output"]
    properties, required = _properties(example, reference[0]["name"])
    candidates = _only(example, OPTIONAL)
    dropped = {p for c in candidates for _, p, _, new in _changes(reference, c["output"]) if new is None}
    assert dropped == {"analysisType", "dataSource"}
    assert not dropped & set(required)
    assert all(is_schema_valid(example["tools"], c["output"]) for c in candidates)


def test_missing_required_parameter_drops_a_required_one(by_upstream):
    example = by_upstream["dev-easy-17"]  # year and region are required
    reference = reference_candidate(example)["output"]
    candidates = _only(example, REQUIRED)
    dropped = {p for c in candidates for _, p, _, new in _changes(reference, c["output"]) if new is None}
    assert dropped == {"year", "region"}
    assert all(c["error_type"] == REQUIRED for c in candidates)


def test_value_type_error_quotes_a_number(by_upstream):
    example = by_upstream["test_out_domain-easy-61"]  # temperature 29.0
    reference = reference_candidate(example)["output"]
    candidates = _only(example, TYPE)
    assert candidates[0]["error_type"] == TYPE
    changes = [change for c in candidates for change in _changes(reference, c["output"])]
    temperature = [new for _, param, _, new in changes if param == "temperature"]
    assert "29.0" in temperature
    # The number slip comes before the rarer list-wrapped text.
    assert _changes(reference, candidates[0]["output"])[0][1] == "temperature"


def test_unexpected_parameter_adds_a_real_unasked_parameter_first(by_upstream):
    example = by_upstream["dev-easy-17"]  # the schema also has `indicator`, not asked for
    reference = reference_candidate(example)["output"]
    candidates = _only(example, UNEXPECTED)
    added = [(p, new) for c in candidates for _, p, old, new in _changes(reference, c["output"]) if old is None]
    assert added[0][0] == "indicator" and isinstance(added[0][1], str) and added[0][1]
    assert all(c["error_type"] == UNEXPECTED for c in candidates)
    assert is_schema_valid(example["tools"], candidates[0]["output"])


def test_parsing_errors_are_raw_text_naming_the_function(by_upstream):
    example = by_upstream["test_in_domain-easy-47"]
    candidates = _only(example, PARSING)
    assert len(candidates) >= 5
    for candidate in candidates:
        assert isinstance(candidate["output"], str) and "endGame" in candidate["output"]
        with pytest.raises(DecodeError):
            decode_calls(candidate["output"])


def test_irrelevance_negatives_call_a_tool(examples, generated):
    kinds = collections.Counter()
    for example in examples:
        if example["reference_kind"] == records.REFERENCE_CALL:
            continue
        candidates = generated[example["example_id"]]
        assert candidates, example["upstream_id"]
        tool_names = {t["name"] for t in example["tools"]}
        for candidate in candidates:
            calls = decode_calls(candidate["output"])
            assert calls and all(call["name"] in tool_names for call in calls)
            assert candidate["error_type"] == COUNT
        first = candidates[0]["output"][0]
        detail = example["reference_detail"]
        kinds[example["reference_kind"]] += 1
        if example["reference_kind"] == records.REFERENCE_CLARIFY:
            assert first["name"] == detail["function"]
        if example["reference_kind"] == records.REFERENCE_FLAG_INVALID:
            # The invalid value is passed as is.
            text = json.dumps(candidates[0]["output"])
            assert any(json.dumps(v) in text for values in detail["invalid_values"].values() for v in values)
    assert set(kinds) == {records.REFERENCE_NO_CALL, records.REFERENCE_CLARIFY, records.REFERENCE_FLAG_INVALID}


def test_no_call_negative_calls_the_tool_most_like_the_request(by_upstream):
    # "a detailed weather forecast for Los Angeles for the next 7 days", no tool fits.
    example = by_upstream["special_irrelevant_8"]
    candidates = generate_rule_candidates(example, seed=SEED)
    first = candidates[0]["output"][0]
    assert first["name"] == "WeatherAPI_generateLongTermForecast"
    assert "Los Angeles" in json.dumps(first["arguments"])  # filled from the conversation


# --- selection -------------------------------------------------------------

def test_default_mix_is_fc_rewardbench_normalized():
    total = sum(FC_REWARDBENCH_COUNTS.values())
    assert DEFAULT_MIX == {t.value: n / total for t, n in FC_REWARDBENCH_COUNTS.items()}
    assert abs(sum(DEFAULT_MIX.values()) - 1) < 1e-12


def test_same_seed_same_candidates_other_seed_other_candidates(examples, generated):
    sample = examples[::25]
    assert all(generate_rule_candidates(e, seed=SEED) == generated[e["example_id"]] for e in sample)
    differ = sum(generate_rule_candidates(e, seed=SEED + 1) != generated[e["example_id"]] for e in sample)
    assert differ >= len(sample) // 2


def test_candidates_are_the_same_in_another_process(examples, generated):
    sample = examples[::40]
    script = (
        "import json, sys\n"
        "from tests.test_rules import load_samples\n"
        "from toolrm_beam.transforms.rules import generate_rule_candidates\n"
        f"ex = load_samples()[::40]\n"
        f"print(json.dumps([[c['candidate_id'] for c in generate_rule_candidates(e, seed={SEED})] for e in ex]))\n")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120, check=True)
    theirs = json.loads(result.stdout.strip().splitlines()[-1])
    ours = [[c["candidate_id"] for c in generated[e["example_id"]]] for e in sample]
    assert theirs == ours and any(ours)


def test_mix_is_configurable(examples):
    call_examples = [e for e in examples if e["reference_kind"] == records.REFERENCE_CALL][::10]
    parsing = [c for e in call_examples for c in generate_rule_candidates(e, seed=SEED, mix={"parsing_error": 1.0})]
    assert len(parsing) >= 4 * len(call_examples)
    assert {c["error_type"] for c in parsing} == {PARSING}
    # Labels are accepted too; a zero weight switches a type off.
    mixed = [c for e in call_examples for c in generate_rule_candidates(
        e, seed=SEED, mix={"Missing required parameter": 1, "Incorrect function name": 1, "parsing_error": 0})]
    assert {c["error_type"] for c in mixed} == {REQUIRED, NAME}
    irrelevant = next(e for e in examples if e["reference_kind"] == records.REFERENCE_NO_CALL)
    assert generate_rule_candidates(irrelevant, seed=SEED, mix={"parsing_error": 1.0}) == []
    assert generate_rule_candidates(call_examples[0], seed=SEED, max_negatives=0) == []
    with pytest.raises(ValueError):
        generate_rule_candidates(call_examples[0], seed=SEED, mix={"not_an_error": 1.0})
    with pytest.raises(ValueError):
        generate_rule_candidates(call_examples[0], seed=SEED, mix={"parsing_error": 0.0})


def test_default_selection_follows_fc_rewardbench(examples, generated):
    counts = collections.Counter(c["error_type"] for e in examples if e["reference_kind"] == records.REFERENCE_CALL
                                 for c in generated[e["example_id"]])
    total = sum(counts.values())
    assert counts.most_common(1)[0][0] == VALUE
    distance = 0.5 * sum(abs(counts.get(t, 0) / total - share) for t, share in DEFAULT_MIX.items())
    assert distance < 0.12, (distance, counts)
    valid = sum(is_schema_valid(e["tools"], c["output"]) for e in examples for c in generated[e["example_id"]])
    assert valid / sum(len(v) for v in generated.values()) > 0.6


def test_generation_is_fast_enough(examples):
    start = time.perf_counter()
    for example in examples:
        generate_rule_candidates(example, seed=SEED + 2)
    per_example = (time.perf_counter() - start) / len(examples)
    assert per_example < 0.02  # the benchmark measures ~1.5 ms; this only catches blow-ups


# --- schema validity -------------------------------------------------------

def test_is_schema_valid(by_upstream):
    example = by_upstream["dev-easy-17"]
    tools = example["tools"]
    good = reference_candidate(example)["output"]
    assert is_schema_valid(tools, good)
    assert is_schema_valid(tools, json.dumps(good))
    assert is_schema_valid(tools, "[getGlobalGovernanceIndex(year=1999, region='Africa')]")
    assert is_schema_valid(tools, [])
    assert not is_schema_valid(tools, [{"name": "getGovernanceIndex", "arguments": good[0]["arguments"]}])
    assert not is_schema_valid(tools, [{"name": "getGlobalGovernanceIndex", "arguments": {"year": "1999", "region": "Africa"}}])
    assert not is_schema_valid(tools, [{"name": "getGlobalGovernanceIndex", "arguments": {"region": "Africa"}}])
    assert not is_schema_valid(tools, "The governance index of Africa in 1999 is high.")


# --- obfuscation -----------------------------------------------------------

def test_obfuscation_renames_consistently_and_keeps_every_verdict(examples, generated):
    reordered = 0
    for example in examples:
        candidates = [reference_candidate(example)] + generated[example["example_id"]]
        renamed, renamed_candidates = obfuscate(example, candidates, seed=SEED)
        assert renamed["example_id"] == example["example_id"]
        assert renamed["messages"] == example["messages"]
        assert renamed["content_hash"] == records.example_content_hash(renamed)
        old_names = {t["name"] for t in example["tools"]}
        new_names = {t["name"] for t in renamed["tools"]}
        assert len(new_names) == len(old_names) and not new_names & old_names
        for old, new in zip(example["tools"], renamed["tools"]):
            old_props, new_props = old["parameters"].get("properties", {}), new["parameters"].get("properties", {})
            assert not set(new_props) & set(old_props)
            assert len(new_props) == len(old_props)
            reordered += [json.dumps(v, sort_keys=True) for v in old_props.values()] != \
                [json.dumps(v, sort_keys=True) for v in new_props.values()]
        # The obfuscated example's own reference call is the renamed one.
        if example["reference_kind"] == records.REFERENCE_CALL:
            assert reference_candidate(renamed)["output"] == renamed_candidates[0]["output"]
        for before, after in zip(candidates, renamed_candidates):
            assert after["candidate_id"] == records.candidate_id(example["example_id"], after["output"])
            verdict = _check(renamed, after["output"])
            assert verdict.correct == before["correct"]
            assert (verdict.error_type.value if verdict.error_type else None) == before["error_type"]
            if isinstance(after["output"], str):
                for name in old_names:
                    if re.search(r"[._A-Z]", name):  # identifiers, not plain words
                        assert not re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", after["output"]), name
    assert reordered > 100
    again, _ = obfuscate(examples[0], [], seed=SEED)
    assert again == obfuscate(examples[0], [], seed=SEED)[0]
    other, _ = obfuscate(examples[0], [], seed=SEED + 1)
    assert other["tools"][0]["name"] != again["tools"][0]["name"]


def test_obfuscation_renames_inside_raw_text_but_not_values(by_upstream):
    example = by_upstream["live_parallel_1-0-1"]
    call = {"name": "get_current_weather", "arguments": {"location": "get_current_weather location", "unit": "celsius"}}
    text = ('Sure: [{"name": "get_current_weather", "arguments": {"location": "get_current_weather location", '
            '"unit": "celsius"}}] and get_current_weather(location="Boston")')
    renamed, (structured, raw) = obfuscate(example, [
        {**reference_candidate(example), "output": [call]}, {**reference_candidate(example), "output": text}], seed=1)
    new_name = renamed["tools"][0]["name"]
    props = renamed["tools"][0]["parameters"]["properties"]
    location = next(p for p in props if "City, State" in props[p]["description"])
    assert structured["output"] == [{"name": new_name, "arguments": {
        location: "get_current_weather location", next(p for p in props if p != location): "celsius"}}]
    assert raw["output"].count(new_name) == 2 and "get_current_weather location" in raw["output"]
    assert f'{location}="Boston"' in raw["output"] and f'"{location}":' in raw["output"]
    assert '"name":' in raw["output"] and '"arguments":' in raw["output"]
