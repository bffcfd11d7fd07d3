"""The bfcl_results source: real model answers with BFCL's verdicts, on a slice of the shared dumps.

The fixture (tests/fixtures/bfcl_results, rebuilt by its slice.py) keeps four
models' answers to twelve prompts, their score lines and the prompts'
questions and answers, with the files' layout and lines unchanged.
"""
from __future__ import annotations

import collections
import json
import pathlib
import shutil

import pytest
from jsonschema import Draft202012Validator

from toolrm_beam.schemas import records
from toolrm_beam.schemas.adapters import AdaptError, get_adapter
from toolrm_beam.schemas.adapters.answers import decode_answer
from toolrm_beam.schemas.adapters.bfcl_results import executable_reference
from toolrm_beam.schemas.validation import validate_example

FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "bfcl_results"
ADAPTER = get_adapter("bfcl_results")
CANDIDATE_VALIDATOR = Draft202012Validator(records.CANDIDATE_JSON_SCHEMA)


def open_fn(path):
    return open(path, "rb")


def result_files(root=FIXTURE):
    return sorted(str(p) for p in root.rglob("*.json") if ADAPTER.is_data_file(str(p)))


def rows_of(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def adapt_all(root=FIXTURE):
    """{(model, question id): Adapted} for every result row under `root`."""
    out = {}
    for path in result_files(root):
        context = ADAPTER.load_context(path, open_fn)
        for row in rows_of(path):
            adapted = ADAPTER.adapt(row, context, ADAPTER.split_of(path))
            out[(context.model, adapted.examples[0]["upstream_id"])] = adapted
    return out


@pytest.fixture(scope="module")
def adapted():
    return adapt_all()


def candidate(adapted, model, question_id):
    return adapted[(model, question_id)].candidates[0]


def test_only_result_files_are_data_files():
    paths = [str(p) for p in FIXTURE.rglob("*.json")]
    data = result_files()
    assert len(data) == 4 * 5  # four models, five categories
    assert all("/result/" in p for p in data)
    assert not any(ADAPTER.is_data_file(p) for p in paths if "/score/" in p or "/questions/" in p)
    assert {ADAPTER.split_of(p) for p in data} == {"exec_simple", "exec_parallel_multiple", "java", "javascript",
                                                   "irrelevance"}


def test_every_row_is_one_valid_example_and_one_model_candidate(adapted):
    rows = sum(len(rows_of(p)) for p in result_files())
    assert len(adapted) == rows == 4 * 12
    for (model, question_id), result in adapted.items():
        (example,), (cand,) = result.examples, result.candidates
        validate_example(example)
        assert example["source"] == "bfcl_results" and example["upstream_id"] == question_id
        assert cand["origin"] == f"model:{model}" and cand["models"] == [model]
        assert cand["example_id"] == example["example_id"]
        assert cand["candidate_id"] == records.candidate_id(example["example_id"], cand["output"])
        CANDIDATE_VALIDATOR.validate({k: v for k, v in cand.items() if k != "example_content_hash"})
        assert isinstance(cand["correct"], bool)
        assert (cand["error_type"] is None) == cand["correct"]


def test_every_model_gets_the_same_example_for_one_prompt(adapted):
    by_prompt = collections.defaultdict(set)
    for (_, question_id), result in adapted.items():
        by_prompt[question_id].add(result.examples[0]["content_hash"])
    assert len(by_prompt) == 12 and all(len(hashes) == 1 for hashes in by_prompt.values())


def test_upstream_verdict_is_the_score_file(adapted):
    """A row listed in the score file (1-based ids) is BFCL-wrong with its error type; any other is BFCL-right."""
    for path in result_files():
        context = ADAPTER.load_context(path, open_fn)
        score = FIXTURE / "score" / context.model / f"{context.result_category}_score.json"
        listed = {line["id"]: line["error_type"] for line in rows_of(score)[1:]}
        for row in rows_of(path):
            number = int(row["id"].rsplit("_", 1)[1])
            cand = candidate(adapted, context.model, f"{context.category}_{number}")
            assert cand["upstream_correct"] is (number + 1 not in listed)
            assert cand["upstream_error_type"] == listed.get(number + 1)
    assert candidate(adapted, "gpt-4o-2024-05-13", "java_1")["upstream_error_type"] == "type_error:simple"


def test_verdicts_pair_the_checker_with_bfcl(adapted):
    result = adapted[("Nexusflow-Raven-v2", "java_1")]
    (verdict,) = result.verdicts
    assert verdict == {"category": "java", "model": "Nexusflow-Raven-v2", "checker_correct": False,
                       "checker_code": "type_error:simple", "upstream_correct": False,
                       "upstream_error_type": "type_error:simple"}


def test_answer_formats_decode_to_one_call_list(adapted):
    expected = [{"name": "calculate_mean", "arguments": {"numbers": [1, 3, 4, 6, 8]}},
                {"name": "get_coordinates_from_city", "arguments": {"city_name": "Cupertino"}}]
    # Raven's `f(...); g(...);`, the FC dump's `[{fn: "<json>"}]`, Python calls, Granite's <function_call>.
    for model in ("Nexusflow-Raven-v2", "gpt-4o-2024-05-13-FC", "gpt-4o-2024-05-13",
                  "ibm-granite_granite-20b-functioncalling"):
        cand = candidate(adapted, model, "exec_parallel_multiple_18")
        assert cand["output"] == expected and cand["correct"], model


def test_declining_conventions_are_no_call(adapted):
    assert candidate(adapted, "Nexusflow-Raven-v2", "irrelevance_136")["output"] == []
    assert candidate(adapted, "ibm-granite_granite-20b-functioncalling", "irrelevance_0")["output"] == []
    prose = candidate(adapted, "gpt-4o-2024-05-13-FC", "irrelevance_0")
    assert isinstance(prose["output"], str) and prose["correct"]
    called = candidate(adapted, "Nexusflow-Raven-v2", "irrelevance_0")
    assert called["correct"] is False and called["error_type"] == "incorrect_number_of_function_calls"


def test_executable_reference_maps_positional_arguments_onto_the_spec(adapted):
    example = adapted[("gpt-4o-2024-05-13", "exec_parallel_multiple_18")].examples[0]
    # The ground truth is `calculate_mean([1,3,4,6,8])`.
    assert example["reference"][0] == {"name": "calculate_mean", "arguments": {"numbers": [[1, 3, 4, 6, 8]]}}
    assert example["reference_detail"] == {"execution_result_type": ["exact_match", "exact_match"]}


def test_executable_reference_lets_a_declared_default_be_omitted_or_given(adapted):
    example = adapted[("gpt-4o-2024-05-13", "exec_simple_86")].examples[0]
    assert example["reference"][0]["arguments"]["adjust_for_inflation"] == [True, ""]
    spec = example["original_tools"][0]
    reference = executable_reference(["calculate_investment_value(initial_investment=1, annual_contribution=2, "
                                      "years=3, annual_return=0.1, inflation_rate=[0.1], adjust_for_inflation=False)"],
                                     [spec])
    assert reference[0]["arguments"]["adjust_for_inflation"] == [False]  # not the default: required as given


def test_executable_reference_tuples_become_lists(adapted):
    example = adapted[("gpt-4o-2024-05-13", "exec_simple_41")].examples[0]
    assert example["reference"][0]["arguments"]["pointA"] == [[32.71, -117.16]]
    assert candidate(adapted, "gpt-4o-2024-05-13", "exec_simple_41")["correct"]  # written as a tuple


def test_a_reference_that_mixes_int_and_float_items_accepts_itself(adapted):
    # `price=[0.1, 10]`: BFCL's checker fails the reference's own list; this checker does not.
    assert candidate(adapted, "gpt-4o-2024-05-13", "exec_simple_93")["correct"]


def test_java_values_are_typed_by_the_spec(adapted):
    example = adapted[("Nexusflow-Raven-v2", "java_1")].examples[0]
    properties = example["tools"][0]["parameters"]["properties"]
    assert properties["useShortName"]["type"] == "boolean" and properties["params"]["type"] == "object"
    assert "type" not in properties["object"]  # Java `any`
    assert example["original_tools"][0]["parameters"]["properties"]["params"]["type"] == "HashMap"
    cand = candidate(adapted, "Nexusflow-Raven-v2", "java_1")
    # `useShortName='true'` is the boolean true; `params='{limit=50, ...}'` is no HashMap creation: text.
    assert cand["output"][0]["arguments"]["useShortName"] is True
    assert cand["output"][0]["arguments"]["params"] == "{limit=50, schemaFilter=public}"
    assert cand["error_type"] == "parameter_value_type_error"


def test_javascript_object_literal_is_a_dict(adapted):
    cand = candidate(adapted, "gpt-4o-2024-05-13", "javascript_5")
    store = cand["output"][0]["arguments"]["store"]
    assert store == {"initialState": "initialStateObject", "reducers": "reducersMap",
                     "middlewares": ["loggerMiddleware"], "enhancers": ["applyMiddleware('myMiddleWare')"]}
    assert cand["correct"]


def test_an_answer_that_does_not_decode_is_kept_as_text_and_is_a_parsing_error(adapted):
    cand = candidate(adapted, "gpt-4o-2024-05-13-FC", "javascript_5")
    assert isinstance(cand["output"], str) and cand["output"].startswith("Here is the line of code")
    assert cand["error_type"] == "parsing_error"


def test_decode_answer_types_fc_json_strings_and_keeps_typed_values():
    spec = {"name": "f", "parameters": {"type": "dict", "properties": {
        "flag": {"type": "boolean"}, "count": {"type": "long"}, "names": {"type": "ArrayList", "items": {"type": "String"}}}}}
    raw = [{"f": json.dumps({"flag": "false", "count": "7L", "names": 'new ArrayList<>(Arrays.asList("a", "b"))'})}]
    assert decode_answer(raw, "java", [spec]) == [{"name": "f", "arguments": {"count": 7, "flag": False,
                                                                            "names": ["a", "b"]}}]
    # A typed JSON value is kept (BFCL would call it a type error: it wants source text).
    assert decode_answer([{"f": json.dumps({"flag": True})}], "java", [spec]) == [
        {"name": "f", "arguments": {"flag": True}}]


def test_missing_score_file_leaves_the_verdict_unknown(tmp_path):
    root = tmp_path / "dump"
    shutil.copytree(FIXTURE, root)
    (root / "score" / "gpt-4o-2024-05-13" / "java_score.json").unlink()
    path = str(root / "result" / "gpt-4o-2024-05-13" / "gorilla_openfunctions_v1_test_java_result.json")
    context = ADAPTER.load_context(path, open_fn)
    result = ADAPTER.adapt(rows_of(path)[0], context, "java")
    assert result.candidates[0]["upstream_correct"] is None and result.verdicts == []


@pytest.mark.parametrize("row, reason", [
    ({"id": "java_7", "result": "[f()]"}, "missing_question"),
    ({"id": "javascript_0", "result": "[f()]"}, "bad_field_type"),
    ({"id": "java_x", "result": "[f()]"}, "bad_field_type"),
    ({"id": "java_0"}, "missing_field"),
])
def test_bad_rows_raise_their_reason(row, reason):
    path = str(FIXTURE / "result" / "gpt-4o-2024-05-13" / "gorilla_openfunctions_v1_test_java_result.json")
    with pytest.raises(AdaptError) as info:
        ADAPTER.adapt(row, ADAPTER.load_context(path, open_fn), "java")
    assert info.value.reason == reason


def test_unknown_result_category_is_an_unusable_context(tmp_path):
    path = tmp_path / "result" / "m" / "gorilla_openfunctions_v1_test_sql_result.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"id": "sql_0", "result": "x"}\n')
    assert ADAPTER.is_data_file(str(path))
    with pytest.raises(ValueError, match="unknown result category"):
        ADAPTER.load_context(str(path), open_fn)


# --- the pipeline: ingest collapses prompts and answers; run pairs real answers ---------------

def _parquet_rows(folder, prefix):
    import pyarrow.parquet as pq
    return [row for path in sorted(pathlib.Path(folder).glob(f"{prefix}-*.parquet"))
            for row in pq.read_table(path).to_pylist()]


@pytest.fixture(scope="module")
def run_output(tmp_path_factory):
    from toolrm_beam.runners import cli

    out = tmp_path_factory.mktemp("bfcl_results_run")
    assert cli.main(["run", "--source", "bfcl_results", "--input", str(FIXTURE / "**"),
                     "--generators", "reference", "--output", str(out)]) == 0
    return out


def test_ingest_keeps_one_example_per_prompt_and_one_candidate_per_distinct_answer(run_output, adapted):
    ingest_dir = run_output / "ingest" / "bfcl_results"
    manifest = json.loads((ingest_dir / "manifest.json").read_text())
    counts = manifest["counts"]
    assert (counts["rows_in"], counts["rows_written"], counts["rows_duplicate"], counts["rows_dead_letter"]) == \
        (48, 12, 36, 0)
    candidates = [records.from_row(r, records.CANDIDATE_JSON_FIELDS) for r in _parquet_rows(ingest_dir, "candidates")]
    by_answer = collections.defaultdict(set)
    for (model, question_id), result in adapted.items():
        by_answer[(question_id, records.canonical_json(result.candidates[0]["output"]))].add(model)
    assert len(candidates) == len(by_answer) == counts["candidates_out"]
    examples = {r["example_id"]: r["upstream_id"] for r in _parquet_rows(ingest_dir, "examples")}
    for cand in candidates:
        models = by_answer[(examples[cand["example_id"]], records.canonical_json(cand["output"]))]
        assert cand["models"] == sorted(models) and cand["origin"] == f"model:{min(models)}"


def test_ingest_manifest_has_the_agreement_table(run_output, adapted):
    table = json.loads((run_output / "ingest" / "bfcl_results" / "manifest.json").read_text())[
        "counts"]["upstream_agreement"]
    verdicts = [v for result in adapted.values() for v in result.verdicts]
    assert table["__all__"]["answers"] == len(verdicts) == 48
    for category in {v["category"] for v in verdicts}:
        mine = [v for v in verdicts if v["category"] == category]
        row = table[category]
        assert row["agree"] == sum(v["checker_correct"] == v["upstream_correct"] for v in mine)
        assert row["checker_correct_upstream_wrong"] == sum(v["checker_correct"] and not v["upstream_correct"]
                                                            for v in mine)
        assert sum(row["disagreements"].values()) == row["answers"] - row["agree"]
    assert table["exec_parallel_multiple"]["disagreements"] == {"ok vs value_error:exec_result_count": 4}


def test_run_pairs_real_right_answers_against_real_wrong_ones(run_output):
    pairs = _parquet_rows(run_output / "pairs", "pairs")
    assert pairs and all(p["rejected_origin"].startswith("model:") for p in pairs)
    assert any(p["chosen_origin"].startswith("model:") for p in pairs)
    assert all(p["model_name"] == p["rejected_origin"].removeprefix("model:") for p in pairs)


def test_executable_reference_lets_a_default_stated_in_words_be_omitted(adapted):
    # get_stock_history's `diffandsplits` says "... Default to false" in its description.
    tools = adapted[("gpt-4o-2024-05-13", "exec_parallel_multiple_18")].examples[0]["original_tools"]
    at_default = executable_reference(["get_stock_history(stock_name='AAPL', interval='1d', diffandsplits='false')"],
                                      tools)
    assert at_default[0]["arguments"]["diffandsplits"] == ["false", ""]
    other = executable_reference(["get_stock_history(stock_name='AAPL', interval='1d', diffandsplits='true')"], tools)
    assert other[0]["arguments"]["diffandsplits"] == ["true"]


def test_run_merges_a_model_answer_equal_to_the_reference_and_accounts_for_every_candidate(run_output):
    counts = json.loads((run_output / "manifest.json").read_text())["counts"]
    assert counts["candidates_merged"] > 0
    assert counts["candidates_in"] == (counts["candidates_paired"] + counts["candidates_filtered"]
                                       + counts["candidates_quarantined"] + sum(counts["dead_letter_by_reason"].values())
                                       + counts["candidates_merged"])
