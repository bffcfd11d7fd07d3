"""De-duplicate examples by content and re-key corpus candidates to the survivors.

The survivor of a group of identical examples is the one with the smallest
`(example_id, row_key)`, so the choice is the same on every run and runner.
Examples are identical within a source: records are grouped by `(source,
content hash)`, so one step can de-duplicate several corpora as separate
ingests would (`toolrm run` ingests every corpus in one set of steps).
"""
from __future__ import annotations

from typing import Any

import apache_beam as beam

from toolrm_beam.schemas.records import candidate_id, collapse_candidates, source_of_example_id
from toolrm_beam.transforms.dead_letter import dead_letter
from toolrm_beam.transforms.packed import pack, unpack

EXAMPLES = "examples"
ROW_STATUS = "row_status"
SURVIVORS = "survivors"
DEAD_LETTER = "dead_letter"

WRITTEN = "written"
DUPLICATE = "duplicate"
DEAD = "dead_letter"


def _by_content(item):
    """`(row_key, example)` -> `((source, content_hash), (row_key, example_id, packed example))`."""
    key, example = item
    return (example["source"], example["content_hash"]), (key, example["example_id"], pack(example))


class _KeepFirstByContent(beam.DoFn):
    def process(self, element):
        scoped_hash, keyed = element
        ordered = sorted(keyed, key=lambda item: (item[1], item[0]))
        kept_key, kept_id, kept = ordered[0]
        yield kept_id, (kept_key, scoped_hash[1], kept)
        yield beam.pvalue.TaggedOutput(SURVIVORS, (scoped_hash, kept_id))
        for key, _, _ in ordered[1:]:
            yield beam.pvalue.TaggedOutput(ROW_STATUS, (key, DUPLICATE))


class _OnePerExampleId(beam.DoFn):
    """Different content under one id means an upstream id collision: keep one, dead-letter the rest."""

    def process(self, element):
        example_id, keyed = element
        ordered = sorted(keyed, key=lambda item: (item[1], item[0]))
        kept_key, _, kept = ordered[0]
        yield unpack(kept)
        yield beam.pvalue.TaggedOutput(ROW_STATUS, (kept_key, WRITTEN))
        for key, _, example in ordered[1:]:
            path, _, number = key.rpartition("#")
            yield beam.pvalue.TaggedOutput(ROW_STATUS, (key, DEAD))
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(
                path, int(number), "dedup", "conflicting_example_id",
                f"example_id {example_id} already names different content ({kept_key})", unpack(example)))


class DedupExamples(beam.PTransform):
    """`(row_key, example)` -> unique examples, row statuses, `((source, content_hash), kept_id)`, dead letters.

    Both grouping steps carry the examples packed (transforms/packed.py), with
    the fields they decide on beside them."""

    def expand(self, keyed_examples):
        by_content = (
            keyed_examples
            | "KeyByContent" >> beam.Map(_by_content)
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
    for packed in grouped["candidate"] if kept_id else ():
        candidate = unpack(packed)
        rekeyed = {k: v for k, v in candidate.items() if k != "example_content_hash"}
        rekeyed["example_id"] = kept_id
        rekeyed["candidate_id"] = candidate_id(kept_id, candidate["output"])
        yield rekeyed["candidate_id"], pack(rekeyed)


def _by_example_content(candidate):
    """A corpus candidate keyed as `DedupExamples` keys its example's survivor: `(source, content_hash)`."""
    return (source_of_example_id(candidate["example_id"]), candidate["example_content_hash"]), pack(candidate)


class RekeyCandidates(beam.PTransform):
    """Point corpus candidates at the surviving example and collapse repeats."""

    def __init__(self, survivors):
        super().__init__()
        self._survivors = survivors

    def expand(self, candidates):
        # Both grouping steps carry the candidates packed (transforms/packed.py).
        keyed = candidates | "KeyByExample" >> beam.Map(_by_example_content)
        return (
            {"candidate": keyed, "survivor": self._survivors}
            | "Join" >> beam.CoGroupByKey()
            | "Rekey" >> beam.FlatMap(_rekey)
            | "GroupById" >> beam.GroupByKey()
            # Same output for the same example: one candidate, the smallest origin
            # (a correct corpus answer wins over the same text labelled otherwise),
            # with every model that gave it.
            | "Collapse" >> beam.Map(lambda item: collapse_candidates([unpack(c) for c in item[1]]))
        )
