"""Corpus adapters: every row of the stored corpora, fixtures for the others,
and one bad row per reason code."""
from __future__ import annotations

import collections
import copy
import json
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from jsonschema import Draft202012Validator

from toolrm_beam.schemas import records
from toolrm_beam.schemas.adapters import ADAPTERS, AdaptError, get_adapter
from toolrm_beam.schemas.adapters import common

CORPORA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "corpora"
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"

EXAMPLE_VALIDATOR = Draft202012Validator(records.EXAMPLE_JSON_SCHEMA)
CANDIDATE_VALIDATOR = Draft202012Validator(records.CANDIDATE_JSON_SCHEMA)

# ACEBench declares an email `pattern` that is valid ECMA-262 but not a Python
# regex (`[\w-\.]`); tool_spec rejects it. Allowed, not required, to fail.
ACEBENCH_BAD_PATTERN_ROWS = {"special_error_param_15", "special_error_param_46"}
# Rows whose catalog names a function no chat API accepts: a space in Seal-Tools'
# "requestFirst Aid Assistance", 69 characters in one ACEBench name.
SEAL_BAD_NAME_ROWS = {"test_out_domain-difficult-440"}
ACEBENCH_BAD_NAME_ROWS = {"normal_single_turn_single_function_7"}


def open_fn(path):
    return open(path, "rb")


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def adapt_file(source, path):
    """Adapt every row of one file the way the pipeline does."""
    adapter = get_adapter(source)
    context = adapter.load_context(str(path), open_fn)
    split = adapter.split_of(str(path))
    result = {"rows": 0, "examples": [], "errors": collections.defaultdict(list), "split": split}
    for row in read_jsonl(path):
        result["rows"] += 1
        try:
            result["examples"].extend(adapter.adapt(row, context, split).examples)
        except AdaptError as error:
            result["errors"][error.reason].append(row.get("id"))
    return result


def adapt_corpus(source, folder):
    adapter = get_adapter(source)
    paths = sorted(p for p in (CORPORA / folder).rglob("*") if p.is_file() and adapter.is_data_file(str(p)))
    return {adapter.split_of(str(p)): adapt_file(source, p) for p in paths}


@pytest.fixture(scope="module")
def seal():
    return adapt_corpus("seal_tools", "seal_tools")


@pytest.fixture(scope="module")
def acebench():
    return adapt_corpus("acebench", "acebench_en")


@pytest.fixture(scope="module")
def bfcl():
    return adapt_corpus("bfcl", "bfcl_live_sample")


def by_id(files, upstream_id):
    for result in files.values():
        for example in result["examples"]:
            if example["upstream_id"] == upstream_id:
                return example
    raise KeyError(upstream_id)


def assert_sound(example, source, license_):
    """What every example of every corpus must satisfy."""
    EXAMPLE_VALIDATOR.validate(example)
    assert example["source"] == source
    assert example["license"] == license_
    assert example["content_hash"] == records.example_content_hash(example)
    names = {tool["name"] for tool in example["tools"]}
    assert {call["name"] for call in example["reference"]} <= names
    assert len(example["original_tools"]) == len(example["tools"])
    assert example["messages"][-1]["role"] in ("user", "tool")
    pa.Table.from_pylist([records.to_row(example)], schema=records.EXAMPLE_ARROW_SCHEMA)


# ------------------------------------------------------------------ registry

def test_registry_names_every_format():
    assert set(ADAPTERS) == {"seal_tools", "acebench", "bfcl", "xlam", "openai_chat", "toolrm_train",
                             "fc_rewardbench", "bfcl_results", "model_samples"}
    for name, adapter in ADAPTERS.items():
        assert adapter.name == name and adapter.license and adapter.upstream
    assert get_adapter("Seal-Tools") is ADAPTERS["seal_tools"]


def test_unknown_source_lists_valid_names():
    with pytest.raises(ValueError, match="valid sources: acebench, bfcl, bfcl_results, fc_rewardbench, model_samples"):
        get_adapter("glaive")


