"""Build generation requests from a canonical Example.

Two kinds of request:
- sample-and-check: the example's own conversation and tools, as the model
  would see them in use; the checker then labels what comes back, so correct
  answers are extra positives and wrong ones real negatives.
- targeted perturbation: the model is shown the correct call and asked for a
  subtly wrong one of a named error type. The checker, not the request, has
  the last word on the label.

Everything here is a pure function of its arguments: the same example and
settings always give the same requests (seeds included).
"""
from __future__ import annotations

import copy
import json
from typing import Any, Iterable

from toolrm_beam.schemas.errors import ErrorType
from toolrm_beam.schemas.records import REFERENCE_CALL, short_hash
from toolrm_beam.transforms.llm.requests import GenerationRequest

# What each error looks like, after the taxonomy in tool-call-correctness.md.
# Real errors are subtle: the wording asks for schema-valid, plausible calls.
ERROR_DESCRIPTIONS: dict[ErrorType, str] = {
    ErrorType.PARAMETER_VALUE_ERROR:
        "call the right function with the right parameters, but give one argument a plausible wrong value "
        "(a different number, date, place, name or enum option than the user asked for)",
    ErrorType.INCORRECT_FUNCTION_NAME:
        "call a different function than the right one: a similar sibling from the tool list, or a plausible "
        "name that is not in the list, with sensible arguments",
    ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS:
        "make one call too few or one too many: leave out a needed call, or repeat a call",
    ErrorType.MISSING_OPTIONAL_PARAMETER:
        "leave out one optional parameter whose value the user did state; keep everything else right",
    ErrorType.MISSING_REQUIRED_PARAMETER:
        "leave out one parameter that the function's schema marks as required; keep everything else right",
    ErrorType.PARAMETER_VALUE_TYPE_ERROR:
        "give one argument the right value in the wrong JSON type (for example \"40.7\" as a string where a "
        "number is expected, or a single value where a list is expected)",
    ErrorType.UNEXPECTED_PARAMETER:
        "add one argument that the function does not define, with a plausible name and value",
    ErrorType.PARSING_ERROR:
        "write the call so that it is not valid JSON (for example an unclosed bracket or a missing quote)",
}

# Parsing errors are cheap to make by rule and rare in real data (15 of 1,500
# in FC-RewardBench): asking an LLM for them spends tokens on the easy half.
DEFAULT_PERTURB_ERRORS: tuple[str, ...] = tuple(e.value for e in ErrorType if e is not ErrorType.PARSING_ERROR)

PERTURB_SYSTEM_PROMPT = (
    "You write wrong-but-plausible tool calls for training a reward model that judges tool calls. "
    "You are given a conversation, the tools offered to the assistant, and the correct call(s). "
    "Write the call(s) again with exactly one error of the requested kind, as a careless but competent "
    "assistant would make it. The rest must stay as in the correct call(s). "
    'Answer with the call list only, as JSON: [{"name": "<function name>", "arguments": {...}}]. '
    "No explanation, no code fence."
)


def openai_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Canonical tools -> OpenAI tools, the form chat templates and servers take."""
    return [{"type": "function",
             "function": {"name": t["name"], "description": t.get("description", ""),
                          "parameters": t.get("parameters", {"type": "object", "properties": {}})}}
            for t in tools]


def concrete_value(acceptable: list) -> tuple[bool, Any]:
    """The first acceptable value that is not the omission marker "".

    Returns (present, value); present is False when only omission is acceptable.
    Objects given one level down (`{key: [acceptable...]}`) are made concrete
    key by key.
    """
    for option in acceptable:
        if isinstance(option, str) and option == "":
            continue
        return True, _concrete(option)
    return False, None


def _concrete(option: Any) -> Any:
    if isinstance(option, dict):
        result = {}
        for key, allowed in option.items():
            present, value = concrete_value(allowed if isinstance(allowed, list) else [allowed])
            if present:
                result[key] = value
        return result
    if isinstance(option, list) and option and all(isinstance(item, dict) for item in option):
        return [_concrete(item) for item in option]
    return option


def concrete_reference(reference: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Canonical reference (lists of acceptable values) -> one correct call list."""
    calls = []
    for call in reference:
        arguments = {}
        for param, acceptable in call["arguments"].items():
            present, value = concrete_value(acceptable)
            if present:
                arguments[param] = value
        calls.append({"name": call["name"], "arguments": arguments})
    return calls


