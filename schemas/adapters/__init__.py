"""Corpus adapters, by `--source` name.

Adapters are stateless, so the registry holds one shared instance of each.
"""
from __future__ import annotations

from toolrm_beam.schemas.adapters.acebench import AceBenchAdapter
from toolrm_beam.schemas.adapters.base import Adapted, AdaptError, SourceAdapter
from toolrm_beam.schemas.adapters.bfcl import BfclAdapter
from toolrm_beam.schemas.adapters.bfcl_results import BfclResultsAdapter
from toolrm_beam.schemas.adapters.fc_rewardbench import FCRewardBenchAdapter
from toolrm_beam.schemas.adapters.model_samples import ModelSamplesAdapter
from toolrm_beam.schemas.adapters.openai_chat import OpenAIChatAdapter
from toolrm_beam.schemas.adapters.seal_tools import SealToolsAdapter
from toolrm_beam.schemas.adapters.toolrm_train import ToolRMTrainAdapter
from toolrm_beam.schemas.adapters.xlam import XlamAdapter

ADAPTERS: dict[str, SourceAdapter] = {
    adapter.name: adapter
    for adapter in (
        SealToolsAdapter(), AceBenchAdapter(), BfclAdapter(), XlamAdapter(),
        OpenAIChatAdapter(), ToolRMTrainAdapter(), FCRewardBenchAdapter(), BfclResultsAdapter(),
        ModelSamplesAdapter(),
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
