"""The ingest pipeline: corpus files -> canonical Example (and Candidate) shards.

    files --ReadRows--> rows --AdaptRows(adapter + validation)--> examples
          --DedupExamples--> unique examples --WriteShards--> examples-*.parquet
    pair corpora: candidates --RekeyCandidates--> candidates-*.parquet
    every failure --> dead_letter-*.parquet;  counts --> manifest.json
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
from typing import Any

import apache_beam as beam
import pyarrow as pa

from runners.presets import RUNNERS, make_runner, pipeline_options
from schemas.adapters import ADAPTERS, get_adapter
from schemas.records import (CANDIDATE_ARROW_SCHEMA, CANDIDATE_JSON_FIELDS, EXAMPLE_ARROW_SCHEMA,
                             EXAMPLE_JSON_FIELDS, to_row)
from transforms import fileio
from transforms.accounting import CountRowStatuses, WriteManifest, count_by
from transforms.adapt import AdaptRows
from transforms.dead_letter import DEAD_LETTER_SCHEMA
from transforms.dedup import DedupExamples, RekeyCandidates
from transforms.read_rows import ReadRows
from transforms.write_shards import WriteShards

MANIFEST = "manifest.json"
SHARD_PREFIXES = ("examples", "candidates", "dead_letter")
# Target uncompressed input per output shard; keeps a shard's sort in memory small.
_BYTES_PER_SHARD = 128 * 1024 * 1024


def versions() -> dict[str, str]:
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"toolrm": version("toolrm"), "apache-beam": version("apache-beam"),
            "pyarrow": pa.__version__, "python": platform.python_version()}


def default_num_shards(files: list[str]) -> int:
    total = 0
    for path in files:
        try:
            total += os.path.getsize(path) if "://" not in path else 0
        except OSError:
            pass
    return max(1, math.ceil(total / _BYTES_PER_SHARD))


def _example_row(example: dict[str, Any]) -> dict[str, Any]:
    return to_row(example, EXAMPLE_JSON_FIELDS)


def _candidate_row(candidate: dict[str, Any]) -> dict[str, Any]:
    row = to_row(candidate, CANDIDATE_JSON_FIELDS)
    return {field.name: row.get(field.name) for field in CANDIDATE_ARROW_SCHEMA}


def build(pipeline: beam.Pipeline, *, source: str, files: list[str], output: str, num_shards: int,
          config: dict[str, Any]) -> None:
    """Add the ingest stages to `pipeline` (separate from `run` so tests can use TestPipeline)."""
    read = pipeline | "Files" >> beam.Create(files) | "Read" >> ReadRows()
    adapted = read["rows"] | "AdaptRows" >> AdaptRows(source)
    deduped = adapted["examples"] | "Dedup" >> DedupExamples()
    candidates = adapted["candidates"] | "RekeyCandidates" >> RekeyCandidates(deduped["survivors"])
    dead_letters = (
        (read["dead_letter"], adapted["dead_letter"], deduped["dead_letter"]) | "AllDeadLetters" >> beam.Flatten()
    )

    example_shards = deduped["examples"] | "WriteExamples" >> WriteShards(
        output, "examples", EXAMPLE_ARROW_SCHEMA, num_shards,
        shard_key=lambda e: e["example_id"], sort_key=lambda r: r["example_id"], to_row=_example_row)
    candidate_shards = candidates | "WriteCandidates" >> WriteShards(
        output, "candidates", CANDIDATE_ARROW_SCHEMA, num_shards,
        shard_key=lambda c: c["example_id"], sort_key=lambda r: (r["example_id"], r["candidate_id"]),
        to_row=_candidate_row)
    dead_letter_shards = dead_letters | "WriteDeadLetters" >> WriteShards(
        output, "dead_letter", DEAD_LETTER_SCHEMA, 1,
        shard_key=lambda d: d["source_file"],
        sort_key=lambda d: (d["source_file"], d["row_number"], d["stage"], d["reason"]))

    shard_infos = (example_shards, candidate_shards, dead_letter_shards) | "ShardInfos" >> beam.Flatten()
    _ = shard_infos | "Manifest" >> WriteManifest(
        fileio.join(output, MANIFEST), config, versions(),
        row_counts=deduped["row_status"] | "CountRows" >> CountRowStatuses(dead_letters),
        example_splits=count_by(deduped["examples"], "split", "Splits"),
        dead_letter_reasons=count_by(dead_letters, "reason", "Reasons"),
        candidate_counts=count_by(candidates, "origin", "Origins"),
    )


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
    if test_pipeline is not None:
        pipeline = test_pipeline
    else:
        pipeline = beam.Pipeline(runner=make_runner(args.runner), options=pipeline_options(args.runner, beam_args))
    with pipeline:
        build(pipeline, source=args.source, files=files, output=args.output, num_shards=num_shards, config=config)
    manifest_path = fileio.join(args.output, MANIFEST)
    with fileio.open_read(manifest_path) as handle:
        manifest = json.loads(handle.read())
    remove_stale_shards(args.output, manifest)
    return manifest


def remove_stale_shards(output: str, manifest: dict[str, Any]) -> None:
    """Delete shard files of an earlier run with another shard count (local outputs)."""
    if "://" in output:
        return
    current = {shard["file"] for shards in manifest["files"].values() for shard in shards}
    for name in os.listdir(output):
        if name.endswith(".parquet") and name.split("-", 1)[0] in SHARD_PREFIXES and name not in current:
            os.remove(os.path.join(output, name))
