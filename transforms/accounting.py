"""Per-row accounting and the manifest that proves nothing was lost.

Every input row ends with exactly one status: written (at least one of its
examples is in the output), duplicate (all its examples collapsed into others)
or dead_letter. A row reaching several stages keeps the best status.
"""
from __future__ import annotations

import collections
import datetime
import json
import time
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from toolrm_beam.transforms import fileio
from toolrm_beam.transforms.dedup import DEAD, DUPLICATE, WRITTEN

_RANK = {WRITTEN: 0, DUPLICATE: 1, DEAD: 2}


def best_status(statuses) -> str:
    return min(statuses, key=_RANK.__getitem__)


class CountRowStatuses(beam.PTransform):
    """`(row_key, status)` events and dead letters -> one dict of counts."""

    def __init__(self, dead_letters):
        super().__init__()
        self._dead_letters = dead_letters

    def expand(self, statuses):
        dead = self._dead_letters | "DeadRowKeys" >> beam.Map(
            lambda d: (f"{d['source_file']}#{d['row_number']}", DEAD))
        return (
            (statuses, dead)
            | "AllStatuses" >> beam.Flatten()
            | "PerRow" >> beam.CombinePerKey(best_status)
            | "Status" >> beam.Map(lambda item: item[1])
            | "Count" >> beam.combiners.Count.PerElement()
            | "AsDict" >> beam.combiners.ToDict()
        )


class SumCounts(beam.CombineFn):
    """Adds up dicts of counts (`{key: n}`) in any order; subclasses map inputs to counts."""

    def create_accumulator(self):
        return collections.Counter()

    def add_input(self, counter, item):
        counter.update(self.counts(item))
        return counter

    def counts(self, item) -> dict:
        return item

    def merge_accumulators(self, counters):
        total = collections.Counter()
        for counter in counters:
            total.update(counter)
        return total

    def extract_output(self, counter):
        return dict(counter)


class _CountInBundle(beam.DoFn):
    """One summary's counts of a bundle's records, as one `(summary, {value: n})` at the bundle's end.

    The counts are added up before they leave the stage (what combiner lifting does for one
    input): the Flatten that joins the summaries then carries a few elements per bundle, not one
    per record (a local runner materializes a Flatten's input).
    """

    def __init__(self, name: str, how, key: str | None):
        self._name = name
        self._how = how
        self._key = key  # what a record counts under when it counts as itself (`how` None)

    def start_bundle(self):
        self._counts = collections.Counter()

    def process(self, element):
        how = self._how
        if how is None:
            self._counts[self._key] += 1
        elif isinstance(how, str):
            self._counts[str(element.get(how))] += 1
        else:
            self._counts.update(how(element))

    def finish_bundle(self):
        if self._counts:
            yield GlobalWindows.windowed_value((self._name, dict(self._counts)))


class _NestedCounts(SumCounts):
    """(summary, {value: n}) -> `{summary: {value: count}}`, every summary present."""

    def __init__(self, names: list[str]):
        self._names = names

    def add_input(self, counter, item):
        name, counts = item
        for key, count in counts.items():
            counter[(name, key)] += count
        return counter

    def extract_output(self, counter):
        nested: dict[str, dict[str, int]] = {name: {} for name in self._names}
        for (name, key), count in sorted(counter.items()):
            nested[name][key] = count
        return nested


class CountValues(beam.PTransform):
    """Several summaries' counts in one combine: one element, `{summary: {value: count}}`.

    `sources` maps a summary to `(records, how)`: a field name (count each
    record under `str(record[field])`), None (count records as such, under
    `keys[summary]`), or a function returning `{value: count}` for a record.
    Apply to the pipeline. One counting step per input, a Flatten and one
    CombineGlobally: a Count and a ToDict per summary are several runner
    stages each, and a run has dozens of summaries.
    """

    def __init__(self, sources: dict[str, tuple[Any, Any]], keys: dict[str, str] | None = None):
        super().__init__()
        self._sources = sources
        self._keys = dict(keys or {})

    def expand(self, pbegin):
        names = sorted(self._sources)
        counted = [self._sources[name][0] | f"Key-{name}" >> beam.ParDo(
                       _CountInBundle(name, self._sources[name][1], self._keys.get(name)))
                   for name in names]
        return (tuple(counted) | "AllKeys" >> beam.Flatten(pipeline=pbegin.pipeline)
                | "Sum" >> beam.CombineGlobally(_NestedCounts(names)))


