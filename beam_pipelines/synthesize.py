"""The synthesize pipeline: canonical examples -> labelled candidate tool calls.

    example shards --ReadExamples--> examples
      --RuleCandidates-->   reference + rule negatives (default; no model)
      --GenerateWithLLM-->  llm-sample (sample-and-check) / llm-perturb (targeted), optional
      --ObfuscatedCopies--> renamed copies (optional augmentation)
      --DedupCandidates-->  one per content hash, when generators can repeat each other
      --WriteShards-->      candidates-* (streamed, constant memory), dead_letter-*,
                            examples-* for the obfuscated copies, manifest.json
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import apache_beam as beam

from toolrm_beam.beam_pipelines.common import (MANIFEST, candidate_row, default_num_shards, example_row, make_pipeline,
                                   read_manifest, remove_stale_shards, versions)
from toolrm_beam.runners.health import add_health_args
from toolrm_beam.runners.presets import RUNNERS, check_beam_args, non_negative_int, positive_int
from toolrm_beam.schemas.errors import ErrorType
from toolrm_beam.schemas.records import CANDIDATE_ARROW_SCHEMA, EXAMPLE_ARROW_SCHEMA
from toolrm_beam.transforms import fileio, rules
from toolrm_beam.transforms.accounting import CountValues, WriteManifest
from toolrm_beam.transforms.candidates import CandidateSummary, DedupCandidates, ObfuscatedCopies, RuleCandidates
from toolrm_beam.transforms.dead_letter import DEAD_LETTER_SCHEMA
from toolrm_beam.transforms.examples_io import ReadExamples, example_shard_check
from toolrm_beam.transforms.progress import CountProgress, batch_size
from toolrm_beam.transforms.stage_inputs import match_shards
from toolrm_beam.transforms.write_shards import WriteShards, WriteStreamingShards

# `reference` alone: the reference and no negatives, for corpora that bring their own
# answers (bfcl_results, model_samples, pair corpora); every generator list emits the reference.
GENERATORS = ("rules", "reference", "llm-sample", "llm-perturb")


def parse_mix(text: str | None) -> dict[str, float] | None:
    """`parameter_value_error=0.5,incorrect_function_name=0.5` -> weights (error types checked)."""
    if not text:
        return None
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        error_type = ErrorType.from_label(name.strip()).value
        try:
            mix[error_type] = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--mix: weight of {name!r} is not a number: {weight!r}") from None
        if mix[error_type] < 0:
            raise argparse.ArgumentTypeError(f"--mix: weight of {name!r} is negative")
    if not sum(mix.values()):
        raise argparse.ArgumentTypeError("--mix: weights sum to zero")
    return mix


def mix_distance(counts: dict[str, int], target: dict[str, float]) -> float | None:
    """Total-variation distance between an error-type histogram and a target mix."""
    total = sum(counts.values())
    if not total:
        return None
    norm = sum(target.values())
    keys = set(counts) | set(target)
    return round(0.5 * sum(abs(counts.get(k, 0) / total - target.get(k, 0.0) / norm) for k in keys), 4)


def synthesize_counts(summaries: dict[str, dict], mix: dict[str, float]) -> dict[str, Any]:
    candidates = summaries["candidates"]
    negatives = {k: v for k, v in candidates.get("negative_type", {}).items() if k != "None"}
    n_negatives = sum(negatives.values())
    schema_valid = candidates.get("negative_schema_valid", {})
    examples_in = summaries["examples_in"].get("examples", 0)
    dead_rows = summaries["dead_rows"].get("rows", 0)
    origins = candidates.get("origin", {})
    return {
        "rows_in": examples_in + dead_rows,
        "examples_in": examples_in,
        "rows_dead_letter": dead_rows,
        # Examples read but lost to a failure while making their candidates.
        "examples_dead_letter": summaries.get("dead_stages", {}).get("synthesize", 0),
        "obfuscated_examples": summaries["copies"].get("examples", 0),
        # Before collapsing repeats (the same output from two generators); the
        # shard infos in `files` give the rows actually written.
        "candidates_generated": sum(origins.values()),
        "candidates_by_origin": dict(sorted(origins.items())),
        "positives": candidates.get("label", {}).get("True", 0),
        "negatives": n_negatives,
        "negatives_by_error_type": dict(sorted(negatives.items())),
        "negatives_schema_valid_share": round(schema_valid.get("True", 0) / n_negatives, 4) if n_negatives else None,
        "error_mix_tv_distance": mix_distance(negatives, mix),
        "dead_letter_by_reason": dict(sorted(summaries["reasons"].items())),
        "dead_letter_by_stage": dict(sorted(summaries.get("dead_stages", {}).items())),
    }


def _as_batch(candidate: dict[str, Any]) -> list[dict[str, Any]]:
    return [candidate]


def build(pipeline: beam.Pipeline | beam.pvalue.PBegin, *, files: list[str], output: str, num_shards: int,
          generators: list[str], seed: int, mix: dict[str, float] | None, max_negatives: int, obfuscate: bool,
          llm: dict[str, Any] | None, config: dict[str, Any],
          examples: beam.PCollection | None = None) -> dict[str, beam.PCollection]:
    """Add the synthesize stages to `pipeline`: from the Example shards `files`, or from `examples`.

    `toolrm run` passes the examples ingest produced in the same pipeline (in
    the form the shards hold them); `files` then only name those shards in the
    manifest. Returns the candidates (as batches: lists), the same batches as
    the shards' rows (`candidate_rows`), the manifest and the dead letters.
    """
    if examples is None:
        read = pipeline | "Files" >> beam.Create(files) | "ReadExamples" >> ReadExamples()
        examples, read_dead = read["examples"], read["dead_letter"]
    else:
        read_dead = None  # ingest's records, in this pipeline: nothing read, nothing refused here
    ruled = examples | "Rules" >> RuleCandidates(
        seed=seed, mix=mix, max_negatives=max_negatives if "rules" in generators else 0)
    batches = [ruled["candidates"]]
    dead_letters = [dead for dead in (read_dead, ruled["dead_letter"]) if dead is not None]
    for mode, generator in (("sample", "llm-sample"), ("perturb", "llm-perturb")):
        if generator in generators:
            from toolrm_beam.transforms.llm_stage import LLMCandidates  # heavy dependencies only when asked for
            result = examples | f"LLM-{mode}" >> LLMCandidates(mode=mode, seed=seed, **llm)
            batches.append(result["candidates"] | f"LLM-{mode}-AsBatch" >> beam.Map(_as_batch))
            dead_letters.append(result["dead_letter"])
    candidates = tuple(batches) | "AllCandidates" >> beam.Flatten()
    if len(batches) > 1:
        candidates = candidates | "Dedup" >> DedupCandidates()
    copies = None
    if obfuscate:
        records = candidates | "Records" >> beam.FlatMap(lambda batch: batch)
        copies = examples | "Obfuscate" >> ObfuscatedCopies(records, seed)
        candidates = (candidates, copies["candidates"] | "CopiesAsBatch" >> beam.Map(_as_batch)) \
            | "WithCopies" >> beam.Flatten()
    dead = tuple(dead_letters) | "AllDeadLetters" >> beam.Flatten()

    # Batches of rows as the shards hold them: written here, and what `toolrm run`'s score stage takes.
    candidate_rows = candidates | "CandidateRows" >> beam.Map(_rows_of_batch)
    written = [
        candidate_rows | "WriteCandidates" >> WriteStreamingShards(output, "candidates", CANDIDATE_ARROW_SCHEMA),
        dead | "WriteDeadLetters" >> WriteShards(
            output, "dead_letter", DEAD_LETTER_SCHEMA, 1, shard_key=lambda d: d["source_file"],
            sort_key=lambda d: (d["source_file"], d["row_number"], d["stage"], d["reason"], d["detail"])),
    ]
    copy_examples = copies["examples"] if copies else None
    if copies:
        written.append(copy_examples | "WriteObfuscatedExamples" >> WriteShards(
            output, "examples", EXAMPLE_ARROW_SCHEMA, num_shards, shard_key=lambda e: e["example_id"],
            sort_key=lambda r: r["example_id"], to_row=example_row))
    _ = candidates | "Progress" >> CountProgress("synthesize.candidates", size=batch_size)
    target = mix or rules.DEFAULT_MIX
    manifest = tuple(written) | "Manifest" >> WriteManifest(
        fileio.join(output, MANIFEST), config, versions(),
        counted=pipeline | "Counts" >> CountValues(
            {"examples_in": (examples, None), "dead_rows": (read_dead, None), "copies": (copy_examples, None),
             "reasons": (dead, "reason"), "dead_stages": (dead, "stage"), "candidates": (candidates, CandidateSummary())},
            keys={"examples_in": "examples", "dead_rows": "rows", "copies": "examples"}),
        counts_fn=lambda summaries: synthesize_counts(summaries, target))
    return {"candidates": candidates, "candidate_rows": candidate_rows, "manifest": manifest, "dead_letter": dead}


def _rows_of_batch(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [candidate_row(candidate) for candidate in batch]


# The LLM generators' options, as (name, prefixed, argparse kwargs). `toolrm
# synthesize` takes them as `--name`; `toolrm run` and `toolrm refresh`, where
# `--model`, `--device` and `--batch_size` belong to the reward model, take the
# prefixed ones as `--generator_name` (see `add_generator_args`).
GENERATOR_OPTIONS: tuple[tuple[str, bool, dict[str, Any]], ...] = (
    ("model", True, dict(help="local path or gs:// URL of the generating model (or the served model's name)")),
    ("backend", True, dict(default="transformers", choices=("transformers", "openai", "vllm"))),
    ("endpoint", True, dict(help="base URL of an OpenAI-compatible server (backend openai)")),
    ("api_key_env", True, dict(default="OPENAI_API_KEY", help="environment variable holding the API key")),
    ("device", True, dict(default="cpu", help="cpu or cuda (backend transformers)")),
    ("batch_size", True, dict(type=positive_int, default=8)),
    ("samples", False, dict(type=positive_int, default=4, help="samples per example (llm-sample)")),
    ("temperature", False, dict(type=float, default=0.8)),
    ("max_new_tokens", False, dict(type=positive_int, default=256)),
    ("error_types", False, dict(default=None, help="error types to ask for (llm-perturb; default: all)")),
    ("decoding", False, dict(default="strict", choices=("strict", "lenient"),
                             help="how the checker decodes LLM answers: strict (default; a single call object "
                                  "is a parsing error, as the correctness rules say) or lenient (a list of one)")),
    ("request_timeout_s", False, dict(type=float, default=120.0,
                                      help="backend openai: limit for one attempt of one request (default 120)")),
    ("max_retries", False, dict(type=non_negative_int, default=4,
                                help="backend openai: retries of a timed-out, 429/5xx or malformed answer "
                                     "before its dead letter (default 4)")),
    ("retry_backoff_s", False, dict(type=float, default=1.0,
                                    help="backend openai: first backoff; doubles per retry, with full jitter, "
                                         "up to 30 s (default 1)")),
    ("max_concurrency", False, dict(type=positive_int, default=8,
                                    help="backend openai: requests in flight per thread")),
    ("requests_per_second", False, dict(type=float, default=None, help="backend openai: client-side rate limit")),
)


def add_generator_args(parser: argparse.ArgumentParser, *, prefixed: bool = False) -> None:
    """The LLM generators' options; `prefixed` names the clashing ones `--generator_<name>`."""
    group = parser.add_argument_group("LLM generators (llm-sample, llm-perturb)")
    for name, clashes, kwargs in GENERATOR_OPTIONS:
        flag = f"--generator_{name}" if prefixed and clashes else f"--{name}"
        group.add_argument(flag, dest=f"generator_{name}", **kwargs)


