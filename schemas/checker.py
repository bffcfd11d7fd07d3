"""Is a candidate's tool call correct? BFCL's AST checker, rule by rule.

Follows gorilla's `berkeley-function-call-leaderboard` `ast_checker.py` (the
checker FC-RewardBench and ToolRM label with) on JSON Schema tools, with one
`CheckResult` per candidate: an `ErrorType` from the taxonomy and a stable
`stage:reason` code. The rules and their order are those of
docs/tool-call-correctness.md; comments mark where BFCL surprises.

The reference is canonical (`[{"name", "arguments": {param: [acceptable...]}}]`,
see records.py): `""` among the acceptable values means "may be omitted", and
objects are given one level down as `{key: [acceptable...]}`.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, NamedTuple

from toolrm_beam.schemas.decoding import LENIENT, STRICT, DecodeError, decode_calls
from toolrm_beam.schemas.errors import ErrorType
from toolrm_beam.schemas.records import REFERENCE_CALL, REFERENCE_KINDS

# JSON Schema type -> the one Python type BFCL compares with `type(v) == t`
# (so a bool is never an integer or a number). `number` is BFCL's `float`.
_PYTHON_TYPES: dict[str, type] = {
    "string": str, "integer": int, "number": float, "boolean": bool,
    "array": list, "object": dict, "null": type(None),
}

_STRING_NOISE = re.compile(r"[ ,./\-_*^]")
# Decode failures of tool-call markup (`<tool_call>` blocks): an attempted call, not prose.
_BROKEN_CALL_CODES = ("decode:unclosed_tool_call", "decode:bad_tool_call", "decode:bad_function_call")


@dataclasses.dataclass(frozen=True)
class CheckResult:
    correct: bool
    error_type: ErrorType | None   # None when correct
    code: str                      # "ok" or a stable "stage:reason"
    detail: str                    # human readable


_OK = CheckResult(True, None, "ok", "")


def _fail(error_type: ErrorType, code: str, detail: str) -> CheckResult:
    return CheckResult(False, error_type, code, detail)


def check(tools: list[dict], reference: list[dict], candidate: Any, *,
          reference_kind: str = REFERENCE_CALL, decoding: str = STRICT) -> CheckResult:
    """Label `candidate` (text or decoded calls) against the reference.

    `decoding` is `strict` (the rules: a single call object is a parsing
    error) or `lenient` (see schemas/decoding.py). Never raises for any
    candidate; raises ValueError for a malformed reference or tools, or an
    unknown decoding.
    """
    _validate_reference(reference, reference_kind)
    if reference_kind != REFERENCE_CALL or not reference:
        return _check_no_call(candidate, decoding)
    tools_by_name = _index_tools(tools, reference)
    try:
        calls = decode_calls(candidate, decoding)
    except DecodeError as error:
        return _fail(ErrorType.PARSING_ERROR, error.code, error.message)
    if len(calls) != len(reference):
        return _fail(ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS, "count:wrong_count",
                     f"expected {len(reference)} call(s), got {len(calls)}")
    return _match_calls(tools_by_name, calls, reference) or _OK


# --- inputs ----------------------------------------------------------------

def _validate_reference(reference: Any, reference_kind: str) -> None:
    if reference_kind not in REFERENCE_KINDS:
        raise ValueError(f"unknown reference_kind {reference_kind!r}; expected one of {REFERENCE_KINDS}")
    if not isinstance(reference, list):
        raise ValueError(f"reference must be a list of calls, got {type(reference).__name__}")
    if reference and reference_kind != REFERENCE_CALL:
        raise ValueError(f"reference_kind {reference_kind!r} takes no reference calls, got {len(reference)}")
    for call in reference:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str) \
                or not isinstance(call.get("arguments"), dict):
            raise ValueError(f"reference call must be {{name, arguments}}, got {call!r}"[:300])
        for param, acceptable in call["arguments"].items():
            if not isinstance(acceptable, list) or not acceptable:
                raise ValueError(f"reference call {call['name']!r}: {param!r} needs a non-empty list of acceptable values")


def _index_tools(tools: Any, reference: list[dict]) -> dict[str, dict]:
    if not isinstance(tools, list) or not all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools):
        raise ValueError("tools must be a list of {name, description, parameters}")
    by_name: dict[str, dict] = {}
    for tool in tools:
        by_name.setdefault(tool["name"], tool)  # BFCL's find_description takes the first
    for call in reference:
        if call["name"] not in by_name:
            raise ValueError(f"reference calls {call['name']!r}, which is not among the tools")
        if not isinstance(by_name[call["name"]].get("parameters", {}), dict):
            raise ValueError(f"tool {call['name']!r}: parameters must be a JSON Schema object")
    return by_name


def _check_no_call(candidate: Any, decoding: str) -> CheckResult:
    """Irrelevance: right only if the output is no call."""
    try:
        calls = decode_calls(candidate, decoding)
    except DecodeError as error:
        if error.code in _BROKEN_CALL_CODES:
            # Tool-call markup that is cut off or malformed still tries to call a tool.
            return _fail(ErrorType.PARSING_ERROR, "irrelevance:broken_call",
                         f"no call is right here, and the output starts tool calls that do not decode "
                         f"({error.code})")
        if error.code != "decode:not_a_list":
            # As BFCL's relevance check: output that does not decode (plain prose)
            # is not a call, so it is the right answer here.
            return CheckResult(True, None, "ok", "output does not decode to calls; counts as no call")
        # A single call object is malformed as a call list, but it is still a call.
        try:
            calls = decode_calls(candidate, LENIENT)
        except DecodeError:
            return CheckResult(True, None, "ok", "output does not decode to calls; counts as no call")
    if calls:
        names = ", ".join(call["name"] for call in calls)
        return _fail(ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS, "irrelevance:called_a_tool",
                     f"no call is right here, got {len(calls)} ({_clip(names)})")
    return _OK


# --- calls -----------------------------------------------------------------

def _match_calls(tools_by_name: dict[str, dict], calls: list[dict], reference: list[dict]) -> CheckResult | None:
    """Pair each expected call, in order, with the first unused candidate call that passes.

    This is BFCL's greedy no-order matching (not a maximum matching): an
    earlier expected call may take a candidate that a later one needed. BFCL
    stops at the first expected call without a match; matching goes on here
    only so that the error is reported against a candidate no other expected
    call took, which is the likely intended one. The verdict is the same.
    """
    used: set[int] = set()
    unmatched: list[int] = []
    for position, expected in enumerate(reference):
        tool = tools_by_name[expected["name"]]
        match = next((index for index, call in enumerate(calls)
                      if index not in used and _check_call(tool, call, expected) is None), None)
        if match is None:
            unmatched.append(position)
        else:
            used.add(match)
    if not unmatched:
        return None
    position = unmatched[0]
    leftovers = [(index, call) for index, call in enumerate(calls) if index not in used]
    return _closest_failure(tools_by_name[reference[position]["name"]], reference, position, leftovers)


def _closest_failure(tool: dict, reference: list[dict], position: int,
                     leftovers: list[tuple[int, dict]]) -> CheckResult:
    """The failure of the unmatched candidate closest to the expected call.

    Prefer candidates with the expected name (else the error is the name);
    among them, the one with the most parameters that pass on their own.
    """
    expected = reference[position]
    attempts = [(index, call, _check_call(tool, call, expected)) for index, call in leftovers]
    attempts = [attempt for attempt in attempts if attempt[2] is not None]
    same_name = [a for a in attempts if a[2].error_type is not ErrorType.INCORRECT_FUNCTION_NAME]
    index, _, failure = max(same_name or attempts, key=lambda a: _agreement(tool, a[1], expected))
    if len(reference) == 1:
        return failure
    return dataclasses.replace(failure, detail=(
        f"expected call {position} ({expected['name']}) matches no call; "
        f"closest is call {index}: {failure.detail}"))


def _agreement(tool: dict, call: dict, expected: dict) -> int:
    """How many of the call's parameters pass the type and value rules on their own."""
    properties = (tool.get("parameters") or {}).get("properties") or {}
    acceptable_by_param = expected["arguments"]
    return sum(1 for param, value in call["arguments"].items()
               if param in properties and param in acceptable_by_param
               and _check_param(param, value, properties[param], acceptable_by_param[param]) is None)


