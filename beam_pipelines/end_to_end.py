"""`toolrm run` as one Beam pipeline: ingest every corpus, synthesize, score and select, write.

    corpus files --Ingest (every corpus)--> unique examples   ingest/<source>/: examples-*, candidates-*,
       |                                                 dead_letter-*, manifest.json (one per source)
       --ExamplesAsStored--> examples as their shards hold them
       --Synthesize--> candidates                        synthesize/: candidates-*, dead_letter-*, manifest.json
       --CandidatesAsStored--> candidates as their shards hold them, with those the corpora
                               bring (ingest/<source>/candidates-*: pair corpora, model answers)
       --ScoreAndSelect (with the examples)-->           pairs/ filtered/ quarantine/ dead_letter/,
                                                         manifest.json, report.html

One job graph, so one job on every runner (one Dataflow job; one
flex-template launch). Each stage is the same composite its stage command
(`toolrm ingest|synthesize|score`) runs and still writes its shards and
manifest, so a stage can be inspected or rerun alone; the later stages take
the earlier stages' records from the pipeline instead of reading the files
back. "As stored" puts the JSON fields in the canonical form the shards hold
(`records.to_row`/`from_row`), so the rows written are the ones the stage
commands write when they read those shards. Where a local runner holds a
step's whole input (a Flatten, a grouping step: the DirectRunner does), the
records cross it packed (transforms/packed.py).
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Callable

import apache_beam as beam
from apache_beam.options.pipeline_options import DebugOptions, TestOptions

from toolrm_beam.beam_pipelines import ingest, score, synthesize
from toolrm_beam.beam_pipelines.common import default_num_shards, make_pipeline, read_manifest, remove_stale_shards
from toolrm_beam.beam_pipelines.driver_options import generators_of
from toolrm_beam.runners import health
from toolrm_beam.schemas.adapters import get_adapter
from toolrm_beam.schemas.records import CANDIDATE_JSON_FIELDS, EXAMPLE_JSON_FIELDS, from_row
from toolrm_beam.transforms import fileio, rules
from toolrm_beam.transforms.input_files import check_corpus_inputs
from toolrm_beam.transforms.score import make_scorer
from toolrm_beam.transforms.select_stage import key_candidates, key_example
from toolrm_beam.transforms.write_shards import shard_name

INGEST = "ingest"
SYNTHESIZE = "synthesize"


class Stage(beam.PTransform):
    """One stage of the run: a stage module's `build(root, **settings, **inputs)` under its own name.

    The input is the pipeline (a stage that reads files) or a dict of the
    PCollections the stage takes from earlier stages (`examples`, `candidates`).
    """

    def __init__(self, build: Callable[..., dict], **settings: Any):
        super().__init__()
        self._build = build
        self._settings = settings

    def expand(self, inputs):
        if isinstance(inputs, beam.pvalue.PBegin):
            return self._build(inputs, **self._settings)
        root = beam.pvalue.PBegin(next(iter(inputs.values())).pipeline)
        return self._build(root, **self._settings, **inputs)


def example_as_stored(row: dict[str, Any]) -> dict[str, Any]:
    """An example's shard row (`common.example_row`) as a stage that reads the example shards gets it."""
    return from_row(row, EXAMPLE_JSON_FIELDS)