# ------------------------------------------------------------------ Seal-Tools

def test_seal_tools_every_row(seal):
    assert {split: r["rows"] for split, r in seal.items()} == {"dev": 700, "test_in_domain": 700,
                                                              "test_out_domain": 654}
    for result in seal.values():
        assert set(result["errors"]) <= {"invalid_function_name"}
        assert set(result["errors"].get("invalid_function_name", [])) <= SEAL_BAD_NAME_ROWS
        assert len(result["examples"]) + sum(map(len, result["errors"].values())) == result["rows"]
        for example in result["examples"]:
            assert_sound(example, "seal_tools", "Apache-2.0")
            # Tools offered = the catalog specs of the APIs called, once each, in order.
            assert [t["name"] for t in example["tools"]] == list(dict.fromkeys(c["name"] for c in example["reference"]))


def test_seal_tools_joins_the_catalog(seal):
    example = by_id(seal, "dev-easy-0")
    assert example["messages"] == [{"role": "user", "content": "Retrieve information about the number of nurses in a specific country."}]
    assert example["reference"] == [{"name": "getHealthWorkforce",
                                     "arguments": {"location": ["country"], "occupation": ["nurses"]}}]
    (tool,) = example["tools"]
    (raw,) = example["original_tools"]
    assert raw["api_name"] == "getHealthWorkforce" and "responses" in raw  # the catalog line, as given
    assert tool["parameters"]["type"] == "object"
    assert tool["parameters"]["required"] == raw["required"]
    assert {p["type"] for p in tool["parameters"]["properties"].values()} <= {"string", "integer", "number", "boolean"}


def test_seal_tools_numbers_written_as_text_get_the_schema_type(seal):
    # Seal-Tools writes "8" where the spec says integer; lossless ones are
    # coerced (and recorded), the rest (placeholders, prose) kept as given.
    coerced = kept = 0
    for result in seal.values():
        for example in result["examples"]:
            schemas_ = {t["name"]: t["parameters"]["properties"] for t in example["tools"]}
            names = set(example["reference_detail"].get("coerced_values", []))
            coerced += len(names)
            for call in example["reference"]:
                for param, (value,) in call["arguments"].items():
                    kind = schemas_[call["name"]][param].get("type")
                    if kind in ("integer", "number") and isinstance(value, str):
                        kept += 1
                        float_text = value.strip().lstrip("+-").replace(".", "", 1)
                        assert not float_text.isdigit(), (example["upstream_id"], param, value)
                    if f"{call['name']}.{param}" in names and kind in ("integer", "number"):
                        assert isinstance(value, (int, float)) and not isinstance(value, bool)
    assert coerced > 100
    assert kept < coerced


def test_seal_tools_parallel_and_dependent_calls(seal):
    example = by_id(seal, "dev-difficult-200")
    assert [c["name"] for c in example["reference"]] == ["getPlantingInstructions", "searchCrop", "getAvailableResources"]
    assert example["reference"][2]["arguments"]["location"] == ["API_call_1"]
    assert example["reference_detail"] == {"dependent_calls": True}
    assert by_id(seal, "dev-easy-0")["reference_detail"] == {}


def test_seal_tools_file_hooks():
    adapter = get_adapter("seal_tools")
    assert not adapter.is_data_file("gs://b/Seal-Tools_Dataset/tool.jsonl")
    assert adapter.is_data_file("gs://b/Seal-Tools_Dataset/dev.jsonl")
    assert adapter.split_of("gs://b/Seal-Tools_Dataset/test_out_domain.jsonl") == "test_out_domain"


