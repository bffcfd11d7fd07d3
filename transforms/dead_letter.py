"""The dead-letter record: every row that cannot go on, with the reason."""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable

import apache_beam as beam
import pyarrow as pa

from toolrm_beam.schemas.strict_json import has_unpaired_surrogate, problem

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


def unwritable(row: dict[str, Any]) -> str | None:
    """Why a record's row cannot be written as Parquet text columns (an unpaired surrogate), or None.

    Checked per element by the stage that makes the record, so one such
    record is dead-lettered there instead of failing a whole shard's write.
    """
    found = problem(row, strings=True)
    if found is not None and found[0] == "unpaired_surrogate":
        return found[1]
    return None


def exception_detail(exc_type: Any, exc_repr: str, trace: Any) -> str:
    """`Type: message (at file:line in function)` from what with_exception_handling reports."""
    name = getattr(exc_type, "__name__", str(exc_type))
    where = ""
    if isinstance(trace, (list, tuple)):
        frames = [line for line in trace if line.lstrip().startswith("File ")]
        if frames:
            where = " (at " + frames[-1].strip().split("\n")[0] + ")"
    return f"{name}: {exc_repr}{where}"


class FailedElements(beam.PTransform):
    """Elements Beam's `with_exception_handling` set aside -> dead letters of one stage.

    `locate(element)` names what the element stood for, as `(source_file,
    row_number, raw)` tuples (one per record the failure loses, so accounting
    by record stays whole). The reason is `<stage>_failed`; the detail names
    the exception and where it was raised.
    """

    def __init__(self, stage: str, locate: Callable[[Any], Iterable[tuple[str, int, Any]]]):
        super().__init__()
        self._stage = stage
        self._locate = locate

    def expand(self, failures):
        stage, locate = self._stage, self._locate

        def to_dead_letters(failure):
            element, (exc_type, exc_repr, trace) = failure
            detail = exception_detail(exc_type, exc_repr, trace)
            for source_file, row_number, raw in locate(element):
                yield dead_letter(source_file, row_number, stage, f"{stage}_failed", detail, raw)

        return failures | "ToDeadLetters" >> beam.FlatMap(to_dead_letters)
