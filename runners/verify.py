"""`toolrm verify`: label candidate tool calls against BFCL-style references.

Rows (JSONL or Parquet) carry `tools` (list of specs in any supported
dialect), `reference` (BFCL ground truth `[{fn: {param: [values]}}]`; an empty
list means no call is right) and `candidate` (decoded calls or raw text).
Output rows are the input rows plus `correct`, `error_type` and `detail`. A
row whose tools or reference are unusable (or that is not data: NaN,
duplicate keys, an unpaired surrogate) gets `correct = null`,
`error_type = "invalid_row"` and the reason, instead of stopping the run.
Candidates are decoded strictly (`--decoding lenient` reads a single call
object as a list of one). A missing, empty, non-Parquet or ill-fitting input
file is one line and exit status 2.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from typing import Any, Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from toolrm_beam.schemas import strict_json
from toolrm_beam.schemas.adapters.base import AdaptError, JSON_VALUE
from toolrm_beam.schemas.adapters.common import normalize_tools
from toolrm_beam.schemas.checker import check
from toolrm_beam.schemas.decoding import DECODINGS, STRICT
from toolrm_beam.schemas.records import REFERENCE_CALL, REFERENCE_NO_CALL, reference_from_bfcl
from toolrm_beam.schemas.tool_spec import ToolSpecError
from toolrm_beam.transforms.dead_letter import writable_text
from toolrm_beam.transforms.fileio import InputError
from toolrm_beam.transforms.input_files import check_inputs
from toolrm_beam.transforms.read_rows import PARQUET_SUFFIXES, iter_file_rows

_JSON_COLUMNS = ("tools", "reference", "candidate")
COLUMNS = {"tools": JSON_VALUE, "reference": JSON_VALUE, "candidate": JSON_VALUE}


def _maybe_json(value: Any, field: str) -> Any:
    """A JSON-typed cell given as text is decoded, strictly: NaN, duplicate keys and the like make the row invalid."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("[", "{"):
            try:
                return strict_json.loads(stripped)
            except strict_json.StrictJSONError as error:
                if error.reason == "malformed_json":
                    return value  # left as text: the tools/reference checks below say what is wrong
                raise ValueError(f"{field}: {error}") from None
    return value


def verify_row(row: dict[str, Any], decoding: str = STRICT) -> dict[str, Any]:
    """Return the row with `correct`, `error_type` and `detail` added."""
    out = dict(row)
    try:
        missing = [name for name in ("tools", "reference", "candidate") if name not in row]
        if missing:
            raise ValueError(f"missing field(s) {missing}")
        tools = normalize_tools(_maybe_json(row.get("tools"), "tools"))
        reference = reference_from_bfcl(_maybe_json(row.get("reference"), "reference"))
        candidate = row.get("candidate")
        kind = REFERENCE_CALL if reference else REFERENCE_NO_CALL
        result = check(tools, reference, candidate, reference_kind=kind, decoding=decoding)
    except (ToolSpecError, AdaptError, ValueError, TypeError) as error:
        out.update(correct=None, error_type="invalid_row", detail=f"{type(error).__name__}: {error}")
        return out
    out.update(correct=result.correct,
               error_type=result.error_type.value if result.error_type else None,
               detail=result.detail)
    return out


def read_rows(path: str) -> Iterator[dict[str, Any]]:
    for number, row, error in iter_file_rows(path):
        if error is not None or not isinstance(row, dict):
            yield {"_row_number": number, "_raw": row if isinstance(row, str) else repr(row),
                   "_read_error": error or "row is not an object"}
        else:
            yield row


def verify_rows(rows: Iterable[dict[str, Any]], decoding: str = STRICT) -> Iterator[dict[str, Any]]:
    for row in rows:
        if "_read_error" in row:
            yield {**row, "correct": None, "error_type": "invalid_row", "detail": row["_read_error"]}
        else:
            yield verify_row(row, decoding)


_SCALARS = (bool, int, float, str)


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows of any shapes as one table: every column any row has; a column whose values are not all
    one scalar type is stored as JSON text (structured columns always are)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        kinds = {type(v) for v in values if v is not None}
        if name in _JSON_COLUMNS or len(kinds) > 1 or (kinds and not kinds <= set(_SCALARS)):
            values = [v if v is None or (isinstance(v, str) and name not in _JSON_COLUMNS) else
                      v if isinstance(v, str) else _json_text(v) for v in values]
        columns[name] = [writable_text(v) if isinstance(v, str) else v for v in values]
    return pa.table(columns)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def write_rows(path: str, rows: list[dict[str, Any]]) -> None:
    """Parquet by extension, else JSONL; text that is not valid Unicode is written escaped, never a crash."""
    if path.lower().endswith(PARQUET_SUFFIXES):
        pq.write_table(_table(rows), path)
        return
    with open(path, "wb") as handle:
        for row in rows:
            line = json.dumps(row, ensure_ascii=False, default=str) + "\n"
            handle.write(line.encode("utf-8", "backslashreplace"))


def main(argv: list[str] | None = None) -> int:
    from toolrm_beam.runners.cli import guarded

    return guarded("verify", _main, list(sys.argv[1:] if argv is None else argv))


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="toolrm verify", description="Label tool calls with the BFCL-style checker.")
    parser.add_argument("--input", required=True, help="JSONL or Parquet file")
    parser.add_argument("--output", required=True, help="JSONL or Parquet file (by extension)")
    parser.add_argument("--decoding", default=STRICT, choices=DECODINGS,
                        help="strict (default): a single call object is a parsing error, as the correctness rules "
                             "say; lenient: it is a list of one call")
    args = parser.parse_args(argv)
    source = check_inputs([args.input], columns=COLUMNS, what="verify input").files[0]
    output_dir = os.path.dirname(os.path.abspath(args.output))
    if os.path.isdir(args.output) or not os.path.isdir(output_dir):
        raise InputError(f"--output {args.output!r}: not a file path in an existing directory")
    rows = list(verify_rows(read_rows(source), args.decoding))
    try:
        write_rows(args.output, rows)
    except OSError as error:
        raise InputError(f"cannot write {args.output}: {error}") from None
    verdicts = collections.Counter("correct" if r["correct"] else (r["error_type"] or "incorrect") for r in rows)
    print(f"verified {len(rows)} rows ({args.decoding} decoding) -> {args.output}")
    for verdict, count in verdicts.most_common():
        print(f"  {verdict:40s} {count}")
    return 0
