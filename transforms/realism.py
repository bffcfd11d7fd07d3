"""How realistic are the rule-made negatives? Train on them, measure on real errors.

The realism figure of the rule families: the same reward model (the bundled
lite model's features and fit) trained twice on the same prompts with the
same number of negatives per prompt, once with rule-made negatives
(`transforms.rules.generate_rule_candidates`) and once with the negatives
real models produced, then both measured on real errors of prompts neither
saw (the dev part of the generations, `schemas.prompt_split`). The ratio
rules-only / real-only, overall and per error type, says how much of what
real errors teach the rules teach: 1.0 means the synthesized negatives are
as good a teacher as real ones.

Both arms share everything but the negatives: the prompts (the train part of
the generations), the positives (the reference and the real right answers),
the budget (per prompt, as many negatives as the smaller side has), the
features, the fit and its seed. Pure Python and numpy; no Beam.
"""
from __future__ import annotations

import dataclasses
import random
import time
from typing import Any, Mapping, Sequence

import numpy as np

from toolrm_beam.schemas.prompt_split import DEV, TRAIN

# Few epochs, one member, pairs capped: a rough but cheap figure (`toolrm synthesize`);
# the benchmark script takes the bundled model's full fit.
QUICK_FIT = {"epochs": 12, "batch": 512, "lr": 5e-3, "ensemble": 1, "max_pairs_per_group": 24}


@dataclasses.dataclass
class Arms:
    """The two training sets (groups of one prompt each) and what went into them."""
    rules: list
    real: list
    negatives: int                 # per arm
    prompts: int
    rule_types: dict[str, int]
    real_types: dict[str, int]


def build_arms(prompts: Sequence[Any], *, seed: int = 0, mix: Mapping[str, float] | None = None,
               max_negatives: int = 8, generator_seeds: int = 3) -> Arms:
    """Per train prompt: the shared positives, then k rule-made and k real negatives, k the smaller count."""
    from toolrm_beam.transforms.reward.lite.train import Group, generation_groups
    from toolrm_beam.transforms.rules import generate_rule_candidates

    rules_arm, real_arm = [], []
    rule_types: dict[str, int] = {}
    real_types: dict[str, int] = {}
    total = 0
    for group in generation_groups(prompts):
        example = group.example
        positives = [i for i, c in enumerate(group.correct) if c]
        real = [i for i, c in enumerate(group.correct) if not c]
        random.Random(f"realism:{seed}:{example['example_id']}").shuffle(real)
        made, seen = [], set()
        for s in range(generator_seeds):
            for candidate in generate_rule_candidates(example, seed=seed * 1000 + s, mix=mix,
                                                      max_negatives=max_negatives):
                if candidate["candidate_id"] not in seen:
                    seen.add(candidate["candidate_id"])
                    made.append(candidate)
        k = min(len(real), len(made))
        if k == 0:
            continue
        total += k
        keep = [group.outputs[i] for i in positives]
        rules_arm.append(Group(example, keep + [c["output"] for c in made[:k]], [True] * len(keep) + [False] * k,
                               [None] * len(keep) + [c["error_type"] for c in made[:k]],
                               ["positive"] * len(keep) + ["rule"] * k))
        real_arm.append(Group(example, keep + [group.outputs[i] for i in real[:k]], [True] * len(keep) + [False] * k,
                              [None] * len(keep) + [group.error_types[i] for i in real[:k]],
                              ["positive"] * len(keep) + ["model"] * k))
        for c in made[:k]:
            rule_types[c["error_type"]] = rule_types.get(c["error_type"], 0) + 1
        for i in real[:k]:
            key = group.error_types[i] or "unknown"
            real_types[key] = real_types.get(key, 0) + 1
    return Arms(rules_arm, real_arm, total, len(rules_arm), _sorted(rule_types), _sorted(real_types))


