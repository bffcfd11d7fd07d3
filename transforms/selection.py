"""Choose preference pairs from one example's scored candidates (pure Python).

Every candidate of an example ends in exactly one place: in at least one
selected pair, in `filtered` with the reason it was left out, or, with the
whole example, in quarantine when the label itself looks wrong.
"""
from __future__ import annotations

import dataclasses
import statistics
from typing import Any

# Filter reasons (stable codes, counted in the manifest).
POSITIVE_BELOW_FLOOR = "positive_below_floor"
NO_POSITIVE = "no_positive"
NO_NEGATIVE = "no_negative"
OVER_CAP = "over_pair_cap"
UNSCORED = "unscored"
# Quarantine reasons.
REFERENCE_FAILS_SCHEMA = "reference_fails_schema"
REFERENCE_SCORES_FAR_BELOW = "reference_scores_far_below_negatives"


@dataclasses.dataclass(frozen=True)
class SelectionPolicy:
    """How pairs are chosen; validated on construction."""
    min_positive_score: float | None = None  # floor on the chosen side's score
    max_pairs_per_example: int = 8
    balance_error_types: bool = True          # round-robin across error types, hardest first
    hard_margin: float = 0.5                  # a pair with chosen - rejected <= this is "hard"
    quarantine_margin: float = 3.0            # reference this far below the negatives' mean (and below all)

    def __post_init__(self):
        if self.max_pairs_per_example < 1:
            raise ValueError("max_pairs_per_example must be at least 1")
        if self.quarantine_margin < 0:
            raise ValueError("quarantine_margin must be non-negative")


@dataclasses.dataclass
class Selection:
    pairs: list[tuple[dict, dict]]                 # (chosen, rejected) candidates, hardest first
    filtered: list[tuple[dict, str]]               # (candidate, reason)
    quarantine_reason: str | None = None
    quarantine_detail: str = ""


def quarantine_check(example: dict[str, Any], candidates: list[dict[str, Any]], policy: SelectionPolicy
                     ) -> tuple[str | None, str]:
    """Does the example's own label look wrong? (reason, detail) or (None, "")."""
    reference = next((c for c in candidates if c["origin"] == "reference"), None)
    if reference is None:
        return None, ""
    if example["reference_kind"] == "call" and reference.get("schema_valid") is False:
        return REFERENCE_FAILS_SCHEMA, "the reference call does not validate against its own tool schema"
    negative_scores = [c["score"] for c in candidates if c["correct"] is False and c.get("score") is not None]
    if reference.get("score") is None or len(negative_scores) < 2:
        return None, ""
    mean_negative = statistics.fmean(negative_scores)
    if reference["score"] < min(negative_scores) and reference["score"] + policy.quarantine_margin < mean_negative:
        return REFERENCE_SCORES_FAR_BELOW, (
            f"reference scores {reference['score']:.3f}, below every negative (mean {mean_negative:.3f}, "
            f"min {min(negative_scores):.3f})")
    return None, ""


def _interleave_by_error_type(pairs: list[tuple[dict, dict]]) -> list[tuple[dict, dict]]:
    """Round-robin across error types; within a type, the hardest pair first."""
    groups: dict[str, list[tuple[dict, dict]]] = {}
    for pair in pairs:
        groups.setdefault(pair[1].get("error_type") or "", []).append(pair)
    queues = sorted(groups.values(), key=lambda g: _pair_order(g[0]))
    out = []
    while queues:
        for queue in list(queues):
            out.append(queue.pop(0))
            if not queue:
                queues.remove(queue)
    return out


def _pair_order(pair: tuple[dict, dict]):
    chosen, rejected = pair
    # Hardest first: smallest score margin; ties broken by ids for a stable order.
    return (chosen["score"] - rejected["score"], chosen["candidate_id"], rejected["candidate_id"])


def select_pairs(example: dict[str, Any], candidates: list[dict[str, Any]], policy: SelectionPolicy) -> Selection:
    reason, detail = quarantine_check(example, candidates, policy)
    if reason is not None:
        return Selection(pairs=[], filtered=[], quarantine_reason=reason, quarantine_detail=detail)
    filtered: list[tuple[dict, str]] = []
    scored = []
    for candidate in candidates:
        if candidate.get("score") is None or candidate.get("correct") is None:
            filtered.append((candidate, UNSCORED))
        else:
            scored.append(candidate)
    positives = [c for c in scored if c["correct"]]
    negatives = [c for c in scored if not c["correct"]]
    if policy.min_positive_score is not None:
        kept = [c for c in positives if c["score"] >= policy.min_positive_score]
        filtered.extend((c, POSITIVE_BELOW_FLOOR) for c in positives if c not in kept)
        positives = kept
    if not positives or not negatives:
        filtered.extend((c, NO_POSITIVE if not positives else NO_NEGATIVE) for c in (negatives or positives))
        return Selection(pairs=[], filtered=filtered)
    pairs = sorted(((p, n) for p in positives for n in negatives), key=_pair_order)
    if policy.balance_error_types:
        pairs = _interleave_by_error_type(pairs)
    selected = pairs[:policy.max_pairs_per_example]
    used = {c["candidate_id"] for pair in selected for c in pair}
    filtered.extend((c, OVER_CAP) for c in positives + negatives if c["candidate_id"] not in used)
    return Selection(pairs=selected, filtered=filtered)
