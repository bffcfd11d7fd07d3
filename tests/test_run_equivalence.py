"""`toolrm run` (one pipeline) writes what the stage commands write, one after the other, on the same input.

The corpora: the BFCL live sample (one row is dead-lettered), and a slice of a BFCL
results dump (one example per prompt and model answers: corpus candidates,
one of them equal to the reference, so score merges it). The stage commands
are those a user runs by hand: ingest per source, synthesize over the ingest
folders, score over the example folders and every candidate folder.
"""
from __future__ import annotations

import json
import os
import pathlib

import pytest

from test_run_command import _rows_by_folder
from toolrm_beam.runners import cli

REPO = pathlib.Path(__file__).resolve().parent.parent
BFCL = REPO / "data" / "samples" / "bfcl_live_sample"
RESULTS = REPO / "tests" / "fixtures" / "bfcl_results"
CORPORA = (("bfcl", str(BFCL / "*.json")), ("bfcl_results", str(RESULTS / "**")))
STAGE_MANIFESTS = ("ingest/bfcl", "ingest/bfcl_results", "synthesize", ".")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("equivalence")
    run_out, staged = root / "run", root / "staged"
    argv = ["run", "--output", str(run_out), "--quiet", "--max_pairs_per_example", "3"]
    for source, pattern in CORPORA:
        argv += ["--source", source, "--input", pattern]
    assert cli.main(argv) == 0
    for source, pattern in CORPORA:
        assert cli.main(["ingest", "--source", source, "--input", pattern,
                         "--output", str(staged / "ingest" / source)]) == 0
    ingested = [str(staged / "ingest" / source) for source, _ in CORPORA]
    assert cli.main(["synthesize", *[a for folder in ingested for a in ("--input", folder)],
                     "--output", str(staged / "synthesize")]) == 0
    assert cli.main(["score", *[a for folder in ingested for a in ("--examples", folder)],
                     # As `toolrm run` names them: a glob, since a corpus may bring no candidates.
                     *[a for folder in [str(staged / "synthesize"), *ingested]
                       for a in ("--candidates", os.path.join(folder, "candidates-*.parquet"))],
                     "--output", str(staged), "--max_pairs_per_example", "3"]) == 0
    return run_out, staged


def _manifest(root: pathlib.Path, stage: str) -> dict:
    with open(root / stage / "manifest.json", encoding="utf-8") as handle:
        return json.load(handle)


def test_run_writes_the_rows_the_stage_commands_write(outputs):
    run_out, staged = outputs
    expected = _rows_by_folder(str(staged))
    for key in ("ingest/bfcl/dead_letter", "ingest/bfcl_results/candidates", "synthesize/candidates",
                "pairs/pairs", "filtered/filtered"):
        assert expected.get(key), key
    assert _rows_by_folder(str(run_out)) == expected


def test_run_counts_every_stage_as_the_stage_commands_do(outputs):
    run_out, staged = outputs
    for stage in STAGE_MANIFESTS:
        assert _manifest(run_out, stage)["counts"] == _manifest(staged, stage)["counts"], stage
    counts = _manifest(run_out, ".")["counts"]
    assert counts["candidates_merged"] > 0
    assert counts["candidates_in"] == (counts["candidates_paired"] + counts["candidates_filtered"]
                                       + counts["candidates_quarantined"] + sum(counts["dead_letter_by_reason"].values())
                                       + counts["candidates_merged"])
    ingested = _manifest(run_out, "ingest/bfcl_results")["counts"]
    assert ingested["upstream_agreement"]["__all__"]["answers"] == 48
    # What the file check found is recorded as the stage command records it.
    for key in ("skipped_inputs", "input_warnings", "files_skipped"):
        assert _manifest(run_out, "ingest/bfcl")["config"][key] == _manifest(staged, "ingest/bfcl")["config"][key]


def test_run_report_shows_the_earlier_stages_dead_letters_and_their_time(outputs):
    run_out, staged = outputs
    report = (run_out / "report.html").read_text(encoding="utf-8")
    dead = _manifest(run_out, "ingest/bfcl")["counts"]["dead_letter_by_reason"]
    assert dead, "the BFCL live file has a row ingest dead-letters"
    for reason in dead:
        assert reason in report and reason in (staged / "report.html").read_text(encoding="utf-8")
    for step in ("ingest bfcl", "ingest bfcl_results", "synthesize"):
        assert f"<td>{step}</td>" in report, step
    assert "The stages ran in one pipeline" in report
