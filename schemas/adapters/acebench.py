"""ACEBench (ACEBench/ACEBench, data_all/data_en): transcripts with JSON Schema tools.

Data files `data_<category>.json` (JSONL) hold `{id, question, function,
time?, profile?}`; answers are in `possible_answer/<same name>` as
`{id, ground_truth}`. The special categories are not calls: irrelevant (no
tool fits), incomplete (ask for the missing parameters), error_param (a user
value is invalid: say so).
"""
from __future__ import annotations

import re
from typing import Any

from toolrm_beam.schemas import records
from toolrm_beam.schemas.adapters import common
from toolrm_beam.schemas.adapters.base import ID, JSON_VALUE, TEXT, Adapted, AdaptError, OpenFn, SourceAdapter

ANSWER_DIR = "possible_answer"

# Repeated calls of one function are keyed `fn_1`, `fn_2` in the ground truth.
_REPEAT_SUFFIX = re.compile(r"^(.+)_\d+$")


class AceBenchAdapter(SourceAdapter):
    name = "acebench"
    license = "MIT"
    upstream = "https://github.com/ACEBench/ACEBench (data_all/data_en/)"

    required_columns = {"id": ID, "question": (TEXT,), "function": JSON_VALUE}

    def is_data_file(self, path: str) -> bool:
        # Any name (upstream's are `data_<category>.json`); answers sit in possible_answer/.
        return common.parent_name(path) != ANSWER_DIR and common.is_data_name(path)

    def split_of(self, path: str) -> str:
        return common.stem(path).removeprefix("data_")

    def load_context(self, path: str, open_fn: OpenFn) -> dict[str, Any]:
        category = self.split_of(path)
        answers_path = common.sibling(path, ANSWER_DIR, common.basename(path))
        try:
            answers = common.index_by_id(common.read_json_records(answers_path, open_fn), answers_path)
        except FileNotFoundError:
            if _kind(category) != records.REFERENCE_NO_CALL:
                raise
            answers = {}  # irrelevance needs no answer
        return {"category": category, "answers": {k: v.get("ground_truth") for k, v in answers.items()}}

    def context_warnings(self, path: str, context: Any, open_fn: OpenFn) -> list[tuple[str, str, int]]:
        return common.unmatched_answers(path, context["answers"], open_fn, ANSWER_DIR)

    def adapt(self, row: Any, context: dict[str, Any] | None, split: str) -> Adapted:
        row = common.require_mapping(row)
        context = context or {}
        category = context.get("category") or split
        upstream_id = common.text(row, "id")
        question = common.field(row, "question", str)
        original_tools = common.field(row, "function", list, json_ok=True)
        messages = _preamble(row) + common.parse_transcript(question)
        if not any(m["role"] == "user" and m["content"] for m in messages):
            raise AdaptError("empty_conversation", "question holds no user turn")
        tools = common.normalize_tools(original_tools)
        names = {tool["name"] for tool in tools}

        kind = _kind(category)
        reference: list[dict[str, Any]] = []
        detail: dict[str, Any] = {}
        if kind != records.REFERENCE_NO_CALL:
            answers = context.get("answers") or {}
            if upstream_id not in answers:
                raise AdaptError("missing_answer", f"no ground truth for {upstream_id!r} in {ANSWER_DIR}/")
            truth = answers[upstream_id]
            if kind == records.REFERENCE_CLARIFY:
                detail = _missing_parameters(truth, names)
            elif kind == records.REFERENCE_FLAG_INVALID:
                if not isinstance(truth, dict) or not truth:
                    raise AdaptError("bad_field_type", "error_param ground truth must be {param: [invalid values]}")
                detail = {"invalid_values": truth}
            else:
                reference = _reference(truth, names, tools)
                common.check_reference_tools(reference, tools)
        example = records.make_example(
            source=self.name, split=split, upstream_id=upstream_id, tools=tools,
            original_tools=original_tools, messages=messages, reference=reference,
            reference_kind=kind, reference_detail=detail, license=self.license)
        return Adapted(examples=[example])


def _kind(category: str) -> str:
    if "irrelevant" in category:
        return records.REFERENCE_NO_CALL
    if "incomplete" in category:
        return records.REFERENCE_CLARIFY
    if "error_param" in category:
        return records.REFERENCE_FLAG_INVALID
    return records.REFERENCE_CALL


def _preamble(row: Any) -> list[dict[str, Any]]:
    """`time` and `profile` as a leading system message (profile kept as text)."""
    parts = []
    time = row.get("time")
    if isinstance(time, str) and time.strip():
        parts.append(time.strip())
    profile = row.get("profile")
    if profile not in (None, "", {}):
        text = profile if isinstance(profile, str) else records.canonical_json(profile)
        parts.append(f"User profile: {text.strip()}")
    return [{"role": "system", "content": "\n".join(parts)}] if parts else []


def _function_name(key: str, names: set[str]) -> str:
    if key in names:
        return key
    match = _REPEAT_SUFFIX.match(key)
    if match and match.group(1) in names:
        return match.group(1)
    return key  # left for check_reference_tools to report


def _calls(answer: Any, names: set[str]) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(answer, dict) or not answer:
        raise AdaptError("bad_field_type", f"ground truth must be {{function: {{args}}}}, got {str(answer)[:80]!r}")
    calls = []
    for key, arguments in answer.items():
        if not isinstance(arguments, dict):
            raise AdaptError("bad_field_type", f"ground truth for {key!r} must be an object of arguments")
        calls.append((_function_name(key, names), arguments))
    return calls


def _reference(truth: Any, names: set[str], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One call per key; a list of answers are alternatives of one another.

    Values get their schema's type where that is lossless (one object where
    the schema wants an array of them, a number written as text).
    """
    def calls(answer: Any) -> list[tuple[str, dict[str, Any]]]:
        return common.coerce_call_arguments(_calls(answer, names), tools)[0]

    if not isinstance(truth, list):
        return [records.reference_call(name, args) for name, args in calls(truth)]
    if not truth:
        raise AdaptError("bad_field_type", "ground truth is an empty list")
    alternatives = [calls(answer) for answer in truth]
    first = alternatives[0]
    shape = [(name, sorted(args)) for name, args in first]
    if any([(name, sorted(args)) for name, args in alt] != shape for alt in alternatives[1:]):
        # Alternatives that differ in calls or keys cannot be merged per value.
        return [records.reference_call(name, args) for name, args in first]
    reference = []
    for position, (name, arguments) in enumerate(first):
        merged = {}
        for key in arguments:
            values: list[Any] = []
            seen = set()
            for alt in alternatives:
                for value in records.acceptable_values(alt[position][1][key]):
                    fingerprint = records.canonical_json(value)
                    if fingerprint not in seen:
                        seen.add(fingerprint)
                        values.append(value)
            merged[key] = values
        reference.append({"name": name, "arguments": merged})
    return reference


def _missing_parameters(truth: Any, names: set[str]) -> dict[str, Any]:
    if not isinstance(truth, dict) or len(truth) != 1:
        raise AdaptError("bad_field_type", "incomplete ground truth must be {function: [missing parameter names]}")
    (key, missing), = truth.items()
    if not isinstance(missing, list) or not all(isinstance(m, str) for m in missing):
        raise AdaptError("bad_field_type", f"missing parameters of {key!r} must be a list of names")
    function = _function_name(key, names)
    if function not in names:
        raise AdaptError("unknown_tool_in_reference", f"{function!r} is not among the tools {sorted(names)}")
    return {"function": function, "missing_parameters": [m.strip() for m in missing if m.strip()]}
