"""File access shared by the pipelines: matching, opening and atomic writes.

Beam's `FileSystems` handles local paths and `gs://` (and whatever else the
installed Beam extras register); other URLs fall back to fsspec, so any
protocol fsspec knows works too. Everything is resolved before the pipeline
starts so a missing input is a clear error, not a failed job.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import uuid
from typing import BinaryIO, Iterable

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

_BEAM_SCHEMES = ("gs", "file", "")


class InputError(ValueError):
    """An input glob or path that cannot be used; raised before the pipeline runs."""


def _scheme(path: str) -> str:
    return path.split("://", 1)[0] if "://" in path else ""


def _uses_beam(path: str) -> bool:
    return _scheme(path) in _BEAM_SCHEMES


def match_inputs(patterns: Iterable[str]) -> list[str]:
    """Expand globs to a sorted, de-duplicated list of files; error if any matches nothing."""
    files: list[str] = []
    for pattern in patterns:
        try:
            if _uses_beam(pattern):
                [result] = FileSystems.match([pattern])
                found = [m.path for m in result.metadata_list]
            else:
                fs, _, paths = fsspec.get_fs_token_paths(pattern)
                found = [fs.unstrip_protocol(p) for p in paths if fs.isfile(p)]
        except Exception as error:  # any filesystem failure is an input error here
            raise InputError(f"cannot read input {pattern!r}: {error}") from None
        found = [f for f in found if not _is_directory(f)]
        if not found and _is_directory(pattern):
            raise InputError(f"input {pattern!r} is a folder: give a glob of its files, e.g. "
                             f"'{pattern.rstrip('/')}/*.json'")
        if not found:
            raise InputError(f"input {pattern!r} matches no files")
        files.extend(found)
    for path in files:
        if _scheme(path) == "" and not os.access(path, os.R_OK):
            raise InputError(f"input file {path!r} is not readable")
    return sorted(dict.fromkeys(files))


def _is_directory(path: str) -> bool:
    return _scheme(path) == "" and os.path.isdir(path)


def is_folder(path: str) -> bool:
    """A local directory, a prefix on an object store that is not itself a file, or an fsspec directory."""
    if _scheme(path) == "":
        return os.path.isdir(path)
    if _uses_beam(path):
        return path.endswith("/") or not FileSystems.exists(path)
    fs, _, [stripped] = fsspec.get_fs_token_paths(path)
    return fs.isdir(stripped)


def list_folder(path: str) -> list[str]:
    """Names of the files directly in a folder (local, object-store prefix or fsspec)."""
    if _scheme(path) == "":
        return sorted(name for name in os.listdir(path) if os.path.isfile(os.path.join(path, name)))
    if _uses_beam(path):
        [result] = FileSystems.match([join(path.rstrip("/"), "*")])
        return sorted(m.path.rsplit("/", 1)[-1] for m in result.metadata_list)
    fs, _, [stripped] = fsspec.get_fs_token_paths(path)
    return sorted(entry.rsplit("/", 1)[-1] for entry in fs.ls(stripped, detail=False) if fs.isfile(entry))


def open_read(path: str) -> BinaryIO:
    if _uses_beam(path):
        return FileSystems.open(path)
    return fsspec.open(path, "rb").open()


def exists(path: str) -> bool:
    if _uses_beam(path):
        return FileSystems.exists(path)
    fs, _, [stripped] = fsspec.get_fs_token_paths(path)
    return fs.exists(stripped)


def join(base: str, *parts: str) -> str:
    if _uses_beam(base):
        return FileSystems.join(base, *parts)
    return "/".join([base.rstrip("/"), *parts])


def makedirs(path: str) -> None:
    """Create an output directory; an existing file in its place is an InputError (before anything runs)."""
    if _scheme(path) == "":
        if os.path.exists(path) and not os.path.isdir(path):
            raise InputError(f"output {path!r} is a file, not a directory")
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as error:
            raise InputError(f"cannot create output directory {path!r}: {error.strerror or error}") from None


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Write a file so readers see the old content or the new, never a partial one.

    Local files: write a temporary sibling, then `os.replace`. Object stores
    publish an object only when its upload completes, so a direct write is
    already atomic there.
    """
    if _scheme(path) == "":
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        temporary = f"{path}.tmp-{uuid.uuid4().hex}"
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        return
    if _uses_beam(path):
        with FileSystems.create(path) as handle:
            handle.write(data)
        return
    with fsspec.open(path, "wb") as handle:
        handle.write(data)


def open_write(path: str) -> BinaryIO:
    if _scheme(path) == "":
        return open(path, "wb")
    if _uses_beam(path):
        return FileSystems.create(path)
    return fsspec.open(path, "wb").open()


def rename(source: str, target: str) -> None:
    """Move a finished file into place (atomic locally; copy-then-delete on object stores)."""
    if _scheme(source) == "":
        os.replace(source, target)
    elif _uses_beam(source):
        FileSystems.rename([source], [target])
    else:
        fs, _, [src] = fsspec.get_fs_token_paths(source)
        fs.mv(src, fsspec.get_fs_token_paths(target)[2][0])


def size_and_sha256(path: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open_read(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def arrow_table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table. The last line of defence of every writer: text that is not valid
    Unicode (an unpaired surrogate; the stages refuse it upstream) is written escaped (`\\ud83d`)
    with a warning, so one such value never fails a whole shard."""
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except UnicodeEncodeError:
        logging.getLogger(__name__).warning("escaping unpaired surrogates in rows being written (%s)",
                                            schema.metadata.get(b"toolrm.record", b"?").decode()
                                            if schema.metadata else "rows")
        return pa.Table.from_pylist([_escaped(row) for row in rows], schema=schema)


def _escaped(value):
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escaped(v) for v in value]
    return value


def parquet_bytes(rows: list[dict], schema: pa.Schema) -> bytes:
    """Serialize rows to Parquet in memory (zstd; deterministic for the same rows)."""
    return bytes(parquet_row_groups([arrow_table(rows, schema)], schema))


def parquet_row_groups(tables: Iterable[pa.Table], schema: pa.Schema) -> memoryview:
    """Serialize Arrow tables to Parquet in memory, one row group each, in order (zstd;
    deterministic for the same tables): only one table need exist as Arrow at a time."""
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, schema, compression="zstd", write_statistics=True) as writer:
        written = False
        for table in tables:
            writer.write_table(table, row_group_size=max(1, table.num_rows))
            written = True
        if not written:
            writer.write_table(arrow_table([], schema))
    return sink.getbuffer()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
