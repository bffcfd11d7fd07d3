"""The synthesize pipeline's LLM stage: build a model handler from options, generate, label.

Kept apart from `transforms.candidates` so that rule-only runs never import
torch, transformers or httpx.
"""
from __future__ import annotations

from typing import Any

import apache_beam as beam

from toolrm_beam.transforms.llm.generate import GenerateWithLLM


def make_handler(*, backend: str, model: str, endpoint: str | None, api_key_env: str | None, device: str,
                 batch_size: int, http: dict[str, Any] | None = None):
    """A RunInference model handler for the chosen backend (imports its dependencies lazily).

    `http` holds the OpenAI-compatible client's fault settings (timeout_s,
    max_retries, backoff_initial_s, max_concurrency, requests_per_second);
    missing keys keep the handler's defaults.
    """
    if backend == "transformers":
        from toolrm_beam.transforms.llm.transformers_handler import TransformersChatHandler
        return TransformersChatHandler(model, device=device, max_batch_size=batch_size)
    if backend == "openai":
        if not endpoint:
            raise ValueError("--endpoint (the server's base URL) is required for --backend openai")
        from toolrm_beam.transforms.llm.http_handler import OpenAICompatibleHandler
        settings = {k: v for k, v in (http or {}).items() if v is not None}
        return OpenAICompatibleHandler(endpoint, model, api_key_env=api_key_env, max_batch_size=batch_size,
                                       **settings)
    if backend == "vllm":
        from toolrm_beam.transforms.llm.vllm_handler import VLLMChatHandler
        return VLLMChatHandler(model, max_batch_size=batch_size)
    raise ValueError(f"unknown LLM backend {backend!r}")


class LLMCandidates(beam.PTransform):
    """Examples -> LLM candidates (labelled by the checker) and dead letters."""

    def __init__(self, *, mode: str, seed: int, model: str, backend: str, endpoint: str | None,
                 api_key_env: str | None, device: str, samples: int, temperature: float, max_new_tokens: int,
                 batch_size: int, error_types: list[str] | None, http: dict[str, Any] | None = None,
                 decoding: str = "strict"):
        super().__init__()
        self._handler = make_handler(backend=backend, model=model, endpoint=endpoint, api_key_env=api_key_env,
                                     device=device, batch_size=batch_size, http=http)
        self._generate: dict[str, Any] = dict(mode=mode, samples=samples, temperature=temperature,
                                              max_new_tokens=max_new_tokens, seed=seed, error_types=error_types,
                                              decoding=decoding)

    def expand(self, examples):
        return examples | "Generate" >> GenerateWithLLM(self._handler, **self._generate)
