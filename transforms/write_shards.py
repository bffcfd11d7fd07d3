"""Write records to Parquet shards with deterministic names and contents.

A record's shard is a stable hash of its sort key, and rows are sorted inside
each shard, so the same input gives byte-identical files on every run and
runner. Every shard index is written, empty ones included, so a reader never
mistakes a missing shard for a lost one. Each write is atomic.
"""
from __future__ import annotations

import hashlib
import uuid
from typing import Any, Callable

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.transforms.window import GlobalWindows

from toolrm_beam.transforms import fileio
from toolrm_beam.transforms.packed import pack, unpack


def shard_name(prefix: str, index: int, count: int) -> str:
    return f"{prefix}-{index:05d}-of-{count:05d}.parquet"


def shard_of(key: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % count


class _WriteShard(beam.DoFn):
    """`((set, shard), [(sort key, packed row)])` -> `((set, shard), info)` once the shard's file is written,
    rows in sort-key order (ties in arrival order).

    `sets` maps a shard set to its `(directory, shard count)`; with `tagged`
    the info is `(set, info)`.
    """

    def __init__(self, sets: dict[Any, tuple[str, int]], prefix: str, schema: pa.Schema, subdir: str,
                 tagged: bool):
        self._sets = sets
        self._subdir = subdir
        self._prefix = prefix
        self._schema = schema
        self._tagged = tagged

    def process(self, element):
        key, records = element
        yield key, self.write(key, records)

    def write(self, key: tuple[Any, int], records) -> Any:
        shard_set, index = key
        directory, count = self._sets[shard_set]
        keyed = sorted(records, key=lambda keyed_row: keyed_row[0])
        # A row group at a time, unpacked into Arrow as it is written: a shard's rows never all exist
        # as Python objects, nor as Arrow.
        data = fileio.parquet_row_groups(
            (fileio.arrow_table([unpack(packed) for _, packed in keyed[start:start + ROWS_PER_GROUP]], self._schema)
             for start in range(0, len(keyed), ROWS_PER_GROUP)), self._schema)
        name = shard_name(self._prefix, index, count)
        relative = f"{self._subdir}/{name}" if self._subdir else name
        fileio.write_bytes_atomic(fileio.join(directory, relative), data)
        info = {"file": relative, "rows": len(keyed), "bytes": len(data), "sha256": fileio.sha256_hex(data)}
        return (shard_set, info) if self._tagged else info


class _EveryShard(beam.DoFn):
    """The written shards' infos, and each shard no record went to written empty: every shard's info, once."""

    def __init__(self, writer: _WriteShard, counts: dict[Any, int]):
        self._writer = writer
        self._counts = counts

    def process(self, _, written):
        found = dict(written)
        for shard_set, count in self._counts.items():
            for index in range(count):
                key = (shard_set, index)
                yield found[key] if key in found else self._writer.write(key, [])


# Rows per row group of a sorted shard (about 40 MB of examples as Arrow).
ROWS_PER_GROUP = 8192


def _identity(record: dict) -> dict:
    return record


def _no_set(record: dict) -> None:
    return None


class WriteShardSets(beam.PTransform):
    """Records -> shards of several sets in one step: each record goes to the set `set_of(record)` names.

    `sets` maps a set to `(directory, shard count)`; a set's files are
    `<directory>/[<subdir>/]<prefix>-NNNNN-of-MMMMM.parquet`, exactly what
    `WriteShards` on that directory alone writes. Emits `(set, info)` per
    shard. `toolrm run` writes every corpus's ingest shards this way: one
    grouping step for them all, not one per corpus.
    """

    def __init__(self, sets: dict[Any, tuple[str, int]], prefix: str, schema: pa.Schema,
                 set_of: Callable[[dict], Any], shard_key: Callable[[dict], str], sort_key: Callable[[dict], Any],
                 to_row: Callable[[dict], dict] = _identity, subdir: str = "", tagged: bool = True):
        super().__init__()
        if not sets or any(count < 1 for _, count in sets.values()):
            raise ValueError("every shard set needs at least one shard")
        self._sets = dict(sets)
        self._prefix = prefix
        self._schema = schema
        self._set_of = set_of
        self._shard_key = shard_key
        self._sort_key = sort_key
        self._to_row = to_row
        self._subdir = subdir
        self._tagged = tagged

    def expand(self, records):
        counts = {shard_set: count for shard_set, (_, count) in self._sets.items()}
        set_of, shard_key, sort_key, to_row = self._set_of, self._shard_key, self._sort_key, self._to_row

        def keyed_row(record):
            # The shard groups every record: it carries them packed, each with its sort key.
            row = to_row(record)
            shard_set = set_of(record)
            return (shard_set, shard_of(shard_key(record), counts[shard_set])), (sort_key(row), pack(row))

        writer = _WriteShard(self._sets, self._prefix, self._schema, self._subdir, self._tagged)
        written = (
            records
            | "KeyByShard" >> beam.Map(keyed_row)
            | "GroupByShard" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(writer)
        )
        # The shards no record went to, written empty once every other is: one step reading what was
        # written as a side input. (Their keys flattened into the grouping's input instead cost two more
        # runner stages per writer: the keys' own, and the local runner's copy of the Flatten.)
        return (
            records.pipeline
            | "AllShards" >> beam.Impulse()
            | "WithEmpty" >> beam.ParDo(_EveryShard(writer, counts), beam.pvalue.AsList(written))
        )


class WriteShards(WriteShardSets):
    """Records -> `<directory>/[<subdir>/]<prefix>-NNNNN-of-MMMMM.parquet`; emits one info dict per shard.

    The info's `file` is relative to `directory`. The grouping by shard
    carries each record packed with its sort key (transforms/packed.py), and a
    shard is written `ROWS_PER_GROUP` sorted rows (one row group) at a time.
    """

    def __init__(self, directory: str, prefix: str, schema: pa.Schema, num_shards: int,
                 shard_key: Callable[[dict], str], sort_key: Callable[[dict], Any],
                 to_row: Callable[[dict], dict] = _identity, subdir: str = ""):
        if num_shards < 1:
            raise ValueError("num_shards must be at least 1")
        super().__init__({None: (directory, num_shards)}, prefix, schema, _no_set, shard_key, sort_key, to_row,
                         subdir, tagged=False)


class _WriteBundleFile(beam.DoFn):
    """Stream each bundle's records into one temporary Parquet file, a row group at a time."""

    def __init__(self, temp_dir: str, schema: pa.Schema, to_row: Callable[[dict], dict], rows_per_group: int,
                 bytes_per_group: int):
        self._temp_dir = temp_dir
        self._schema = schema
        self._to_row = to_row
        self._rows_per_group = rows_per_group
        self._bytes_per_group = bytes_per_group

    def start_bundle(self):
        self._writer = None
        # The row group being gathered, a batch at a time as Arrow: about half what the rows take as
        # Python objects (which also keep alive the records they were made from).
        self._batches: list[pa.Table] = []
        self._buffered = 0
        self._buffered_bytes = 0
        self._rows = 0
        self._first_key = None

    def process(self, batch):
        rows = [self._to_row(record) for record in batch]
        if not rows:
            return
        if self._first_key is None:
            self._first_key = _bundle_key(rows[0])
        table = fileio.arrow_table(rows, self._schema)
        self._batches.append(table)
        self._buffered += len(rows)
        self._buffered_bytes += table.nbytes
        if self._buffered >= self._rows_per_group or self._buffered_bytes >= self._bytes_per_group:
            self._flush()

    def _flush(self):
        if not self._batches:
            return
        if self._writer is None:
            fileio.makedirs(self._temp_dir)
            self._path = fileio.join(self._temp_dir, f"{uuid.uuid4().hex}.parquet")
            self._handle = fileio.open_write(self._path)
            self._writer = pq.ParquetWriter(self._handle, self._schema, compression="zstd")
        # One piece: the bytes depend on the rows, not on how they came batched.
        group = pa.concat_tables(self._batches).combine_chunks()
        self._batches = []
        self._writer.write_table(group)
        self._rows += self._buffered
        self._buffered = self._buffered_bytes = 0

    def finish_bundle(self):
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._handle.close()
            yield GlobalWindows.windowed_value({"temp": self._path, "rows": self._rows, "first_key": self._first_key})


def _bundle_key(row: dict) -> str:
    return "\x00".join(str(row.get(k, "")) for k in ("example_id", "candidate_id"))


class _PublishShards(beam.DoFn):
    """Rename the bundle files to `<prefix>-NNNNN-of-MMMMM.parquet`, ordered by their first row."""

    def __init__(self, directory: str, prefix: str, schema: pa.Schema, subdir: str = ""):
        self._directory = directory
        self._prefix = prefix
        self._schema = schema
        self._subdir = subdir

    def process(self, _, parts):
        parts = sorted(parts, key=lambda p: (p["first_key"], p["rows"], p["temp"]))
        if not parts:  # nothing to write: still publish one (empty) shard, so a reader finds the set
            parts = [{"temp": None, "rows": 0}]
        count = len(parts)
        for index, part in enumerate(parts):
            name = shard_name(self._prefix, index, count)
            name = f"{self._subdir}/{name}" if self._subdir else name
            target = fileio.join(self._directory, name)
            if part["temp"] is None:
                fileio.write_bytes_atomic(target, fileio.parquet_bytes([], self._schema))
            else:
                fileio.rename(part["temp"], target)
            size, digest = fileio.size_and_sha256(target)
            yield {"file": name, "rows": part["rows"], "bytes": size, "sha256": digest}


class WriteStreamingShards(beam.PTransform):
    """Batches of records -> Parquet shards written as they stream, in constant memory.

    Each bundle writes its own file (no shuffle of the records); a last step
    names the files in a stable order. Row content is deterministic; how rows
    split into files follows the runner's bundles, so compare shards by
    content, not by file. Records are not de-duplicated here. With `subdir`,
    files go to `<directory>/<subdir>/` and the infos name them relative to
    `directory`, as `WriteShards` does. A row group is written once it has
    `rows_per_group` rows or `bytes_per_group` bytes as Arrow (a writer holds
    about twice that while it writes one): pairs, whose rows carry the
    conversation and tools, reach the bytes first.
    """

    def __init__(self, directory: str, prefix: str, schema: pa.Schema, to_row: Callable[[dict], dict] = _identity,
                 rows_per_group: int = 20000, subdir: str = "", bytes_per_group: int = 32 << 20):
        super().__init__()
        self._directory = directory
        self._prefix = prefix
        self._schema = schema
        self._to_row = to_row
        self._rows_per_group = rows_per_group
        self._bytes_per_group = bytes_per_group
        self._subdir = subdir

    def expand(self, batches):
        folder = fileio.join(self._directory, self._subdir) if self._subdir else self._directory
        temp_dir = fileio.join(folder, f".tmp-{self._prefix}")
        parts = batches | "WriteBundles" >> beam.ParDo(
            _WriteBundleFile(temp_dir, self._schema, self._to_row, self._rows_per_group, self._bytes_per_group))
        return (
            batches.pipeline
            | "Once" >> beam.Impulse()
            | "Publish" >> beam.ParDo(_PublishShards(self._directory, self._prefix, self._schema, self._subdir),
                                      beam.pvalue.AsList(parts))
        )
