"""Train the bundled reward model on pairs the project synthesizes itself.

`toolrm train-lite --corpora DIR --output models/toolrm-lite [--seed 0]`:

1. read the training corpora through the project's adapters (Seal-Tools
   `dev` and `test_in_domain`, all of ACEBench); BFCL and FC-RewardBench (built
   on BFCL's held-out categories) are refused for training, and no example
   whose content also appears in a held-out split is trained on;
2. add requests offered another example's tools, where no tool fits and no
   call is right (`irrelevance_examples`);
3. make candidates per example: the reference (correct), the rule-based
   negatives of `transforms.rules` (labelled by the checker) drawn with
   several generator seeds, and a few prose answers (right where no call is,
   wrong where one is);
4. compute reference-free features (`features/`) and fit small MLPs with
   a pairwise logistic (RankNet) loss on score(correct) - score(wrong) within
   an example, plus a small pointwise logistic term so scores are comparable
   across examples, and average them into one MLP; numpy only, deterministic
   for a seed;
5. evaluate on splits never trained on (Seal-Tools `test_out_domain`, the BFCL
   live sample): pairwise accuracy overall and per error type, best-of-N;
6. save `config.json` + `model.safetensors` (+ `metrics.json`).
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import math
import os
import random
import sys
import time
from typing import Any, Iterable, Sequence

import numpy as np

from toolrm_beam.transforms.reward.lite import features as F
from toolrm_beam.transforms.reward.lite.model import LiteRewardModel

# (adapter, glob relative to the corpora folder)
TRAIN_SPECS: list[tuple[str, str]] = [
    ("seal_tools", "seal_tools/dev.jsonl"),
    ("seal_tools", "seal_tools/test_in_domain.jsonl"),
    ("acebench", "acebench_en/data_*.json"),
]
HELDOUT_SPECS: dict[str, list[tuple[str, str]]] = {
    "seal_tools_test_out_domain": [("seal_tools", "seal_tools/test_out_domain.jsonl")],
    "bfcl_live_sample": [("bfcl", "bfcl_live_sample/BFCL_v3_live_*.json")],
}
# BFCL's non-live categories are the project's held-out domain: never train on them.
_FORBIDDEN_SOURCES = ("bfcl", "fc_rewardbench")
_FORBIDDEN_TRAIN = ("bfcl", "fc-reward", "fc_reward")
EVAL_SEED = 0
# All real prompts together weigh this many times all rule-made examples (chosen by
# cross-validation over the train part's prompts, grouped by tool).
REAL_WEIGHT = 2.0
# Real prompts trained on: the Python-function categories and irrelevance. Java/JavaScript answers
# are typed source text whose rules (a variable name is right for a parameter of any type) contradict
# what a Python function call needs; training on them lowered the cross-validated accuracy on the
# Python-function prompts from 0.83 to 0.79 (0.80 even at a fifth of the weight).
REAL_CATEGORIES = ("exec_simple", "exec_multiple", "exec_parallel", "exec_parallel_multiple", "irrelevance")
# Per prompt, relative to the other real prompts: real irrelevance prompts (prose right, every call
# wrong) at full weight taught the model to prefer a polite refusal to a fitting call.
REAL_CATEGORY_WEIGHTS = {"irrelevance": 0.25}
# Each source's examples weigh this much in total: ACEBench (JSON Schema tools, enums, defaults,
# irrelevance and clarification cases) is closer to real function-calling traffic than Seal-Tools.
SOURCE_WEIGHTS = {"seal_tools": 1.0, "acebench": 2.0}


@dataclasses.dataclass
class Group:
    """One example and its candidates."""
    example: dict
    outputs: list
    correct: list[bool]
    error_types: list[str | None]
    origins: list[str]


# --------------------------------------------------------------------------- data

def load_examples(corpora: str, specs: Iterable[tuple[str, str]], *, training: bool = False) -> list[dict]:
    """Examples of the files the specs match, through the project's adapters (deduplicated)."""
    from toolrm_beam.transforms.corpus_examples import file_examples

    examples, seen = [], set()
    for source, pattern in specs:
        paths = sorted(glob.glob(os.path.join(corpora, pattern)))
        if not paths:
            raise FileNotFoundError(f"no files match {os.path.join(corpora, pattern)}")
        for path in paths:
            if training and (source in _FORBIDDEN_SOURCES
                             or any(tag in os.path.basename(path).lower() for tag in _FORBIDDEN_TRAIN)):
                raise ValueError(f"{path}: BFCL data (and FC-RewardBench, built on it) is held out "
                                 f"and is never trained on")
            for example in file_examples(source, path):
                if example["content_hash"] in seen:
                    continue
                seen.add(example["content_hash"])
                examples.append(example)
    return examples


