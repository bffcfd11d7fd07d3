"""The score-and-select pipeline: examples + candidates -> scored preference pairs.

    example and candidate shards --ReadInputs--> (example_id, tagged record) --GroupCandidates--> (example, [candidates])
      --ScoreGroups (RunInference: reward model)--> scored groups
      --SelectPairs (floor, hard negatives first, cap, balance; label-noise guard)-->
         pairs/     FC-RewardBench / ToolRM columns + scores + TRL chosen/rejected
         filtered/  candidates left out, with the reason
         quarantine/ examples whose reference looks wrong, with the reason
      dead_letter/, manifest.json, report.html (with ReportData: the scorer's agreement with the
         checker, the hardest pairs, margins, sources, dead letters of this and the earlier stages, timing)
"""
from __future__ import annotations

import argparse
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows
import pyarrow as pa

from toolrm_beam.beam_pipelines.common import MANIFEST, make_pipeline, read_manifest, remove_stale_shards, versions
from toolrm_beam.runners.health import add_health_args
from toolrm_beam.runners.presets import RUNNERS, check_beam_args, positive_int
from toolrm_beam.schemas.pairs import PAIR_ARROW_SCHEMA
from toolrm_beam.schemas.records import CANDIDATE_ARROW_SCHEMA, CANDIDATE_JSON_FIELDS, from_row
from toolrm_beam.transforms import fileio
from toolrm_beam.transforms.accounting import CountValues, WriteManifest
from toolrm_beam.transforms.dead_letter import DEAD_LETTER_SCHEMA, dead_letter
from toolrm_beam.transforms.examples_io import example_shard_check, parse_example_row
from toolrm_beam.transforms.input_files import check_inputs, record_columns
from toolrm_beam.transforms.progress import CountProgress, group_size
from toolrm_beam.transforms.read_rows import ReadRows
from toolrm_beam.transforms.report import render_report
from toolrm_beam.transforms.report_data import ReportData
from toolrm_beam.transforms.score import SCORERS, ScoreGroups, make_scorer
from toolrm_beam.transforms.select_stage import (GroupCandidates, ScoreSample, SelectPairs, input_counts,
                                                 key_candidates, key_example)
from toolrm_beam.transforms.selection import SelectionPolicy
from toolrm_beam.transforms.stage_inputs import match_shards, stage_entry, upstream_stages
from toolrm_beam.transforms.write_shards import WriteShards, WriteStreamingShards

FILTERED_SCHEMA = pa.schema([
    pa.field("example_id", pa.string()), pa.field("candidate_id", pa.string()), pa.field("origin", pa.string()),
    pa.field("correct", pa.bool_()), pa.field("error_type", pa.string()), pa.field("score", pa.float32()),
    pa.field("reason", pa.string()),
], metadata={"toolrm.record": "filtered", "toolrm.schema_version": "1.0"})

QUARANTINE_SCHEMA = pa.schema([
    pa.field("example_id", pa.string()), pa.field("source", pa.string()), pa.field("split", pa.string()),
    pa.field("upstream_id", pa.string()), pa.field("reason", pa.string()), pa.field("detail", pa.string()),
    pa.field("candidates", pa.int64()), pa.field("reference_score", pa.float32()),
], metadata={"toolrm.record": "quarantine", "toolrm.schema_version": "1.0"})

REPORT = "report.html"


def parse_candidate_row(path: str, number: int, row) -> tuple[dict | None, dict | None]:
    """A shard row -> `(candidate, None)`, or `(None, dead letter)` with the reason."""
    try:
        candidate = from_row(row, CANDIDATE_JSON_FIELDS)
        if not candidate.get("example_id") or not candidate.get("candidate_id"):
            raise ValueError("missing example_id or candidate_id")
    except (ValueError, TypeError, AttributeError) as error:
        return None, dead_letter(path, number, "read", "invalid_candidate", str(error), row)
    return candidate, None


class _ParseKeyed(beam.DoFn):
    """Rows of example and candidate shards -> keyed records for the join (`key_example`,
    `key_candidates`: a shard's run of one example's candidates packed as one), or dead letters."""

    def __init__(self, example_files: list[str]):
        self._example_files = frozenset(example_files)

    def start_bundle(self):
        self._run: list[dict] = []

    def process(self, element):
        path, number, row = element
        is_example = path in self._example_files
        record, dead = (parse_example_row if is_example else parse_candidate_row)(path, number, row)
        if dead is not None:
            yield beam.pvalue.TaggedOutput("dead_letter", dead)
        elif is_example:
            yield key_example(record)
        else:
            if self._run and self._run[-1]["example_id"] != record["example_id"]:
                yield from self._keyed_run()
            self._run.append(record)

    def _keyed_run(self):
        run, self._run = self._run, []
        return key_candidates(run)

    def finish_bundle(self):
        for keyed in self._keyed_run():
            yield GlobalWindows.windowed_value(keyed)


