"""`toolrm run` end to end: the same rows on every local runner, and LLM generators named from `run`."""
from __future__ import annotations

import glob
import json
import os

import pyarrow.parquet as pq
import pytest

from llm_fixtures import faulty_server  # noqa: F401  (a pytest fixture)
from toolrm_beam.runners import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(REPO, "data", "samples")
# Two corpora, so the run has two ingest stages, examples of every reference
# kind (ACEBench's no_call/clarify) and a BFCL dead letter.
CORPORA = ["--source", "bfcl", "--input", os.path.join(SAMPLES, "bfcl_live_sample", "*.json"),
           "--source", "acebench", "--input", os.path.join(SAMPLES, "acebench_en", "data_special_*.json")]
RUNNERS = {
    "direct": [],
    "multi_process": ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"],
    "portable": ["--runner", "portable"],
}


def _rows_by_folder(root: str) -> dict[str, list[str]]:
    """Every Parquet row under `root`, by folder, as canonical JSON, sorted: content, not file names."""
    rows: dict[str, list[str]] = {}
    for path in glob.glob(os.path.join(root, "**", "*.parquet"), recursive=True):
        folder = os.path.relpath(os.path.dirname(path), root)
        kind = os.path.basename(path).split("-")[0]  # examples-*, candidates-*, dead_letter-* share a folder
        rows.setdefault(f"{folder}/{kind}", []).extend(
            json.dumps(r, sort_keys=True, default=str) for r in pq.read_table(path).to_pylist())
    return {key: sorted(value) for key, value in sorted(rows.items())}


def _normalized(reference_json: str) -> list[dict]:
    """A BFCL reference (each argument a list of accepted values) with its first accepted values."""
    return [{"name": call["name"], "arguments": {k: v[0] for k, v in call["arguments"].items()}}
            for call in json.loads(reference_json)]


def _counts(root: str) -> dict:
    with open(os.path.join(root, "manifest.json")) as handle:
        return json.load(handle)["counts"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    outputs = {}
    for name, runner_args in RUNNERS.items():
        outputs[name] = str(root / name)
        # A small cap per example, so selection filters some candidates too.
        assert cli.main(["run", *CORPORA, "--output", outputs[name], "--max_pairs_per_example", "3",
                         *runner_args]) == 0
    return outputs


def test_the_whole_pipeline_writes_the_same_rows_on_every_local_runner(runs):
    expected = _rows_by_folder(runs["direct"])
    # Every stage wrote something, including the selection's outputs and a dead letter.
    for key in ("ingest/bfcl/examples", "ingest/bfcl/dead_letter", "ingest/acebench/examples",
                "synthesize/candidates", "pairs/pairs", "filtered/filtered", "quarantine/quarantine"):
        assert expected.get(key), key
    for name in ("multi_process", "portable"):
        assert _rows_by_folder(runs[name]) == expected, name
        assert _counts(runs[name]) == _counts(runs["direct"]), name


def test_run_accounts_for_every_candidate(runs):
    counts = _counts(runs["direct"])
    assert counts["candidates_in"] == (counts["candidates_paired"] + counts["candidates_filtered"]
                                       + counts["candidates_quarantined"] + sum(counts["dead_letter_by_reason"].values())
                                       + counts["candidates_merged"])
    assert counts["pairs"] > 0 and os.path.exists(os.path.join(runs["direct"], "report.html"))


def test_run_names_an_llm_generator_apart_from_the_reward_model(tmp_path, faulty_server, capsys):  # noqa: F811
    pytest.importorskip("httpx")
    faulty_server.reset()  # every request answers one call to a tool no example has: a wrong call
    out = str(tmp_path / "out")
    code = cli.main(["run", "--source", "bfcl",
                     "--input", os.path.join(SAMPLES, "bfcl_live_sample", "BFCL_v3_live_simple.json"),
                     "--output", out, "--generators", "rules,llm-sample",
                     "--generator_backend", "openai", "--generator_endpoint", faulty_server.base_url,
                     "--generator_model", "tiny-served", "--generator_api_key_env", "", "--samples", "2",
                     "--request_timeout_s", "10", "--max_retries", "1"])
    assert code == 0
    with open(os.path.join(out, "synthesize", "manifest.json")) as handle:
        synthesized = json.load(handle)
    assert synthesized["config"]["llm"]["model"] == "tiny-served"
    assert synthesized["config"]["llm"]["http"]["timeout_s"] == 10.0
    candidates = _rows_by_folder(os.path.join(out, "synthesize"))["./candidates"]
    llm = [json.loads(c) for c in candidates if '"origin": "llm-sample:tiny-served"' in c]
    examples = {e["example_id"]: e for e in map(json.loads, _rows_by_folder(os.path.join(out, "ingest", "bfcl"))["./examples"])}
    without = set(examples) - {c["example_id"] for c in llm}
    # The served answer is one example's correct call: there it is the reference
    # (one candidate per content hash); everywhere else it is a wrong call.
    answer = json.loads(faulty_server.answer)
    assert len(without) == 1 and all(_normalized(examples[e]["reference"]) == answer for e in without)
    assert llm and not any(c["correct"] for c in llm)
    # The reward model is still the bundled one: --model was not taken by the generator.
    assert json.load(open(os.path.join(out, "manifest.json")))["config"]["scorer"].startswith("toolrm-lite@")
    # The server saw the generator's model name.
    assert {body["model"] for _, body, _ in faulty_server.log} == {"tiny-served"}


def test_run_refuses_an_llm_generator_without_a_model(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--output", "unused", "--generators", "rules,llm-sample"])
    assert exit_info.value.code == 2
    assert "--generator_model" in capsys.readouterr().err


def test_a_glob_the_shell_expanded_is_refused_not_half_read(tmp_path, capsys):
    files = sorted(glob.glob(os.path.join(SAMPLES, "bfcl_live_sample", "*.json")))
    # `--input dir/*.json` unquoted: the shell passes every file, argparse takes the first.
    code = cli.main(["ingest", "--source", "bfcl", "--input", *files, "--output", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"unexpected argument {files[1]!r}" in err and "Quote globs" in err
    assert not os.path.exists(tmp_path / "o" / "manifest.json")


def test_beam_flags_with_values_pass_the_stray_argument_check():
    from toolrm_beam.runners.presets import RunnerOptionsError, check_beam_args

    check_beam_args(["--project", "p", "--region=us-central1", "--save_main_session", "--direct_num_workers", "2",
                     "--experiments", "use_runner_v2", "--experiments=no_use_multiple_sdk_containers"])
    with pytest.raises(RunnerOptionsError, match="'stray'"):
        check_beam_args(["--project", "p", "stray"])


@pytest.mark.parametrize("extra, message", [
    (["--generators", "rules,sampler"], "--generators: unknown ['sampler']"),
    (["--generators", "rules,llm-sample"], "a model is required"),
    (["--generators", "llm-sample", "--model", "m", "--backend", "openai"], "needs the server's base URL"),
    (["--mix", "parameter_value_error=x"], "is not a number"),
])
def test_synthesize_usage_mistakes_exit_2_before_reading_anything(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["synthesize", "--input", str(tmp_path / "missing-*.parquet"), "--output", str(tmp_path / "o"),
                  *extra])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
