"""How realistic are the rule-made negatives? The realism table: rules-only vs real-only.

    python benchmarks/negative_realism.py [--generations ../shared/data/generations/bfcl_results_2024_08_11]
        [--eval-part dev|train-holdout] [--seed 0] [--max-negatives 8] [--quick] [--json]

Trains the bundled lite model's features and fit twice on the train part of the
real generations (same prompts, same positives, the same number of negatives
per prompt): once with rule-made negatives (`transforms.rules`), once with the
wrong answers real models gave. Both are measured on real errors of the dev
part (FC-RewardBench pairs and Best-of-N sets as `benchmarks/make_eval_files.py`
builds them) and the ratio rules-only / real-only is printed overall and per
error type (`transforms/realism.py`). `--eval-part train-holdout` measures on a
fifth of the train part's tools instead (for working on the rules without
looking at dev); `--quick` uses the cheap fit `toolrm synthesize` reports with.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from toolrm_beam.transforms.realism import QUICK_FIT, measure_realism, table  # noqa: E402
from toolrm_beam.transforms.reward.lite.train import load_generations  # noqa: E402

DEFAULT_GENERATIONS = os.path.join(os.path.dirname(REPO), "shared", "data", "generations", "bfcl_results_2024_08_11")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", default=DEFAULT_GENERATIONS)
    parser.add_argument("--eval-part", default="dev", choices=("dev", "train-holdout"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-negatives", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="the cheap fit of `toolrm synthesize --realism_generations`")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    prompts = load_generations(args.generations, log=log)
    result = measure_realism(prompts, seed=args.seed, max_negatives=args.max_negatives,
                             fit=QUICK_FIT if args.quick else None, eval_part=args.eval_part, log=log)
    print(json.dumps(result, indent=1, sort_keys=True) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
