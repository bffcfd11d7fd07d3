"""Progress counters: Beam metrics that a driver polls from the running pipeline (runners/progress.py).

Stages count what they have done into counters of one namespace
(`ingest.rows`, `synthesize.candidates`, ...); nothing is printed from a
DoFn. A counting step is a branch off the stage's PCollection that emits
nothing, so it changes no output and fuses with the step it counts.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

NAMESPACE = "toolrm.progress"
# What `toolrm run` reports, in pipeline order: (counter, what it counts).
COUNTERS = (("ingest.rows", "rows"), ("synthesize.candidates", "candidates"), ("score.candidates", "candidates"),
            ("select.pairs", "pairs"))


class _CountElements(beam.DoFn):
    def __init__(self, name: str, size: Optional[Callable[[Any], int]]):
        self._counter = Metrics.counter(NAMESPACE, name)
        self._size = size

    def process(self, element):
        self._counter.inc(1 if self._size is None else self._size(element))
        return ()


class CountProgress(beam.PTransform):
    """Add each element (or `size(element)`, for batches) to the progress counter `name`; outputs nothing."""

    def __init__(self, name: str, size: Optional[Callable[[Any], int]] = None):
        super().__init__()
        self._name = name
        self._size = size

    def expand(self, pcoll):
        return pcoll | "Count" >> beam.ParDo(_CountElements(self._name, self._size))


def batch_size(batch) -> int:
    return len(batch)


def group_size(group) -> int:
    """Candidates in an `(example, [candidates])` group."""
    return len(group[1])
