"""End-to-end tests of the synthesize pipeline on ingested real examples."""
from __future__ import annotations

import glob
import os

import pyarrow.parquet as pq
import pytest

from toolrm_beam.beam_pipelines import ingest, synthesize
from toolrm_beam.schemas.checker import check
from toolrm_beam.schemas.records import CANDIDATE_JSON_FIELDS, EXAMPLE_ARROW_SCHEMA, from_row, to_row
from toolrm_beam.transforms.fileio import parquet_bytes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(REPO, "data", "samples")


@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory):
    """Canonical examples of the bundled BFCL live sample and two ACEBench files, via the ingest pipeline."""
    root = tmp_path_factory.mktemp("examples")
    ingest.run(["--source", "bfcl", "--input", os.path.join(SAMPLES, "bfcl_live_sample", "*.json"),
                "--output", str(root / "bfcl")])
    ingest.run(["--source", "acebench", "--input", os.path.join(SAMPLES, "acebench_en", "data_normal_atom_*.json"),
                "--input", os.path.join(SAMPLES, "acebench_en", "data_special_*.json"),
                "--output", str(root / "acebench")])
    return root


def read_rows(directory, prefix, json_fields=None):
    rows = []
    for path in sorted(glob.glob(os.path.join(directory, f"{prefix}-*.parquet"))):
        rows.extend(pq.read_table(path).to_pylist())
    return [from_row(r, json_fields) for r in rows] if json_fields else rows


def examples_by_id(directory):
    return {e["example_id"]: e for e in read_rows(directory, "examples", ("tools", "original_tools", "messages",
                                                                           "reference", "reference_detail"))}


def test_rules_label_every_candidate_by_the_checker(examples_dir, tmp_path):
    out = str(tmp_path / "syn")
    manifest = synthesize.run(["--input", str(examples_dir / "*" / "examples-*.parquet"), "--output", out])
    examples = {**examples_by_id(examples_dir / "bfcl"), **examples_by_id(examples_dir / "acebench")}
    candidates = read_rows(out, "candidates", CANDIDATE_JSON_FIELDS)
    counts = manifest["counts"]
    assert counts["examples_in"] == len(examples) and counts["rows_dead_letter"] == 0
    assert len(candidates) == sum(s["rows"] for s in manifest["files"]["candidates"])
    assert len({c["candidate_id"] for c in candidates}) == len(candidates)
    references = [c for c in candidates if c["origin"] == "reference"]
    assert len(references) == len(examples) == counts["positives"]
    for candidate in candidates:
        example = examples[candidate["example_id"]]
        verdict = check(example["tools"], example["reference"], candidate["output"],
                        reference_kind=example["reference_kind"])
        assert verdict.correct == candidate["correct"]
        assert (verdict.error_type.value if verdict.error_type else None) == candidate["error_type"]
        if not candidate["correct"]:
            assert candidate["origin"] == f"rule:{candidate['error_type']}"
    negatives = [c for c in candidates if not c["correct"]]
    assert counts["negatives"] == len(negatives)
    assert sum(counts["negatives_by_error_type"].values()) == len(negatives)
    assert counts["negatives_schema_valid_share"] == round(sum(c["schema_valid"] for c in negatives) / len(negatives), 4)
    # Irrelevance-like examples get negatives that call a tool anyway.
    no_call = {i for i, e in examples.items() if e["reference_kind"] != "call"}
    assert any(c["example_id"] in no_call and isinstance(c["output"], list) and c["output"] for c in negatives)
    assert 0 <= counts["error_mix_tv_distance"] < 0.5


