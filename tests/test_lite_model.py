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

# Rule-made negatives, measured with the bundled model (benchmarks/lite_model_eval.py): BFCL live
# sample 0.77, Seal-Tools test_out_domain 0.90 (lower than the rules-only model's 0.83 / 0.95: the
# rule families now make the errors real models make, and the model is trained on real errors too).
# The floors leave a margin for small rule-generator changes.
BFCL_LIVE_PAIRWISE_FLOOR = 0.70
SEAL_OOD_PAIRWISE_FLOOR = 0.86
REAL_ERRORS = pathlib.Path(__file__).resolve().parent / "fixtures" / "real_errors"
# The fixture's dev prompts (tests/fixtures/real_errors/slice.py: four per exec_* category, 29 pairs):
# the bundled model measured 0.83 pairwise, the two-rule heuristic 0.59.
REAL_DEV_PAIRWISE_FLOOR = 0.75


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
    # the model knows the schema-level errors (few pairs each)
    for error_type in ("missing_required_parameter", "parameter_value_type_error"):
        assert metrics["per_error_type"][error_type]["accuracy"] >= 0.75, (error_type, metrics)
    # 5 pairs: arguments written as a non-JSON object string (`"{location: \"Naples, FL\"}"`) outscore
    # the right call twice since the model learned from real answers (a known weakness, in the card)
    assert metrics["per_error_type"]["parsing_error"]["accuracy"] >= 0.6, metrics
    best = metrics["best_of_n"]
    assert best["top1_accuracy"] > best["random_accuracy"] + 0.2


@needs_corpora
def test_pairwise_accuracy_on_seal_tools_out_of_domain_slice(model):
    examples = lite_train.load_examples(str(CORPORA), lite_train.HELDOUT_SPECS["seal_tools_test_out_domain"])
    groups = lite_train.make_groups(examples[::4], seeds=(0,), max_negatives=6)
    metrics = lite_train.evaluate_scores(groups, [model.score(g.example, g.outputs) for g in groups])
    assert metrics["pairwise_accuracy"] >= SEAL_OOD_PAIRWISE_FLOOR, metrics


# --------------------------------------------------------------------------- real errors

@pytest.fixture(scope="module")
def real_prompts():
    return lite_train.load_generations(str(REAL_ERRORS))


def test_real_errors_of_dev_prompts(model, real_prompts):
    """Real models' wrong answers on dev prompts (never trained on): the bundled model ranks the most
    common right answer above them more often than the two-rule heuristic does, and picks better
    than chance among all the answers."""
    from toolrm_beam.transforms.reward.heuristics import two_rule_score

    dev = [p for p in real_prompts if p.part == "dev"]
    assert len(dev) == 16
    # the bundled model saw the generations' train part only (prompt_split decides the part)
    assert any(entry.startswith("bfcl_results:") and entry.endswith("(train part)")
               for entry in model.config["trained_on"])
    mine = lite_train.evaluate_real(model.score, dev)
    heuristic = lite_train.evaluate_real(
        lambda example, outputs: np.array([two_rule_score(example, o) for o in outputs]), dev)
    assert mine["pairs"] == heuristic["pairs"] > 20
    assert mine["pairwise_accuracy"] >= REAL_DEV_PAIRWISE_FLOOR, mine
    assert mine["pairwise_accuracy"] > heuristic["pairwise_accuracy"], (mine, heuristic)
    best = mine["best_of_n"]
    assert best["top1_accuracy"] > best["random_accuracy"] + 0.1, best


def test_conventions_stated_in_descriptions_are_read():
    from toolrm_beam.transforms.reward.lite.features.conventions import check_value, conventions_of

    rate = conventions_of("The interest rate of the loan, ranging from 0 to 1.")
    assert (rate.low, rate.high, rate.fraction) == (0.0, 1.0, True)
    assert check_value(rate, 0.035, frozenset({3.5})) == (1, 0)
    assert check_value(rate, 3.5, frozenset({3.5})) == (1, 1)
    country = conventions_of("The country of the holidays. Possible options: US, AT, DE, ES, FR, GB, IT.")
    assert country.options == frozenset({"us", "at", "de", "es", "fr", "gb", "it"})
    assert check_value(country, "FR", frozenset()) == (1, 0) and check_value(country, "France", frozenset()) == (1, 1)
    interval = conventions_of("The interval. Allows one of following : 5m|15m|30m|1h|1d|1wk|1mo|3mo")
    assert check_value(interval, "1m", frozenset()) == (1, 1) and check_value(interval, "1mo", frozenset()) == (1, 0)
    symbol = conventions_of("The stock name of the product, in the format of the stock symbol.")
    assert check_value(symbol, "AAPL", frozenset()) == (1, 0) and check_value(symbol, "Apple Inc.", frozenset()) == (1, 1)
    assert conventions_of("This should be in the format of python lambda function.").form == "lambda"
    date = conventions_of("The check-in date in format of MM-DD-YYYY.")
    assert check_value(date, "12-11-2023", frozenset(), {"2023-12-11"}) == (1, 0)
    assert check_value(date, "11-12-2023", frozenset(), {"2023-12-11"}) == (1, 1)   # day and month swapped
    assert check_value(date, "2023-12-11", frozenset(), {"2023-12-11"}) == (1, 1)
    assert not conventions_of("The name of the city.")


