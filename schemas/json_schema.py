"""JSON Schema validation that never leaves the process, and `$ref`s later stages can follow.

jsonschema, given no registry, still fetches a remote `$ref` over the network
(deprecated, but on): a tool spec could make a worker open a URL. Every
validator in the project is built here, over a registry that holds only the
bundled metaschemas and refuses to retrieve anything.

`ref_problem` is the ingest-time check: a tool's `$ref`s must be local JSON
pointers (`#`, `#/$defs/x`) that resolve inside the tool's own schema and do
not lead back to themselves. A cyclic schema makes validation and every
schema walker recurse without end; an unresolvable or outside reference has
no meaning without the network. Such a spec is refused with its reason.
"""
from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from jsonschema_specifications import REGISTRY as _METASCHEMAS

# Keywords whose values are schemas keyed by name / a schema / a list of schemas
# (JSON Schema 2020-12 and the draft-7 forms corpora use).
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_VALUES = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
                  "additionalItems", "unevaluatedItems", "unevaluatedProperties", "contentSchema")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems", "items")
_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")

# Distinct tool schemas each per-schema cache keeps (per process). The shared corpora hold 4,534: an
# LRU cache smaller than that, visited in the same order twice (ingest, then synthesize in the same
# worker), misses every time. Entries are a schema's JSON text and a small result.
SCHEMA_CACHE_SIZE = 8192

# The registry every validator uses: metaschemas only; its retrieve refuses (no network).
OFFLINE_REGISTRY = _METASCHEMAS


def validator(schema: Any, cls: type = Draft202012Validator, **kwargs: Any):
    """A jsonschema validator for `schema` that resolves references offline only."""
    return cls(schema, registry=OFFLINE_REGISTRY, **kwargs)


class RefProblem(ValueError):
    """A `$ref` later stages cannot follow; `reason` is `remote_ref`, `unresolvable_ref` or `cyclic_ref`."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def ref_problem(schema: Any) -> RefProblem | None:
    """Why a schema's `$ref`s cannot be followed safely, or None (also None when it has none)."""
    text = json.dumps(schema, sort_keys=True, default=str)
    if '"$ref"' not in text and '"$dynamicRef"' not in text and '"$recursiveRef"' not in text:
        return None
    return _ref_problem_cached(text)


@functools.lru_cache(maxsize=SCHEMA_CACHE_SIZE)
def _ref_problem_cached(text: str) -> RefProblem | None:
    schema = json.loads(text)
    refs = list(_refs(schema, ()))
    targets: dict[tuple, tuple] = {}
    for location, keyword, ref in refs:
        where = _pointer_text(location)
        if not isinstance(ref, str):
            return RefProblem("unresolvable_ref", f"{keyword} at {where} is not a string: {ref!r}"[:300])
        if not ref.startswith("#"):
            return RefProblem("remote_ref", f"{keyword} {ref!r} at {where} points outside the tool's schema "
                                            "(only local references such as '#/$defs/name' are allowed)")
        path = _parse_pointer(ref)
        if path is None or not _resolves(schema, path):
            return RefProblem("unresolvable_ref", f"{keyword} {ref!r} at {where} does not resolve inside the schema")
        targets[location] = path
    # A reference's target holds further references; following them must end.
    for start in targets:
        cycle = _cycle_from(start, targets)
        if cycle:
            chain = " -> ".join(_pointer_text(targets[loc]) for loc in cycle)
            return RefProblem("cyclic_ref", f"$ref at {_pointer_text(start)} leads back to itself ({chain})")
    return None


def _refs(node: Any, location: tuple):
    """(location of the schema node, keyword, value) of every reference, walking schema keywords only."""
    if not isinstance(node, dict):
        return
    for keyword in _REF_KEYWORDS:
        if keyword in node:
            yield location, keyword, node[keyword]
    for keyword in _SCHEMA_MAPS:
        if isinstance(node.get(keyword), dict):
            for name, sub in node[keyword].items():
                yield from _refs(sub, (*location, keyword, name))
    for keyword in _SCHEMA_VALUES:
        if isinstance(node.get(keyword), dict):
            yield from _refs(node[keyword], (*location, keyword))
    for keyword in _SCHEMA_LISTS:
        if isinstance(node.get(keyword), list):
            for index, sub in enumerate(node[keyword]):
                yield from _refs(sub, (*location, keyword, str(index)))


def _cycle_from(start: tuple, targets: dict[tuple, tuple]) -> list[tuple] | None:
    """References reachable from `start` by following targets; the path if it reaches `start` again.

    Following a reference lands on its target node; every reference located
    at or under that node is reachable next.
    """
    path, seen, frontier = {start: [start]}, {start}, [start]
    while frontier:
        current = frontier.pop()
        target = targets[current]
        for location in targets:
            if location[:len(target)] != target:
                continue
            if location == start:
                return path[current]
            if location not in seen:
                seen.add(location)
                path[location] = [*path[current], location]
                frontier.append(location)
    return None


def _parse_pointer(ref: str) -> tuple | None:
    fragment = unquote(ref[1:])
    if fragment == "":
        return ()
    if not fragment.startswith("/"):
        return None  # a plain-name anchor (`#name`): not supported in tool specs
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in fragment[1:].split("/"))


def _resolves(schema: Any, path: tuple) -> bool:
    node = schema
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return isinstance(node, (dict, bool))


def _pointer_text(path: tuple) -> str:
    return "#" + "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in path)
