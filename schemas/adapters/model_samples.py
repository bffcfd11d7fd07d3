"""A user's own model answers: one row per (example, model, raw output), labelled by the checker.

Each JSONL/Parquet row is one answer: `model` (who answered) and `output`
(the raw text, or already-decoded calls), and the example it answers, given
one of two ways:

- `example_id` of an example already ingested: `toolrm ingest --source
  model_samples --input samples.jsonl --examples 'out/ingest/bfcl/examples-*.parquet'`
  (the example shards of that ingest; the example is written again beside
  the candidates, so the output scores on its own);
- the example's fields: `messages` (OpenAI-style chat) or `prompt` (one
  user message), `tools` (any spec form the other sources read), and the
  right answer as `reference` (acceptable values per parameter, canonical
  `[{name, arguments: {param: [values]}}]` or BFCL's `[{fn: {param: [values]}}]`,
  `""` among the values = may be omitted) or `answer` (plain calls, one value
  per parameter); neither means no call is right. Optional: `id` (the
  prompt's id; rows sharing it, or sharing the same content when no id is
  given, are one example), `reference_kind` (`call`, `no_call`, `clarify`,
  `flag_invalid`).

Optional on both: `language` (`java` / `javascript`: values are source text
typed by the tool spec's Java/JavaScript types), and an upstream verdict
`upstream_correct` / `upstream_error_type` with its `category`, which ingest
reports agreement with, as for `bfcl_results`.
"""
from __future__ import annotations

import json
from typing import Any

import pyarrow.parquet as pq

from toolrm_beam.schemas import records
from toolrm_beam.schemas.adapters import common
from toolrm_beam.schemas.adapters.answers import labelled_answer
from toolrm_beam.schemas.adapters.base import JSON_VALUE, TEXT, Adapted, AdaptError, OpenFn, SourceAdapter
from toolrm_beam.schemas.source_types import LANGUAGES, SourceTypeError, json_schema_spec


