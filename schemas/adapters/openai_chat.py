"""OpenAI chat format: `messages` (with assistant `tool_calls`) and `tools`.

Every assistant turn that calls tools is one example: the messages before it
are the prompt and its calls the reference. Licenses differ per dataset in
this format, so a `license` column wins over "unknown".
"""
from __future__ import annotations

from typing import Any

from toolrm_beam.schemas import records
from toolrm_beam.schemas.adapters import common
from toolrm_beam.schemas.adapters.base import JSON_VALUE, AdaptError, Adapted, SourceAdapter


class OpenAIChatAdapter(SourceAdapter):
    name = "openai_chat"
    license = "unknown"
    upstream = "any dataset in OpenAI chat-completions format"
    required_columns = {"messages": JSON_VALUE, "tools": JSON_VALUE}

    def split_of(self, path: str) -> str:
        return common.shard_split(path)

    def adapt(self, row: Any, context: Any, split: str) -> Adapted:
        row = common.require_mapping(row)
        raw_messages = common.field(row, "messages", list, json_ok=True)
        original_tools = common.field(row, "tools", list, json_ok=True)
        license_ = common.text(row, "license", required=False) or self.license
        messages = common.normalize_messages(raw_messages)
        tools = common.normalize_tools(original_tools)
        row_id = common.text(row, "id", required=False) or records.short_hash(
            {"messages": messages, "tools": original_tools})

        examples = []
        for index, message in enumerate(messages):
            if message["role"] != "assistant" or not message.get("tool_calls"):
                continue
            if index == 0:
                raise AdaptError("empty_conversation", "the first message already calls a tool")
            try:
                calls = common.decode_calls(message["tool_calls"])
            except ValueError as error:
                raise AdaptError("malformed_json", f"messages[{index}].tool_calls: {error}") from None
            reference = common.reference_from_calls(calls)
            common.check_reference_tools(reference, tools)
            examples.append(records.make_example(
                source=self.name, split=split, upstream_id=f"{row_id}#{index}", tools=tools,
                original_tools=original_tools, messages=messages[:index], reference=reference,
                license=license_))
        if not examples:
            raise AdaptError("unsupported_row", "no assistant turn calls a tool, so there is no reference")
        return Adapted(examples=examples)
