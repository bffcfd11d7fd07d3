"""`toolrm verify`: label candidate tool calls against BFCL-style references.

Rows (JSONL or Parquet) carry `tools` (list of specs in any supported
dialect), `reference` (BFCL ground truth `[{fn: {param: [values]}}]`; an empty
list means no call is right) and `candidate` (decoded calls or raw text).
Output rows are the input rows plus `correct`, `error_type` and `detail`. A
row whose tools or reference are unusable gets `correct = null`,
`error_type = "invalid_row"` and the reason, instead of stopping the run.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from typing import Any, Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from toolrm_beam.schemas.checker import check
from toolrm_beam.schemas.records import REFERENCE_CALL, REFERENCE_NO_CALL, reference_from_bfcl
from toolrm_beam.schemas.adapters.common import normalize_tools
from toolrm_beam.schemas.tool_spec import ToolSpecError
from toolrm_beam.transforms.read_rows import PARQUET_SUFFIXES, iter_file_rows

_JSON_COLUMNS = ("tools", "reference", "candidate")


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("[", "{"):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                return value
    return value


def verify_row(row: dict[str, Any]) -> dict[str, Any]:
    """Return the row with `correct`, `error_type` and `detail` added."""
    out = dict(row)
    try:
        tools = normalize_tools(_maybe_json(row.get("tools")))
        reference = reference_from_bfcl(_maybe_json(row.get("reference")))
        candidate = row.get("candidate")
        kind = REFERENCE_CALL if reference else REFERENCE_NO_CALL
        result = check(tools, reference, candidate, reference_kind=kind)
    except (ToolSpecError, ValueError, TypeError) as error:
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


def verify_rows(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        if "_read_error" in row:
            yield {**row, "correct": None, "error_type": "invalid_row", "detail": row["_read_error"]}
        else:
            yield verify_row(row)


def write_rows(path: str, rows: list[dict[str, Any]]) -> None:
    if path.lower().endswith(PARQUET_SUFFIXES):
        # Structured columns are stored as JSON text so mixed shapes fit one schema.
        table_rows = [{k: (json.dumps(v, ensure_ascii=False) if k in _JSON_COLUMNS and not isinstance(v, str) else v)
                       for k, v in row.items()} for row in rows]
        pq.write_table(pa.Table.from_pylist(table_rows), path)
        return
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="toolrm verify", description="Label tool calls with the BFCL-style checker.")
    parser.add_argument("--input", required=True, help="JSONL or Parquet file")
    parser.add_argument("--output", required=True, help="JSONL or Parquet file (by extension)")
    args = parser.parse_args(argv)
    try:
        rows = list(verify_rows(read_rows(args.input)))
    except OSError as error:
        print(f"toolrm verify: cannot read {args.input}: {error}", file=sys.stderr)
        return 2
    write_rows(args.output, rows)
    verdicts = collections.Counter("correct" if r["correct"] else (r["error_type"] or "incorrect") for r in rows)
    print(f"verified {len(rows)} rows -> {args.output}")
    for verdict, count in verdicts.most_common():
        print(f"  {verdict:40s} {count}")
    return 0