def count_by(records, field: str, label: str):
    """A one-element PCollection: `{value of field: count}`."""
    return (
        records
        | f"{label}Field" >> beam.Map(lambda r: str(r.get(field)))
        | f"{label}Count" >> beam.combiners.Count.PerElement()
        | f"{label}Dict" >> beam.combiners.ToDict()
    )


def shard_files(shards: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Shard infos grouped by prefix (`examples`, `candidates`, ...), sorted by file name."""
    groups: dict[str, list[dict]] = collections.defaultdict(list)
    for shard in sorted(shards, key=lambda s: s["file"]):
        groups[shard["file"].rsplit("/", 1)[-1].rsplit("-", 3)[0]].append(shard)
    return dict(sorted(groups.items()))


def row_counts(statuses: dict[str, int]) -> dict[str, int]:
    rows = {status: int(statuses.get(status, 0)) for status in (WRITTEN, DUPLICATE, DEAD)}
    return {"rows_in": sum(rows.values()), "rows_written": rows[WRITTEN],
            "rows_duplicate": rows[DUPLICATE], "rows_dead_letter": rows[DEAD]}


def timing(started_at: float, finished_at: float) -> dict[str, Any]:
    """Wall-clock span of a stage, for people (the report); never part of the counts or the files."""
    def stamp(seconds: float) -> str:
        return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="seconds")
    return {"started_at": stamp(started_at), "finished_at": stamp(finished_at),
            "seconds": round(finished_at - started_at, 1)}


class _WriteManifest(beam.DoFn):
    def __init__(self, path: str, config: dict[str, Any], versions: dict[str, str], names: list[str], counts_fn,
                 started_at: float):
        self._path = path
        self._config = config
        self._versions = versions
        self._names = names
        self._counts_fn = counts_fn
        self._started_at = started_at

    def process(self, _, shards, counted, *summaries):
        manifest = {
            "manifest_version": "1.0",
            "config": self._config,
            "versions": self._versions,
            "counts": self._counts_fn({**counted, **dict(zip(self._names, summaries))}),
            "files": shard_files(shards),
            "timing": timing(self._started_at, time.time()),
        }
        fileio.write_bytes_atomic(self._path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        yield manifest


class WriteManifest(beam.PTransform):
    """Write `manifest.json` once every shard is written (it depends on their infos).

    `summaries` are one-element PCollections (dicts of counts), and
    `counted` one `CountValues` output whose summaries join them; `counts_fn`
    turns them, by name, into the manifest's `counts` section. `timing` spans
    from building this transform (the pipeline's construction) to the write.
    """

    def __init__(self, path: str, config: dict[str, Any], versions: dict[str, str], *,
                 summaries: dict[str, Any], counts_fn, counted: Any = None):
        super().__init__()
        self._path = path
        self._config = config
        self._versions = versions
        self._summaries = summaries
        self._counts_fn = counts_fn
        self._counted = counted
        self._started_at = time.time()

    def expand(self, shard_infos):
        names = sorted(self._summaries)
        sides = [beam.pvalue.AsSingleton(self._summaries[n], default_value={}) for n in names]
        counted = self._counted if self._counted is not None else \
            shard_infos.pipeline | "NothingCounted" >> beam.Create([{}])
        return (
            shard_infos.pipeline
            | "Once" >> beam.Create([None])
            | "Write" >> beam.ParDo(_WriteManifest(self._path, self._config, self._versions, names,
                                                   self._counts_fn, self._started_at),
                                    beam.pvalue.AsList(shard_infos), beam.pvalue.AsSingleton(counted), *sides)
        )
