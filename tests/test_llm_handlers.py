"""The LLM model handlers, on a real tiny model and real loopback servers."""
from __future__ import annotations

import json
import os
import pickle
import time

import pytest

from toolrm_beam.schemas.errors import ErrorType
from toolrm_beam.transforms.llm import prompts
from toolrm_beam.transforms.llm.http_handler import GenerationFailed, OpenAICompatibleHandler, parse_choices
from toolrm_beam.transforms.llm.requests import GenerationRequest, GenerationResult, calls_from_tool_calls, strip_reasoning
from toolrm_beam.transforms.llm.transformers_handler import ChatModel, TransformersChatHandler
from toolrm_beam.transforms.model_files import copy_model_dir, resolve_model_path
from toolrm_beam.transforms.llm.vllm_handler import VLLM_MISSING, VLLMChatHandler, VLLMEngine, sampling_params_kwargs

from llm_fixtures import (fault, faulty_server, require_llm_dependencies, sample_examples,  # noqa: F401
                          tiny_chat_model, transformers_server)

require_llm_dependencies()


def make_request(key="ex:0#sample", content="hello", n=1, seed=7, **overrides):
    fields = dict(key=key, example_id=key.split("#")[0], messages=[{"role": "user", "content": content}],
                  tools=[], n=n, temperature=1.0, max_new_tokens=8, seed=seed, mode="sample", target_error=None)
    fields.update(overrides)
    return GenerationRequest(**fields)


# ----------------------------------------------------------------- requests and prompts

def test_request_validates_and_is_immutable():
    request = make_request()
    assert isinstance(request.messages, tuple) and isinstance(request.tools, tuple)
    with pytest.raises(Exception):
        request.n = 3
    with pytest.raises(ValueError, match="mode"):
        make_request(mode="rewrite")
    with pytest.raises(ValueError, match="n must be"):
        make_request(n=0)
    with pytest.raises(ValueError, match="target_error"):
        make_request(mode="perturb")
    assert pickle.loads(pickle.dumps(request)) == request


def test_tool_calls_and_reasoning_are_decoded():
    calls = calls_from_tool_calls([{"id": "c", "type": "function",
                                    "function": {"name": "f", "arguments": '{"a": 1}'}},
                                   {"function": {"name": "g", "arguments": "{broken"}}])
    assert calls == [{"name": "f", "arguments": {"a": 1}}, {"name": "g", "arguments": "{broken"}]
    assert strip_reasoning("<think>\nhmm\n</think>\n\n[]") == "[]"


def test_prompts_are_deterministic_and_use_openai_tools(sample_examples):
    example = sample_examples[0]
    (sample,) = prompts.build_requests(example, mode="sample", samples=3, temperature=0.7, max_new_tokens=64, seed=1)
    assert sample == prompts.build_requests(example, mode="sample", samples=3, temperature=0.7,
                                            max_new_tokens=64, seed=1)[0]
    assert sample.n == 3 and sample.mode == "sample" and list(sample.messages) == example["messages"]
    assert sample.tools[0] == {"type": "function", "function": example["tools"][0]}
    assert sample.seed != prompts.build_requests(example, mode="sample", samples=3, temperature=0.7,
                                                 max_new_tokens=64, seed=2)[0].seed

    perturb = prompts.build_requests(example, mode="perturb", samples=2, temperature=1.0, max_new_tokens=64, seed=1)
    assert [r.target_error for r in perturb] == list(prompts.DEFAULT_PERTURB_ERRORS)
    assert len({r.key for r in perturb}) == len(perturb) and len({r.seed for r in perturb}) == len(perturb)
    value_error = perturb[0]
    system, user = value_error.messages
    assert system["role"] == "system" and '"arguments"' in system["content"]
    # The concrete correct call, the tools and the error's description are in the prompt.
    assert '[{"name": "get_user_info", "arguments": {"user_id": 7890, "special": "black"}}]' in user["content"]
    assert '"get_user_info"' in user["content"] and "Parameter value error" in user["content"]
    assert value_error.tools == ()


