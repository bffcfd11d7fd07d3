"""Helpers shared by the corpus adapters: field access, tools, messages, calls.

Every helper raises `AdaptError` with a stable reason code, so an adapter is a
short sequence of calls and the dead letter says what was wrong with the row.
"""
from __future__ import annotations

import copy
import functools
import json
import math
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from toolrm_beam.schemas import decoding, records, strict_json
from toolrm_beam.schemas.errors import ErrorType
from toolrm_beam.schemas.adapters.base import AdaptError, OpenFn
from toolrm_beam.schemas.json_schema import SCHEMA_CACHE_SIZE
from toolrm_beam.schemas.tool_spec import ToolSpecError, normalize_tool, properties_schema

_MISSING = object()

# Roles that some corpora spell their own way.
_ROLE_ALIASES = {
    "system": "system", "developer": "system",
    "user": "user", "human": "user",
    "assistant": "assistant", "gpt": "assistant", "model": "assistant", "bot": "assistant",
    "tool": "tool", "function": "tool", "ipython": "tool", "observation": "tool", "tool_response": "tool",
}

# Keys of an OpenAI message that carry meaning downstream; the rest is dropped.
_MESSAGE_KEYS = ("tool_calls", "tool_call_id", "name")

_SHARD_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")


# ----------------------------------------------------------------- files

def sibling(path: str, *parts: str) -> str:
    """A path next to `path` (works for local paths and `scheme://` URLs)."""
    return posixpath.join(posixpath.dirname(path.rstrip("/")), *parts)


def basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def parent_name(path: str) -> str:
    """The name of the folder holding `path`."""
    return basename(posixpath.dirname(path.rstrip("/")))


def stem(path: str) -> str:
    return basename(path).split(".", 1)[0]


# What a corpus data file may be called: JSON, JSONL or Parquet (READMEs and the like are not data).
DATA_SUFFIXES = (".json", ".jsonl", ".parquet", ".pq")


def is_data_name(path: str) -> bool:
    return basename(path).lower().endswith(DATA_SUFFIXES)


def shard_split(path: str) -> str:
    """`train-00000-of-00003.parquet` -> `train`: shards of one split share it."""
    return _SHARD_SUFFIX.sub("", stem(path)) or stem(path)


def read_json_records(path: str, open_fn: OpenFn) -> list[Any]:
    """Records of a JSONL file (or of a file holding one JSON array), parsed strictly."""
    with open_fn(path) as handle:
        text = handle.read()
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: not UTF-8 ({error.reason} at byte {error.start})") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            value = strict_json.loads(stripped)
        except strict_json.StrictJSONError:
            value = None
        if isinstance(value, list):
            return value
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(strict_json.loads(line))
            except strict_json.StrictJSONError as error:
                raise ValueError(f"{path}:{number}: {error.reason}: {error.detail}") from None
    return out


def record_ids(path: str, open_fn: OpenFn) -> set[str]:
    """The `id` of every row of a JSONL/JSON file that has one (rows that do not parse are skipped:
    ingest dead-letters them)."""
    ids = set()
    with open_fn(path) as handle:
        text = handle.read()
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    stripped = text.lstrip("\ufeff \t\r\n")
    try:
        rows = json.loads(stripped) if stripped.startswith("[") else None
    except ValueError:
        rows = None
    if not isinstance(rows, list):
        rows = []
        for line in text.splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    for row in rows:
        if isinstance(row, dict) and row.get("id") is not None:
            ids.add(str(row["id"]))
    return ids


def unmatched_answers(path: str, answers: dict[str, Any], open_fn: OpenFn, answer_dir: str
                      ) -> list[tuple[str, str, int]]:
    """A warning (and its count) for answers whose id matches no question of the data file."""
    if not answers or path.lower().endswith((".parquet", ".pq")):
        return []
    orphans = sorted(set(answers) - record_ids(path, open_fn))
    if not orphans:
        return []
    shown = ", ".join(orphans[:5]) + (", ..." if len(orphans) > 5 else "")
    return [(f"{sibling(path, answer_dir, basename(path))}: {len(orphans)} answer(s) match no question of "
             f"{path} ({shown})", "answers_without_question", len(orphans))]


def index_by_id(records_: list[Any], path: str) -> dict[str, Any]:
    out = {}
    for item in records_:
        if not isinstance(item, dict) or "id" not in item:
            raise ValueError(f"{path}: every record needs an id, got {str(item)[:80]!r}")
        out[str(item["id"])] = item
    return out


