"""ToolRM training data (ibm-research/ToolRM-train-data): one pair per row.

Columns `uuid`, `dataset_name`, `conversation` (messages), `tools` (JSON
text), `tool_calls_correct` and `tool_calls_incorrect` (JSON text of calls)
and `generator_model` (who made the incorrect calls). The row becomes an
example whose reference is the correct calls, plus both outputs as labelled
candidates.
"""
from __future__ import annotations

from typing import Any

from schemas import records
from schemas.adapters import common
from schemas.adapters.base import Adapted, AdaptError, SourceAdapter


class ToolRMTrainAdapter(SourceAdapter):
    name = "toolrm_train"
    license = "Apache-2.0"
    upstream = "https://huggingface.co/datasets/ibm-research/ToolRM-train-data"

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
        messages = common.normalize_messages(conversation, "conversation")
        tools = common.normalize_tools(original_tools)
        try:
            correct = common.decode_calls(correct_raw)
        except ValueError as error:
            raise AdaptError("malformed_json", f"tool_calls_correct: {error}") from None
        reference = common.reference_from_calls(correct)
        common.check_reference_tools(reference, tools)
        example = records.make_example(
            source=self.name, split=split, upstream_id=upstream_id, tools=tools,
            original_tools=original_tools, messages=messages, reference=reference,
            reference_kind=records.REFERENCE_CALL if reference else records.REFERENCE_NO_CALL,
            license=self.license)
        candidates = [common.make_candidate(example, correct, "corpus:toolrm-train:correct", correct=True)]
        if incorrect_raw is not None:
            label = row.get("error_type")
            rejected = common.make_candidate(
                example, common.decode_or_text(incorrect_raw), f"corpus:toolrm-train:{generator}", correct=False,
                error_type=common.error_type_of(label), detail=label if isinstance(label, str) else None)
            if rejected["candidate_id"] != candidates[0]["candidate_id"]:
                candidates.append(rejected)
        return Adapted(examples=[example], candidates=candidates)