def test_seal_tools_data_files_of_a_folder_share_one_catalog_load(monkeypatch, tmp_path):
    """The input check and the adapt step load a folder's catalog once, not once per data file."""
    from toolrm_beam.data import SAMPLES
    from toolrm_beam.transforms.adapt import _AdaptRows
    from toolrm_beam.transforms.input_files import check_corpus_inputs

    adapter_class = type(get_adapter("seal_tools"))
    loads = []
    real_load = adapter_class.load_context

    def counted(self, path, open_fn):
        loads.append(path)
        return real_load(self, path, open_fn)

    monkeypatch.setattr(adapter_class, "load_context", counted)
    samples = pathlib.Path(SAMPLES) / "seal_tools"
    other = tmp_path / "other"  # a second folder: a catalog of its own
    other.mkdir()
    for name in ("tool.jsonl", "dev.parquet"):
        (other / name).write_bytes((samples / name).read_bytes())
    checked = check_corpus_inputs("seal_tools", [str(samples / "*"), str(other / "*")])
    assert len(checked.files) == 4 and len(loads) == 2, (checked.files, loads)

    loads.clear()
    adapt = _AdaptRows({"seal_tools": {}})
    adapt.setup()
    contexts = [adapt._context(path)[0] for path in checked.files]
    assert len(loads) == 2
    by_folder = {pathlib.Path(path).parent: id(context) for path, context in zip(checked.files, contexts)}
    assert len(set(by_folder.values())) == 2 and all(context for context in contexts)


# ------------------------------------------------------------------ ACEBench

def test_acebench_every_row(acebench):
    assert len(acebench) == 13
    assert sum(r["rows"] for r in acebench.values()) == 750
    for split, result in acebench.items():
        expected = {"invalid_tool_spec": ACEBENCH_BAD_PATTERN_ROWS, "invalid_function_name": ACEBENCH_BAD_NAME_ROWS}
        unexpected = {reason: ids for reason, ids in result["errors"].items()
                      if not set(ids) <= expected.get(reason, set())}
        assert not unexpected, split
        assert len(result["examples"]) + sum(map(len, result["errors"].values())) == result["rows"]
        for example in result["examples"]:
            assert_sound(example, "acebench", "MIT")
            assert example["split"] == split
    kinds = {split: {e["reference_kind"] for e in r["examples"]} for split, r in acebench.items()}
    assert kinds.pop("special_irrelevant") == {"no_call"}
    assert kinds.pop("special_incomplete") == {"clarify"}
    assert kinds.pop("special_error_param") == {"flag_invalid"}
    assert set().union(*kinds.values()) == {"call"}


def test_acebench_known_answer(acebench):
    example = by_id(acebench, "normal_atom_enum_0")
    assert example["split"] == "normal_atom_enum"
    assert example["reference"] == [{"name": "StockInsightProvider_getTechStockInsights", "arguments": {
        "region": ["North America"], "analysisType": ["Technical"], "dataSource": ["Bloomberg"]}}]
    # Specs written with `arguments` instead of `parameters` still normalize.
    assert "arguments" in example["original_tools"][1]
    assert example["tools"][1]["parameters"]["required"] == ["deliveryPoints", "vehicleData", "timeWindow"]


def test_acebench_transcript_becomes_messages(acebench):
    example = by_id(acebench, "normal_atom_object_deep_3")
    assert [m["role"] for m in example["messages"]] == ["user", "assistant", "assistant", "user"]
    assert example["messages"][1]["content"].startswith("[HomeEntertainmentConnector_connectGamingVR(")
    # A list inside one turn stays in that turn.
    example = by_id(acebench, "normal_single_turn_parallel_function_2")
    assert [m["role"] for m in example["messages"]] == ["user"]
    assert "- Neural Network:" in example["messages"][0]["content"]


def test_acebench_time_and_profile_lead(acebench):
    assert by_id(acebench, "normal_atom_number_0")["messages"][0] == {
        "role": "system", "content": "The current time is March 11, 2020, Wednesday。"}
    first = by_id(acebench, "normal_preference_0")["messages"][0]
    assert first["role"] == "system" and first["content"].startswith("User profile: {'basic_features'")


def test_acebench_repeated_calls_lose_their_suffix(acebench):
    example = by_id(acebench, "normal_single_turn_parallel_function_2")
    assert [c["name"] for c in example["reference"]] == ["market_insight_predict_trends"] * 4


