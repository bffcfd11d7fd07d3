"""Check input files before a pipeline starts: what cannot be read at all is said up front.

Row-level problems end in the dead letter; these are file-level ones, found
before anything runs so that a job never "succeeds" on nothing:

- unusable files (a zero-byte file, a file of blank lines, a zero-byte or
  non-Parquet `.parquet`, a directory where a file is expected): each is
  named with its reason. With other usable inputs the run goes on, warns,
  and records the file with 0 rows (`skipped` in the manifest); when none is
  usable the command stops with an InputError (exit status 2).
- Parquet files whose schema does not fit the reader (a missing column, a
  column of the wrong type, an all-null column that pandas writes as type
  null): an InputError naming the file and each column, not a dead letter per row.
- side files a data file needs (an ACEBench/BFCL answer file, the Seal-Tools
  catalog): missing, empty or unusable is an InputError. Answers whose id
  matches no question are a warning with their count.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from toolrm_beam.schemas.adapters.base import BOOLEAN, LIST, NUMBER, OBJECT, TEXT
from toolrm_beam.transforms import fileio
from toolrm_beam.transforms.fileio import InputError
from toolrm_beam.transforms.read_rows import PARQUET_SUFFIXES

_BLANK = b" \t\r\n\f\v"
_BOM = b"\xef\xbb\xbf"



class NoUsableInput(InputError):
    """Every file a set of globs matched is unusable (each is named with its reason)."""


@dataclasses.dataclass
class InputCheck:
    """What a set of input globs holds: usable files, skipped ones with reasons, warnings."""
    files: list[str]
    skipped: list[dict[str, str]] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    counts: dict[str, int] = dataclasses.field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The manifest's record of this check."""
        return {"skipped_inputs": self.skipped, "input_warnings": self.warnings, **self.counts}


def column_kind(arrow_type: pa.DataType) -> str:
    if pa.types.is_null(arrow_type):
        return "null"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or \
            getattr(pa.types, "is_string_view", lambda _: False)(arrow_type):
        return TEXT
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return NUMBER
    if pa.types.is_boolean(arrow_type):
        return BOOLEAN
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type):
        return LIST
    if pa.types.is_struct(arrow_type) or pa.types.is_map(arrow_type):
        return OBJECT
    return str(arrow_type)


def column_problems(schema: pa.Schema, required: dict[str, tuple[str, ...]]) -> list[str]:
    """One line per required column that is missing or of a kind the reader cannot use."""
    problems = []
    for name, kinds in required.items():
        if name not in schema.names:
            problems.append(f"column {name!r} is missing")
            continue
        kind = column_kind(schema.field(name).type)
        if kind == "null":
            problems.append(f"column {name!r} is all null (Arrow type null); expected {' or '.join(kinds)}")
        elif kind not in kinds:
            problems.append(f"column {name!r} has type {schema.field(name).type}; expected {' or '.join(kinds)}")
    return problems


def inspect_file(path: str, *, empty_parquet_ok: bool = False) -> tuple[str | None, pa.Schema | None]:
    """`(why the file holds no rows at all, or None; its Arrow schema if it is Parquet)`.

    `empty_parquet_ok`: a Parquet file with a schema and no rows is fine (the
    pipeline's own shards: every shard index is written, empty ones too).
    """
    try:
        with fileio.open_read(path) as handle:
            head = handle.read(4)
    except (OSError, ValueError) as error:
        return f"cannot be read ({type(error).__name__}: {error})", None
    if not head:
        return "empty file (0 bytes)", None
    if path.lower().endswith(PARQUET_SUFFIXES):
        try:
            with fileio.open_read(path) as handle:
                parquet = pq.ParquetFile(handle)
                schema, rows = parquet.schema_arrow, parquet.metadata.num_rows
        except Exception as error:  # noqa: BLE001 - pyarrow raises several types for a bad footer
            return f"not a Parquet file ({type(error).__name__}: {str(error)[:200]})", None
        return ("empty Parquet file (0 rows)" if rows == 0 and not empty_parquet_ok else None), schema
    if _only_blank(path):
        return "holds only blank lines", None
    return None, None


def _only_blank(path: str) -> bool:
    with fileio.open_read(path) as handle:
        first = True
        for block in iter(lambda: handle.read(1 << 16), b""):
            if first and block.startswith(_BOM):
                block = block[len(_BOM):]
            first = False
            if block.strip(_BLANK):
                return False
    return True


def expand(patterns: Iterable[str]) -> tuple[list[str], list[dict[str, str]]]:
    """Globs -> files, and the directories given where a file is expected (as skipped entries)."""
    files: list[str] = []
    directories: list[dict[str, str]] = []
    for pattern in patterns:
        if _is_plain_directory(pattern):
            directories.append({"file": pattern, "reason": f"is a folder: give a glob of its files, e.g. "
                                                           f"'{pattern.rstrip('/')}/*.json'"})
            continue
        files.extend(fileio.match_inputs([pattern]))
    return sorted(dict.fromkeys(files)), directories


