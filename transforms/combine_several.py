"""Several combines over several PCollections as one step: `{name: output}` in one element.

A stage's summaries (the manifest's counts, the report's agreement, margins,
hardest pairs ...) are each a small combine. Applied one by one, every
CombineGlobally is two or three runner stages and every Count + ToDict more;
the score stage had 20 of them for the report alone, each with its own bundle
set-up. Here each input adds its records up into its CombineFn's accumulator
within the bundle (what combiner lifting does) and emits that one
accumulator when the bundle ends: a few accumulators per bundle cross
between the steps, not the records. One step merges them by name, reading
each input's accumulators as a side input of a one-element step (as the
manifests are written), not through a Flatten and a CombineGlobally: those
were four more runner stages per combine (the Flatten's copy, the keying,
the ungrouping and the default value for empty input), and a local run's
stage costs a round trip to every worker.
"""
from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows


class _PartialCombine(beam.DoFn):
    """A bundle's records added into one accumulator of `combine`, emitted as `(name, accumulator)` at its end."""

    def __init__(self, name: str, combine: beam.CombineFn):
        self._name = name
        self._combine = combine

    def setup(self):
        self._combine.setup()

    def start_bundle(self):
        self._accumulator = None

    def process(self, element):
        if self._accumulator is None:
            self._accumulator = self._combine.create_accumulator()
        self._accumulator = self._combine.add_input(self._accumulator, element)

    def finish_bundle(self):
        if self._accumulator is not None:
            yield GlobalWindows.windowed_value((self._name, self._accumulator))

    def teardown(self):
        self._combine.teardown()


class _MergeByName(beam.DoFn):
    """Every `(name, accumulator)` (a side input) -> `{name: output}`, once; every name present (an input
    without records: its empty output)."""

    def __init__(self, combines: dict[str, beam.CombineFn]):
        self._combines = combines

    def setup(self):
        for combine in self._combines.values():
            combine.setup()

    def process(self, _, *partials):
        by_name: dict[str, list[Any]] = {}
        for name, accumulator in (item for accumulators in partials for item in accumulators):
            by_name.setdefault(name, []).append(accumulator)
        yield {name: combine.extract_output(combine.merge_accumulators(by_name[name]) if name in by_name
                                            else combine.create_accumulator())
               for name, combine in sorted(self._combines.items())}

    def teardown(self):
        for combine in self._combines.values():
            combine.teardown()


class CombineSeveral(beam.PTransform):
    """`{name: (records, CombineFn)}` -> one element `{name: that combine's output}`. Apply to the pipeline.

    A name may be given several PCollections (`[(records, fn), (more, fn)]`
    with the same CombineFn): their records combine as one input. Records
    None: an input the pipeline does not have (its name gets the empty output).
    """

    def __init__(self, parts: dict[str, Any]):
        super().__init__()
        self._parts = {name: part if isinstance(part, list) else [part] for name, part in parts.items()}

    def expand(self, pbegin):
        partials = [records | f"Partial-{name}-{position}" >> beam.ParDo(_PartialCombine(name, combine))
                    for name, inputs in sorted(self._parts.items())
                    for position, (records, combine) in enumerate(inputs) if records is not None]
        combines = {name: inputs[0][1] for name, inputs in self._parts.items()}
        # One side input per partial, not their Flatten: a local runner copies a Flatten's inputs in a
        # runner stage of its own.
        return (pbegin.pipeline | "Once" >> beam.Impulse()
                | "Merge" >> beam.ParDo(_MergeByName(combines), *map(beam.pvalue.AsList, partials)))