def test_deterministic_idempotent_and_same_rows_with_two_workers(examples_dir, tmp_path):
    args = ["--input", str(examples_dir / "bfcl" / "examples-*.parquet"), "--seed", "7"]
    first = synthesize.run(args + ["--output", str(tmp_path / "a")])
    again = synthesize.run(args + ["--output", str(tmp_path / "a")])
    multi = synthesize.run(args + ["--output", str(tmp_path / "m"), "--direct_num_workers", "2",
                                   "--direct_running_mode", "multi_processing"])
    other_seed = synthesize.run(["--input", str(examples_dir / "bfcl" / "examples-*.parquet"), "--seed", "8",
                                 "--output", str(tmp_path / "o")])
    rows = lambda d: sorted(read_rows(str(tmp_path / d), "candidates"), key=lambda r: r["candidate_id"])  # noqa: E731
    assert rows("a") == rows("m")
    assert first["counts"] == again["counts"] == multi["counts"]
    assert sorted(os.listdir(tmp_path / "a")) == ["candidates-00000-of-00001.parquet",
                                                  "dead_letter-00000-of-00001.parquet", "manifest.json"]
    assert {r["candidate_id"] for r in rows("o")} != {r["candidate_id"] for r in rows("a")}


def test_obfuscated_copies_keep_their_labels(examples_dir, tmp_path):
    out = str(tmp_path / "obf")
    manifest = synthesize.run(["--input", str(examples_dir / "bfcl" / "examples-*.parquet"), "--output", out,
                               "--obfuscate"])
    originals = examples_by_id(examples_dir / "bfcl")
    copies = examples_by_id(out)
    assert len(copies) == len(originals) == manifest["counts"]["obfuscated_examples"]
    assert not set(copies) & set(originals)
    candidates = read_rows(out, "candidates", CANDIDATE_JSON_FIELDS)
    copy_candidates = [c for c in candidates if c["example_id"] in copies]
    assert len(copy_candidates) == len(candidates) // 2
    original_names = {t["name"] for e in originals.values() for t in e["tools"]}
    for candidate in copy_candidates:
        example = copies[candidate["example_id"]]
        assert not {t["name"] for t in example["tools"]} & original_names
        verdict = check(example["tools"], example["reference"], candidate["output"],
                        reference_kind=example["reference_kind"])
        assert verdict.correct == candidate["correct"]


def test_bad_example_rows_are_dead_lettered(examples_dir, tmp_path):
    good = read_rows(examples_dir / "bfcl", "examples")[:3]
    broken = dict(good[0], example_id="bfcl:0000000000000000", tools="[not json")
    tampered = from_row(dict(good[1]))
    tampered["reference"] = [{"name": "not_a_tool", "arguments": {}}]
    rows = good + [broken, to_row(dict(tampered, example_id="bfcl:1111111111111111"))]
    path = tmp_path / "examples-00000-of-00001.parquet"
    path.write_bytes(parquet_bytes(rows, EXAMPLE_ARROW_SCHEMA))
    manifest = synthesize.run(["--input", str(path), "--output", str(tmp_path / "out")])
    counts = manifest["counts"]
    assert counts["rows_in"] == 5 and counts["examples_in"] == 3 and counts["rows_dead_letter"] == 2
    assert set(counts["dead_letter_by_reason"]) == {"malformed_json", "unknown_tool_in_reference"}


def test_llm_sample_generator_with_a_local_model(examples_dir, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from llm_fixtures import build_tiny_chat_model

    model = build_tiny_chat_model(tmp_path / "model")
    rows = read_rows(examples_dir / "bfcl", "examples")[:4]
    path = tmp_path / "examples-00000-of-00001.parquet"
    path.write_bytes(parquet_bytes(rows, EXAMPLE_ARROW_SCHEMA))
    manifest = synthesize.run(["--input", str(path), "--output", str(tmp_path / "out"),
                               "--generators", "rules,llm-sample", "--model", model, "--samples", "2",
                               "--max_new_tokens", "8", "--temperature", "1.0"])
    origins = manifest["counts"]["candidates_by_origin"]
    llm = {o: n for o, n in origins.items() if o.startswith("llm-sample:")}
    assert llm and sum(llm.values()) >= 4  # a random tiny model: distinct garbage, each labelled
    assert manifest["counts"]["rows_dead_letter"] == 0
    candidates = read_rows(str(tmp_path / "out"), "candidates")
    assert len({c["candidate_id"] for c in candidates}) == len(candidates)