def generator_argv(args: argparse.Namespace) -> list[str]:
    """Parsed generator options -> `toolrm synthesize` flags (those given or not at their default)."""
    argv: list[str] = []
    for name, _, kwargs in GENERATOR_OPTIONS:
        value = getattr(args, f"generator_{name}")
        if value is not None and value != kwargs.get("default"):
            argv += [f"--{name}", str(value)]
    return argv


def llm_settings(args: argparse.Namespace, generators: list[str]) -> dict[str, Any] | None:
    """The LLM stage's settings from parsed options (None when no LLM generator is asked for)."""
    if not any(g.startswith("llm") for g in generators):
        return None
    get = lambda name: getattr(args, f"generator_{name}")  # noqa: E731
    if not get("model"):
        raise ValueError("a model is required for the llm-sample and llm-perturb generators "
                         "(--model with toolrm synthesize, --generator_model with run and refresh)")
    http = None
    if get("backend") == "openai":
        if not get("endpoint"):
            raise ValueError("backend openai needs the server's base URL (--endpoint with toolrm synthesize, "
                             "--generator_endpoint with run and refresh)")
        http = {"timeout_s": get("request_timeout_s"), "max_retries": get("max_retries"),
                "backoff_initial_s": get("retry_backoff_s"), "backoff_max_s": max(30.0, get("retry_backoff_s")),
                "max_concurrency": get("max_concurrency"), "requests_per_second": get("requests_per_second")}
    return {"model": get("model"), "backend": get("backend"), "endpoint": get("endpoint"),
            "api_key_env": get("api_key_env"), "device": get("device"), "samples": get("samples"),
            "temperature": get("temperature"), "max_new_tokens": get("max_new_tokens"),
            "batch_size": get("batch_size"),
            "error_types": [ErrorType.from_label(e).value for e in get("error_types").split(",")]
            if get("error_types") else None,
            "http": http, "decoding": get("decoding")}


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="toolrm synthesize", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, action="append",
                        help="the folder ingest wrote, or a glob of example shards (repeatable)")
    parser.add_argument("--output", required=True, help="output directory (local or URL)")
    parser.add_argument("--generators", default="rules",
                        help=f"comma-separated, from {', '.join(GENERATORS)} (default: rules; reference: "
                             "the reference only, no rule negatives)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mix", default=None,
                        help="error-type weights, e.g. parameter_value_error=2,parsing_error=1 "
                             "(default: FC-RewardBench's distribution)")
    parser.add_argument("--max_negatives", type=non_negative_int, default=6, help="rule negatives per example")
    parser.add_argument("--obfuscate", action=argparse.BooleanOptionalAction, default=False,
                        help="add a renamed copy of each example (ToolRM's obfuscation augmentation)")
    parser.add_argument("--runner", default="direct", choices=RUNNERS)
    parser.add_argument("--num_shards", type=non_negative_int, default=0)
    parser.add_argument("--realism_generations", default=None, metavar="DIR",
                        help="real model answers (bfcl_results layout, local or URL): measure how realistic this "
                             "run's rule negatives are (rules-only vs real-only reward model on real errors), "
                             "print it and record it in the manifest as `realism`")
    parser.add_argument("--realism_categories", default=",".join(REALISM_CATEGORIES),
                        help="question categories of --realism_generations to use (default: the Python-function "
                             "ones, exec_*; 'all' for every category)")
    add_generator_args(parser)
    add_health_args(parser)
    args, beam_args = parser.parse_known_args(argv)
    # Usage mistakes end here, with the usage line, before any file is read.
    generators = [g.strip() for g in args.generators.split(",") if g.strip()]
    unknown = sorted(set(generators) - set(GENERATORS))
    if unknown or not generators:
        parser.error(f"--generators: unknown {unknown or 'none given'}; choose from {', '.join(GENERATORS)}")
    try:
        parse_mix(args.mix)
        llm_settings(args, generators)
    except (ValueError, argparse.ArgumentTypeError) as error:
        parser.error(str(error))
    if args.realism_generations:
        from toolrm_beam.schemas.adapters.bfcl_results import QUESTION_CATEGORIES
        unknown = set(realism_categories(args.realism_categories) or []) - set(QUESTION_CATEGORIES.values())
        if unknown or not realism_categories(args.realism_categories) and args.realism_categories.strip() != "all":
            parser.error(f"--realism_categories: unknown {sorted(unknown) or 'none given'}; choose from "
                         f"{', '.join(sorted(QUESTION_CATEGORIES.values()))} or 'all'")
    return args, beam_args


