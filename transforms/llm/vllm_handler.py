"""RunInference model handler: vLLM's offline engine on a GPU worker.

`vllm.LLM(...).chat(conversations, sampling_params, tools=...)` renders each
conversation with the model's own chat template and samples `n` answers per
request with the request's seed. vLLM is imported only in `load_model`, so
pipelines that merely construct this handler (and the tests) need no vLLM.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable, Optional, Sequence

from toolrm_beam.transforms.run_inference import ModelHandler

from toolrm_beam.transforms.llm.requests import GenerationRequest, GenerationResult, strip_reasoning
from toolrm_beam.transforms.model_files import resolve_model_path

_LOG = logging.getLogger(__name__)
VLLM_MISSING = ("vLLM is not installed on this worker: pip install vllm on a CUDA worker "
                "(VLLMChatHandler runs only on GPU workers; use TransformersChatHandler or "
                "OpenAICompatibleHandler elsewhere)")


def sampling_params_kwargs(request: GenerationRequest, top_p: float = 1.0) -> dict[str, Any]:
    """The `vllm.SamplingParams` arguments for one request."""
    kwargs: dict[str, Any] = {
        "n": request.n,
        "temperature": float(request.temperature),
        "max_tokens": request.max_new_tokens,
        "seed": request.seed,
    }
    if request.temperature > 0 and top_p < 1.0:
        kwargs["top_p"] = top_p
    return kwargs


class VLLMEngine:
    """What `load_model` returns: a `vllm.LLM` and the SamplingParams class to use with it.

    Tests build one with fakes; generation is a method so it also works behind
    Beam's multi-process proxy.
    """

    def __init__(self, llm: Any, sampling_params_cls: Callable[..., Any], name: str, top_p: float = 1.0,
                 chat_template_kwargs: dict | None = None):
        self.llm = llm
        self.sampling_params_cls = sampling_params_cls
        self.name = name
        self.top_p = top_p
        self.chat_template_kwargs = dict(chat_template_kwargs or {})

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        # `LLM.chat` takes one tools list for all conversations: one call per distinct tools list.
        groups: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(json.dumps(list(request.tools), sort_keys=True), []).append(index)
        outputs: list[list | None] = [None] * len(requests)
        for indexes in groups.values():
            tools = list(requests[indexes[0]].tools) or None
            answers = self.llm.chat(
                [[dict(m) for m in requests[i].messages] for i in indexes],  # OpenAI form, as vLLM takes it
                sampling_params=[self.sampling_params_cls(**sampling_params_kwargs(requests[i], self.top_p))
                                 for i in indexes],
                use_tqdm=False, tools=tools,
                chat_template_kwargs=self.chat_template_kwargs or None)
            if len(answers) != len(indexes):
                raise RuntimeError(f"vLLM returned {len(answers)} answers for {len(indexes)} conversations")
            for index, answer in zip(indexes, answers):
                outputs[index] = [strip_reasoning(choice.text) for choice in answer.outputs]
        return [GenerationResult.for_request(r, o or [], self.name) for r, o in zip(requests, outputs)]


class VLLMChatHandler(ModelHandler[GenerationRequest, GenerationResult, VLLMEngine]):
    """Generates answers to `GenerationRequest`s with vLLM's offline engine.

    Args:
      model_path: local directory or Beam FileSystems URL (`gs://bucket/model`).
      model_name: name written on results and candidate origins.
      model_copies: engines per worker machine (one per GPU, typically).
      engine_kwargs: passed to `vllm.LLM` (tensor_parallel_size,
        gpu_memory_utilization, max_model_len, dtype, ...).
      top_p / chat_template_kwargs / allow_hub / cache_dir: as for
        TransformersChatHandler.
    """

    def __init__(self, model_path: str, *, model_name: str | None = None, model_copies: int = 1,
                 engine_kwargs: dict | None = None, top_p: float = 1.0, chat_template_kwargs: dict | None = None,
                 allow_hub: bool = False, cache_dir: str | None = None, min_batch_size: int | None = None,
                 max_batch_size: int | None = 64, **kwargs):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size,
                         model_copies=model_copies, large_model=True, **kwargs)
        if model_copies < 1:
            raise ValueError("model_copies must be >= 1")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
        self._model_path = model_path
        self._model_name = model_name or model_path.rstrip("/").rsplit("/", 1)[-1]
        self._engine_kwargs = dict(engine_kwargs or {})
        self._top_p = top_p
        self._chat_template_kwargs = dict(chat_template_kwargs or {})
        self._allow_hub = allow_hub
        self._cache_dir = cache_dir

    @property
    def model_name(self) -> str:
        return self._model_name

    def load_model(self) -> VLLMEngine:
        try:
            import vllm
        except ImportError as error:
            raise ImportError(VLLM_MISSING) from error
        path = resolve_model_path(self._model_path, allow_hub=self._allow_hub, cache_dir=self._cache_dir)
        llm = vllm.LLM(model=path, **self._engine_kwargs)
        _LOG.info("loaded vLLM engine %s", self._model_name)
        return VLLMEngine(llm, vllm.SamplingParams, self._model_name, self._top_p, self._chat_template_kwargs)

    def run_inference(self, batch: Sequence[GenerationRequest], model: VLLMEngine,
                      inference_args: Optional[dict[str, Any]] = None) -> list[GenerationResult]:
        return model.generate(list(batch))

    def validate_inference_args(self, inference_args: Optional[dict[str, Any]]):
        if inference_args:
            raise ValueError("VLLMChatHandler takes its settings from the requests, not inference_args")

    def share_model_across_processes(self) -> bool:
        return True

    def get_metrics_namespace(self) -> str:
        return "toolrm_llm_vllm"
