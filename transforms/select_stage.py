"""Beam stages around scoring: join candidates to examples, select pairs, summarize scores."""
from __future__ import annotations

import collections
import hashlib
import itertools
from typing import Any

import apache_beam as beam

from toolrm_beam.schemas.pairs import pair_rows
from toolrm_beam.schemas.records import collapse_candidates
from toolrm_beam.transforms.dead_letter import FailedElements, dead_letter
from toolrm_beam.transforms.packed import pack, unpack
from toolrm_beam.transforms.selection import SelectionPolicy, select_pairs

GROUPS = "groups"
PAIRS = "pairs"
FILTERED = "filtered"
QUARANTINE = "quarantine"
DEAD_LETTER = "dead_letter"
MERGED = "merged"
PAIR_DETAILS = "pair_details"
PAIRED = "paired"


# The tags of the records GroupCandidates joins: `(example_id, (EXAMPLE_TAG, 1, packed example))` and
# `(example_id, (CANDIDATE_TAG, n, packed list of n candidates))` (`key_example`, `key_candidates`).
EXAMPLE_TAG = 0
CANDIDATE_TAG = 1


# Example fields that scoring, selection and the report never read, left out of the join: the
# upstream tool specs (`original_tools`) are a fifth of a packed example.
NOT_JOINED = ("original_tools",)


def key_example(example: dict[str, Any]) -> tuple[str, tuple[int, int, bytes]]:
    return example["example_id"], (EXAMPLE_TAG, 1, pack({k: v for k, v in example.items() if k not in NOT_JOINED}))


def key_candidates(candidates: list[dict[str, Any]]) -> list[tuple[str, tuple[int, int, bytes]]]:
    """Candidates keyed for the join, each run of one example's candidates packed as one.

    An example's candidates arrive side by side (they are made, and written,
    together): packed together they take a third of what they take one by one
    (124 vs 372 bytes a candidate), and a runner that holds the join's whole
    input (the DirectRunner) holds that.
    """
    keyed = []
    for example_id, found in itertools.groupby(candidates, key=lambda c: c["example_id"]):
        run = list(found)
        keyed.append((example_id, (CANDIDATE_TAG, len(run), pack(run))))
    return keyed


def input_counts(keyed) -> dict[str, int]:
    """A keyed record -> `{"examples" | "candidates": how many it holds}` (the stage's input counts)."""
    tag, count, _ = keyed[1]
    return {"examples" if tag == EXAMPLE_TAG else "candidates": count}


class _Group(beam.DoFn):
    def process(self, element):
        example_id, tagged = element
        examples = [packed for tag, _, packed in tagged if tag == EXAMPLE_TAG]
        candidates = [c for tag, _, packed in tagged if tag == CANDIDATE_TAG for c in unpack(packed)]
        if not examples:
            for candidate in candidates:
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(
                    "candidates", 0, "join", "candidate_without_example",
                    f"no example {example_id} among the inputs", candidate))
            return
        if candidates:
            # One order for every runner: the scorer and the selection see the same list.
            # Corpus answers and synthesized candidates can be the same output (a model's
            # answer equal to the rendered reference): one candidate each.
            by_id: dict[str, list[dict]] = {}
            for candidate in candidates:
                by_id.setdefault(candidate["candidate_id"], []).append(candidate)
            if len(by_id) < len(candidates):
                yield beam.pvalue.TaggedOutput(MERGED, len(candidates) - len(by_id))  # counted, so none is lost
            yield unpack(examples[0]), [collapse_candidates(by_id[key]) for key in sorted(by_id)]


class GroupCandidates(beam.PTransform):
    """Keyed, tagged records (`key_example`, `key_candidates`) -> `(example, [candidates])`; orphans
    dead-lettered; `merged` counts the input rows folded into another with the same candidate id
    (one output, two inputs).

    A GroupByKey of records keyed where they are made or read, rather than a
    CoGroupByKey of two PCollections: a local runner materializes the Flatten
    inside CoGroupByKey, one more encode and decode of every example and candidate.
    The records come packed (transforms/packed.py): a local runner holds a
    grouping step's whole input, as Python objects, which packed are bytes.
    """

    def expand(self, keyed):
        joined = keyed | "Join" >> beam.GroupByKey()
        out = joined | "Group" >> beam.ParDo(_Group()).with_outputs(DEAD_LETTER, MERGED, main=GROUPS)
        return {GROUPS: out[GROUPS], DEAD_LETTER: out[DEAD_LETTER], MERGED: out[MERGED]}


def _filtered_row(candidate: dict[str, Any], reason: str) -> dict[str, Any]:
    return {"example_id": candidate["example_id"], "candidate_id": candidate["candidate_id"],
            "origin": candidate["origin"], "correct": candidate.get("correct"),
            "error_type": candidate.get("error_type"), "score": candidate.get("score"), "reason": reason}