def test_concrete_reference_skips_omission_markers_and_nests():
    reference = [{"name": "f", "arguments": {"a": ["", 3], "b": [""], "c": [{"x": ["", "y"], "z": [""]}]}}]
    assert prompts.concrete_reference(reference) == [{"name": "f", "arguments": {"a": 3, "c": {"x": "y"}}}]


def test_perturbation_needs_a_reference_and_an_applicable_parameter(sample_examples):
    example = dict(sample_examples[0])
    assert "missing_optional_parameter" in prompts.applicable_errors(example, prompts.DEFAULT_PERTURB_ERRORS)
    only_required = dict(example, reference=[{"name": "get_user_info", "arguments": {"user_id": [7890]}}])
    assert "missing_optional_parameter" not in prompts.applicable_errors(only_required, ["missing_optional_parameter"])
    no_call = dict(example, reference=[], reference_kind="no_call")
    assert prompts.build_requests(no_call, mode="perturb", samples=1, temperature=1, max_new_tokens=8, seed=0) == []
    assert len(prompts.build_requests(no_call, mode="sample", samples=1, temperature=1, max_new_tokens=8, seed=0)) == 1
    assert set(prompts.ERROR_DESCRIPTIONS) == set(ErrorType)


# ----------------------------------------------------------------- transformers

@pytest.fixture(scope="module")
def tiny_handler_and_model(tiny_chat_model):
    handler = TransformersChatHandler(tiny_chat_model, model_name="tiny", max_batch_size=4)
    return handler, handler.load_model()


def test_transformers_handler_samples_n_per_request_deterministically(tiny_handler_and_model, sample_examples):
    handler, model = tiny_handler_and_model
    assert isinstance(model, ChatModel)  # an object, not a tuple: Beam takes a weak reference to it
    requests = [r for e in sample_examples
                for r in prompts.build_requests(e, mode="sample", samples=3, temperature=1.0,
                                                max_new_tokens=6, seed=11)]
    requests.append(make_request(key="ex:greedy#sample", n=2, temperature=0.0))
    results = handler.run_inference(requests, model)
    assert [r.key for r in results] == [r.key for r in requests]
    for request, result in zip(requests, results):
        assert isinstance(result, GenerationResult) and result.error is None and result.model == "tiny"
        assert len(result.outputs) == request.n and all(isinstance(o, str) and o for o in result.outputs)
    assert len(set(results[0].outputs)) > 1  # samples differ from each other
    assert results[-1].outputs[0] == results[-1].outputs[1]  # temperature 0 is greedy

    # Same seed, same samples, whatever the batch holds or its order.
    again = handler.run_inference(list(reversed(requests)), model)[::-1]
    assert [r.outputs for r in again] == [r.outputs for r in results]
    (alone,) = handler.run_inference([requests[1]], model)
    assert alone.outputs == results[1].outputs
    reseeded = handler.run_inference([GenerationRequest(**{**requests[0].__dict__, "seed": 12})], model)
    assert reseeded[0].outputs != results[0].outputs


def test_transformers_handler_settings(tiny_chat_model):
    cpu = TransformersChatHandler(tiny_chat_model)
    assert not cpu.share_model_across_processes() and cpu.batch_elements_kwargs() == {"max_batch_size": 8}
    assert cpu.model_name == os.path.basename(tiny_chat_model)
    assert TransformersChatHandler(tiny_chat_model, device="cuda").share_model_across_processes()
    pickle.dumps(cpu)  # Beam pickles the handler into workers
    with pytest.raises(ValueError, match="device"):
        TransformersChatHandler(tiny_chat_model, device="tpu")
    with pytest.raises(ValueError, match="inference_args"):
        cpu.validate_inference_args({"temperature": 1})