class ReadInputs(beam.PTransform):
    """Example and candidate shard paths -> keyed, tagged records (what GroupCandidates joins) and
    dead letters. One read step for both kinds: the join then needs no Flatten of two stages' outputs."""

    def __init__(self, example_files: list[str]):
        super().__init__()
        self._example_files = example_files

    def expand(self, paths):
        read = paths | "Read" >> ReadRows(reshuffle=False)
        parsed = read["rows"] | "Parse" >> beam.ParDo(_ParseKeyed(self._example_files)).with_outputs(
            "dead_letter", main="records")
        dead = (read["dead_letter"], parsed["dead_letter"]) | "DeadLetters" >> beam.Flatten()
        return {"records": parsed["records"], "dead_letter": dead}


def _quarantined_candidates(quarantined) -> dict[str, int]:
    return {"candidates": quarantined["candidates"]}


def _merged_candidates(merged: int) -> dict[str, int]:
    return {"candidates": merged}


def _group_stats(group) -> dict[str, int]:
    _, candidates = group
    return {"examples_scored": 1, "candidates_scored": len(candidates),
            "candidates_unscored": sum(c.get("score") is None for c in candidates)}


def score_counts(summaries: dict[str, Any]) -> dict[str, Any]:
    stages = summaries["stages"]
    pairs = summaries["pair_types"]
    paired = summaries["paired"].get("candidates", 0)
    filtered = summaries["filtered_reasons"]
    quarantined = summaries["quarantined"]
    dead = summaries["reasons"]
    candidates_in = summaries["inputs"].get("candidates", 0)
    return {
        "examples_in": summaries["inputs"].get("examples", 0),
        "candidates_in": candidates_in,
        # The same output given twice for one example (a corpus answer equal to the rendered reference)
        # is one candidate: candidates_in = paired + filtered + quarantined + dead letters + merged.
        "candidates_merged": summaries.get("merged", {}).get("candidates", 0),
        "examples_scored": stages.get("examples_scored", 0),
        "candidates_scored": stages.get("candidates_scored", 0),
        "pairs": sum(pairs.values()),
        "pairs_by_error_type": dict(sorted(pairs.items())),
        "hard_pairs": summaries["hard"].get("True", 0),
        "candidates_paired": paired,
        "candidates_filtered": sum(filtered.values()),
        "filtered_by_reason": dict(sorted(filtered.items())),
        "examples_quarantined": sum(q for q in quarantined.values()),
        "quarantine_by_reason": dict(sorted(quarantined.items())),
        "candidates_quarantined": summaries["quarantined_candidates"].get("candidates", 0),
        "dead_letter_by_reason": dict(sorted(dead.items())),
        "dead_letter_by_stage": dict(sorted(summaries.get("dead_stages", {}).items())),
    }


class _WriteReport(beam.DoFn):
    def __init__(self, path: str, upstream: list[dict[str, Any]]):
        self._path = path
        self._upstream = upstream

    def process(self, manifest, samples, data, *upstream_manifests):
        # Earlier stages of the same pipeline (`toolrm run`) hand over their manifests here, a list each.
        upstream = sorted([*self._upstream, *(stage_entry(folder, m) for found in upstream_manifests
                                              for folder, m in found)],
                          key=lambda stage: (stage["pipeline"] != "ingest", stage["step"]))
        counts = manifest["counts"]
        stages = [("examples in", counts["examples_in"]), ("candidates in", counts["candidates_in"]),
                  ("candidates scored", counts["candidates_scored"]),
                  ("candidates in pairs", counts["candidates_paired"]),
                  ("candidates filtered", counts["candidates_filtered"]),
                  ("candidates quarantined", counts["candidates_quarantined"]),
                  ("pairs written", counts["pairs"])]
        page = render_report(manifest, samples, stages, data=data, upstream=upstream)
        fileio.write_bytes_atomic(self._path, page.encode("utf-8"))
        yield self._path


def _paired_count(paired: int) -> dict[str, int]:
    return {"candidates": paired}