def applicable_errors(example: dict[str, Any], error_types: Iterable[str]) -> list[str]:
    """The requested error types that can be made for this example.

    A perturbation needs a reference call; "missing optional/required
    parameter" need a parameter of that kind in the correct call.
    """
    if example.get("reference_kind", REFERENCE_CALL) != REFERENCE_CALL or not example.get("reference"):
        return []
    tools = {t["name"]: t for t in example["tools"]}
    calls = concrete_reference(example["reference"])
    has_required = has_optional = False
    for call in calls:
        required = set(tools.get(call["name"], {}).get("parameters", {}).get("required", []))
        has_required |= any(p in required for p in call["arguments"])
        has_optional |= any(p not in required for p in call["arguments"])
    result = []
    for name in error_types:
        error = ErrorType.from_label(name)
        if error is ErrorType.MISSING_REQUIRED_PARAMETER and not has_required:
            continue
        if error is ErrorType.MISSING_OPTIONAL_PARAMETER and not has_optional:
            continue
        result.append(error.value)
    return list(dict.fromkeys(result))


def request_seed(seed: int, key: str) -> int:
    """A per-request seed: stable for (seed, key), different across requests."""
    return int(short_hash(f"{seed}\x00{key}", 8), 16) & 0x7FFFFFFF


def sample_request(example: dict[str, Any], *, n: int, temperature: float, max_new_tokens: int,
                   seed: int) -> GenerationRequest:
    """Ask the model the example's own question, with its own tools."""
    key = f"{example['example_id']}#sample"
    return GenerationRequest(
        key=key, example_id=example["example_id"], messages=copy.deepcopy(example["messages"]),
        tools=openai_tools(example["tools"]), n=n, temperature=temperature,
        max_new_tokens=max_new_tokens, seed=request_seed(seed, key), mode="sample", target_error=None)


def perturb_messages(example: dict[str, Any], error_type: str) -> list[dict[str, str]]:
    error = ErrorType.from_label(error_type)
    conversation = [{k: m[k] for k in ("role", "content", "tool_calls") if m.get(k) is not None}
                    for m in example["messages"]]
    user = (
        f"Conversation:\n{json.dumps(conversation, ensure_ascii=False, indent=1)}\n\n"
        f"Tools:\n{json.dumps(openai_tools(example['tools']), ensure_ascii=False, indent=1)}\n\n"
        f"Correct call(s):\n{json.dumps(concrete_reference(example['reference']), ensure_ascii=False)}\n\n"
        f"Error to make: {error.label}: {ERROR_DESCRIPTIONS[error]}.\n"
        "Answer with the JSON call list only."
    )
    return [{"role": "system", "content": PERTURB_SYSTEM_PROMPT}, {"role": "user", "content": user}]


def perturb_request(example: dict[str, Any], error_type: str, *, n: int, temperature: float,
                    max_new_tokens: int, seed: int) -> GenerationRequest:
    """Ask for a subtly wrong call of one error type.

    The tools are in the prompt text, not in the API's `tools`: the answer is
    wanted as JSON text, not as a call the model means to make.
    """
    error = ErrorType.from_label(error_type).value
    key = f"{example['example_id']}#perturb#{error}"
    return GenerationRequest(
        key=key, example_id=example["example_id"], messages=perturb_messages(example, error), tools=(),
        n=n, temperature=temperature, max_new_tokens=max_new_tokens, seed=request_seed(seed, key),
        mode="perturb", target_error=error)


def build_requests(example: dict[str, Any], *, mode: str, samples: int, temperature: float,
                   max_new_tokens: int, seed: int, error_types: Iterable[str] | None = None
                   ) -> list[GenerationRequest]:
    """All requests for one example in one mode (none where the mode does not apply)."""
    if mode == "sample":
        return [sample_request(example, n=samples, temperature=temperature,
                               max_new_tokens=max_new_tokens, seed=seed)]
    if mode == "perturb":
        wanted = DEFAULT_PERTURB_ERRORS if error_types is None else error_types
        return [perturb_request(example, error, n=samples, temperature=temperature,
                                max_new_tokens=max_new_tokens, seed=seed)
                for error in applicable_errors(example, wanted)]
    raise ValueError(f"mode must be 'sample' or 'perturb', got {mode!r}")