def irrelevance_examples(examples: Sequence[dict], *, seed: int = 0, share: float = 0.15,
                         max_similarity: float = 0.08) -> list[dict]:
    """Requests paired with another example's tools, where no tool fits: no call is right.

    The corpora hold few irrelevance cases (ACEBench's 50), and their rule negatives are easy
    (garbage arguments). Offering a request someone else's catalog makes well-formed, grounded
    calls to a tool that does not fit, which BFCL's live_irrelevance is full of. Only pairs whose
    tools share (almost) no words with the request are used. Deterministic for a seed.
    """
    from toolrm_beam.schemas import records

    rng = random.Random(f"irrelevance:{seed}")
    calls = [e for e in examples if e["reference_kind"] == records.REFERENCE_CALL and e["tools"]]
    by_source: dict[str, list[dict]] = {}
    for example in calls:
        by_source.setdefault(example["source"], []).append(example)
    out = []
    for source, pool in sorted(by_source.items()):
        chosen = rng.sample(pool, int(len(pool) * share))
        for example in chosen:
            for _ in range(5):
                donor = rng.choice(pool)
                names = {t["name"] for t in example["tools"]}
                if donor is example or names & {t["name"] for t in donor["tools"]}:
                    continue
                candidate = records.make_example(
                    source=source, split="swapped_tools", upstream_id=f"{example['upstream_id']}~{donor['upstream_id']}",
                    tools=donor["tools"], original_tools=[], messages=example["messages"], reference=[],
                    reference_kind=records.REFERENCE_NO_CALL, license=example.get("license", ""))
                if F.ExampleInfo(candidate).best_sim <= max_similarity:
                    out.append(candidate)
                    break
    return out


# Other ways to answer in prose. Where no call is right, the checker accepts any text, so these
# are correct too; training on several styles keeps the model from learning one template's words
# instead of "prose is right here".
PROSE_ANSWERS = (
    "I'm sorry, but I can't help with that using the functions I have.",
    "Sure! Here is what I can tell you without calling any function.",
    "Could you give me a few more details about what you need?",
    "That request isn't something the available tools support.",
    "Here you go: {request}",
    "I don't have a tool for that, but here's a quick answer to \"{request}\".",
    "Before I do that, can you confirm the details? {request}",
    "OK.",
)


def prose_answers(example: dict, count: int = 2) -> list[str]:
    """`count` prose answers for an example where no call is right (deterministic per example)."""
    user = [m.get("content") or "" for m in example.get("messages") or [] if m.get("role") == "user"]
    request = (user[-1] if user else "")[:120]
    rng = random.Random(f"prose:{example['example_id']}")
    return [text.format(request=request) for text in rng.sample(PROSE_ANSWERS, count)]


def make_groups(examples: Sequence[dict], *, seeds: Sequence[int] = (0,), max_negatives: int = 6,
                mix: Any = None, prose: int = 0) -> list[Group]:
    """The reference plus rule-made negatives per example (several generator seeds, deduplicated);
    with `prose`, that many extra prose answers where no call is right and one where a call is
    (labelled by the checker either way)."""
    from toolrm_beam.schemas import records
    from toolrm_beam.schemas.checker import check
    from toolrm_beam.transforms.rules import generate_rule_candidates, reference_candidate

    groups = []
    for example in examples:
        reference = reference_candidate(example)
        outputs, correct, types, origins = [reference["output"]], [True], [None], ["reference"]
        seen = {reference["candidate_id"]}
        if prose:
            # right where no call is, wrong (the checker's verdict) where a call is needed
            count = prose
            for text in prose_answers(example, count):
                result = check(example["tools"], example["reference"], text, reference_kind=example["reference_kind"])
                if records.candidate_id(example["example_id"], text) not in seen:
                    seen.add(records.candidate_id(example["example_id"], text))
                    outputs.append(text)
                    correct.append(result.correct)
                    types.append(None if result.correct else result.error_type.value)
                    origins.append("prose")
        for seed in seeds:
            for candidate in generate_rule_candidates(example, seed=seed, mix=mix, max_negatives=max_negatives):
                if candidate["candidate_id"] in seen:
                    continue
                seen.add(candidate["candidate_id"])
                outputs.append(candidate["output"])
                correct.append(bool(candidate["correct"]))
                types.append(candidate["error_type"])
                origins.append(candidate["origin"])
        if len(outputs) > 1:
            groups.append(Group(example, outputs, correct, types, origins))
    return groups


