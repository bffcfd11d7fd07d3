"""The model_samples source: a user's own answers, by example fields or by the id of an ingested example.

Rows are built from real prompts and answers of the shared BFCL dumps (the
slice in tests/fixtures/bfcl_results).
"""
from __future__ import annotations

import json
import pathlib

import pyarrow.parquet as pq
import pytest

from toolrm_beam.schemas import records
from toolrm_beam.schemas.adapters import AdaptError, get_adapter
from toolrm_beam.schemas.validation import validate_example
from toolrm_beam.transforms import fileio

FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "bfcl_results"
ADAPTER = get_adapter("model_samples")


def open_fn(path):
    return open(path, "rb")


def jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def question(category, question_id):
    return next(q for q in jsonl(FIXTURE / "questions" / f"BFCL_v3_{category}.json") if q["id"] == question_id)


def answer_of(model, category, number):
    rows = jsonl(FIXTURE / "result" / model / f"gorilla_openfunctions_v1_test_{category}_result.json")
    return next(r["result"] for r in rows if r["id"].endswith(f"_{number}"))


# exec_simple_86 asks for calculate_investment_value; Raven's answer is right.
PROMPT = question("exec_simple", "exec_simple_86")
ANSWER = [{"name": "calculate_investment_value", "arguments": {
    "initial_investment": 10000, "annual_contribution": 1000, "years": 5, "annual_return": 0.05,
    "inflation_rate": [0.01, 0.02, 0.03, 0.04, 0.04]}}]
CANONICAL = {"name": "calculate_investment_value", "arguments": {
    "initial_investment": [10000], "annual_contribution": [1000], "years": [5], "annual_return": [0.05],
    "inflation_rate": [[0.01, 0.02, 0.03, 0.04, 0.04]], "adjust_for_inflation": [True, ""]}}
FIELDS = {"messages": PROMPT["question"][0], "tools": PROMPT["function"], "reference": [CANONICAL]}


def adapt(row, adapter=ADAPTER, context=None):
    return adapter.adapt(row, context, "samples")


def test_rows_with_example_fields_are_labelled_by_the_checker():
    right = adapt({**FIELDS, "model": "raven", "output": answer_of("Nexusflow-Raven-v2", "executable_simple", 86)})
    wrong = adapt({**FIELDS, "model": "mine", "output": "[calculate_investment_value(initial_investment=10000, "
                   "annual_contribution=1000, years=5, annual_return=5, inflation_rate=[0.01])]"})
    (example,), (good,) = right.examples, right.candidates
    validate_example(example)
    assert example["source"] == "model_samples" and example["reference_kind"] == "call"
    assert right.examples[0]["content_hash"] == wrong.examples[0]["content_hash"]  # one prompt, one example
    assert right.examples[0]["example_id"] == wrong.examples[0]["example_id"]
    assert good["origin"] == "model:raven" and good["models"] == ["raven"] and good["correct"] is True
    assert wrong.candidates[0]["correct"] is False
    assert wrong.candidates[0]["error_type"] == "parameter_value_error"
    assert right.verdicts == [] and good["upstream_correct"] is None


def test_reference_in_acceptable_values_or_bfcl_form_and_prompt_text():
    canonical = CANONICAL
    bfcl = [{canonical["name"]: canonical["arguments"]}]
    output = answer_of("Nexusflow-Raven-v2", "executable_simple", 86)  # gives adjust_for_inflation=True
    base = {"prompt": PROMPT["question"][0][0]["content"], "tools": PROMPT["function"], "model": "m",
            "output": output}
    for reference in ([canonical], bfcl):
        result = adapt({**base, "reference": reference})
        assert result.examples[0]["reference"] == [canonical] and result.candidates[0]["correct"]
    # Plain calls (`answer`) do not list the default: the same output has an unexpected parameter.
    assert adapt({**base, "answer": ANSWER}).candidates[0]["error_type"] == "unexpected_parameter"


def test_no_reference_means_no_call_is_right():
    base = {"messages": question("irrelevance", "irrelevance_0")["question"][0],
            "tools": question("irrelevance", "irrelevance_0")["function"]}
    declined = adapt({**base, "model": "granite", "output": answer_of(
        "ibm-granite_granite-20b-functioncalling", "relevance", 0)})
    called = adapt({**base, "model": "raven", "output": answer_of("Nexusflow-Raven-v2", "relevance", 0)})
    assert declined.examples[0]["reference_kind"] == "no_call"
    assert declined.candidates[0]["output"] == [] and declined.candidates[0]["correct"]
    assert called.candidates[0]["correct"] is False


def test_java_answers_are_typed_by_the_declared_types():
    prompt = question("java", "java_1")
    row = {"messages": prompt["question"][0], "tools": prompt["function"], "language": "java",
           "reference": [{"SQLCompletionAnalyzer.makeProposalsFromObject": {
               "object": ["Customers"], "useShortName": [True], "params": [{"limit": [50], "schemaFilter": ["public"]}]}}],
           "model": "m", "output": 'SQLCompletionAnalyzer.makeProposalsFromObject(object="Customers", '
                                   'useShortName="true", params=new HashMap<String, Object>() '
                                   '{{ put("limit", 50); put("schemaFilter", "public"); }})'}
    result = adapt(row)
    assert result.candidates[0]["output"][0]["arguments"]["params"] == {"limit": 50, "schemaFilter": "public"}
    assert result.candidates[0]["correct"]


