"""The `toolrm` command: one subcommand per job."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any, Callable

USAGE = """usage: toolrm COMMAND [options]

commands:
  run         ingest -> synthesize -> score and select, end to end (the bundled samples by default)
  ingest      corpus files -> canonical example shards, dead letter and manifest
  synthesize  examples -> reference, rule-based and LLM candidates, labelled by the checker
  score       examples + candidates -> reward scores -> selected pairs, filtered, quarantine, report
  refresh     process only new or changed corpus files and publish a new dataset version
  verify      label candidate tool calls against BFCL-style references
  train-lite  train the bundled CPU reward model on pairs synthesized from corpora
  bench       rewardbench | bestofn: evaluate a scorer

Run `toolrm COMMAND --help` for a command's options.

exit status: 0 done; 1 outputs written but unusable (every row, or more than
--max_dead_letter_fraction of a stage's input, dead-lettered; the top reasons
are printed) or an unexpected failure; 2 a bad path, input file or option,
found before anything ran; 3 refresh: another refresh published first."""

# Set to see the traceback of an unexpected failure instead of its one-line summary.
TRACEBACK_ENV = "TOOLRM_TRACEBACK"


def print_input_warnings(command: str, manifest: dict) -> None:
    """The input files a job skipped (0 rows) and other warnings its input check found, on stderr."""
    for warning in manifest.get("config", {}).get("input_warnings", []):
        print(f"toolrm {command}: warning: {warning}", file=sys.stderr)


def took(seconds: float | None) -> str:
    """` (12.3 s)`, or nothing where a stage ran inside a larger pipeline."""
    return "" if seconds is None else f" ({seconds:.1f} s)"


def _print_ingest_summary(manifest: dict, output: str, seconds: float | None) -> None:
    print_input_warnings("ingest", manifest)
    counts = manifest["counts"]
    print(f"ingest {manifest['config']['source']}: {len(manifest['config']['inputs'])} files -> {output}"
          f"{took(seconds)}")
    print(f"  rows in          {counts['rows_in']:>8}")
    print(f"  rows written     {counts['rows_written']:>8}")
    print(f"  rows duplicate   {counts['rows_duplicate']:>8}")
    print(f"  rows dead letter {counts['rows_dead_letter']:>8}")
    print(f"  examples out     {counts['examples_out']:>8}")
    if counts["candidates_out"]:
        print(f"  candidates out   {counts['candidates_out']:>8}")
    for reason, count in counts["dead_letter_by_reason"].items():
        print(f"    dead letter {reason:28s} {count:>6}")
    _print_agreement(counts.get("upstream_agreement") or {})
    balanced = counts["rows_in"] == counts["rows_written"] + counts["rows_duplicate"] + counts["rows_dead_letter"]
    print(f"  accounting: rows in = written + duplicate + dead letter: {'ok' if balanced else 'MISMATCH'}")


def _print_agreement(table: dict, reasons: int = 3) -> None:
    """The checker against the upstream verdicts: one line per category, its top disagreement reasons."""
    if not table:
        return
    print("  checker vs upstream verdict (answers, agreement, checker right/upstream wrong, checker wrong/upstream right):")
    for category, row in table.items():
        name = "all" if category == "__all__" else category
        print(f"    {name:26s} {row['answers']:>7} {row['agreement']:>8.3f} "
              f"{row['checker_correct_upstream_wrong']:>7} {row['checker_wrong_upstream_correct']:>7}")
        if category != "__all__":
            for reason, count in sorted(row["disagreements"].items(), key=lambda kv: (-kv[1], kv[0]))[:reasons]:
                print(f"        {count:>6}  {reason}")


def _stage(name: str, module: Any, print_summary: Callable[[dict, str, float], None], argv: list[str]) -> int:
    """Run one stage's pipeline, print its summary, and say (exit 1) when its result is unusable."""
    from toolrm_beam.runners import health

    started = time.monotonic()
    manifest = module.run(argv)
    args, _ = module.parse_args(argv)
    print_summary(manifest, args.output, time.monotonic() - started)
    label = f"ingest:{manifest['config']['source']}" if name == "ingest" else name
    return health.assess(name, [health.stage_health(label, manifest)], args.max_dead_letter_fraction)


def ingest(argv: list[str]) -> int:
    from toolrm_beam.beam_pipelines import ingest as ingest_pipeline
    return _stage("ingest", ingest_pipeline, _print_ingest_summary, argv)


