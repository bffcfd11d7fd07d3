"""End-to-end tests of the ingest pipeline on real corpus rows (DirectRunner)."""
from __future__ import annotations

import copy
import glob
import json
import os

import fsspec
import pyarrow.parquet as pq
import pytest

from toolrm_beam.beam_pipelines import ingest
from toolrm_beam.schemas.records import EXAMPLE_ARROW_SCHEMA, from_row
from toolrm_beam.transforms.fileio import InputError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(REPO, "data", "samples")
BFCL_SIMPLE = os.path.join(SAMPLES, "bfcl_live_sample", "BFCL_v3_live_simple.json")
BFCL_SIMPLE_ANSWERS = os.path.join(SAMPLES, "bfcl_live_sample", "possible_answer", "BFCL_v3_live_simple.json")


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_examples(directory):
    rows = []
    for path in sorted(glob.glob(os.path.join(directory, "examples-*.parquet"))):
        table = pq.read_table(path)
        assert table.schema.equals(EXAMPLE_ARROW_SCHEMA, check_metadata=False)
        rows.extend(from_row(r) for r in table.to_pylist())
    return rows


def read_dead_letters(directory):
    return [r for path in sorted(glob.glob(os.path.join(directory, "dead_letter-*.parquet")))
            for r in pq.read_table(path).to_pylist()]


def assert_balanced(manifest):
    counts = manifest["counts"]
    assert counts["rows_in"] == counts["rows_written"] + counts["rows_duplicate"] + counts["rows_dead_letter"]


BFCL_SAMPLE_ARGS = ["--source", "bfcl", "--input", os.path.join(SAMPLES, "bfcl_live_sample", "*.json")]


@pytest.fixture(scope="module")
def bfcl_sample(tmp_path_factory):
    """The bundled BFCL live sample ingested on the default (direct) runner: (output folder, manifest)."""
    out = str(tmp_path_factory.mktemp("bfcl_sample") / "out")
    return out, ingest.run(BFCL_SAMPLE_ARGS + ["--output", out])


def test_bundled_bfcl_sample_ingests_every_row(bfcl_sample):
    out, manifest = bfcl_sample
    rows_in = sum(len(read_jsonl(p)) for p in glob.glob(os.path.join(SAMPLES, "bfcl_live_sample", "*.json")))
    assert manifest["counts"]["rows_in"] == rows_in
    assert_balanced(manifest)
    examples = read_examples(out)
    assert len(examples) == manifest["counts"]["examples_out"]
    assert len({e["example_id"] for e in examples}) == len(examples)
    irrelevance = [e for e in examples if e["split"] == "live_irrelevance"]
    assert irrelevance and all(e["reference_kind"] == "no_call" and e["reference"] == [] for e in irrelevance)
    assert manifest["counts"]["examples_by_split"]["live_irrelevance"] == len(irrelevance)
    # The manifest's content hashes are those of the files on disk.
    for shards in manifest["files"].values():
        for shard in shards:
            with open(os.path.join(out, shard["file"]), "rb") as handle:
                assert ingest.fileio.sha256_hex(handle.read()) == shard["sha256"]


def _bfcl_dir_with_bad_rows(tmp_path):
    """A BFCL live_simple file with real rows plus one of each kind of bad row."""
    rows, answers = read_jsonl(BFCL_SIMPLE)[:6], read_jsonl(BFCL_SIMPLE_ANSWERS)[:6]
    assert [r["id"] for r in rows] == [a["id"] for a in answers]
    duplicate = copy.deepcopy(rows[0])
    duplicate["id"] = "live_simple_dup-0"
    missing_field = {"id": "live_simple_nofunc-0", "question": rows[1]["question"]}
    unknown_tool = copy.deepcopy(rows[2])
    unknown_tool["id"] = "live_simple_unknowntool-0"
    bad_spec = copy.deepcopy(rows[3])
    bad_spec["id"] = "live_simple_badspec-0"
    first_param = next(iter(bad_spec["function"][0]["parameters"]["properties"]))
    bad_spec["function"][0]["parameters"]["properties"][first_param]["type"] = "blob"
    extra_answers = [
        {"id": duplicate["id"], "ground_truth": answers[0]["ground_truth"]},
        {"id": missing_field["id"], "ground_truth": answers[1]["ground_truth"]},
        {"id": unknown_tool["id"], "ground_truth": [{"no_such_tool": {"x": [1]}}]},
        {"id": bad_spec["id"], "ground_truth": answers[3]["ground_truth"]},
    ]
    directory = tmp_path / "bfcl"
    (directory / "possible_answer").mkdir(parents=True)
    lines = [json.dumps(r) for r in rows + [duplicate, missing_field, unknown_tool, bad_spec]]
    lines.insert(3, '{"id": "live_simple_broken", "question": [[{"role": "user"')  # malformed JSON
    (directory / "BFCL_v3_live_simple.json").write_text("\n".join(lines) + "\n")
    (directory / "possible_answer" / "BFCL_v3_live_simple.json").write_text(
        "\n".join(json.dumps(a) for a in answers + extra_answers) + "\n")
    return directory