def _sorted(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def split_prompts(prompts: Sequence[Any], eval_part: str = DEV) -> tuple[list, list]:
    """(train, evaluate): the train part, and the `eval_part` part (`dev`), or with `eval_part`
    "train-holdout" a fifth of the train part's tools held out of the rest (for changing the rules
    without looking at dev)."""
    train = [p for p in prompts if p.part == TRAIN]
    if eval_part == "train-holdout":
        held = [p for p in train if _tool_fold(p) == 0]
        return [p for p in train if _tool_fold(p) != 0], held
    return train, [p for p in prompts if p.part == eval_part]


def _tool_fold(prompt: Any, folds: int = 5) -> int:
    import hashlib
    reference = prompt.example["reference"]
    key = reference[0]["name"] if reference else prompt.example["upstream_id"]
    return int(hashlib.sha256(f"realism-holdout:{key}".encode()).hexdigest(), 16) % folds


def measure_realism(prompts: Sequence[Any], *, seed: int = 0, mix: Mapping[str, float] | None = None,
                    max_negatives: int = 8, fit: Mapping[str, Any] | None = None,
                    eval_part: str = DEV, log: Any = None) -> dict[str, Any]:
    """Train rules-only and real-only on the train part of `prompts`, measure both on `eval_part`."""
    from toolrm_beam.transforms.reward.lite.train import FitConfig, evaluate_real, featurize_groups, fit_ensemble

    started = time.monotonic()
    log = log or (lambda *_: None)
    train, evaluate_on = split_prompts(prompts, eval_part)
    if not train or not evaluate_on:
        raise ValueError(f"realism needs prompts of both the train part and the {eval_part} part "
                         f"(got {len(train)} and {len(evaluate_on)})")
    arms = build_arms(train, seed=seed, mix=mix, max_negatives=max_negatives)
    if not arms.prompts:
        raise ValueError("realism: no train prompt has both a real and a rule-made negative")
    log(f"realism: {arms.prompts} train prompts, {arms.negatives} negatives per arm "
        f"({time.monotonic() - started:.0f} s)")
    config = FitConfig(seed=seed, **dict(fit or {}))
    results = {}
    for name, groups in (("rules_only", arms.rules), ("real_only", arms.real)):
        x, y, owners = featurize_groups(groups)
        model = fit_ensemble(x, y, owners, config)
        results[name] = evaluate_real(model.score, evaluate_on)
        log(f"realism: {name} pairwise {results[name]['pairwise_accuracy']:.4f} "
            f"({time.monotonic() - started:.0f} s)")
    return {
        "eval_part": eval_part, "train_prompts": arms.prompts, "negatives_per_arm": arms.negatives,
        "rule_negatives_by_type": arms.rule_types, "real_negatives_by_type": arms.real_types,
        "fit": dataclasses.asdict(config), "rules_only": results["rules_only"], "real_only": results["real_only"],
        **ratios(results["rules_only"], results["real_only"]),
        "seconds": round(time.monotonic() - started, 1),
    }


def ratios(rules: dict[str, Any], real: dict[str, Any]) -> dict[str, Any]:
    """rules-only / real-only: overall pairwise, per error type, best-of-N top-1."""
    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 4) if b and b == b and a == a else None

    per_type = {}
    for error_type, numbers in real["per_error_type"].items():
        mine = rules["per_error_type"].get(error_type)
        if mine is not None:
            per_type[error_type] = {"pairs": numbers["pairs"], "rules_only": round(mine["accuracy"], 4),
                                    "real_only": round(numbers["accuracy"], 4),
                                    "ratio": ratio(mine["accuracy"], numbers["accuracy"])}
    return {"ratio": ratio(rules["pairwise_accuracy"], real["pairwise_accuracy"]),
            "ratio_best_of_n": ratio(rules["best_of_n"]["top1_accuracy"], real["best_of_n"]["top1_accuracy"]),
            "ratio_by_error_type": per_type}


def table(result: dict[str, Any]) -> str:
    """The realism table as Markdown."""
    rules, real = result["rules_only"], result["real_only"]
    lines = [f"realism of rule-made negatives: trained on {result['train_prompts']} train prompts, "
             f"{result['negatives_per_arm']} negatives per arm; measured on the {result['eval_part']} part "
             f"({real['pairs']} pairs, {real['best_of_n']['prompts']} Best-of-N prompts)", "",
             "| | pairs | rules-only | real-only | ratio |", "|---|---|---|---|---|",
             f"| pairwise accuracy | {real['pairs']} | {rules['pairwise_accuracy']:.3f} | "
             f"{real['pairwise_accuracy']:.3f} | **{_fmt(result['ratio'])}** |"]
    for error_type, numbers in result["ratio_by_error_type"].items():
        lines.append(f"|   {error_type} | {numbers['pairs']} | {numbers['rules_only']:.3f} | "
                     f"{numbers['real_only']:.3f} | {_fmt(numbers['ratio'])} |")
    lines.append(f"| Best-of-N top-1 | {real['best_of_n']['prompts']} | {rules['best_of_n']['top1_accuracy']:.3f} | "
                 f"{real['best_of_n']['top1_accuracy']:.3f} | {_fmt(result['ratio_best_of_n'])} |")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
