"""The interface every corpus adapter implements (pure Python, no Beam).

An adapter turns one raw input row into canonical records. Side data that a
row must be joined with (ACEBench/BFCL answer files, the Seal-Tools catalog)
is loaded once per input file by `load_context`, so `adapt` stays a pure
function of (row, context, split).
"""
from __future__ import annotations

import dataclasses
from typing import Any, BinaryIO, Callable

OpenFn = Callable[[str], BinaryIO]

# Kinds of a Parquet column, by Arrow type (transforms/input_files.py decides which).
TEXT, NUMBER, BOOLEAN, LIST, OBJECT = "text", "number", "boolean", "list", "object"
JSON_VALUE = (TEXT, LIST, OBJECT)  # a JSON-typed field: decoded (list/struct) or JSON text
ID = (TEXT, NUMBER)


class AdaptError(ValueError):
    """A row that cannot become a valid record; `reason` is a stable code.

    Reasons in use: malformed_json, missing_field, bad_field_type,
    missing_answer, missing_question, unknown_tool_in_reference,
    invalid_tool_spec, unsupported_source_type, empty_conversation,
    unsupported_row, unknown_example.
    """

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass
class Adapted:
    """What one input row became: examples, and candidates for pair corpora.

    `verdicts` are for sources that carry an upstream judgement of a model's
    answer (BFCL's score files): one `{category, model, checker_correct,
    checker_code, upstream_correct, upstream_error_type}` per answer, counted
    into the ingest manifest's agreement table.
    """
    examples: list[dict[str, Any]]
    candidates: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    verdicts: list[dict[str, Any]] = dataclasses.field(default_factory=list)


class SourceAdapter:
    """Base class: override `adapt`; override the file hooks where needed."""

    name: str = ""          # the `--source` value and the Example's `source`
    license: str = ""
    upstream: str = ""      # where the corpus comes from, for attribution
    # Columns a Parquet file of this corpus must have, with the kinds each may
    # be (transforms/input_files.py: text, number, list, object): a file that
    # lacks one is refused before the pipeline starts, naming the columns.
    required_columns: dict[str, tuple[str, ...]] = {}

    def is_data_file(self, path: str) -> bool:
        """False for side files (answers, catalogs) that a glob may also match."""
        return True

    def split_of(self, path: str) -> str:
        """The split name recorded on every example from this file."""
        base = path.rstrip("/").rsplit("/", 1)[-1]
        return base.split(".", 1)[0]

    def with_options(self, **options: Any) -> "SourceAdapter":
        """This adapter configured by source-specific ingest options (`--examples` for model_samples)."""
        if options:
            raise ValueError(f"source {self.name!r} takes no options, got {sorted(options)}")
        return self

    def load_context(self, path: str, open_fn: OpenFn) -> Any:
        """Side data for one data file. Raise FileNotFoundError/ValueError if unusable."""
        return None

    def context_key(self, path: str) -> str:
        """Data files with the same key have the same side data: their context is loaded once."""
        return path

    def context_warnings(self, path: str, context: Any, open_fn: OpenFn) -> list[tuple[str, str, int]]:
        """`(warning, counter, count)` about a data file's side data, e.g. answers no question has."""
        return []

    def adapt(self, row: Any, context: Any, split: str) -> Adapted:
        raise NotImplementedError
