"""GenerateWithLLM end to end on TestPipeline: a tiny real model, a scripted
handler with known right and wrong calls, and the HTTP handler against a
loopback server that fails one example on purpose."""
from __future__ import annotations

import collections

import apache_beam as beam
import pyarrow as pa
import pytest
from apache_beam.ml.inference.base import ModelHandler
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that
from jsonschema import Draft202012Validator

from toolrm_beam.schemas.errors import ErrorType
from toolrm_beam.schemas.records import CANDIDATE_ARROW_SCHEMA, CANDIDATE_JSON_FIELDS, CANDIDATE_JSON_SCHEMA, candidate_id, to_row
from toolrm_beam.transforms.dead_letter import DEAD_LETTER_SCHEMA
from toolrm_beam.transforms.llm import GenerateWithLLM, GenerationResult, OpenAICompatibleHandler, TransformersChatHandler

from llm_fixtures import (fault, faulty_server, require_llm_dependencies, sample_examples,  # noqa: F401
                          tiny_chat_model)

require_llm_dependencies()

CANDIDATE_VALIDATOR = Draft202012Validator(CANDIDATE_JSON_SCHEMA)
ERROR_VALUES = {e.value for e in ErrorType}

RIGHT = '[{"name": "get_user_info", "arguments": {"user_id": 7890, "special": "black"}}]'
WRONG_VALUE = '[{"name": "get_user_info", "arguments": {"user_id": 7891, "special": "black"}}]'
RIGHT_AS_TOOL_CALLS = [{"name": "get_user_info", "arguments": {"user_id": 7890, "special": "black"}}]
PROSE = "I am not able to look that up."
UBER_RIGHT = 'uber.ride(loc="2020 Addison Street, Berkeley, CA, USA", type="comfort", time=600)'


def pipeline():
    return BeamTestPipeline(runner=FnApiRunner())


def sound(candidates, dead_letters):
    """What every output record must satisfy: the published schemas."""
    for candidate in candidates:
        CANDIDATE_VALIDATOR.validate(candidate)
    pa.Table.from_pylist([to_row(c, CANDIDATE_JSON_FIELDS) for c in candidates], schema=CANDIDATE_ARROW_SCHEMA)
    pa.Table.from_pylist(list(dead_letters), schema=DEAD_LETTER_SCHEMA)


class _Loaded:
    """Stands for a model (RunInference wants an object it can weakly reference)."""


class ScriptedHandler(ModelHandler):
    """Answers each example with scripted outputs; fails on purpose where told.

    `explode`: example ids whose batch raises (RunInference dead-letters it).
    `errors`: example id -> (code, message) returned on the result.
    """

    def __init__(self, script, explode=(), errors=None):
        super().__init__(max_batch_size=1)  # one request per batch: a raise takes only its own request
        self.script, self.explode, self.errors = script, set(explode), dict(errors or {})
        self.model_name = "fake"

    def load_model(self):
        return _Loaded()

    def run_inference(self, batch, model, inference_args=None):
        for request in batch:
            if request.example_id in self.explode:
                raise RuntimeError(f"scripted failure for {request.example_id}")
        results = []
        for request in batch:
            code, message = self.errors.get(request.example_id, (None, None))
            results.append(GenerationResult.for_request(request, self.script.get(request.example_id, []), "fake",
                                                        error=message, error_code=code))
        return results


def test_labels_and_origins_with_known_right_and_wrong_calls(sample_examples):
    ex0, ex1, ex2 = (e["example_id"] for e in sample_examples)
    script = {ex0: [RIGHT, WRONG_VALUE, RIGHT_AS_TOOL_CALLS, PROSE], ex2: [UBER_RIGHT]}
    handler = ScriptedHandler(script, explode={ex1}, errors={ex2: ("timeout", "no answer within 1s")})

    def check_sampled(candidates):
        sound(candidates, [])
        by_id = collections.defaultdict(list)
        for c in candidates:
            assert c["origin"] == "llm-sample:fake" and c["score"] is None and c["scorer"] is None
            by_id[c["example_id"]].append(c)
        # The right call given as text and as tool_calls is one candidate (same content hash).
        labels = sorted((c["correct"], c["error_type"]) for c in by_id[ex0])
        assert labels == [(False, "parameter_value_error"), (False, "parsing_error"), (True, None)]
        right = next(c for c in by_id[ex0] if c["correct"])
        assert right["output"] == RIGHT_AS_TOOL_CALLS and right["detail"] is None
        assert right["candidate_id"] == candidate_id(ex0, RIGHT_AS_TOOL_CALLS)
        prose = next(c for c in by_id[ex0] if c["error_type"] == "parsing_error")
        assert prose["output"] == PROSE and prose["detail"].startswith("decode:")
        # Outputs that arrived with a partial failure still become candidates.
        (uber,) = by_id[ex2]
        assert uber["correct"] and uber["output"][0]["name"] == "uber.ride"
        assert ex1 not in by_id

    def check_perturbed(candidates):
        sound(candidates, [])
        got = sorted((c["origin"], c["error_type"]) for c in candidates)
        # Only what the checker finds wrong is kept, labelled with the checker's error type.
        assert got == [("llm-perturb:fake:missing_optional_parameter", "parameter_value_error"),
                       ("llm-perturb:fake:missing_optional_parameter", "parsing_error"),
                       ("llm-perturb:fake:parameter_value_error", "parameter_value_error"),
                       ("llm-perturb:fake:parameter_value_error", "parsing_error")]
        assert all(c["example_id"] == ex0 and c["correct"] is False for c in candidates)

    def check_dead(mode, expected):
        def matcher(records):
            sound([], records)
            got = sorted((r["reason"], r["raw_row"]) for r in records)
            assert got == sorted(expected), (mode, got)
            for record in records:
                assert record["source_file"] == "llm:fake" and record["stage"] == "generate"
                assert record["row_number"] == 0 and record["detail"]
        return matcher

    with pipeline() as p:
        examples = p | beam.Create(sample_examples)
        sampled = examples | "Sample" >> GenerateWithLLM(handler, mode="sample", samples=4, temperature=1.0,
                                                         max_new_tokens=64, seed=0)
        perturbed = examples | "Perturb" >> GenerateWithLLM(
            handler, mode="perturb", samples=1, temperature=1.0, max_new_tokens=64, seed=0,
            error_types=["parameter_value_error", "missing_optional_parameter"])
        assert_that(sampled["candidates"], check_sampled, label="SampledCandidates")
        assert_that(perturbed["candidates"], check_perturbed, label="PerturbedCandidates")
        assert_that(sampled["dead_letter"], check_dead("sample", [
            ("generate:inference_failed", ex1), ("generate:timeout", ex2)]), label="SampledDead")
        # ex2 has no optional parameter in its reference: only one perturbation asked of it.
        assert_that(perturbed["dead_letter"], check_dead("perturb", [
            ("generate:inference_failed", ex1), ("generate:inference_failed", ex1),
            ("generate:timeout", ex2)]), label="PerturbedDead")


