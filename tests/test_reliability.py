"""Reliability: killed jobs, hostile inputs, fuzzed adapters and checker, a misbehaving LLM endpoint.

Run with `-s` to see the table of hostile inputs and what became of each.
"""
from __future__ import annotations

import copy
import functools
import glob
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolrm_beam.beam_pipelines import ingest
from llm_fixtures import faulty_server  # noqa: F401  (a pytest fixture)
from toolrm_beam.schemas.adapters import ADAPTERS, Adapted, AdaptError, get_adapter
from toolrm_beam.schemas.checker import CheckResult, check
from toolrm_beam.transforms.fileio import InputError
from toolrm_beam.transforms.read_rows import iter_file_rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(REPO, "data", "samples")
FIXTURES = os.path.join(REPO, "tests", "fixtures")
ACEBENCH = os.path.join(SAMPLES, "acebench_en")
BFCL = os.path.join(SAMPLES, "bfcl_live_sample")


def rows_of(directory, manifest):
    """Rows of every shard the manifest lists, per prefix, sorted (compared by content, not by file)."""
    found = {}
    for prefix, shards in manifest["files"].items():
        rows = []
        for shard in shards:
            rows += pq.read_table(os.path.join(directory, shard["file"])).to_pylist()
        found[prefix] = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    return found


def assert_balanced(manifest):
    counts = manifest["counts"]
    assert counts["rows_in"] == counts["rows_written"] + counts["rows_duplicate"] + counts["rows_dead_letter"]


# ----------------------------------------------------------------------------- (1) killed jobs

def _everything_under(directory):
    return [os.path.join(root, n) for root, _, names in os.walk(directory) for n in names]