def test_acebench_alternative_answers_merge(acebench):
    example = by_id(acebench, "normal_atom_bool_11")
    assert example["reference"] == [{"name": "RefrigeratorNoiseDiagnosis", "arguments": {
        "noise_level": ["loud rattling", "loud rattling nosiy"], "include_diy_solutions": [True]}}]


def test_acebench_special_kinds(acebench):
    example = by_id(acebench, "special_incomplete_0")
    assert example["reference"] == []
    assert example["reference_detail"] == {"function": "RealEstateManager_manageProperty",
                                           "missing_parameters": ["propertyDetails", "rentalManagement",
                                                                  "maintenanceScheduling"]}
    example = by_id(acebench, "special_error_param_6")
    assert example["reference"] == []
    assert example["reference_detail"] == {"invalid_values": {"device_id": ["ABC123"], "compare_with": ["XYZ@4321"]}}
    assert by_id(acebench, "special_irrelevant_0")["reference"] == []


def test_acebench_alternatives_that_differ_take_the_first():
    adapter = get_adapter("acebench")
    row = {"id": "normal_x_0", "question": "user: hi", "function": [
        {"name": "f", "description": "", "parameters": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}}]}
    context = {"category": "normal_x", "answers": {"normal_x_0": [{"f": {"a": "1"}}, {"f": {"a": "2", "b": "3"}}]}}
    (example,) = adapter.adapt(row, context, "normal_x").examples
    assert example["reference"] == [{"name": "f", "arguments": {"a": ["1"]}}]


def test_acebench_file_hooks(tmp_path):
    adapter = get_adapter("acebench")
    assert adapter.is_data_file("/d/data_en/data_normal_atom_bool.json")
    assert not adapter.is_data_file("/d/data_en/possible_answer/data_normal_atom_bool.json")
    assert adapter.split_of("/d/data_en/data_normal_atom_bool.json") == "normal_atom_bool"
    # An answer file is required, except where no answer exists.
    for name in ("data_normal_x.json", "data_special_irrelevant.json"):
        (tmp_path / name).write_text('{"id": "x", "question": "user: hi", "function": []}\n')
    with pytest.raises(FileNotFoundError):
        adapter.load_context(str(tmp_path / "data_normal_x.json"), open_fn)
    assert adapter.load_context(str(tmp_path / "data_special_irrelevant.json"), open_fn)["answers"] == {}


# ------------------------------------------------------------------ BFCL

def test_bfcl_every_row(bfcl):
    assert {split: r["rows"] for split, r in bfcl.items()} == {
        "live_irrelevance": 25, "live_multiple": 25, "live_parallel": 16, "live_parallel_multiple": 24,
        "live_simple": 25}
    for split, result in bfcl.items():
        assert not result["errors"]
        assert len(result["examples"]) == result["rows"]
        kinds = {e["reference_kind"] for e in result["examples"]}
        assert kinds == ({"no_call"} if split == "live_irrelevance" else {"call"})
        for example in result["examples"]:
            assert_sound(example, "bfcl", "Apache-2.0")
            assert example["split"] == split


def test_bfcl_keeps_omittable_markers(bfcl):
    example = by_id(bfcl, "live_parallel_0-0-0")
    assert example["reference"] == [
        {"name": "get_current_weather", "arguments": {"location": ["Beijing, China"], "unit": ["", "fahrenheit"]}},
        {"name": "get_current_weather", "arguments": {"location": ["Shanghai, China"], "unit": ["", "fahrenheit"]}}]
    assert example["tools"][0]["parameters"]["type"] == "object"  # BFCL's "dict"
    assert example["original_tools"][0]["parameters"]["type"] == "dict"


def test_bfcl_system_prompt_kept(bfcl):
    with_system = [e for e in bfcl["live_multiple"]["examples"] if e["messages"][0]["role"] == "system"]
    assert len(with_system) == 4