def test_model_path_is_local_or_copied_never_a_hub_id(tiny_chat_model, tmp_path):
    assert resolve_model_path(tiny_chat_model) == tiny_chat_model
    with pytest.raises(FileNotFoundError, match="allow_hub"):
        resolve_model_path("Qwen/Qwen3-0.6B")
    assert resolve_model_path("Qwen/Qwen3-0.6B", allow_hub=True) == "Qwen/Qwen3-0.6B"
    # A URL is copied through Beam's FileSystems (here a local path stands in for gs://).
    copied = copy_model_dir(tiny_chat_model, str(tmp_path / "copy"))
    assert sorted(f for f in os.listdir(copied) if not f.startswith(".")) == \
        sorted(f for f in os.listdir(tiny_chat_model) if not f.endswith(".log"))
    assert copy_model_dir(tiny_chat_model, copied) == copied  # cached: no second copy


# ----------------------------------------------------------------- HTTP: a real transformers server

def test_http_handler_against_transformers_serve(transformers_server, tiny_chat_model, sample_examples):
    handler = OpenAICompatibleHandler(transformers_server, model=tiny_chat_model, model_name="tiny-served",
                                      timeout_s=60, max_retries=1, backoff_initial_s=0.05)
    client = handler.load_model()
    requests = [r for e in sample_examples[:2]
                for r in prompts.build_requests(e, mode="sample", samples=2, temperature=1.0,
                                                max_new_tokens=6, seed=3)]
    results = handler.run_inference(requests, client)
    for request, result in zip(requests, results):
        assert result.error is None, result.error
        assert result.key == request.key and result.model == "tiny-served"
        assert len(result.outputs) == 2 and all(isinstance(o, str) for o in result.outputs)
    # transformers serve answers one choice whatever `n` says: the handler noticed and topped up.
    assert client.server_ignores_n


# ----------------------------------------------------------------- HTTP: faults

def fast_handler(server, **overrides):
    # The timeout leaves a loaded 2-core CI machine time to answer the fast
    # scenarios; "slow" answers after `slow_s` (3 s), well past it.
    settings = dict(model="m", model_name="fake", timeout_s=1.0, max_retries=2, backoff_initial_s=0.01,
                    backoff_max_s=0.05)
    settings.update(overrides)
    return OpenAICompatibleHandler(server.base_url, **settings)


def test_http_ok_uses_n_and_passes_tools(fault):
    handler = fast_handler(fault, n_strategy="api")
    request = make_request(n=3, tools=prompts.openai_tools([{"name": "f", "description": "", "parameters":
                                                             {"type": "object", "properties": {}}}]))
    (result,) = handler.run_inference([request], handler.load_model())
    assert result.error is None and result.outputs == [fault.answer] * 3
    ((_, body, _),) = fault.log
    assert body["n"] == 3 and body["tools"][0]["function"]["name"] == "f"
    assert body["seed"] == 7 and body["max_tokens"] == 8 and body["model"] == "m"


def test_http_repeat_strategy_varies_the_seed(fault):
    handler = fast_handler(fault, n_strategy="repeat")
    (result,) = handler.run_inference([make_request(n=3)], handler.load_model())
    assert len(result.outputs) == 3
    assert sorted(body["seed"] for _, body, _ in fault.log) == [7, 8, 9]
    assert all("n" not in body for _, body, _ in fault.log)


def test_http_tool_calls_are_decoded(fault):
    fault.default = "tool"
    handler = fast_handler(fault)
    (result,) = handler.run_inference([make_request()], handler.load_model())
    assert result.outputs == [[{"name": "get_user_info", "arguments": {"user_id": 7890, "special": "black"}}]]