def _is_plain_directory(pattern: str) -> bool:
    local = pattern[len("file://"):] if pattern.startswith("file://") else pattern
    return "://" not in local and not any(c in local for c in "*?[") and os.path.isdir(local)


def check_files(files: list[str], skipped: list[dict[str, str]], *,
                columns: dict[str, tuple[str, ...]] | None = None, what: str = "input",
                empty_parquet_ok: bool = False) -> InputCheck:
    """Split files into usable and skipped; schema misfits raise. InputError if none is usable."""
    usable = []
    skipped = list(skipped)
    misfits = []
    for path in files:
        problem, schema = inspect_file(path, empty_parquet_ok=empty_parquet_ok)
        if problem is not None:
            skipped.append({"file": path, "reason": problem})
            continue
        if columns and schema is not None:
            problems = column_problems(schema, columns)
            if problems:
                misfits.append(f"{path}: " + "; ".join(problems))
                continue
        usable.append(path)
    if misfits:
        raise InputError(f"{what} Parquet schema does not fit: " + " | ".join(misfits))
    if not usable:
        reasons = "; ".join(describe(s) for s in skipped) or "no files"
        raise NoUsableInput(f"no usable {what} file: {reasons}")
    return InputCheck(files=usable, skipped=skipped,
                      warnings=[f"{describe(s)}; 0 rows counted" for s in skipped],
                      counts={"files_skipped": len(skipped)})


def describe(skipped: dict[str, str]) -> str:
    """A skipped input in words: `input 'DIR' is a folder: ...`, `FILE: empty file (0 bytes)`."""
    if skipped["reason"].startswith("is a folder"):
        return f"input {skipped['file']!r} {skipped['reason']}"
    return f"{skipped['file']}: {skipped['reason']}"


def check_inputs(patterns: Iterable[str], *, columns: dict[str, tuple[str, ...]] | None = None,
                 what: str = "input", empty_parquet_ok: bool = False) -> InputCheck:
    """Expand globs and check every file (see the module docstring)."""
    files, directories = expand(patterns)
    return check_files(files, directories, columns=columns, what=what, empty_parquet_ok=empty_parquet_ok)


def record_columns(schema: pa.Schema, names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The required columns of one of the pipeline's own records, with their kinds, from its Arrow schema."""
    return {name: (column_kind(schema.field(name).type),) for name in names}


def check_corpus_inputs(source: str, patterns: Iterable[str]) -> InputCheck:
    """The data files of a corpus, checked, with their side files loaded once to prove them usable."""
    from toolrm_beam.schemas.adapters import get_adapter

    adapter = get_adapter(source)
    patterns = list(patterns)
    files, directories = expand(patterns)
    data_files = [f for f in files if adapter.is_data_file(f)]
    if not data_files and not directories:
        raise InputError(f"no {adapter.name} data files among {patterns} (only side files matched)")
    checked = check_files(data_files, directories, columns=adapter.required_columns, what=f"{adapter.name}")
    side_problems = []
    contexts: dict[str, Any] = {}  # context key -> context or the error loading it: files sharing side data
    for path in checked.files:
        key = adapter.context_key(path)
        if key not in contexts:
            try:
                contexts[key] = adapter.load_context(path, fileio.open_read)
            except Exception as error:  # noqa: BLE001 - any side-file failure is reported, not raised raw
                contexts[key] = error
        context = contexts[key]
        if isinstance(context, Exception):
            side_problems.append(f"{path}: {type(context).__name__}: {context}")
            continue
        for warning, counter, count in adapter.context_warnings(path, context, fileio.open_read):
            checked.warnings.append(warning)
            checked.counts[counter] = checked.counts.get(counter, 0) + count
    if side_problems:
        raise InputError(f"{adapter.name}: side files unusable: " + " | ".join(side_problems))
    return checked


def check_corpora(corpora: list[tuple[str, str]], found: dict[tuple[str, str], InputCheck] | None = None,
                  ) -> tuple[list[tuple[str, str]], list[str]]:
    """Check every (source, glob) of a multi-corpus job before any stage starts.

    Returns the corpora with a usable file, and a warning for each one skipped
    because none of its files is usable (the stages that read the others warn
    about their own skipped files). Raises InputError for a hard problem in
    any corpus (a schema misfit, a missing side file) and when no corpus has a
    usable file. `found`, if given, gets each usable corpus's InputCheck
    under its (source, glob), for a plan made right after (`end_to_end.plan_run`)
    not to check the files again.
    """
    usable, skipped = [], []
    for source, pattern in corpora:
        try:
            checked = check_corpus_inputs(source, [pattern])
            if found is not None:
                found[(source, pattern)] = checked
        except NoUsableInput as error:
            skipped.append(f"{source} {pattern!r}: {error}")
            continue
        usable.append((source, pattern))
    if not usable:
        raise NoUsableInput("; ".join(skipped))
    return usable, [f"{reason}; skipped, 0 rows counted" for reason in skipped]
