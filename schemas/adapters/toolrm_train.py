"""ToolRM training data (ibm-research/ToolRM-train-data): one pair per row.

Columns `uuid`, `dataset_name`, `conversation` (messages), `tools` (JSON
text), `tool_calls_correct` and `tool_calls_incorrect` (JSON text of calls)
and `generator_model` (who made the incorrect calls). The row becomes an
example whose reference is the correct calls, plus both outputs as labelled
candidates.
"""
from __future__ import annotations

from typing import Any

from toolrm_beam.schemas.adapters import common
from toolrm_beam.schemas.adapters.base import ID, JSON_VALUE, Adapted, SourceAdapter


class ToolRMTrainAdapter(SourceAdapter):
    name = "toolrm_train"
    license = "Apache-2.0"
    upstream = "https://huggingface.co/datasets/ibm-research/ToolRM-train-data"
    required_columns = {"uuid": ID, "conversation": JSON_VALUE, "tools": JSON_VALUE,
                        "tool_calls_correct": JSON_VALUE}

    def split_of(self, path: str) -> str:
        return common.shard_split(path)

    def adapt(self, row: Any, context: Any, split: str) -> Adapted:
        row = common.require_mapping(row)
        upstream_id = common.text(row, "uuid")
        conversation = common.field(row, "conversation", list, json_ok=True)
        original_tools = common.field(row, "tools", list, json_ok=True)
        correct_raw = common.field(row, "tool_calls_correct", (list, dict, str))
        incorrect_raw = row.get("tool_calls_incorrect")
        generator = common.text(row, "generator_model", required=False) or "unknown"
        return common.adapt_pair(
            self, split=split, upstream_id=upstream_id, conversation=conversation,
            original_tools=original_tools, correct_raw=correct_raw, correct_field="tool_calls_correct",
            rejected_raw=incorrect_raw, correct_origin="corpus:toolrm-train:correct",
            rejected_origin=f"corpus:toolrm-train:{generator}", label=row.get("error_type"))