def _check_call(tool: dict, call: dict, expected: dict) -> CheckResult | None:
    """BFCL's simple_function_checker: the first failing rule, or None."""
    name = expected["name"]
    # Providers that cannot emit dots in names send `a_b` for `a.b`.
    if call["name"] not in (name, name.replace(".", "_")):
        return _fail(ErrorType.INCORRECT_FUNCTION_NAME, "simple:wrong_func_name",
                     f"expected function {name!r}, got {_clip(call['name'])}")
    schema = tool.get("parameters") or {}
    properties = schema.get("properties") or {}
    arguments = call["arguments"]
    acceptable_by_param = expected["arguments"]
    for param in schema.get("required") or []:
        if param not in arguments:
            return _fail(ErrorType.MISSING_REQUIRED_PARAMETER, "simple:missing_required",
                         f"{name}: missing required parameter {param!r}")
    for param, value in arguments.items():
        # A parameter the schema defines but the reference does not expect is
        # unexpected too: the reference lists every parameter it accepts.
        if param not in properties or param not in acceptable_by_param:
            where = "the schema" if param not in properties else "the reference"
            return _fail(ErrorType.UNEXPECTED_PARAMETER, "simple:unexpected_param",
                         f"{name}: unexpected parameter {_clip(param)} (not in {where})")
        failure = _check_param(param, value, properties[param], acceptable_by_param[param])
        if failure is not None:
            return dataclasses.replace(failure, detail=f"{name}: {failure.detail}")
    for param, acceptable in acceptable_by_param.items():
        if param not in arguments and "" not in acceptable:
            return _fail(ErrorType.MISSING_OPTIONAL_PARAMETER, "simple:missing_optional",
                         f"{name}: parameter {param!r} is optional in the schema but expected "
                         f"by the reference ({_clip(acceptable)})")
    return None


