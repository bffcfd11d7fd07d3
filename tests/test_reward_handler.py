"""Reward-model scoring: token-budget batching, serialization and truncation, the
transformers handler on a tiny real Qwen3 reward model (also inside a Beam
pipeline), and the vLLM backend with a fake engine."""
from __future__ import annotations

import json
import os
import random
import sys
import types

import pytest

pytest.importorskip("torch", reason="torch is needed for the reward-model tests")
pytest.importorskip("transformers", reason="transformers is needed for the reward-model tests")

import apache_beam as beam  # noqa: E402
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference  # noqa: E402
from apache_beam.runners.portability.fn_api_runner import FnApiRunner  # noqa: E402
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # noqa: E402
from apache_beam.testing.util import assert_that  # noqa: E402

from reward_fixtures import (  # noqa: E402
    CHAT_TEMPLATE, build_tiny_reward_model, call_output, make_candidate, make_test_example, training_texts)
from toolrm_beam.transforms.reward import serialize as ser  # noqa: E402
from toolrm_beam.transforms.reward.batching import (  # noqa: E402
    fixed_size_batches, padded_tokens, padding_waste, token_budget_batches)
from toolrm_beam.transforms.reward.transformers_rm import (  # noqa: E402
    ScoreRequest, TransformersRewardHandler, as_score_request, pad_token_id_for)
from toolrm_beam.transforms.reward.vllm_rm import VLLM_MISSING, VLLMRewardEngine, VLLMRewardHandler, output_score  # noqa: E402

TOLERANCE = 1e-4


# --- fixtures -------------------------------------------------------------------

@pytest.fixture(scope="module")
def examples():
    """Short and long examples (long: many tools with long descriptions, several turns)."""
    short = [make_test_example(i, tools=1, turns=1, description_words=3, user_words=4) for i in range(4)]
    long = [make_test_example(10 + i, tools=6, turns=4, description_words=12, user_words=12) for i in range(3)]
    return short + long


@pytest.fixture(scope="module")
def rm_path(tmp_path_factory, examples):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield build_tiny_reward_model(tmp_path_factory.mktemp("tiny-qwen3-rm"), training_texts(examples))


@pytest.fixture(scope="module")
def scorer(rm_path):
    return TransformersRewardHandler(rm_path, max_length=4096, max_batch_tokens=4096).load_model()


@pytest.fixture(scope="module")
def tokenizer(scorer):
    return scorer.serializer.tokenizer


def requests_for(examples):
    """Per example: the reference call, a wrong-tool call and a text answer."""
    requests = []
    for example in examples:
        requests.append(ScoreRequest(example, make_candidate(example, call_output(example))))
        requests.append(ScoreRequest(example, make_candidate(example, call_output(example, value="berlin"))))
        requests.append(ScoreRequest(example, make_candidate(example, "sure here it is")))
    return requests


def contains(sequence, part) -> bool:
    n = len(part)
    return any(list(sequence[i:i + n]) == list(part) for i in range(len(sequence) - n + 1))


# --- batching -------------------------------------------------------------------

def test_token_budget_batches_cover_every_row_once_within_budget():
    rng = random.Random(0)
    lengths = [rng.randint(1, 900) for _ in range(300)]
    batches = token_budget_batches(lengths, 2000)
    assert sorted(i for b in batches for i in b) == list(range(300))
    for batch in batches:
        assert max(lengths[i] for i in batch) * len(batch) <= 2000
        assert [lengths[i] for i in batch] == sorted((lengths[i] for i in batch), reverse=True)
    firsts = [lengths[b[0]] for b in batches]
    assert firsts == sorted(firsts, reverse=True)  # longest batch first
    naive = fixed_size_batches(300, 8)
    assert padding_waste(lengths, batches) < 0.1 < padding_waste(lengths, naive)
    assert token_budget_batches(lengths, 2000) == batches  # deterministic


