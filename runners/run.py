"""`toolrm run` (and `make demo`): ingest -> synthesize -> score and select, end to end.

    toolrm run --output out [--source NAME --input GLOB ...] [--generators rules,llm-sample
               --generator_model M --generator_backend openai --generator_endpoint URL ...] [scoring options]

Without `--source`, it runs on the bundled sample corpora. Each stage is its
own pipeline writing to `<output>/ingest/<source>/`, `<output>/synthesize/`
and `<output>/` (pairs/, filtered/, quarantine/, dead_letter/,
manifest.json, report.html), so any stage can be rerun or inspected alone.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from toolrm_beam.data import SAMPLES  # package data: the bundled sample corpora
from toolrm_beam.runners.cli import _print_ingest_summary, _print_synthesize_summary, print_input_warnings

# (adapter, sample folder, glob inside it)
BUNDLED = (
    ("seal_tools", "seal_tools", "*"),
    ("acebench", "acebench_en", "*.json"),
    ("bfcl", "bfcl_live_sample", "*.json"),
)


def _step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.monotonic()


def print_score_summary(manifest: dict, output: str, seconds: float) -> None:
    print_input_warnings("score", manifest)
    counts = manifest["counts"]
    print(f"score+select ({manifest['config']['scorer']}): {counts['candidates_in']} candidates of "
          f"{counts['examples_in']} examples -> {counts['pairs']} pairs in {output}/pairs ({seconds:.1f} s)")
    print(f"  hard pairs {counts['hard_pairs']}, candidates paired {counts['candidates_paired']}, "
          f"filtered {counts['candidates_filtered']}, quarantined examples {counts['examples_quarantined']}")
    for name in ("pairs_by_error_type", "filtered_by_reason", "quarantine_by_reason", "dead_letter_by_reason"):
        for key, value in counts[name].items():
            print(f"    {name.split('_by_')[0]:12s} {key:42s} {value:>7}")


def main(argv: list[str] | None = None) -> int:
    from toolrm_beam.runners.cli import guarded

    return guarded("run", _run, list(sys.argv[1:] if argv is None else argv))


def _run(argv: list[str]) -> int:
    from toolrm_beam.beam_pipelines import driver_options, ingest, score, synthesize
    from toolrm_beam.runners import health
    from toolrm_beam.transforms.input_files import check_corpora

    parser = argparse.ArgumentParser(prog="toolrm run", description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="out")
    parser.add_argument("--source", action="append", help="corpus format (with --input); default: bundled samples")
    parser.add_argument("--input", action="append", help="glob of the corpus files, one per --source")
    driver_options.add_driver_args(parser)
    args, beam_args = parser.parse_known_args(argv)
    driver_options.check_driver_args(parser, args, beam_args)
    corpora = list(zip(args.source, args.input)) if args.source else \
        [(source, os.path.join(SAMPLES, folder, pattern)) for source, folder, pattern in BUNDLED]
    # Every input is checked before the first stage starts: a bad path or file is exit 2 here.
    corpora, skipped = check_corpora(corpora)
    for warning in skipped:
        print(f"toolrm run: warning: {warning}", file=sys.stderr)
    started = time.monotonic()
    example_globs, corpus_candidates = [], []
    stages = []
    for source, pattern in corpora:
        step = _step(f"ingest {source}")
        out = os.path.join(args.output, "ingest", source)
        manifest = ingest.run(["--source", source, "--input", pattern, "--output", out, *beam_args])
        _print_ingest_summary(manifest, out, time.monotonic() - step)
        stages.append(health.stage_health(f"ingest:{source}", manifest))
        example_globs += ["--input", os.path.join(out, "examples-*.parquet")]
        # Candidates a corpus brings (pair corpora, model answers) are scored and paired too.
        corpus_candidates += ["--candidates", os.path.join(out, "candidates-*.parquet")]
    step = _step(f"synthesize ({args.generators})")
    synthesized = os.path.join(args.output, "synthesize")
    manifest = synthesize.run([*example_globs, "--output", synthesized, *driver_options.synthesize_argv(args),
                               *beam_args])
    _print_synthesize_summary(manifest, synthesized, time.monotonic() - step)
    stages.append(health.stage_health("synthesize", manifest))
    step = _step(f"score with {args.scorer} and select pairs")
    score_args = ["--output", args.output, "--candidates", os.path.join(synthesized, "candidates-*.parquet"),
                  *corpus_candidates, *driver_options.scoring_argv(args)]
    for glob_arg in example_globs[1::2]:
        score_args += ["--examples", glob_arg]
    manifest = score.run(score_args + beam_args)
    print_score_summary(manifest, args.output, time.monotonic() - step)
    stages.append(health.stage_health("score", manifest))
    print(f"\nrun finished in {time.monotonic() - started:.1f} s: pairs in {args.output}/pairs/, "
          f"report {args.output}/report.html, manifest {args.output}/manifest.json")
    return health.assess("run", stages, args.max_dead_letter_fraction, pairs=manifest["counts"]["pairs"])


if __name__ == "__main__":
    sys.exit(main())