# --- parameters: types -----------------------------------------------------

class _Typed(NamedTuple):
    value: Any                  # after BFCL's conversions (int -> float, tuple -> list)
    is_variable: bool
    failure: CheckResult | None


def _check_param(param: str, value: Any, schema: dict, acceptable: list) -> CheckResult | None:
    types = _schema_types(schema)
    if types is None:
        return _check_untyped_value(param, value, acceptable)
    first_failure = None
    for schema_type in types:  # a union passes if any of its types does
        items_type = _items_type(schema) if schema_type == "array" else None
        typed = _check_type(param, value, acceptable, schema_type, items_type)
        if typed.failure is None:
            return _check_value(param, typed.value, acceptable, schema_type, items_type, typed.is_variable)
        first_failure = first_failure or typed.failure
    return first_failure


def _schema_types(schema: Any) -> list[str] | None:
    """The JSON Schema types a parameter allows; None when it is untyped (BFCL's `any`)."""
    if not isinstance(schema, dict):
        return None
    declared = schema.get("type")
    if isinstance(declared, str):
        declared = [declared]
    if isinstance(declared, list):
        return declared if declared and all(t in _PYTHON_TYPES for t in declared) else None
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list) and branches:
            types: list[str] = []
            for branch in branches:
                branch_types = _schema_types(branch)
                if branch_types is None:
                    return None
                types.extend(t for t in branch_types if t not in types)
            return types
    return None


def _items_type(schema: dict) -> str | None:
    items = schema.get("items")
    declared = items.get("type") if isinstance(items, dict) else None
    return declared if declared in _PYTHON_TYPES else None


def _answer_type(acceptable: list) -> type | None:
    """Type of the first acceptable value that is not the omission marker ""."""
    for answer in acceptable:
        if answer != "":
            return type(answer)
    return None


