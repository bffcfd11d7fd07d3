"""Hostile inputs through whole commands (issue 10): one test per class of failure, and per item.

Valid rows come from the shared corpora (BFCL live_simple with its answers, Seal-Tools dev with
its catalog); every bad input is a copy of one with one thing broken. Most tests share one
`toolrm run` over all of them at once, beside the valid rows, with a fault injected into
synthesize, write, score and select for one named valid example each; the others run `toolrm
verify`, `bench` or `refresh`, or stop before any pipeline starts. Every test asserts the exit
status; the pipeline ones also the dead letters with their stage and reason, that the valid
rows come out as a clean read of them alone gives, and rows_in = written + duplicate + dead letter.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import pathlib
import shutil
import socket

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toolrm_beam.beam_pipelines import refresh
from toolrm_beam.runners import cli
from toolrm_beam.schemas import json_schema, records
from toolrm_beam.transforms import rules, select_stage
from toolrm_beam.transforms.corpus_examples import file_examples
from toolrm_beam.transforms.reward.lite.model import LiteRewardModel

CORPORA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "corpora"
BFCL = CORPORA / "bfcl_live_sample"
SEAL = CORPORA / "seal_tools"
pytestmark = pytest.mark.skipif(not BFCL.is_dir() or not SEAL.is_dir(), reason="shared corpora not available")

REMOTE_HOST = "schemas.invalid"  # a $ref target; resolving it would be the network access the issue saw
N_BFCL, N_SEAL, N_PAIRS = 16, 8, 6


# ----------------------------------------------------------------------------- helpers

def jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_lines(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def dumps(row):
    return json.dumps(row, ensure_ascii=False)


def run_cli(argv):
    """`toolrm ARGV` in this process: (exit status, stdout, stderr). argparse's usage errors exit 2 themselves."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exited:
            code = exited.code
    return code, out.getvalue(), err.getvalue()


