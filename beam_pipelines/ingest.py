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
from toolrm_beam.runners.health import add_health_args
from toolrm_beam.runners.presets import RUNNERS, check_beam_args, non_negative_int
from toolrm_beam.schemas.adapters import ADAPTERS, get_adapter
from toolrm_beam.schemas.records import CANDIDATE_ARROW_SCHEMA, EXAMPLE_ARROW_SCHEMA
from toolrm_beam.transforms import fileio
from toolrm_beam.schemas.upstream_agreement import agreement_table, verdict_key
from toolrm_beam.transforms.accounting import (BestRowStatuses, CountValues, SumCounts, WriteManifest, row_counts,
                                               row_status_counts)
from toolrm_beam.transforms.adapt import AdaptRows
from toolrm_beam.transforms.dead_letter import DEAD_LETTER_SCHEMA
from toolrm_beam.transforms.dedup import DedupExamples, RekeyCandidates
from toolrm_beam.transforms.input_files import check_corpus_inputs
from toolrm_beam.transforms.progress import CountProgress
from toolrm_beam.transforms.read_rows import ReadRows
from toolrm_beam.transforms.write_shards import WriteShards



def build(pipeline: beam.Pipeline | beam.pvalue.PBegin, *, source: str, files: list[str], output: str,
          num_shards: int, config: dict[str, Any], input_counts: dict[str, int] | None = None,
          options: dict[str, Any] | None = None) -> dict[str, beam.PCollection]:
    """Add the ingest stages to `pipeline` (separate from `run` so tests can use TestPipeline).

    Returns the unique examples (what the next stage reads), the candidates the
    corpus brings (pair corpora, model answers), the manifest and the dead letters.
    """
    read = pipeline | "Files" >> beam.Create(files) | "Read" >> ReadRows()
    _ = read["rows"] | "ProgressRows" >> CountProgress("ingest.rows")
    _ = read["dead_letter"] | "ProgressUnreadable" >> CountProgress("ingest.rows")
    adapted = read["rows"] | "AdaptRows" >> AdaptRows(source, options)
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
        "origins": (candidates, "origin"), "verdicts": (adapted["verdicts"], VerdictCounts()),
        "rows": (deduped["row_status"] | "RowStatuses" >> BestRowStatuses(dead_letters), row_status_counts)})
    manifest = shard_infos | "Manifest" >> WriteManifest(
        fileio.join(output, MANIFEST), config, versions(),
        counted=counted, counts_fn=lambda summaries: ingest_counts(summaries, input_counts))
    return {"examples": deduped["examples"], "candidates": candidates, "manifest": manifest,
            "dead_letter": dead_letters}


class VerdictCounts(SumCounts):
    """Upstream verdicts beside the checker's, counted by (category, both labels, both reasons)."""

    def counts(self, verdict):
        return {verdict_key(verdict): 1}

    def extract_output(self, counter):
        return sorted(counter.items())


def ingest_counts(summaries: dict[str, Any], input_counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        **(input_counts or {}),
        **row_counts(summaries["rows"]),
        "examples_out": sum(summaries["splits"].values()),
        "examples_by_split": dict(sorted(summaries["splits"].items())),
        "candidates_out": sum(summaries["origins"].values()),
        "candidates_by_origin": dict(sorted(summaries["origins"].items())),
        "dead_letter_by_reason": dict(sorted(summaries["reasons"].items())),
        # Sources with an upstream verdict per answer (bfcl_results): the checker against it.
        "upstream_agreement": agreement_table(summaries["verdicts"] or []),
    }


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="toolrm ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, choices=sorted(ADAPTERS), help="input corpus format")
    parser.add_argument("--input", required=True, action="append",
                        help="file or glob (local, gs://, any fsspec URL); repeatable")
    parser.add_argument("--output", required=True, help="output directory (local or URL)")
    parser.add_argument("--runner", default="direct", choices=RUNNERS)
    parser.add_argument("--num_shards", type=non_negative_int, default=0,
                        help="output shards (default: from input size)")
    parser.add_argument("--examples", action="append",
                        help="model_samples: example shards (glob) that rows name by example_id; repeatable")
    add_health_args(parser)
    return parser.parse_known_args(argv)


def run(argv: list[str] | None = None, test_pipeline: beam.Pipeline | None = None) -> dict[str, Any]:
    """Run the ingest pipeline and return its manifest. Input errors raise before anything runs."""
    args, beam_args = parse_args(argv)
    check_beam_args(beam_args)  # a misspelt option is a usage error before any file is read
    options = {"examples": fileio.match_inputs(args.examples)} if args.examples else {}
    try:
        get_adapter(args.source).with_options(**options)
    except ValueError as error:
        raise fileio.InputError(str(error)) from None
    checked = check_corpus_inputs(args.source, args.input)  # file-level problems: named before anything runs
    files = checked.files
    num_shards = args.num_shards or default_num_shards(files)
    config = {"pipeline": "ingest", "source": args.source, "inputs": files, "num_shards": num_shards,
              "runner": args.runner, **checked.summary(), **({"options": options} if options else {})}
    fileio.makedirs(args.output)
    with make_pipeline(args.runner, beam_args, test_pipeline) as pipeline:
        build(pipeline, source=args.source, files=files, output=args.output, num_shards=num_shards, config=config,
              input_counts=checked.counts, options=options)
    manifest = read_manifest(args.output)
    remove_stale_shards(args.output, manifest)
    return manifest
