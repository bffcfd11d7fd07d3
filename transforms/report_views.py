"""Records cut down to what the report shows (pure Python): a pair as a person reads it, a dead letter's sample.

Everything here is corpus or model text and stays plain text; the page
escapes it when it renders. Long text is cut with a marker that says so.
"""
from __future__ import annotations

import json
from typing import Any

TEXT_LIMIT = 1500
RAW_LIMIT = 600


def clip(text: Any, limit: int = TEXT_LIMIT) -> str:
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f" [... {len(text) - limit} more characters]"


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _calls(output: Any) -> list[dict[str, Any]] | None:
    """A candidate's output as a list of `{name, arguments}` calls, or None for a text answer."""
    value = _json(output)
    if isinstance(value, list) and all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in value):
        return value
    return None


def call_text(output: Any) -> str:
    """`name(param=value, ...)` per call, one per line; a text answer as it is."""
    calls = _calls(output)
    if calls is None:
        value = _json(output)
        return clip(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    if not calls:
        return "(no call)"
    lines = []
    for call in calls:
        arguments = call.get("arguments")
        if isinstance(arguments, dict):
            inside = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
        else:
            inside = json.dumps(arguments, ensure_ascii=False)
        lines.append(f"{call['name']}({inside})")
    return clip("\n".join(lines))


def _request(conversation: list[dict[str, Any]] | None) -> tuple[str, int]:
    """The last user message, and how many messages came before it."""
    messages = list(conversation or [])
    for position in range(len(messages) - 1, -1, -1):
        if messages[position].get("role") == "user":
            return clip(messages[position].get("content")), position
    return "(no user message)", len(messages)


def _tools(tools_json: Any, called: list[str]) -> tuple[list[dict[str, str]], int, list[str]]:
    """The catalog's specs of the called functions, the catalog's size, and called names it lacks."""
    catalog = {}
    for tool in _json(tools_json) or []:
        function = tool.get("function", tool) if isinstance(tool, dict) else {}
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            catalog[function["name"]] = function
    names = [n for n in dict.fromkeys(called) if n in catalog] or list(catalog)[:3]
    shown = [{"name": n, "description": clip(catalog[n].get("description"), 400),
              "parameters": clip(json.dumps(catalog[n].get("parameters", {}), ensure_ascii=False), 800)}
             for n in names]
    return shown, len(catalog), [n for n in dict.fromkeys(called) if n not in catalog]


def pair_view(pair: dict[str, Any], rejected_detail: str | None = None) -> dict[str, Any]:
    """A pair as the report shows it: the request, the tool, the chosen and the rejected call."""
    called = [c["name"] for output in (pair.get("chosen_output"), pair.get("rejected_output"))
              for c in (_calls(output) or [])]
    tools, catalog_size, unknown = _tools(pair.get("tools"), called)
    request, earlier = _request(pair.get("conversation"))
    return {
        "example_id": pair.get("example_id"), "source": pair.get("dataset_name"),
        "error_type": pair.get("error_type"), "request": request, "earlier_messages": earlier,
        "tools": tools, "catalog_size": catalog_size, "unknown_functions": unknown,
        "chosen": call_text(pair.get("chosen_output")), "rejected": call_text(pair.get("rejected_output")),
        "chosen_origin": pair.get("chosen_origin"), "rejected_origin": pair.get("rejected_origin"),
        "chosen_score": pair.get("chosen_score"), "rejected_score": pair.get("rejected_score"),
        "score_margin": pair.get("score_margin"), "rejected_detail": clip(rejected_detail, 400) or None,
        "uuid": pair.get("uuid"),
    }


def dead_letter_view(record: dict[str, Any], step: str) -> dict[str, Any]:
    """One dead letter as the report's sample of its reason."""
    return {"step": step, "reason": record.get("reason"), "stage": record.get("stage"),
            "source_file": clip(record.get("source_file"), 300), "row_number": record.get("row_number"),
            "detail": clip(record.get("detail"), RAW_LIMIT), "raw_row": clip(record.get("raw_row"), RAW_LIMIT)}
