"""The Pair record: the product's output, one chosen and one rejected tool call.

Columns follow FC-RewardBench (`tools`, `conversation`, `chosen_output`,
`rejected_output`, `error_type`, `model_name`, `test_category`, `test_id`)
and ToolRM-train-data (`uuid`, `dataset_name`, `tool_calls_correct`,
`tool_calls_incorrect`, `generator_model`), plus the scores, and a TRL view:
`prompt` (the conversation), `chosen`/`rejected` (one assistant message each)
and `tools`, which TRL's `RewardTrainer` renders with the model's chat
template. The score difference is `score_margin`, not `margin`: TRL reads a
column named `margin` as a loss margin.
"""
from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from toolrm_beam.schemas.records import canonical_json, short_hash

PAIR_SCHEMA_VERSION = "1.0"

_FUNCTION = pa.struct([pa.field("name", pa.string()), pa.field("arguments", pa.string())])
_TOOL_CALL = pa.struct([pa.field("id", pa.string()), pa.field("type", pa.string()), pa.field("function", _FUNCTION)])
MESSAGE = pa.struct([
    pa.field("role", pa.string()),
    pa.field("content", pa.string()),
    pa.field("tool_calls", pa.list_(_TOOL_CALL)),
    pa.field("tool_call_id", pa.string()),
    pa.field("name", pa.string()),
])
MESSAGES = pa.list_(MESSAGE)

PAIR_ARROW_SCHEMA = pa.schema(
    [
        pa.field("uuid", pa.string(), nullable=False),
        pa.field("example_id", pa.string(), nullable=False),
        pa.field("dataset_name", pa.string()),
        pa.field("test_category", pa.string()),
        pa.field("test_id", pa.string()),
        pa.field("tools", pa.string()),                 # JSON text, OpenAI tool format
        pa.field("conversation", MESSAGES),
        pa.field("chosen_output", pa.string()),         # JSON text of the calls, or the text answer
        pa.field("rejected_output", pa.string()),
        pa.field("tool_calls_correct", pa.string()),
        pa.field("tool_calls_incorrect", pa.string()),
        pa.field("error_type", pa.string()),
        pa.field("model_name", pa.string()),            # what produced the rejected output
        pa.field("generator_model", pa.string()),
        pa.field("chosen_origin", pa.string()),
        pa.field("rejected_origin", pa.string()),
        pa.field("chosen_candidate_id", pa.string()),
        pa.field("rejected_candidate_id", pa.string()),
        pa.field("chosen_score", pa.float32()),
        pa.field("rejected_score", pa.float32()),
        pa.field("score_margin", pa.float32()),
        pa.field("hard", pa.bool_()),
        pa.field("rejected_schema_valid", pa.bool_()),
        pa.field("scorer", pa.string()),
        pa.field("license", pa.string()),
        pa.field("prompt", MESSAGES),
        pa.field("chosen", MESSAGES),
        pa.field("rejected", MESSAGES),
    ],
    metadata={"toolrm.record": "pair", "toolrm.schema_version": PAIR_SCHEMA_VERSION},
)


def openai_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": t["name"], "description": t.get("description", ""),
                                              "parameters": t["parameters"]}} for t in tools]


def _arguments_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def message_row(message: dict[str, Any]) -> dict[str, Any]:
    """One chat message in the fixed Arrow struct (tool-call arguments as JSON text)."""
    calls = message.get("tool_calls")
    tool_calls = None
    if calls:
        tool_calls = []
        for position, call in enumerate(calls):
            function = call.get("function", call)
            tool_calls.append({"id": call.get("id") or f"call_{position}", "type": "function",
                               "function": {"name": function.get("name"),
                                            "arguments": _arguments_text(function.get("arguments", {}))}})
    content = message.get("content")
    return {"role": message.get("role"), "content": content if isinstance(content, str) or content is None
            else json.dumps(content, ensure_ascii=False),
            "tool_calls": tool_calls, "tool_call_id": message.get("tool_call_id"), "name": message.get("name")}


def assistant_turn(output: Any) -> dict[str, Any]:
    """A candidate as the assistant message that answers the conversation."""
    if isinstance(output, list):
        return message_row({"role": "assistant", "content": "",
                            "tool_calls": [{"function": {"name": c["name"], "arguments": c["arguments"]}}
                                           for c in output]})
    return message_row({"role": "assistant", "content": output if isinstance(output, str) else canonical_json(output)})


def output_text(output: Any) -> str:
    return output if isinstance(output, str) else canonical_json(output)


def generator_of(origin: str) -> str:
    """`llm-sample:<model>` / `llm-perturb:<model>:<type>` / `model:<model>` -> model; `rule:*` -> "rules";
    corpus origins as given."""
    kind, _, rest = origin.partition(":")
    if kind in ("llm-sample", "llm-perturb", "model"):
        return rest.split(":")[0] if kind == "llm-perturb" else rest
    if kind == "rule":
        return "rules"
    return origin


def pair_row(example: dict[str, Any], chosen: dict[str, Any], rejected: dict[str, Any], *, scorer: str,
             hard_margin: float) -> dict[str, Any]:
    return pair_rows(example, [(chosen, rejected)], scorer=scorer, hard_margin=hard_margin)[0]


def pair_rows(example: dict[str, Any], pairs: list[tuple[dict[str, Any], dict[str, Any]]], *, scorer: str,
              hard_margin: float) -> list[dict[str, Any]]:
    """The rows of one example's (chosen, rejected) pairs.

    What every pair of the example shares (its tools as JSON text, the
    conversation) and what a candidate in several pairs shares (its output
    text and assistant turn) is rendered once: the tools' JSON was most of
    a pair's cost. The rows share those values; they are not to be mutated.
    """
    if not pairs:
        return []
    conversation = [message_row(m) for m in example["messages"]]
    tools = json.dumps(openai_tools(example["tools"]), ensure_ascii=False)
    rendered: dict[int, tuple[str, dict[str, Any]]] = {}

    def render(candidate: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        found = rendered.get(id(candidate))
        if found is None:
            found = rendered[id(candidate)] = (output_text(candidate["output"]), assistant_turn(candidate["output"]))
        return found

    rows = []
    for chosen, rejected in pairs:
        (chosen_text, chosen_turn), (rejected_text, rejected_turn) = render(chosen), render(rejected)
        margin = chosen["score"] - rejected["score"]
        generator = generator_of(rejected["origin"])
        rows.append({
            "uuid": short_hash(chosen["candidate_id"] + rejected["candidate_id"], 32),
            "example_id": example["example_id"],
            "dataset_name": example["source"],
            "test_category": example["split"],
            "test_id": example["upstream_id"],
            "tools": tools,
            "conversation": conversation,
            "chosen_output": chosen_text,
            "rejected_output": rejected_text,
            "tool_calls_correct": chosen_text,
            "tool_calls_incorrect": rejected_text,
            "error_type": rejected.get("error_type"),
            "model_name": generator,
            "generator_model": generator,
            "chosen_origin": chosen["origin"],
            "rejected_origin": rejected["origin"],
            "chosen_candidate_id": chosen["candidate_id"],
            "rejected_candidate_id": rejected["candidate_id"],
            "chosen_score": chosen["score"],
            "rejected_score": rejected["score"],
            "score_margin": margin,
            "hard": margin <= hard_margin,
            "rejected_schema_valid": rejected.get("schema_valid"),
            "scorer": scorer,
            "license": example.get("license", ""),
            "prompt": conversation,
            "chosen": [chosen_turn],
            "rejected": [rejected_turn],
        })
    return rows
