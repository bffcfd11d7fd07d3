"""Is an output a well-formed call list for the catalog? (Not: is it right.)

Real errors are mostly schema-valid, so the share of schema-valid negatives
says how hard a generated set is. Validators are built once per distinct
schema (keyed by canonical JSON) and kept for the life of the process.
"""
from __future__ import annotations

import functools
import json
import re
from typing import Any

from jsonschema import Draft202012Validator

from toolrm_beam.schemas.decoding import DecodeError, decode_calls
from toolrm_beam.schemas.json_schema import SCHEMA_CACHE_SIZE, ref_problem, validator
from toolrm_beam.schemas.records import canonical_json
from toolrm_beam.schemas.tool_spec import schema_error


@functools.lru_cache(maxsize=SCHEMA_CACHE_SIZE)
def _validator(schema_json: str) -> Draft202012Validator | None:
    """A validator for a tool's parameters, or None where ingest would refuse the schema.

    The schema test is ingest's own (`schema_error`, cached per schema, so a run's synthesize
    stage finds the answer ingest computed): every example ingest writes, and every example
    shard synthesize reads, passed it already. It was a second check against the 2020-12
    metaschema, ~1.2 ms per distinct schema and process (most of the 10.9 s this module took
    of the loop's 36 s on the shared corpora, profiled).
    """
    try:
        schema = json.loads(schema_json)
        if schema_error(schema) is not None:
            return None
        if ref_problem(schema) is not None:  # ingest refuses these; a hand-made shard may still hold one
            return None
        return validator(schema)
    except (ValueError, TypeError):
        return None


def _plain(value: Any) -> Any:
    """Tuples (Python-syntax output) as lists, which is what JSON would carry."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def is_schema_valid(tools: list[dict], output: Any) -> bool:
    """True if `output` decodes to calls of tools in `tools` whose arguments validate.

    An empty call list is valid (nothing in it breaks the schema); text that
    does not decode is not.
    """
    try:
        calls = decode_calls(output)
    except DecodeError:
        return False
    by_name: dict[str, dict] = {}
    for tool in tools or []:
        by_name.setdefault(tool.get("name"), tool)
    for call in calls:
        tool = by_name.get(call["name"])
        if tool is None:
            return False
        parameters = tool.get("parameters")
        if not isinstance(parameters, dict):
            return False
        validator = _validator(canonical_json(parameters))
        if validator is None:
            return False
        try:
            if not validator.is_valid(_plain(call["arguments"])):
                return False
        except re.error:  # an ECMA-262 `pattern` Python's re cannot compile
            return False
    return True