def keyed_candidates_as_stored(rows: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """A batch of candidate shard rows (`common.candidate_row`) as a stage that reads the candidate shards
    gets them, keyed for the score stage's join (each example's candidates, side by side in the batch,
    packed as one)."""
    return key_candidates([from_row(row, CANDIDATE_JSON_FIELDS) for row in rows])


def keyed_candidate_as_stored(row: dict[str, Any]) -> tuple[str, Any]:
    return keyed_candidates_as_stored([row])[0]


@dataclasses.dataclass
class RunPlan:
    """Everything one run needs, resolved (inputs matched, models named) before anything is built."""
    output: str
    runner: str
    corpora: dict[str, list[str]]          # source -> its data files
    ingest: dict[str, dict[str, Any]]      # source -> ingest.build settings
    synthesize: dict[str, Any]             # synthesize.build settings
    score: dict[str, Any]                  # score.build settings

    def ingest_output(self, source: str) -> str:
        return fileio.join(self.output, INGEST, source)

    @property
    def synthesize_output(self) -> str:
        return fileio.join(self.output, SYNTHESIZE)


def plan_run(args: argparse.Namespace, corpora: list[tuple[str, str]], output: str,
             checked: dict[tuple[str, str], Any] | None = None) -> RunPlan:
    """Check every corpus's files and settle each stage's settings; input errors raise here.

    `args` holds the options of `driver_options.add_driver_args`; `corpora`
    is (source, glob) pairs, a source named more than once reading all its
    globs together. Files are checked as `toolrm ingest` checks them
    (transforms/input_files.py); what the check found is in each ingest
    manifest. `checked`: what `check_corpora` just found per (source, glob),
    used for a source given one glob instead of checking its files again.
    """
    given: dict[str, list[tuple[str, str]]] = {}  # adapter name -> the (source, glob) pairs naming it
    for source, pattern in corpora:
        given.setdefault(get_adapter(source).name, []).append((source, pattern))
    files, ingest_settings, example_shards, corpus_candidates = {}, {}, [], []
    read_as: dict[str, str] = {}
    for source, pairs in given.items():
        already = (checked or {}).get(pairs[0]) if len(pairs) == 1 else None
        found_check = already if already is not None else \
            check_corpus_inputs(source, [pattern for _, pattern in pairs])
        found = found_check.files
        for path in found:  # one set of ingest steps reads every corpus: each file is one source's
            if read_as.setdefault(path, source) != source:
                raise fileio.InputError(f"{path} matches both --source {read_as[path]} and --source {source}: "
                                        "name each file for one source")
        files[source] = found
        num_shards = default_num_shards(found)
        out = fileio.join(output, INGEST, source)
        ingest_settings[source] = {
            "source": source, "files": found, "output": out, "num_shards": num_shards,
            "input_counts": found_check.counts,
            "config": {"pipeline": "ingest", "source": source, "inputs": found, "num_shards": num_shards,
                       "runner": args.runner, **found_check.summary()}}
        example_shards += [fileio.join(out, shard_name("examples", i, num_shards)) for i in range(num_shards)]
        # Candidates a corpus brings (pair corpora, model answers) are scored and paired too.
        corpus_candidates.append(fileio.join(out, "candidates-*.parquet"))

    generators = generators_of(args)
    llm = synthesize.llm_settings(args, generators)
    synthesized = fileio.join(output, SYNTHESIZE)
    # The shards are made in the same pipeline, so nothing of them is skipped: what the stage
    # command's file check would record for them.
    shards_checked = {"skipped_inputs": [], "input_warnings": [], "files_skipped": 0}
    synthesize_settings = {
        "files": example_shards, "output": synthesized, "num_shards": 1, "generators": generators,
        "seed": args.seed, "mix": None, "max_negatives": 6, "obfuscate": False, "llm": llm,
        "config": {"pipeline": "synthesize", "inputs": example_shards, **shards_checked,
                   "decoding": args.generator_decoding, "generators": generators, "seed": args.seed,
                   "mix": rules.DEFAULT_MIX, "max_negatives": 6, "obfuscate": False, "num_shards": 1,
                   "runner": args.runner,
                   "llm": {k: v for k, v in (llm or {}).items() if k != "api_key_env"} or None}}

    policy = score.policy_from_args(args)
    scorer = make_scorer(args.scorer, model=args.model, device=args.device, max_length=args.max_length)
    candidate_shards = [fileio.join(synthesized, "candidates-*.parquet"), *corpus_candidates]
    score_settings = {
        "example_files": example_shards, "candidate_files": candidate_shards, "output": output,
        "scorer": scorer, "policy": policy,
        "config": {"pipeline": "score", "examples": example_shards, "candidates": candidate_shards,
                   "scorer": scorer.scorer_name, "scorer_kind": args.scorer, "model": args.model,
                   "policy": {k: getattr(policy, k) for k in policy.__dataclass_fields__},
                   "runner": args.runner}}
    return RunPlan(output=output, runner=args.runner, corpora=files, ingest=ingest_settings,
                   synthesize=synthesize_settings, score=score_settings)


def build(pipeline: beam.Pipeline, plan: RunPlan) -> None:
    """Add every stage of the run to `pipeline`."""
    # Every corpus in one set of ingest steps (ingest.build_corpora), each into its own folder.
    ingested = pipeline | "Ingest" >> Stage(ingest.build_corpora, corpora=plan.ingest)
    stored = ingested["example_rows"] | "ExamplesAsStored" >> beam.Map(example_as_stored)
    synthesized = {"examples": stored} | "Synthesize" >> Stage(synthesize.build, **plan.synthesize)
    # The examples, the candidates synthesize made and those the corpora brought (pair corpora, model
    # answers), keyed (and packed) for the score stage's join: one Flatten (a local runner materializes each).
    keyed = (stored | "KeyExamples" >> beam.Map(key_example),
             synthesized["candidate_rows"] | "CandidatesAsStored" >> beam.FlatMap(keyed_candidates_as_stored),
             ingested["candidate_rows"] | "CorpusCandidatesAsStored" >> beam.Map(keyed_candidate_as_stored),
             ) | "ScoreInputs" >> beam.Flatten()
    # For the report: each earlier stage's manifest and dead letters, from inside the pipeline.
    upstream = [(f"ingest {source}", plan.ingest_output(source), ingested[f"manifest:{source}"],
                 ingested[f"dead_letter:{source}"]) for source in plan.ingest]
    upstream.append(("synthesize", plan.synthesize_output, synthesized["manifest"], synthesized["dead_letter"]))
    _ = {"keyed": keyed} | "ScoreAndSelect" >> Stage(
        score.build, **plan.score, upstream_in_pipeline=upstream)


@dataclasses.dataclass
class RunResult:
    """The manifests of a finished run's stages (None for a Dataflow dry run, which runs nothing)."""
    ingest: dict[str, dict] | None     # source -> manifest
    synthesize: dict | None
    score: dict | None
    job_file: str | None = None        # a dry run's job description, where `--dataflow_job_file` asked for it


def stage_health(result: RunResult) -> list[health.StageHealth]:
    """Each stage's dead-letter share, read off its manifest, in pipeline order (runners/health.py)."""
    return [*(health.stage_health(f"ingest:{source}", manifest) for source, manifest in result.ingest.items()),
            health.stage_health("synthesize", result.synthesize), health.stage_health("score", result.score)]


def _is_dry_run(pipeline: beam.Pipeline) -> bool:
    return bool(pipeline.options.view_as(TestOptions).dry_run)


def _dry_run_result(result, pipeline: beam.Pipeline) -> RunResult:
    """DataflowRunner built the job and stopped: write its description where asked (locally, offline)."""
    job_file = pipeline.options.view_as(DebugOptions).dataflow_job_file
    if job_file and hasattr(result, "job") and "://" not in job_file:
        from toolrm_beam.runners.dataflow_job import write_job_file
        write_job_file(result, job_file)
    else:
        job_file = None
    return RunResult(ingest=None, synthesize=None, score=None, job_file=job_file)


def make_run_pipeline(plan: RunPlan, beam_args: list[str]) -> beam.Pipeline:
    """The run's pipeline, built (runner options checked, every stage added) and not yet started."""
    pipeline = make_pipeline(plan.runner, beam_args)
    build(pipeline, plan)
    return pipeline


def run(plan: RunPlan, pipeline: beam.Pipeline, *, watch: Callable[[Any], None] | None = None) -> RunResult:
    """Run the built pipeline; `watch(result)` is called while it runs (progress). Returns the manifests."""
    if _is_dry_run(pipeline):  # DataflowRunner builds the job and stops: nothing is written anywhere
        return _dry_run_result(pipeline.run(), pipeline)
    for settings in plan.ingest.values():
        fileio.makedirs(settings["output"])
    fileio.makedirs(plan.synthesize_output)
    result = pipeline.run()
    if watch is not None:
        watch(result)
    state = result.wait_until_finish()
    if state is not None and str(state).rsplit(".", 1)[-1] not in ("DONE", "UNKNOWN"):
        raise RuntimeError(f"the pipeline ended in state {state}")
    manifests = RunResult(ingest={source: read_manifest(plan.ingest_output(source)) for source in plan.ingest},
                          synthesize=read_manifest(plan.synthesize_output), score=read_manifest(plan.output))
    for source in plan.ingest:
        remove_stale_shards(plan.ingest_output(source), manifests.ingest[source])
    remove_stale_shards(plan.synthesize_output, manifests.synthesize)
    remove_stale_shards(plan.output, manifests.score)
    return manifests