def test_http_timeout_is_retried_then_reported(fault):
    fault.rules = [("never-answers", "slow"), ("answers-late-once", "slow_once")]
    handler = fast_handler(fault)
    started = time.monotonic()
    timed_out, recovered = handler.run_inference(
        [make_request(key="a#sample", content="never-answers"), make_request(key="b#sample", content="answers-late-once")],
        handler.load_model())
    assert time.monotonic() - started < 3 * 1.0 + 4  # three timed-out attempts, not the server's 3 s each
    assert timed_out.error_code == "timeout" and timed_out.outputs == [] and "3 attempt" in timed_out.error
    assert fault.requests_for("slow") == 3  # first try + 2 retries
    assert recovered.error is None and recovered.outputs == [fault.answer]


def test_http_500_then_success_is_retried(fault):
    fault.rules = [("flaky", "flaky"), ("limited", "limited")]
    handler = fast_handler(fault)
    flaky, limited = handler.run_inference([make_request(key="a#sample", content="flaky"),
                                            make_request(key="b#sample", content="limited")], handler.load_model())
    assert flaky.error is None and flaky.outputs == [fault.answer]
    assert limited.error is None and limited.outputs == [fault.answer]
    assert fault.requests_for("flaky") == 2 and fault.requests_for("limited") == 2


def test_http_malformed_bodies_fail_after_retries(fault):
    fault.rules = [("html", "garbage"), ("empty", "nochoices")]
    handler = fast_handler(fault)
    garbage, empty = handler.run_inference([make_request(key="a#sample", content="html"),
                                            make_request(key="b#sample", content="empty")], handler.load_model())
    assert garbage.error_code == "bad_response" and "not JSON" in garbage.error
    assert empty.error_code == "bad_response" and "no choices" in empty.error
    assert fault.requests_for("garbage") == 3 and fault.requests_for("nochoices") == 3
    with pytest.raises(Exception, match="choice without a message"):
        parse_choices(json.dumps({"choices": [{"index": 0}]}))


def test_http_failing_request_does_not_sink_its_batch(fault):
    fault.rules = [("doomed", "fail"), ("rejected", "bad")]
    handler = fast_handler(fault)
    batch = [make_request(key="a#sample", content="fine"), make_request(key="b#sample", content="doomed", n=2),
             make_request(key="c#sample", content="rejected"), make_request(key="d#sample", content="fine too")]
    results = handler.run_inference(batch, handler.load_model())
    assert [r.key for r in results] == ["a#sample", "b#sample", "c#sample", "d#sample"]
    assert results[0].error is None and results[3].error is None
    assert results[1].error_code == "http_status" and "503" in results[1].error and results[1].outputs == []
    assert results[2].error_code == "http_status" and "400" in results[2].error
    assert fault.requests_for("bad") == 1  # a 400 is not retried
    with pytest.raises(GenerationFailed, match="2 of 4 request"):
        fast_handler(fault, raise_on_failure=True).run_inference(batch, handler.load_model())


def test_http_concurrency_cap_and_rate_limit(fault):
    fault.hold_s = 0.3  # long enough that a loaded machine still overlaps two requests
    handler = fast_handler(fault, max_concurrency=2, timeout_s=5)
    results = handler.run_inference([make_request(key=f"e{i}#sample") for i in range(6)], handler.load_model())
    assert all(r.error is None for r in results) and fault.max_in_flight == 2  # concurrent, capped

    fault.reset()
    limited = fast_handler(fault, requests_per_second=20, timeout_s=5)
    started = time.monotonic()
    limited.run_inference([make_request(key=f"e{i}#sample") for i in range(5)], limited.load_model())
    assert time.monotonic() - started >= 0.19  # 5 starts, 1/20 s apart


def test_http_api_key_comes_from_the_environment_and_stays_hidden(fault, monkeypatch):
    handler = fast_handler(fault, api_key_env="TOOLRM_TEST_KEY")
    with pytest.raises(RuntimeError, match="TOOLRM_TEST_KEY"):
        handler.load_model()
    monkeypatch.setenv("TOOLRM_TEST_KEY", "sk-secret-123")
    client = handler.load_model()
    assert "sk-secret" not in repr(client) and "sk-secret" not in repr(pickle.dumps(handler))
    handler.run_inference([make_request()], client)
    ((_, _, headers),) = fault.log
    assert headers["Authorization"] == "Bearer sk-secret-123"


