"""Options `toolrm run` and `toolrm refresh` share: they drive synthesize and score, so they take both.

The generators' clashing options are prefixed (`--generator_model`, ...):
`--model` and `--device` stay the reward model's.
"""
from __future__ import annotations

import argparse

from toolrm_beam.beam_pipelines import score, synthesize
from toolrm_beam.runners.health import add_health_args


def add_driver_args(parser: argparse.ArgumentParser) -> None:
    from toolrm_beam.runners.presets import RUNNERS

    parser.add_argument("--runner", default="direct", choices=RUNNERS)
    parser.add_argument("--quiet", action="store_true",
                        help="no progress lines while a pipeline runs (the summary is still printed)")
    parser.add_argument("--progress_every_s", type=float, default=5.0, help="seconds between progress lines")
    parser.add_argument("--generators", default="rules",
                        help=f"comma-separated, from {', '.join(synthesize.GENERATORS)} (default: rules)")
    parser.add_argument("--seed", type=int, default=0)
    synthesize.add_generator_args(parser, prefixed=True)
    score.add_scoring_args(parser)
    add_health_args(parser)


def check_driver_args(parser: argparse.ArgumentParser, args: argparse.Namespace, beam_args: list[str]) -> None:
    """Usage mistakes end with the usage line, before the first stage starts."""
    from toolrm_beam.runners.presets import check_beam_args

    if bool(args.source) != bool(args.input) or (args.source and len(args.source) != len(args.input)):
        parser.error("give one --input per --source")
    if args.progress_every_s <= 0:
        parser.error("--progress_every_s must be positive")
    generators = generators_of(args)
    unknown = sorted(set(generators) - set(synthesize.GENERATORS))
    if unknown or not generators:
        parser.error(f"--generators: unknown {unknown or 'none given'}; "
                     f"choose from {', '.join(synthesize.GENERATORS)}")
    try:
        check_beam_args(beam_args)
        synthesize.llm_settings(args, generators_of(args))
    except ValueError as error:
        parser.error(str(error))


def generators_of(args: argparse.Namespace) -> list[str]:
    return [g.strip() for g in args.generators.split(",") if g.strip()]


def progress_watcher(args: argparse.Namespace):
    """What `end_to_end.run` calls with the running pipeline's result: progress lines, or nothing with --quiet."""
    if args.quiet:
        return None
    from toolrm_beam.runners.progress import ProgressPrinter
    return ProgressPrinter(every_s=args.progress_every_s)