def _kill_part_way(argv, output, extra_delay):
    """Start `toolrm ARGV`; SIGKILL it `extra_delay` s after its first file appears under `output`."""
    process = subprocess.Popen([sys.executable, "-m", "toolrm_beam.runners.cli", *argv], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    first_seen = None
    while process.poll() is None and time.monotonic() < deadline:
        if first_seen is None and os.path.isdir(output) and _everything_under(output):
            first_seen = time.monotonic()
        if first_seen is not None and time.monotonic() - first_seen >= extra_delay:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(timeout=60)
    return process.returncode


def _kill_twice(command, argv, output, codes):
    """Two kills part-way, leftovers kept: at the first file written, then a random moment after it."""
    rng = random.Random(f"{command}-kill")
    codes += [_kill_part_way([command, *argv, "--output", output], output, delay)
              for delay in (0.0, rng.uniform(0.05, 0.6))]


def _assert_rerun_matches(run_fn, argv, output, reference, codes):
    """After the kills, a rerun gives the same rows as the uninterrupted run, and nothing partial is visible."""
    assert -signal.SIGKILL in codes, codes  # at least one kill landed before the job finished
    manifest = run_fn([*argv, "--output", output])
    assert manifest["counts"] == reference["counts"]
    assert rows_of(output, manifest) == rows_of(reference["output"], reference)
    # Every Parquet file there is one the manifest lists: no partial or stale shard is visible.
    listed = {s["file"] for shards in manifest["files"].values() for s in shards}
    visible = {os.path.relpath(p, output) for p in glob.glob(os.path.join(output, "**", "*.parquet"), recursive=True)}
    assert visible == listed
    assert not [p for p in _everything_under(output) if "/.tmp-" in p]


def test_killed_ingest_and_synthesize_rerun_to_the_same_rows(tmp_path):
    from toolrm_beam.beam_pipelines import synthesize

    ingest_argv = ["--source", "acebench", "--input", os.path.join(ACEBENCH, "*.json"), "--num_shards", "2"]
    ingest_reference = str(tmp_path / "ingest-reference")
    synth_argv = ["--input", os.path.join(ingest_reference, "examples-*.parquet"), "--seed", "3"]
    synth_reference = str(tmp_path / "synthesize-reference")
    references = {"ingest": ingest.run([*ingest_argv, "--output", ingest_reference])}
    references["synthesize"] = synthesize.run([*synth_argv, "--output", synth_reference])
    references["ingest"]["output"], references["synthesize"]["output"] = ingest_reference, synth_reference

    # The two commands are killed side by side (separate processes and outputs).
    codes = {"ingest": [], "synthesize": []}
    threads = [threading.Thread(target=_kill_twice, args=("ingest", ingest_argv, str(tmp_path / "ingest"),
                                                          codes["ingest"])),
               threading.Thread(target=_kill_twice, args=("synthesize", synth_argv, str(tmp_path / "synthesize"),
                                                          codes["synthesize"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    _assert_rerun_matches(ingest.run, ingest_argv, str(tmp_path / "ingest"), references["ingest"], codes["ingest"])
    _assert_rerun_matches(synthesize.run, synth_argv, str(tmp_path / "synthesize"), references["synthesize"],
                          codes["synthesize"])


# ----------------------------------------------------------------------------- (2) hostile inputs

def xlam_row(i, **changes):
    tools = [{"name": f"city_weather_{i}", "description": "Current weather of a city.",
              "parameters": {"city": {"type": "str", "description": "The city name."}}}]
    answers = [{"name": f"city_weather_{i}", "arguments": {"city": f"Town{i}"}}]
    row = {"id": i, "query": f"What is the weather like in Town{i} today?", "tools": json.dumps(tools),
           "answers": json.dumps(answers)}
    row.update(changes)
    return row


def line(row):
    return (json.dumps(row) + "\n").encode("utf-8")


DEEP = 10_000


def _hostile_xlam_files():
    """file name -> (bytes, what the test expects: {written, dead letter reasons})."""
    big = xlam_row(20, query="Weather in Town20? " + "x" * (10 * 1024 * 1024))
    deep_field = xlam_row(31)
    deep_field["answers"] = ('[{"name": "city_weather_31", "arguments": {"city": ' + "[" * DEEP + "]" * DEEP + "}}]")
    deep_line = line(xlam_row(32))[:-2] + b', "extra": ' + b"[" * DEEP + b"]" * DEEP + b"}\n"
    latin1 = json.dumps(xlam_row(41, query="Quel temps fait-il à Town41, café?"), ensure_ascii=False).encode("latin-1")
    missing_tool = xlam_row(60, answers=json.dumps([{"name": "no_such_tool", "arguments": {"city": "Paris"}}]))
    return {
        "invalid_json_in_fields.jsonl": (
            line(xlam_row(10)) + line(xlam_row(11, tools='[{"name": "city_weather_11", ')) +
            line(xlam_row(12, answers="{oops")), (1, ["malformed_json", "malformed_json"])),
        "ten_megabyte_row.jsonl": (line(xlam_row(21)) + line(big), (2, [])),
        "deeply_nested.jsonl": (line(xlam_row(30)) + line(deep_field) + deep_line,
                                (1, ["malformed_json", "malformed_json"])),
        "latin1_in_utf8.jsonl": (line(xlam_row(40)) + latin1 + b"\n" + line(xlam_row(42)), (2, ["bad_encoding"])),
        "utf16.jsonl": ("".join(json.dumps(xlam_row(i)) + "\n" for i in (50, 51, 52)).encode("utf-16"), (3, [])),
        "reference_names_missing_tool.jsonl": (line(xlam_row(61)) + line(missing_tool),
                                               (1, ["unknown_tool_in_reference"])),
    }


def _hostile_parquet_files():
    seal = open(os.path.join(SAMPLES, "seal_tools", "dev.parquet"), "rb").read()
    sink = io.BytesIO()
    pq.write_table(pq.read_table(io.BytesIO(seal)).slice(0, 4), sink)
    return {
        "dev.parquet": (sink.getvalue(), (4, [])),
        # No readable footer: no rows at all; named in a warning and counted with 0 rows.
        "truncated.parquet": (seal[: len(seal) // 2], (0, [])),
    }


def _ingest_cases(tmp_path, source, files, side_files=()):
    corpus = tmp_path / source
    corpus.mkdir()
    for name, (data, _) in files.items():
        (corpus / name).write_bytes(data)
    for name, data in side_files:
        (corpus / name).write_bytes(data)
    out = str(tmp_path / f"{source}-out")
    manifest = ingest.run(["--source", source, "--input", str(corpus / "*"), "--output", out])
    assert_balanced(manifest)
    dead = [r for s in manifest["files"]["dead_letter"] for r in pq.read_table(os.path.join(out, s["file"])).to_pylist()]
    examples = [r for s in manifest["files"]["examples"] for r in pq.read_table(os.path.join(out, s["file"])).to_pylist()]
    results = {}
    for name, (_, (written, reasons)) in files.items():
        mine = [d for d in dead if os.path.basename(d["source_file"]) == name]
        split = get_adapter(source).split_of(str(corpus / name))
        got_written = sum(1 for e in examples if e["split"] == split)
        results[name] = (got_written, sorted(d["reason"] for d in mine), mine)
        assert (got_written, sorted(d["reason"] for d in mine)) == (written, sorted(reasons)), name
    return manifest, results


def test_hostile_inputs_end_in_dead_letters_and_every_row_is_counted(tmp_path):
    table = []
    xlam_files = _hostile_xlam_files()
    manifest, results = _ingest_cases(tmp_path, "xlam", xlam_files)
    counts = manifest["counts"]
    assert counts["rows_in"] == 16 and counts["rows_written"] == 10 and counts["rows_dead_letter"] == 6
    deep_dead = results["deeply_nested.jsonl"][2]
    assert {d["detail"] for d in deep_dead} >= {"nesting too deep to parse"}  # the line itself
    assert any("nested too deeply" in d["detail"] for d in deep_dead)  # a JSON-text field inside a line
    assert all(len(d["raw_row"]) <= 100_100 for d in deep_dead)  # raw rows are capped in the dead letter
    for name, (written, reasons, dead) in results.items():
        table.append(("xlam", name, written, reasons, "; ".join(sorted({d["detail"][:70] for d in dead}))))
    table.append(("xlam", "(whole run)", counts["rows_written"], [f"rows_in={counts['rows_in']}",
                  f"dup={counts['rows_duplicate']}", f"dead={counts['rows_dead_letter']}"], "balanced"))

    catalog = open(os.path.join(SAMPLES, "seal_tools", "tool.jsonl"), "rb").read()
    manifest, results = _ingest_cases(tmp_path, "seal_tools", _hostile_parquet_files(),
                                      side_files=[("tool.jsonl", catalog)])
    counts = manifest["counts"]
    assert counts["rows_in"] == 4 and counts["rows_dead_letter"] == 0 and counts["files_skipped"] == 1
    # A Parquet file whose columns do not fit is refused before the pipeline starts, naming them.
    sink = io.BytesIO()
    pq.write_table(pa.table({"question": ["a", "b", "c"], "score": [1.0, 2.0, 3.0]}), sink)
    (tmp_path / "seal_tools" / "wrong_schema.parquet").write_bytes(sink.getvalue())
    with pytest.raises(InputError, match="column 'id' is missing; column 'query' is missing"):
        ingest.run(["--source", "seal_tools", "--input", str(tmp_path / "seal_tools" / "*"),
                    "--output", str(tmp_path / "refused")])
    for name, (written, reasons, dead) in results.items():
        table.append(("seal_tools", name, written, reasons, "; ".join(sorted({d["detail"][:70] for d in dead}))))
    table.append(("seal_tools", "(whole run)", counts["rows_written"], [f"rows_in={counts['rows_in']}",
                  f"dup={counts['rows_duplicate']}", f"dead={counts['rows_dead_letter']}"], "balanced"))

    print("\nhostile input                             source      written  dead letters / detail")
    for source, name, written, reasons, detail in table:
        print(f"{name:40s}  {source:10s}  {written:>7}  {', '.join(reasons) or '-'}  {detail}")


# ----------------------------------------------------------------------------- (3) fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=25,
)

_SAMPLE_FILES = {
    "bfcl": os.path.join(BFCL, "BFCL_v3_live_multiple.json"),
    "acebench": os.path.join(ACEBENCH, "data_normal_single_turn_parallel_function.json"),
    "seal_tools": os.path.join(SAMPLES, "seal_tools", "dev.parquet"),
    "xlam": os.path.join(FIXTURES, "xlam.jsonl"),
    "openai_chat": os.path.join(FIXTURES, "openai_chat.jsonl"),
    "toolrm_train": os.path.join(FIXTURES, "toolrm_train.jsonl"),
    "fc_rewardbench": os.path.join(FIXTURES, "fc_rewardbench.jsonl"),
    "bfcl_results": os.path.join(FIXTURES, "bfcl_results", "result", "gpt-4o-2024-05-13",
                                 "gorilla_openfunctions_v1_test_java_result.json"),
    "model_samples": os.path.join(FIXTURES, "model_samples.jsonl"),
}


def _samples(name):
    path = _SAMPLE_FILES[name]
    adapter = get_adapter(name)
    context = adapter.load_context(path, lambda p: open(p, "rb"))
    rows = [row for _, row, error in iter_file_rows(path) if error is None][:4]
    assert rows, path
    return adapter, context, adapter.split_of(path), rows


def test_every_registered_adapter_has_fuzz_samples():
    assert set(_SAMPLE_FILES) == set(ADAPTERS)


def _mutate(draw, value, depth=0):
    """A copy of `value` with one random change somewhere inside it."""
    action = draw(st.sampled_from(["replace", "json_text", "delete", "wrap", "same_type"] + ["descend"] * 5))
    if action == "same_type" or (action == "descend" and not isinstance(value, (dict, list))):
        # Same type, other value: gets past the type checks, into the adapters' deeper logic.
        for kind, strategy in ((bool, st.booleans()), (int, st.integers()), (float, st.floats()),
                               (str, st.text(max_size=12) | st.sampled_from(["", " ", "{}", "[]", "null", "0"]))):
            if isinstance(value, kind):
                return draw(strategy)
    if action == "descend" and isinstance(value, dict) and value and depth < 5:
        key = draw(st.sampled_from(sorted(value)))
        out = dict(value)
        if draw(st.booleans()) and isinstance(out[key], str) and out[key][:1] in "[{":
            try:  # JSON text fields (xLAM tools, FC-RewardBench outputs): mutate inside the text
                out[key] = json.dumps(_mutate(draw, json.loads(out[key]), depth + 1))
                return out
            except ValueError:
                pass
        out[key] = _mutate(draw, out[key], depth + 1)
        return out
    if action == "descend" and isinstance(value, list) and value and depth < 5:
        index = draw(st.integers(0, len(value) - 1))
        out = list(value)
        out[index] = _mutate(draw, out[index], depth + 1)
        return out
    if action == "delete" and isinstance(value, dict) and value:
        out = dict(value)
        out.pop(draw(st.sampled_from(sorted(out))))
        return out
    if action == "delete" and isinstance(value, list) and value:
        return value[1:]
    if action == "wrap":
        return [value] if draw(st.booleans()) else {"value": value}
    replacement = draw(json_values)
    return json.dumps(replacement) if action == "json_text" else replacement


@pytest.mark.parametrize("name", sorted(_SAMPLE_FILES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_adapters_return_adapted_or_raise_adapt_error_on_any_row(name, data):
    adapter, context, split, rows = _samples(name)
    kind = data.draw(st.sampled_from(["mutated", "mutated", "mutated", "arbitrary", "keys"]))
    if kind == "arbitrary":
        row = data.draw(json_values)
    elif kind == "keys":
        keys = sorted({k for r in rows for k in r})
        row = data.draw(st.dictionaries(st.sampled_from(keys) | st.text(max_size=5), json_values, max_size=6))
    else:
        row = copy.deepcopy(data.draw(st.sampled_from(rows)))
        for _ in range(data.draw(st.integers(1, 3))):
            row = _mutate(data.draw, row)
    try:
        result = adapter.adapt(row, context, split)
    except (AdaptError, ValueError):
        return
    assert isinstance(result, Adapted)


@functools.lru_cache(maxsize=1)
def _checker_examples():
    examples = []
    for name, path in (("bfcl", os.path.join(BFCL, "BFCL_v3_live_parallel_multiple.json")),
                       ("acebench", os.path.join(ACEBENCH, "data_normal_atom_object_deep.json")),
                       ("acebench", os.path.join(ACEBENCH, "data_special_incomplete.json")),
                       ("acebench", os.path.join(ACEBENCH, "data_special_error_param.json"))):
        adapter = get_adapter(name)
        context = adapter.load_context(path, lambda p: open(p, "rb"))
        for _, row, error in list(iter_file_rows(path))[:3]:
            if error is None:
                try:
                    examples += adapter.adapt(row, context, adapter.split_of(path)).examples
                except AdaptError:
                    pass
    return examples


DEEP_TEXT = st.integers(1, 3000).map(lambda d: "[" * d + "]" * d) | \
    st.integers(1, 3000).map(lambda d: '[{"name": "f", "arguments": ' + '{"a": ' * d + "1" + "}" * d + "}]")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_checker_never_raises_on_real_catalogs_and_mutated_references(data):
    examples = _checker_examples()
    assert {e["reference_kind"] for e in examples} >= {"call", "clarify", "flag_invalid"}
    example = data.draw(st.sampled_from(examples))
    calls = [{"name": c["name"], "arguments": {k: v[0] if v else None for k, v in c["arguments"].items()}}
             for c in example["reference"]] or [{"name": "anything", "arguments": {}}]
    kind = data.draw(st.sampled_from(["mutated", "mutated", "text", "deep", "json"]))
    if kind == "mutated":
        candidate = calls
        for _ in range(data.draw(st.integers(1, 3))):
            candidate = _mutate(data.draw, candidate)
        if data.draw(st.booleans()):
            candidate = json.dumps(candidate)
    elif kind == "text":
        candidate = data.draw(st.text(max_size=200))
    elif kind == "deep":
        candidate = data.draw(DEEP_TEXT)
    else:
        candidate = data.draw(json_values)
    result = check(example["tools"], example["reference"], candidate, reference_kind=example["reference_kind"])
    assert isinstance(result, CheckResult)
    assert result.correct == (result.error_type is None)


# ----------------------------------------------------------------------------- (4) a misbehaving LLM endpoint

def _distinct_keys(examples):
    """Per example, a piece of its question that no other example's request can contain."""
    texts = [json.dumps(e, ensure_ascii=False, default=str) for e in examples]
    keys = []
    for index, example in enumerate(examples):
        question = json.dumps(example["messages"][-1]["content"], ensure_ascii=False)
        pieces = [m.group(0) for size in (24, 16, 10) for m in re.finditer(r"[A-Za-z0-9 ]{%d}" % size, question)]
        keys.append(next(p for p in pieces if not any(p in t for j, t in enumerate(texts) if j != index)))
    return keys


def test_llm_endpoint_faults_are_retried_then_dead_lettered_and_rule_candidates_still_written(
        tmp_path, faulty_server, monkeypatch, capsys):  # noqa: F811
    pytest.importorskip("httpx")
    from toolrm_beam.runners import cli

    corpus = tmp_path / "corpus"
    (corpus / "possible_answer").mkdir(parents=True)
    name = "BFCL_v3_live_simple.json"
    for folder in ("", "possible_answer"):
        with open(os.path.join(BFCL, folder, name)) as handle:
            (corpus / folder / name).write_text("".join(handle.readlines()[:6]))
    examples_dir = str(tmp_path / "examples")
    ingest.run(["--source", "bfcl", "--input", str(corpus / "*.json"), "--output", examples_dir])
    examples = [r for p in glob.glob(os.path.join(examples_dir, "examples-*.parquet"))
                for r in pq.read_table(p).to_pylist()]
    from toolrm_beam.schemas.records import from_row
    examples = sorted((from_row(r) for r in examples), key=lambda e: e["example_id"])
    assert len(examples) == 6

    # One scenario per example, picked by a piece of its question in the request body.
    scenarios = ["slow", "fail", "garbage", "nochoices", "flaky", "ok"]
    keys = _distinct_keys(examples)
    faulty_server.reset()
    faulty_server.rules = list(zip(keys, scenarios))
    faulty_server.slow_s = 5.0
    retries = 2

    # The endpoint's fault settings come from the CLI. The timeout leaves a
    # loaded CI machine ample time for the fast answers; "slow" is far past it.
    out = str(tmp_path / "synthesized")
    code = cli.main(["synthesize", "--input", os.path.join(examples_dir, "examples-*.parquet"), "--output", out,
                     "--generators", "rules,llm-sample", "--backend", "openai", "--endpoint", faulty_server.base_url,
                     "--model", "tiny-served", "--api_key_env", "", "--samples", "2",
                     "--request_timeout_s", "2", "--max_retries", str(retries), "--retry_backoff_s", "0.01"])
    assert code == 0
    with open(os.path.join(out, "manifest.json")) as handle:
        manifest = json.load(handle)
    candidates = [r for s in manifest["files"]["candidates"] for r in pq.read_table(os.path.join(out, s["file"])).to_pylist()]
    dead = [r for s in manifest["files"]["dead_letter"] for r in pq.read_table(os.path.join(out, s["file"])).to_pylist()]

    # Every example still has its reference and rule candidates.
    for example in examples:
        origins = {c["origin"] for c in candidates if c["example_id"] == example["example_id"]}
        assert "reference" in origins and any(o.startswith("rule:") for o in origins), example["example_id"]
    # Only the examples whose requests eventually succeeded have LLM candidates.
    llm_examples = {c["example_id"] for c in candidates if c["origin"].startswith("llm-sample:")}
    by_scenario = dict(zip(scenarios, (e["example_id"] for e in examples)))
    assert llm_examples == {by_scenario["flaky"], by_scenario["ok"]}
    # The others are dead letters with the reason, after 1 + retries attempts each.
    reasons = {d["raw_row"]: d["reason"] for d in dead}
    assert reasons == {by_scenario["slow"]: "generate:timeout", by_scenario["fail"]: "generate:http_status",
                       by_scenario["garbage"]: "generate:bad_response",
                       by_scenario["nochoices"]: "generate:bad_response"}
    assert all(f"after {1 + retries} attempt(s)" in d["detail"] for d in dead)
    for scenario in ("slow", "fail", "garbage", "nochoices"):
        assert faulty_server.requests_for(scenario) == 1 + retries, scenario
    assert faulty_server.requests_for("flaky") == 2  # one 500, then the answer
    assert manifest["counts"]["examples_in"] == 6
    assert manifest["counts"]["dead_letter_by_reason"] == {"generate:bad_response": 2, "generate:http_status": 1,
                                                           "generate:timeout": 1}
