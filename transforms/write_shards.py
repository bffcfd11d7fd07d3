"""Write records to Parquet shards with deterministic names and contents.

A record's shard is a stable hash of its sort key, and rows are sorted inside
each shard, so the same input gives byte-identical files on every run and
runner. Every shard index is written, empty ones included, so a reader never
mistakes a missing shard for a lost one. Each write is atomic.
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable

import apache_beam as beam
import pyarrow as pa

from transforms import fileio


def shard_name(prefix: str, index: int, count: int) -> str:
    return f"{prefix}-{index:05d}-of-{count:05d}.parquet"


def shard_of(key: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % count


class _WriteShard(beam.DoFn):
    def __init__(self, directory: str, prefix: str, count: int, schema: pa.Schema,
                 sort_key: Callable[[dict], Any], to_row: Callable[[dict], dict]):
        self._directory = directory
        self._prefix = prefix
        self._count = count
        self._schema = schema
        self._sort_key = sort_key
        self._to_row = to_row

    def process(self, element):
        index, records = element
        rows = sorted((self._to_row(r) for r in records if r is not None), key=self._sort_key)
        data = fileio.parquet_bytes(rows, self._schema)
        name = shard_name(self._prefix, index, self._count)
        fileio.write_bytes_atomic(fileio.join(self._directory, name), data)
        yield {"file": name, "rows": len(rows), "bytes": len(data), "sha256": fileio.sha256_hex(data)}


def _identity(record: dict) -> dict:
    return record


class WriteShards(beam.PTransform):
    """Records -> `<directory>/<prefix>-NNNNN-of-MMMMM.parquet`; emits one info dict per shard."""

    def __init__(self, directory: str, prefix: str, schema: pa.Schema, num_shards: int,
                 shard_key: Callable[[dict], str], sort_key: Callable[[dict], Any],
                 to_row: Callable[[dict], dict] = _identity):
        super().__init__()
        if num_shards < 1:
            raise ValueError("num_shards must be at least 1")
        self._directory = directory
        self._prefix = prefix
        self._schema = schema
        self._count = num_shards
        self._shard_key = shard_key
        self._sort_key = sort_key
        self._to_row = to_row

    def expand(self, records):
        count, shard_key = self._count, self._shard_key
        keyed = records | "KeyByShard" >> beam.Map(lambda r: (shard_of(shard_key(r), count), r))
        every_shard = (
            records.pipeline
            | "AllShards" >> beam.Create([(i, None) for i in range(count)])
        )
        return (
            (keyed, every_shard)
            | "WithEmpty" >> beam.Flatten()
            | "GroupByShard" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(_WriteShard(self._directory, self._prefix, count, self._schema,
                                                self._sort_key, self._to_row))
        )
