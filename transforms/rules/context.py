"""Everything the perturbation families read about one example, computed once."""
from __future__ import annotations

import functools
from typing import Any

from toolrm_beam.transforms.rules.reference import concrete_calls
from toolrm_beam.transforms.rules.text import Conversation
from toolrm_beam.transforms.rules.tokens import content_words, jaccard, stems, tool_words


class ExampleContext:
    def __init__(self, example: dict):
        self.example = example
        self.example_id = example["example_id"]
        self.tools: list[dict] = example.get("tools") or []
        self.tools_by_name: dict[str, dict] = {}
        for tool in self.tools:
            self.tools_by_name.setdefault(tool["name"], tool)  # the checker takes the first too
        self.reference: list[dict] = example.get("reference") or []
        self.kind: str = example["reference_kind"]
        self.detail: dict = example.get("reference_detail") or {}
        self.conversation = Conversation(example.get("messages") or [])

    @functools.cached_property
    def calls(self) -> list[dict]:
        """The reference as concrete calls (what `reference_candidate` outputs)."""
        return concrete_calls(self.reference, self.tools)

    def schema(self, name: str) -> dict:
        tool = self.tools_by_name.get(name) or {}
        parameters = tool.get("parameters")
        return parameters if isinstance(parameters, dict) else {}

    def properties(self, name: str) -> dict[str, Any]:
        properties = self.schema(name).get("properties")
        return properties if isinstance(properties, dict) else {}

    def required(self, name: str) -> list[str]:
        required = self.schema(name).get("required")
        return [r for r in required if isinstance(r, str)] if isinstance(required, list) else []

    def acceptable(self, position: int) -> dict[str, list]:
        return self.reference[position]["arguments"]

    @functools.cached_property
    def tool_words(self) -> dict[str, set[str]]:
        return {name: tool_words(tool) for name, tool in self.tools_by_name.items()}

    @functools.cached_property
    def request_words(self) -> set[str]:
        return stems(content_words(self.conversation.last_user or self.conversation.user_text))

    def tools_by_request(self) -> list[str]:
        """Tool names, the ones most like the user's last message first."""
        words = self.request_words
        scored = [(jaccard(words, self.tool_words[name]), -index, name)
                  for index, name in enumerate(self.tools_by_name)]
        return [name for _, _, name in sorted(scored, reverse=True)]

    def siblings(self, name: str) -> list[tuple[float, str]]:
        """Other tools of the catalog by similarity to `name`, most similar first."""
        own = self.tool_words.get(name, set())
        own_name = set(content_words(name))
        scored = []
        for index, (other, words) in enumerate(self.tool_words.items()):
            if other == name or other == name.replace(".", "_") or name == other.replace(".", "_"):
                continue
            # Names weigh double: a model confuses `get_stock_price` with
            # `get_stock_history` more than with a tool sharing a description word.
            score = jaccard(own, words) + jaccard(own_name, set(content_words(other)))
            scored.append((score, -index, other))
        return [(score, other) for score, _, other in sorted(scored, reverse=True)]