def generation_groups(prompts: Sequence[Any], *, with_reference: bool = True, prose: int = 0) -> list[Group]:
    """Real models' answers per prompt (`transforms.real_error_sets.PromptAnswers`) as groups.

    Each prompt's reference (a right answer even where no model found one) and its distinct
    answers whose label is not disputed (the checker and BFCL judged them alike); answers that
    are not a call list (prose, broken markup) stay in: where a call is needed they are real
    negatives, where none is they are right. With `prose`, that many of `prose_answers` too,
    labelled by the checker (real models' prose is mostly refusals; these keep a polite answer
    from outscoring a right call). Prompts without both a right and a wrong answer teach nothing
    pairwise and are left out.
    """
    from toolrm_beam.schemas.checker import check
    from toolrm_beam.schemas import records
    from toolrm_beam.transforms.real_error_sets import disputed
    from toolrm_beam.transforms.rules import reference_candidate

    groups = []
    for prompt in prompts:
        example = prompt.example
        outputs, correct, types, origins, seen = [], [], [], [], set()
        if with_reference:
            reference = reference_candidate(example)
            outputs.append(reference["output"])
            correct.append(True)
            types.append(None)
            origins.append("reference")
            seen.add(reference["candidate_id"])
        for candidate in prompt.candidates:
            if disputed(candidate) or candidate["candidate_id"] in seen:
                continue
            seen.add(candidate["candidate_id"])
            outputs.append(candidate["output"])
            correct.append(bool(candidate["correct"]))
            types.append(candidate["error_type"])
            origins.append("model")
        for text in prose_answers(example, prose) if prose else ():
            candidate_id = records.candidate_id(example["example_id"], text)
            if candidate_id in seen:
                continue
            seen.add(candidate_id)
            result = check(example["tools"], example["reference"], text, reference_kind=example["reference_kind"])
            outputs.append(text)
            correct.append(result.correct)
            types.append(None if result.correct else result.error_type.value)
            origins.append("prose")
        if any(correct) and not all(correct):
            groups.append(Group(example, outputs, correct, types, origins))
    return groups


def featurize_groups(groups: Sequence[Group]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, group index per row)."""
    cache = F.ContextCache()
    blocks, labels, owners = [], [], []
    for index, group in enumerate(groups):
        blocks.append(F.featurize(group.example, group.outputs, cache))
        labels.extend(group.correct)
        owners.extend([index] * len(group.outputs))
    x = np.concatenate(blocks) if blocks else np.zeros((0, F.N_FEATURES), np.float32)
    return x, np.asarray(labels, dtype=bool), np.asarray(owners, dtype=np.int64)


def pair_indices(y: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of every (correct, wrong) pair within a group."""
    pos, neg = [], []
    start = 0
    n = len(owners)
    while start < n:
        end = start
        while end < n and owners[end] == owners[start]:
            end += 1
        rows = np.arange(start, end)
        good, bad = rows[y[start:end]], rows[~y[start:end]]
        for g in good:
            pos.extend([g] * len(bad))
            neg.extend(bad)
        start = end
    return np.asarray(pos, dtype=np.int64), np.asarray(neg, dtype=np.int64)


