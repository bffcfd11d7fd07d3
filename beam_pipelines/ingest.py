"""The ingest pipeline: corpus files -> canonical Example (and Candidate) shards.

    files --ReadRows--> rows --AdaptRows(adapter + validation)--> examples
          --DedupExamples--> unique examples --WriteShards--> examples-*.parquet
    pair corpora: candidates --RekeyCandidates--> candidates-*.parquet
    every failure --> dead_letter-*.parquet;  counts --> manifest.json
"""
from __future__ import annotations

import argparse
import functools
from typing import Any

import apache_beam as beam

from toolrm_beam.beam_pipelines.common import (MANIFEST, candidate_row, default_num_shards, example_row, make_pipeline,
                                   read_manifest, remove_stale_shards, versions)
from toolrm_beam.runners.health import add_health_args
from toolrm_beam.runners.presets import RUNNERS, check_beam_args, non_negative_int
from toolrm_beam.schemas.adapters import ADAPTERS, get_adapter
from toolrm_beam.schemas.records import CANDIDATE_ARROW_SCHEMA, EXAMPLE_ARROW_SCHEMA, source_of_example_id
from toolrm_beam.transforms import fileio
from toolrm_beam.schemas.upstream_agreement import agreement_table, verdict_key
from toolrm_beam.transforms.accounting import BestRowStatuses, CountValues, SumCounts, WriteManifests, row_counts
from toolrm_beam.transforms.adapt import AdaptRows
from toolrm_beam.transforms.dead_letter import DEAD_LETTER_SCHEMA
from toolrm_beam.transforms.dedup import DedupExamples, RekeyCandidates
from toolrm_beam.transforms.input_files import check_corpus_inputs
from toolrm_beam.transforms.progress import CountProgress
from toolrm_beam.transforms.read_rows import ReadRows
from toolrm_beam.transforms.write_shards import WriteShardSets



def build(pipeline: beam.Pipeline | beam.pvalue.PBegin, *, source: str, files: list[str], output: str,
          num_shards: int, config: dict[str, Any], input_counts: dict[str, int] | None = None,
          options: dict[str, Any] | None = None) -> dict[str, beam.PCollection]:
    """Add the ingest stages to `pipeline` (separate from `run` so tests can use TestPipeline).

    Returns the unique examples (what the next stage reads) and the candidates
    the corpus brings (pair corpora, model answers), as rows (`example_rows`,
    `candidate_rows`), the manifest and the dead letters.
    """
    ingested = build_corpora(pipeline, {source: {
        "source": source, "files": files, "output": output, "num_shards": num_shards, "config": config,
        "input_counts": input_counts, "options": options}})
    return {"example_rows": ingested["example_rows"], "candidate_rows": ingested["candidate_rows"],
            "manifest": ingested[f"manifest:{source}"], "dead_letter": ingested[f"dead_letter:{source}"]}


