"""Real-error evaluation sets and the no-model heuristics, on the slice of the shared BFCL dumps."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from toolrm_beam.schemas.prompt_split import prompt_split
from toolrm_beam.transforms.real_error_sets import (bestofn_row, disputed, prompt_answers, rewardbench_rows,
                                                    summary, usable_answers)
from toolrm_beam.transforms.reward.heuristics import grounded_score, schema_score, two_rule_score

REPO = pathlib.Path(__file__).resolve().parents[1]
FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "bfcl_results"
COLUMNS = {"tools", "conversation", "chosen_output", "rejected_output", "error_type", "model_name",
           "test_category", "test_id"}


@pytest.fixture(scope="module")
def prompts():
    return prompt_answers("bfcl_results", sorted(str(p) for p in (FIXTURE / "result").rglob("*.json")))


def by_id(prompts, question_id):
    return next(p for p in prompts if p.example["upstream_id"] == question_id)


def test_prompt_answers_are_distinct_outputs_with_their_models(prompts):
    assert len(prompts) == 12
    for prompt in prompts:
        ids = [c["candidate_id"] for c in prompt.candidates]
        assert ids == sorted(set(ids))
        assert sum(len(c["models"]) for c in prompt.candidates) == 4  # every model answered once
    both = by_id(prompts, "exec_parallel_multiple_18").candidates
    assert len(both) == 1 and both[0]["models"] == sorted(["Nexusflow-Raven-v2", "gpt-4o-2024-05-13",
                                                           "gpt-4o-2024-05-13-FC",
                                                           "ibm-granite_granite-20b-functioncalling"])


def test_rewardbench_rows_pair_each_usable_wrong_answer_with_the_most_common_right_one(prompts):
    prompt = by_id(prompts, "exec_simple_41")
    rows = rewardbench_rows(prompt)
    usable = usable_answers(prompt)
    assert len(rows) == len(usable.wrong) >= 1
    for row in rows:
        assert COLUMNS <= set(row)
        chosen, rejected = json.loads(row["chosen_output"]), json.loads(row["rejected_output"])
        assert list(chosen[0]) == ["name", "arguments"] and list(rejected[0]) == ["name", "arguments"]
        assert row["chosen_origin"] == "model" and row["test_id"] == "exec_simple_41"
        assert chosen == [{"name": "get_distance", "arguments": {"pointA": [32.71, -117.16],
                                                                 "pointB": [34.05, -118.25]}}]
        assert row["error_type"] == "parameter_value_type_error" and row["model_name"] == row["models"][0]


def test_where_no_model_was_right_the_reference_is_chosen(prompts):
    prompt = by_id(prompts, "java_1")
    assert not usable_answers(prompt).right
    rows = rewardbench_rows(prompt)
    assert rows and all(r["chosen_origin"] == "reference" for r in rows)
    assert json.loads(rows[0]["chosen_output"]) == [{"name": "SQLCompletionAnalyzer.makeProposalsFromObject",
                                                     "arguments": {"object": "Customers", "useShortName": True,
                                                                   "params": {"limit": 50,
                                                                              "schemaFilter": "public"}}}]


def test_answers_that_are_not_calls_and_disputed_ones_are_left_out(prompts):
    prompt = by_id(prompts, "javascript_5")  # one answer is prose; others BFCL judged differently
    usable = usable_answers(prompt)
    assert usable.not_calls == 1
    kept = usable.right + usable.wrong
    assert all(isinstance(c["output"], list) and not disputed(c) for c in kept)
    assert usable.disputed == sum(disputed(c) for c in prompt.candidates if isinstance(c["output"], list)) >= 1


def test_no_call_prompts_make_no_rows(prompts):
    for question_id in ("irrelevance_0", "irrelevance_136"):
        assert rewardbench_rows(by_id(prompts, question_id)) == []
        assert bestofn_row(by_id(prompts, question_id)) is None


def test_bestofn_sets_are_labelled_distinct_answers_in_a_seeded_order(prompts):
    prompt = by_id(prompts, "exec_simple_41")
    row = bestofn_row(prompt, seed=1)
    assert row == bestofn_row(prompt, seed=1)
    outputs = [json.dumps(c["output"], sort_keys=True) for c in row["candidates"]]
    assert len(outputs) == len(set(outputs)) >= 2
    assert {c["correct"] for c in row["candidates"]} == {True, False}


def test_summary_accounts_for_every_distinct_answer(prompts):
    counts = summary(prompts)
    for part, numbers in counts.items():
        assert numbers["answers_distinct"] == (numbers["answers_right"] + numbers["answers_wrong"]
                                               + numbers["answers_not_a_call_list"] + numbers["answers_disputed"])


def test_make_eval_files_splits_by_prompt(tmp_path):
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "make_eval_files.py"), "--generations", str(FIXTURE),
                    "--corpora", "", "--output", str(tmp_path)], check=True, capture_output=True)
    parts = {}
    for part in ("train", "dev"):
        pairs = [json.loads(line) for line in (tmp_path / f"rewardbench_real_{part}.jsonl").read_text().splitlines()]
        sets = [json.loads(line) for line in (tmp_path / f"bestofn_real_{part}.jsonl").read_text().splitlines()]
        assert pairs and sets
        assert all(prompt_split(r["test_id"]) == part for r in pairs + sets)
        parts[part] = {r["test_id"] for r in pairs + sets}
    assert not parts["train"] & parts["dev"]
    assert set(json.loads((tmp_path / "real_errors_summary.json").read_text())) == {"train", "dev"}


# --- heuristics ---------------------------------------------------------------------------

EXAMPLE = {"messages": [{"role": "system", "content": "Answer in Paris time."},
                        {"role": "user", "content": "Book 2 seats to New York on 2024-05-01, budget $1,500."}],
           "tools": [{"name": "book", "description": "", "parameters": {
               "type": "object", "required": ["city", "seats"],
               "properties": {"city": {"type": "string"}, "seats": {"type": "integer"},
                              "budget": {"type": "number"}, "date": {"type": "string"},
                              "flexible": {"type": "boolean"}}}}]}


def call(**arguments):
    return [{"name": "book", "arguments": arguments}]


def test_schema_score_is_validity_against_the_tools():
    assert schema_score(EXAMPLE, call(city="New York", seats=2)) == 1.0
    assert schema_score(EXAMPLE, call(city="New York", seats="2")) == 0.0       # wrong type
    assert schema_score(EXAMPLE, call(city="New York")) == 0.0                 # missing required
    assert schema_score(EXAMPLE, [{"name": "fly", "arguments": {}}]) == 0.0    # unknown tool
    assert schema_score(EXAMPLE, "I cannot do that") == 0.0


def test_grounded_score_is_the_share_of_values_the_user_wrote():
    assert grounded_score(EXAMPLE, call(city="new york", seats=2, budget=1500, date="2024-05-01")) == 1.0
    assert grounded_score(EXAMPLE, call(city="Paris", seats=2)) == 0.5         # the system prompt does not count
    assert grounded_score(EXAMPLE, call(city="NYC", seats=3, flexible=True)) == 0.0  # booleans are not counted
    assert grounded_score(EXAMPLE, call()) == 1.0
    assert grounded_score(EXAMPLE, "New York, 2 seats") == 0.0


def test_two_rule_score_adds_the_two():
    assert two_rule_score(EXAMPLE, call(city="New York", seats=2)) == 2.0
    assert two_rule_score(EXAMPLE, call(city="Paris", seats=2)) == 1.5
    assert two_rule_score(EXAMPLE, call(city="New York", seats="2")) == 1.0


def test_bench_scores_with_a_heuristic(tmp_path):
    from toolrm_beam.runners import bench

    rows = [{"tools": json.dumps([{"type": "function", "function": t} for t in EXAMPLE["tools"]]),
             "conversation": EXAMPLE["messages"], "error_type": "parameter_value_error",
             "chosen_output": json.dumps(call(city="New York", seats=2)),
             "rejected_output": json.dumps(call(city="Boston", seats=2))}]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = type("Args", (), {"pairs": str(path), "scorer": "heuristic", "model": None, "device": "cpu",
                             "max_length": 512})()
    result = bench.rewardbench(args)
    assert result["scorer"] == "heuristic" and result["accuracy"] == 1.0
