"""What the LLM model handlers take and give: one request, one result.

Both are frozen and hold only plain Python values, so they pickle cheaply
between Beam workers and into processes that share a model.
"""
from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

MODES = ("sample", "perturb")

# A reasoning block some chat models (Qwen3, DeepSeek-R1) open their answer
# with; it is not part of the answer and would make every output a parsing error.
_REASONING_BLOCK = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class GenerationRequest:
    """One prompt to a chat model, asking for `n` sampled answers.

    `messages` are OpenAI-style chat messages (assistant `tool_calls` carry
    their arguments as JSON text, as the OpenAI API wants them); `tools` are
    OpenAI tools `{"type": "function", "function": {...}}`, rendered by the
    model's own chat template or passed to the server's `tools`.
    `key` is unique per request: results are matched to requests by it.
    """
    key: str
    example_id: str
    messages: tuple
    tools: tuple
    n: int
    temperature: float
    max_new_tokens: int
    seed: int
    mode: str
    target_error: str | None = None

    def __post_init__(self):
        # Accept lists; store tuples so the record stays immutable at the top level.
        object.__setattr__(self, "messages", tuple(self.messages))
        object.__setattr__(self, "tools", tuple(self.tools))
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if not self.messages:
            raise ValueError(f"request {self.key!r} has no messages")
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n must be a positive integer, got {self.n!r}")
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {self.max_new_tokens!r}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature!r}")
        if self.mode == "perturb" and not self.target_error:
            raise ValueError("a perturb request needs a target_error")


@dataclasses.dataclass(frozen=True)
class GenerationResult:
    """The answers to one request.

    Each output is raw text, or a decoded call list `[{"name", "arguments"}]`
    where an HTTP server returned `tool_calls`. `error` (with a stable
    `error_code`) is set when the request, or some of its samples, failed
    after retries: the outputs that did arrive are still kept.
    """
    key: str
    example_id: str
    mode: str
    target_error: str | None
    outputs: list
    model: str
    error: str | None = None
    error_code: str | None = None

    @classmethod
    def for_request(cls, request: GenerationRequest, outputs: list, model: str,
                    error: str | None = None, error_code: str | None = None) -> "GenerationResult":
        return cls(key=request.key, example_id=request.example_id, mode=request.mode,
                   target_error=request.target_error, outputs=list(outputs), model=model,
                   error=error, error_code=error_code if error else None)


def strip_reasoning(text: str) -> str:
    """Drop a leading `<think>...</think>` block; the answer follows it."""
    return _REASONING_BLOCK.sub("", text, count=1) if isinstance(text, str) else text


def calls_from_tool_calls(tool_calls: list) -> list[dict[str, Any]]:
    """OpenAI `message.tool_calls` -> `[{"name", "arguments"}]`.

    Arguments that are not valid JSON text stay as the text, so the checker
    labels them a parsing error instead of this code hiding them.
    """
    calls = []
    for item in tool_calls:
        function = item.get("function", item) if isinstance(item, dict) else {}
        if not isinstance(function, dict):
            function = {}
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except ValueError:
                pass
        calls.append({"name": function.get("name"), "arguments": {} if arguments is None else arguments})
    return calls