def test_bad_rows_are_dead_lettered_with_reasons_and_counted(tmp_path):
    directory = _bfcl_dir_with_bad_rows(tmp_path)
    out = str(tmp_path / "out")
    manifest = ingest.run(["--source", "bfcl", "--input", str(directory / "*.json"), "--output", out])
    counts = manifest["counts"]
    assert counts["rows_in"] == 11
    assert counts["rows_written"] == 6
    assert counts["rows_duplicate"] == 1
    assert counts["rows_dead_letter"] == 4
    dead = read_dead_letters(out)
    reasons = {d["reason"] for d in dead}
    assert "malformed_json" in reasons
    assert "unknown_tool_in_reference" in reasons
    assert "invalid_tool_spec" in reasons
    assert any(r.startswith("missing") for r in reasons)
    assert counts["dead_letter_by_reason"] == {r: sum(d["reason"] == r for d in dead) for r in reasons}
    broken = next(d for d in dead if d["reason"] == "malformed_json")
    assert broken["row_number"] == 4 and broken["raw_row"].startswith('{"id": "live_simple_broken"')
    assert broken["source_file"].endswith("BFCL_v3_live_simple.json")


def test_output_is_deterministic_and_rerun_is_idempotent(tmp_path):
    directory = _bfcl_dir_with_bad_rows(tmp_path)
    args = ["--source", "bfcl", "--input", str(directory / "*.json"), "--num_shards", "3"]
    first = ingest.run(args + ["--output", str(tmp_path / "a")])
    second = ingest.run(args + ["--output", str(tmp_path / "b")])
    again = ingest.run(args + ["--output", str(tmp_path / "a")])
    assert first["files"] == second["files"] == again["files"]
    assert sorted(os.listdir(tmp_path / "a")) == sorted(os.listdir(tmp_path / "b"))
    assert len(first["files"]["examples"]) == 3


def test_multi_process_direct_runner_gives_the_same_rows(tmp_path):
    args = ["--source", "acebench", "--input", os.path.join(SAMPLES, "acebench_en", "data_normal_atom_*.json")]
    single = ingest.run(args + ["--output", str(tmp_path / "single")])
    multi = ingest.run(args + ["--output", str(tmp_path / "multi"), "--direct_num_workers", "2",
                               "--direct_running_mode", "multi_processing"])
    assert single["counts"] == multi["counts"]
    assert read_examples(str(tmp_path / "single")) == read_examples(str(tmp_path / "multi"))