# The generations' Python-function categories: the held-out domain's shape, and cheap to read.
REALISM_CATEGORIES = ("exec_simple", "exec_multiple", "exec_parallel", "exec_parallel_multiple")


def realism_categories(text: str) -> list[str] | None:
    return None if text.strip() == "all" else [c.strip() for c in text.split(",") if c.strip()]


def measure_realism(args: argparse.Namespace, mix: dict[str, float] | None) -> dict[str, Any]:
    """The realism figure of this run's rule settings (seed, mix, negatives per example), with the quick
    fit: read the generations, train rules-only and real-only on their train part, measure on dev."""
    from toolrm_beam.transforms import realism
    from toolrm_beam.transforms.reward.lite.train import load_generations

    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    categories = realism_categories(args.realism_categories)
    prompts = load_generations(args.realism_generations, categories=categories, log=log)
    result = realism.measure_realism(prompts, seed=args.seed, mix=mix, max_negatives=args.max_negatives,
                                     fit=realism.QUICK_FIT, log=log)
    print(realism.table(result))
    return {"generations": args.realism_generations, "categories": categories or "all",
            **{k: result[k] for k in ("ratio", "ratio_best_of_n", "ratio_by_error_type", "eval_part",
                                      "train_prompts", "negatives_per_arm", "seconds")},
            "rules_only": {"pairwise_accuracy": result["rules_only"]["pairwise_accuracy"],
                           "best_of_n_top1": result["rules_only"]["best_of_n"]["top1_accuracy"]},
            "real_only": {"pairwise_accuracy": result["real_only"]["pairwise_accuracy"],
                          "best_of_n_top1": result["real_only"]["best_of_n"]["top1_accuracy"]},
            "pairs": result["real_only"]["pairs"], "fit": "quick (transforms.realism.QUICK_FIT)"}