# ----------------------------------------------------------------- fields

def require_mapping(row: Any) -> Mapping:
    if not isinstance(row, Mapping):
        raise AdaptError("bad_field_type", f"a row must be an object, got {type(row).__name__}")
    return row


def _plain(value: Any) -> Any:
    """numpy arrays (pandas-read Parquet) -> lists; everything else as is."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    return value


def field(row: Mapping, key: str, kind: type | tuple[type, ...], *, required: bool = True,
          default: Any = None, json_ok: bool = False) -> Any:
    """`row[key]`, checked against `kind`.

    With `json_ok`, a string is first decoded as JSON: Parquet gives JSON-typed
    columns either decoded or as JSON text, depending on who wrote it.
    """
    value = row.get(key, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise AdaptError("missing_field", f"field {key!r} is missing")
        return default
    value = _plain(value)
    if json_ok and isinstance(value, str) and str not in _as_tuple(kind):
        try:
            value = strict_json.loads(value)
        except strict_json.StrictJSONError as error:
            raise AdaptError(error.reason, _json_field_detail(key, error)) from None
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in _as_tuple(kind):
        names = "/".join(k.__name__ for k in _as_tuple(kind))
        raise AdaptError("bad_field_type", f"field {key!r} must be {names}, got {type(value).__name__}")
    return value


def _json_field_detail(key: str, error: strict_json.StrictJSONError) -> str:
    if error.reason != "malformed_json":
        return f"field {key!r}: {error.detail}"
    if error.detail.startswith("nesting too deep"):
        return f"field {key!r} is nested too deeply to parse"
    return f"field {key!r} is not valid JSON: {error.detail}"


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def text(row: Mapping, key: str, *, required: bool = True, default: str = "") -> str:
    """A text field; numeric ids become their string."""
    value = _plain(row.get(key))
    if value is None:
        if required:
            raise AdaptError("missing_field", f"field {key!r} is missing")
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise AdaptError("bad_field_type", f"field {key!r} must be a string, got {type(value).__name__}")
    return str(value)


# ----------------------------------------------------------------- tools

def _looks_flat(parameters: dict[str, Any]) -> bool:
    """A `{param: {type, description}}` map rather than an object schema."""
    if not parameters or "properties" in parameters or isinstance(parameters.get("type"), str):
        return False
    return all(isinstance(v, (dict, str)) for v in parameters.values())


def tool_from_spec(spec: Any, *, flat: bool | None = None) -> dict[str, Any]:
    """Normalize one raw spec in any corpus form; raises ToolSpecError.

    Forms: OpenAI `{type: function, function: {...}}`; `{name, description,
    parameters}` with JSON Schema or a dialect of it; ACEBench's `arguments`
    instead of `parameters`; flat property maps (Seal-Tools, xLAM), detected
    unless `flat` says.
    """
    try:
        key = records.canonical_json(spec)
    except (TypeError, ValueError):
        return _tool_from_spec(spec, flat)
    return copy.deepcopy(_cached_tool(key, flat))


@functools.lru_cache(maxsize=SCHEMA_CACHE_SIZE)
def _cached_tool(spec_json: str, flat: bool | None) -> dict[str, Any]:
    # Corpora repeat the same specs across rows, and validating a schema
    # against the 2020-12 metaschema costs milliseconds: normalize each once
    # per worker. Callers get a deep copy, so the cached value never changes.
    return _tool_from_spec(json.loads(spec_json), flat)


def _tool_from_spec(spec: Any, flat: bool | None) -> dict[str, Any]:
    spec = _without_nulls(spec)
    if not isinstance(spec, dict):
        raise ToolSpecError(f"a tool spec must be an object, got {type(spec).__name__}")
    if spec.get("type") == "function" and isinstance(spec.get("function"), dict):
        spec = spec["function"]
    parameters = spec["parameters"] if "parameters" in spec else spec.get("arguments")
    if isinstance(parameters, str):
        try:
            parameters = strict_json.loads(parameters)
        except strict_json.StrictJSONError as error:
            reason = "invalid_tool_spec" if error.reason == "malformed_json" else error.reason
            raise ToolSpecError(f"tool {spec.get('name')!r}: parameters are not valid JSON: {error.detail}",
                                reason) from None
    try:
        if isinstance(parameters, dict):
            if flat or (flat is None and _looks_flat(parameters)):
                parameters = properties_schema(_listed_examples(parameters), spec.get("required"))
            elif not parameters:
                # `{}` means "no parameters" in OpenAI-style specs.
                parameters = {"type": "object", "properties": {}}
        return normalize_tool(spec.get("name"), spec.get("description", ""), parameters)
    except (TypeError, AttributeError, KeyError) as error:
        # Normalization assumes well-shaped schema nodes (`properties` an object, ...): a spec
        # that breaks that is an invalid spec (a dead letter with the reason), not an adapter crash.
        raise ToolSpecError(f"tool {spec.get('name')!r}: malformed parameters "
                            f"({type(error).__name__}: {error})") from None


def _without_nulls(node: Any) -> Any:
    """Drop null-valued keys of a spec.

    Parquet stores a list of objects as a list of structs over the union of
    their keys, so each object comes back with `key: None` for the keys it
    lacked (`properties: {a: {...}, b: None}`). In a tool spec a null is never
    meaningful except as a default or constant.
    """
    if isinstance(node, dict):
        return {k: _without_nulls(v) for k, v in node.items() if v is not None or k in ("default", "const")}
    if isinstance(node, list):
        return [_without_nulls(v) for v in node]
    return node


def _listed_examples(properties: dict[str, Any]) -> dict[str, Any]:
    """Flat maps write `examples: "12, 24, 36"`; JSON Schema wants a list."""
    return {name: ({**sub, "examples": [sub["examples"]]}
                   if isinstance(sub, dict) and "examples" in sub and not isinstance(sub["examples"], list)
                   else sub)
            for name, sub in properties.items()}


def normalize_tools(specs: Any, *, flat: bool | None = None) -> list[dict[str, Any]]:
    """Normalize a catalog; any bad spec makes the row an `invalid_tool_spec`."""
    specs = _plain(specs)
    if isinstance(specs, dict):
        specs = [specs]
    if not isinstance(specs, list):
        raise AdaptError("bad_field_type", f"tools must be a list of specs, got {type(specs).__name__}")
    tools = []
    for position, spec in enumerate(specs):
        try:
            tools.append(tool_from_spec(spec, flat=flat))
        except ToolSpecError as error:
            raise AdaptError(error.reason, f"tool #{position} ({_spec_name(spec)}): {error}") from None
    return tools


def _spec_name(spec: Any) -> Any:
    if isinstance(spec, dict) and isinstance(spec.get("function"), dict):
        spec = spec["function"]
    return spec.get("name") if isinstance(spec, dict) else None


def check_reference_tools(reference: list[dict[str, Any]], tools: list[dict[str, Any]]) -> None:
    for call in reference:  # a reference given in canonical form is the row's own: its shape is unchecked
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise AdaptError("bad_field_type", f"a reference call needs a text name, got {str(call)[:80]!r}")
    names = {tool["name"] for tool in tools}
    unknown = [call["name"] for call in reference if call["name"] not in names]
    if unknown:
        raise AdaptError("unknown_tool_in_reference",
                         f"reference calls {sorted(set(unknown))} but the tools are {sorted(names)}")


# ----------------------------------------------------------------- messages

def _content(value: Any, where: str) -> str | None:
    value = _plain(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        # OpenAI content parts: keep the text ones.
        parts = [str(p.get("text") or "") if isinstance(p, dict) else str(p) for p in value]
        return "".join(parts)
    if isinstance(value, (dict, int, float, bool)):
        return records.canonical_json(value)
    raise AdaptError("bad_field_type", f"{where}: content must be text, got {type(value).__name__}")


def normalize_messages(raw: Any, where: str = "messages") -> list[dict[str, Any]]:
    """OpenAI-style `[{role, content, ...}]` from a corpus conversation."""
    raw = _plain(raw)
    if not isinstance(raw, list):
        raise AdaptError("bad_field_type", f"{where} must be a list of messages, got {type(raw).__name__}")
    messages = []
    for position, item in enumerate(raw):
        item = _plain(item)
        if not isinstance(item, dict):
            raise AdaptError("bad_field_type", f"{where}[{position}] must be an object, got {type(item).__name__}")
        role = item.get("role", item.get("from"))
        if not isinstance(role, str) or role.strip().lower() not in _ROLE_ALIASES:
            raise AdaptError("bad_field_type", f"{where}[{position}]: unknown role {role!r}")
        message: dict[str, Any] = {
            "role": _ROLE_ALIASES[role.strip().lower()],
            "content": _content(item.get("content", item.get("value")), f"{where}[{position}]"),
        }
        for key in _MESSAGE_KEYS:
            if item.get(key) is not None:
                message[key] = _plain(item[key])
        if message.get("tool_calls") is not None and not isinstance(message["tool_calls"], list):
            raise AdaptError("bad_field_type", f"{where}[{position}].tool_calls must be a list")
        if message["content"] is None and not (message["role"] == "assistant" and message.get("tool_calls")):
            # Only an assistant turn that calls tools may carry no text.
            raise AdaptError("null_content", f"{where}[{position}] ({message['role']}) has null content "
                                             "where text is needed")
        messages.append(message)
    if not messages:
        raise AdaptError("empty_conversation", f"{where} holds no message")
    return messages


_TRANSCRIPT_ROLE = re.compile(r"(?m)^(user|system|assistant):[ \t]?")


def parse_transcript(transcript: str, assistant_labels: tuple[str, ...] = ("system", "assistant")
                     ) -> list[dict[str, Any]]:
    """`"user: ...\\nsystem: ...\\nuser: ..."` -> messages.

    Only a role word at the start of a line opens a turn, so content spanning
    several lines (lists, JSON) stays in its turn. Text before the first
    marker is the user's.
    """
    messages = []
    matches = list(_TRANSCRIPT_ROLE.finditer(transcript))
    head = transcript[: matches[0].start()] if matches else transcript
    if head.strip():
        messages.append({"role": "user", "content": head.strip()})
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(transcript)
        role = "assistant" if match.group(1) in assistant_labels else "user"
        messages.append({"role": role, "content": transcript[match.end():end].strip()})
    return messages


# ----------------------------------------------------------------- calls

def decode_calls(value: Any, mode: str = decoding.LENIENT) -> list[dict[str, Any]]:
    """Decode a corpus call list (any form `schemas.decoding` reads leniently); raises ValueError.

    Parquet gives a list of objects as structs over the union of their keys,
    so keys an item lacked come back as null: drop those before decoding.
    """
    value = _plain(value)
    if isinstance(value, str):
        try:
            inner = strict_json.loads(value)
        except strict_json.StrictJSONError as error:
            if error.reason != "malformed_json":  # JSON, but not data: refuse rather than decode leniently
                raise AdaptError(error.reason, error.detail) from None
            inner = None
        if isinstance(inner, str):  # JSON text encoded twice, as some exports do
            value = inner
    if isinstance(value, list):
        value = [{k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else item
                 for item in value]
    # Corpus answers come in documented shapes (one call object included): read leniently by default.
    return decoding.decode_calls(value, mode)


def decode_or_text(raw: Any) -> Any:
    """A wrong output decoded to calls where it can be (strictly: it is an output
    under judgement); else its text, kept for the checker to call a parsing
    error rather than lost."""
    try:
        return decode_calls(raw, decoding.STRICT)
    except ValueError:
        return raw if isinstance(raw, str) else records.canonical_json(raw)


def reference_from_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [records.reference_call(call["name"], call["arguments"]) for call in calls]


def make_candidate(example: dict[str, Any], output: Any, origin: str, *, correct: bool | None,
                   error_type: str | None = None, detail: str | None = None, **fields: Any) -> dict[str, Any]:
    """A Candidate record from a corpus, keyed for re-keying after dedup (`fields`: models, upstream verdict)."""
    return {**records.make_candidate(example["example_id"], output, origin, correct=correct,
                                     error_type=error_type, detail=detail, **fields),
            "example_content_hash": example["content_hash"]}


def adapt_pair(adapter: Any, *, split: str, upstream_id: str, conversation: list, original_tools: list,
               correct_raw: Any, correct_field: str, rejected_raw: Any, correct_origin: str,
               rejected_origin: str, label: Any) -> Any:
    """A pair-corpus row -> one example (reference = the correct calls) and its
    correct and wrong candidates. The wrong output is kept as text when it does
    not decode, so the checker can call it a parsing error instead of losing it."""
    from toolrm_beam.schemas.adapters.base import Adapted

    messages = normalize_messages(conversation, "conversation")
    tools = normalize_tools(original_tools)
    try:
        correct = decode_calls(correct_raw)
    except ValueError as error:
        raise AdaptError("malformed_json", f"{correct_field}: {error}") from None
    reference = reference_from_calls(correct)
    check_reference_tools(reference, tools)
    example = records.make_example(
        source=adapter.name, split=split, upstream_id=upstream_id, tools=tools,
        original_tools=original_tools, messages=messages, reference=reference,
        reference_kind=records.REFERENCE_CALL if reference else records.REFERENCE_NO_CALL,
        license=adapter.license)
    candidates = [make_candidate(example, correct, correct_origin, correct=True)]
    if rejected_raw is not None:
        rejected = make_candidate(example, decode_or_text(rejected_raw), rejected_origin, correct=False,
                                  error_type=error_type_of(label), detail=label if isinstance(label, str) else None)
        if rejected["candidate_id"] == candidates[0]["candidate_id"] or _same_raw(rejected_raw, correct_raw):
            raise AdaptError("no_preference", "the rejected output equals the chosen one (after decoding): "
                                              "the pair states no preference")
        candidates.append(rejected)
    return Adapted(examples=[example], candidates=candidates)


def _same_raw(first: Any, second: Any) -> bool:
    """The two outputs as given are the same text or the same JSON value."""
    def canonical(value: Any) -> str:
        value = _plain(value)
        if isinstance(value, str):
            try:
                return records.canonical_json(json.loads(value))
            except ValueError:
                return value.strip()
        return records.canonical_json(value)
    try:
        return canonical(first) == canonical(second)
    except (TypeError, ValueError, RecursionError):
        return False


# Substrings of labels in other spellings (BFCL checker codes, short names),
# tried in order: the more specific first.
_ERROR_HINTS = (
    ("type_error", ErrorType.PARAMETER_VALUE_TYPE_ERROR),
    ("value_type", ErrorType.PARAMETER_VALUE_TYPE_ERROR),
    ("wrong_func_name", ErrorType.INCORRECT_FUNCTION_NAME),
    ("function_name", ErrorType.INCORRECT_FUNCTION_NAME),
    ("func_name", ErrorType.INCORRECT_FUNCTION_NAME),
    ("wrong_count", ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS),
    ("number_of", ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS),
    ("missing_required", ErrorType.MISSING_REQUIRED_PARAMETER),
    ("missing_optional", ErrorType.MISSING_OPTIONAL_PARAMETER),
    ("unexpected_param", ErrorType.UNEXPECTED_PARAMETER),
    ("value_error", ErrorType.PARAMETER_VALUE_ERROR),
    ("decoder", ErrorType.PARSING_ERROR),
    ("pars", ErrorType.PARSING_ERROR),
)


def error_type_of(label: Any) -> str | None:
    """Map a corpus error label loosely onto the taxonomy; None if unknown."""
    if not isinstance(label, str) or not label.strip():
        return None
    try:
        return ErrorType.from_label(label).value
    except ValueError:
        pass
    key = re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")
    for hint, error_type in _ERROR_HINTS:
        if hint in key:
            return error_type.value
    return None


# ----------------------------------------------------------------- values

_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
_BOOLEAN_TEXT = {"true": True, "false": False}


def coerce_to_schema(value: Any, schema: Any) -> Any:
    """A reference value written as text, in the type its schema declares.

    Seal-Tools and xLAM often write `"8"` where the schema says integer, and
    ACEBench sometimes one object where the schema says an array of them. Left
    as text, the checker's variable rule would fail the schema-correct call
    `8` and pass the type error `"8"`. Only lossless conversions are made;
    anything else is kept as given.
    """
    if not isinstance(schema, dict):
        return value
    kind = schema.get("type")
    if kind == "array" and isinstance(value, dict):
        return [value]  # one object given where the schema wants a list of them (ACEBench)
    if not isinstance(value, str):
        return value
    text = value.strip()
    if kind == "integer" and _INTEGER_TEXT.match(text):
        return int(text)
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    if kind == "boolean" and text.lower() in _BOOLEAN_TEXT:
        return _BOOLEAN_TEXT[text.lower()]
    if kind in ("array", "object") and text[:1] in "[{":
        try:
            parsed = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            return value
        return parsed if isinstance(parsed, list if kind == "array" else dict) else value
    return value


def coerce_call_arguments(calls: list[tuple[str, dict[str, Any]]], tools: list[dict[str, Any]]
                          ) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """Coerce every call's arguments to its tool's schema; also name what changed."""
    properties = {tool["name"]: tool["parameters"].get("properties", {}) for tool in tools}
    coerced_calls, changed = [], []
    for name, arguments in calls:
        schemas_ = properties.get(name, {})
        new = {}
        for param, value in arguments.items():
            new[param] = coerce_to_schema(value, schemas_.get(param))
            if new[param] is not value:
                changed.append(f"{name}.{param}")
        coerced_calls.append((name, new))
    return coerced_calls, changed