def test_http_handler_rejects_bad_settings():
    with pytest.raises(ValueError, match="http"):
        OpenAICompatibleHandler("127.0.0.1:8000", model="m")
    with pytest.raises(ValueError, match="n_strategy"):
        OpenAICompatibleHandler("http://127.0.0.1:1/v1", model="m", n_strategy="sometimes")


# ----------------------------------------------------------------- vLLM (no vLLM here: fakes)

class FakeSamplingParams:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


class FakeLLM:
    """Records `chat` calls; answers each conversation with n texts."""

    def __init__(self):
        self.calls = []

    def chat(self, conversations, sampling_params, use_tqdm, tools, chat_template_kwargs):
        self.calls.append({"conversations": conversations, "params": [p.kwargs for p in sampling_params],
                           "tools": tools, "chat_template_kwargs": chat_template_kwargs})

        class Choice:
            def __init__(self, text):
                self.text = text

        class Answer:
            def __init__(self, outputs):
                self.outputs = outputs

        return [Answer([Choice(f"<think>x</think>{c[-1]['content']}:{i}") for i in range(p.kwargs["n"])])
                for c, p in zip(conversations, sampling_params)]


def test_vllm_handler_constructs_without_vllm_and_explains_the_missing_engine():
    handler = VLLMChatHandler("gs://bucket/models/qwen", model_copies=2, engine_kwargs={"max_model_len": 4096})
    assert handler.share_model_across_processes() and handler.model_copies() == 2
    assert handler.model_name == "qwen"
    pickle.dumps(handler)
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install vllm on a CUDA worker"):
            handler.load_model()
    else:
        pytest.skip("vLLM is installed here")
    assert "pip install vllm on a CUDA worker" in VLLM_MISSING


def test_vllm_requests_map_to_sampling_params_and_back():
    tools_a = prompts.openai_tools([{"name": "f", "description": "", "parameters": {"type": "object", "properties": {}}}])
    requests = [make_request(key="a#sample", content="A", n=2, tools=tools_a, temperature=0.7, seed=5),
                make_request(key="b#perturb#x", content="B", n=1, mode="perturb", target_error="unexpected_parameter",
                             temperature=1.0, max_new_tokens=32, seed=6),
                make_request(key="c#sample", content="C", n=3, tools=tools_a, temperature=0.0, seed=7)]
    assert sampling_params_kwargs(requests[0], top_p=0.9) == {"n": 2, "temperature": 0.7, "max_tokens": 8,
                                                              "seed": 5, "top_p": 0.9}
    assert "top_p" not in sampling_params_kwargs(requests[2], top_p=0.9)  # greedy: no nucleus
    llm = FakeLLM()
    engine = VLLMEngine(llm, FakeSamplingParams, "qwen", top_p=0.9, chat_template_kwargs={"enable_thinking": False})
    results = VLLMChatHandler("/models/qwen").run_inference(requests, engine)
    assert [r.key for r in results] == ["a#sample", "b#perturb#x", "c#sample"]
    assert results[0].outputs == ["A:0", "A:1"] and results[1].outputs == ["B:0"]
    assert results[2].outputs == ["C:0", "C:1", "C:2"] and results[1].target_error == "unexpected_parameter"
    # One chat() call per distinct tools list, each with its requests' sampling params.
    assert len(llm.calls) == 2
    with_tools = next(c for c in llm.calls if c["tools"])
    assert with_tools["tools"] == list(tools_a) and [p["seed"] for p in with_tools["params"]] == [5, 7]
    without = next(c for c in llm.calls if not c["tools"])
    assert without["params"] == [{"n": 1, "temperature": 1.0, "max_tokens": 32, "seed": 6, "top_p": 0.9}]
    assert without["chat_template_kwargs"] == {"enable_thinking": False}
