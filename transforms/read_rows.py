"""Read raw rows from JSONL/JSON/Parquet files, keeping file and row number.

Row numbers are 1-based: the line number for JSONL (blank lines are not
rows), the row index for Parquet and JSON arrays; a file whose first line is
`{` alone (one JSON object, pretty-printed) is that one row. Rows are
parsed strictly (schemas/strict_json.py): NaN, duplicate keys and unpaired
surrogates make a row a dead letter with the reason. A file that cannot be read
at all (a truncated Parquet footer, say) becomes one dead-letter record with
row number 0, so the job goes on and the loss is visible.
"""
from __future__ import annotations

import codecs
import itertools
from typing import Any, Iterator

import apache_beam as beam
import pyarrow.parquet as pq

from toolrm_beam.schemas import strict_json
from toolrm_beam.transforms import fileio
from toolrm_beam.transforms.dead_letter import dead_letter
from toolrm_beam.transforms.packed import PackedReshuffle

ROWS = "rows"
DEAD_LETTER = "dead_letter"

PARQUET_SUFFIXES = (".parquet", ".pq")
_BATCH_ROWS = 1024


def iter_file_rows(path: str) -> Iterator[tuple[int, Any, str | None]]:
    """Yield `(row_number, row, error)`; `row` is a parsed object or the raw text on error."""
    if path.lower().endswith(PARQUET_SUFFIXES):
        yield from _iter_parquet(path)
    else:
        yield from _iter_json_lines(path)


def _iter_parquet(path: str) -> Iterator[tuple[int, Any, str | None]]:
    with fileio.open_read(path) as handle:
        parquet = pq.ParquetFile(handle)
        number = 0
        for batch in parquet.iter_batches(batch_size=_BATCH_ROWS):
            for row in batch.to_pylist():
                number += 1
                # Arrow strings are valid UTF-8. A NaN in a top-level number column is how pandas
                # writes a missing number; one inside a list or struct is a value, and refused.
                nested = {key: value for key, value in row.items() if not isinstance(value, float)}
                found = strict_json.problem(nested, strings=False)
                if found is None:
                    yield number, row, None
                else:
                    yield number, row, f"{found[0]}: {found[1]}"


# UTF-32 first: its little-endian BOM starts with UTF-16's.
_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
              (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _wide_encoding(path: str) -> str | None:
    """UTF-16/32 named by a byte-order mark: read as bytes, every newline would split a character."""
    with fileio.open_read(path) as handle:
        head = handle.read(4)
    return next((name for bom, name in _WIDE_BOMS if head.startswith(bom)), None)


def _iter_wide_text(path: str, encoding: str) -> Iterator[tuple[int, Any, str | None]]:
    """A UTF-16/32 JSON or JSONL file: decoded whole, then parsed like a UTF-8 one."""
    with fileio.open_read(path) as handle:
        data = handle.read()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        yield 0, data[:100_000], f"bad_encoding: file is not valid {encoding.upper()} ({error.reason} at byte {error.start})"
        return
    if text.lstrip().startswith("["):
        yield from _iter_array(text)
        return
    for number, line in enumerate(text.split("\n"), start=1):
        yield from _parse_line(number, line.encode("utf-8"))


def _iter_json_lines(path: str) -> Iterator[tuple[int, Any, str | None]]:
    encoding = _wide_encoding(path)
    if encoding is not None:
        yield from _iter_wide_text(path, encoding)
        return
    with fileio.open_read(path) as handle:
        first = handle.read(1)
        rest = handle.read() if first == b"[" else None
        if rest is not None:
            # A JSON array file: rows are its elements.
            try:
                text = (first + rest).decode("utf-8-sig")
            except UnicodeDecodeError as error:
                yield 0, (first + rest)[:100_000], f"bad_encoding: file is not UTF-8 ({error.reason} at byte {error.start})"
                return
            yield from _iter_array(text)
            return
        lines = iter(handle.readline, b"")
        head = first + next(lines, b"")
        if head.strip() == b"{":
            # One JSON object spread over lines (a pretty-printed record): the file is that one row.
            whole = head + handle.read()
            try:
                text = whole.decode("utf-8-sig")
                value = strict_json.parse(text)
            except (UnicodeDecodeError, strict_json.StrictJSONError):
                value = text = None
            if value is not None and not isinstance(value, list):
                found = strict_json.problem(value)
                yield (1, value, None) if found is None else (1, text[:100_000], f"{found[0]}: {found[1]}")
                return
            lines = iter(whole[len(head):].splitlines(keepends=True))
        number = 0
        for line in itertools.chain([head] if head else [], lines):
            number += 1
            yield from _parse_line(number, line)


def _iter_array(text: str) -> Iterator[tuple[int, Any, str | None]]:
    """The elements of a JSON array file; a flawed element is refused alone, not the file."""
    try:
        items = strict_json.parse(text)
    except strict_json.StrictJSONError as error:
        yield 0, text[:100_000], f"malformed_json: file is not a JSON array: {error.detail}"
        return
    if not isinstance(items, list):
        yield 0, text[:100_000], "malformed_json: file is not a JSON array"
        return
    for number, item in enumerate(items, start=1):
        found = strict_json.problem(item)
        yield (number, item, None) if found is None else (number, item, f"{found[0]}: {found[1]}")


def _parse_line(number: int, raw: bytes) -> Iterator[tuple[int, Any, str | None]]:
    if not raw.strip():
        return
    try:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as error:
        yield number, raw, f"bad_encoding: row is not UTF-8 ({error.reason} at byte {error.start})"
        return
    try:
        yield number, strict_json.loads(text), None
    except strict_json.StrictJSONError as error:
        yield number, text, f"{error.reason}: {error.detail}"


class _ReadFileRows(beam.DoFn):
    def process(self, path: str):
        try:
            for number, row, error in iter_file_rows(path):
                if error is None:
                    yield path, number, row
                else:
                    reason, detail = error.split(": ", 1)
                    yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter(path, number, "read", reason, detail, row))
        except Exception as error:  # unreadable file: one visible record, not a crashed job
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                dead_letter(path, 0, "read", "unreadable_file", f"{type(error).__name__}: {error}", b""),
            )


class ReadRows(beam.PTransform):
    """Paths -> `(path, row_number, row)` tuples, plus dead letters.

    With `reshuffle` (the default) rows are redistributed after reading so
    that work on a big file spreads across workers. Without it, reading fuses
    with the stages after it and rows stream through in constant memory, with
    parallelism across files: right for inputs already written as shards.
    """

    def __init__(self, reshuffle: bool = True):
        super().__init__()
        self._reshuffle = reshuffle

    def expand(self, paths):
        results = paths | "ReadFile" >> beam.ParDo(_ReadFileRows()).with_outputs(DEAD_LETTER, main=ROWS)
        rows = results[ROWS] | "Spread" >> PackedReshuffle() if self._reshuffle else results[ROWS]
        return {ROWS: rows, DEAD_LETTER: results[DEAD_LETTER]}
