"""Per-row accounting and the manifest that proves nothing was lost.

Every input row ends with exactly one status: written (at least one of its
examples is in the output), duplicate (all its examples collapsed into others)
or dead_letter. A row reaching several stages keeps the best status.
"""
from __future__ import annotations

import collections
import json
from typing import Any

import apache_beam as beam

from transforms import fileio
from transforms.dedup import DEAD, DUPLICATE, WRITTEN

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


def count_by(records, field: str, label: str):
    """A one-element PCollection: `{value of field: count}`."""
    return (
        records
        | f"{label}Field" >> beam.Map(lambda r: str(r.get(field)))
        | f"{label}Count" >> beam.combiners.Count.PerElement()
        | f"{label}Dict" >> beam.combiners.ToDict()
    )


def build_manifest(config: dict[str, Any], row_counts: dict[str, int], example_splits: dict[str, int],
                   dead_letter_reasons: dict[str, int], candidate_counts: dict[str, int],
                   shards: list[dict[str, Any]], versions: dict[str, str]) -> dict[str, Any]:
    rows = {status: int(row_counts.get(status, 0)) for status in (WRITTEN, DUPLICATE, DEAD)}
    shard_groups: dict[str, list[dict]] = collections.defaultdict(list)
    for shard in sorted(shards, key=lambda s: s["file"]):
        shard_groups[shard["file"].rsplit("-", 3)[0]].append(shard)
    return {
        "manifest_version": "1.0",
        "config": config,
        "versions": versions,
        "counts": {
            "rows_in": sum(rows.values()),
            "rows_written": rows[WRITTEN],
            "rows_duplicate": rows[DUPLICATE],
            "rows_dead_letter": rows[DEAD],
            "examples_out": sum(example_splits.values()),
            "examples_by_split": dict(sorted(example_splits.items())),
            "candidates_out": sum(candidate_counts.values()),
            "candidates_by_origin": dict(sorted(candidate_counts.items())),
            "dead_letter_by_reason": dict(sorted(dead_letter_reasons.items())),
        },
        "files": dict(sorted(shard_groups.items())),
    }


class _WriteManifest(beam.DoFn):
    def __init__(self, path: str, config: dict[str, Any], versions: dict[str, str]):
        self._path = path
        self._config = config
        self._versions = versions

    def process(self, _, row_counts, example_splits, dead_letter_reasons, candidate_counts, shards):
        manifest = build_manifest(self._config, row_counts, example_splits, dead_letter_reasons,
                                  candidate_counts, shards, self._versions)
        fileio.write_bytes_atomic(self._path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        yield manifest


def _single(pcoll):
    return beam.pvalue.AsSingleton(pcoll, default_value={})


class WriteManifest(beam.PTransform):
    """Write `manifest.json` once every shard is written (it depends on their infos)."""

    def __init__(self, path: str, config: dict[str, Any], versions: dict[str, str], *, row_counts,
                 example_splits, dead_letter_reasons, candidate_counts):
        super().__init__()
        self._path = path
        self._config = config
        self._versions = versions
        self._side = (row_counts, example_splits, dead_letter_reasons, candidate_counts)

    def expand(self, shard_infos):
        row_counts, example_splits, dead_letter_reasons, candidate_counts = self._side
        return (
            shard_infos.pipeline
            | "Once" >> beam.Create([None])
            | "Write" >> beam.ParDo(
                _WriteManifest(self._path, self._config, self._versions),
                _single(row_counts), _single(example_splits), _single(dead_letter_reasons),
                _single(candidate_counts), beam.pvalue.AsList(shard_infos))
        )
