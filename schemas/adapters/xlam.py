"""APIGen / xLAM function-calling-60k (Salesforce/xlam-function-calling-60k).

Columns `id`, `query`, `tools` (JSON text of `[{name, description,
parameters: {param: {type, description, default?}}}]`, types written as
Python annotations) and `answers` (JSON text of `[{name, arguments}]`).
"""
from __future__ import annotations

from typing import Any

from toolrm_beam.schemas import records
from toolrm_beam.schemas.adapters import common
from toolrm_beam.schemas.adapters.base import ID, JSON_VALUE, TEXT, AdaptError, Adapted, SourceAdapter


class XlamAdapter(SourceAdapter):
    name = "xlam"
    license = "CC-BY-4.0"
    upstream = "https://huggingface.co/datasets/Salesforce/xlam-function-calling-60k"
    required_columns = {"id": ID, "query": (TEXT,), "tools": JSON_VALUE, "answers": JSON_VALUE}

    def split_of(self, path: str) -> str:
        return common.shard_split(path)

    def adapt(self, row: Any, context: Any, split: str) -> Adapted:
        row = common.require_mapping(row)
        upstream_id = common.text(row, "id")
        query = common.field(row, "query", str)
        original_tools = common.field(row, "tools", list, json_ok=True)
        answers = common.field(row, "answers", list, json_ok=True)
        if not query.strip():
            raise AdaptError("empty_conversation", "query is empty")
        tools = common.normalize_tools(original_tools, flat=True)
        try:
            calls = common.decode_calls(answers)
        except ValueError as error:
            raise AdaptError("bad_field_type", f"answers: {error}") from None
        common.check_reference_tools(calls, tools)
        # Text values where the schema says a number get the schema's type (lossless only).
        pairs, coerced = common.coerce_call_arguments([(c["name"], c["arguments"]) for c in calls], tools)
        # An empty answer list (the irrelevance subset) is "no call".
        reference = [records.reference_call(name, arguments) for name, arguments in pairs]
        example = records.make_example(
            source=self.name, split=split, upstream_id=upstream_id, tools=tools,
            original_tools=original_tools, messages=[{"role": "user", "content": query}],
            reference=reference,
            reference_kind=records.REFERENCE_CALL if reference else records.REFERENCE_NO_CALL,
            reference_detail={"coerced_values": coerced} if coerced else None, license=self.license)
        return Adapted(examples=[example])
