"""The dead-letter record: every row that cannot go on, with the reason."""
from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from toolrm_beam.schemas.strict_json import has_unpaired_surrogate

DEAD_LETTER_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("row_number", pa.int64(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("raw_row", pa.string(), nullable=False),
    ],
    metadata={"toolrm.record": "dead_letter", "toolrm.schema_version": "1.0"},
)

# Longer raw rows are cut in the dead letter (the source file still has them).
MAX_RAW_CHARS = 100_000


def raw_text(row: Any) -> str:
    """The raw row as text: lines stay as read, structured rows become JSON."""
    if isinstance(row, bytes):
        text = row.decode("utf-8", errors="backslashreplace")
    elif isinstance(row, str):
        text = row
    else:
        try:
            text = json.dumps(row, ensure_ascii=False, sort_keys=True, default=str)
        except (ValueError, RecursionError):  # a structure nested too deeply to print
            text = repr(type(row))
    if len(text) > MAX_RAW_CHARS:
        text = text[:MAX_RAW_CHARS] + f"...[truncated {len(text) - MAX_RAW_CHARS} chars]"
    return writable_text(text)


def writable_text(text: str) -> str:
    """`text` with unpaired surrogates escaped (`\\ud83d`), so a dead letter can always be written."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if has_unpaired_surrogate(text) else text


def dead_letter(source_file: str, row_number: int, stage: str, reason: str, detail: str, row: Any) -> dict[str, Any]:
    return {
        "source_file": source_file,
        "row_number": row_number,
        "stage": stage,
        "reason": reason,
        "detail": writable_text(str(detail)[:2000]),
        "raw_row": raw_text(row),
    }
