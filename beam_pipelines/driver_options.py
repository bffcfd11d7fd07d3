"""Options `toolrm run` and `toolrm refresh` share: they drive synthesize and score, so they take both.

The generators' clashing options are prefixed (`--generator_model`, ...):
`--model` and `--device` stay the reward model's.
"""
from __future__ import annotations

import argparse

from toolrm_beam.beam_pipelines import score, synthesize
from toolrm_beam.runners.health import add_health_args


def add_driver_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--generators", default="rules", help="rules, llm-sample, llm-perturb (comma-separated)")
    parser.add_argument("--seed", type=int, default=0)
    synthesize.add_generator_args(parser, prefixed=True)
    score.add_scoring_args(parser)
    add_health_args(parser)


def check_driver_args(parser: argparse.ArgumentParser, args: argparse.Namespace, beam_args: list[str]) -> None:
    """Usage mistakes end with the usage line, before the first stage starts."""
    from toolrm_beam.runners.presets import check_beam_args

    if bool(args.source) != bool(args.input) or (args.source and len(args.source) != len(args.input)):
        parser.error("give one --input per --source")
    try:
        check_beam_args(beam_args)
        synthesize.llm_settings(args, generators_of(args))
    except ValueError as error:
        parser.error(str(error))


def generators_of(args: argparse.Namespace) -> list[str]:
    return [g.strip() for g in args.generators.split(",") if g.strip()]


def synthesize_argv(args: argparse.Namespace) -> list[str]:
    """`toolrm synthesize` flags for the generators, seed and generator options."""
    return ["--generators", ",".join(generators_of(args)), "--seed", str(args.seed),
            *synthesize.generator_argv(args)]


def scoring_argv(args: argparse.Namespace) -> list[str]:
    """`toolrm score` flags for the scoring and selection options."""
    argv = ["--scorer", args.scorer, "--max_pairs_per_example", str(args.max_pairs_per_example),
            "--hard_margin", str(args.hard_margin), "--quarantine_margin", str(args.quarantine_margin),
            "--balance" if args.balance else "--no-balance", "--device", args.device,
            "--max_length", str(args.max_length)]
    for flag, value in (("--model", args.model), ("--min_positive_score", args.min_positive_score)):
        if value is not None:
            argv += [flag, str(value)]
    return argv