def _check_type(param: str, value: Any, acceptable: list, schema_type: str,
                items_type: str | None) -> _Typed:
    """BFCL's type_checker, including its "variable" rule.

    Surprise: when the reference's own type differs from the schema's (say the
    schema says integer and the reference holds "n"), BFCL treats the
    reference as a variable name: a value of the reference's type passes the
    type check, and values are then compared exactly, without normalization.
    """
    expected = _PYTHON_TYPES[schema_type]
    if schema_type == "array" and type(value) is tuple:
        value = list(value)
    if schema_type == "number" and type(value) is int:
        try:
            value = float(value)  # an integer is accepted for a float
        except OverflowError:
            pass
    answer_type = _answer_type(acceptable)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if items_type is None or _items_match(value, acceptable, _PYTHON_TYPES[items_type]):
            return _Typed(value, is_variable, None)
        code = "type_error:nested" if type(value) is answer_type else "type_error:simple"
        return _Typed(value, is_variable, _fail(
            ErrorType.PARAMETER_VALUE_TYPE_ERROR, code,
            f"parameter {param!r}: expected {schema_type} of {items_type}, got {_clip(value)}"))
    if answer_type is not None and type(value) is answer_type:
        return _Typed(value, True, None)
    return _Typed(value, is_variable, _fail(
        ErrorType.PARAMETER_VALUE_TYPE_ERROR, "type_error:simple",
        f"parameter {param!r}: expected {schema_type}, got {type(value).__name__} {_clip(value)}"))


def _items_match(value: list, acceptable: list, item_type: type) -> bool:
    """One level of item type checking, as BFCL does it.

    Items get no int -> float conversion, so `[1, 3]` fails for an array of
    numbers unless the reference itself lists ints. An item may have the type
    of any item of the acceptable list, so a reference that mixes them
    (`[0.1, 10]`) accepts itself; BFCL compares with the first item's type
    only and fails it. Surprise kept from BFCL: an acceptable value that is
    not a list (the omission marker "") passes any items.
    """
    for option in acceptable:
        if type(option) is not list:
            return True
        option_types = {type(item) for item in option if item != ""}
        if all(type(item) is item_type or type(item) in option_types for item in value):
            return True
    return False


# --- parameters: values ----------------------------------------------------

def _check_value(param: str, value: Any, acceptable: list, schema_type: str,
                 items_type: str | None, is_variable: bool) -> CheckResult | None:
    if not is_variable:
        if schema_type == "object":
            return _check_dict(param, value, acceptable)
        if schema_type == "array" and items_type == "object":
            return _check_list_of_dicts(param, value, acceptable)
        if schema_type == "string":
            return _check_string(param, value, acceptable)
        if schema_type == "array":
            return _check_list(param, value, acceptable)
    return _check_exact(param, value, acceptable)


def _check_untyped_value(param: str, value: Any, acceptable: list) -> CheckResult | None:
    """Untyped (`any`) parameters: no type error; compare by the value's own kind."""
    if type(value) is tuple:
        value = list(value)
    answer_type = _answer_type(acceptable)
    if answer_type is not None and type(value) is not answer_type:
        return _check_exact(param, value, acceptable)
    if type(value) is dict:
        return _check_dict(param, value, acceptable)
    if type(value) is list and value and all(type(item) is dict for item in value):
        return _check_list_of_dicts(param, value, acceptable)
    if type(value) is str:
        return _check_string(param, value, acceptable)
    if type(value) is list:
        return _check_list(param, value, acceptable)
    return _check_exact(param, value, acceptable)


def standardize_string(text: str) -> str:
    """BFCL's normalization: drop spaces and , . / - _ * ^, lower-case, ' -> "."""
    return _STRING_NOISE.sub("", text).lower().replace("'", '"')


def _standardize_item(value: Any) -> Any:
    return standardize_string(value) if type(value) is str else value


def _check_string(param: str, value: str, acceptable: list) -> CheckResult | None:
    # Surprise kept from BFCL: "" is itself a normalized acceptable string, so
    # a value that normalizes to "" (" ", "-") passes where omission is allowed.
    allowed = [standardize_string(a) for a in acceptable if type(a) is str]
    if standardize_string(value) in allowed:
        return None
    return _fail(ErrorType.PARAMETER_VALUE_ERROR, "value_error:string",
                 f"parameter {param!r}: {_clip(value)} is not one of {_clip(acceptable)} (normalized)")