def _print_synthesize_summary(manifest: dict, output: str, seconds: float | None) -> None:
    print_input_warnings("synthesize", manifest)
    counts = manifest["counts"]
    written = sum(shard["rows"] for shard in manifest["files"].get("candidates", []))
    print(f"synthesize: {counts['examples_in']} examples -> {written} candidates in {output}{took(seconds)}")
    print(f"  positives {counts['positives']}, negatives {counts['negatives']}, "
          f"schema-valid negatives {counts['negatives_schema_valid_share']}, "
          f"error-mix distance from FC-RewardBench (TV) {counts['error_mix_tv_distance']}")
    for origin, count in counts["candidates_by_origin"].items():
        print(f"    origin {origin:44s} {count:>7}")
    for error_type, count in counts["negatives_by_error_type"].items():
        print(f"    error  {error_type:44s} {count:>7}")
    for reason, count in counts["dead_letter_by_reason"].items():
        print(f"    dead letter {reason:39s} {count:>7}")
    realism = manifest.get("realism")
    if realism:
        print(f"  realism of the rule negatives (rules-only / real-only reward model on real errors, "
              f"{realism['pairs']} pairs): {realism['ratio']}; best-of-N {realism['ratio_best_of_n']}")


def synthesize(argv: list[str]) -> int:
    from toolrm_beam.beam_pipelines import synthesize as synthesize_pipeline
    return _stage("synthesize", synthesize_pipeline, _print_synthesize_summary, argv)


def verify(argv: list[str]) -> int:
    from toolrm_beam.runners import verify as verify_job
    return verify_job.main(argv)


def score(argv: list[str]) -> int:
    from toolrm_beam.beam_pipelines import score as score_pipeline
    from toolrm_beam.runners.run import print_score_summary
    return _stage("score", score_pipeline, print_score_summary, argv)


def run(argv: list[str]) -> int:
    from toolrm_beam.runners import run as run_job
    return run_job.main(argv)


def refresh(argv: list[str]) -> int:
    from toolrm_beam.beam_pipelines import refresh as refresh_job
    return refresh_job.main(argv)


def train_lite(argv: list[str]) -> int:
    from toolrm_beam.transforms.reward.lite import train
    return train.main(argv)


def bench(argv: list[str]) -> int:
    from toolrm_beam.runners import bench as bench_job
    return bench_job.main(argv)


COMMANDS = {"ingest": ingest, "synthesize": synthesize, "score": score, "run": run, "verify": verify,
            "train-lite": train_lite, "bench": bench, "refresh": refresh}


# The commands that run a Beam pipeline (and take Beam's runner flags).
PIPELINE_COMMANDS = ("ingest", "synthesize", "score", "run", "refresh")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"toolrm: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if command in PIPELINE_COMMANDS:
        # Local worker processes start now, while this process imports Beam and builds the job.
        from toolrm_beam.runners import prestarted_workers
        prestarted_workers.prestart(prestarted_workers.local_worker_processes(rest))
    return guarded(command, COMMANDS[command], rest)


def guarded(command: str, function: Callable[[list[str]], int], argv: list[str]) -> int:
    """Run a command; what goes wrong is one line on stderr, never a traceback.

    A bad path, input file or option (found before anything runs) is exit
    status 2; an unexpected failure is 1, with the traceback only when
    TOOLRM_TRACEBACK is set.
    """
    from toolrm_beam.runners.presets import RunnerOptionsError
    from toolrm_beam.transforms.fileio import InputError

    try:
        return function(argv)
    except (InputError, RunnerOptionsError, argparse.ArgumentTypeError) as error:
        print(f"toolrm {command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"toolrm {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if os.environ.get(TRACEBACK_ENV):
            raise
        logging.getLogger("toolrm").debug("%s failed", command, exc_info=True)
        message = str(error).strip().splitlines()[0][:500] if str(error).strip() else ""
        print(f"toolrm {command}: failed: {type(error).__name__}: {message} "
              f"(set {TRACEBACK_ENV}=1 to see the traceback)", file=sys.stderr)
        return 1


def exit_without_teardown(code: int) -> None:
    """End the process with `code` once the command is done, skipping the interpreter's teardown.

    After a run, tearing down the interpreter (freeing every module and
    object Beam and the stages left, in C: no Python frame) took 1.5-4 s,
    measured after the summary line of `toolrm score` on the shared corpora;
    the work was done and written by then. Everything a normal exit does
    that matters still runs: atexit handlers (logging, temporary folders,
    Beam's), non-daemon threads are waited for, stdout and stderr flushed.
    """
    import atexit
    import threading

    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is None:  # not CPython: exit the ordinary way
        sys.exit(code)
    run_exit_functions()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            pass
    os._exit(code if isinstance(code, int) and 0 <= code <= 255 else 1)


def console_main() -> None:
    """The `toolrm` command (and `python -m toolrm_beam.runners.cli`)."""
    # Importing it applies the process settings Beam's worker processes get (runners/worker_setup.py).
    from toolrm_beam.runners import worker_setup  # noqa: F401
    exit_without_teardown(main())


if __name__ == "__main__":
    console_main()