class ModelSamplesAdapter(SourceAdapter):
    name = "model_samples"
    license = "as given by the user"
    upstream = "the user's own model samples (see the README, `model_samples`)"
    required_columns = {"model": (TEXT,), "output": JSON_VALUE}

    def __init__(self, examples: tuple[str, ...] = ()):
        self._example_files = tuple(examples)
        self._examples: dict[str, dict[str, Any]] | None = None

    def with_options(self, **options: Any) -> "ModelSamplesAdapter":
        unknown = sorted(set(options) - {"examples"})
        if unknown:
            raise ValueError(f"source {self.name!r} takes the option examples, not {unknown}")
        return ModelSamplesAdapter(tuple(options.get("examples") or ()))

    def split_of(self, path: str) -> str:
        return common.shard_split(path)

    def load_context(self, path: str, open_fn: OpenFn) -> dict[str, dict[str, Any]]:
        """The examples rows may name by `example_id` (read once per worker)."""
        if self._examples is None:
            examples: dict[str, dict[str, Any]] = {}
            for example_file in self._example_files:
                with open_fn(example_file) as handle:
                    for row in pq.read_table(handle).to_pylist():
                        example = records.from_row(row)
                        examples[example["example_id"]] = example
            self._examples = examples
        return self._examples

    def adapt(self, row: Any, context: dict[str, dict[str, Any]] | None, split: str) -> Adapted:
        row = common.require_mapping(row)
        model = common.text(row, "model")
        if "output" not in row:
            raise AdaptError("missing_field", "field 'output' is missing")
        # A null output is an empty answer (no call); Parquet lists come back as arrays.
        output = "" if row["output"] is None else common.field(row, "output", (str, list, dict))
        example_id = common.text(row, "example_id", required=False)
        language = _language(row)
        example = self._known_example(example_id, context) if example_id else self._example(row, split, language)
        upstream = row.get("upstream_correct")
        if upstream is not None and not isinstance(upstream, bool):
            raise AdaptError("bad_field_type", f"upstream_correct must be true/false, got {upstream!r}")
        candidate, verdicts = labelled_answer(
            example, output, model, language=language,
            upstream_correct=upstream, upstream_error_type=common.text(row, "upstream_error_type", required=False)
            or None, category=common.text(row, "category", required=False) or None)
        return Adapted(examples=[example], candidates=[candidate], verdicts=verdicts)

    def _known_example(self, example_id: str, context: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
        if not self._example_files:
            raise AdaptError("unknown_example", f"the row names example {example_id!r}, but no example "
                                                "shards were given (toolrm ingest --examples GLOB)")
        example = (context or {}).get(example_id)
        if example is None:
            raise AdaptError("unknown_example", f"example {example_id!r} is not among the --examples shards")
        return example

    def _example(self, row: Any, split: str, language: str | None) -> dict[str, Any]:
        if row.get("messages") is not None:
            messages = common.normalize_messages(common.field(row, "messages", list, json_ok=True), "messages")
        else:
            prompt = common.field(row, "prompt", str)
            if not prompt.strip():
                raise AdaptError("empty_conversation", "prompt is empty")
            messages = [{"role": "user", "content": prompt}]
        original_tools = common.field(row, "tools", (list, dict), json_ok=True)
        if isinstance(original_tools, dict):
            original_tools = [original_tools]
        try:
            specs = [json_schema_spec(language, s) if language and isinstance(s, dict) else s for s in original_tools]
        except SourceTypeError as error:
            raise AdaptError(error.reason, error.detail) from None
        tools = common.normalize_tools(specs)
        reference = _reference(row)
        common.check_reference_tools(reference, tools)
        kind = common.text(row, "reference_kind", required=False) or \
            (records.REFERENCE_CALL if reference else records.REFERENCE_NO_CALL)
        if kind not in records.REFERENCE_KINDS:
            raise AdaptError("bad_field_type", f"reference_kind must be one of {records.REFERENCE_KINDS}, got {kind!r}")
        content = {"messages": messages, "tools": original_tools, "reference": reference, "kind": kind}
        upstream_id = common.text(row, "id", required=False) or f"content:{records.short_hash(content)}"
        return records.make_example(
            source=self.name, split=split, upstream_id=upstream_id, tools=tools, original_tools=original_tools,
            messages=messages, reference=reference, reference_kind=kind, license=self.license)


def _language(row: Any) -> str | None:
    language = common.text(row, "language", required=False) or None
    if language is not None and language not in LANGUAGES:
        raise AdaptError("bad_field_type", f"language must be one of {LANGUAGES}, got {language!r}")
    return language


def _reference(row: Any) -> list[dict[str, Any]]:
    """`reference` (acceptable values: canonical or BFCL form) or `answer` (plain calls); neither: []."""
    if row.get("reference") is not None and row.get("answer") is not None:
        raise AdaptError("bad_field_type", "give either reference (acceptable values) or answer (plain calls)")
    if row.get("answer") is not None:
        try:
            calls = common.decode_calls(row["answer"])
        except ValueError as error:
            raise AdaptError("malformed_json", f"answer: {error}") from None
        return json_form(common.reference_from_calls(calls))
    reference = common.field(row, "reference", list, required=False, default=[], json_ok=True)
    if all(isinstance(c, dict) and set(c) == {"name", "arguments"} for c in reference):
        for call in reference:
            if not isinstance(call["arguments"], dict) or \
                    not all(isinstance(v, list) and v for v in call["arguments"].values()):
                raise AdaptError("bad_field_type", f"reference call {call['name']!r}: each parameter needs a "
                                                   "non-empty list of acceptable values (or give `answer`)")
        return json_form(reference)
    try:
        return json_form(records.reference_from_bfcl(reference))
    except ValueError as error:
        raise AdaptError("bad_field_type", f"reference: {error}") from None


def json_form(value: Any) -> Any:
    """As stored: JSON's form."""
    return json.loads(records.canonical_json(value))