def record_in_manifest(output: str, key: str, value: Any) -> dict[str, Any]:
    """Add one top-level entry to the written manifest (atomically) and return the manifest."""
    manifest = read_manifest(output)
    manifest[key] = value
    fileio.write_bytes_atomic(fileio.join(output, MANIFEST),
                              (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest


def run(argv: list[str] | None = None, test_pipeline: beam.Pipeline | None = None) -> dict[str, Any]:
    args, beam_args = parse_args(argv)
    check_beam_args(beam_args)  # a misspelt option is a usage error before any file is read
    generators = [g.strip() for g in args.generators.split(",") if g.strip()]
    mix = parse_mix(args.mix)
    llm = llm_settings(args, generators)
    checked = example_shard_check(match_shards(args.input, "examples"))
    files = checked.files
    if args.realism_generations:  # a wrong path ends here, before the pipeline runs
        fileio.match_inputs([fileio.join(args.realism_generations, "result", "*", "*_result.json")])
    num_shards = args.num_shards or default_num_shards(files)
    config = {"pipeline": "synthesize", "inputs": files, **checked.summary(), "decoding": args.generator_decoding,
              "generators": generators, "seed": args.seed,
              "mix": mix or rules.DEFAULT_MIX, "max_negatives": args.max_negatives, "obfuscate": args.obfuscate,
              "num_shards": num_shards, "runner": args.runner,
              "llm": {k: v for k, v in (llm or {}).items() if k != "api_key_env"} or None}
    fileio.makedirs(args.output)
    with make_pipeline(args.runner, beam_args, test_pipeline) as pipeline:
        build(pipeline, files=files, output=args.output, num_shards=num_shards, generators=generators,
              seed=args.seed, mix=mix, max_negatives=args.max_negatives, obfuscate=args.obfuscate, llm=llm,
              config=config)
    manifest = read_manifest(args.output)
    remove_stale_shards(args.output, manifest)
    if args.realism_generations:
        manifest = record_in_manifest(args.output, "realism", measure_realism(args, mix))
    return manifest