def _upstream_dead_letters(pipeline: beam.Pipeline, upstream: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """(step, dead-letter records) of each earlier stage that wrote some, read from its dead_letter shards."""
    found = []
    for position, stage in enumerate(s for s in upstream if s["dead_letter_files"]):
        read = (pipeline | f"UpstreamDeadLetterFiles{position}" >> beam.Create(stage["dead_letter_files"])
                | f"ReadUpstreamDeadLetters{position}" >> ReadRows(reshuffle=False))
        found.append((stage["step"], read["rows"] | f"UpstreamDeadLetterRows{position}" >> beam.Map(lambda r: r[2])))
    return found


def build(pipeline: beam.Pipeline | beam.pvalue.PBegin, *, example_files: list[str], candidate_files: list[str],
          output: str, scorer: Any, policy: SelectionPolicy, config: dict[str, Any],
          upstream: list[dict[str, Any]] | None = None, keyed: beam.PCollection | None = None,
          upstream_in_pipeline: list[tuple[str, str, beam.PCollection, beam.PCollection]] | None = None,
          ) -> dict[str, beam.PCollection]:
    """Add the score-and-select stages to `pipeline`: from shards, or from `keyed` records.

    `upstream`: the earlier stages that wrote the shards read here
    (transforms/stage_inputs.upstream_stages), for the report. `toolrm run`
    instead passes the examples and candidates the earlier stages produced in
    the same pipeline, in the form their shards hold them, keyed and tagged
    for the join (`key_example`, `key_candidates`), and those stages as
    `upstream_in_pipeline`: (step, output folder, manifest, dead letters).
    Returns the manifest.
    """
    upstream = upstream or []
    upstream_in_pipeline = upstream_in_pipeline or []
    read_dead = []
    if keyed is None:
        read = (pipeline | "InputFiles" >> beam.Create(example_files + candidate_files)
                | "ReadInputs" >> ReadInputs(example_files))
        keyed = read["records"]
        read_dead.append(read["dead_letter"])
    grouped = keyed | "Group" >> GroupCandidates()
    scored = grouped["groups"] | "Score" >> ScoreGroups(scorer)
    selected = scored["scored"] | "Select" >> SelectPairs(policy, scorer.scorer_name)
    _ = scored["scored"] | "ProgressScored" >> CountProgress("score.candidates", size=group_size)
    _ = selected["pairs"] | "ProgressPairs" >> CountProgress("select.pairs")
    dead = (*read_dead, grouped["dead_letter"], scored["dead_letter"], selected["dead_letter"]) \
        | "AllDeadLetters" >> beam.Flatten()

    def shards(pcoll, name, schema, key, sort_key, count):
        return pcoll | f"Write{name}" >> WriteShards(output, name, schema, count, shard_key=key,
                                                     sort_key=sort_key, subdir=name)

    # Pairs are most of the output (conversation and tools in every row): written as they stream, one file
    # per bundle, so a run's memory does not grow with them; the small outputs are sorted shards.
    # Fixed-size batches: BatchElements' adaptive sizing fits a regression per batch, here for nothing.
    pair_batches = selected["pairs"] | "BatchPairs" >> beam.BatchElements(min_batch_size=512, max_batch_size=512)
    written = (
        pair_batches | "Writepairs" >> WriteStreamingShards(output, "pairs", PAIR_ARROW_SCHEMA, subdir="pairs"),
        shards(selected["filtered"], "filtered", FILTERED_SCHEMA, lambda f: f["example_id"],
               lambda f: (f["example_id"], f["candidate_id"]), 1),
        shards(selected["quarantine"], "quarantine", QUARANTINE_SCHEMA, lambda q: q["example_id"],
               lambda q: q["example_id"], 1),
        shards(dead, "dead_letter", DEAD_LETTER_SCHEMA, lambda d: d["source_file"],
               lambda d: (d["source_file"], d["row_number"], d["stage"], d["reason"], d["detail"]), 1),
    )

    counted = pipeline | "Counts" >> CountValues({
        "inputs": (keyed, input_counts), "paired": (selected["paired"], _paired_count),
        "merged": (grouped["merged"], _merged_candidates),
        "stages": (scored["scored"], _group_stats), "pair_types": (selected["pairs"], "error_type"),
        "hard": (selected["pairs"], "hard"), "filtered_reasons": (selected["filtered"], "reason"),
        "quarantined": (selected["quarantine"], "reason"),
        "quarantined_candidates": (selected["quarantine"], _quarantined_candidates),
        "reasons": (dead, "reason"), "dead_stages": (dead, "stage"),
        # The report's score sample, in the same merge step (not a manifest count).
        "score_sample": (scored["scored"], ScoreSample()),
    })
    manifest = written | "Manifest" >> WriteManifest(fileio.join(output, MANIFEST), config, versions(),
                                                     counted=counted, counts_fn=score_counts)
    samples = counted | "ScoreSample" >> beam.Map(lambda summaries: summaries["score_sample"])
    upstream_dead = [*_upstream_dead_letters(pipeline, upstream),
                     *((step, dead_letters) for step, _, _, dead_letters in upstream_in_pipeline)]
    report_data = scored["scored"] | "ReportData" >> ReportData(
        selected["pairs"], selected["pair_details"], selected["quarantine"], [*upstream_dead, ("score", dead)])
    # Each earlier stage's manifest is a side input of its own (a Flatten of them would be a runner stage).
    upstream_manifests = [
        beam.pvalue.AsList(manifest_pcoll | f"UpstreamManifest{n}" >> beam.Map(lambda m, folder: (folder, m), folder))
        for n, (_, folder, manifest_pcoll, _) in enumerate(upstream_in_pipeline)]
    _ = manifest | "Report" >> beam.ParDo(_WriteReport(fileio.join(output, REPORT), upstream),
                                          beam.pvalue.AsSingleton(samples, default_value={}),
                                          beam.pvalue.AsSingleton(report_data, default_value={}),
                                          *upstream_manifests)
    return {"manifest": manifest}


def add_scoring_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("scoring and selection")
    group.add_argument("--scorer", default="lite", choices=SCORERS,
                       help="lite: the bundled CPU model (default); transformers/vllm: a checkpoint at --model; "
                            "heuristic-schema / heuristic-grounded / heuristic: no-model baselines")
    group.add_argument("--model", help="reward model path or gs:// URL (lite: a lite model directory)")
    group.add_argument("--device", default="cpu")
    group.add_argument("--max_length", type=positive_int, default=4096, help="most tokens per scored input")
    group.add_argument("--min_positive_score", type=float, default=None, help="floor on the chosen side's score")
    group.add_argument("--max_pairs_per_example", type=positive_int, default=8)
    group.add_argument("--balance", action=argparse.BooleanOptionalAction, default=True,
                       help="round-robin pairs across error types, hardest first")
    group.add_argument("--hard_margin", type=float, default=0.5, help="pairs with a score margin <= this are hard")
    group.add_argument("--quarantine_margin", type=float, default=3.0,
                       help="quarantine an example whose reference scores below all negatives and this far "
                            "below their mean")


def policy_from_args(args: argparse.Namespace) -> SelectionPolicy:
    return SelectionPolicy(min_positive_score=args.min_positive_score, max_pairs_per_example=args.max_pairs_per_example,
                           balance_error_types=args.balance, hard_margin=args.hard_margin,
                           quarantine_margin=args.quarantine_margin)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="toolrm score", description=__doc__.splitlines()[0])
    parser.add_argument("--examples", required=True, action="append",
                        help="the folder ingest wrote, or a glob of example shards (repeatable)")
    parser.add_argument("--candidates", required=True, action="append",
                        help="the folder synthesize wrote, or a glob of candidate shards (repeatable)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--runner", default="direct", choices=RUNNERS)
    add_scoring_args(parser)
    add_health_args(parser)
    return parser.parse_known_args(argv)


