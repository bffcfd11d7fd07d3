"""FC-RewardBench (ibm-research/fc-reward-bench): chosen/rejected call pairs on BFCL.

Columns `tools`, `conversation`, `chosen_output`, `rejected_output`,
`error_type`, `model_name`, `test_category`, `test_id`. Several rows share a
BFCL test (one per wrong model output), so the example is keyed by `test_id`
and its split is the BFCL category: those rows collapse to one example with
one correct and several wrong candidates.
"""
from __future__ import annotations

from typing import Any

from toolrm_beam.schemas.adapters import common
from toolrm_beam.schemas.adapters.base import ID, JSON_VALUE, Adapted, SourceAdapter


class FCRewardBenchAdapter(SourceAdapter):
    name = "fc_rewardbench"
    license = "Apache-2.0"
    upstream = "https://huggingface.co/datasets/ibm-research/fc-reward-bench"
    required_columns = {"test_id": ID, "conversation": JSON_VALUE, "tools": JSON_VALUE,
                        "chosen_output": JSON_VALUE, "rejected_output": JSON_VALUE}

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
        return common.adapt_pair(
            self, split=category, upstream_id=upstream_id, conversation=conversation,
            original_tools=original_tools, correct_raw=chosen_raw, correct_field="chosen_output",
            rejected_raw=rejected_raw, correct_origin="corpus:fc-rewardbench:correct",
            rejected_origin=f"corpus:fc-rewardbench:{model}", label=label)