def one_line_error(code, err, *needles):
    """Exit 2 and a message naming what is wrong; never a traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    for needle in needles:
        assert needle in last, (needle, last)
    return last


def manifest(directory):
    with open(os.path.join(directory, "manifest.json")) as handle:
        return json.load(handle)


def shard_rows(directory, prefix):
    found = manifest(directory)
    return [row for shard in found["files"].get(prefix, [])
            for row in pq.read_table(os.path.join(directory, shard["file"])).to_pylist()]


def assert_accounted(ingest_manifest, rows_in):
    counts = ingest_manifest["counts"]
    assert counts["rows_in"] == rows_in
    assert counts["rows_in"] == counts["rows_written"] + counts["rows_duplicate"] + counts["rows_dead_letter"]


def bfcl_rows():
    answers = {a["id"]: a for a in jsonl(BFCL / "possible_answer" / "BFCL_v3_live_simple.json")}
    return [(row, answers[row["id"]]) for row in jsonl(BFCL / "BFCL_v3_live_simple.json")]


def first_values(ground_truth):
    """A correct call list in BFCL's `[{fn: {param: value}}]` form: each parameter's first given value."""
    calls = []
    for call in ground_truth:
        (name, params), = call.items()
        calls.append({name: {p: next(v for v in values if v != "") for p, values in params.items()
                             if any(v != "" for v in values)}})
    return calls


def wrong_value(calls):
    """The same calls with one value changed: a parameter value error."""
    wrong = copy.deepcopy(calls)
    (name, args), = wrong[0].items()
    param = sorted(args)[0]
    value = args[param]
    args[param] = value + 1 if isinstance(value, (int, float)) and not isinstance(value, bool) else f"not {value}"
    return wrong


def with_id(row, suffix):
    return {**row, "id": f"{row['id']}-{suffix}"}


# ----------------------------------------------------------------------------- the hostile corpus

def bad_bfcl_rows(base):
    """`{case: (line of JSONL text, row id)}`: hostile BFCL rows, each a copy of `base` with one thing broken."""
    def tool(**changes):
        spec = copy.deepcopy(base["function"][0])
        spec["parameters"].update(changes.pop("parameters", {}))
        spec.update(changes)
        return spec

    def row(suffix, **changes):
        return {**with_id(base, suffix), **changes}

    properties = base["function"][0]["parameters"]["properties"]
    first = sorted(properties)[0]
    rows = {
        "cyclic_ref_self": row("ref-self", function=[tool(parameters={"properties": {
            **properties, first: {"$ref": "#"}}})]),
        "cyclic_ref_pair": row("ref-pair", function=[tool(parameters={"properties": {
            **properties, first: {"$ref": "#/$defs/a"}}, "$defs": {"a": {"$ref": "#/$defs/b"},
                                                                   "b": {"$ref": "#/$defs/a"}}})]),
        "remote_ref": row("ref-remote", function=[tool(parameters={"properties": {
            **properties, first: {"$ref": f"http://{REMOTE_HOST}/param.json"}}})]),
        "unresolvable_ref": row("ref-missing", function=[tool(parameters={"properties": {
            **properties, first: {"$ref": "#/$defs/missing"}}})]),
        "null_content": row("null-content", question=[[{"role": "user", "content": None}]]),
        "required_not_a_list": row("required-text", function=[tool(parameters={"required": first})]),
        "name_with_space": row("name-space", function=[tool(name="get user info")]),
        "name_with_newline": row("name-newline", function=[tool(name=base["function"][0]["name"] + "\n")]),
        "name_300_chars": row("name-long", function=[tool(name="f" * 300)]),
    }
    lines = {name: (dumps(value), value["id"]) for name, value in rows.items()}
    surrogate = row("surrogate", question=[[{"role": "user", "content": base["question"][0][0]["content"] + "@@"}]])
    lines["unpaired_surrogate"] = (dumps(surrogate).replace("@@", "\\ud83d"), surrogate["id"])
    for case, constant in (("nan_constant", "NaN"), ("infinity_constant", "-Infinity")):
        value = row(case, function=[tool(parameters={"properties": {**properties, first: {
            **properties[first], "default": "@@"}}})])
        lines[case] = (dumps(value).replace('"@@"', constant), value["id"])
    duplicated = row("duplicate-key")
    lines["duplicate_key"] = (dumps(duplicated).replace('"question":', '"function": [], "question":', 1),
                              duplicated["id"])
    return lines


EXPECTED_BFCL_REASONS = {
    "cyclic_ref_self": ("adapt", "cyclic_ref"), "cyclic_ref_pair": ("adapt", "cyclic_ref"),
    "remote_ref": ("adapt", "remote_ref"), "unresolvable_ref": ("adapt", "unresolvable_ref"),
    "null_content": ("adapt", "null_content"), "required_not_a_list": ("adapt", "invalid_required"),
    "name_with_space": ("adapt", "invalid_function_name"), "name_with_newline": ("adapt", "invalid_function_name"),
    "name_300_chars": ("adapt", "invalid_function_name"), "unpaired_surrogate": ("read", "unpaired_surrogate"),
    "nan_constant": ("read", "non_standard_json_constant"),
    "infinity_constant": ("read", "non_standard_json_constant"), "duplicate_key": ("read", "duplicate_key"),
}


def build_corpus(root: pathlib.Path) -> dict:
    """The hostile corpus and, beside it, the same valid rows alone (for the clean reading)."""
    pairs = bfcl_rows()
    valid, spare = pairs[:N_BFCL], pairs[N_BFCL:]
    for folder in ("hostile", "clean"):
        write_lines(root / folder / "bfcl" / "BFCL_v3_live_simple.json", [dumps(q) for q, _ in valid])
        write_lines(root / folder / "bfcl" / "possible_answer" / "BFCL_v3_live_simple.json",
                    [dumps(a) for _, a in valid])
    # A user's own file in BFCL format, under its own name: hostile rows, one lenient-shape row, an orphan answer.
    base, answer = spare[0]
    bad = bad_bfcl_rows(base)
    flat_question, flat_answer = spare[1]
    flat = {**with_id(flat_question, "flat"), "question": flat_question["question"][0]}  # one flat message list
    flat_answer = {**flat_answer, "id": flat["id"]}
    lines = [line for line, _ in bad.values()] + [dumps(flat)]
    answers = [dumps({**answer, "id": row_id}) for _, row_id in bad.values()] + \
        [dumps(flat_answer), dumps({**answer, "id": "orphan_answer_0"})]
    write_lines(root / "hostile" / "bfcl" / "my_questions.jsonl", lines)
    write_lines(root / "hostile" / "bfcl" / "possible_answer" / "my_questions.jsonl", answers)
    write_lines(root / "clean" / "bfcl" / "my_questions.jsonl", [dumps(flat)])
    write_lines(root / "clean" / "bfcl" / "possible_answer" / "my_questions.jsonl", [dumps(flat_answer)])
    # Files that hold no rows at all, beside the others.
    (root / "hostile" / "bfcl" / "empty.json").write_bytes(b"")
    (root / "hostile" / "bfcl" / "blank.jsonl").write_text("\n  \n\t\n")
    (root / "hostile" / "bfcl" / "zero.parquet").write_bytes(b"")
    (root / "hostile" / "bfcl" / "not_parquet.parquet").write_text(dumps(base) + "\n")

    # Seal-Tools: valid rows, and one calling a tool the catalog defines twice, differently.
    seal_rows = jsonl(SEAL / "dev.jsonl")[:N_SEAL]
    catalog = {spec["api_name"]: spec for spec in jsonl(SEAL / "tool.jsonl")}
    used = [catalog[c["api"]] for row in seal_rows for c in row["calling"]]
    used = list({spec["api_name"]: spec for spec in used}.values())
    twin = {**used[0], "api_name": "twiceDefinedTool"}
    ambiguous_row = {**seal_rows[0], "id": "dev-ambiguous-0",
                     "calling": [{**seal_rows[0]["calling"][0], "api": "twiceDefinedTool"}]}
    write_lines(root / "clean" / "seal" / "tool.jsonl", [dumps(s) for s in used])
    write_lines(root / "clean" / "seal" / "dev.jsonl", [dumps(r) for r in seal_rows])
    write_lines(root / "hostile" / "seal" / "tool.jsonl",
                [dumps(s) for s in used] + [dumps(twin), dumps({**twin, "api_description": "Something else."})])
    write_lines(root / "hostile" / "seal" / "dev.jsonl", [dumps(r) for r in seal_rows] + [dumps(ambiguous_row)])

    # FC-RewardBench pairs made from BFCL rows: valid ones, one with no preference, one with a null chosen output.
    pair_rows = []
    for question, truth in valid[:N_PAIRS]:
        calls = first_values(truth["ground_truth"])
        pair_rows.append({"tools": question["function"], "conversation": question["question"][0],
                          "chosen_output": json.dumps(calls), "rejected_output": json.dumps(wrong_value(calls)),
                          "error_type": "parameter_value_error", "model_name": "test",
                          "test_category": "live_simple", "test_id": question["id"]})
    no_preference = {**pair_rows[0], "test_id": "pair-same", "rejected_output": pair_rows[0]["chosen_output"]}
    null_chosen = {**pair_rows[1], "test_id": "pair-null", "chosen_output": None}
    write_lines(root / "clean" / "pairs" / "train.jsonl", [dumps(r) for r in pair_rows])
    write_lines(root / "hostile" / "pairs" / "train.jsonl",
                [dumps(r) for r in pair_rows] + [dumps(no_preference), dumps(null_chosen)])
    # Faults go to valid BFCL rows that no pair row shares a prompt id with.
    return {"bad_bfcl": bad, "fault_ids": {
        "synthesize": valid[N_PAIRS + 1][0]["id"], "score": valid[N_PAIRS + 3][0]["id"],
        "select": valid[N_PAIRS + 5][0]["id"], "write": seal_rows[2]["id"]}}


def inject_faults(monkeypatch, fault_ids):
    """A failure in synthesize, write, score and select, each for one named valid example."""
    generate, reference = rules.generate_rule_candidates, rules.reference_candidate
    score_pairs, select = LiteRewardModel.score_pairs, select_stage.select_pairs

    def failing_generate(example, **kwargs):
        if example["upstream_id"] == fault_ids["synthesize"]:
            raise RecursionError("maximum recursion depth exceeded (injected)")
        return generate(example, **kwargs)

    def unwritable_reference(example):
        candidate = reference(example)
        if example["upstream_id"] == fault_ids["write"]:
            call = candidate["output"][0]
            candidate = {**candidate, "output": [{**call, "arguments": {**call["arguments"], "note": "x\ud83d"}}]}
        return candidate

    def failing_score(self, pairs):
        if any(example["upstream_id"] == fault_ids["score"] for example, _ in pairs):
            raise FloatingPointError("scorer blew up (injected)")
        return score_pairs(self, pairs)

    def failing_select(example, candidates, policy):
        if example["upstream_id"] == fault_ids["select"]:
            raise KeyError("injected selection failure")
        return select(example, candidates, policy)

    monkeypatch.setattr(rules, "generate_rule_candidates", failing_generate)
    monkeypatch.setattr(rules, "reference_candidate", unwritable_reference)
    monkeypatch.setattr(LiteRewardModel, "score_pairs", failing_score)
    monkeypatch.setattr(select_stage, "select_pairs", failing_select)


def refuse_network(monkeypatch, attempts):
    """Record and refuse every name lookup of a non-local host."""
    lookup = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in (None, "", "localhost", "127.0.0.1", "::1", "0.0.0.0"):
            attempts.append(host)
            raise OSError(f"test: network access to {host!r} refused")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    corpus = build_corpus(root)
    attempts: list[str] = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        inject_faults(monkeypatch, corpus["fault_ids"])
        refuse_network(monkeypatch, attempts)
        out = str(root / "out")
        code, stdout, stderr = run_cli([
            "run", "--output", out, "--source", "bfcl", "--input", str(root / "hostile" / "bfcl" / "*"),
            "--source", "seal_tools", "--input", str(root / "hostile" / "seal" / "*"),
            "--source", "fc_rewardbench", "--input", str(root / "hostile" / "pairs" / "*.jsonl")])
    return {**corpus, "root": root, "out": out, "code": code, "stdout": stdout, "stderr": stderr,
            "network": attempts}


def dead_letters(hostile, stage_dir):
    return shard_rows(os.path.join(hostile["out"], stage_dir), "dead_letter") if stage_dir else \
        shard_rows(hostile["out"], "dead_letter")


def ingest_dir(hostile, source):
    return os.path.join(hostile["out"], "ingest", source)


def test_hostile_run_finishes_with_status_0_under_the_dead_letter_limit(hostile):
    assert hostile["code"] == 0, hostile["stderr"]
    assert "Traceback" not in hostile["stderr"]
    for source, usable_rows in (("bfcl", N_BFCL + len(EXPECTED_BFCL_REASONS) + 1), ("seal_tools", N_SEAL + 1),
                                ("fc_rewardbench", N_PAIRS + 2)):
        assert_accounted(manifest(ingest_dir(hostile, source)), usable_rows)


def test_valid_rows_pass_unchanged(hostile):
    clean = hostile["root"] / "clean"
    expected = {}
    for source, folder in (("bfcl", "bfcl"), ("seal_tools", "seal"), ("fc_rewardbench", "pairs")):
        for path in sorted((clean / folder).glob("*.json*")):
            for example in file_examples(source, str(path), validate=True):
                expected[example["example_id"]] = records.to_row(example)
    written = {}
    for source in ("bfcl", "seal_tools", "fc_rewardbench"):
        for row in shard_rows(ingest_dir(hostile, source), "examples"):
            written[row["example_id"]] = row
    assert len(expected) == N_BFCL + 1 + N_SEAL + N_PAIRS
    assert {k: written.get(k) for k in expected} == expected
    # Every valid example reaches the pairs, except the four a fault was injected into.
    faulted = set(hostile["fault_ids"].values())
    paired = {row["example_id"] for row in shard_rows(hostile["out"], "pairs")}
    upstream = {k: v["upstream_id"] for k, v in expected.items()}
    assert {k for k in expected if upstream[k] not in faulted} <= paired


# --- class 1: one row must not crash the job; every stage isolates its failures -------------

def test_class1_unpaired_surrogate_is_dead_lettered_at_read(hostile):
    dead = dead_letters(hostile, "ingest/bfcl")
    row_id = hostile["bad_bfcl"]["unpaired_surrogate"][1]
    mine = [d for d in dead if f'"{row_id}"' in d["raw_row"]]
    assert [(d["stage"], d["reason"]) for d in mine] == [("read", "unpaired_surrogate")]
    assert "U+D83D" in mine[0]["detail"]


@pytest.mark.parametrize("case", ["cyclic_ref_self", "cyclic_ref_pair", "remote_ref", "unresolvable_ref"])
def test_class1_refs_later_stages_cannot_follow_are_refused_at_ingest(hostile, case):
    dead = dead_letters(hostile, "ingest/bfcl")
    row_id = hostile["bad_bfcl"][case][1]
    mine = [d for d in dead if f'"{row_id}"' in d["raw_row"]]
    assert [(d["stage"], d["reason"]) for d in mine] == [EXPECTED_BFCL_REASONS[case]], mine


def test_class1_a_schema_never_touches_the_network(hostile):
    assert REMOTE_HOST not in hostile["network"]
    # Nor does validation against such a schema, should one get past ingest (a hand-made shard).
    attempts = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        refuse_network(monkeypatch, attempts)
        validator = json_schema.validator({"properties": {"a": {"$ref": f"http://{REMOTE_HOST}/a.json"}}})
        with pytest.raises(Exception, match="Unresolvable"):
            validator.is_valid({"a": 1})
    assert attempts == []


@pytest.mark.parametrize("stage, reason", [("synthesize", "synthesize_failed"), ("write", "unpaired_surrogate"),
                                           ("score", "score_failed"), ("select", "select_failed")])
def test_class1_each_stage_isolates_a_failing_element(hostile, stage, reason):
    folder = "synthesize" if stage in ("synthesize", "write") else None
    dead = [d for d in dead_letters(hostile, folder) if d["stage"] == stage]
    assert dead and {d["reason"] for d in dead} == {reason}, dead
    faulted = hostile["fault_ids"][stage]
    examples = {row["example_id"]: row["upstream_id"] for source in ("bfcl", "seal_tools", "fc_rewardbench")
                for row in shard_rows(ingest_dir(hostile, source), "examples")}
    assert {examples[json.loads(d["raw_row"])["example_id"]] for d in dead} == {faulted}
    if stage in ("score", "select"):
        # One dead letter per candidate of the example, so candidates stay accounted for.
        counts = manifest(hostile["out"])["counts"]
        assert counts["candidates_in"] == (counts["candidates_paired"] + counts["candidates_filtered"]
                                           + counts["candidates_quarantined"]
                                           + sum(counts["dead_letter_by_reason"].values())
                                           + counts["candidates_merged"])


# --- class 2: empty success --------------------------------------------------------------

@pytest.mark.parametrize("name, reason", [("empty.json", "empty file (0 bytes)"), ("blank.jsonl", "only blank lines"),
                                          ("zero.parquet", "empty file (0 bytes)"),
                                          ("not_parquet.parquet", "not a Parquet file")])
def test_class2_a_file_without_rows_beside_valid_ones_is_a_warning_with_0_rows(hostile, name, reason):
    warnings = [line for line in hostile["stderr"].splitlines() if name in line]
    assert warnings and "warning" in warnings[0] and reason in warnings[0] and "0 rows counted" in warnings[0]
    found = manifest(ingest_dir(hostile, "bfcl"))
    skipped = {os.path.basename(s["file"]): s["reason"] for s in found["config"]["skipped_inputs"]}
    assert reason in skipped[name]
    assert found["counts"]["files_skipped"] == 4
    assert not any(name in row["source_file"] for row in dead_letters(hostile, "ingest/bfcl"))


@pytest.mark.parametrize("make, needle", [
    (lambda d: (d / "x.jsonl").write_bytes(b""), "empty file (0 bytes)"),
    (lambda d: (d / "x.jsonl").write_text("\n\n  \n"), "holds only blank lines"),
    (lambda d: (d / "x.parquet").write_bytes(b""), "empty file (0 bytes)"),
    (lambda d: (d / "x.parquet").write_text("{}"), "not a Parquet file"),
    (lambda d: (d / "x.jsonl").mkdir(), "is a folder: give a glob of its files"),
])
def test_class2_a_file_without_rows_alone_is_an_error_before_start(tmp_path, make, needle):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make(corpus)
    out = tmp_path / "out"
    code, _, err = run_cli(["run", "--output", str(out), "--source", "xlam", "--input", str(corpus / "x.*")
                            if not (corpus / "x.jsonl").is_dir() else str(corpus / "x.jsonl")])
    one_line_error(code, err, "x.", needle)
    assert not out.exists()  # nothing started


@pytest.mark.parametrize("catalog", [None, b"", b"\n\n"])
def test_class2_a_missing_or_empty_catalog_is_an_error_before_start(tmp_path, catalog):
    corpus = tmp_path / "seal"
    write_lines(corpus / "dev.jsonl", [dumps(r) for r in jsonl(SEAL / "dev.jsonl")[:3]])
    if catalog is not None:
        (corpus / "tool.jsonl").write_bytes(catalog)
    code, _, err = run_cli(["run", "--output", str(tmp_path / "out"), "--source", "seal_tools",
                            "--input", str(corpus / "*")])
    one_line_error(code, err, "tool.jsonl")
    assert not (tmp_path / "out").exists()


def test_class2_a_run_whose_rows_are_all_dead_lettered_writes_its_outputs_and_exits_1(tmp_path):
    corpus = tmp_path / "bfcl"
    rows = bfcl_rows()[:3]
    write_lines(corpus / "BFCL_v3_live_simple.json",
                [dumps(with_id(q, "nan"))[:-1] + ', "extra": NaN}' for q, _ in rows])
    write_lines(corpus / "possible_answer" / "BFCL_v3_live_simple.json",
                [dumps({**a, "id": a["id"] + "-nan"}) for _, a in rows])
    out = tmp_path / "out"
    code, _, err = run_cli(["run", "--output", str(out), "--source", "bfcl", "--input", str(corpus / "*.json")])
    assert code == 1 and "Traceback" not in err
    assert "every one of 3 rows was dead-lettered" in err
    assert "top dead-letter reasons" in err and "non_standard_json_constant" in err
    assert (out / "manifest.json").exists() and (out / "report.html").exists()  # outputs written all the same
    assert_accounted(manifest(out / "ingest" / "bfcl"), 3)
    assert {d["reason"] for d in shard_rows(str(out / "ingest" / "bfcl"), "dead_letter")} == \
        {"non_standard_json_constant"}


def test_class2_refresh_does_not_publish_a_version_over_the_dead_letter_limit(tmp_path):
    corpus, dataset = tmp_path / "bfcl", tmp_path / "dataset"
    rows = bfcl_rows()[:8]
    good, bad = rows[:3], rows[3:]
    write_lines(corpus / "BFCL_v3_live_simple.json",
                [dumps(q) for q, _ in good] + [dumps({**q, "function": [{**q["function"][0], "name": "bad name"}]})
                                               for q, _ in bad])
    write_lines(corpus / "possible_answer" / "BFCL_v3_live_simple.json", [dumps(a) for _, a in rows])
    args = ["refresh", "--dataset", str(dataset), "--source", "bfcl", "--input", str(corpus / "*.json")]
    code, _, err = run_cli(args)
    assert code == 1 and "Traceback" not in err
    assert "5 of 8 rows dead-lettered" in err and "invalid_function_name" in err
    assert "nothing published" in err
    assert refresh.load_published(str(dataset)) is None
    # A higher limit publishes the same (reused) run; a staged manifest a killed refresh left goes at once.
    stale = dataset / f".manifest.json{refresh.TEMP_MARK}0123456789abcdef"
    stale.write_text("{}")
    code, out, err = run_cli(args + ["--max_dead_letter_fraction", "0.7"])
    assert code == 0, err
    published = refresh.load_published(str(dataset))
    assert published["version"] == 1 and published["counts"]["rows_dead_letter"] == 5
    assert not stale.exists() and "removed staged manifests a killed refresh left: 1" in out


# --- class 3: Parquet whose schema does not fit -------------------------------------------

def test_class3_parquet_schema_misfit_is_an_error_naming_each_column(tmp_path):
    corpus = tmp_path / "seal"
    corpus.mkdir()
    shutil.copy(SEAL / "tool.jsonl", corpus / "tool.jsonl")
    seal_rows = jsonl(SEAL / "dev.jsonl")[:4]
    write_lines(corpus / "dev.jsonl", [dumps(r) for r in seal_rows])  # valid rows beside the misfit
    pq.write_table(pa.table({"id": [r["id"] for r in seal_rows], "query": [1, 2, 3, 4],
                             "calling": pa.array([None] * 4, pa.null())}), corpus / "misfit.parquet")
    pq.write_table(pa.table({"id": ["a"], "question": ["b"]}), corpus / "other.parquet")
    code, _, err = run_cli(["run", "--output", str(tmp_path / "out"), "--source", "seal_tools",
                            "--input", str(corpus / "*")])
    line = one_line_error(code, err, "misfit.parquet", "other.parquet")
    assert "column 'query' has type int64; expected text" in line
    assert "column 'calling' is all null (Arrow type null)" in line
    assert "column 'query' is missing" in line and "column 'calling' is missing" in line
    assert not (tmp_path / "out").exists()


# --- class 4: rows that must not pass as data ---------------------------------------------

@pytest.mark.parametrize("case", ["nan_constant", "infinity_constant", "duplicate_key", "null_content",
                                  "required_not_a_list", "name_with_space", "name_with_newline", "name_300_chars"])
def test_class4_rows_that_are_not_data_are_dead_lettered_with_the_reason(hostile, case):
    dead = dead_letters(hostile, "ingest/bfcl")
    row_id = hostile["bad_bfcl"][case][1]
    mine = [d for d in dead if f'"{row_id}"' in d["raw_row"]]
    assert [(d["stage"], d["reason"]) for d in mine] == [EXPECTED_BFCL_REASONS[case]], mine


def test_class4_a_pair_without_preference_is_dead_lettered(hostile):
    dead = dead_letters(hostile, "ingest/fc_rewardbench")
    assert sorted((d["reason"], json.loads(d["raw_row"])["test_id"]) for d in dead) == [
        ("missing_field", "pair-null"), ("no_preference", "pair-same")]


def test_class4_a_flat_bfcl_question_is_the_one_documented_lenient_shape(hostile):
    flat = [row for row in shard_rows(ingest_dir(hostile, "bfcl"), "examples") if row["upstream_id"].endswith("-flat")]
    assert len(flat) == 1 and json.loads(flat[0]["messages"])[0]["role"] == "user"


# --- class 5: the checker -------------------------------------------------------------------

def verify_rows_from_bfcl(count):
    rows = []
    for question, answer in bfcl_rows()[:count]:
        calls = first_values(answer["ground_truth"])
        (name, arguments), = calls[0].items()
        rows.append({"id": question["id"], "tools": question["function"], "reference": answer["ground_truth"],
                     "candidate": json.dumps({"name": name, "arguments": arguments})})  # one object, not a list
        rows.append({"id": question["id"] + "-list", "tools": question["function"],
                     "reference": answer["ground_truth"],
                     "candidate": json.dumps([{"name": name, "arguments": arguments}])})
    return rows


@pytest.mark.parametrize("decoding, single_object_correct", [(None, False), ("strict", False), ("lenient", True)])
def test_class5_a_single_call_object_is_a_parsing_error_unless_decoding_is_lenient(tmp_path, decoding,
                                                                                   single_object_correct):
    source = tmp_path / "rows.jsonl"
    write_lines(source, [dumps(r) for r in verify_rows_from_bfcl(4)])
    out = tmp_path / "out.jsonl"
    code, stdout, err = run_cli(["verify", "--input", str(source), "--output", str(out)]
                                + (["--decoding", decoding] if decoding else []))
    assert code == 0, err
    assert f"({decoding or 'strict'} decoding)" in stdout
    rows = jsonl(out)
    single = [r for r in rows if not r["id"].endswith("-list")]
    listed = [r for r in rows if r["id"].endswith("-list")]
    assert all(r["correct"] for r in listed) and len(listed) == 4
    if single_object_correct:
        assert all(r["correct"] for r in single)
    else:
        assert {(r["correct"], r["error_type"]) for r in single} == {(False, "parsing_error")}


def test_class5_the_synthesize_manifest_records_the_decoding(hostile):
    assert manifest(os.path.join(hostile["out"], "synthesize"))["config"]["decoding"] == "strict"


# --- class 6: every command, every bad path or option ----------------------------------------

def test_class6_verify_survives_a_surrogate_candidate_and_refuses_an_empty_parquet(tmp_path):
    rows = verify_rows_from_bfcl(2)
    lines = [dumps(r) for r in rows]
    lines.append(dumps({**rows[1], "id": "surrogate", "candidate": "[f(a='SURR')]"}).replace("SURR", "\\ud83d"))
    source = tmp_path / "rows.jsonl"
    write_lines(source, lines)
    for output in ("out.jsonl", "out.parquet"):
        code, _, err = run_cli(["verify", "--input", str(source), "--output", str(tmp_path / output)])
        assert code == 0 and "Traceback" not in err
    written = jsonl(tmp_path / "out.jsonl")
    assert len(written) == len(lines)
    assert written[-1]["error_type"] == "invalid_row" and "unpaired_surrogate" in written[-1]["detail"]
    assert [r["correct"] for r in written[:-1]] == [False, True, False, True]
    assert pq.read_table(tmp_path / "out.parquet").num_rows == len(lines)
    (tmp_path / "zero.parquet").write_bytes(b"")
    code, _, err = run_cli(["verify", "--input", str(tmp_path / "zero.parquet"), "--output", str(tmp_path / "o.jsonl")])
    one_line_error(code, err, "zero.parquet", "empty file")


def rewardbench_rows(count):
    rows = []
    for question, answer in bfcl_rows()[:count]:
        calls = first_values(answer["ground_truth"])
        rows.append({"tools": json.dumps(question["function"]), "conversation": question["question"][0],
                     "chosen_output": json.dumps(calls), "rejected_output": json.dumps(wrong_value(calls)),
                     "error_type": "parameter_value_error"})
    return rows


def test_class6_bench_skips_and_counts_bad_rows_the_way_ingest_does(tmp_path):
    rows = rewardbench_rows(6)
    bad = [dumps(rows[0])[:-10],                                              # malformed JSON line
           dumps({**rows[1], "tools": rows[1]["tools"][:-3]}),                 # malformed JSON cell
           dumps({**rows[2], "tools": {"name": "f"}}),                         # tools not a list
           dumps({**rows[3], "chosen_output": None}),                          # null chosen output
           dumps({**rows[4], "rejected_output": rows[4]["chosen_output"]})]    # no preference
    pairs = tmp_path / "pairs.jsonl"
    write_lines(pairs, [dumps(r) for r in rows] + bad)
    code, out, err = run_cli(["bench", "rewardbench", "--pairs", str(pairs), "--json"])
    assert code == 0, err
    result = json.loads(out)
    assert result["pairs"] == len(rows) and result["rows_skipped"] == len(bad)
    assert result["skipped_by_reason"] == {"bad_field_type": 1, "malformed_json": 2, "missing_field": 1,
                                           "no_preference": 1}
    assert "5 row(s) skipped" in err
    prompts = tmp_path / "prompts.jsonl"
    write_lines(prompts, [dumps({"tools": r["tools"], "conversation": r["conversation"],
                                 "candidates": [{"output": r["chosen_output"], "correct": True},
                                                {"output": r["rejected_output"], "correct": False}]}) for r in rows]
                + [dumps({"tools": rows[0]["tools"], "conversation": rows[0]["conversation"],
                          "candidates": [{"output": None, "correct": "yes"}]})])
    code, out, err = run_cli(["bench", "bestofn", "--input", str(prompts), "--json"])
    assert code == 0, err
    assert json.loads(out)["prompts"] == len(rows) and json.loads(out)["skipped_by_reason"] == {"bad_field_type": 1}


def bad_files(tmp_path):
    valid = tmp_path / "valid.parquet"
    pq.write_table(pa.Table.from_pylist(rewardbench_rows(3)), valid)
    data = valid.read_bytes()
    files = {"missing": tmp_path / "missing.jsonl", "directory": tmp_path / "a_directory",
             "truncated": tmp_path / "truncated.parquet", "not_parquet": tmp_path / "text.parquet",
             "zero_bytes": tmp_path / "zero.parquet", "missing_columns": tmp_path / "columns.parquet"}
    files["directory"].mkdir()
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["not_parquet"].write_text("tools,conversation\n")
    files["zero_bytes"].write_bytes(b"")
    pq.write_table(pa.table({"tools": ["[]"], "conversation": ["[]"]}), files["missing_columns"])
    return files


@pytest.mark.parametrize("kind", ["missing", "directory", "truncated", "not_parquet", "zero_bytes",
                                  "missing_columns"])
def test_class6_bad_files_are_one_line_and_exit_2_for_every_command(tmp_path, kind):
    path = str(bad_files(tmp_path)[kind])
    out = str(tmp_path / "out")
    commands = [
        ["bench", "rewardbench", "--pairs", path], ["bench", "bestofn", "--input", path],
        ["verify", "--input", path, "--output", str(tmp_path / "v.jsonl")],
        ["ingest", "--source", "fc_rewardbench", "--input", path, "--output", out],
        ["run", "--source", "fc_rewardbench", "--input", path, "--output", out],
        ["synthesize", "--input", path, "--output", out],
        ["score", "--examples", path, "--candidates", path, "--output", out],
        ["refresh", "--dataset", str(tmp_path / "dataset"), "--source", "fc_rewardbench", "--input", path],
    ]
    for argv in commands:
        code, _, err = run_cli(argv)
        one_line_error(code, err, f"toolrm {argv[0]}")
        assert os.path.basename(path) in err, (argv, err)
    assert not os.path.exists(out)


@pytest.mark.parametrize("argv, needle", [
    (["ingest", "--source", "bfcl", "--input", "x", "--output", "o", "--num_shards", "-1"], "--num_shards"),
    (["run", "--max_dead_letter_fraction", "1.5"], "--max_dead_letter_fraction"),
    (["run", "--max_pairs_per_example", "0"], "--max_pairs_per_example"),
    (["synthesize", "--input", "x", "--output", "o", "--samples", "0"], "--samples"),
    (["synthesize", "--input", "x", "--output", "o", "--decoding", "loose"], "--decoding"),
    (["score", "--examples", "x", "--candidates", "y", "--output", "o", "--scorer", "lite", "--model", "/nope"],
     "/nope"),
    (["verify", "--input", "x.jsonl"], "--output"),
    (["bench", "rewardbench", "--pairs", "x", "--max_length", "zero"], "--max_length"),
    (["refresh", "--dataset", "d", "--source", "bfcl", "--input", "x", "--files_per_run", "-2"], "--files_per_run"),
    (["train-lite", "--corpora", "/nope", "--output", "m"], "/nope"),
    (["train-lite", "--corpora", ".", "--output", "m", "--epochs", "0"], "--epochs"),
    (["ingest", "--source", "bfcl", "--input", "x", "--output", "o", "--num_shardz", "2"], "--num_shardz"),
])
def test_class6_bad_options_are_one_line_and_exit_2(tmp_path, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(argv)
    one_line_error(code, err, needle)


# --- class 7: file names and catalogs --------------------------------------------------------

def test_class7_a_bfcl_file_under_any_name_is_read_and_orphan_answers_are_reported(hostile):
    found = manifest(ingest_dir(hostile, "bfcl"))
    assert any(path.endswith("my_questions.jsonl") for path in found["config"]["inputs"])
    assert found["counts"]["answers_without_question"] == 1
    warnings = [line for line in hostile["stderr"].splitlines() if "orphan_answer_0" in line]
    assert warnings and "1 answer(s) match no question" in warnings[0]


def test_class7_an_ambiguous_catalog_name_dead_letters_exactly_the_rows_that_call_it(hostile):
    dead = dead_letters(hostile, "ingest/seal_tools")
    assert [(d["reason"], json.loads(d["raw_row"])["id"]) for d in dead] == [("ambiguous_tool", "dev-ambiguous-0")]
    assert "twiceDefinedTool" in dead[0]["detail"] and "lines" in dead[0]["detail"]
    found = manifest(ingest_dir(hostile, "seal_tools"))
    assert found["counts"]["ambiguous_catalog_tools"] == 1 and found["counts"]["rows_written"] == N_SEAL
