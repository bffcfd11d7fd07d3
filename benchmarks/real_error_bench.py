"""The real-error table: every scorer on the real-error pairs and Best-of-N sets, by part.

    python benchmarks/make_eval_files.py --output eval          # once
    python benchmarks/real_error_bench.py --eval eval [--parts dev,train]
        [--scorers lite,heuristic-schema,heuristic-grounded,heuristic] [--model PATH] [--json]

Prints, per part, pairwise accuracy overall and per error type (FC-RewardBench's
protocol: the chosen output must score strictly higher; a tie is a miss) and
Best-of-N top-1 beside a random pick and the oracle, one column per scorer.
The same numbers as `toolrm bench rewardbench|bestofn` on each file.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from toolrm_beam.runners import bench


def _args(scorer: str, model: str | None, **files) -> argparse.Namespace:
    return argparse.Namespace(scorer=scorer, model=model if scorer == "lite" else None, device="cpu",
                              max_length=4096, **files)


def measure(eval_dir: str, part: str, scorers: list[str], model: str | None) -> dict[str, dict]:
    pairs = os.path.join(eval_dir, f"rewardbench_real_{part}.jsonl")
    sets = os.path.join(eval_dir, f"bestofn_real_{part}.jsonl")
    return {scorer: {"rewardbench": bench.rewardbench(_args(scorer, model, pairs=pairs)),
                     "bestofn": bench.bestofn(_args(scorer, model, input=sets))} for scorer in scorers}


def table(part: str, results: dict[str, dict]) -> str:
    scorers = list(results)
    first = results[scorers[0]]
    error_types = list(first["rewardbench"]["by_error_type"])
    lines = [f"### real errors, {part} part ({first['rewardbench']['pairs']} pairs, "
             f"{first['bestofn']['prompts']} Best-of-N prompts, "
             f"{first['bestofn']['candidates_per_prompt']} candidates per prompt)", "",
             "| | " + " | ".join(scorers) + " |", "|---|" + "---|" * len(scorers)]

    def row(label, values):
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    row("pairwise accuracy", [f"{results[s]['rewardbench']['accuracy']:.3f}" for s in scorers])
    for error_type in error_types:
        pairs = first["rewardbench"]["by_error_type"][error_type]["pairs"]
        row(f"  {error_type} ({pairs})",
            [f"{results[s]['rewardbench']['by_error_type'][error_type]['accuracy']:.3f}" for s in scorers])
    row("Best-of-N top-1", [f"{results[s]['bestofn']['top1']:.3f}" for s in scorers])
    row("  random pick", [f"{first['bestofn']['random']:.3f}"] * len(scorers))
    row("  oracle", [f"{first['bestofn']['oracle']:.3f}"] * len(scorers))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", default="eval", help="the output folder of make_eval_files.py")
    parser.add_argument("--parts", default="dev,train")
    parser.add_argument("--scorers", default="lite,heuristic-schema,heuristic-grounded,heuristic")
    parser.add_argument("--model", help="a lite model directory for --scorers lite (default: the bundled one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    scorers = [s.strip() for s in args.scorers.split(",") if s.strip()]
    results = {part: measure(args.eval, part, scorers, args.model) for part in args.parts.split(",") if part}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("\n\n".join(table(part, by_scorer) for part, by_scorer in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