def test_tiny_transformers_model_end_to_end(tiny_chat_model, sample_examples):
    """Random weights write garbage: every candidate must be labelled wrong, and nothing crash."""
    handler = TransformersChatHandler(tiny_chat_model, model_name="tiny-qwen3", max_batch_size=4)
    ids = {e["example_id"] for e in sample_examples}

    def check_sampled(candidates):
        sound(candidates, [])
        assert 3 <= len(candidates) <= 6
        assert {c["example_id"] for c in candidates} == ids
        for c in candidates:
            assert c["origin"] == "llm-sample:tiny-qwen3"
            assert c["correct"] is False and c["error_type"] in ERROR_VALUES and c["detail"]

    def check_perturbed(candidates):
        sound(candidates, [])
        assert candidates and {c["example_id"] for c in candidates} <= ids
        for c in candidates:
            assert c["origin"] in ("llm-perturb:tiny-qwen3:parameter_value_error",
                                   "llm-perturb:tiny-qwen3:unexpected_parameter")
            assert c["correct"] is False and c["error_type"] in ERROR_VALUES

    def nothing(records):
        assert list(records) == [], records

    with pipeline() as p:
        examples = p | beam.Create(sample_examples)
        sampled = examples | "Sample" >> GenerateWithLLM(handler, mode="sample", samples=2, temperature=1.0,
                                                         max_new_tokens=8, seed=1)
        perturbed = examples | "Perturb" >> GenerateWithLLM(
            handler, mode="perturb", samples=1, temperature=1.0, max_new_tokens=8, seed=1,
            error_types=["parameter_value_error", "unexpected_parameter"])
        assert_that(sampled["candidates"], check_sampled, label="SampledCandidates")
        assert_that(perturbed["candidates"], check_perturbed, label="PerturbedCandidates")
        assert_that(sampled["dead_letter"], nothing, label="SampledDead")
        assert_that(perturbed["dead_letter"], nothing, label="PerturbedDead")


def test_http_handler_end_to_end_dead_letters_only_the_failed_request(fault, sample_examples):
    """One example's request always gets 503: it is dead-lettered, the rest of its batch is labelled."""
    ex0, ex1, ex2 = (e["example_id"] for e in sample_examples)
    fault.rules = [("gorilla", "fail")]  # only the second example mentions gorilla
    fault.answer = RIGHT  # right for ex0, the wrong function for ex2
    handler = OpenAICompatibleHandler(fault.base_url, model="m", model_name="served", timeout_s=5, max_retries=2,
                                      backoff_initial_s=0.01, backoff_max_s=0.02)

    def check_candidates(candidates):
        sound(candidates, [])
        got = sorted((c["example_id"], c["correct"], c["error_type"], c["origin"]) for c in candidates)
        assert got == sorted([(ex0, True, None, "llm-sample:served"),
                              (ex2, False, "incorrect_function_name", "llm-sample:served")])

    def check_dead(records):
        sound([], records)
        (record,) = records
        assert record["reason"] == "generate:http_status" and record["raw_row"] == ex1
        assert "503" in record["detail"] and "3 attempt" in record["detail"]

    with pipeline() as p:
        out = (p | beam.Create(sample_examples)
               | GenerateWithLLM(handler, mode="sample", samples=2, temperature=0.5, max_new_tokens=32, seed=0))
        assert_that(out["candidates"], check_candidates, label="Candidates")
        assert_that(out["dead_letter"], check_dead, label="Dead")
    assert fault.requests_for("fail") == 3


def test_generate_rejects_bad_settings():
    handler = ScriptedHandler({})
    with pytest.raises(ValueError, match="mode"):
        GenerateWithLLM(handler, mode="rewrite")
    with pytest.raises(ValueError, match="samples"):
        GenerateWithLLM(handler, mode="sample", samples=0)
    with pytest.raises(ValueError, match="unknown error type"):
        GenerateWithLLM(handler, mode="perturb", error_types=["wrong_vibes"])
    handler.model_name = None
    with pytest.raises(ValueError, match="model_name"):
        GenerateWithLLM(handler, mode="sample")