def test_parquet_input_and_truncated_parquet_file(tmp_path):
    source = os.path.join(SAMPLES, "seal_tools")
    directory = tmp_path / "seal"
    directory.mkdir()
    for name in ("dev.parquet", "tool.jsonl"):
        (directory / name).write_bytes(open(os.path.join(source, name), "rb").read())
    data = (directory / "dev.parquet").read_bytes()
    (directory / "broken.parquet").write_bytes(data[: len(data) // 2])
    out = str(tmp_path / "out")
    manifest = ingest.run(["--source", "seal_tools", "--input", str(directory / "*"), "--output", out])
    dev_rows = pq.read_table(directory / "dev.parquet").num_rows
    # A file with no readable footer holds no rows: named before the run, counted with 0 rows.
    assert manifest["counts"]["rows_in"] == dev_rows and manifest["counts"]["files_skipped"] == 1
    [skipped] = manifest["config"]["skipped_inputs"]
    assert skipped["file"].endswith("broken.parquet") and skipped["reason"].startswith("not a Parquet file")
    assert_balanced(manifest)
    examples = read_examples(out)
    assert {e["split"] for e in examples} == {"dev"}
    assert all(e["source"] == "seal_tools" and e["license"] == "Apache-2.0" for e in examples)


def test_reads_any_fsspec_url(tmp_path):
    memory = fsspec.filesystem("memory")
    memory.pipe("/corpus/possible_answer/BFCL_v3_live_simple.json", open(BFCL_SIMPLE_ANSWERS, "rb").read())
    memory.pipe("/corpus/BFCL_v3_live_simple.json", open(BFCL_SIMPLE, "rb").read())
    manifest = ingest.run(["--source", "bfcl", "--input", "memory:///corpus/*.json", "--output", str(tmp_path / "o")])
    assert manifest["counts"]["rows_in"] == len(read_jsonl(BFCL_SIMPLE))
    assert manifest["counts"]["rows_dead_letter"] == 0


def test_missing_input_is_a_clear_error_before_running(tmp_path):
    with pytest.raises(InputError, match="matches no files"):
        ingest.run(["--source", "bfcl", "--input", str(tmp_path / "nothing" / "*.json"),
                    "--output", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_portable_runner_writes_the_same_files(bfcl_sample, tmp_path):
    _, direct = bfcl_sample
    portable = ingest.run(BFCL_SAMPLE_ARGS + ["--output", str(tmp_path / "portable"), "--runner", "portable"])
    assert direct["files"] == portable["files"]  # same names, row counts and sha256 of every shard


def test_one_dedup_step_for_several_sources_keeps_identical_content_in_each():
    """`toolrm run` de-duplicates every corpus in one step: identical content is one example within a
    source, and stays one per source, as separate ingests would keep it; corpus candidates follow."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from toolrm_beam.schemas import records
    from toolrm_beam.transforms.dedup import DedupExamples, RekeyCandidates

    def example(source, upstream_id):
        return {"example_id": records.make_example_id(source, "s", upstream_id), "source": source,
                "content_hash": "one-task"}

    rows = [("seal.jsonl#1", example("seal_tools", "a")), ("seal.jsonl#2", example("seal_tools", "b")),
            ("bfcl.json#1", example("bfcl", "a"))]
    seal_ids = sorted(e["example_id"] for key, e in rows if e["source"] == "seal_tools")
    bfcl_id = rows[2][1]["example_id"]
    candidates = [{**records.make_candidate(e["example_id"], [{"f": {}}], "corpus", correct=True),
                   "example_content_hash": "one-task"} for _, e in rows]
    with TestPipeline() as pipeline:
        deduped = pipeline | "Rows" >> beam.Create(rows) | DedupExamples()
        kept = (pipeline | "Candidates" >> beam.Create(candidates)
                | RekeyCandidates(deduped["survivors"]))
        assert_that(deduped["examples"] | "Ids" >> beam.Map(lambda e: e["example_id"]),
                    equal_to([seal_ids[0], bfcl_id]), label="examples")
        assert_that(deduped["row_status"], equal_to([
            ("seal.jsonl#1" if rows[0][1]["example_id"] == seal_ids[0] else "seal.jsonl#2", "written"),
            ("seal.jsonl#2" if rows[0][1]["example_id"] == seal_ids[0] else "seal.jsonl#1", "duplicate"),
            ("bfcl.json#1", "written")]), label="statuses")
        assert_that(kept | "CandidateIds" >> beam.Map(lambda c: c["example_id"]),
                    equal_to([seal_ids[0], bfcl_id]), label="candidates")


def test_a_file_named_for_two_sources_is_an_input_error(tmp_path, capsys):
    """Every corpus of a run is read in one step, each file as one source: a file matched for two is
    refused before anything runs, naming it."""
    from toolrm_beam.runners import cli

    code = cli.main(["run", "--output", str(tmp_path / "out"), "--quiet",
                     "--source", "bfcl", "--input", BFCL_SIMPLE, "--source", "acebench", "--input", BFCL_SIMPLE])
    assert code == 2
    assert f"{BFCL_SIMPLE} matches both --source bfcl and --source acebench" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
