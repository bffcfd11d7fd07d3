"""WriteShardSets: every shard of every set written once, empty ones included, rows sorted, on local runners."""
from __future__ import annotations

import os

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that

from pipeline_graph import leaf_kinds
from toolrm_beam.transforms.write_shards import WriteShardSets, shard_name, shard_of

SCHEMA = pa.schema([("id", pa.string()), ("part", pa.string()), ("n", pa.int64())])


@pytest.mark.parametrize("options", [[], ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]])
def test_every_shard_is_written_once_and_the_empty_ones_too(tmp_path, options):
    records = [{"id": f"r{i:02d}", "part": "a" if i % 3 else "b", "n": i} for i in range(7)]
    sets = {"a": (str(tmp_path / "a"), 5), "b": (str(tmp_path / "b"), 4), "c": (str(tmp_path / "c"), 2)}
    expected_files = {(s, shard_name("rows", i, count)) for s, (_, count) in sets.items() for i in range(count)}

    def one_info_per_shard(infos):
        named = [(s, info["file"]) for s, info in infos]
        assert sorted(named) == sorted(expected_files), named  # each once: none missing, none twice
        assert sum(info["rows"] for _, info in infos) == len(records)

    with beam.Pipeline(options=PipelineOptions(options)) as pipeline:
        infos = (pipeline | beam.Create(records) | "Write" >> WriteShardSets(
            sets, "rows", SCHEMA, set_of=lambda r: r["part"], shard_key=lambda r: r["id"],
            sort_key=lambda r: r["id"]))
        assert_that(infos, one_info_per_shard)
        kinds = leaf_kinds(pipeline, "Write/")
    assert "Flatten" not in kinds, kinds  # the empty shards' keys are not flattened into the grouping

    for shard_set, (directory, count) in sets.items():
        assert sorted(os.listdir(directory)) == [shard_name("rows", i, count) for i in range(count)]
        for index in range(count):
            rows = pq.read_table(os.path.join(directory, shard_name("rows", index, count))).to_pylist()
            assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
            assert rows == [r for r in sorted(records, key=lambda r: r["id"])
                            if r["part"] == shard_set and shard_of(r["id"], count) == index]
