"""Reward-model scoring: serialization, token-budget batching and RunInference handlers.

torch, transformers and vllm are imported only when a model is loaded, so
importing this package is cheap.
"""
from toolrm_beam.transforms.reward.batching import fixed_size_batches, padding_waste, token_budget_batches
from toolrm_beam.transforms.reward.serialize import CANDIDATE_TOO_LONG, RewardSerializer, Serialized
from toolrm_beam.transforms.reward.transformers_rm import (
    RewardScorer, ScoreRequest, ScoreResult, TransformersRewardHandler, as_score_request)
from toolrm_beam.transforms.reward.vllm_rm import VLLMRewardHandler

__all__ = [
    "CANDIDATE_TOO_LONG", "RewardScorer", "RewardSerializer", "ScoreRequest", "ScoreResult", "Serialized",
    "TransformersRewardHandler", "VLLMRewardHandler", "as_score_request", "fixed_size_batches",
    "padding_waste", "token_budget_batches",
]
