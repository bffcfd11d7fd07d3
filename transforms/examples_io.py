"""Read canonical Example shards back into validated example dicts.

Downstream pipelines (synthesize, score) start from the ingest output; a row
that no longer validates (hand-edited, or written by another version) is
dead-lettered with the reason rather than failing the job.
"""
from __future__ import annotations

import apache_beam as beam

from toolrm_beam.schemas.records import EXAMPLE_ARROW_SCHEMA, EXAMPLE_JSON_FIELDS, example_content_hash, from_row
from toolrm_beam.schemas.validation import ValidationError, validate_example
from toolrm_beam.transforms.dead_letter import dead_letter
from toolrm_beam.transforms.input_files import InputCheck, check_inputs, record_columns
from toolrm_beam.transforms.read_rows import ReadRows


def example_shard_check(patterns: list[str]) -> InputCheck:
    """Example shards given to synthesize or score, checked before start (empty shards are fine)."""
    columns = record_columns(EXAMPLE_ARROW_SCHEMA, ("example_id", "tools", "messages", "reference", "reference_kind"))
    return check_inputs(patterns, columns=columns, what="example shard", empty_parquet_ok=True)

EXAMPLES = "examples"
DEAD_LETTER = "dead_letter"


def parse_example_row(path: str, number: int, row) -> tuple[dict | None, dict | None]:
    """A shard row -> `(example, None)`, or `(None, dead letter)` with the reason it is not a valid Example."""
    try:
        if not isinstance(row, dict):
            raise ValidationError("invalid_record", f"row is {type(row).__name__}, not an Example")
        example = from_row(row, EXAMPLE_JSON_FIELDS)
        validate_example(example)
        if example.get("content_hash") != example_content_hash(example):
            raise ValidationError("content_hash_mismatch", "content_hash does not match the example's content")
    except ValidationError as error:
        return None, dead_letter(path, number, "read", error.reason, error.detail, row)
    except ValueError as error:  # JSON text fields that do not parse
        return None, dead_letter(path, number, "read", "malformed_json", str(error), row)
    return example, None


class _ParseExample(beam.DoFn):
    def process(self, element):
        example, dead = parse_example_row(*element)
        if dead is not None:
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead)
        else:
            yield example


class ReadExamples(beam.PTransform):
    """Paths of Example shards -> example dicts, plus dead letters (read and parse failures).

    Shards are read without a reshuffle: examples stream through the stages
    after this one in constant memory, spread across workers file by file.
    """

    def expand(self, paths):
        read = paths | "Read" >> ReadRows(reshuffle=False)
        parsed = read["rows"] | "Parse" >> beam.ParDo(_ParseExample()).with_outputs(DEAD_LETTER, main=EXAMPLES)
        dead = (read["dead_letter"], parsed[DEAD_LETTER]) | "DeadLetters" >> beam.Flatten()
        return {EXAMPLES: parsed[EXAMPLES], DEAD_LETTER: dead}
