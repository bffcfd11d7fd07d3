"""The bundled CPU reward model (models/toolrm-lite): real behaviour on held-out data,
determinism, the safe on-disk format, and a tiny training run."""
from __future__ import annotations

import json
import os
import pathlib
import pickle
import shutil

import numpy as np
import pytest

from toolrm_beam.transforms.reward.lite import DEFAULT_MODEL_PATH, LiteRewardModel, ModelFormatError, features as F
from toolrm_beam.transforms.reward.lite import model as lite_model
from toolrm_beam.transforms.reward.lite import train as lite_train

CORPORA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "corpora"
needs_corpora = pytest.mark.skipif(not (CORPORA / "bfcl_live_sample").is_dir(),
                                   reason="shared corpora not available")

# Measured with the bundled model (benchmarks/lite_model_eval.py): BFCL live sample 0.835,
# Seal-Tools test_out_domain 0.956. The floors leave a margin for small rule-generator changes.
BFCL_LIVE_PAIRWISE_FLOOR = 0.78
SEAL_OOD_PAIRWISE_FLOOR = 0.92


@pytest.fixture(scope="module")
def model() -> LiteRewardModel:
    return LiteRewardModel.load(DEFAULT_MODEL_PATH)


@pytest.fixture(scope="module")
def bfcl_groups():
    examples = lite_train.load_examples(str(CORPORA), lite_train.HELDOUT_SPECS["bfcl_live_sample"])
    return lite_train.make_groups(examples, seeds=(0,), max_negatives=6)


