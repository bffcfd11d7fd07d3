"""Does the reward model agree with the checker on this data? (pure Python, mergeable partial sums)

Every scored example contributes, before any selection, to slices `all`,
`error_type:<type>` and `source:<source>`:

- pairwise accuracy: over every (correct, incorrect) candidate pair of one
  example, the share where the correct candidate scores strictly higher
  (FC-RewardBench's rule, as `toolrm bench rewardbench`); ties are counted
  apart. An error-type slice pairs the example's correct candidates with its
  negatives of that type.
- ROC AUC: how well the score separates correct from incorrect candidates
  pooled across examples (Mann-Whitney, ties count half). Scores are kept as
  histograms of `SCORE_BIN`-wide bins so the partial sums stay small and merge
  in any order; two scores in one bin count as a tie. An error-type slice
  pools the correct candidates of the examples that have a negative of that
  type against those negatives.

A slice with at least `MIN_PAIRS_TO_JUDGE` pairs and either number below
`LOW_AGREEMENT` is flagged: the scores are a weak signal there.
"""
from __future__ import annotations

import collections
from typing import Any, Iterable

SCORE_BIN = 0.01
LOW_AGREEMENT = 0.8
MIN_PAIRS_TO_JUDGE = 30
ALL = "all"


def _empty() -> dict[str, Any]:
    return {"pairs": 0, "wins": 0, "ties": 0, "positives": collections.Counter(), "negatives": collections.Counter()}


def _bin(score: float) -> int:
    return round(score / SCORE_BIN)


def group_agreement(example: dict[str, Any], candidates: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Partial sums of one example's scored candidates, by slice."""
    scored = [c for c in candidates if c.get("score") is not None and c.get("correct") is not None]
    correct = [c["score"] for c in scored if c["correct"]]
    wrong = collections.defaultdict(list)
    for candidate in scored:
        if not candidate["correct"]:
            wrong[candidate.get("error_type") or "unknown"].append(candidate["score"])
    slices: dict[str, dict[str, Any]] = collections.defaultdict(_empty)
    everything = [s for scores in wrong.values() for s in scores]
    for name, negatives in ([(ALL, everything), (f"source:{example.get('source') or 'unknown'}", everything)]
                            + [(f"error_type:{t}", s) for t, s in wrong.items()]):
        stats = slices[name]
        for positive in correct:
            for negative in negatives:
                stats["pairs"] += 1
                stats["wins"] += positive > negative
                stats["ties"] += positive == negative
        stats["negatives"].update(_bin(s) for s in negatives)
        stats["positives"].update(_bin(s) for s in correct)
    return dict(slices)


def merge_into(merged: dict[str, dict[str, Any]], part: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Add `part`'s sums into `merged` in place, and return it: per example, so the running sums are
    not copied for each one."""
    for name, stats in part.items():
        into = merged.get(name)
        if into is None:
            into = merged[name] = _empty()
        for key in ("pairs", "wins", "ties"):
            into[key] += stats[key]
        into["positives"].update(stats["positives"])
        into["negatives"].update(stats["negatives"])
    return merged


def merge(parts: Iterable[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for part in parts:
        merge_into(merged, part)
    return dict(merged)


def roc_auc(positives: dict[int, int], negatives: dict[int, int]) -> float | None:
    """Probability that a random positive outscores a random negative (ties half), from binned scores."""
    n_positive, n_negative = sum(positives.values()), sum(negatives.values())
    if not n_positive or not n_negative:
        return None
    below = 0  # negatives in lower bins than the current one
    total = 0.0
    for bin_ in sorted(set(positives) | set(negatives)):
        here = negatives.get(bin_, 0)
        total += positives.get(bin_, 0) * (below + 0.5 * here)
        below += here
    return total / (n_positive * n_negative)


def summarize(stats: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Slice -> counts, `pairwise_accuracy`, `roc_auc` and `low` (a weak signal), JSON-ready, sorted."""
    out = {}
    for name in sorted(stats, key=lambda n: (n != ALL, n)):
        s = stats[name]
        accuracy = s["wins"] / s["pairs"] if s["pairs"] else None
        auc = roc_auc(s["positives"], s["negatives"])
        judged = s["pairs"] >= MIN_PAIRS_TO_JUDGE
        low = judged and any(v is not None and v < LOW_AGREEMENT for v in (accuracy, auc))
        out[name] = {"pairs": s["pairs"], "wins": s["wins"], "ties": s["ties"],
                     "positives": sum(s["positives"].values()), "negatives": sum(s["negatives"].values()),
                     "pairwise_accuracy": accuracy, "roc_auc": auc, "judged": judged, "low": low}
    return out