def test_token_budget_batches_edge_cases():
    assert token_budget_batches([], 10) == []
    assert token_budget_batches([50, 3, 3], 10) == [[0], [1, 2]]  # an over-budget row goes alone
    assert token_budget_batches([2, 2, 2, 2, 2], 100, max_rows=2) == [[0, 1], [2, 3], [4]]
    assert token_budget_batches([0, 0, 4], 8) == [[2, 0], [1]]
    for bad in ({"max_tokens": 0}, {"max_tokens": 5, "max_rows": 0}):
        with pytest.raises(ValueError):
            token_budget_batches([1], **bad)
    with pytest.raises(ValueError):
        token_budget_batches([-1], 5)
    assert padded_tokens([10, 2], [[0, 1]]) == 20
    assert padding_waste([10, 2], [[0, 1]]) == pytest.approx(0.4)
    assert padding_waste([10, 2], [[0], [1]]) == 0.0
    assert fixed_size_batches(5, 2) == [[0, 1], [2, 3], [4]]


# --- serialization -------------------------------------------------------------

def test_template_renders_tools_conversation_and_candidate_calls(tokenizer, examples):
    example = examples[4]
    output = call_output(example, tool=2)
    serialized = ser.RewardSerializer(tokenizer, 4096).serialize(example, output)
    assert serialized.truncation == ""
    text = serialized.text
    for tool in example["tools"]:
        assert json.dumps(tool["name"]) in text and tool["description"] in text
    assert example["messages"][-1]["content"] in text
    assert '"arguments": {"city": "paris"}' in text  # an earlier call in the conversation
    name = example["tools"][2]["name"]
    assert serialized.candidate_text == (
        f'<|im_start|>assistant\n\n<tool_call>{{"name": "{name}", "arguments": {{"p0_{name}": "paris"}}}}'
        "</tool_call><|im_end|>\n")
    candidate_ids = tokenizer(serialized.candidate_text, add_special_tokens=False)["input_ids"]
    assert serialized.input_ids[-len(candidate_ids):] == candidate_ids
    assert serialized.candidate_tokens == len(candidate_ids)
    assert tokenizer.convert_ids_to_tokens(serialized.input_ids).count("<unk>") == 0

    text_answer = ser.RewardSerializer(tokenizer, 4096).serialize(example, "sure here it is")
    assert text_answer.candidate_text == "<|im_start|>assistant\nsure here it is<|im_end|>\n"
    assert ser.candidate_message([]) == {"role": "assistant", "content": ""}
    assert ser.candidate_message({"name": "f", "arguments": {"a": 1}}, "object")["tool_calls"][0]["function"] == {
        "name": "f", "arguments": {"a": 1}}


def test_plain_format_without_template(tokenizer, examples):
    example = examples[0]
    serializer = ser.RewardSerializer(tokenizer, 4096, use_chat_template="never")
    serialized = serializer.serialize(example, call_output(example))
    lines = serialized.text.split("\n")
    assert lines[0].startswith('<tools>[{"type": "function"') and lines[0].endswith("</tools>")
    assert lines[1] == "<system>you plan my trip</system>"
    assert lines[2].startswith("<user>") and lines[2].endswith("</user>")
    assert lines[-1] == f"<assistant>{json.dumps(call_output(example))}</assistant>"
    assert serialized.candidate_text == "\n" + lines[-1]

    class NoTemplate:
        chat_template = None
    with pytest.raises(ValueError, match="no chat template"):
        ser.RewardSerializer(NoTemplate(), 10, use_chat_template="always")
    with pytest.raises(ValueError):
        ser.RewardSerializer(tokenizer, 0)


def test_description_stripping_keeps_property_names():
    tool = {"name": "t", "description": "d", "parameters": {"type": "object", "properties": {
        "description": {"type": "string", "description": "a property named description"},
        "nested": {"type": "object", "description": "n", "properties": {"x": {"type": "integer", "description": "x"}}},
        "listed": {"type": "array", "items": {"type": "string", "description": "i"}}}}}
    stripped = ser.strip_parameter_descriptions([tool])[0]
    assert stripped["description"] == "d"
    assert stripped["parameters"]["properties"] == {
        "description": {"type": "string"}, "nested": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "listed": {"type": "array", "items": {"type": "string"}}}
    assert ser.strip_tool_descriptions([tool])[0]["description"] == ""
    assert tool["parameters"]["properties"]["description"]["description"]  # input untouched