def test_the_users_words_against_a_stated_convention_score_lower(model):
    tools = [{"name": "mortgage_calculator", "description": "Calculates the monthly mortgage payment.",
              "parameters": {"type": "object", "required": ["loan_amount", "interest_rate", "loan_period"],
                             "properties": {
                                 "loan_amount": {"type": "number", "description": "The amount of the loan."},
                                 "interest_rate": {"type": "number",
                                                   "description": "The interest rate of the loan, ranging from 0 to 1."},
                                 "loan_period": {"type": "integer", "description": "The period of the loan, in years."}}}}]
    example = {"example_id": "t:1", "tools": tools, "messages": [{"role": "user", "content": (
        "They're considering a 30-year mortgage of $400,000 with an interest rate of about 4.5%. "
        "What would the monthly payment be?")}]}
    right = [call("mortgage_calculator", loan_amount=400000, interest_rate=0.045, loan_period=30)]
    literal = [call("mortgage_calculator", loan_amount=400000, interest_rate=4.5, loan_period=30)]
    scores = model.score(example, [right, literal])
    assert scores[0] > scores[1]
    features = F.featurize(example, [right, literal])
    assert list(features[:, F.FEATURE_INDEX["conv_violated_grounded"]]) == [0.0, 1.0]


def test_list_arguments_against_the_lists_the_user_wrote():
    tools = [{"name": "mat_mul", "description": "Multiplies two matrices.", "parameters": {
        "type": "object", "properties": {"matA": {"type": "array", "description": "The first matrix."},
                                         "matB": {"type": "array", "description": "The second matrix."}}}}]
    example = {"example_id": "t:2", "tools": tools, "messages": [{"role": "user", "content": (
        "Multiply matA [[1, 2], [3, 4]] by matB [[5, 6], [7, 8]]")}]}
    right = [call("mat_mul", matA=[[1, 2], [3, 4]], matB=[[5, 6], [7, 8]])]
    flat = [call("mat_mul", matA=[1, 2, 3, 4], matB=[5, 6, 7, 8])]
    features = F.featurize(example, [right, flat])
    assert list(features[:, F.FEATURE_INDEX["list_literal_checked"]]) == [2.0, 2.0]
    assert list(features[:, F.FEATURE_INDEX["list_literal_mismatch"]]) == [0.0, 2.0]


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

def test_training_with_real_generations_uses_only_their_train_part(tmp_path, real_prompts):
    if not CORPORA.is_dir():
        pytest.skip("shared corpora not available")
    specs = [("acebench", "acebench_en/data_normal_single_turn_single_function.json")]
    config = lite_train.FitConfig(hidden=8, epochs=6, seed=2, ensemble=1)
    kwargs = dict(gen_seeds=(0,), max_negatives=4, fit_config=config, evaluate_heldout=False, train_specs=specs,
                  generations=str(REAL_ERRORS), log=None)
    model, metrics = lite_train.train_lite(str(CORPORA), str(tmp_path / "a"), seed=2, **kwargs)
    again, _ = lite_train.train_lite(str(CORPORA), str(tmp_path / "b"), seed=2, **kwargs)
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    train_part = [p for p in real_prompts if p.part == "train"]
    real_sources = {k: v for k, v in metrics["train"]["sources"].items() if k.startswith("bfcl_results:")}
    assert sum(real_sources.values()) == len(train_part) == 14
    assert metrics["real_dev"]["pairs"] > 20          # the dev part is measured, never trained on
    assert model.config["real_categories"] == list(lite_train.REAL_CATEGORIES)


def test_generations_of_held_out_categories_are_refused(tmp_path):
    folder = tmp_path / "dump" / "result" / "some-model"
    folder.mkdir(parents=True)
    (folder / "gorilla_openfunctions_v1_test_simple_result.json").write_text('{"id": "simple_0", "result": "[]"}\n')
    with pytest.raises(ValueError):
        lite_train.load_generations(str(tmp_path / "dump"))
    with pytest.raises(FileNotFoundError):
        lite_train.load_generations(str(tmp_path / "nothing"))


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
