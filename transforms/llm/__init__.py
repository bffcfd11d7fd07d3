"""LLM candidate generation: requests, model handlers, and the GenerateWithLLM transform.

Heavy dependencies (torch, transformers, httpx, vllm) are imported only when a
model is loaded or a batch is sent, so importing this package is cheap.
"""
from toolrm_beam.transforms.llm.generate import GenerateWithLLM
from toolrm_beam.transforms.llm.http_handler import GenerationFailed, OpenAICompatibleHandler
from toolrm_beam.transforms.llm.requests import GenerationRequest, GenerationResult
from toolrm_beam.transforms.llm.transformers_handler import TransformersChatHandler
from toolrm_beam.transforms.llm.vllm_handler import VLLMChatHandler

__all__ = [
    "GenerateWithLLM", "GenerationFailed", "GenerationRequest", "GenerationResult",
    "OpenAICompatibleHandler", "TransformersChatHandler", "VLLMChatHandler",
]
