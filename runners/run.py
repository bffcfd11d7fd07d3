"""`toolrm run` (and `make demo`): ingest -> synthesize -> score and select, as one pipeline.

    toolrm run --output out [--source NAME --input GLOB ...] [--generators rules,llm-sample
               --generator_model M --generator_backend openai --generator_endpoint URL ...] [scoring options]
               [--runner direct|portable|dataflow|flink] [--quiet] [Beam options]

Without `--source`, it runs on the bundled sample corpora. The stages form
one Beam pipeline (beam_pipelines/end_to_end.py): one job on any runner.
Each stage still writes its outputs, to `<output>/ingest/<source>/`,
`<output>/synthesize/` and `<output>/` (pairs/, filtered/, quarantine/,
dead_letter/, manifest.json, report.html), so any stage can be inspected or
rerun alone with its own command. While it runs, a progress line every few
seconds (rows per stage, rate, elapsed time, from the pipeline's counters);
then each stage's summary. Candidates a corpus brings (pair corpora, model
answers) are scored and paired beside the synthesized ones. Every input is
checked before the pipeline is built (exit 2 for a bad path or file); the
exit status is 1 when a stage's dead-letter share is over
`--max_dead_letter_fraction`, everything was dead-lettered or no pair was
written (runners/health.py), after every output is written.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from toolrm_beam.data import SAMPLES  # package data: the bundled sample corpora
from toolrm_beam.runners.cli import _print_ingest_summary, _print_synthesize_summary, print_input_warnings, took

# (adapter, sample folder, glob inside it)
BUNDLED = (
    ("seal_tools", "seal_tools", "*"),
    ("acebench", "acebench_en", "*.json"),
    ("bfcl", "bfcl_live_sample", "*.json"),
)


def print_score_summary(manifest: dict, output: str, seconds: float | None) -> None:
    print_input_warnings("score", manifest)
    counts = manifest["counts"]
    print(f"score+select ({manifest['config']['scorer']}): {counts['candidates_in']} candidates of "
          f"{counts['examples_in']} examples -> {counts['pairs']} pairs in {output}/pairs{took(seconds)}")
    print(f"  hard pairs {counts['hard_pairs']}, candidates paired {counts['candidates_paired']}, "
          f"filtered {counts['candidates_filtered']}, quarantined examples {counts['examples_quarantined']}")
    for name in ("pairs_by_error_type", "filtered_by_reason", "quarantine_by_reason", "dead_letter_by_reason"):
        for key, value in counts[name].items():
            print(f"    {name.split('_by_')[0]:12s} {key:42s} {value:>7}")


def print_run_summary(result, plan) -> None:
    """Each stage's summary, in pipeline order."""
    for source, manifest in result.ingest.items():
        print()
        _print_ingest_summary(manifest, plan.ingest_output(source), None)
    print()
    _print_synthesize_summary(result.synthesize, plan.synthesize_output, None)
    print()
    print_score_summary(result.score, plan.output, None)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    from toolrm_beam.beam_pipelines import driver_options

    parser = argparse.ArgumentParser(prog="toolrm run", description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="out")
    parser.add_argument("--source", action="append", help="corpus format (with --input); default: bundled samples")
    parser.add_argument("--input", action="append", help="glob of the corpus files, one per --source")
    driver_options.add_driver_args(parser)
    args, beam_args = parser.parse_known_args(argv)
    driver_options.check_driver_args(parser, args, beam_args)
    return args, beam_args


def main(argv: list[str] | None = None) -> int:
    from toolrm_beam.runners.cli import guarded

    return guarded("run", _run, list(sys.argv[1:] if argv is None else argv))


def _run(argv: list[str]) -> int:
    from toolrm_beam.beam_pipelines import driver_options, end_to_end
    from toolrm_beam.runners import health
    from toolrm_beam.transforms.fileio import InputError
    from toolrm_beam.transforms.input_files import check_corpora

    args, beam_args = parse_args(argv)
    corpora = list(zip(args.source, args.input)) if args.source else \
        [(source, os.path.join(SAMPLES, folder, pattern)) for source, folder, pattern in BUNDLED]
    # Every input is checked before the first stage starts: a bad path or file is exit 2 here.
    checked: dict = {}
    corpora, skipped = check_corpora(corpora, checked)
    for warning in skipped:
        print(f"toolrm run: warning: {warning}", file=sys.stderr)
    started = time.monotonic()
    try:  # usage and input errors: one line, before anything runs
        plan = end_to_end.plan_run(args, corpora, args.output, checked)
        pipeline = end_to_end.make_run_pipeline(plan, beam_args)
    except ValueError as error:
        raise InputError(str(error)) from None
    print(f"== run: {', '.join(plan.corpora)} -> {args.output} on {args.runner} "
          f"(generators {args.generators}, scorer {args.scorer})", flush=True)
    result = end_to_end.run(plan, pipeline, watch=driver_options.progress_watcher(args))
    if result.score is None:
        print("dry run: the job was built, not run" + (f"; job description in {result.job_file}" if result.job_file
                                                       else " (--dataflow_job_file PATH writes it)"))
        return 0
    print_run_summary(result, plan)
    print(f"\nrun finished in {time.monotonic() - started:.1f} s: pairs in {args.output}/pairs/, "
          f"report {args.output}/report.html, manifest {args.output}/manifest.json")
    return health.assess("run", end_to_end.stage_health(result), args.max_dead_letter_fraction,
                         pairs=result.score["counts"]["pairs"])


if __name__ == "__main__":
    sys.exit(main())