def test_upstream_verdicts_pass_through_to_the_agreement_rows():
    result = adapt({**FIELDS, "model": "m", "output": "[]", "upstream_correct": False,
                    "upstream_error_type": "simple_function_checker:wrong_count", "category": "exec_simple"})
    assert result.candidates[0]["upstream_correct"] is False
    assert result.verdicts == [{"category": "exec_simple", "model": "m", "checker_correct": False,
                                "checker_code": "count:wrong_count", "upstream_correct": False,
                                "upstream_error_type": "simple_function_checker:wrong_count"}]


def _examples_shard(tmp_path):
    example = adapt({**FIELDS, "model": "m", "output": "[]"}).examples[0]
    path = tmp_path / "examples-00000-of-00001.parquet"
    path.write_bytes(fileio.parquet_bytes([records.to_row(example)], records.EXAMPLE_ARROW_SCHEMA))
    return example, str(path)


def test_rows_naming_an_ingested_example(tmp_path):
    example, shard = _examples_shard(tmp_path)
    adapter = ADAPTER.with_options(examples=[shard])
    context = adapter.load_context("samples.jsonl", open_fn)
    result = adapt({"example_id": example["example_id"], "model": "raven",
                    "output": answer_of("Nexusflow-Raven-v2", "executable_simple", 86)}, adapter, context)
    assert result.examples[0]["example_id"] == example["example_id"]
    assert result.examples[0]["content_hash"] == example["content_hash"]
    assert result.candidates[0]["correct"] is True


@pytest.mark.parametrize("row, reason", [
    ({"example_id": "bfcl:0000000000000000", "model": "m", "output": "[]"}, "unknown_example"),
    ({**FIELDS, "output": "[]"}, "missing_field"),
    ({**FIELDS, "model": "m"}, "missing_field"),
    ({**FIELDS, "model": "m", "output": "[]", "answer": ANSWER}, "bad_field_type"),
    ({**FIELDS, "model": "m", "output": "[]", "reference": [{"name": "f", "arguments": {"a": 1}}]},
     "bad_field_type"),
    ({**FIELDS, "model": "m", "output": "[]", "reference": None, "answer": [{"name": "other_tool", "arguments": {}}]},
     "unknown_tool_in_reference"),
    ({"tools": FIELDS["tools"], "model": "m", "output": "[]"}, "missing_field"),
    ({**FIELDS, "model": "m", "output": "[]", "language": "cobol"}, "bad_field_type"),
])
def test_bad_rows_raise_their_reason(row, reason):
    with pytest.raises(AdaptError) as info:
        adapt(row)
    assert info.value.reason == reason


def test_only_model_samples_takes_options():
    with pytest.raises(ValueError):
        get_adapter("bfcl").with_options(examples=["x"])
    with pytest.raises(ValueError):
        ADAPTER.with_options(catalog="x")


def test_ingest_with_examples_writes_the_named_examples_and_their_candidates(tmp_path):
    from toolrm_beam.beam_pipelines import ingest

    example, shard = _examples_shard(tmp_path)
    samples = tmp_path / "samples.jsonl"
    rows = [{"example_id": example["example_id"], "model": model, "output": answer_of(model, "executable_simple", 86)}
            for model in ("Nexusflow-Raven-v2", "gpt-4o-2024-05-13", "gpt-4o-2024-05-13-FC")]
    rows.append({"example_id": "model_samples:ffffffffffffffff", "model": "x", "output": "[]"})
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    manifest = ingest.run(["--source", "model_samples", "--input", str(samples), "--examples", shard,
                           "--output", str(out)])
    counts = manifest["counts"]
    assert (counts["rows_in"], counts["rows_written"], counts["rows_duplicate"], counts["rows_dead_letter"]) == \
        (4, 1, 2, 1)
    assert counts["dead_letter_by_reason"] == {"unknown_example": 1}
    candidates = [r for p in sorted(out.glob("candidates-*.parquet")) for r in pq.read_table(p).to_pylist()]
    assert {tuple(c["models"]) for c in candidates} <= {("Nexusflow-Raven-v2",), ("gpt-4o-2024-05-13",),
                                                       ("gpt-4o-2024-05-13-FC",), ("Nexusflow-Raven-v2",
                                                       "gpt-4o-2024-05-13-FC"), ("gpt-4o-2024-05-13",
                                                       "gpt-4o-2024-05-13-FC"), ("Nexusflow-Raven-v2",
                                                       "gpt-4o-2024-05-13", "gpt-4o-2024-05-13-FC")}
    assert sum(len(c["models"]) for c in candidates) == 3
    assert all(c["example_id"] == example["example_id"] for c in candidates)