def test_turn_grouping_keeps_system_and_last_user_turn():
    messages = [{"role": "system"}, {"role": "assistant"}, {"role": "user"}, {"role": "assistant"},
                {"role": "tool"}, {"role": "user"}, {"role": "assistant"}, {"role": "user"}, {"role": "tool"}]
    assert ser.droppable_turns(messages) == [(1, 2), (2, 5), (5, 7)]
    assert [m["role"] for m in ser.drop_turns(messages, 2)] == ["system", "user", "assistant", "user", "tool"]
    assert ser.droppable_turns([{"role": "system"}, {"role": "user"}]) == []


def _stage_lengths(serializer, example, output):
    """Token counts after each cumulative truncation stage, computed independently."""
    history = [ser._history_message(m, "string") for m in example["messages"]]
    candidate = ser.candidate_message(output)
    called = ser.called_tool_names(output)
    tools = list(example["tools"])
    lengths = [serializer._length(history, tools, candidate)]
    tools = ser.strip_parameter_descriptions(tools)
    lengths.append(serializer._length(history, tools, candidate))
    tools = ser.strip_tool_descriptions(tools)
    lengths.append(serializer._length(history, tools, candidate))
    uncalled = sum(1 for t in tools if t["name"] not in called)
    tools = ser.drop_uncalled_tools(tools, called, uncalled)
    lengths.append(serializer._length(history, tools, candidate))
    turns = len(ser.droppable_turns(history))
    lengths.append(serializer._length(ser.drop_turns(history, turns), tools, candidate))
    return lengths, uncalled, turns


def test_truncation_steps_in_order_never_cut_the_candidate(tokenizer, examples):
    example = examples[5]
    output = call_output(example, tool=3)
    stages, uncalled, turns = _stage_lengths(ser.RewardSerializer(tokenizer, 10 ** 6), example, output)
    full, params, descriptions, no_tools, no_turns = stages
    assert full > params > descriptions > no_tools > no_turns
    expectations = [
        (full, ""),
        (params, "param_descriptions"),
        (descriptions, "param_descriptions,tool_descriptions"),
        (no_tools, f"param_descriptions,tool_descriptions,uncalled_tools:{uncalled}"),
        (no_turns, f"param_descriptions,tool_descriptions,uncalled_tools:{uncalled},turns:{turns}"),
        (no_turns - 7, f"param_descriptions,tool_descriptions,uncalled_tools:{uncalled},turns:{turns},head_tokens:7"),
    ]
    name = example["tools"][3]["name"]
    for limit, expected in expectations:
        serialized = ser.RewardSerializer(tokenizer, limit).serialize(example, output)
        assert serialized.truncation == expected, limit
        assert len(serialized.input_ids) <= limit
        candidate_ids = tokenizer(serialized.candidate_text, add_special_tokens=False)["input_ids"]
        assert serialized.input_ids[-len(candidate_ids):] == candidate_ids
        assert tokenizer.decode(candidate_ids) in tokenizer.decode(serialized.input_ids)
        assert f'"name": "{name}"' in serialized.candidate_text
        if "head_tokens" not in expected:
            assert example["messages"][-1]["content"] in serialized.text  # the last user turn stays
            assert json.dumps(name) in serialized.text.split("<|im_end|>")[0]  # the called tool stays listed

    # Between stages, as few tools and turns as fit are dropped.
    partial = ser.RewardSerializer(tokenizer, descriptions - 1).serialize(example, output)
    assert partial.truncation == "param_descriptions,tool_descriptions,uncalled_tools:1"
    partial = ser.RewardSerializer(tokenizer, no_tools - 1).serialize(example, output)
    assert partial.truncation.endswith(",turns:1")


def test_candidate_longer_than_the_limit_is_not_scored(tokenizer, examples):
    example = examples[0]
    serializer = ser.RewardSerializer(tokenizer, 10)
    serialized = serializer.serialize(example, "sure here it is " * 10)
    assert serialized.skipped and serialized.input_ids == []
    assert serialized.truncation == ser.CANDIDATE_TOO_LONG
    assert serialized.candidate_tokens > 10


# --- the transformers handler ----------------------------------------------------

