"""FC-RewardBench (ibm-research/fc-reward-bench): chosen/rejected call pairs on BFCL.

Columns `tools`, `conversation`, `chosen_output`, `rejected_output`,
`error_type`, `model_name`, `test_category`, `test_id`. Several rows share a
BFCL test (one per wrong model output), so the example is keyed by `test_id`
and its split is the BFCL category: those rows collapse to one example with
one correct and several wrong candidates.
"""
from __future__ import annotations

from typing import Any

from schemas import records
from schemas.adapters import common
from schemas.adapters.base import Adapted, AdaptError, SourceAdapter


class FCRewardBenchAdapter(SourceAdapter):
    name = "fc_rewardbench"
    license = "Apache-2.0"
    upstream = "https://huggingface.co/datasets/ibm-research/fc-reward-bench"

    def split_of(self, path: str) -> str:
        return common.shard_split(path)

    def adapt(self, row: Any, context: Any, split: str) -> Adapted:
        row = common.require_mapping(row)
        upstream_id = common.text(row, "test_id")
        category = common.text(row, "test_category", required=False) or split
        conversation = common.field(row, "conversation", list, json_ok=True)
        original_tools = common.field(row, "tools", list, json_ok=True)
        chosen_raw = common.field(row, "chosen_output", (list, dict, str))
        rejected_raw = common.field(row, "rejected_output", (list, dict, str))
        label = common.text(row, "error_type", required=False) or None
        model = common.text(row, "model_name", required=False) or "unknown"
        messages = common.normalize_messages(conversation, "conversation")
        tools = common.normalize_tools(original_tools)
        try:
            chosen = common.decode_calls(chosen_raw)
        except ValueError as error:
            raise AdaptError("malformed_json", f"chosen_output: {error}") from None
        reference = common.reference_from_calls(chosen)
        common.check_reference_tools(reference, tools)
        example = records.make_example(
            source=self.name, split=category, upstream_id=upstream_id, tools=tools,
            original_tools=original_tools, messages=messages, reference=reference,
            reference_kind=records.REFERENCE_CALL if reference else records.REFERENCE_NO_CALL,
            license=self.license)
        chosen_candidate = common.make_candidate(example, chosen, "corpus:fc-rewardbench:correct", correct=True)
        rejected_candidate = common.make_candidate(
            example, common.decode_or_text(rejected_raw), f"corpus:fc-rewardbench:{model}", correct=False,
            error_type=common.error_type_of(label), detail=label)
        candidates = [chosen_candidate]
        if rejected_candidate["candidate_id"] != chosen_candidate["candidate_id"]:
            candidates.append(rejected_candidate)
        return Adapted(examples=[example], candidates=candidates)
