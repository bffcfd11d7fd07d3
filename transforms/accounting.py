"""Per-row accounting and the manifest that proves nothing was lost.

Every input row ends with exactly one status: written (at least one of its
examples is in the output), duplicate (all its examples collapsed into others)
or dead_letter. A row reaching several stages keeps the best status.
"""
from __future__ import annotations

import collections
import datetime
import functools
import json
import time
from typing import Any

import apache_beam as beam

from toolrm_beam.transforms import fileio
from toolrm_beam.transforms.combine_several import CombineSeveral
from toolrm_beam.transforms.dedup import DEAD, DUPLICATE, WRITTEN

_RANK = {WRITTEN: 0, DUPLICATE: 1, DEAD: 2}


def best_status(statuses) -> str:
    return min(statuses, key=_RANK.__getitem__)


class BestRowStatuses(beam.PTransform):
    """`(row_key, status)` events and dead letters -> `(row_key, best status)`, one per input row.

    Count them with `row_status_counts` (in the stage's CountValues): the
    per-row grouping is the one step that needs a shuffle.
    """

    def __init__(self, dead_letters):
        super().__init__()
        self._dead_letters = dead_letters

    def expand(self, statuses):
        dead = self._dead_letters | "DeadRowKeys" >> beam.Map(
            lambda d: (f"{d['source_file']}#{d['row_number']}", DEAD))
        return (statuses, dead) | "AllStatuses" >> beam.Flatten() | "PerRow" >> beam.CombinePerKey(best_status)


def row_status_counts(row_status: tuple[str, str]) -> dict[str, int]:
    return {row_status[1]: 1}


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


class CountBy(SumCounts):
    """Records -> `{value: count}`: under a field's value, as themselves (`key`), or `how(record)`'s counts."""

    def __init__(self, how, key: str | None):
        self._how = how
        self._key = key  # what a record counts under when it counts as itself (`how` None)

    def add_input(self, counter, record):
        how = self._how
        if how is None:
            counter[self._key] += 1
        elif isinstance(how, str):
            counter[str(record.get(how))] += 1
        else:
            counter.update(how(record))
        return counter

    def extract_output(self, counter):
        return dict(sorted(counter.items()))


class CountValues(beam.PTransform):
    """Several summaries' counts in one combine: one element, `{summary: {value: count}}`.

    `sources` maps a summary to `(records, how)`: a field name (count each
    record under `str(record[field])`), None (count records as such, under
    `keys[summary]`), a function returning `{value: count}` for a record, or
    a CombineFn (the summary is its output). Records None: nothing to count
    (the summary is empty), without a step for it. Apply to the pipeline. One
    CombineSeveral for them all: a Count and a ToDict per summary are several
    runner stages each, and a run has dozens.
    """

    def __init__(self, sources: dict[str, tuple[Any, Any]], keys: dict[str, str] | None = None):
        super().__init__()
        self._sources = sources
        self._keys = dict(keys or {})

    def expand(self, pbegin):
        return pbegin | "Combine" >> CombineSeveral({
            name: (records, how if isinstance(how, beam.CombineFn) else CountBy(how, self._keys.get(name)))
            for name, (records, how) in self._sources.items()})


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


def write_manifest(path: str, *, config: dict[str, Any], versions: dict[str, str], counts: dict[str, Any],
                   shards: list[dict[str, Any]], started_at: float) -> dict[str, Any]:
    """Write one stage's `manifest.json` (atomically) and return it."""
    manifest = {
        "manifest_version": "1.0",
        "config": config,
        "versions": versions,
        "counts": counts,
        "files": shard_files(shards),
        "timing": timing(started_at, time.time()),
    }
    fileio.write_bytes_atomic(path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest


class _WriteManifests(beam.DoFn):
    def __init__(self, targets: dict[Any, tuple[str, dict[str, Any]]], versions: dict[str, str], counts_fn,
                 started_at: float, tagged: bool):
        self._targets = targets
        self._versions = versions
        self._counts_fn = counts_fn
        self._started_at = started_at
        self._tagged = tagged

    def process(self, _, counted, *shard_info_lists):
        shard_infos = [info for infos in shard_info_lists for info in infos]
        for name, (path, config) in sorted(self._targets.items(), key=lambda item: str(item[0])):
            shards = [info for owner, info in shard_infos if owner == name] if self._tagged else shard_infos
            manifest = write_manifest(path, config=config, versions=self._versions,
                                      counts=self._counts_fn(name, counted), shards=shards,
                                      started_at=self._started_at)
            yield (name, manifest) if self._tagged else manifest


class WriteManifests(beam.PTransform):
    """Several stages' manifests in one step (`toolrm run`'s ingest of every corpus): `(name, manifest)`.

    `targets` maps a name to `(manifest path, config)`; the input is
    `(name, shard info)` (`WriteShardSets`), one PCollection or a tuple of
    them (each writer's: read as side inputs, no Flatten to copy them);
    `counts_fn(name, counted)` is
    that name's `counts` section, `counted` the `CountValues` output. Each
    file is what `WriteManifest` writes for that stage alone. `timing` spans
    from building this transform (the pipeline's construction) to the write.
    """

    def __init__(self, targets: dict[Any, tuple[str, dict[str, Any]]], versions: dict[str, str], *, counts_fn,
                 counted: Any, tagged: bool = True):
        super().__init__()
        self._targets = dict(targets)
        self._versions = versions
        self._counts_fn = counts_fn
        self._counted = counted
        self._tagged = tagged
        self._started_at = time.time()

    def expand(self, shard_infos):
        parts = tuple(shard_infos) if isinstance(shard_infos, (tuple, list)) else (shard_infos,)
        return (
            parts[0].pipeline
            | "Once" >> beam.Impulse()
            | "Write" >> beam.ParDo(_WriteManifests(self._targets, self._versions, self._counts_fn,
                                                    self._started_at, self._tagged),
                                    beam.pvalue.AsSingleton(self._counted), *map(beam.pvalue.AsList, parts))
        )


class WriteManifest(WriteManifests):
    """Write `manifest.json` once every shard is written (it depends on their infos); emits the manifest.

    `counted` is the stage's `CountValues` output (`{summary: counts}`);
    `counts_fn(counted)` turns it into the manifest's `counts` section.
    """

    def __init__(self, path: str, config: dict[str, Any], versions: dict[str, str], *, counts_fn, counted: Any):
        super().__init__({None: (path, config)}, versions, counts_fn=functools.partial(_only_target, counts_fn),
                         counted=counted, tagged=False)


def _only_target(counts_fn, _name, counted):
    return counts_fn(counted)