def test_bfcl_non_live_shapes_and_special_categories():
    adapter = get_adapter("bfcl")
    tool = {"name": "calc", "description": "", "parameters": {"type": "dict", "properties": {"x": {"type": "float"}},
                                                              "required": ["x"]}}
    context = {"category": "simple", "answers": {"simple_0": [{"calc": {"x": [1.0]}}]}}
    flat = {"id": "simple_0", "question": [{"role": "user", "content": "calc 1"}], "function": tool}
    (example,) = adapter.adapt(flat, context, "simple").examples
    assert example["reference"] == [{"name": "calc", "arguments": {"x": [1.0]}}]
    with pytest.raises(AdaptError) as caught:
        adapter.adapt(dict(flat, id="live_relevance_0"), {"category": "live_relevance", "answers": {}}, "live_relevance")
    assert caught.value.reason == "unsupported_row"
    with pytest.raises(AdaptError) as caught:
        adapter.adapt(dict(flat, id="simple_9"), context, "simple")
    assert caught.value.reason == "missing_answer"
    assert adapter.split_of("x/BFCL_v3_live_simple.json") == "live_simple"
    assert not adapter.is_data_file("x/possible_answer/BFCL_v3_live_simple.json")
    assert adapter.load_context(str(CORPORA / "bfcl_live_sample" / "BFCL_v3_live_irrelevance.json"), open_fn) == {
        "category": "live_irrelevance", "answers": {}}


# ------------------------------------------------------------------ unstored formats (fixtures)

def adapt_fixture(source):
    adapter = get_adapter(source)
    out = []
    for row in read_jsonl(FIXTURES / f"{source}.jsonl"):
        try:
            out.append(adapter.adapt(row, None, adapter.split_of("data/train-00000-of-00002.parquet")))
        except AdaptError as error:
            out.append(error)
    return out


def test_xlam_fixture():
    results = adapt_fixture("xlam")
    examples = [r.examples[0] for r in results]
    for example in examples:
        assert_sound(example, "xlam", "CC-BY-4.0")
        assert example["split"] == "train"
    assert examples[0]["reference"] == [{"name": "live_giveaways_by_type", "arguments": {"type": ["beta"]}},
                                        {"name": "live_giveaways_by_type", "arguments": {"type": ["game"]}}]
    # A parameter with a default is not required.
    assert examples[0]["tools"][0]["parameters"]["required"] == []
    assert examples[1]["reference"][0]["arguments"] == {"numbers": [[3, 5, 7, 9.5]]}
    search = examples[2]["tools"][0]["parameters"]
    assert search["required"] == ["query"]
    assert search["properties"]["tags"] == {"description": "Tags to filter by.", "type": "array", "items": {"type": "string"}}
    assert examples[3]["reference_kind"] == "no_call" and examples[3]["reference"] == []


def test_openai_chat_fixture():
    first, second, third = adapt_fixture("openai_chat")
    assert [e["upstream_id"] for e in first.examples] == ["conv-1#2", "conv-1#6"]
    paris, berlin = first.examples
    assert [m["role"] for m in paris["messages"]] == ["system", "user"]
    assert [m["role"] for m in berlin["messages"]] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert berlin["messages"][3]["tool_call_id"] == "call_1"
    assert berlin["reference"] == [{"name": "get_weather", "arguments": {"city": ["Berlin"], "unit": ["fahrenheit"]}}]
    (tokyo,) = second.examples
    assert tokyo["license"] == "MIT" and paris["license"] == "unknown"
    assert [c["name"] for c in tokyo["reference"]] == ["get_weather", "get_time"]
    assert tokyo["upstream_id"].endswith("#1") and len(tokyo["upstream_id"]) == 18
    for example in first.examples + second.examples:
        assert_sound(example, "openai_chat", example["license"])
    assert isinstance(third, AdaptError) and third.reason == "unsupported_row"