def test_scores_are_deterministic_in_order_and_padding_invariant(rm_path, scorer, examples):
    requests = requests_for(examples)
    random.Random(1).shuffle(requests)
    results = scorer.score(requests)
    assert [r.candidate_id for r in results] == [q.candidate["candidate_id"] for q in requests]
    assert all(r.error is None and r.truncation == "" and r.scorer == "tiny-qwen3-rm0" for r in results)
    lengths = [r.tokens for r in results]
    assert max(lengths) > 4 * min(lengths)  # very different lengths in one batch
    assert len({round(r.score, 6) for r in results}) > len(results) // 2  # the scores differ

    alone = [scorer.score([request])[0].score for request in requests]
    assert max(abs(a - r.score) for a, r in zip(alone, results)) < TOLERANCE

    again = TransformersRewardHandler(rm_path, max_batch_tokens=4096).load_model().score(requests)
    assert [r.score for r in again] == [r.score for r in results]


def test_micro_batches_respect_the_token_budget(rm_path, examples):
    scorer = TransformersRewardHandler(rm_path, max_length=1024, max_batch_tokens=1500,
                                       prefix_sharing=False).load_model()
    shapes = []
    forward = scorer.forward

    def spy(rows):
        shapes.append((len(rows), max(len(r) for r in rows), [len(r) for r in rows]))
        return forward(rows)

    scorer.forward = spy
    requests = requests_for(examples)
    results = scorer.score(requests)
    assert len(shapes) > 1 and sum(n for n, _, _ in shapes) == len(requests)
    for rows, width, row_lengths in shapes:
        assert rows * width <= 1500
        assert width == max(row_lengths)  # padded to the micro-batch's own longest row
    widths = [w for _, w, _ in shapes]
    assert widths == sorted(widths, reverse=True)
    assert sorted(r.tokens for r in results) == sorted(length for _, _, ls in shapes for length in ls)


def test_rows_that_cannot_be_scored_do_not_fail_their_neighbours(rm_path, examples):
    scorer = TransformersRewardHandler(rm_path, max_length=300, max_batch_tokens=600).load_model()
    short, long = examples[0], examples[4]
    broken = dict(short, tools=[{"description": "a tool without a name"}])
    requests = [ScoreRequest(short, make_candidate(short, call_output(short))),
                ScoreRequest(long, make_candidate(long, "sure " * 400)),
                ScoreRequest(broken, make_candidate(broken, "sure")),
                ScoreRequest(long, make_candidate(long, call_output(long)))]
    results = scorer.score(requests)
    assert results[0].score is not None and results[0].truncation == ""
    assert results[1].score is None and results[1].error == "score:candidate_too_long"
    assert results[1].truncation == "candidate_too_long" and results[1].tokens == 0
    assert results[2].score is None and results[2].error.startswith("score:serialize_failed: KeyError")
    assert results[3].score is not None and results[3].truncation and results[3].tokens <= 300


def test_handler_settings_and_request_validation(rm_path, examples):
    handler = TransformersRewardHandler(rm_path, model_copies=2, min_batch_size=4, max_batch_size=32)
    assert handler.share_model_across_processes() and handler.model_copies() == 2
    assert handler.batch_elements_kwargs() == {"min_batch_size": 4, "max_batch_size": 32}
    assert not TransformersRewardHandler(rm_path, share_across_processes=False).share_model_across_processes()
    assert handler.get_preprocess_fns() == [as_score_request]
    KeyedModelHandler(TransformersRewardHandler(rm_path, validate_elements=False))  # Beam refuses preprocessing there
    for bad in ({"device": "tpu"}, {"dtype": "int8"}, {"max_length": 0},
                {"max_length": 100, "max_batch_tokens": 50}, {"model_copies": 0}):
        with pytest.raises(ValueError):
            TransformersRewardHandler(rm_path, **bad)
    with pytest.raises(FileNotFoundError):
        TransformersRewardHandler("some-org/some-hub-model").load_model()

    example = examples[0]
    candidate = make_candidate(example, "x")
    assert as_score_request({"example": example, "candidate": candidate}) == ScoreRequest(example, candidate)
    for bad in ("text", {"example": example}, {"example": {"example_id": "e"}, "candidate": candidate},
                {"example": dict(example, messages=[]), "candidate": candidate}):
        with pytest.raises(ValueError, match="score:bad_request"):
            as_score_request(bad)