def build_corpora(pipeline: beam.Pipeline | beam.pvalue.PBegin,
                  corpora: dict[str, dict[str, Any]]) -> dict[str, beam.PCollection]:
    """Ingest several corpora in one set of steps; each gets the folder and manifest its own ingest would.

    `corpora` maps a source to its `build` settings (`files`, `output`,
    `num_shards`, `config`, `input_counts`, `options`); no file may be named
    by two sources. Records carry their source (an example's `source`, a
    candidate's example id, a dead letter's file), so reading, adapting,
    de-duplicating (within a source), writing and counting are each one step
    for every corpus: a run's graph does not grow with its corpora, and each
    step's bundles mix them. Returns `example_rows` and `candidate_rows` of
    every corpus (the unique examples and the candidates the corpora bring, as
    their shards hold them: `common.example_row`, `candidate_row`), and per
    source `manifest:<source>` and `dead_letter:<source>`.
    """
    sources = sorted(corpora)
    for source in sources:  # records name their source by the adapter's name (example["source"])
        if get_adapter(source).name != source:
            raise ValueError(f"corpora are named by their adapter's name: {get_adapter(source).name}, not {source}")
    source_of_file = _files_by_source(corpora)
    of_file = source_of_file.__getitem__
    dead_letter_source = functools.partial(_dead_letter_source, of_file)
    files = [path for source in sources for path in corpora[source]["files"]]

    read = pipeline | "Files" >> beam.Create(files) | "Read" >> ReadRows()
    _ = read["rows"] | "ProgressRows" >> CountProgress("ingest.rows")
    _ = read["dead_letter"] | "ProgressUnreadable" >> CountProgress("ingest.rows")
    adapted = read["rows"] | "AdaptRows" >> AdaptRows(
        {source: corpora[source].get("options") or {} for source in sources}, source_of_file=source_of_file)
    deduped = adapted["examples"] | "Dedup" >> DedupExamples()
    candidates = adapted["candidates"] | "RekeyCandidates" >> RekeyCandidates(deduped["survivors"])
    dead_letters = (
        (read["dead_letter"], adapted["dead_letter"], deduped["dead_letter"]) | "AllDeadLetters" >> beam.Flatten()
    )

    def shard_sets(count_of):
        return {source: (corpora[source]["output"], count_of(corpora[source])) for source in sources}

    # Rows as the shards hold them: written here, and what `toolrm run`'s later stages take.
    example_rows = deduped["examples"] | "ExampleRows" >> beam.Map(example_row)
    candidate_rows = candidates | "CandidateRows" >> beam.Map(candidate_row)
    example_shards = example_rows | "WriteExamples" >> WriteShardSets(
        shard_sets(lambda settings: settings["num_shards"]), "examples", EXAMPLE_ARROW_SCHEMA,
        set_of=_example_source, shard_key=lambda r: r["example_id"], sort_key=lambda r: r["example_id"])
    candidate_shards = candidate_rows | "WriteCandidates" >> WriteShardSets(
        shard_sets(lambda settings: settings["num_shards"]), "candidates", CANDIDATE_ARROW_SCHEMA,
        set_of=_candidate_source, shard_key=lambda r: r["example_id"],
        sort_key=lambda r: (r["example_id"], r["candidate_id"]))
    dead_letter_shards = dead_letters | "WriteDeadLetters" >> WriteShardSets(
        shard_sets(lambda settings: 1), "dead_letter", DEAD_LETTER_SCHEMA,
        set_of=dead_letter_source, shard_key=lambda d: d["source_file"],
        sort_key=lambda d: (d["source_file"], d["row_number"], d["stage"], d["reason"]))

    shard_infos = (example_shards, candidate_shards, dead_letter_shards)
    # Every summary counted under (source, value): one combine for every corpus.
    counted = pipeline | "Counts" >> CountValues({
        "splits": (deduped["examples"], _per_source(_example_source, "split")),
        "reasons": (dead_letters, _per_source(dead_letter_source, "reason")),
        "origins": (candidates, _per_source(_candidate_source, "origin")),
        "verdicts": (adapted["verdicts"], VerdictCounts()),
        "rows": (deduped["row_status"] | "RowStatuses" >> BestRowStatuses(dead_letters),
                 functools.partial(_row_status_counts, of_file))})
    input_counts = {source: corpora[source].get("input_counts") for source in sources}
    manifests = shard_infos | "Manifest" >> WriteManifests(
        {source: (fileio.join(corpora[source]["output"], MANIFEST), corpora[source]["config"]) for source in sources},
        versions(), counted=counted,
        counts_fn=lambda source, summaries: ingest_counts(source_summaries(summaries, source), input_counts[source]))

    outputs = {"example_rows": example_rows, "candidate_rows": candidate_rows}
    position = {source: n for n, source in enumerate(sources)}
    by_source = manifests | "ManifestBySource" >> beam.Partition(
        lambda named, _: position[named[0]], len(sources))
    dead_by_source = dead_letters | "DeadLettersBySource" >> beam.Partition(
        lambda dead, _: position[dead_letter_source(dead)], len(sources))
    for source in sources:
        outputs[f"manifest:{source}"] = by_source[position[source]] | f"Manifest-{source}" >> beam.Map(
            lambda named: named[1])
        outputs[f"dead_letter:{source}"] = dead_by_source[position[source]]
    return outputs


def _files_by_source(corpora: dict[str, dict[str, Any]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for source in sorted(corpora):
        for path in corpora[source]["files"]:
            if found.setdefault(path, source) != source:
                raise ValueError(f"{path} is named as a {found[path]} file and as a {source} file: "
                                 "a file is read as one source")
    return found


def _example_source(example: dict[str, Any]) -> str:
    return example["source"]


def _candidate_source(candidate: dict[str, Any]) -> str:
    return source_of_example_id(candidate["example_id"])


def _dead_letter_source(of_file, dead: dict[str, Any]) -> str:
    return of_file(dead["source_file"])


def _per_source(source_of, field: str):
    """A record counted under `(its source, str(record[field]))`, as `CountValues` counts a field per stage."""
    return functools.partial(_count_per_source, source_of, field)


def _count_per_source(source_of, field: str, record: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(source_of(record), str(record.get(field))): 1}


def _row_status_counts(of_file, row_status: tuple[str, str]) -> dict[tuple[str, str], int]:
    row, status = row_status
    return {(of_file(row.rpartition("#")[0]), status): 1}


def source_summaries(summaries: dict[str, Any], source: str) -> dict[str, Any]:
    """One source's share of the per-source `Counts`: the summaries a single corpus's ingest counts."""
    def mine(counts):
        return {value: n for (owner, value), n in counts.items() if owner == source}
    return {"splits": mine(summaries["splits"]), "reasons": mine(summaries["reasons"]),
            "origins": mine(summaries["origins"]), "rows": mine(summaries["rows"]),
            "verdicts": [(key, n) for (owner, key), n in summaries["verdicts"] or [] if owner == source]}


class VerdictCounts(SumCounts):
    """`(source, upstream verdict)` beside the checker's, counted by source and (category, both labels,
    both reasons)."""

    def counts(self, sourced_verdict):
        source, verdict = sourced_verdict
        return {(source, verdict_key(verdict)): 1}

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
