"""Canonical records: the Example and Candidate that every stage exchanges.

In memory a record is a plain dict with decoded Python values (cheap to pickle
between Beam workers). On disk it is an Arrow row whose JSON-typed fields are
JSON strings, so the Parquet schema stays flat and readable by any engine.
`to_row`/`from_row` convert between the two.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa

EXAMPLE_SCHEMA_VERSION = "1.0"
CANDIDATE_SCHEMA_VERSION = "1.2"

# What the right answer to an example is.
REFERENCE_CALL = "call"            # one or more calls, given in `reference`
REFERENCE_NO_CALL = "no_call"      # irrelevance: no tool fits, answer in text
REFERENCE_CLARIFY = "clarify"      # required information is missing: ask the user back
REFERENCE_FLAG_INVALID = "flag_invalid"  # a user-given value is invalid: say so, do not call
REFERENCE_KINDS = (REFERENCE_CALL, REFERENCE_NO_CALL, REFERENCE_CLARIFY, REFERENCE_FLAG_INVALID)

EXAMPLE_JSON_FIELDS = ("tools", "original_tools", "messages", "reference", "reference_detail")
CANDIDATE_JSON_FIELDS = ("output",)

EXAMPLE_ARROW_SCHEMA = pa.schema(
    [
        pa.field("example_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("upstream_id", pa.string(), nullable=False),
        pa.field("tools", pa.string(), nullable=False),
        pa.field("original_tools", pa.string(), nullable=False),
        pa.field("messages", pa.string(), nullable=False),
        pa.field("reference", pa.string(), nullable=False),
        pa.field("reference_kind", pa.string(), nullable=False),
        pa.field("reference_detail", pa.string(), nullable=False),
        pa.field("license", pa.string(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
    ],
    metadata={"toolrm.record": "example", "toolrm.schema_version": EXAMPLE_SCHEMA_VERSION},
)

CANDIDATE_ARROW_SCHEMA = pa.schema(
    [
        pa.field("example_id", pa.string(), nullable=False),
        pa.field("candidate_id", pa.string(), nullable=False),
        pa.field("output", pa.string(), nullable=False),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("correct", pa.bool_(), nullable=True),
        pa.field("error_type", pa.string(), nullable=True),
        pa.field("detail", pa.string(), nullable=True),
        pa.field("schema_valid", pa.bool_(), nullable=True),
        pa.field("score", pa.float32(), nullable=True),
        pa.field("scorer", pa.string(), nullable=True),
        pa.field("models", pa.list_(pa.string()), nullable=True),
        pa.field("upstream_correct", pa.bool_(), nullable=True),
        pa.field("upstream_error_type", pa.string(), nullable=True),
    ],
    metadata={"toolrm.record": "candidate", "toolrm.schema_version": CANDIDATE_SCHEMA_VERSION},
)

_ACCEPTABLE_VALUES = {"type": "array"}  # each parameter maps to a list of acceptable values

# JSON Schema of the decoded Example (what `from_row` returns).
EXAMPLE_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://toolrm.dev/schemas/example-1.0.json",
    "title": "Example",
    "type": "object",
    "required": ["example_id", "source", "split", "upstream_id", "tools", "original_tools",
                 "messages", "reference", "reference_kind", "reference_detail", "license"],
    "properties": {
        "example_id": {"type": "string", "pattern": "^[a-z0-9_-]+:[0-9a-f]{16}$"},
        "source": {"type": "string", "minLength": 1},
        "split": {"type": "string"},
        "upstream_id": {"type": "string"},
        "license": {"type": "string"},
        "tools": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "description", "parameters"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "description": {"type": "string"},
                    "parameters": {"type": "object", "required": ["type", "properties"],
                                   "properties": {"type": {"const": "object"},
                                                  "properties": {"type": "object"}}},
                },
            },
        },
        "original_tools": {"type": "array"},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role"],
                "properties": {
                    "role": {"enum": ["system", "user", "assistant", "tool"]},
                    "content": {"type": ["string", "null"]},
                    "tool_calls": {"type": "array"},
                },
            },
        },
        "reference": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "arguments"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "arguments": {"type": "object", "additionalProperties": _ACCEPTABLE_VALUES},
                },
                "additionalProperties": False,
            },
        },
        "reference_kind": {"enum": list(REFERENCE_KINDS)},
        "reference_detail": {"type": "object"},
    },
    "allOf": [
        {"if": {"properties": {"reference_kind": {"const": REFERENCE_CALL}}},
         "then": {"properties": {"reference": {"minItems": 1}}},
         "else": {"properties": {"reference": {"maxItems": 0}}}},
    ],
}

CANDIDATE_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://toolrm.dev/schemas/candidate-1.2.json",
    "title": "Candidate",
    "type": "object",
    "required": ["example_id", "candidate_id", "output", "origin"],
    "properties": {
        "example_id": {"type": "string"},
        "candidate_id": {"type": "string", "pattern": "^[0-9a-f]{16,64}$"},
        "output": {},
        "origin": {"type": "string", "pattern": "^(reference|rule:.+|llm-sample:.+|llm-perturb:.+|corpus:.+|model:.+)$"},
        "correct": {"type": ["boolean", "null"]},
        "error_type": {"type": ["string", "null"]},
        "detail": {"type": ["string", "null"]},
        "schema_valid": {"type": ["boolean", "null"]},
        "score": {"type": ["number", "null"]},
        "scorer": {"type": ["string", "null"]},
        # The models whose answers this output is (`model:` origins), sorted; null for other origins.
        "models": {"type": ["array", "null"], "items": {"type": "string"}},
        # The upstream benchmark's own verdict on the answer (BFCL's), where the source gives one.
        "upstream_correct": {"type": ["boolean", "null"]},
        "upstream_error_type": {"type": ["string", "null"]},
    },
}


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the form every hash is taken of."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def short_hash(value: Any, length: int = 16) -> str:
    text = value if isinstance(value, str) else canonical_json(value)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def make_example_id(source: str, split: str, upstream_id: str) -> str:
    """Stable id: the source plus a hash of split and upstream id.

    Depends on nothing but those strings, so reruns on any machine agree.
    """
    return f"{source}:{short_hash(split + chr(0) + upstream_id)}"


def source_of_example_id(example_id: str) -> str:
    """The source an example id names (`make_example_id`): what scopes a record to its corpus."""
    return example_id.split(":", 1)[0]


def example_content_hash(example: dict[str, Any]) -> str:
    """Hash of what makes two examples the same task (used for de-duplication).

    Ids, source and split are left out on purpose: the same question with the
    same tools and answer in two corpora or splits is one example.
    """
    content = {
        "tools": sorted(example["tools"], key=lambda t: t["name"]),
        "messages": example["messages"],
        "reference": example["reference"],
        "reference_kind": example["reference_kind"],
    }
    return short_hash(content, 32)


def make_example(*, source: str, split: str, upstream_id: str, tools: list[dict[str, Any]],
                 original_tools: list[Any], messages: list[dict[str, Any]],
                 reference: list[dict[str, Any]], reference_kind: str = REFERENCE_CALL,
                 reference_detail: dict[str, Any] | None = None, license: str = "") -> dict[str, Any]:
    example = {
        "example_id": make_example_id(source, split, upstream_id),
        "source": source,
        "split": split,
        "upstream_id": upstream_id,
        "tools": tools,
        "original_tools": original_tools,
        "messages": messages,
        "reference": reference,
        "reference_kind": reference_kind,
        "reference_detail": reference_detail or {},
        "license": license,
    }
    example["content_hash"] = example_content_hash(example)
    return example


def candidate_id(example_id: str, output: Any) -> str:
    """Content hash of a candidate: the same output for the same example collapses."""
    return short_hash(example_id + "\x00" + (output if isinstance(output, str) else canonical_json(output)), 32)


def make_candidate(example_id: str, output: Any, origin: str, *, correct: bool | None,
                   error_type: str | None = None, detail: str | None = None,
                   schema_valid: bool | None = None, models: list[str] | None = None,
                   upstream_correct: bool | None = None, upstream_error_type: str | None = None) -> dict[str, Any]:
    """A Candidate record, unscored; `candidate_id` is the content hash of (example, output)."""
    return {
        "example_id": example_id,
        "candidate_id": candidate_id(example_id, output),
        "output": output,
        "origin": origin,
        "correct": correct,
        "error_type": error_type,
        "detail": detail,
        "schema_valid": schema_valid,
        "score": None,
        "scorer": None,
        "models": models,
        "upstream_correct": upstream_correct,
        "upstream_error_type": upstream_error_type,
    }


def collapse_candidates(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """One candidate for several records of the same output (one `candidate_id`).

    Keeps the reference, else the smallest origin (a stable choice on any
    runner), with the models of all of them; the upstream verdict is the one
    they share (null where the models that gave this output were judged
    differently, e.g. one answer's format failed BFCL's decoder and another's
    did not), its error type the most common among them.
    """
    kept = dict(min(candidates, key=lambda c: (c["origin"] != "reference", c["origin"], str(c.get("correct")))))
    if len(candidates) == 1:
        return kept
    models = sorted({m for c in candidates for m in (c.get("models") or ())})
    kept["models"] = models or kept.get("models")
    verdicts = {c.get("upstream_correct") for c in candidates if c.get("upstream_correct") is not None}
    kept["upstream_correct"] = verdicts.pop() if len(verdicts) == 1 else None
    errors = sorted(c["upstream_error_type"] for c in candidates if c.get("upstream_error_type"))
    kept["upstream_error_type"] = max(sorted(set(errors)), key=errors.count) \
        if errors and kept["upstream_correct"] is False else None
    return kept


def to_row(record: dict[str, Any], json_fields: tuple[str, ...] = EXAMPLE_JSON_FIELDS) -> dict[str, Any]:
    return {k: (canonical_json(v) if k in json_fields else v) for k, v in record.items()}


def from_row(row: dict[str, Any], json_fields: tuple[str, ...] = EXAMPLE_JSON_FIELDS) -> dict[str, Any]:
    return {k: (json.loads(v) if k in json_fields and isinstance(v, str) else v) for k, v in row.items()}


def acceptable_values(value: Any) -> list[Any]:
    """Turn a single reference value into BFCL's list of acceptable values.

    Corpora with single-valued answers (ACEBench, Seal-Tools, xLAM) become
    one-element lists. Objects are given one level down, as BFCL does: an
    object becomes `[{key: [value]}]` and a list of objects
    `[[{key: [value]}, ...]]`, so the checker compares them key by key.
    """
    if isinstance(value, dict):
        return [{k: [v] for k, v in value.items()}]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [[{k: [v] for k, v in item.items()} for item in value]]
    return [value]


def reference_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A canonical reference call from single values."""
    return {"name": name, "arguments": {k: acceptable_values(v) for k, v in arguments.items()}}


def reference_from_bfcl(ground_truth: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BFCL ground truth `[{fn: {param: [values]}}]` -> canonical reference."""
    if not isinstance(ground_truth, list):
        raise ValueError(f"reference must be a list of {{function: {{param: [values]}}}}, got {type(ground_truth).__name__}")
    calls = []
    for item in ground_truth:
        if not isinstance(item, dict) or len(item) != 1:
            raise ValueError(f"each reference call must be a one-key object {{function: {{...}}}}, got {item!r}")
        (name, arguments), = item.items()
        if not isinstance(arguments, dict) or not all(isinstance(v, list) for v in arguments.values()):
            raise ValueError(f"reference call {name!r}: each parameter needs a list of acceptable values")
        calls.append({"name": name, "arguments": arguments})
    return calls


def reference_to_bfcl(reference: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{call["name"]: call["arguments"]} for call in reference]