def test_pad_token_falls_back_from_config_to_tokenizer_to_eos():
    config, tokenizer = types.SimpleNamespace, types.SimpleNamespace
    assert pad_token_id_for(config(pad_token_id=3), tokenizer(pad_token_id=5, eos_token_id=7)) == 3
    assert pad_token_id_for(config(pad_token_id=None), tokenizer(pad_token_id=5, eos_token_id=7)) == 5
    assert pad_token_id_for(config(pad_token_id=None), tokenizer(pad_token_id=None, eos_token_id=[7, 8])) == 7
    with pytest.raises(ValueError, match="pad_token_id"):
        pad_token_id_for(config(pad_token_id=None), tokenizer(pad_token_id=None, eos_token_id=None))


def test_model_without_pad_token_id_gets_one_and_scores_batches(tmp_path, examples):
    path = build_tiny_reward_model(tmp_path / "nopad", training_texts(examples[:1]), pad_in_config=False)
    scorer = TransformersRewardHandler(path).load_model()
    assert scorer.model.config.pad_token_id == scorer.pad_token_id == scorer.serializer.tokenizer.pad_token_id
    requests = requests_for(examples[:2])
    batched = [r.score for r in scorer.score(requests)]
    alone = [scorer.score([q])[0].score for q in requests]
    assert max(abs(a - b) for a, b in zip(batched, alone)) < TOLERANCE


def test_run_inference_in_a_pipeline_dead_letters_malformed_elements(rm_path, scorer, examples):
    requests = requests_for(examples[:3])
    expected = {r.candidate_id: r.score for r in scorer.score(requests)}
    elements = [{"example": q.example, "candidate": q.candidate} for q in requests]
    elements.insert(2, {"example": examples[0]})  # no candidate
    handler = TransformersRewardHandler(rm_path, max_batch_tokens=4096, min_batch_size=4, max_batch_size=16)

    def check_scores(results):
        got = {r.candidate_id: r.score for r in results}
        assert set(got) == set(expected), (sorted(got), sorted(expected))
        assert all(abs(got[k] - expected[k]) < TOLERANCE for k in got)

    def check_failures(failures):
        assert len(failures) == 1
        element, error = failures[0]
        assert "candidate" not in element and "score:bad_request" in str(error)

    with BeamTestPipeline(runner=FnApiRunner()) as pipeline:
        scored, failed = (pipeline | beam.Create(elements)
                          | RunInference(handler).with_exception_handling())
        assert_that(scored, check_scores, label="Scores")
        assert_that(failed.failed_preprocessing[0], check_failures, label="Failures")
        assert_that(failed.failed_inferences, lambda batches: not batches or pytest.fail(str(batches)),
                    label="NoInferenceFailures")


# --- the vLLM backend ----------------------------------------------------------

def test_vllm_handler_builds_without_vllm_and_says_how_to_get_it(monkeypatch):
    handler = VLLMRewardHandler("/models/rm", max_length=2048, engine_kwargs={"dtype": "bfloat16"})
    assert handler.engine_kwargs == {"runner": "pooling", "max_model_len": 2048, "dtype": "bfloat16"}
    assert handler.share_model_across_processes() and handler.model_name == "rm"
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError, installed or not
    with pytest.raises(ImportError) as error:
        handler.load_model()
    assert str(error.value) == VLLM_MISSING and "pip install vllm" in VLLM_MISSING
    with pytest.raises(ValueError):
        VLLMRewardHandler("/models/rm", model_copies=0)


class FakeLLM:
    """Stands in for `vllm.LLM`: the score of a prompt is the sum of its token ids."""

    def __init__(self, model=None, tokenizer=None, per_token=False, **kwargs):
        self.model, self.tokenizer, self.per_token, self.kwargs = model, tokenizer, per_token, kwargs
        self.calls = []

    def get_tokenizer(self):
        return self.tokenizer

    def encode(self, prompts, **kwargs):
        self.calls.append((prompts, kwargs))
        outputs = []
        for prompt in prompts:
            ids = prompt["prompt_token_ids"]
            data = [[float(sum(ids[:i + 1]))] for i in range(len(ids))] if self.per_token else [float(sum(ids))]
            outputs.append(types.SimpleNamespace(outputs=types.SimpleNamespace(data=data)))
        return outputs


