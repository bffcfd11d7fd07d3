"""What `report.html` shows beyond the manifest, computed in the pipeline as one small dict.

    ReportData(pairs, pair_details, quarantine, dead_letters) applied to the scored groups ->
      agreement      the scorer vs the checker's labels, by slice (transforms/agreement.py)
      hardest        per error type, the pairs with the smallest score margin, with the checker's detail
      margins        a sample of the pairs' score margins (bottom-k by pair id: deterministic)
      by_source      examples, candidates, pairs and quarantined examples per source
      dead_letters   per (step, reason): the count and one sample (the first by file and row)

Every part is a combine, so it scales with the data like the rest of the
stage and gives the same dict on every runner.
"""
from __future__ import annotations

import collections
import hashlib
from typing import Any

import apache_beam as beam

from toolrm_beam.transforms import agreement
from toolrm_beam.transforms.accounting import CountBy
from toolrm_beam.transforms.combine_several import CombineSeveral
from toolrm_beam.transforms.report_views import dead_letter_view, pair_view

EXAMPLES_PER_ERROR_TYPE = 3
MARGIN_SAMPLE = 5000


class _Agreement(beam.CombineFn):
    def create_accumulator(self):
        return {}

    def add_input(self, accumulator, group):
        example, candidates = group
        return agreement.merge_into(accumulator, agreement.group_agreement(example, candidates))

    def merge_accumulators(self, accumulators):
        return agreement.merge(accumulators)

    def extract_output(self, accumulator):
        return agreement.summarize(accumulator)


class _SourceCounts(beam.CombineFn):
    """Per source: examples and candidates scored, correct and incorrect candidates."""

    def create_accumulator(self):
        return collections.defaultdict(collections.Counter)

    def add_input(self, accumulator, group):
        example, candidates = group
        counts = accumulator[example.get("source") or "unknown"]
        counts["examples"] += 1
        counts["candidates"] += len(candidates)
        counts["correct"] += sum(c.get("correct") is True for c in candidates)
        counts["incorrect"] += sum(c.get("correct") is False for c in candidates)
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = collections.defaultdict(collections.Counter)
        for accumulator in accumulators:
            for source, counts in accumulator.items():
                merged[source].update(counts)
        return merged

    def extract_output(self, accumulator):
        return {source: dict(counts) for source, counts in sorted(accumulator.items())}


