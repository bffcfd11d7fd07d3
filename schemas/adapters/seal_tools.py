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
from toolrm_beam.schemas.adapters.base import Adapted, AdaptError, OpenFn, SourceAdapter

CATALOG_FILE = "tool.jsonl"


class SealToolsAdapter(SourceAdapter):
    name = "seal_tools"
    license = "Apache-2.0"
    upstream = "https://github.com/fairyshine/Seal-Tools (Seal-Tools_Dataset/)"

    def is_data_file(self, path: str) -> bool:
        return common.basename(path) != CATALOG_FILE

    def load_context(self, path: str, open_fn: OpenFn) -> dict[str, dict[str, Any]]:
        catalog_path = common.sibling(path, CATALOG_FILE)
        catalog = {}
        for spec in common.read_json_records(catalog_path, open_fn):
            if not isinstance(spec, dict) or not isinstance(spec.get("api_name"), str):
                raise ValueError(f"{catalog_path}: every spec needs an api_name, got {str(spec)[:80]!r}")
            catalog[spec["api_name"]] = spec
        return catalog

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