def test_toolrm_train_fixture():
    results = adapt_fixture("toolrm_train")
    for result in results:
        (example,) = result.examples
        assert_sound(example, "toolrm_train", "Apache-2.0")
        correct, wrong = result.candidates
        for candidate in result.candidates:
            CANDIDATE_VALIDATOR.validate(candidate)
            assert candidate["example_id"] == example["example_id"]
            assert candidate["example_content_hash"] == example["content_hash"]
            assert candidate["candidate_id"] == records.candidate_id(example["example_id"], candidate["output"])
            assert candidate["score"] is None and candidate["scorer"] is None
        assert (correct["origin"], correct["correct"]) == ("corpus:toolrm-train:correct", True)
        assert wrong["correct"] is False and wrong["error_type"] is None
    first, second, third = results
    assert first.candidates[1]["origin"] == "corpus:toolrm-train:Qwen2.5-7B-Instruct"
    assert first.candidates[1]["output"] == [{"name": "cancel_order", "arguments": {"order_id": "A-1001"}}]
    assert second.candidates[1]["output"] == "Sure! I have cancelled your order."  # undecodable: kept as text
    assert [m["role"] for m in third.examples[0]["messages"]] == ["user", "assistant", "tool", "assistant", "user"]


def test_fc_rewardbench_fixture():
    results = adapt_fixture("fc_rewardbench")
    examples = [r.examples[0] for r in results]
    for result, example in zip(results, examples):
        assert_sound(example, "fc_rewardbench", "Apache-2.0")
        for candidate in result.candidates:
            CANDIDATE_VALIDATOR.validate(candidate)
    # Rows of one BFCL test collapse to one example and one correct candidate.
    assert examples[0]["example_id"] == examples[1]["example_id"]
    assert examples[0]["split"] == "simple" and examples[2]["split"] == "parallel"
    assert results[0].candidates[0]["candidate_id"] == results[1].candidates[0]["candidate_id"]
    assert examples[0]["reference"] == [{"name": "rectangle_area", "arguments": {
        "width": [4], "height": [6], "unit": ["meters"]}}]
    rejected = [r.candidates[1] for r in results]
    assert [c["error_type"] for c in rejected] == [
        "parameter_value_error", "incorrect_function_name", "incorrect_number_of_function_calls", "parsing_error"]
    assert [c["detail"] for c in rejected][0] == "Parameter value error"
    assert rejected[1]["origin"] == "corpus:fc-rewardbench:granite-3.1-8b-instruct"
    assert rejected[3]["output"] == "The area is about 7.07 square units."
    assert results[0].candidates[0]["origin"] == "corpus:fc-rewardbench:correct"


def test_parquet_rows_decoded_or_as_json_text(tmp_path):
    """Parquet gives JSON-typed columns as text or as nested values: same example."""
    rows = read_jsonl(FIXTURES / "fc_rewardbench.jsonl")[:1]
    decoded = [dict(rows[0], tools=json.loads(rows[0]["tools"]), conversation=json.loads(rows[0]["conversation"]))]
    path = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(decoded), path)
    (from_parquet,) = pq.read_table(path).to_pylist()
    adapter = get_adapter("fc_rewardbench")
    split = adapter.split_of(str(path))
    a = adapter.adapt(rows[0], None, split).examples[0]
    b = adapter.adapt(from_parquet, None, split).examples[0]
    assert a["content_hash"] == b["content_hash"]


def test_error_type_mapping():
    assert common.error_type_of("Incorrect number of function calls") == "incorrect_number_of_function_calls"
    assert common.error_type_of("Parameter value type error") == "parameter_value_type_error"
    assert common.error_type_of("simple_function_checker:wrong_func_name") == "incorrect_function_name"
    assert common.error_type_of("value_error:string") == "parameter_value_error"
    assert common.error_type_of("type_error:simple") == "parameter_value_type_error"
    assert common.error_type_of("ast_decoder:decoder_failed") == "parsing_error"
    assert common.error_type_of("something else") is None
    assert common.error_type_of(None) is None


