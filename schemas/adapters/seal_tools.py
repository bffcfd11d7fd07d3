"""Seal-Tools (fairyshine/Seal-Tools): queries whose calls name a shared catalog.

Data rows are `{id, query, calling: [{api, parameters, responses}]}`; the tool
specs live in the sibling `tool.jsonl` and are joined by name. The tools
offered for an example are the catalog specs of the APIs its calls use, as in
Seal-Tools' own evaluation with gold retrieval.
"""
from __future__ import annotations

from typing import Any

from toolrm_beam.schemas import records
from toolrm_beam.schemas.adapters import common
from toolrm_beam.schemas.adapters.base import ID, LIST, TEXT, Adapted, AdaptError, OpenFn, SourceAdapter

CATALOG_FILE = "tool.jsonl"


class AmbiguousTool:
    """A catalog name given more than once with different specs: rows calling it cannot be joined."""

    def __init__(self, name: str, lines: list[int]):
        self.name = name
        self.lines = lines

    def error(self) -> AdaptError:
        return AdaptError("ambiguous_tool", f"{CATALOG_FILE} defines {self.name!r} {len(self.lines)} times with "
                                            f"different specs (lines {self.lines}); which one the row means is unknown")


class SealToolsAdapter(SourceAdapter):
    name = "seal_tools"
    license = "Apache-2.0"
    upstream = "https://github.com/fairyshine/Seal-Tools (Seal-Tools_Dataset/)"

    required_columns = {"id": ID, "query": (TEXT,), "calling": (LIST, TEXT)}

    def is_data_file(self, path: str) -> bool:
        return common.basename(path) != CATALOG_FILE and common.is_data_name(path)

    def load_context(self, path: str, open_fn: OpenFn) -> dict[str, Any]:
        """The catalog by api_name; a name defined twice differently maps to an AmbiguousTool."""
        catalog_path = common.sibling(path, CATALOG_FILE)
        catalog: dict[str, Any] = {}
        lines: dict[str, list[int]] = {}
        for line, spec in enumerate(common.read_json_records(catalog_path, open_fn), start=1):
            if not isinstance(spec, dict) or not isinstance(spec.get("api_name"), str):
                raise ValueError(f"{catalog_path}:{line}: every spec needs an api_name, got {str(spec)[:80]!r}")
            name = spec["api_name"]
            lines.setdefault(name, []).append(line)
            known = catalog.get(name)
            if known is None:
                catalog[name] = spec
            elif isinstance(known, AmbiguousTool) or records.canonical_json(known) != records.canonical_json(spec):
                catalog[name] = AmbiguousTool(name, lines[name])
        if not catalog:
            raise ValueError(f"{catalog_path}: the tool catalog is empty")
        return catalog

    def context_key(self, path: str) -> str:
        return common.sibling(path, CATALOG_FILE)  # every data file of a folder shares its catalog

    def context_warnings(self, path: str, context: Any, open_fn: OpenFn) -> list[tuple[str, str, int]]:
        ambiguous = [tool for tool in context.values() if isinstance(tool, AmbiguousTool)]
        return [(f"{common.sibling(path, CATALOG_FILE)}: {tool.name!r} is defined {len(tool.lines)} times with "
                 f"different specs (lines {tool.lines}); rows calling it are dead-lettered (ambiguous_tool)",
                 "ambiguous_catalog_tools", 1) for tool in ambiguous]

    def adapt(self, row: Any, context: dict[str, dict[str, Any]], split: str) -> Adapted:
        row = common.require_mapping(row)
        upstream_id = common.text(row, "id")
        query = common.field(row, "query", str)
        calling = common.field(row, "calling", list, json_ok=True)
        if not query.strip():
            raise AdaptError("empty_conversation", "query is empty")
        if not calling:
            raise AdaptError("missing_answer", "calling is empty")
        calls = []
        for position, entry in enumerate(calling):
            if not isinstance(entry, dict):
                raise AdaptError("bad_field_type", f"calling[{position}] must be an object")
            api = common.field(entry, "api", str)
            parameters = common.field(entry, "parameters", dict, required=False, default={}, json_ok=True)
            calls.append((api, parameters))
        catalog = context or {}
        unknown = sorted({api for api, _ in calls if api not in catalog})
        if unknown:
            raise AdaptError("unknown_tool_in_reference", f"APIs {unknown} are not in {CATALOG_FILE}")
        for api, _ in calls:
            if isinstance(catalog[api], AmbiguousTool):
                raise catalog[api].error()
        original_tools = [catalog[api] for api in dict.fromkeys(api for api, _ in calls)]
        tools = [self._tool(spec) for spec in original_tools]
        # Values are often text where the spec says a number: give them the
        # schema's type where that loses nothing, and record which.
        calls, coerced = common.coerce_call_arguments(calls, tools)
        reference = [records.reference_call(api, parameters) for api, parameters in calls]
        detail: dict[str, Any] = {"coerced_values": coerced} if coerced else {}
        # Later calls may take an earlier call's output ("API_call_0"): such a
        # reference is only right after those calls ran.
        if any(isinstance(v, str) and "API_call_" in v for _, p in calls for v in p.values()):
            detail["dependent_calls"] = True
        example = records.make_example(
            source=self.name, split=split, upstream_id=upstream_id, tools=tools,
            original_tools=original_tools, messages=[{"role": "user", "content": query}],
            reference=reference, reference_detail=detail, license=self.license)
        return Adapted(examples=[example])

    @staticmethod
    def _tool(spec: dict[str, Any]) -> dict[str, Any]:
        raw = {"name": spec.get("api_name"), "description": spec.get("api_description", ""),
               "parameters": spec.get("parameters") or {}, "required": spec.get("required")}
        return common.normalize_tools([raw], flat=True)[0]