WEATHER_TOOLS = [
    {"name": "get_current_weather", "description": "Current weather for a city.",
     "parameters": {"type": "object", "properties": {
         "location": {"type": "string", "description": "City and state, e.g. 'San Francisco, CA'"},
         "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
         "required": ["location"]}},
    {"name": "get_stock_price", "description": "Latest stock price for a ticker symbol.",
     "parameters": {"type": "object", "properties": {"ticker": {"type": "string"}}, "required": ["ticker"]}},
]


def weather_example(text: str) -> dict:
    return {"example_id": "t:0", "tools": WEATHER_TOOLS, "messages": [{"role": "user", "content": text}]}


def call(name: str, **arguments) -> dict:
    return {"name": name, "arguments": arguments}


# --------------------------------------------------------------------------- the bundled model

def test_bundled_model_is_small_and_not_pickled():
    files = sorted(os.listdir(DEFAULT_MODEL_PATH))
    assert {"config.json", "model.safetensors", "README.md"} <= set(files)
    total = sum(os.path.getsize(os.path.join(DEFAULT_MODEL_PATH, f)) for f in files)
    assert total < 5 * 1024 * 1024
    config = json.load(open(os.path.join(DEFAULT_MODEL_PATH, "config.json")))
    assert config["format"] == "toolrm-lite"
    assert config["feature_signature"] == F.feature_signature()
    assert not any(f.endswith((".pkl", ".pickle", ".joblib", ".pt", ".bin")) for f in files)


@needs_corpora
def test_pairwise_accuracy_on_bfcl_live_sample(model, bfcl_groups):
    scores = [model.score(g.example, g.outputs) for g in bfcl_groups]
    metrics = lite_train.evaluate_scores(bfcl_groups, scores)
    assert metrics["pairs"] > 400
    assert metrics["pairwise_accuracy"] >= BFCL_LIVE_PAIRWISE_FLOOR, metrics
    # the model knows the schema-level errors (few pairs each: parsing errors are 5)
    for error_type in ("missing_required_parameter", "parameter_value_type_error", "parsing_error"):
        assert metrics["per_error_type"][error_type]["accuracy"] >= 0.75, (error_type, metrics)
    best = metrics["best_of_n"]
    assert best["top1_accuracy"] > best["random_accuracy"] + 0.2


@needs_corpora
def test_pairwise_accuracy_on_seal_tools_out_of_domain_slice(model):
    examples = lite_train.load_examples(str(CORPORA), lite_train.HELDOUT_SPECS["seal_tools_test_out_domain"])
    groups = lite_train.make_groups(examples[::4], seeds=(0,), max_negatives=6)
    metrics = lite_train.evaluate_scores(groups, [model.score(g.example, g.outputs) for g in groups])
    assert metrics["pairwise_accuracy"] >= SEAL_OOD_PAIRWISE_FLOOR, metrics


def test_scores_what_a_judge_would(model):
    example = weather_example("What's the weather in Boston, MA and in Denver, CO? Use celsius.")
    right = [call("get_current_weather", location="Boston, MA", unit="celsius"),
             call("get_current_weather", location="Denver, CO", unit="celsius")]
    wrong = {
        "dropped call": right[:1],
        "sibling tool": [call("get_stock_price", ticker="Boston, MA"), right[1]],
        "invented tool": [call("fetch_weather", location="Boston, MA", unit="celsius"), right[1]],
        "value not asked for": [call("get_current_weather", location="Boston, MA", unit="fahrenheit"), right[1]],
        "missing required": [call("get_current_weather", unit="celsius"), right[1]],
        "type error": [call("get_current_weather", location=["Boston, MA"], unit="celsius"), right[1]],
        "not a call": "[get_current_weather(location: 'Boston, MA')",
    }
    scores = model.score(example, [right] + list(wrong.values()))
    for (what, _), score in zip(wrong.items(), scores[1:]):
        assert scores[0] > score, what


def test_prose_beats_a_call_when_no_tool_fits(model):
    example = weather_example("Write me a short poem about autumn leaves.")
    forced = [call("get_current_weather", location="autumn leaves")]
    for prose in ("None of the tools can write poems, so here is one without them: ...",
                  "Here is a short poem: golden leaves drift down, whispering of autumn's end.",
                  "I can't help with that using the available tools."):
        prose_score, call_score = model.score(example, [prose, forced])
        assert prose_score > call_score, prose


def test_a_fitting_call_beats_a_refusal(model):
    example = weather_example("What's the weather in Paris right now?")
    refusal, right = model.score(example, ["I can't help with that using the available tools.",
                                           [call("get_current_weather", location="Paris")]])
    assert right > refusal


# --------------------------------------------------------------------------- API and determinism

def test_scores_are_deterministic_and_independent_of_batching(model, bfcl_groups):
    groups = bfcl_groups[:20]
    examples = [g.example for g in groups for _ in g.outputs]
    outputs = [o for g in groups for o in g.outputs]
    batch = model.score(examples, outputs)
    again = LiteRewardModel.load(DEFAULT_MODEL_PATH).score(examples, outputs)
    assert batch.dtype == np.float32 and batch.shape == (len(outputs),)
    np.testing.assert_array_equal(batch, again)
    one_by_one = np.concatenate([model.score(g.example, g.outputs) for g in reversed(groups)][::-1])
    np.testing.assert_allclose(batch, one_by_one, rtol=0, atol=1e-5)
    pairs = model.score_pairs(list(zip(examples, outputs)))
    np.testing.assert_allclose(batch, pairs, rtol=0, atol=1e-5)
    probabilities = model.probability(examples, outputs)
    assert np.all((probabilities > 0) & (probabilities < 1))


def test_features_are_the_same_with_and_without_memoization(bfcl_groups):
    groups = bfcl_groups[:30]
    examples = [g.example for g in groups for _ in g.outputs]
    outputs = [o for g in groups for o in g.outputs]
    cached = F.featurize(examples, outputs)
    fresh = np.stack([np.asarray(F.candidate_features(F.ExampleInfo(e), o), dtype=np.float32)
                      for e, o in zip(examples, outputs)])
    np.testing.assert_array_equal(cached, fresh)
    assert np.all(np.isfinite(cached))


def test_odd_outputs_score_without_raising(model):
    example = weather_example("Weather in Paris?")
    odd = ["", "[]", None, "null", "{not json", 42, {"name": "get_current_weather", "arguments": {"location": "Paris"}},
           [{"name": "get_current_weather", "arguments": "{\"location\": \"Paris\"}"}],
           [{"name": "get_current_weather", "arguments": {"location": {"deep": [[[1]]]}}}], "x" * 5000]
    scores = model.score(example, odd)
    assert scores.shape == (len(odd),) and np.all(np.isfinite(scores))


def test_batch_api_checks_lengths(model):
    with pytest.raises(ValueError):
        model.score([weather_example("hi")], ["a", "b"])
    assert model.score([], []).shape == (0,)


def test_fast_text_helpers_match_their_regex_definitions():
    # The feature modules replace a few regexes with string methods or charset-led patterns
    # for speed; each must find exactly what the plain regex finds.
    import random
    import re

    from toolrm_beam.transforms.reward.lite.features import context, text

    word_before = re.compile(r"([a-z0-9][a-z0-9'-]*)$")
    noise = re.compile(r"[ ,./\-_*^]")
    quoted = re.compile(r"\"([^\"\n]{1,100})\"|“([^”\n]{1,100})”|‘([^’\n]{1,100})’"
                        r"|(?<![A-Za-z])'([^'\n]{1,100})'(?![A-Za-z])")
    entity = re.compile(rf"\b{context._CAPWORD}(?:(?:\s+|\s+(?:of|de|la|the)\s+|,\s+){context._CAPWORD})*")
    trigger = re.compile(r",|&|\b(?:and|or|vs)\b")
    rng = random.Random(0)
    pieces = ["New", "York", " of ", " the ", "IBM", "3M", "U.S.", "it's", "'x'", '"q"', "“r”", ", ", " ", "\n",
              "and", "or", "vs", "band", "-", "'", "é", "x", "2", "İ", "_", "."]
    for _ in range(20_000):
        s = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        end = rng.randint(0, len(s))
        start = rng.randint(0, end)
        m = word_before.search(s, start, end)
        assert text.word_ending_at(s, start, end) == (m.group(1) if m else None), (s, start, end)
        assert text.standardize(s) == noise.sub("", s).lower().replace("'", '"'), s
        for fast, plain in ((context._QUOTED, quoted), (context._ENTITY, entity), (context._CONJ_TRIGGER, trigger)):
            assert [(m.span(), m.groups()) for m in fast.finditer(s)] == \
                [(m.span(), m.groups()) for m in plain.finditer(s)], (plain.pattern, s)


def test_tool_specs_share_one_tool_info():
    spec = WEATHER_TOOLS[0]
    copy = json.loads(json.dumps(spec))
    assert F.tool_info(spec) is F.tool_info(copy)
    odd = dict(copy, parameters=dict(copy["parameters"], extra=object()))  # not marshallable: keyed by repr
    assert F.tool_info(odd) is F.tool_info(odd)
    assert F.tool_info(odd).params.keys() == F.tool_info(spec).params.keys()


# --------------------------------------------------------------------------- on-disk format

def test_save_load_round_trip(model, tmp_path):
    model.save(str(tmp_path / "m"))
    loaded = LiteRewardModel.load(str(tmp_path / "m"))
    assert loaded.config["fingerprint"] == model.config["fingerprint"]
    example = weather_example("Weather in Rome in celsius")
    outputs = [[call("get_current_weather", location="Rome", unit="celsius")], "text"]
    np.testing.assert_array_equal(loaded.score(example, outputs), model.score(example, outputs))
    tensors, metadata = lite_model.read_safetensors(str(tmp_path / "m" / "model.safetensors"))
    assert metadata["format"] == "toolrm-lite" and all(t.dtype == np.float32 for t in tensors.values())


def _copy(tmp_path) -> pathlib.Path:
    target = tmp_path / "copy"
    shutil.copytree(DEFAULT_MODEL_PATH, target)
    return target


def test_load_refuses_a_pickle(tmp_path):
    target = _copy(tmp_path)
    with open(target / "model.safetensors", "wb") as handle:
        pickle.dump({"w1": [1.0]}, handle)
    with pytest.raises(ModelFormatError):
        LiteRewardModel.load(str(target))
    lone = tmp_path / "lone.pkl"
    lone.write_bytes(pickle.dumps(object))
    with pytest.raises(ModelFormatError):
        LiteRewardModel.load(str(lone))


def test_load_refuses_unknown_formats_and_tampering(tmp_path):
    with pytest.raises(ModelFormatError):
        LiteRewardModel.load(str(tmp_path))  # no config.json
    target = _copy(tmp_path)
    config = json.loads((target / "config.json").read_text())
    for field, value in (("format", "joblib"), ("format_version", 99), ("feature_signature", "0" * 16),
                         ("weights_file", "model.pkl")):
        (target / "config.json").write_text(json.dumps({**config, field: value}))
        with pytest.raises(ModelFormatError):
            LiteRewardModel.load(str(target))
    (target / "config.json").write_text(json.dumps(config))
    raw = bytearray((target / "model.safetensors").read_bytes())
    raw[-1] ^= 0xFF  # one weight changed: the fingerprint no longer matches
    (target / "model.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ModelFormatError):
        LiteRewardModel.load(str(target))
    (target / "model.safetensors").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ModelFormatError):
        LiteRewardModel.load(str(target))


# --------------------------------------------------------------------------- training

@needs_corpora
def test_tiny_training_run_is_deterministic_and_learns(tmp_path):
    specs = [("acebench", "acebench_en/data_normal_single_turn_single_function.json")]
    config = lite_train.FitConfig(hidden=8, epochs=8, seed=3)
    kwargs = dict(gen_seeds=(0,), max_negatives=4, fit_config=config, evaluate_heldout=False,
                  train_specs=specs, log=None)
    first, metrics = lite_train.train_lite(str(CORPORA), str(tmp_path / "a"), seed=3, **kwargs)
    second, _ = lite_train.train_lite(str(CORPORA), str(tmp_path / "b"), seed=3, **kwargs)
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    assert first.config["fingerprint"] == second.config["fingerprint"]
    assert metrics["train"]["pairs"] > 100
    assert metrics["train"]["pairwise_accuracy"] > 0.85
    reloaded = LiteRewardModel.load(str(tmp_path / "a"))
    assert reloaded.config["trained_on"] == ["acebench:acebench_en/data_normal_single_turn_single_function.json"]


@needs_corpora
def test_training_refuses_bfcl_and_fc_rewardbench():
    with pytest.raises(ValueError):
        lite_train.load_examples(str(CORPORA), [("bfcl", "bfcl_live_sample/BFCL_v3_live_simple.json")],
                                 training=True)
    fixtures = pathlib.Path(__file__).resolve().parent
    with pytest.raises(ValueError):
        lite_train.load_examples(str(fixtures), [("fc_rewardbench", "fixtures/fc_rewardbench.jsonl")], training=True)


def test_cli_usage_errors_are_reported(capsys, tmp_path):
    code = lite_train.main(["--corpora", str(tmp_path / "missing"), "--output", str(tmp_path / "out"),
                            "--no-eval"])
    assert code == 2
    assert "train-lite" in capsys.readouterr().err
