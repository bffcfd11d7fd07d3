"""Corpus adapters, by `--source` name.

Adapters are stateless, so the registry holds one shared instance of each.
"""
from __future__ import annotations

from schemas.adapters.acebench import AceBenchAdapter
from schemas.adapters.base import Adapted, AdaptError, SourceAdapter
from schemas.adapters.bfcl import BfclAdapter
from schemas.adapters.fc_rewardbench import FCRewardBenchAdapter
from schemas.adapters.openai_chat import OpenAIChatAdapter
from schemas.adapters.seal_tools import SealToolsAdapter
from schemas.adapters.toolrm_train import ToolRMTrainAdapter
from schemas.adapters.xlam import XlamAdapter

ADAPTERS: dict[str, SourceAdapter] = {
    adapter.name: adapter
    for adapter in (
        SealToolsAdapter(), AceBenchAdapter(), BfclAdapter(), XlamAdapter(),
        OpenAIChatAdapter(), ToolRMTrainAdapter(), FCRewardBenchAdapter(),
    )
}


def get_adapter(name: str) -> SourceAdapter:
    """The adapter for a source name (`seal-tools` and `seal_tools` both work)."""
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else name
    try:
        return ADAPTERS[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown source {name!r}; valid sources: {', '.join(sorted(ADAPTERS))}") from None


__all__ = ["ADAPTERS", "Adapted", "AdaptError", "SourceAdapter", "get_adapter"]