def test_decode_calls_forms():
    expected = [{"name": "f", "arguments": {"a": 1}}]
    for form in ([{"f": {"a": 1}}], [{"name": "f", "arguments": {"a": 1}}], '[{"name": "f", "arguments": "{\\"a\\": 1}"}]',
                 '{"f": {"a": 1}}', json.dumps(json.dumps([{"f": {"a": 1}}])),
                 [{"type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}], "[f(a=1)]"):
        assert common.decode_calls(form) == expected
    assert common.decode_calls("[]") == []
    for bad in ("Sure: f(a=1)", '[{"a": 1, "b": 2}]', "[1]", '{"name": "f", "arguments": [1]}'):
        with pytest.raises(ValueError):
            common.decode_calls(bad)


# ------------------------------------------------------------------ bad rows, one per reason

XLAM_GOOD = read_jsonl(FIXTURES / "xlam.jsonl")[1]
SEAL_CONTEXT = {"getX": {"api_name": "getX", "api_description": "", "parameters": {"q": {"type": "str", "description": ""}},
                         "required": ["q"], "responses": {}}}
SEAL_GOOD = {"id": "dev-1", "query": "get x for q", "calling": [{"api": "getX", "parameters": {"q": "1"}, "responses": []}]}
ACE_GOOD = {"id": "normal_x_0", "question": "user: hi", "function": [
    {"name": "f", "description": "", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}]}
ACE_CONTEXT = {"category": "normal_x", "answers": {"normal_x_0": {"f": {"a": "1"}}}}
TOOLRM_GOOD = read_jsonl(FIXTURES / "toolrm_train.jsonl")[0]
FC_GOOD = read_jsonl(FIXTURES / "fc_rewardbench.jsonl")[0]
CHAT_GOOD = read_jsonl(FIXTURES / "openai_chat.jsonl")[0]


def _with(row, **changes):
    row = copy.deepcopy(row)
    for key, value in changes.items():
        if value is _DROP:
            row.pop(key)
        else:
            row[key] = value
    return row


_DROP = object()
_BLOB_TOOLS = json.dumps([{"name": "calculate_median", "description": "", "parameters": {"numbers": {"type": "blob"}}}])

BAD_ROWS = [
    # (source, row, context, reason)
    ("xlam", _with(XLAM_GOOD, query=_DROP), None, "missing_field"),
    ("xlam", _with(XLAM_GOOD, query=["a"]), None, "bad_field_type"),
    ("xlam", _with(XLAM_GOOD, tools="[{"), None, "malformed_json"),
    ("xlam", _with(XLAM_GOOD, answers='[{"name": "not_a_tool", "arguments": {}}]'), None, "unknown_tool_in_reference"),
    ("xlam", _with(XLAM_GOOD, tools=_BLOB_TOOLS), None, "invalid_tool_spec"),
    ("xlam", _with(XLAM_GOOD, query="  "), None, "empty_conversation"),
    ("xlam", ["not", "a", "row"], None, "bad_field_type"),
    ("seal_tools", _with(SEAL_GOOD, calling=_DROP), SEAL_CONTEXT, "missing_field"),
    ("seal_tools", _with(SEAL_GOOD, calling={"api": "getX"}), SEAL_CONTEXT, "bad_field_type"),
    ("seal_tools", _with(SEAL_GOOD, calling=[{"api": "getY", "parameters": {}}]), SEAL_CONTEXT, "unknown_tool_in_reference"),
    ("seal_tools", SEAL_GOOD, {"getX": dict(SEAL_CONTEXT["getX"], parameters={"q": {"type": "blob"}})}, "invalid_tool_spec"),
    ("acebench", _with(ACE_GOOD, question=_DROP), ACE_CONTEXT, "missing_field"),
    ("acebench", _with(ACE_GOOD, function="not json"), ACE_CONTEXT, "malformed_json"),
    ("acebench", ACE_GOOD, {"category": "normal_x", "answers": {}}, "missing_answer"),
    ("acebench", ACE_GOOD, {"category": "normal_x", "answers": {"normal_x_0": {"g": {"a": "1"}}}}, "unknown_tool_in_reference"),
    ("acebench", ACE_GOOD, {"category": "special_incomplete", "answers": {"normal_x_0": {"g": ["a"]}}}, "unknown_tool_in_reference"),
    ("acebench", ACE_GOOD, {"category": "normal_x", "answers": {"normal_x_0": "text"}}, "bad_field_type"),
    ("acebench", _with(ACE_GOOD, function=[{"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "blob"}}}}]),
     ACE_CONTEXT, "invalid_tool_spec"),
    ("acebench", _with(ACE_GOOD, question=""), ACE_CONTEXT, "empty_conversation"),
    ("bfcl", {"id": "live_simple_0", "function": []}, {"category": "live_simple", "answers": {}}, "missing_field"),
    ("bfcl", {"id": "live_simple_0", "question": [], "function": []}, {"category": "live_simple", "answers": {}}, "empty_conversation"),
    ("bfcl", {"id": "multi_turn_base_0", "question": [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]],
              "function": []}, {"category": "live_simple", "answers": {}}, "unsupported_row"),
    ("bfcl", {"id": "live_simple_0", "question": [[{"role": "user", "content": "a"}]], "function": []},
     {"category": "live_simple", "answers": {"live_simple_0": [{"f": {"x": 1}}]}}, "bad_field_type"),
    ("openai_chat", _with(CHAT_GOOD, messages=_DROP), None, "missing_field"),
    ("openai_chat", _with(CHAT_GOOD, messages=[{"role": "narrator", "content": "x"}]), None, "bad_field_type"),
    ("openai_chat", _with(CHAT_GOOD, messages=[]), None, "empty_conversation"),
    ("openai_chat", _with(CHAT_GOOD, messages=[{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": "{city"}}]}]), None, "malformed_json"),
    ("openai_chat", _with(CHAT_GOOD, tools=[]), None, "unknown_tool_in_reference"),
    ("toolrm_train", _with(TOOLRM_GOOD, uuid=_DROP), None, "missing_field"),
    ("toolrm_train", _with(TOOLRM_GOOD, tool_calls_correct='[{"name": "get_order_status", "arguments": {'), None, "malformed_json"),
    ("toolrm_train", _with(TOOLRM_GOOD, tools=json.dumps([{"name": "get_order_status", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "blob"}}}}])), None, "invalid_tool_spec"),
    ("fc_rewardbench", _with(FC_GOOD, chosen_output=_DROP), None, "missing_field"),
    ("fc_rewardbench", _with(FC_GOOD, conversation=5), None, "bad_field_type"),
    ("fc_rewardbench", _with(FC_GOOD, chosen_output='[{"circle_volume": {"r": 1}}]'), None, "unknown_tool_in_reference"),
]


@pytest.mark.parametrize("source,row,context,reason", BAD_ROWS,
                         ids=[f"{s}-{r}-{i}" for i, (s, _, _, r) in enumerate(BAD_ROWS)])
def test_bad_rows_raise_their_reason(source, row, context, reason):
    with pytest.raises(AdaptError) as caught:
        get_adapter(source).adapt(row, context, "split")
    assert caught.value.reason == reason


def test_good_rows_behind_the_bad_ones_pass():
    assert get_adapter("seal_tools").adapt(SEAL_GOOD, SEAL_CONTEXT, "dev").examples
    assert get_adapter("acebench").adapt(ACE_GOOD, ACE_CONTEXT, "normal_x").examples
    assert get_adapter("xlam").adapt(XLAM_GOOD, None, "train").examples


def test_a_reference_call_whose_name_is_not_text_is_a_bad_field_not_a_crash():
    """Found by tests/test_reliability.py's fuzzing: a model_samples row whose reference names a list."""
    adapter = get_adapter("model_samples")
    row = {"id": "r1", "prompt": "Add 2 and 3.", "model": "m", "output": "add(a=2, b=3)",
           "tools": [{"name": "add", "description": "Add.", "parameters": {
               "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}}],
           "reference": [{"name": ["add"], "arguments": {"a": [2], "b": [3]}}]}
    with pytest.raises(AdaptError) as raised:
        adapter.adapt(row, None, "train")
    assert raised.value.reason == "bad_field_type"
    row["reference"][0]["name"] = "add"
    assert adapter.adapt(row, None, "train").examples