def test_vllm_engine_maps_requests_to_token_prompts_and_back(tokenizer, examples):
    serializer = ser.RewardSerializer(tokenizer, 120)
    requests = requests_for(examples[:2])
    long = examples[4]
    requests.insert(1, ScoreRequest(long, make_candidate(long, "sure " * 200)))  # too long: not sent
    for per_token in (False, True):
        llm = FakeLLM(per_token=per_token)
        engine = VLLMRewardEngine(llm, serializer, "fake-rm", pooling_params=lambda: "POOLING")
        results = engine.score(requests)
        (prompts, kwargs), = llm.calls
        sent = [serializer.serialize(q.example, q.candidate["output"]).input_ids for q in requests]
        assert [p["prompt_token_ids"] for p in prompts] == [ids for ids in sent if ids]
        assert kwargs == {"pooling_task": "classify", "use_tqdm": False, "pooling_params": "POOLING"}
        assert [r.candidate_id for r in results] == [q.candidate["candidate_id"] for q in requests]
        assert [r.score for r in results] == [float(sum(ids)) if ids else None for ids in sent]
        assert results[1].error == "score:candidate_too_long" and results[0].scorer == "fake-rm"


def test_vllm_handler_loads_through_a_fake_vllm_module(monkeypatch, rm_path, tokenizer, examples):
    created = []

    def make_llm(model, **kwargs):
        created.append(FakeLLM(model=model, tokenizer=tokenizer, **kwargs))
        return created[-1]

    fake = types.ModuleType("vllm")
    fake.LLM = make_llm
    fake.PoolingParams = lambda **kwargs: ("PoolingParams", kwargs)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    handler = VLLMRewardHandler(rm_path, max_length=512)
    engine = handler.load_model()
    assert created[0].model == rm_path and created[0].kwargs == {"runner": "pooling", "max_model_len": 512}
    elements = [{"example": q.example, "candidate": q.candidate} for q in requests_for(examples[:1])]
    results = handler.run_inference(elements, engine)
    assert all(r.score is not None for r in results)
    assert created[0].calls[0][1]["pooling_params"] == ("PoolingParams", {"use_activation": False})


def test_output_score_reads_sequence_and_token_pooling():
    import torch

    wrap = lambda data: types.SimpleNamespace(outputs=types.SimpleNamespace(data=data))  # noqa: E731
    assert output_score(wrap(torch.tensor([0.25]))) == 0.25
    assert output_score(wrap(torch.tensor([[0.1], [0.2], [0.75]]))) == 0.75
    assert output_score(wrap([[1.0], [2.5]])) == 2.5
    assert output_score(wrap(3.0)) == 3.0


# --- prefix-shared scoring ------------------------------------------------------

CANDIDATE_FIRST_TEMPLATE = (
    # Puts the candidate (the last message) before the conversation: its candidates share no prefix.
    "{{ '<|im_start|>assistant\\n' }}{%- set last = messages[-1] %}"
    "{%- if last.content %}{{ last.content }}{%- endif %}"
    "{%- for call in last.tool_calls or [] %}{{ '<tool_call>' + call.function.name + ' ' + call.function.arguments"
    " + '</tool_call>' }}{%- endfor %}{{ '<|im_end|>\\n' }}"
    "{%- for message in messages[:-1] %}{{ '<|im_start|>' + message.role + '\\n' }}"
    "{%- if message.content %}{{ message.content }}{%- endif %}{{ '<|im_end|>\\n' }}{%- endfor %}"
    "{%- if tools %}{{ '<|im_start|>system\\n' }}{%- for tool in tools %}{{ tool | tojson }}{%- endfor %}"
    "{{ '<|im_end|>\\n' }}{%- endif %}"
)


@pytest.fixture(scope="module")
def real_requests():
    """BFCL and ACEBench sample examples (real tools and conversations), each with its reference and rule negatives."""
    from toolrm_beam.transforms import rules
    from toolrm_beam.transforms.corpus_examples import file_examples

    from toolrm_beam.data import SAMPLES as samples

    examples = [e for source, path in (
        ("bfcl", os.path.join(samples, "bfcl_live_sample", "BFCL_v3_live_multiple.json")),
        ("bfcl", os.path.join(samples, "bfcl_live_sample", "BFCL_v3_live_parallel.json")),
        ("acebench", os.path.join(samples, "acebench_en", "data_normal_similar_api.json")))
        for e in list(file_examples(source, path, validate=True))[:6]]
    requests = []
    for example in examples:
        candidates = [rules.reference_candidate(example)] + rules.generate_rule_candidates(
            example, seed=0, max_negatives=5)
        requests += [ScoreRequest(example, candidate) for candidate in candidates]
    random.Random(3).shuffle(requests)  # an example's candidates arrive scattered through the batch
    return requests


