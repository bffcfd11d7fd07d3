"""Pieces every pipeline shares: versions, shard counts, record rows, run options."""
from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
from typing import Any

import apache_beam as beam
import pyarrow as pa

from toolrm_beam import DISTRIBUTION
from toolrm_beam.runners.presets import make_runner, pipeline_options
from toolrm_beam.schemas.records import CANDIDATE_ARROW_SCHEMA, CANDIDATE_JSON_FIELDS, EXAMPLE_JSON_FIELDS, to_row
from toolrm_beam.transforms import fileio

MANIFEST = "manifest.json"
# Target uncompressed input per output shard; keeps a shard's sort in memory small.
_BYTES_PER_SHARD = 128 * 1024 * 1024


def versions() -> dict[str, str]:
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"toolrm": version(DISTRIBUTION), "apache-beam": version("apache-beam"),
            "pyarrow": pa.__version__, "python": platform.python_version()}


def default_num_shards(files: list[str]) -> int:
    total = 0
    for path in files:
        try:
            total += os.path.getsize(path) if "://" not in path else 0
        except OSError:
            pass
    return max(1, math.ceil(total / _BYTES_PER_SHARD))


def example_row(example: dict[str, Any]) -> dict[str, Any]:
    return to_row(example, EXAMPLE_JSON_FIELDS)


def candidate_row(candidate: dict[str, Any]) -> dict[str, Any]:
    row = to_row(candidate, CANDIDATE_JSON_FIELDS)
    return {field.name: row.get(field.name) for field in CANDIDATE_ARROW_SCHEMA}


def make_pipeline(runner: str, beam_args: list[str], test_pipeline: beam.Pipeline | None = None) -> beam.Pipeline:
    if test_pipeline is not None:
        return test_pipeline
    return beam.Pipeline(runner=make_runner(runner), options=pipeline_options(runner, beam_args))


def read_manifest(output: str) -> dict[str, Any]:
    with fileio.open_read(fileio.join(output, MANIFEST)) as handle:
        return json.loads(handle.read())


_SHARD_FILE = re.compile(r"^[a-z_]+-\d{5}-of-\d{5}\.parquet$")


def remove_stale_shards(output: str, manifest: dict[str, Any]) -> None:
    """Delete shard files of an earlier run that this run did not write, and leftover temp files.

    Only local outputs, and only in the folders this run wrote to; only names
    of the `<prefix>-NNNNN-of-MMMMM.parquet` form are touched.
    """
    if "://" in output:
        return
    current = {shard["file"] for shards in manifest["files"].values() for shard in shards}
    folders = {os.path.dirname(name) for name in current} | {""}
    for folder in folders:
        directory = os.path.join(output, folder)
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            relative = os.path.join(folder, name) if folder else name
            if _SHARD_FILE.match(name) and relative not in current:
                os.remove(path)
            elif name.startswith(".tmp-") and os.path.isdir(path):
                shutil.rmtree(path)  # bundle files are renamed out; anything left is from a killed run