class _Select(beam.DoFn):
    def __init__(self, policy: SelectionPolicy, scorer: str):
        self._policy = policy
        self._scorer = scorer

    def process(self, group):
        example, candidates = group
        selection = select_pairs(example, candidates, self._policy)
        if selection.quarantine_reason:
            yield beam.pvalue.TaggedOutput(QUARANTINE, {
                "example_id": example["example_id"], "source": example["source"], "split": example["split"],
                "upstream_id": example["upstream_id"], "reason": selection.quarantine_reason,
                "detail": selection.quarantine_detail, "candidates": len(candidates),
                "reference_score": next((c.get("score") for c in candidates if c["origin"] == "reference"), None)})
            return
        rows = pair_rows(example, selection.pairs, scorer=self._scorer, hard_margin=self._policy.hard_margin)
        # Candidates in at least one pair, counted here: an example's pairs all come from this call, so
        # the per-example counts add up to the run's without a shuffle of every paired id.
        yield beam.pvalue.TaggedOutput(PAIRED, len({c["candidate_id"] for pair in selection.pairs for c in pair}))
        for pair, (_, rejected) in zip(rows, selection.pairs):
            yield pair
            # For the report's hardest pairs: the checker's word on the rejected side, taken here where
            # the candidate is at hand (a join back to the scored groups would materialize them all).
            yield beam.pvalue.TaggedOutput(PAIR_DETAILS, (pair, rejected.get("detail")))
        for candidate, reason in selection.filtered:
            yield beam.pvalue.TaggedOutput(FILTERED, _filtered_row(candidate, reason))


def _group_candidates(group) -> list[tuple[str, int, Any]]:
    """A group the selection failed on, one entry per candidate (accounting is per candidate)."""
    example, candidates = group
    return [("select", 0, {"example_id": example.get("example_id"), "candidate_id": c.get("candidate_id")})
            for c in candidates]


class SelectPairs(beam.PTransform):
    """Scored `(example, candidates)` groups -> pairs, filtered candidates, quarantined examples,
    and a dead letter per candidate of a group the selection failed on; `pair_details` holds each
    pair with its rejected candidate's checker detail (`(pair, detail)`), for the report, and
    `paired` each example's number of candidates in at least one pair."""

    def __init__(self, policy: SelectionPolicy, scorer: str):
        super().__init__()
        self._policy = policy
        self._scorer = scorer

    def expand(self, groups):
        select = beam.ParDo(_Select(self._policy, self._scorer)).with_output_types(
            Any, **{FILTERED: Any, QUARANTINE: Any, PAIR_DETAILS: Any, PAIRED: int})  # declared: Beam knows every tag
        out = groups | "Select" >> select.with_outputs(FILTERED, QUARANTINE, PAIR_DETAILS, PAIRED, main=PAIRS) \
            .with_exception_handling(dead_letter_tag="failed")
        dead = out["failed"] | "FailedGroups" >> FailedElements("select", _group_candidates)
        return {PAIRS: out[PAIRS], FILTERED: out[FILTERED], QUARANTINE: out[QUARANTINE],
                PAIR_DETAILS: out[PAIR_DETAILS], PAIRED: out[PAIRED], DEAD_LETTER: dead}


def _sample_rank(candidate_id: str) -> int:
    return int.from_bytes(hashlib.sha256(candidate_id.encode()).digest()[:8], "big")


class ScoreSample(beam.CombineFn):
    """Scores by label and by error type, for the report's plots.

    Keeps at most `per_key` scores per key, chosen by the smallest hash of the
    candidate id (bottom-k sampling): deterministic and mergeable in any order.
    """

    def __init__(self, per_key: int = 5000):
        self._per_key = per_key

    def create_accumulator(self):
        return collections.defaultdict(list)

    def add_input(self, accumulator, group):
        _, candidates = group
        for candidate in candidates:
            if candidate.get("score") is None:
                continue
            item = (_sample_rank(candidate["candidate_id"]), candidate["score"])
            label = "correct" if candidate["correct"] else "incorrect"
            accumulator[f"label:{label}"].append(item)
            if not candidate["correct"]:
                accumulator[f"error:{candidate.get('error_type')}"].append(item)
        return self._trim(accumulator)

    def _trim(self, accumulator):
        for key, items in accumulator.items():
            if len(items) > 2 * self._per_key:
                accumulator[key] = sorted(items)[:self._per_key]
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = collections.defaultdict(list)
        for accumulator in accumulators:
            for key, items in accumulator.items():
                merged[key].extend(items)
        return self._trim(merged)

    def extract_output(self, accumulator):
        return {key: [score for _, score in sorted(items)[:self._per_key]] for key, items in sorted(accumulator.items())}