def _real_model(tmp_path_factory, requests, chat_template=CHAT_TEMPLATE):
    texts = training_texts({r.example["example_id"]: r.example for r in requests}.values())
    texts += [json.dumps(r.candidate["output"]) for r in requests]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        return build_tiny_reward_model(tmp_path_factory.mktemp("tiny-rm-real"), texts, seed=1,
                                       chat_template=chat_template)


def test_prefix_shared_scores_equal_full_sequence_scores(tmp_path_factory, real_requests, monkeypatch):
    from toolrm_beam.transforms.reward import prefix_sharing

    path = _real_model(tmp_path_factory, real_requests)
    scorer = TransformersRewardHandler(path, max_length=4096, max_batch_tokens=6000).load_model()
    assert scorer.prefix_sharing  # the default
    full_rows, passes = [], []
    forward, shared = scorer.forward, prefix_sharing.score_shared_prefixes
    monkeypatch.setattr(scorer, "forward", lambda rows: (full_rows.extend(rows), forward(rows))[1])

    def spy(model, rows, groups, **kwargs):
        passes.append(groups)
        return shared(model, rows, groups, **kwargs)

    monkeypatch.setattr("toolrm_beam.transforms.reward.transformers_rm.score_shared_prefixes", spy)
    results = scorer.score(real_requests)
    examples = {r.example["example_id"] for r in real_requests}
    # Every example had several candidates: each read its prefix once, no row was run whole.
    [groups] = passes
    assert len(groups) == len(examples) and not full_rows
    prefix_tokens = sum(prefix for prefix, _ in groups)
    total = sum(r.tokens for r in results)
    suffix_tokens = total - sum(prefix * len(rows) for prefix, rows in groups)
    assert prefix_tokens + suffix_tokens < total / 3  # the work: most of each sequence is the shared prefix

    scorer.prefix_sharing = False
    whole = scorer.score(real_requests)
    assert len(full_rows) == len(real_requests)
    assert [r.candidate_id for r in whole] == [r.candidate_id for r in results]
    difference = max(abs(a.score - b.score) for a, b in zip(results, whole))
    assert difference <= 1e-3, difference
    assert len({round(r.score, 4) for r in results}) > len(results) // 2  # scores that differ, not a constant


def test_a_template_that_does_not_put_the_candidate_last_falls_back_to_full_sequences(tmp_path_factory,
                                                                                      real_requests, monkeypatch):
    path = _real_model(tmp_path_factory, real_requests, chat_template=CANDIDATE_FIRST_TEMPLATE)
    scorer = TransformersRewardHandler(path, max_length=4096, max_batch_tokens=6000).load_model()
    requests = real_requests[:30]
    full_rows = []
    forward = scorer.forward
    monkeypatch.setattr(scorer, "forward", lambda rows: (full_rows.extend(rows), forward(rows))[1])
    results = scorer.score(requests)
    assert len(full_rows) == len(requests)  # no shared prefix to speak of: every row whole
    scorer.prefix_sharing = False
    assert [r.score for r in scorer.score(requests)] == pytest.approx([r.score for r in results], abs=1e-6)


def test_shared_prefix_groups():
    from toolrm_beam.transforms.reward.prefix_sharing import common_prefix_length, shared_prefix_groups

    prefix = list(range(100, 140))
    rows = [prefix + [1, 2], prefix + [3], prefix[:10] + [9] * 35, prefix + [1, 2], [5] * 50, prefix + [7, 8, 9]]
    keys = ["a", "a", "b", "a", "c", "b"]
    groups, whole = shared_prefix_groups(rows, keys, min_prefix=16)
    # "a": 40 shared tokens; identical rows keep a token of their own. "b": only 10 shared. "c": one row.
    assert groups == [(40, [0, 1, 3])] and whole == [2, 4, 5]
    assert shared_prefix_groups([prefix + [1], prefix + [1]], ["x", "x"])[0] == [(40, [0, 1])]
    assert shared_prefix_groups(rows, [None] * len(rows))[0] == []
    assert common_prefix_length([]) == 0 and common_prefix_length([[1, 2], [1, 3]]) == 1
