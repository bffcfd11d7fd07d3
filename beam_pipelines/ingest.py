"""The ingest pipeline: corpus files -> canonical Example (and Candidate) shards.

    files --ReadRows--> rows --AdaptRows(adapter + validation)--> examples
          --DedupExamples--> unique examples --WriteShards--> examples-*.parquet
    pair corpora: candidates --RekeyCandidates--> candidates-*.parquet
    every failure --> dead_letter-*.parquet;  counts --> manifest.json
"""
from __future__ import annotations

import argparse
from typing import Any

import apache_beam as beam

from toolrm_beam.beam_pipelines.common import (MANIFEST, candidate_row, default_num_shards, example_row, make_pipeline,
                                   read_manifest, remove_stale_shards, versions)
from toolrm_beam.runners.presets import RUNNERS
from toolrm_beam.schemas.adapters import ADAPTERS, get_adapter
from toolrm_beam.schemas.records import CANDIDATE_ARROW_SCHEMA, EXAMPLE_ARROW_SCHEMA
from toolrm_beam.transforms import fileio
from toolrm_beam.transforms.accounting import CountRowStatuses, CountValues, WriteManifest, row_counts
from toolrm_beam.transforms.adapt import AdaptRows
from toolrm_beam.transforms.dead_letter import DEAD_LETTER_SCHEMA
from toolrm_beam.transforms.dedup import DedupExamples, RekeyCandidates
from toolrm_beam.transforms.progress import CountProgress
from toolrm_beam.transforms.read_rows import ReadRows
from toolrm_beam.transforms.write_shards import WriteShards



def build(pipeline: beam.Pipeline | beam.pvalue.PBegin, *, source: str, files: list[str], output: str,
          num_shards: int, config: dict[str, Any]) -> dict[str, beam.PCollection]:
    """Add the ingest stages to `pipeline` (separate from `run` so tests can use TestPipeline).

    Returns the unique examples (what the next stage reads), the manifest and the dead letters.
    """
    read = pipeline | "Files" >> beam.Create(files) | "Read" >> ReadRows()
    _ = read["rows"] | "ProgressRows" >> CountProgress("ingest.rows")
    _ = read["dead_letter"] | "ProgressUnreadable" >> CountProgress("ingest.rows")
    adapted = read["rows"] | "AdaptRows" >> AdaptRows(source)
    deduped = adapted["examples"] | "Dedup" >> DedupExamples()
    candidates = adapted["candidates"] | "RekeyCandidates" >> RekeyCandidates(deduped["survivors"])
    dead_letters = (
        (read["dead_letter"], adapted["dead_letter"], deduped["dead_letter"]) | "AllDeadLetters" >> beam.Flatten()
    )

    example_shards = deduped["examples"] | "WriteExamples" >> WriteShards(
        output, "examples", EXAMPLE_ARROW_SCHEMA, num_shards,
        shard_key=lambda e: e["example_id"], sort_key=lambda r: r["example_id"], to_row=example_row)
    candidate_shards = candidates | "WriteCandidates" >> WriteShards(
        output, "candidates", CANDIDATE_ARROW_SCHEMA, num_shards,
        shard_key=lambda c: c["example_id"], sort_key=lambda r: (r["example_id"], r["candidate_id"]),
        to_row=candidate_row)
    dead_letter_shards = dead_letters | "WriteDeadLetters" >> WriteShards(
        output, "dead_letter", DEAD_LETTER_SCHEMA, 1,
        shard_key=lambda d: d["source_file"],
        sort_key=lambda d: (d["source_file"], d["row_number"], d["stage"], d["reason"]))

    shard_infos = (example_shards, candidate_shards, dead_letter_shards) | "ShardInfos" >> beam.Flatten()
    counted = pipeline | "Counts" >> CountValues({
        "splits": (deduped["examples"], "split"), "reasons": (dead_letters, "reason"),
        "origins": (candidates, "origin")})
    manifest = shard_infos | "Manifest" >> WriteManifest(
        fileio.join(output, MANIFEST), config, versions(),
        summaries={"rows": deduped["row_status"] | "CountRows" >> CountRowStatuses(dead_letters)},
        counted=counted, counts_fn=ingest_counts)
    return {"examples": deduped["examples"], "manifest": manifest, "dead_letter": dead_letters}


def ingest_counts(summaries: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {
        **row_counts(summaries["rows"]),
        "examples_out": sum(summaries["splits"].values()),
        "examples_by_split": dict(sorted(summaries["splits"].items())),
        "candidates_out": sum(summaries["origins"].values()),
        "candidates_by_origin": dict(sorted(summaries["origins"].items())),
        "dead_letter_by_reason": dict(sorted(summaries["reasons"].items())),
    }


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="toolrm ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, choices=sorted(ADAPTERS), help="input corpus format")
    parser.add_argument("--input", required=True, action="append",
                        help="file or glob (local, gs://, any fsspec URL); repeatable")
    parser.add_argument("--output", required=True, help="output directory (local or URL)")
    parser.add_argument("--runner", default="direct", choices=RUNNERS)
    parser.add_argument("--num_shards", type=int, default=0, help="output shards (default: from input size)")
    return parser.parse_known_args(argv)


def run(argv: list[str] | None = None, test_pipeline: beam.Pipeline | None = None) -> dict[str, Any]:
    """Run the ingest pipeline and return its manifest. Input errors raise before anything runs."""
    args, beam_args = parse_args(argv)
    adapter = get_adapter(args.source)
    files = [f for f in fileio.match_inputs(args.input) if adapter.is_data_file(f)]
    if not files:
        raise fileio.InputError(f"no {args.source} data files among {args.input} (only side files matched)")
    num_shards = args.num_shards or default_num_shards(files)
    config = {"pipeline": "ingest", "source": args.source, "inputs": files, "num_shards": num_shards,
              "runner": args.runner}
    fileio.makedirs(args.output)
    with make_pipeline(args.runner, beam_args, test_pipeline) as pipeline:
        build(pipeline, source=args.source, files=files, output=args.output, num_shards=num_shards, config=config)
    manifest = read_manifest(args.output)
    remove_stale_shards(args.output, manifest)
    return manifest