def _rank(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


class _MarginSample(beam.CombineFn):
    """Score margins of at most `size` pairs, those with the smallest hash of the pair id, and the total."""

    def __init__(self, size: int = MARGIN_SAMPLE):
        self._size = size

    def create_accumulator(self):
        return [0, []]

    def add_input(self, accumulator, pair):
        accumulator[0] += 1
        accumulator[1].append((_rank(pair["uuid"]), pair["score_margin"]))
        if len(accumulator[1]) > 2 * self._size:
            accumulator[1] = sorted(accumulator[1])[:self._size]
        return accumulator

    def merge_accumulators(self, accumulators):
        total, items = 0, []
        for count, part in accumulators:
            total += count
            items.extend(part)
        return [total, sorted(items)[:self._size]]

    def extract_output(self, accumulator):
        total, items = accumulator
        return {"pairs": total, "sample": sorted(m for _, m in sorted(items)[:self._size])}


class _DeadLetterSample(beam.CombineFn):
    """Per (step, reason): how many, and the first by (file, row, stage, detail)."""

    def create_accumulator(self):
        return [0, None]

    def add_input(self, accumulator, view):
        accumulator[0] += 1
        if accumulator[1] is None or _dead_letter_order(view) < _dead_letter_order(accumulator[1]):
            accumulator[1] = view
        return accumulator

    def merge_accumulators(self, accumulators):
        total, first = 0, None
        for count, view in accumulators:
            total += count
            if view is not None and (first is None or _dead_letter_order(view) < _dead_letter_order(first)):
                first = view
        return [total, first]

    def extract_output(self, accumulator):
        return {"count": accumulator[0], "sample": accumulator[1]}


class _DeadLetterSamples(beam.CombineFn):
    """`((step, reason), view)` -> per (step, reason): how many, and the first (`_DeadLetterSample` per key)."""

    _sample = _DeadLetterSample()

    def create_accumulator(self):
        return {}

    def add_input(self, accumulator, keyed_view):
        key, view = keyed_view
        accumulator[key] = self._sample.add_input(accumulator.get(key) or self._sample.create_accumulator(), view)
        return accumulator

    def merge_accumulators(self, accumulators):
        merged: dict = {}
        for accumulator in accumulators:
            for key, part in accumulator.items():
                merged[key] = self._sample.merge_accumulators([merged[key], part]) if key in merged else part
        return merged

    def extract_output(self, accumulator):
        return {key: self._sample.extract_output(part) for key, part in sorted(accumulator.items())}


class _HardestPerType(beam.CombineFn):
    """`(pair, detail)` -> per error type, the `size` hardest pairs (smallest margin first; ties by pair id)."""

    def __init__(self, size: int):
        self._size = size

    def create_accumulator(self):
        return {}

    def add_input(self, accumulator, pair_detail):
        kept = accumulator.setdefault(pair_detail[0].get("error_type") or "unknown", [])
        kept.append(pair_detail)
        if len(kept) > 4 * self._size:
            kept[:] = self._hardest(kept)
        return accumulator

    def _hardest(self, pair_details: list) -> list:
        return sorted(pair_details, key=_hardness, reverse=True)[:self._size]

    def merge_accumulators(self, accumulators):
        merged: dict[str, list] = {}
        for accumulator in accumulators:
            for error_type, kept in accumulator.items():
                merged.setdefault(error_type, []).extend(kept)
        return {error_type: self._hardest(kept) for error_type, kept in merged.items()}

    def extract_output(self, accumulator):
        return {error_type: self._hardest(kept) for error_type, kept in sorted(accumulator.items())}


def _dead_letter_order(view: dict[str, Any]) -> tuple:
    return (view["source_file"] or "", view["row_number"] or 0, view["stage"] or "", view["detail"] or "")


def _hardness(pair_detail: tuple[dict[str, Any], Any]) -> tuple:
    # Top keeps the largest keys: the smallest margin is the hardest pair; the id breaks ties.
    pair = pair_detail[0]
    return (-pair["score_margin"], pair["uuid"])


def _assemble(_, agreement_slices, hardest, margins, by_source, pairs_by_source, quarantined_by_source,
              dead_letters):
    sources = {source: dict(counts) for source, counts in by_source.items()}
    for name, counts in (("pairs", pairs_by_source), ("quarantined_examples", quarantined_by_source)):
        for source, count in counts.items():
            sources.setdefault(source, {})[name] = count
    hardest_views = {
        error_type: [pair_view(pair, detail) for pair, detail in pairs]
        for error_type, pairs in sorted(hardest.items())}
    return {"agreement": agreement_slices, "hardest": hardest_views, "margins": margins,
            "by_source": dict(sorted(sources.items())),
            "dead_letters": [{"step": step, "reason": reason, **value}
                             for (step, reason), value in sorted(dead_letters.items())]}


class ReportData(beam.PTransform):
    """Scored `(example, candidates)` groups (+ pairs, quarantine, dead letters) -> one dict for the report.

    `pair_details` holds `(pair, rejected candidate's checker detail)` (SelectPairs' output of that
    name): the hardest pairs are picked from it as it streams, with no second pass over the groups.
    Every part is one CombineFn, all of them one CombineSeveral step. `dead_letters` is a list of (step, PCollection of dead-letter records):
    the stage's own and, where the stage knows them, those of the stages
    before it.
    """

    def __init__(self, pairs, pair_details, quarantine, dead_letters: list[tuple[str, Any]],
                 examples_per_error_type: int = EXAMPLES_PER_ERROR_TYPE):
        super().__init__()
        self._pairs = pairs
        self._pair_details = pair_details
        self._quarantine = quarantine
        self._dead_letters = dead_letters
        self._per_type = examples_per_error_type

    def expand(self, groups):
        views = [(pcoll | f"DeadLetterView{position}" >> beam.Map(
                     lambda d, step=step: ((step, d.get("reason")), dead_letter_view(d, step))), _DeadLetterSamples())
                 for position, (step, pcoll) in enumerate(self._dead_letters)]
        parts = {
            "agreement_slices": (groups, _Agreement()),
            "hardest": (self._pair_details, _HardestPerType(self._per_type)),
            "margins": (self._pairs, _MarginSample()),
            "by_source": (groups, _SourceCounts()),
            "pairs_by_source": (self._pairs, CountBy("dataset_name", None)),
            "quarantined_by_source": (self._quarantine, CountBy("source", None)),
        }
        if views:
            parts["dead_letters"] = views
        return (groups.pipeline | "Combine" >> CombineSeveral(parts)
                | "Assemble" >> beam.Map(lambda found: _assemble(None, **{"dead_letters": {}, **found})))


def _combined(combine: beam.CombineFn, items) -> Any:
    accumulator = combine.create_accumulator()
    for item in items:
        accumulator = combine.add_input(accumulator, item)
    return combine.extract_output(accumulator)


def report_data_in_memory(groups: list, pairs: list[dict[str, Any]], pair_details: list[tuple],
                          quarantine: list[dict[str, Any]], per_type: int = EXAMPLES_PER_ERROR_TYPE) -> dict[str, Any]:
    """ReportData's dict from lists in one process, by the same combines (no dead letters): what a
    plain loop doing the score stage's work computes for its report (benchmarks/pipeline_throughput.py)."""
    return _assemble(None, _combined(_Agreement(), groups), _combined(_HardestPerType(per_type), pair_details),
                     _combined(_MarginSample(), pairs), _combined(_SourceCounts(), groups),
                     _combined(CountBy("dataset_name", None), pairs), _combined(CountBy("source", None), quarantine),
                     {})