def run(argv: list[str] | None = None, test_pipeline: beam.Pipeline | None = None) -> dict[str, Any]:
    args, beam_args = parse_args(argv)
    check_beam_args(beam_args)  # a misspelt option is a usage error before any file is read
    policy = policy_from_args(args)
    scorer = make_scorer(args.scorer, model=args.model, device=args.device, max_length=args.max_length)
    example_files = example_shard_check(match_shards(args.examples, "examples")).files
    candidate_files = check_inputs(match_shards(args.candidates, "candidates"), what="candidate shard",
                                   empty_parquet_ok=True, columns=record_columns(
                                       CANDIDATE_ARROW_SCHEMA, ("example_id", "candidate_id", "output", "origin"))).files
    config = {"pipeline": "score", "examples": example_files, "candidates": candidate_files,
              "scorer": scorer.scorer_name, "scorer_kind": args.scorer, "model": args.model,
              "policy": {k: getattr(policy, k) for k in policy.__dataclass_fields__},
              "runner": args.runner}
    fileio.makedirs(args.output)
    with make_pipeline(args.runner, beam_args, test_pipeline) as pipeline:
        build(pipeline, example_files=example_files, candidate_files=candidate_files, output=args.output,
              scorer=scorer, policy=policy, config=config,
              upstream=upstream_stages(example_files + candidate_files))
    manifest = read_manifest(args.output)
    remove_stale_shards(args.output, manifest)
    return manifest