def _check_list(param: str, value: list, acceptable: list) -> CheckResult | None:
    """Whole-list comparison, order included, string items normalized."""
    target = [_standardize_item(item) for item in value]
    options = []
    for option in acceptable:
        if option == "":
            options.append([])  # BFCL turns "" into [] here: an empty list counts as omitting
        elif isinstance(option, (list, tuple)):
            options.append([_standardize_item(item) for item in option])
    if target in options:
        return None
    return _fail(ErrorType.PARAMETER_VALUE_ERROR, "value_error:list",
                 f"parameter {param!r}: {_clip(value)} is not one of {_clip(acceptable)} (order matters)")


def _check_dict(param: str, value: dict, acceptable: list) -> CheckResult | None:
    """Passes if the value matches any acceptable object, key by key (one level deep)."""
    failure = _fail(ErrorType.PARAMETER_VALUE_ERROR, "value_error:dict_no_option",
                    f"parameter {param!r}: the reference gives no object value, got {_clip(value)}")
    for option in acceptable:
        if option == "" or not isinstance(option, dict):
            continue
        failure = _dict_against(param, value, option)
        if failure is None:
            return None
    return failure


def _dict_against(param: str, value: dict, option: dict) -> CheckResult | None:
    for key, item in value.items():
        if key not in option:
            return _fail(ErrorType.PARAMETER_VALUE_ERROR, "value_error:dict_key",
                         f"parameter {param!r}: unexpected key {_clip(key)}")
        allowed = [_standardize_item(a) for a in _as_options(option[key])]
        if _standardize_item(item) not in allowed:
            return _fail(ErrorType.PARAMETER_VALUE_ERROR, "value_error:dict_value",
                         f"parameter {param!r}: key {_clip(key)} is {_clip(item)}, "
                         f"expected one of {_clip(option[key])}")
    for key, allowed in option.items():
        if key not in value and "" not in _as_options(allowed):
            return _fail(ErrorType.PARAMETER_VALUE_ERROR, "value_error:dict_key",
                         f"parameter {param!r}: missing key {_clip(key)}")
    return None


def _as_options(allowed: Any) -> list:
    return allowed if isinstance(allowed, list) else [allowed]


def _check_list_of_dicts(param: str, value: list, acceptable: list) -> CheckResult | None:
    """Same length as an acceptable list, and each object matches its counterpart in order."""
    failure = _fail(ErrorType.PARAMETER_VALUE_ERROR, "value_error:list_dict_count",
                    f"parameter {param!r}: no acceptable list of objects has {len(value)} item(s)")
    for option in acceptable:
        option = [] if option == "" else option  # as BFCL's len(""): [] counts as omitting
        if not isinstance(option, list) or len(option) != len(value):
            failure = _fail(ErrorType.PARAMETER_VALUE_ERROR, "value_error:list_dict_count",
                            f"parameter {param!r}: no acceptable list of objects has {len(value)} item(s)")
            continue
        for position, (item, expected) in enumerate(zip(value, option)):
            if type(item) is not dict:
                # Reachable only when "" let the item type check pass vacuously.
                failure = _fail(ErrorType.PARAMETER_VALUE_TYPE_ERROR, "type_error:nested",
                                f"parameter {param!r}: item {position} is not an object: {_clip(item)}")
                break
            failure = _check_dict(param, item, [expected])
            if failure is not None:
                break
        else:
            return None
    return failure


def _check_exact(param: str, value: Any, acceptable: list) -> CheckResult | None:
    if value in acceptable:
        return None
    return _fail(ErrorType.PARAMETER_VALUE_ERROR, "value_error:others",
                 f"parameter {param!r}: {_clip(value)} is not one of {_clip(acceptable)}")


def _clip(value: Any, limit: int = 160) -> str:
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."
