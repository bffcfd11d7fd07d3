"""Evaluate the bundled CPU reward model (toolrm-lite) on splits it never saw, and time it on one core.

    python benchmarks/lite_model_eval.py [--corpora DIR] [--model models/toolrm-lite] [--json]

Held-out splits: Seal-Tools `test_out_domain` (tools unseen in training) and the BFCL v3 live
sample. Every example's reference is the correct candidate; its rule-made negatives
(`transforms.rules.generate_rule_candidates`, seed 0, FC-RewardBench error mix, up to 6) are the
wrong ones, labelled by the checker. Reported:

- pairwise accuracy (FC-RewardBench protocol: share of (correct, wrong) pairs with
  score(correct) > score(wrong); ties count as wrong), overall and per error type;
- best-of-N: the top-scored candidate's accuracy per prompt, beside a random pick and the oracle;
- prose pairs (supplementary; not in the rule mix): where a call is needed, the reference against
  two prose answers (a refusal, a question back, ...); where no call is right, prose against the
  rule-made calls;
- throughput: candidates scored per second on ONE core (the process is pinned to one CPU and
  numpy to one thread), end to end from (example, output) through feature extraction and the
  MLP, with the per-example context computed fresh (caches cleared) as for unseen prompts and
  tool specs (and again with the tool specs already seen, as in a corpus run where prompts share
  a catalog); the best of `--repeat` runs, in CPU time and wall time.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from toolrm_beam.transforms.reward.lite import DEFAULT_MODEL_PATH, features as F  # noqa: E402
from toolrm_beam.transforms.reward.lite.model import LiteRewardModel  # noqa: E402
from toolrm_beam.transforms.reward.lite.train import (HELDOUT_SPECS, TRAIN_SPECS, evaluate_scores, load_examples,  # noqa: E402
                                          make_groups)

DEFAULT_CORPORA = os.environ.get("TOOLRM_CORPORA", os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared", "data", "corpora"))


def pin_to_one_core() -> int | None:
    """Run on a single CPU (the first this process may use). Returns it, or None if not supported."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[0]})
        return cpus[0]
    except (AttributeError, OSError):
        return None


def throughput(model: LiteRewardModel, groups, warmup_groups, repeat: int) -> dict:
    examples = [g.example for g in groups for _ in g.outputs]
    outputs = [o for g in groups for o in g.outputs]
    # warm the interpreter (regexes, memo of word stems) on other prompts, never on the timed ones
    model.score([g.example for g in warmup_groups for _ in g.outputs], [o for g in warmup_groups for o in g.outputs])

    def timed(clear_tools: bool) -> tuple[float, float]:
        best_cpu = best_wall = float("inf")
        for _ in range(repeat):
            model.cache = F.ContextCache()  # unseen prompts: contexts computed afresh
            if clear_tools:
                F._TOOL_CACHE.clear()       # and unseen tool specs too
            wall, cpu = time.perf_counter(), time.process_time()
            model.score(examples, outputs)
            best_wall = min(best_wall, time.perf_counter() - wall)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        return best_cpu, best_wall

    cold_cpu, cold_wall = timed(clear_tools=True)
    model.score(examples, outputs)
    warm_cpu, _ = timed(clear_tools=False)
    x = F.featurize(examples, outputs)
    mlp = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        model.score_features(x)
        mlp = min(mlp, time.process_time() - start)
    n = len(outputs)
    return {
        "candidates": n,
        "prompts": len(groups),
        "candidates_per_prompt": round(n / max(1, len(groups)), 2),
        "candidates_per_second_cpu": round(n / cold_cpu),
        "candidates_per_second_wall": round(n / cold_wall),
        "candidates_per_second_cpu_tools_seen": round(n / warm_cpu),
        "mlp_only_candidates_per_second": round(n / max(mlp, 1e-9)),
        "repeat": repeat,
    }


def prose_pairs(model: LiteRewardModel, examples: list[dict], seed: int) -> dict:
    """Accuracy on pairs that involve a prose answer (see PROSE_ANSWERS in train.py)."""
    groups = make_groups(examples, seeds=(seed,), prose=2)
    call_wins = call_total = prose_wins = prose_total = 0
    for group in groups:
        scores = model.score(group.example, group.outputs)
        for i, origin in enumerate(group.origins):
            if origin != "prose":
                continue
            for j, correct in enumerate(group.correct):
                if group.origins[j] == "prose" or correct == group.correct[i]:
                    continue
                if group.correct[i]:          # prose is right, a call is wrong
                    prose_total += 1
                    prose_wins += int(scores[i] > scores[j])
                else:                         # a call is right, prose is wrong
                    call_total += 1
                    call_wins += int(scores[j] > scores[i])
    return {"call_needed": {"pairs": call_total, "accuracy": call_wins / call_total if call_total else None},
            "no_call_right": {"pairs": prose_total, "accuracy": prose_wins / prose_total if prose_total else None}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=DEFAULT_CORPORA)
    parser.add_argument("--model", default=DEFAULT_MODEL_PATH)
    parser.add_argument("--max-negatives", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0, help="rule-generator seed for the held-out negatives")
    parser.add_argument("--repeat", type=int, default=5, help="timing runs (best is reported)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    cpu = None if args.no_pin else pin_to_one_core()
    model = LiteRewardModel.load(args.model)
    report: dict = {"model": model.name, "pinned_cpu": cpu, "splits": {}}
    all_groups = []
    for name, specs in HELDOUT_SPECS.items():
        examples = load_examples(args.corpora, specs)
        groups = make_groups(examples, seeds=(args.seed,), max_negatives=args.max_negatives)
        scores = [model.score(g.example, g.outputs) for g in groups]
        report["splits"][name] = evaluate_scores(groups, scores)
        report["splits"][name]["prose_pairs"] = prose_pairs(model, examples, args.seed)
        all_groups.extend(groups)
    warmup = make_groups(load_examples(args.corpora, [TRAIN_SPECS[-1]])[:150], seeds=(args.seed,))
    report["throughput"] = throughput(model, all_groups, warmup, args.repeat)

    if args.json:
        print(json.dumps(report, indent=1, sort_keys=True))
        return 0
    print(f"model {report['model']}  (pinned to cpu {cpu})")
    for name, m in report["splits"].items():
        b = m["best_of_n"]
        print(f"\n{name}: pairwise accuracy {m['pairwise_accuracy']:.4f} over {m['pairs']} pairs (ties {m['ties']})")
        for error_type, v in m["per_error_type"].items():
            print(f"    {error_type:38s} {v['accuracy']:.4f}  ({v['pairs']} pairs)")
        print(f"  best-of-N over {b['prompts']} prompts ({b['mean_candidates']:.1f} candidates each): "
              f"top-1 {b['top1_accuracy']:.4f}  random {b['random_accuracy']:.4f}  oracle {b['oracle_accuracy']:.4f}")
        for kind, v in m["prose_pairs"].items():
            if v["pairs"]:
                print(f"  prose pairs, {kind:14s} {v['accuracy']:.4f}  ({v['pairs']} pairs)")
    t = report["throughput"]
    print(f"\nthroughput on one core: {t['candidates_per_second_cpu']} candidates/s (CPU time; "
          f"{t['candidates_per_second_wall']} wall) with every prompt and tool spec unseen; "
          f"{t['candidates_per_second_cpu_tools_seen']}/s once the tool specs have been seen; "
          f"{t['candidates']} candidates, {t['candidates_per_prompt']} per prompt; "
          f"the MLP alone {t['mlp_only_candidates_per_second']}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
