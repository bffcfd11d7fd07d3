"""Candidate stages: the reference, rule-based negatives, obfuscation, de-duplication.

Rule generation is a pure function per example (`transforms.rules`); these
transforms batch examples so Beam's per-element cost is paid per batch, not
per example, and put everything in the Candidate record form.
"""
from __future__ import annotations

import collections
from typing import Any

import apache_beam as beam

from toolrm_beam.schemas import records
from toolrm_beam.transforms import rules
from toolrm_beam.transforms.accounting import SumCounts
from toolrm_beam.transforms.dead_letter import dead_letter, unwritable

EXAMPLES = "examples"
CANDIDATES = "candidates"
DEAD_LETTER = "dead_letter"

# Rule generation costs about a millisecond per example: batches of this size
# make Beam's per-bundle overhead negligible without holding much in memory.
_MIN_BATCH, _MAX_BATCH = 32, 256


def example_locator(example: Any) -> dict[str, Any]:
    """What names an example in a dead letter: its id and where it came from."""
    if not isinstance(example, dict):
        return {"example": repr(example)[:200]}
    return {key: example.get(key) for key in ("example_id", "source", "split", "upstream_id")}


class _RuleCandidatesForBatch(beam.DoFn):
    """One batch of examples -> one list of their candidates; an example that fails is its dead letter."""

    def __init__(self, seed: int, mix: dict[str, float] | None, max_negatives: int, include_reference: bool):
        self._seed = seed
        self._mix = mix
        self._max_negatives = max_negatives
        self._include_reference = include_reference

    def _candidates(self, example: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        if self._include_reference:
            out.append(_with_schema_validity(example, rules.reference_candidate(example)))
        if self._max_negatives:
            out.extend(_with_schema_validity(example, c) for c in rules.generate_rule_candidates(
                example, seed=self._seed, mix=self._mix, max_negatives=self._max_negatives))
        return out

    def process(self, batch: list[dict[str, Any]]):
        out = []
        for example in batch:
            # Isolation per example, not per batch (where with_exception_handling would act):
            # one example whose schema breaks a rule must not take 255 others with it.
            try:
                made = self._candidates(example)
            except Exception as error:  # noqa: BLE001 - any failure of one example is that example's dead letter
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(
                    "synthesize", 0, "synthesize", "synthesize_failed", f"{type(error).__name__}: {error}",
                    example_locator(example)))
                continue
            for candidate in made:
                problem = unwritable(candidate)
                if problem is None:
                    out.append(candidate)
                else:  # written, it would fail its whole shard: this candidate alone is dead-lettered
                    yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(
                        "synthesize", 0, "write", "unpaired_surrogate", f"{candidate['origin']}: {problem}",
                        {**example_locator(example), "candidate_id": candidate.get("candidate_id")}))
        if out:
            yield out


def _with_schema_validity(example: dict[str, Any], candidate: dict[str, Any]) -> dict[str, Any]:
    candidate["schema_valid"] = rules.is_schema_valid(example["tools"], candidate["output"])
    return candidate


class RuleCandidates(beam.PTransform):
    """Examples -> {"candidates": batches (lists) of candidates, "dead_letter": examples that failed}.

    Candidates are the reference and rule-based negatives of each example.
    Output elements are lists so that downstream stages (writing, counting)
    pay Beam's per-element cost once per batch.
    """

    def __init__(self, *, seed: int, mix: dict[str, float] | None = None, max_negatives: int = 6,
                 include_reference: bool = True):
        super().__init__()
        self._args = (seed, mix, max_negatives, include_reference)

    def expand(self, examples):
        out = (
            examples
            | "Batch" >> beam.BatchElements(min_batch_size=_MIN_BATCH, max_batch_size=_MAX_BATCH)
            | "Generate" >> beam.ParDo(_RuleCandidatesForBatch(*self._args)).with_outputs(DEAD_LETTER, main=CANDIDATES)
        )
        return {CANDIDATES: out[CANDIDATES], DEAD_LETTER: out[DEAD_LETTER]}


def obfuscated_copy_id(example: dict[str, Any], seed: int) -> str:
    """The id of an example's obfuscated copy: stable, and distinct from the original's."""
    return records.make_example_id(example["source"], example["split"],
                                   f"{example['upstream_id']}#obfuscated:{seed}")


class _Obfuscate(beam.DoFn):
    def __init__(self, seed: int):
        self._seed = seed

    def process(self, element):
        _, grouped = element
        examples, candidates = list(grouped[EXAMPLES]), list(grouped[CANDIDATES])
        if not examples:
            return
        example, renamed = rules.obfuscate(examples[0], candidates, seed=self._seed)
        copy_id = obfuscated_copy_id(examples[0], self._seed)
        example = {**example, "example_id": copy_id}
        example["content_hash"] = records.example_content_hash(example)
        yield beam.pvalue.TaggedOutput(EXAMPLES, example)
        for candidate in renamed:
            yield {**candidate, "example_id": copy_id,
                   "candidate_id": records.candidate_id(copy_id, candidate["output"])}


class ObfuscatedCopies(beam.PTransform):
    """The ToolRM paper's augmentation: a renamed copy of each example and its candidates."""

    def __init__(self, candidates, seed: int):
        super().__init__()
        self._candidates = candidates
        self._seed = seed

    def expand(self, examples):
        joined = {
            EXAMPLES: examples | "KeyExamples" >> beam.Map(lambda e: (e["example_id"], e)),
            CANDIDATES: self._candidates | "KeyCandidates" >> beam.Map(lambda c: (c["example_id"], c)),
        } | "Join" >> beam.CoGroupByKey()
        out = joined | "Rename" >> beam.ParDo(_Obfuscate(self._seed)).with_outputs(EXAMPLES, main=CANDIDATES)
        return {EXAMPLES: out[EXAMPLES], CANDIDATES: out[CANDIDATES]}


class CandidateSummary(SumCounts):
    """Counts over batches of candidates, in one pass: origins, labels, error types, schema validity."""

    def counts(self, batch):
        counter = collections.Counter()
        for candidate in batch:
            counter[("origin", candidate["origin"])] += 1
            counter[("label", str(candidate["correct"]))] += 1
            if candidate["correct"] is False:
                counter[("negative_type", str(candidate["error_type"]))] += 1
                counter[("negative_schema_valid", str(candidate.get("schema_valid")))] += 1
        return counter

    def extract_output(self, counter):
        summary: dict[str, dict[str, int]] = collections.defaultdict(dict)
        for (kind, value), count in sorted(counter.items()):
            summary[kind][value] = count
        return dict(summary)


def _first_by_origin(item):
    _, candidates = item
    # The same output from several generators is one candidate: the reference,
    # then the smallest origin (a stable choice on any runner).
    return [records.collapse_candidates(list(candidates))]


class DedupCandidates(beam.PTransform):
    """Batches of candidates -> one candidate per content hash (as one-element batches).

    Needed only when generators can repeat each other (an LLM sample equal to
    the reference); rule candidates are already unique per example.
    """

    def expand(self, batches):
        return (
            batches
            | "Records" >> beam.FlatMap(lambda batch: batch)
            | "KeyById" >> beam.Map(lambda c: (c["candidate_id"], c))
            | "Group" >> beam.GroupByKey()
            | "First" >> beam.Map(_first_by_origin)
        )
