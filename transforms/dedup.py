"""De-duplicate examples by content and re-key corpus candidates to the survivors.

The survivor of a group of identical examples is the one with the smallest
`(example_id, row_key)`, so the choice is the same on every run and runner.
"""
from __future__ import annotations

from typing import Any

import apache_beam as beam

from toolrm_beam.schemas.records import candidate_id, collapse_candidates
from toolrm_beam.transforms.dead_letter import dead_letter

EXAMPLES = "examples"
ROW_STATUS = "row_status"
SURVIVORS = "survivors"
DEAD_LETTER = "dead_letter"

WRITTEN = "written"
DUPLICATE = "duplicate"
DEAD = "dead_letter"


class _KeepFirstByContent(beam.DoFn):
    def process(self, element):
        content_hash, keyed = element
        ordered = sorted(keyed, key=lambda item: (item[1]["example_id"], item[0]))
        kept_key, kept = ordered[0]
        yield kept["example_id"], (kept_key, kept)
        yield beam.pvalue.TaggedOutput(SURVIVORS, (content_hash, kept["example_id"]))
        for key, _ in ordered[1:]:
            yield beam.pvalue.TaggedOutput(ROW_STATUS, (key, DUPLICATE))


class _OnePerExampleId(beam.DoFn):
    """Different content under one id means an upstream id collision: keep one, dead-letter the rest."""

    def process(self, element):
        example_id, keyed = element
        ordered = sorted(keyed, key=lambda item: (item[1]["content_hash"], item[0]))
        kept_key, kept = ordered[0]
        yield kept
        yield beam.pvalue.TaggedOutput(ROW_STATUS, (kept_key, WRITTEN))
        for key, example in ordered[1:]:
            path, _, number = key.rpartition("#")
            yield beam.pvalue.TaggedOutput(ROW_STATUS, (key, DEAD))
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(
                path, int(number), "dedup", "conflicting_example_id",
                f"example_id {example_id} already names different content ({kept_key})", example))


class DedupExamples(beam.PTransform):
    """`(row_key, example)` -> unique examples, row statuses, `(content_hash, kept_id)` and dead letters."""

    def expand(self, keyed_examples):
        by_content = (
            keyed_examples
            | "KeyByContent" >> beam.Map(lambda item: (item[1]["content_hash"], item))
            | "GroupByContent" >> beam.GroupByKey()
            | "KeepFirst" >> beam.ParDo(_KeepFirstByContent()).with_output_types(tuple[str, Any]).with_outputs(ROW_STATUS, SURVIVORS, main=EXAMPLES)
        )
        by_id = (
            by_content[EXAMPLES]
            | "GroupById" >> beam.GroupByKey()
            | "OnePerId" >> beam.ParDo(_OnePerExampleId()).with_outputs(ROW_STATUS, DEAD_LETTER, main=EXAMPLES)
        )
        statuses = (by_content[ROW_STATUS], by_id[ROW_STATUS]) | "Statuses" >> beam.Flatten()
        return {EXAMPLES: by_id[EXAMPLES], ROW_STATUS: statuses, SURVIVORS: by_content[SURVIVORS],
                DEAD_LETTER: by_id[DEAD_LETTER]}


def _rekey(element):
    _, grouped = element
    survivors = list(grouped["survivor"])
    # No survivor: the example was dead-lettered, and its row with it.
    kept_id = survivors[0] if survivors else None
    for candidate in grouped["candidate"] if kept_id else ():
        rekeyed = {k: v for k, v in candidate.items() if k != "example_content_hash"}
        rekeyed["example_id"] = kept_id
        rekeyed["candidate_id"] = candidate_id(kept_id, candidate["output"])
        yield rekeyed


class RekeyCandidates(beam.PTransform):
    """Point corpus candidates at the surviving example and collapse repeats."""

    def __init__(self, survivors):
        super().__init__()
        self._survivors = survivors

    def expand(self, candidates):
        keyed = candidates | "KeyByExample" >> beam.Map(lambda c: (c["example_content_hash"], c))
        return (
            {"candidate": keyed, "survivor": self._survivors}
            | "Join" >> beam.CoGroupByKey()
            | "Rekey" >> beam.FlatMap(_rekey)
            | "KeyById" >> beam.Map(lambda c: (c["candidate_id"], c))
            | "GroupById" >> beam.GroupByKey()
            # Same output for the same example: one candidate, the smallest origin
            # (a correct corpus answer wins over the same text labelled otherwise),
            # with every model that gave it.
            | "Collapse" >> beam.Map(lambda item: collapse_candidates(list(item[1])))
        )