def cap_pairs(pos: np.ndarray, neg: np.ndarray, owners: np.ndarray, cap: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """At most `cap` pairs per group, drawn without replacement (deterministic for the generator)."""
    groups = owners[pos]
    keep = []
    bounds = np.flatnonzero(np.diff(groups)) + 1
    for rows in np.split(np.arange(len(pos)), bounds):
        keep.append(rows if len(rows) <= cap else np.sort(rng.choice(rows, cap, replace=False)))
    keep = np.concatenate(keep)
    return pos[keep], neg[keep]


# BFCL's non-live AST categories: the held-out domain, never read for training.
HELDOUT_CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple")


def load_generations(root: str, *, categories: Sequence[str] | None = None, log: Any = None) -> list[Any]:
    """Every prompt of a generations dump (`bfcl_results` layout, local or URL) with its distinct answers;
    with `categories` (question categories: exec_simple, irrelevance, ...), only theirs."""
    from toolrm_beam.schemas.adapters.bfcl_results import QUESTION_CATEGORIES, result_category
    from toolrm_beam.transforms import fileio
    from toolrm_beam.transforms.real_error_sets import prompt_answers

    pattern = fileio.join(root, "result", "*", "*_result.json")
    try:
        paths = fileio.match_inputs([pattern])
    except fileio.InputError as error:
        raise FileNotFoundError(f"no generations under {root}: {error}") from None
    if categories is not None:
        unknown = set(categories) - set(QUESTION_CATEGORIES.values())
        if unknown:
            raise ValueError(f"unknown generation categories {sorted(unknown)}; known: "
                             f"{sorted(QUESTION_CATEGORIES.values())}")
        paths = [p for p in paths if QUESTION_CATEGORIES.get(result_category(p) or "") in categories]
    started = time.monotonic()

    def progress(number: int, path: str) -> None:
        if log is not None and (number % 100 == 0 or number == len(paths)):
            log(f"  read {number}/{len(paths)} answer files ({time.monotonic() - started:.0f} s)")

    prompts = prompt_answers("bfcl_results", paths, progress=progress)
    for prompt in prompts:
        if prompt.example["split"] in HELDOUT_CATEGORIES:
            raise ValueError(f"{root}: category {prompt.example['split']!r} is held out and is never trained on")
    return prompts


# --------------------------------------------------------------------------- fitting

@dataclasses.dataclass
class FitConfig:
    # chosen on a development split (Seal-Tools + half of ACEBench -> the other half of ACEBench):
    # a small, strongly regularized MLP generalizes better than a wide one (which overfits the rules)
    hidden: int = 16
    activation: str = "relu"
    epochs: int = 30
    batch: int = 256
    lr: float = 3e-3
    l2: float = 1e-2
    pointwise: float = 0.2
    scale_floor: float = 0.05
    seed: int = 0
    # members averaged into one model (an average of MLPs is one wider MLP: same cost to store and run)
    ensemble: int = 3
    # at most this many (correct, wrong) pairs per example (0: all); a real prompt answered by 70
    # models has hundreds of pairs, which cost time but, each example weighing the same, add little
    max_pairs_per_group: int = 48


def fit(x: np.ndarray, y: np.ndarray, owners: np.ndarray, config: FitConfig = FitConfig(),
        *, group_weights: np.ndarray | None = None, log: Any = None) -> LiteRewardModel:
    """Fit the MLP (RankNet loss on within-example pairs + pointwise logistic), deterministic for a seed."""
    rng = np.random.default_rng(config.seed)
    x = x.astype(np.float64)
    d = x.shape[1]
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + config.scale_floor
    z_all = (x - mean) / scale
    pos, neg = pair_indices(y, owners)
    if len(pos) == 0:
        raise ValueError("no (correct, wrong) pairs to train on")
    if config.max_pairs_per_group:
        pos, neg = cap_pairs(pos, neg, owners, config.max_pairs_per_group, rng)
    # each example weighs the same, however many pairs it has
    pair_group = owners[pos]
    counts = np.bincount(pair_group)
    pair_weight = 1.0 / counts[pair_group]
    if group_weights is not None:
        pair_weight = pair_weight * np.asarray(group_weights, dtype=np.float64)[pair_group]
    pair_weight *= len(pair_weight) / pair_weight.sum()

    h = config.hidden
    params = {
        "w1": rng.normal(0.0, math.sqrt(2.0 / d), size=(d, h)),
        "b1": np.zeros(h),
        "w2": rng.normal(0.0, math.sqrt(1.0 / max(h, 1)), size=h) * 0.1,
        "b2": np.zeros(1),
        "skip": np.zeros(d),
    }
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    step = 0
    relu = config.activation == "relu"

    def forward(z):
        pre = z @ params["w1"] + params["b1"]
        act = np.maximum(pre, 0.0) if relu else np.tanh(pre)
        return act @ params["w2"] + params["b2"][0] + z @ params["skip"], pre, act

    n_pairs = len(pos)
    for epoch in range(config.epochs):
        order = rng.permutation(n_pairs)
        lr = config.lr * (0.5 * (1 + math.cos(math.pi * epoch / config.epochs)))
        total = 0.0
        for start in range(0, n_pairs, config.batch):
            batch = order[start:start + config.batch]
            rows = np.concatenate([pos[batch], neg[batch]])
            z = z_all[rows]
            s, pre, act = forward(z)
            m = len(batch)
            diff = s[:m] - s[m:]
            w = pair_weight[batch]
            # RankNet: softplus(-diff)
            sig = 1.0 / (1.0 + np.exp(np.clip(diff, -50, 50)))  # d/d diff of softplus(-diff) is -sig
            loss = float(np.sum(w * np.logaddexp(0.0, -diff)) / m)
            grad_s = np.zeros(2 * m)
            grad_s[:m] = -w * sig / m
            grad_s[m:] = w * sig / m
            if config.pointwise > 0:
                labels = np.concatenate([np.ones(m), np.zeros(m)])
                p = 1.0 / (1.0 + np.exp(-np.clip(s, -50, 50)))
                loss += config.pointwise * float(np.mean(np.logaddexp(0.0, s) - labels * s))
                grad_s += config.pointwise * (p - labels) / (2 * m)
            total += loss * m
            grads = {
                "w2": act.T @ grad_s,
                "b2": np.array([grad_s.sum()]),
                "skip": z.T @ grad_s,
            }
            grad_act = np.outer(grad_s, params["w2"])
            grad_pre = grad_act * (pre > 0) if relu else grad_act * (1 - act ** 2)
            grads["w1"] = z.T @ grad_pre
            grads["b1"] = grad_pre.sum(axis=0)
            step += 1
            for key, value in params.items():
                g = grads[key]
                if key in ("w1", "skip", "w2"):
                    g = g + config.l2 * value
                m1, m2 = moments[key]
                m1 *= beta1
                m1 += (1 - beta1) * g
                m2 *= beta2
                m2 += (1 - beta2) * g * g
                m_hat = m1 / (1 - beta1 ** step)
                v_hat = m2 / (1 - beta2 ** step)
                value -= lr * m_hat / (np.sqrt(v_hat) + eps)
        if log is not None and (epoch % 10 == 0 or epoch == config.epochs - 1):
            log(f"  epoch {epoch:3d} loss {total / n_pairs:.4f}")
    weights = {"mean": mean, "scale": scale, **params}
    weights = {k: np.asarray(v, dtype=np.float32).reshape(-1) if k in ("b2",) else np.asarray(v, dtype=np.float32)
               for k, v in weights.items()}
    return LiteRewardModel(weights, activation=config.activation,
                           config={"fit": dataclasses.asdict(config)})


def fit_ensemble(x: np.ndarray, y: np.ndarray, owners: np.ndarray, config: FitConfig = FitConfig(),
                 *, group_weights: np.ndarray | None = None, log: Any = None) -> LiteRewardModel:
    """`config.ensemble` members (seeds derived from config.seed), averaged into one MLP.

    The members share the input standardization, so the mean of their scores is an MLP whose
    hidden layer is all members' units side by side and whose output weights are divided by k.
    """
    k = max(1, config.ensemble)
    members = [fit(x, y, owners, dataclasses.replace(config, seed=config.seed * 100 + i),
                   group_weights=group_weights, log=log if i == 0 else None) for i in range(k)]
    if k == 1:
        model = members[0]
    else:
        w = [m.weights for m in members]
        merged = {
            "mean": w[0]["mean"], "scale": w[0]["scale"],
            "w1": np.concatenate([m["w1"] for m in w], axis=1),
            "b1": np.concatenate([m["b1"] for m in w]),
            "w2": np.concatenate([m["w2"] for m in w]) / k,
            "b2": np.mean([m["b2"] for m in w], axis=0),
            "skip": np.mean([m["skip"] for m in w], axis=0),
        }
        model = LiteRewardModel({n: np.asarray(a, dtype=np.float32) for n, a in merged.items()},
                                activation=config.activation)
    model.config = {"fit": dataclasses.asdict(config)}
    return model


# --------------------------------------------------------------------------- evaluation

def evaluate_scores(groups: Sequence[Group], scores: Sequence[np.ndarray], *, seed: int = 0) -> dict[str, Any]:
    """Pairwise accuracy (strict: ties count as wrong) overall and per error type; best-of-N."""
    per_type: dict[str, list[int]] = {}
    wins = total = ties = 0
    top1 = random_pick = oracle = 0.0
    n_groups = 0
    for group, s in zip(groups, scores):
        good = [i for i, c in enumerate(group.correct) if c]
        bad = [i for i, c in enumerate(group.correct) if not c]
        for g in good:
            for b in bad:
                won = int(s[g] > s[b])
                ties += int(s[g] == s[b])
                wins += won
                total += 1
                slot = per_type.setdefault(group.error_types[b] or "unknown", [0, 0])
                slot[0] += won
                slot[1] += 1
        if good and bad:
            n_groups += 1
            best = float(np.max(s))
            top = [i for i in range(len(s)) if s[i] == best]
            top1 += sum(group.correct[i] for i in top) / len(top)  # ties broken at random, in expectation
            random_pick += len(good) / len(s)
            oracle += 1.0
    return {
        "pairs": total,
        "pairwise_accuracy": wins / total if total else float("nan"),
        "ties": ties,
        "per_error_type": {k: {"pairs": v[1], "accuracy": v[0] / v[1]}
                           for k, v in sorted(per_type.items(), key=lambda kv: -kv[1][1])},
        "best_of_n": {
            "prompts": n_groups,
            "mean_candidates": (sum(len(g.outputs) for g in groups) / len(groups)) if groups else 0,
            "top1_accuracy": top1 / n_groups if n_groups else float("nan"),
            "random_accuracy": random_pick / n_groups if n_groups else float("nan"),
            "oracle_accuracy": oracle / n_groups if n_groups else float("nan"),
        },
    }


def evaluate_real(score: Any, prompts: Sequence[Any], *, seed: int = 1) -> dict[str, Any]:
    """The real-error benchmark of `benchmarks/make_eval_files.py` on `prompts`, in memory.

    FC-RewardBench pairs (each distinct wrong call list against the prompt's most common right
    one, `real_error_sets.rewardbench_rows`) and Best-of-N sets (`bestofn_row`), scored by
    `score(example, outputs)` with `toolrm bench`'s rules: a pair is won only by a strictly
    higher score; the top pick of a set is its first best-scored candidate.
    """
    from toolrm_beam.transforms.real_error_sets import bestofn_row, rewardbench_rows

    wins: dict[str, list[int]] = {}
    top1 = random_pick = oracle = 0.0
    sets = candidates = 0
    for prompt in prompts:
        rows = rewardbench_rows(prompt)
        if rows:
            outputs = [json.loads(rows[0]["chosen_output"])] + [json.loads(r["rejected_output"]) for r in rows]
            s = score(prompt.example, outputs)
            for row, rejected in zip(rows, s[1:]):
                won = int(s[0] > rejected)
                for key in (row["error_type"], "__all__"):
                    wins.setdefault(key, []).append(won)
        row = bestofn_row(prompt, seed)
        if row is not None:
            labels = [c["correct"] for c in row["candidates"]]
            s = score(prompt.example, [c["output"] for c in row["candidates"]])
            best = max(range(len(s)), key=lambda i: (s[i], -i))
            top1 += labels[best]
            random_pick += sum(labels) / len(labels)
            oracle += any(labels)
            sets += 1
            candidates += len(labels)
    overall = wins.pop("__all__", [])
    return {
        "pairs": len(overall),
        "pairwise_accuracy": sum(overall) / len(overall) if overall else float("nan"),
        "per_error_type": {k: {"pairs": len(v), "accuracy": sum(v) / len(v)}
                           for k, v in sorted(wins.items(), key=lambda kv: -len(kv[1]))},
        "best_of_n": {"prompts": sets, "mean_candidates": candidates / sets if sets else 0,
                      "top1_accuracy": top1 / sets if sets else float("nan"),
                      "random_accuracy": random_pick / sets if sets else float("nan"),
                      "oracle_accuracy": oracle / sets if sets else float("nan")},
    }


def evaluate(model: LiteRewardModel, groups: Sequence[Group]) -> dict[str, Any]:
    scores = [model.score(group.example, group.outputs) for group in groups]
    return evaluate_scores(groups, scores)


# --------------------------------------------------------------------------- entry points

def train_lite(corpora: str, output: str | None = None, *, seed: int = 0, gen_seeds: Sequence[int] = (0, 1, 2),
               max_negatives: int = 8, fit_config: FitConfig | None = None, evaluate_heldout: bool = True,
               train_specs: Sequence[tuple[str, str]] = TRAIN_SPECS, source_weights: dict | None = None,
               heldout_specs: dict[str, list[tuple[str, str]]] | None = None, irrelevance_share: float = 0.15,
               prose: int = 2, generations: str | None = None, real_weight: float = REAL_WEIGHT,
               real_categories: Sequence[str] = REAL_CATEGORIES, category_weights: dict[str, float] | None = None,
               log: Any = print) -> tuple[LiteRewardModel, dict]:
    """Build training pairs from the corpora (and real generations' train part), fit, evaluate on
    held-out splits (and the generations' dev part), save to `output`."""
    started = time.monotonic()
    category_weights = dict(REAL_CATEGORY_WEIGHTS if category_weights is None else category_weights)
    log = log or (lambda *_: None)
    # Held-out content is never trained on, whether or not it is evaluated here.
    heldout_examples = {}
    for name, specs in (heldout_specs if heldout_specs is not None else HELDOUT_SPECS).items():
        try:
            heldout_examples[name] = load_examples(corpora, specs)
        except FileNotFoundError as error:
            log(f"train-lite: held-out split {name} not found ({error}); not evaluated")
    heldout_hashes = {e["content_hash"] for examples in heldout_examples.values() for e in examples}
    heldout = ({name: make_groups(examples, seeds=(EVAL_SEED,)) for name, examples in heldout_examples.items()}
               if evaluate_heldout else {})
    examples = [e for e in load_examples(corpora, train_specs, training=True)
                if e["content_hash"] not in heldout_hashes]
    if irrelevance_share > 0:
        examples += irrelevance_examples(examples, seed=seed, share=irrelevance_share)
    groups = make_groups(examples, seeds=[seed * 1000 + s for s in gen_seeds], max_negatives=max_negatives,
                         prose=prose)
    weights = source_group_weights(groups, source_weights)
    real_train, real_dev = [], []
    if generations:
        from toolrm_beam.schemas.prompt_split import DEV, TRAIN
        log(f"train-lite: reading generations from {generations}")
        prompts = load_generations(generations, log=log)
        real_train = [p for p in prompts if p.part == TRAIN and p.example["split"] in real_categories]
        real_dev = [p for p in prompts if p.part == DEV]
        real_groups = generation_groups(real_train, prose=prose)
        if real_groups and real_weight > 0:
            # all real prompts together weigh `real_weight` times all rule-made examples; within them a
            # category weighs `category_weights` (default 1) per prompt
            share = np.array([category_weights.get(g.example["split"], 1.0) for g in real_groups])
            weights = np.concatenate([weights, real_weight * len(groups) * share / share.sum()])
            groups = groups + real_groups
        log(f"train-lite: {len(real_groups)} real prompts of {len(real_train)} in the train part of "
            f"{', '.join(real_categories)} "
            f"({sum(len(g.outputs) for g in real_groups)} answers); {len(real_dev)} dev prompts kept for measuring")
    x, y, owners = featurize_groups(groups)
    pos, _ = pair_indices(y, owners)
    log(f"train-lite: {len(examples)} training examples -> {len(groups)} groups, {len(y)} candidates, "
        f"{len(pos)} pairs ({time.monotonic() - started:.1f} s)")
    config = fit_config or FitConfig(seed=seed)
    model = fit_ensemble(x, y, owners, config, group_weights=weights, log=log)
    train_metrics = evaluate_scores(groups, _split_scores(model.score_features(x), owners, len(groups)))
    metrics: dict[str, Any] = {
        "train": {"examples": len(examples), "groups": len(groups), "candidates": int(len(y)),
                  "pairs": int(len(pos)), "pairwise_accuracy": train_metrics["pairwise_accuracy"],
                  "sources": _count([e["source"] + ":" + e["split"] for e in examples]
                                    + [f"bfcl_results:{p.example['split']}" for p in real_train]),
                  "negatives_by_error_type": _count(t for g in groups for t in g.error_types if t)},
        "heldout": {},
    }
    for name, hgroups in heldout.items():
        metrics["heldout"][name] = evaluate(model, hgroups)
        m = metrics["heldout"][name]
        log(f"  {name}: pairwise {m['pairwise_accuracy']:.4f} over {m['pairs']} pairs; "
            f"best-of-N top1 {m['best_of_n']['top1_accuracy']:.4f} (random {m['best_of_n']['random_accuracy']:.4f})")
    if real_dev:
        metrics["real_dev"] = evaluate_real(model.score, real_dev)
        m = metrics["real_dev"]
        log(f"  real errors, dev part: pairwise {m['pairwise_accuracy']:.4f} over {m['pairs']} pairs; best-of-N "
            f"top1 {m['best_of_n']['top1_accuracy']:.4f} (random {m['best_of_n']['random_accuracy']:.4f})")
    model.config.update({
        "trained_on": [f"{source}:{pattern}" for source, pattern in train_specs]
        + ([f"bfcl_results:{os.path.basename(os.path.normpath(generations))} (train part)"] if real_train else []),
        "real_weight": real_weight if real_train else 0.0,
        "real_categories": list(real_categories) if real_train else [],
        "real_category_weights": category_weights if real_train else {},
        "generator_seeds": [seed * 1000 + s for s in gen_seeds], "max_negatives": max_negatives,
        "seed": seed, "source_weights": dict(SOURCE_WEIGHTS if source_weights is None else source_weights),
        "metrics": metrics,
    })
    if output:
        model.save(output)
        with open(os.path.join(output, "metrics.json"), "w", encoding="utf-8") as handle:
            json.dump(metrics, handle, indent=1, sort_keys=True)
            handle.write("\n")
        log(f"train-lite: saved to {output} ({time.monotonic() - started:.1f} s)")
    return model, metrics


def source_group_weights(groups: Sequence[Group], source_weights: dict | None = None) -> np.ndarray:
    """Per-group weights so that each source weighs `source_weights[source]` in total (default 1)."""
    weights = SOURCE_WEIGHTS if source_weights is None else source_weights
    counts: dict[str, int] = {}
    for group in groups:
        counts[group.example["source"]] = counts.get(group.example["source"], 0) + 1
    out = np.array([weights.get(g.example["source"], 1.0) / counts[g.example["source"]] for g in groups])
    return out * (len(out) / out.sum()) if out.sum() > 0 else np.ones(len(groups))


def _split_scores(scores: np.ndarray, owners: np.ndarray, n_groups: int) -> list[np.ndarray]:
    bounds = np.searchsorted(owners, np.arange(n_groups + 1))
    return [scores[bounds[i]:bounds[i + 1]] for i in range(n_groups)]


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    from toolrm_beam.runners.presets import positive_int

    parser = argparse.ArgumentParser(prog="toolrm train-lite",
                                     description="Train the bundled CPU reward model on synthesized pairs.")
    parser.add_argument("--corpora", required=True, help="folder holding seal_tools/, acebench_en/, bfcl_live_sample/")
    parser.add_argument("--output", required=True, help="model directory to write (e.g. models/toolrm-lite)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=positive_int, default=FitConfig.hidden)
    parser.add_argument("--epochs", type=positive_int, default=FitConfig.epochs)
    parser.add_argument("--max-negatives", type=positive_int, default=8)
    parser.add_argument("--generator-seeds", type=positive_int, default=3, help="rule-generator seeds per example")
    parser.add_argument("--generations", help="a dump of real model answers (bfcl_results layout): its train "
                        "part is trained on, its dev part measured")
    parser.add_argument("--real-weight", type=float, default=REAL_WEIGHT,
                        help="weight of all real prompts relative to all rule-made examples")
    parser.add_argument("--real-categories", default=",".join(REAL_CATEGORIES),
                        help="question categories of --generations to train on (the dev part of all is measured)")
    parser.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    from toolrm_beam.runners.cli import guarded

    return guarded("train-lite", _main, list(sys.argv[1:] if argv is None else argv))


def _main(argv: Sequence[str]) -> int:
    from toolrm_beam.transforms.fileio import InputError

    args = parse_args(argv)
    if not os.path.isdir(args.corpora):
        raise InputError(f"--corpora {args.corpora!r} is not a directory (it holds seal_tools/, acebench_en/, ...)")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise InputError(f"--output {args.output!r} is a file; give a model directory")
    config = FitConfig(hidden=args.hidden, epochs=args.epochs, seed=args.seed)
    try:
        _, metrics = train_lite(args.corpora, args.output, seed=args.seed,
                                gen_seeds=tuple(range(args.generator_seeds)), max_negatives=args.max_negatives,
                                fit_config=config, evaluate_heldout=not args.no_eval,
                                generations=args.generations, real_weight=args.real_weight,
                                real_categories=[c.strip() for c in args.real_categories.split(",") if c.strip()],
                                log=(lambda *a: print(*a, file=sys.stderr)) if args.json else print)
    except (FileNotFoundError, ValueError) as error:
        print(f"toolrm train-lite: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(metrics, indent=1, sort_keys=True))
    else:
        for name, m in list(metrics["heldout"].items()) + ([("real errors, dev part", metrics["real_dev"])]
                                                           if "real_dev" in metrics else []):
            print(f"{name}:")
            for error_type, v in m["per_error_type"].items():
                print(f"    {error_type:38s} {v['accuracy']:.4f}  ({v['pairs']} pairs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
